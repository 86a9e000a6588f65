//! The client subcommands of the binary (`import`, `export`, `query`, `tail`, `actors`,
//! `info`), run as a user would run them, against a real server on a free loopback port.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use common::ops::{with_tokens, Pki};
use common::*;
use eventlog::ops::methods::Role;
use eventlog::ops::tls::TlsSettings;
use eventlog::proto::{self, entry::Body};
use eventlog::server;

/// Every CLI run is bounded: a hung client fails the test instead of hanging it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

const SEED: &str = "examples/seed/moscow-tehran-proxies.ndjson";
const GDELT: &str = "tests/fixtures/gdelt/sample.export.CSV";
const ACLED: &str = "tests/fixtures/acled/sample.csv";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `eventlog ARGS... --addr URL` off the async runtime, so the in-process server keeps
/// serving while the command waits.
async fn eventlog(url: &str, args: &[&str]) -> Run {
    eventlog_env(url, args, &[]).await
}

async fn eventlog_env(url: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    eventlog_with(url, args, env, None).await
}

async fn eventlog_with(
    url: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<String>,
) -> Run {
    let mut command = Command::cargo_bin("eventlog").expect("the binary is built");
    if let Some(input) = stdin {
        command.write_stdin(input);
    }
    command
        .args(args)
        .args(["--addr", url])
        .env_remove("EVENTLOG_TOKEN")
        .timeout(RUN_LIMIT);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run eventlog");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn assert_ok(run: &Run) {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

fn repo_file(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).expect("write input");
    path.display().to_string()
}

