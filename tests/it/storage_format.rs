//! What stored history means, held fixed: a data directory written by the first release opens
//! and answers as it did then (also after new entries are appended and the server restarts),
//! golden records of every format decode to the same values forever, and a damaged record is
//! reported with its position instead of answered.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use eventlog::domain::{EntryBody, Position};
use eventlog::proto::{self, get_entry_request::Selector};
use eventlog::store::record::{decode_record, encode_record, set_recorded_at, RecordView};
use prost::Message;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tonic::Code;

/// A data directory written by the release before record format 2 (all records format 1),
/// with the answers that release gave. Never opened in place: tests open a copy.
const V1_DATADIR: &str = "tests/fixtures/v1-datadir";
const GOLDEN: &str = "tests/fixtures/records";
/// A data directory written with one sled key per record (before the log moved to blocks),
/// with `eventlog export`'s NDJSON of it then.
const V2_DATADIR: &str = "tests/fixtures/v2-datadir";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A copy of the v1 data directory in a fresh temporary directory.
fn copy_of_v1_datadir() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path().join("data");
    copy_dir(&fixture(V1_DATADIR).join("data"), &data_dir);
    (temp, data_dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for item in std::fs::read_dir(from).expect("read fixture") {
        let item = item.expect("fixture entry");
        let target = to.join(item.file_name());
        if item.file_type().expect("file type").is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), target).expect("copy fixture file");
        }
    }
}

fn expected_answers() -> Value {
    let text = std::fs::read_to_string(fixture(V1_DATADIR).join("expected.json"))
        .expect("expected answers");
    serde_json::from_str(&text).expect("expected answers are JSON")
}

fn from_json<T: DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).expect("proto3 JSON of the expected type")
}

fn cases(expected: &Value, name: &str) -> Vec<(Value, Value)> {
    expected[name]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is a list"))
        .iter()
        .map(|case| (case["request"].clone(), case["response"].clone()))
        .collect()
}

/// True if every actor field of a query covered only the actor it named: no same_as links.
fn alone(covered: &[proto::ActorsCovered]) -> bool {
    covered.iter().all(|c| c.actor_ids.len() == 1)
}

/// Checks every answer recorded with the fixture. With `as_of`, the log has grown since, so
/// queries that were answered at the head are asked as of the fixture's head.
async fn check_recorded_answers(server: &TestServer, as_of: Option<u64>) {
    let expected = expected_answers();
    let mut client = server.client().await;
    let recorded_head = expected["log_info"]["head"]
        .as_str()
        .and_then(|h| h.parse::<u64>().ok())
        .expect("the recorded head");
    let pin = |position: &mut u64| {
        if let (0, Some(head)) = (*position, as_of) {
            *position = head;
        }
    };

    let log = read_log(&mut client, 1, recorded_head).await;
    let recorded: Vec<proto::Entry> = from_json(&expected["read_log"]);
    assert_eq!(
        log.len(),
        recorded.len(),
        "every entry of the fixture is read"
    );
    for (got, want) in log.iter().zip(&recorded) {
        assert_eq!(got, want, "entry at position {}", want.position);
    }

    if as_of.is_none() {
        let mut info = client
            .get_log_info(proto::GetLogInfoRequest {})
            .await
            .expect("GetLogInfo")
            .into_inner();
        info.store_size_bytes = 0;
        info.version = String::new();
        // Release 1 had no separate indexes; how far release 2's have caught up is timing.
        assert!(info.indexed_position <= info.head);
        info.indexed_position = 0;
        assert_eq!(info, from_json::<proto::LogInfo>(&expected["log_info"]));
    }

    for (request, response) in cases(&expected, "get_entry") {
        let request: proto::GetEntryRequest = from_json(&request);
        let got = client.get_entry(request.clone()).await.expect("GetEntry");
        assert_eq!(got.into_inner(), from_json(&response), "{request:?}");
    }
    for (request, response) in cases(&expected, "get_actor") {
        let request: proto::GetActorRequest = from_json(&request);
        let got = client.get_actor(request.clone()).await.expect("GetActor");
        assert_eq!(got.into_inner(), from_json(&response), "{request:?}");
    }
    for (request, response) in cases(&expected, "resolve_actor") {
        let request: proto::ResolveActorRequest = from_json(&request);
        let mut got = client
            .resolve_actor(request.clone())
            .await
            .expect("Resolve")
            .into_inner();
        // Recorded before `ranked` existed: it must rank the same actors as `matches`.
        let ranked: Vec<_> = got.ranked.drain(..).filter_map(|m| m.actor).collect();
        assert_eq!(ranked, got.matches, "{request:?}");
        assert_eq!(got, from_json(&response), "{request:?}");
    }
    for (request, response) in cases(&expected, "query_events") {
        let mut request: proto::QueryEventsRequest = from_json(&request);
        pin(&mut request.as_of_position);
        let got = client.query_events(request.clone()).await.expect("Query");
        let mut got = got.into_inner();
        // Recorded before `covered` existed; a release 1 log has no same_as links.
        assert!(alone(&got.covered), "{request:?}");
        got.covered.clear();
        assert_eq!(got, from_json(&response), "{request:?}");
    }
    for (request, response) in cases(&expected, "query_claims") {
        let mut request: proto::QueryClaimsRequest = from_json(&request);
        pin(&mut request.as_of_position);
        let got = client.query_claims(request.clone()).await.expect("Query");
        let mut got = got.into_inner();
        assert!(alone(&got.covered), "{request:?}");
        got.covered.clear();
        assert_eq!(got, from_json(&response), "{request:?}");
    }
    for (request, response) in cases(&expected, "list_relations") {
        let mut request: proto::ListRelationsRequest = from_json(&request);
        pin(&mut request.as_of_position);
        let got = client
            .list_relations(request.clone())
            .await
            .expect("Relations");
        let mut got = got.into_inner();
        assert!(alone(&got.covered), "{request:?}");
        got.covered.clear();
        assert_eq!(got, from_json(&response), "{request:?}");
    }

    let subscriptions = client
        .list_subscriptions(proto::ListSubscriptionsRequest {})
        .await
        .expect("ListSubscriptions")
        .into_inner();
    assert_eq!(
        subscriptions,
        from_json(&expected["list_subscriptions"]),
        "the named subscription keeps its checkpoint"
    );
    let subscription = &subscriptions.subscriptions[0];
    let mut stream = subscribe(
        &mut client,
        proto::SubscribeRequest {
            start: None,
            name: subscription.name.clone(),
            filter: subscription.filter.clone(),
        },
    )
    .await
    .expect("the subscription resumes");
    let first = next_said(&mut stream, 30).await.expect("a message");
    assert_eq!(
        first.first(),
        Some(&Said::Entry(from_json(&expected["resumed_first_entry"]))),
        "it resumes right after its checkpoint"
    );
}

/// Entries appended to the v1 log by this version: they refer to entries of the fixture and
/// change none of its recorded answers (queries are pinned to the fixture's head).
fn new_entries() -> Vec<proto::Entry> {
    vec![
        actor_with(
            "hts",
            "Hayat Tahrir al-Sham",
            proto::ActorKind::ArmedGroup,
            &["HTS"],
            "SYR",
        ),
        event(
            "ev-v2-hts-clash",
            "clashes_with",
            "hts",
            "syrian-army",
            "2024-11-27/2024-12-08",
        ),
        claim(
            "cl-v2-russia-backs-syrian-army",
            "russia",
            "backs",
            "syrian-army",
            proto::Certainty::Confirmed,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_data_dir_answers_as_it_did_then_also_after_appends_and_a_restart() {
    let (temp, data_dir) = copy_of_v1_datadir();
    let mut server = TestServer::start_in(temp, data_dir).await;
    check_recorded_answers(&server, None).await;

    let mut client = server.client().await;
    let recorded_head = head(&mut client).await;
    let appended = append(&mut client, new_entries()).await.expect("append");
    assert_eq!(appended.head, recorded_head + 3);
    let written = read_log(&mut client, recorded_head + 1, 0).await;
    assert_eq!(written.len(), 3);
    check_recorded_answers(&server, Some(recorded_head)).await;

    server.restart().await;
    check_recorded_answers(&server, Some(recorded_head)).await;
    let mut client = server.client().await;
    assert_eq!(read_log(&mut client, recorded_head + 1, 0).await, written);
    // The new entries are in the indexes next to the old ones.
    let events = client
        .query_events(proto::QueryEventsRequest {
            actor: "syrian-army".into(),
            order: proto::QueryOrder::Position as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("query")
        .into_inner();
    let ids: Vec<String> = events.entries.iter().map(entry_id).collect();
    assert_eq!(ids.last().map(String::as_str), Some("ev-v2-hts-clash"));
    let resolved = resolve_ids(&mut client, "HTS").await;
    assert_eq!(resolved, vec!["hts".to_string()]);
    server.stop().await;
}

/// What `eventlog export` prints for the whole log of the server at `url`.
async fn export_ndjson(url: &str) -> String {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args(["export", "--addr", url])
        .env_remove("EVENTLOG_TOKEN")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the export ends in time")
        .expect("the export runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("NDJSON is UTF-8")
}

/// The events of the exported NDJSON that name `actor`, by id, in log order.
fn exported_events_naming(ndjson: &str, actor: &str) -> Vec<String> {
    ndjson
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter_map(|entry| entry.get("event").cloned())
        .filter(|event| {
            event["participants"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["actorId"] == actor))
        })
        .map(|event| event["id"].as_str().expect("an id").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_of_one_key_per_record_opens_in_blocks_with_every_entry_as_it_was() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path().join("data");
    copy_dir(&fixture(V2_DATADIR).join("data"), &data_dir);
    let expected = std::fs::read_to_string(fixture(V2_DATADIR).join("expected.ndjson"))
        .expect("the fixture's export");
    let exported_head = expected.lines().count() as u64;
    let mut server = TestServer::start_in(temp, data_dir).await;
    assert_eq!(export_ndjson(&server.url()).await, expected);

    // The indexes, which the fixture leaves out, are rebuilt from the moved records.
    let mut client = server.client().await;
    let russia = client
        .query_events(proto::QueryEventsRequest {
            actor: "russia".into(),
            order: proto::QueryOrder::Position as i32,
            page_size: 1000,
            min_position: exported_head,
            ..Default::default()
        })
        .await
        .expect("query")
        .into_inner();
    let found: Vec<String> = russia.entries.iter().map(entry_id).collect();
    let naming = exported_events_naming(&expected, "russia");
    assert!(!naming.is_empty(), "the fixture has events naming russia");
    assert_eq!(found, naming);

    // New entries follow the moved ones, and all of it survives a restart.
    let appended = append(&mut client, new_entries()).await.expect("append");
    assert_eq!(appended.head, exported_head + 3);
    server.restart().await;
    let after = export_ndjson(&server.url()).await;
    assert!(
        after.starts_with(&expected),
        "the old entries are unchanged"
    );
    assert_eq!(after.lines().count() as u64, exported_head + 3);
    let data_dir = server.data_dir.clone();
    server.stop().await;
    let db = sled::open(&data_dir).expect("open the data directory directly");
    for name in db.tree_names() {
        let tree = db.open_tree(&name).expect("tree");
        assert_eq!(
            tree.scan_prefix([eventlog::store::keys::LOG]).count(),
            0,
            "no record is left under its own key"
        );
    }
}

/// Changes one byte in the middle of the record at `position`, inside the block that holds it,
/// in whichever tree of the data directory holds the log (the server is stopped).
fn damage_record(data_dir: &Path, position: u64) {
    use eventlog::store::keys::{block_key, position_of_block_key};
    let db = sled::open(data_dir).expect("open the data directory directly");
    let mut damaged = false;
    for name in db.tree_names() {
        let tree = db.open_tree(&name).expect("tree");
        let blocks = block_key(Position(0))..=block_key(Position(position));
        let Some(item) = tree.range(blocks).next_back() else {
            continue;
        };
        let (key, block) = item.expect("read");
        let first = position_of_block_key(&key).expect("a block key");
        let ranges = eventlog::store::record::block::record_ranges(first, &block).expect("framing");
        let Some(record) = ranges.get((position - first.0) as usize) else {
            continue;
        };
        let mut bytes = block.to_vec();
        bytes[(record.start + record.end) / 2] ^= 0x20;
        tree.insert(key, bytes).expect("write");
        damaged = true;
    }
    assert!(damaged, "the record at {position} is in the log");
    db.flush().expect("flush");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_is_data_loss_naming_its_position() {
    let (temp, data_dir) = copy_of_v1_datadir();
    let mut server = TestServer::start_in(temp, data_dir).await;
    let mut client = server.client().await;
    let appended = append(&mut client, new_entries()).await.expect("append");
    let damaged = appended.results[1].position;
    if let Some(running) = server.running.take() {
        running.stop().await.expect("clean stop");
    }
    damage_record(&server.data_dir, damaged);
    server.running = Some(start_on(&server.data_dir).await);

    let mut client = server.client().await;
    let read = client
        .get_entry(proto::GetEntryRequest {
            selector: Some(Selector::Position(damaged)),
        })
        .await;
    assert_status(read, Code::DataLoss, &[&format!("log position {damaged}")]);
    let by_id = client
        .get_entry(proto::GetEntryRequest {
            selector: Some(Selector::Id("ev-v2-hts-clash".into())),
        })
        .await;
    assert_status(by_id, Code::DataLoss, &[&format!("log position {damaged}")]);
    // Its neighbours, of both formats, still read.
    for position in [damaged - 2, damaged - 1, damaged + 1] {
        let read = client
            .get_entry(proto::GetEntryRequest {
                selector: Some(Selector::Position(position)),
            })
            .await;
        assert!(read.is_ok(), "position {position}: {read:?}");
    }
    server.stop().await;
}

/// One golden record: its bytes, and what they must decode to.
struct Golden {
    name: String,
    bytes: Vec<u8>,
    expected: Value,
}

fn golden_records() -> Vec<Golden> {
    let dir = fixture(GOLDEN);
    let mut found = Vec::new();
    for item in std::fs::read_dir(&dir).expect("golden records") {
        let path = item.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("bin") {
            continue;
        }
        let expected = path.with_extension("json");
        found.push(Golden {
            name: path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned(),
            bytes: std::fs::read(&path).expect("record bytes"),
            expected: serde_json::from_str(
                &std::fs::read_to_string(&expected).expect("expected value"),
            )
            .expect("expected value is JSON"),
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(found.len() >= 5, "the golden records are all there");
    found
}

/// The body a golden record must decode to. Written as JSON of the domain's serde shape: format
/// 1 stores exactly that shape, so it is itself held fixed by format-1 compatibility, and
/// reading it parses every date again, which checks the spans stored in format 2.
fn expected_body(golden: &Golden) -> EntryBody {
    serde_json::from_value(golden.expected["body"].clone()).expect("a domain body")
}

/// Every golden record decodes, forever, to the value written beside it. If this fails, a
/// change made stored history mean something else: restore the old reading, and give the new
/// layout a new format byte instead.
#[test]
fn golden_records_decode_to_their_values() {
    for golden in golden_records() {
        let name = &golden.name;
        let position = Position(golden.expected["position"].as_u64().expect("position"));
        let micros = golden.expected["recorded_at_micros"]
            .as_u64()
            .expect("recorded_at_micros");
        let recorded_at = UNIX_EPOCH + Duration::from_micros(micros);
        let body = expected_body(&golden);
        let (at, decoded) = decode_record(position, &golden.bytes)
            .unwrap_or_else(|e| panic!("{name} should decode: {e}"));
        assert_eq!(at, recorded_at, "{name}");
        assert_eq!(decoded, body, "{name}");

        let view = RecordView::parse(position, &golden.bytes).expect("parses");
        assert_eq!(view.kind().as_str(), golden.expected["kind"], "{name}");
        assert_eq!(view.decode_body().expect("decodes"), body, "{name}");
        let wire = &golden.expected["wire"];
        match view.wire_body() {
            None => assert!(wire.is_null(), "{name} has a public part"),
            Some(bytes) => {
                let decoded = match view.kind().as_str() {
                    "actor" => serde_json::to_value(proto::Actor::decode(bytes).expect("actor")),
                    "event" => serde_json::to_value(proto::Event::decode(bytes).expect("event")),
                    _ => serde_json::to_value(proto::Claim::decode(bytes).expect("claim")),
                }
                .expect("JSON");
                assert_eq!(&decoded, wire, "{name}: the public part");
            }
        }
    }
}

/// Today's encoder still writes exactly the golden format-2 bytes. When a new format replaces
/// format 2, this test goes (the one above stays): old bytes must keep decoding, but need not be
/// what is written.
#[test]
fn format_2_is_what_encode_record_writes() {
    for golden in golden_records() {
        if golden.bytes.first() != Some(&2) {
            continue;
        }
        let micros = golden.expected["recorded_at_micros"]
            .as_u64()
            .expect("recorded_at_micros");
        let mut record = encode_record(&expected_body(&golden)).expect("encodes");
        set_recorded_at(&mut record, UNIX_EPOCH + Duration::from_micros(micros));
        assert_eq!(record, golden.bytes, "{}", golden.name);
    }
}

#[test]
fn a_changed_byte_in_a_golden_record_names_its_position() {
    for golden in golden_records() {
        if golden.bytes.first() != Some(&2) {
            continue;
        }
        for i in 0..golden.bytes.len() {
            let mut bytes = golden.bytes.clone();
            bytes[i] ^= 0x01;
            let error = decode_record(Position(77), &bytes).expect_err("damage is detected");
            assert!(
                error.to_string().contains("log position 77"),
                "{}: byte {i}: {error}",
                golden.name
            );
        }
    }
}