/// The JSON lines of an export with the recording time removed (it differs between servers).
fn without_recorded_at(ndjson: &str) -> Vec<serde_json::Value> {
    ndjson
        .lines()
        .map(|line| {
            let mut value: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            value.as_object_mut().expect("object").remove("recordedAt");
            value
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gdelt_import_maps_rows_and_a_rerun_appends_nothing() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let first = eventlog(
        &server.url(),
        &["import", "--format", "gdelt", &repo_file(GDELT)],
    )
    .await;
    assert_ok(&first);
    assert!(
        first.stderr.contains("appended 15 entries"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("skipped 1 (no actor code)"),
        "{}",
        first.stderr
    );
    let first_head = head(&mut client).await;
    assert_eq!(first_head, 15);

    let event = client
        .get_entry(proto::GetEntryRequest {
            selector: Some(proto::get_entry_request::Selector::Id(
                "gdelt:1000000001".into(),
            )),
        })
        .await
        .expect("event imported")
        .into_inner()
        .entry
        .and_then(|e| e.body);
    let Some(Body::Event(event)) = event else {
        panic!("not an event: {event:?}")
    };
    assert_eq!(event.relation, "criticizes");
    assert_eq!(event.date, "2019-10-24");
    assert_eq!(
        event.attributes.get("cameo_event_code").map(String::as_str),
        Some("112")
    );
    let usagov = client
        .get_actor(proto::GetActorRequest {
            id: "cameo-usagov".into(),
        })
        .await
        .expect("actor imported")
        .into_inner()
        .actor
        .expect("actor");
    assert_eq!(usagov.affiliations[0].actor_id, "cameo-usa");
    assert_eq!(usagov.affiliations[0].relation, "part_of");
    assert!(
        usagov.aliases.iter().any(|a| a == "WHITE HOUSE"),
        "{usagov:?}"
    );

    let again = eventlog(
        &server.url(),
        &["import", "--format", "gdelt", &repo_file(GDELT)],
    )
    .await;
    assert_ok(&again);
    assert!(
        again.stderr.contains("appended 0 entries"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("5 duplicates"), "{}", again.stderr);
    assert_eq!(
        head(&mut client).await,
        first_head,
        "a re-run appends nothing"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acled_import_appends_events_with_their_acled_ids() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let run = eventlog(
        &server.url(),
        &["import", "--format", "acled", &repo_file(ACLED)],
    )
    .await;
    assert_ok(&run);
    let entries = read_all(&mut client).await;
    let events: Vec<&proto::Event> = entries
        .iter()
        .filter_map(|e| match &e.body {
            Some(Body::Event(event)) => Some(event),
            _ => None,
        })
        .collect();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e.id.starts_with("acled:")),
        "{events:?}"
    );
    let again = eventlog(
        &server.url(),
        &["import", "--format", "acled", &repo_file(ACLED)],
    )
    .await;
    assert_ok(&again);
    assert!(
        again.stderr.contains("appended 0 entries"),
        "{}",
        again.stderr
    );
    assert_eq!(read_all(&mut client).await.len(), entries.len());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_into_an_empty_server_gives_the_same_entries() {
    let original = TestServer::start().await;
    let load = eventlog(
        &original.url(),
        &[
            "import",
            "--format",
            "ndjson",
            "--batch-size",
            "7",
            &repo_file(SEED),
        ],
    )
    .await;
    assert_ok(&load);
    // More revisions and a GDELT import, so actors have several revisions.
    assert_ok(
        &eventlog(
            &original.url(),
            &["import", "--format", "gdelt", &repo_file(GDELT)],
        )
        .await,
    );
    let exported = eventlog(&original.url(), &["export"]).await;
    assert_ok(&exported);
    let lines = exported.stdout.lines().count();
    let mut original_client = original.client().await;
    assert_eq!(lines as u64, head(&mut original_client).await);

    let temp = tempfile::tempdir().expect("temp dir");
    let file = write(temp.path(), "export.ndjson", &exported.stdout);
    let copy = TestServer::start().await;
    assert_ok(&eventlog(&copy.url(), &["import", "--format", "ndjson", &file]).await);
    let re_exported = eventlog(&copy.url(), &["export"]).await;
    assert_ok(&re_exported);
    assert_eq!(
        without_recorded_at(&exported.stdout),
        without_recorded_at(&re_exported.stdout),
        "same ids, content, positions and order"
    );
    // Importing the export again, into the copy or the original, appends nothing: not even the
    // actors' earlier revisions.
    for server in [&copy, &original] {
        let again = eventlog(&server.url(), &["import", "--format", "ndjson", &file]).await;
        assert_ok(&again);
        assert!(
            again.stderr.contains("appended 0 entries"),
            "{}",
            again.stderr
        );
    }
    let mut copy_client = copy.client().await;
    assert_eq!(head(&mut copy_client).await, lines as u64);

    // A filtered export from a position.
    let claims = eventlog(
        &original.url(),
        &["export", "--kind", "claim", "--from-position", "40"],
    )
    .await;
    assert_ok(&claims);
    let values = without_recorded_at(&claims.stdout);
    assert!(!values.is_empty());
    for value in values {
        assert!(value.get("claim").is_some(), "{value}");
        let position: u64 = value["position"]
            .as_str()
            .expect("position")
            .parse()
            .expect("u64");
        assert!(position >= 40);
    }
    original.stop().await;
    copy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_checks_every_rule_and_writes_nothing() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // Small batches: later batches refer to actors of earlier ones that were never written.
    let run = eventlog(
        &server.url(),
        &[
            "import",
            "--format",
            "ndjson",
            "--dry-run",
            "--batch-size",
            "5",
            &repo_file(SEED),
        ],
    )
    .await;
    assert_ok(&run);
    assert!(
        run.stderr.contains("would append 89 entries"),
        "{}",
        run.stderr
    );
    assert_eq!(head(&mut client).await, 0);

    let temp = tempfile::tempdir().expect("temp dir");
    let bad = write(
        temp.path(),
        "bad.ndjson",
        concat!(
            r#"{"actor": {"id": "russia", "name": "Russia", "kind": "ACTOR_KIND_STATE"}}"#,
            "\n",
            r#"{"event": {"id": "e1", "relation": "befriends", "participants": [{"actorId": "russia", "role": "ROLE_INITIATOR"}], "date": "2022", "certainty": "CERTAINTY_REPORTED"}}"#,
            "\n"
        ),
    );
    let refused = eventlog(
        &server.url(),
        &["import", "--format", "ndjson", "--dry-run", &bad],
    )
    .await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("bad.ndjson:2"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("INVALID_ARGUMENT"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("befriends"), "{}", refused.stderr);
    assert_eq!(head(&mut client).await, 0);
    server.stop().await;
}

const GOOD_ACTOR: &str =
    r#"{"actor": {"id": "russia", "name": "Russia", "kind": "ACTOR_KIND_STATE"}}"#;
const GOOD_EVENT: &str = r#"{"event": {"id": "e-ok", "relation": "attacks", "participants": [{"actorId": "russia", "role": "ROLE_INITIATOR"}], "date": "2022-03~", "certainty": "CERTAINTY_REPORTED"}}"#;
const UNKNOWN_ACTOR_EVENT: &str = r#"{"event": {"id": "e-bad", "relation": "attacks", "participants": [{"actorId": "nobody", "role": "ROLE_INITIATOR"}], "date": "2022", "certainty": "CERTAINTY_REPORTED"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_line_stops_the_import_and_nothing_of_its_batch_is_written() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let text = format!("{GOOD_ACTOR}\n{GOOD_EVENT}\n{{\"event\": oops\n");
    let file = write(temp.path(), "broken.ndjson", &text);

    let run = eventlog(&server.url(), &["import", "--format", "ndjson", &file]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("broken.ndjson:3"), "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing of its batch was written"),
        "{}",
        run.stderr
    );
    assert_eq!(head(&mut client).await, 0, "lines 1-2 shared the batch");

    // With batches of one, the lines before it were already written.
    let run = eventlog(
        &server.url(),
        &["import", "--format", "ndjson", "--batch-size", "1", &file],
    )
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(head(&mut client).await, 2);

    // A line the server refuses stops the import the same way, naming the line.
    let refused = write(
        temp.path(),
        "refused.ndjson",
        &format!("{GOOD_EVENT}\n{UNKNOWN_ACTOR_EVENT}\n"),
    );
    let run = eventlog(&server.url(), &["import", "--format", "ndjson", &refused]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("refused.ndjson:2"), "{}", run.stderr);
    assert!(run.stderr.contains("FAILED_PRECONDITION"), "{}", run.stderr);
    assert!(run.stderr.contains("\"nobody\""), "{}", run.stderr);
    assert_eq!(head(&mut client).await, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_invalid_reports_each_refused_line_and_imports_the_rest() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let text = format!("{GOOD_ACTOR}\nnot json at all\n{UNKNOWN_ACTOR_EVENT}\n\n{GOOD_EVENT}\n");
    let file = write(temp.path(), "mixed.ndjson", &text);
    let run = eventlog(
        &server.url(),
        &["import", "--format", "ndjson", "--skip-invalid", &file],
    )
    .await;
    assert_ok(&run);
    assert!(run.stderr.contains("appended 2 entries"), "{}", run.stderr);
    assert!(run.stderr.contains("rejected 2 line(s)"), "{}", run.stderr);
    let line2 = run.stderr.find("mixed.ndjson:2").expect("line 2 reported");
    let line3 = run.stderr.find("mixed.ndjson:3").expect("line 3 reported");
    assert!(line2 < line3, "in line order: {}", run.stderr);
    let ids: Vec<String> = read_all(&mut client)
        .await
        .into_iter()
        .filter_map(|e| match e.body {
            Some(Body::Actor(a)) => Some(a.id),
            Some(Body::Event(e)) => Some(e.id),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec!["russia", "e-ok"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_reads_standard_input_and_names_it_in_errors() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let input = format!("{GOOD_ACTOR}\n{GOOD_EVENT}\n");
    let run = eventlog_with(
        &server.url(),
        &["import", "--format", "ndjson", "-"],
        &[],
        Some(input),
    )
    .await;
    assert_ok(&run);
    assert_eq!(head(&mut client).await, 2);
    let bad = eventlog_with(
        &server.url(),
        &["import", "--format", "gdelt", "-"],
        &[],
        Some("1\tonly two fields\n".into()),
    )
    .await;
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("<stdin>:1"), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("has 2 fields; expected 61"),
        "{}",
        bad.stderr
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_answer_the_analysts_questions_about_the_seed_dataset() {
    let server = TestServer::start().await;
    let url = server.url();
    assert_ok(&eventlog(&url, &["import", "--format", "ndjson", &repo_file(SEED)]).await);

    // Who did Moscow back, and when?
    let backs = eventlog(
        &url,
        &[
            "query",
            "relations",
            "--actor",
            "Moscow",
            "--direction",
            "outgoing",
            "--relation",
            "backs",
        ],
    )
    .await;
    assert_ok(&backs);
    assert!(backs.stdout.starts_with("SUBJECT"), "{}", backs.stdout);
    for backed in ["bashar-al-assad", "liwa-al-quds", "fifth-corps"] {
        assert!(
            backs.stdout.contains(backed),
            "{backed} missing:\n{}",
            backs.stdout
        );
    }
    assert!(
        backs
            .stdout
            .lines()
            .skip(1)
            .all(|l| l.starts_with("russia")),
        "{}",
        backs.stdout
    );

    // Which clashes happened in 2022?
    let clashes = eventlog(
        &url,
        &[
            "query",
            "events",
            "--relation",
            "clashes_with",
            "--from",
            "2022",
            "--to",
            "2022",
            "--json",
        ],
    )
    .await;
    assert_ok(&clashes);
    let events = without_recorded_at(&clashes.stdout);
    assert!(!events.is_empty());
    for event in &events {
        assert_eq!(event["event"]["relation"], "clashes_with", "{event}");
    }

    // Which claims about recruitment are unconfirmed?
    let unconfirmed = eventlog(
        &url,
        &[
            "query",
            "claims",
            "--relation",
            "recruits",
            "--max-certainty",
            "reported",
            "--json",
        ],
    )
    .await;
    assert_ok(&unconfirmed);
    let claims = without_recorded_at(&unconfirmed.stdout);
    assert!(claims.len() >= 3, "{}", unconfirmed.stdout);
    for claim in &claims {
        assert_eq!(claim["claim"]["relation"], "recruits");
        assert_ne!(
            claim["claim"]["certainty"], "CERTAINTY_CONFIRMED",
            "{claim}"
        );
    }
    let table = eventlog(
        &url,
        &["query", "claims", "--relation", "recruits", "--limit", "2"],
    )
    .await;
    assert_ok(&table);
    assert_eq!(
        table.stdout.lines().count(),
        3,
        "header and two rows:\n{}",
        table.stdout
    );

    // Names resolve to actors; info describes the log.
    let resolved = eventlog(&url, &["actors", "resolve", "Jerusalem Brigade"]).await;
    assert_ok(&resolved);
    let first_row = resolved.stdout.lines().nth(1).unwrap_or_default();
    assert!(first_row.starts_with("liwa-al-quds"), "{}", resolved.stdout);
    let info = eventlog(&url, &["info", "--json"]).await;
    assert_ok(&info);
    let info: serde_json::Value = serde_json::from_str(info.stdout.trim()).expect("JSON");
    assert_eq!(info["head"], "89");

    // A bad filter is the server's INVALID_ARGUMENT, with the field named.
    let bad = eventlog(&url, &["query", "events", "--from", "March 2022"]).await;
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("QueryEvents failed: INVALID_ARGUMENT"),
        "{}",
        bad.stderr
    );
    assert!(bad.stderr.contains("date_from"), "{}", bad.stderr);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_the_history_then_live_entries() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors())
        .await
        .expect("seed actors");
    let before = head(&mut client).await;
    let limit = (before + 1).to_string();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args(["tail", "--from-position", "1", "--json", "--limit", &limit])
        .args(["--addr", &server.url()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start tail");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = Vec::new();
    let mut next_line = async || {
        tokio::time::timeout(RUN_LIMIT, lines.next_line())
            .await
            .expect("tail prints within the limit")
            .expect("read stdout")
            .expect("a line")
    };
    // The whole history first; only then is the next entry appended, so it must come live.
    for _ in 0..before {
        printed.push(next_line().await);
    }
    append(
        &mut client,
        vec![event(
            "ev-live",
            "attacks",
            "russia",
            "liwa-al-quds",
            "2022-03",
        )],
    )
    .await
    .expect("live append");
    printed.push(next_line().await);
    let status = tokio::time::timeout(RUN_LIMIT, child.wait())
        .await
        .expect("tail stops at its limit")
        .expect("wait");
    assert!(status.success());
    let lines = without_recorded_at(&printed.join("\n"));
    let positions: Vec<u64> = lines
        .iter()
        .map(|l| {
            l["position"]
                .as_str()
                .expect("position")
                .parse()
                .expect("u64")
        })
        .collect();
    assert_eq!(positions, (1..=before + 1).collect::<Vec<_>>());
    assert_eq!(lines.last().expect("live line")["event"]["id"], "ev-live");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_and_tokens_are_explained() {
    // Nothing listens on this port once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let down = eventlog(&format!("http://127.0.0.1:{port}"), &["info"]).await;
    assert_eq!(down.code, 1);
    assert!(down.stderr.contains("cannot connect to"), "{}", down.stderr);
    let schemeless = eventlog("127.0.0.1:1", &["info"]).await;
    assert_eq!(schemeless.code, 1);
    assert!(
        schemeless.stderr.contains("needs a scheme"),
        "{}",
        schemeless.stderr
    );

    let temp = tempfile::tempdir().expect("temp dir");
    let settings = with_tokens(settings(&temp.path().join("data")), false);
    let running = server::start(&settings).await.expect("server starts");
    let url = format!("http://{}", running.local_addr);
    let refused = eventlog(&url, &["info"]).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("UNAUTHENTICATED"),
        "{}",
        refused.stderr
    );
    let reader = common::ops::token(Role::Read);
    let allowed = eventlog_env(&url, &["info"], &[("EVENTLOG_TOKEN", reader)]).await;
    assert_ok(&allowed);
    assert!(
        allowed.stdout.contains("head position"),
        "{}",
        allowed.stdout
    );
    let temp_file = write(temp.path(), "one.ndjson", &format!("{GOOD_ACTOR}\n"));
    let read_only = eventlog_env(
        &url,
        &["import", "--format", "ndjson", &temp_file],
        &[("EVENTLOG_TOKEN", reader)],
    )
    .await;
    assert_eq!(read_only.code, 1);
    assert!(
        read_only.stderr.contains("PERMISSION_DENIED"),
        "{}",
        read_only.stderr
    );
    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_need_the_ca_certificate() {
    let temp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::generate(temp.path());
    let settings = server::Settings {
        tls: Some(TlsSettings {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: None,
        }),
        ..settings(&temp.path().join("data"))
    };
    let running = server::start(&settings).await.expect("server starts");
    let url = format!("https://localhost:{}", running.local_addr.port());
    let without = eventlog(&url, &["info"]).await;
    assert_eq!(without.code, 1);
    assert!(without.stderr.contains("--ca-cert"), "{}", without.stderr);
    let ca = pki.ca.display().to_string();
    let with = eventlog(&url, &["info", "--ca-cert", &ca]).await;
    assert_ok(&with);
    running.stop().await.expect("clean stop");
}
