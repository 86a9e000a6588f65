//! Durability: a restart keeps everything, and `kill -9` at any moment loses no acknowledged
//! entry and never exposes half a batch. The crash test kills the real binary, as sled's own
//! crash tests do.

use crate::common;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use eventlog::proto::{self, entry::Body};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::Code;

#[tokio::test]
async fn a_restart_keeps_entries_indexes_and_counters() {
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    let mut batch = seed_actors();
    batch.push(event("e1", "backs", "iran", "liwa-al-quds", "2013/.."));
    batch.push(claim(
        "c1",
        "russia",
        "coordinates_with",
        "iran",
        proto::Certainty::Alleged,
    ));
    append(&mut client, batch.clone()).await.expect("append");
    let before = read_all(&mut client).await;

    server.restart().await;
    let mut client = server.client().await;
    assert_eq!(read_all(&mut client).await, before);
    let info = client
        .get_log_info(proto::GetLogInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(
        (
            info.head,
            info.actors,
            info.event_entries,
            info.claim_entries
        ),
        (5, 3, 1, 1)
    );
    let found = resolve_ids(&mut client, "Jerusalem Brigade").await;
    assert_eq!(found[0], "liwa-al-quds");
    // Idempotency survives the restart, and positions continue where they stopped.
    let again = append(&mut client, batch).await.expect("re-append");
    assert!(again.results.iter().all(|r| r.duplicate));
    let next = append(
        &mut client,
        vec![event("e2", "trains", "iran", "liwa-al-quds", "2014")],
    )
    .await
    .expect("append");
    assert_eq!(next.results[0].position, 6);
    server.stop().await;
}

#[tokio::test]
async fn a_second_server_cannot_open_a_data_directory_in_use() {
    let server = TestServer::start().await;
    let error = eventlog::server::start(&settings(&server.data_dir))
        .await
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("in use by another process"),
        "{error}"
    );
    server.stop().await;
}

/// Starts the real binary on `data_dir` and returns it with its address.
async fn spawn_binary(data_dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "warn",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn eventlog");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the server prints its address within 30 s")
        .expect("read stdout")
        .expect("a line");
    let addr = line
        .strip_prefix("eventlog listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, format!("http://{addr}"))
}

/// The (relation, initiator, target) of the events the crash test appends.
const EDGES: [(&str, &str, &str); 3] = [
    ("attacks", "russia", "liwa-al-quds"),
    ("backs", "iran", "liwa-al-quds"),
    ("funds", "russia", "iran"),
];

/// Every event id `QueryEvents` finds for `actor`, paging to the end.
async fn events_of(
    client: &mut proto::event_log_client::EventLogClient<tonic::transport::Channel>,
    actor: &str,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page_token = String::new();
    for _ in 0..10_000 {
        let page = client
            .query_events(proto::QueryEventsRequest {
                actor: actor.into(),
                page_size: 1_000,
                page_token: page_token.clone(),
                order: proto::QueryOrder::Position as i32,
                ..Default::default()
            })
            .await
            .expect("QueryEvents")
            .into_inner();
        ids.extend(page.entries.into_iter().filter_map(|e| match e.body {
            Some(Body::Event(event)) => Some(event.id),
            _ => None,
        }));
        if page.next_page_token.is_empty() {
            return ids;
        }
        page_token = page.next_page_token;
    }
    panic!("paging did not end");
}

/// Kill rounds: 3 in CI; `scripts/crash.sh` runs 100 against the release binary.
fn crash_rounds() -> usize {
    std::env::var("EVENTLOG_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

#[tokio::test]
async fn kill_9_loses_no_acknowledged_entry_and_no_batch_is_half_written() {
    const WRITERS: usize = 8;
    const BATCH: usize = 5;
    let rounds = crash_rounds();
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path().join("data");
    // batch id -> positions acknowledged for it
    let mut acknowledged: HashMap<String, Vec<u64>> = HashMap::new();

    for round in 0..rounds {
        let (mut child, url) = spawn_binary(&data_dir).await;
        let mut client = proto::event_log_client::EventLogClient::connect(url.clone())
            .await
            .expect("connect");
        append(&mut client, seed_actors())
            .await
            .expect("actors (duplicates after round 0)");
        let mut writers = Vec::new();
        for writer in 0..WRITERS {
            let url = url.clone();
            writers.push(tokio::spawn(async move {
                let mut acks = Vec::new();
                let Ok(mut client) = proto::event_log_client::EventLogClient::connect(url).await
                else {
                    return acks;
                };
                for k in 0..10_000 {
                    let batch_id = format!("r{round}-w{writer}-b{k}");
                    // Three edges, so the graph and the per-actor postings have work to do.
                    let entries = (0..BATCH)
                        .map(|j| {
                            let (relation, initiator, target) = EDGES[(k + j) % EDGES.len()];
                            event(
                                &format!("{batch_id}-{j}"),
                                relation,
                                initiator,
                                target,
                                "2022",
                            )
                        })
                        .collect();
                    match append(&mut client, entries).await {
                        Ok(response) => acks.push((
                            batch_id,
                            response.results.iter().map(|r| r.position).collect(),
                        )),
                        Err(_) => break, // the server died under us
                    }
                }
                acks
            }));
        }
        // A different moment in each round: early (indexes far behind) to late.
        let delay = 200 + (round as u64 * 137) % 800;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
        for writer in writers {
            for (batch_id, positions) in writer.await.expect("writer task") {
                acknowledged.insert(batch_id, positions);
            }
        }
    }
    assert!(
        acknowledged.len() > 10,
        "the writers got {} acks; too few to test anything",
        acknowledged.len()
    );

    let server = start_on(&data_dir).await;
    let mut client =
        proto::event_log_client::EventLogClient::connect(format!("http://{}", server.local_addr))
            .await
            .expect("connect");
    let log = read_all(&mut client).await;
    eprintln!(
        "{} acknowledged batches, {} entries after {rounds} kills",
        acknowledged.len(),
        log.len()
    );
    let positions: Vec<u64> = log.iter().map(|e| e.position).collect();
    assert_eq!(
        positions,
        (1..=log.len() as u64).collect::<Vec<_>>(),
        "positions are contiguous"
    );
    let mut by_batch: HashMap<String, Vec<u64>> = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    let mut duplicated = 0;
    for entry in &log {
        if let Some(Body::Event(event)) = &entry.body {
            if !ids.insert(event.id.clone()) {
                duplicated += 1;
            }
            let (batch_id, _) = event.id.rsplit_once('-').expect("batch id");
            by_batch
                .entry(batch_id.to_string())
                .or_default()
                .push(entry.position);
        }
    }
    let lost = acknowledged
        .iter()
        .filter(|(batch_id, positions)| by_batch.get(*batch_id) != Some(positions))
        .count();
    let half = by_batch
        .values()
        .filter(|positions| {
            positions.len() != BATCH || !positions.windows(2).all(|w| w[1] == w[0] + 1)
        })
        .count();
    println!(
        "crash rounds: {rounds}; acknowledged batches: {}; entries in the log: {}; lost: {lost}; \
         duplicated: {duplicated}; half batches: {half}",
        acknowledged.len(),
        log.len()
    );
    assert_eq!((lost, duplicated, half), (0, 0, 0));
    for (batch_id, positions) in &acknowledged {
        assert_eq!(
            by_batch.get(batch_id),
            Some(positions),
            "acknowledged batch {batch_id}"
        );
    }
    for (batch_id, positions) in &by_batch {
        assert_eq!(positions.len(), BATCH, "batch {batch_id} is whole");
        assert!(
            positions.windows(2).all(|w| w[1] == w[0] + 1),
            "batch {batch_id} is contiguous"
        );
    }

    // The indexes were behind the log when the process died: after the restart, queries and
    // the relation graph answer exactly what the log says (the model: a plain count over it).
    let mut model_events: HashMap<&str, Vec<String>> = HashMap::new();
    let mut model_edges: HashMap<(String, String, String), u64> = HashMap::new();
    for entry in &log {
        if let Some(Body::Event(event)) = &entry.body {
            for p in &event.participants {
                let actor = ["russia", "iran", "liwa-al-quds"]
                    .into_iter()
                    .find(|a| *a == p.actor_id)
                    .expect("a seed actor");
                model_events
                    .entry(actor)
                    .or_default()
                    .push(event.id.clone());
            }
            let edge = (
                event.participants[0].actor_id.clone(),
                event.relation.clone(),
                event.participants[1].actor_id.clone(),
            );
            *model_edges.entry(edge).or_default() += 1;
        }
    }
    for actor in ["russia", "iran", "liwa-al-quds"] {
        let want = model_events.remove(actor).unwrap_or_default();
        assert_eq!(
            events_of(&mut client, actor).await,
            want,
            "events of {actor}"
        );
        let graph = client
            .list_relations(proto::ListRelationsRequest {
                actor: actor.into(),
                ..Default::default()
            })
            .await
            .expect("ListRelations")
            .into_inner();
        assert!(!graph.truncated, "the graph of {actor} is complete");
        for edge in graph.edges {
            let key = (edge.subject, edge.relation, edge.object);
            assert_eq!(
                Some(&edge.event_count),
                model_edges.get(&key),
                "evidence of {key:?}"
            );
        }
    }
    server.stop().await.expect("stop");
}

/// A small deterministic generator (xorshift), so every seed's damage can be reproduced.
struct Damage(u64);

impl Damage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Every non-empty regular file under `dir`, with its size, in a stable order.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                pending.push(path);
            } else if meta.len() > 0 {
                files.push((path, meta.len()));
            }
        }
    }
    files.sort();
    files
}

/// A copy of the directory tree `from` (empty files and directories included: the engines
/// expect them).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.metadata().expect("metadata").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Starts the binary on `data_dir` if it will start: `None` when it exits (refusing the
/// damaged directory) before it listens.
async fn try_spawn(data_dir: &std::path::Path, log: &std::path::Path) -> Option<(Child, String)> {
    let log = std::fs::File::create(log).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "error",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn eventlog");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the server starts or exits within 30 s")
        .ok()
        .flatten()?;
    let addr = line.strip_prefix("eventlog listening on ")?.to_string();
    Some((child, format!("http://{addr}")))
}

#[tokio::test]
async fn flipped_and_zeroed_bytes_in_the_data_files_never_make_the_server_serve_a_wrong_entry() {
    const SEEDS: u64 = 24;
    let temp = tempfile::tempdir().expect("temp dir");
    let pristine = temp.path().join("pristine");
    let original = {
        let server = start_on(&pristine).await;
        let mut client = proto::event_log_client::EventLogClient::connect(format!(
            "http://{}",
            server.local_addr
        ))
        .await
        .expect("connect");
        append(&mut client, seed_actors()).await.expect("actors");
        append_attacks(&mut client, 20, 100, "2022").await;
        let log = read_all(&mut client).await;
        server.stop().await.expect("clean stop");
        log
    };
    let mut outcomes: HashMap<&str, u64> = HashMap::new();
    for seed in 1..=SEEDS {
        let mut damage = Damage(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let dir = temp.path().join(format!("damaged-{seed}"));
        copy_dir(&pristine, &dir);
        let files = files_under(&dir);
        // Every other seed damages sled's file (the log of record), the rest any file (the
        // derived indexes included).
        let log_file = dir.join("db");
        let pick = if seed % 2 == 1 {
            files
                .iter()
                .position(|(path, _)| *path == log_file)
                .expect("sled's db file")
        } else {
            (damage.next() % files.len() as u64) as usize
        };
        let (file, len) = &files[pick];
        let mut bytes = std::fs::read(file).expect("read");
        // Some seeds aim inside a stored record: at an event id sled keeps in the file.
        let needle = format!("e{}-{}", damage.next() % 20, damage.next() % 100);
        let aimed = (seed % 3 == 0)
            .then(|| {
                bytes
                    .windows(needle.len())
                    .rposition(|w| w == needle.as_bytes())
            })
            .flatten();
        let at = aimed.unwrap_or((damage.next() % len) as usize);
        if seed % 4 < 2 {
            bytes[at] ^= 1 << (damage.next() % 8);
        } else {
            let end = (at + 1 + (damage.next() % 512) as usize).min(bytes.len());
            bytes[at..end].fill(0);
        }
        std::fs::write(file, &bytes).expect("write");
        let what = format!("seed {seed}: {} at byte {at}", file.display());

        let log = temp.path().join(format!("damaged-{seed}.log"));
        let Some((mut child, url)) = try_spawn(&dir, &log).await else {
            *outcomes.entry("refused to start").or_default() += 1;
            continue;
        };
        let Ok(mut client) = proto::event_log_client::EventLogClient::connect(url).await else {
            *outcomes.entry("died after start").or_default() += 1;
            continue;
        };
        // Whatever it serves must be the original entry at that position; errors (DATA_LOSS)
        // and a shorter log are allowed, a different entry is not.
        let mut served = 0;
        let mut refused = false;
        match client
            .read_log(proto::ReadLogRequest {
                from_position: 1,
                max_entries: 0,
            })
            .await
        {
            Ok(stream) => {
                let mut stream = stream.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(chunk)) => {
                            for entry in chunk.entries {
                                let want = &original[(entry.position - 1) as usize];
                                assert_eq!(&entry, want, "{what}: a wrong entry was served");
                                served += 1;
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            refused = true;
                            break;
                        }
                    }
                }
            }
            Err(_) => refused = true,
        }
        for position in [1_u64, 50, 1000, original.len() as u64] {
            if let Ok(response) = client
                .get_entry(proto::GetEntryRequest {
                    selector: Some(proto::get_entry_request::Selector::Position(position)),
                })
                .await
            {
                let entry = response.into_inner().entry.expect("an entry");
                assert_eq!(
                    &entry,
                    &original[(position - 1) as usize],
                    "{what}: GetEntry"
                );
            }
        }
        let outcome = if refused {
            "served what it could verify, refused the rest"
        } else if served == original.len() {
            "served everything, intact"
        } else {
            // Entries it had acknowledged are gone: the operator must be told.
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                said.contains("lost entries it had acknowledged"),
                "{what}: a shorter log ({served} of {} entries, {:?}) served without a word: {said}",
                original.len(),
                client.get_log_info(proto::GetLogInfoRequest {}).await.map(|i| i.into_inner())
            );
            "served a shorter log, and said so"
        };
        *outcomes.entry(outcome).or_default() += 1;
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
    }
    eprintln!("{SEEDS} damaged data dirs: {outcomes:?}");
}

/// A tmpfs of `size` mounted on a new directory, unmounted when dropped; `None` where the
/// kernel (or a missing privilege) refuses the mount.
struct SmallDisk {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .stderr(Stdio::piped())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(SmallDisk { path, _dir: dir }),
            Ok(out) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs here (root needed): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(error) => {
                eprintln!("skipped: cannot run mount: {error}");
                None
            }
        }
    }

    fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.path)
            .status()
            .expect("run mount");
        assert!(status.success(), "remount to {size}");
    }

    /// Bytes free on the small disk, as `stat -f` reports them.
    fn free(&self) -> u64 {
        let out = std::process::Command::new("stat")
            .args(["-f", "-c", "%a %S"])
            .arg(&self.path)
            .output()
            .expect("run stat");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut numbers = text
            .split_whitespace()
            .map(|n| n.parse::<u64>().expect("a number"));
        numbers.next().expect("free blocks") * numbers.next().expect("block size")
    }

    /// Fills the disk with a file from outside the server until only `leave` bytes are free.
    /// Not to the very last byte: sled writes on its own now and then (consolidating pages it
    /// read), and a write that fails there once made a later stop of the store hang in sled's
    /// flush, which no reserve of ours can prevent.
    fn fill_to(&self, leave: u64) -> std::path::PathBuf {
        use std::io::Write;
        let ballast = self.path.join("ballast");
        let mut file = std::fs::File::create(&ballast).expect("ballast");
        let chunk = vec![0x5a_u8; 64 * 1024];
        for _ in 0..10_000 {
            let free = self.free();
            if free <= leave + chunk.len() as u64 {
                return ballast;
            }
            file.write_all(&chunk)
                .and_then(|()| file.sync_all())
                .expect("the ballast fits");
        }
        panic!("the small disk never filled");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// `count` events of ~12 KB each that do not compress, with ids `{prefix}-{n}`.
fn bulky_events(prefix: &str, count: usize) -> Vec<proto::Entry> {
    (0..count)
        .map(|n| {
            let mut body = event_body(
                &format!("{prefix}-{n}"),
                "backs",
                "iran",
                "liwa-al-quds",
                "2013",
            );
            let mut state =
                (n as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ prefix.len() as u64;
            body.summary = (0..12_000)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(b'a' + (state % 26) as u8)
                })
                .collect();
            entry(Body::Event(body))
        })
        .collect()
}

fn disk_figures(text: &str) -> (f64, f64) {
    let samples = ops::parse_samples(text);
    let value = |name: &str| samples.get(name).copied().unwrap_or(-1.0);
    (
        value("eventlog_disk_space_low"),
        value("eventlog_disk_full_refusals_total"),
    )
}

#[tokio::test]
async fn a_full_disk_refuses_writes_serves_reads_and_appends_resume_when_space_returns() {
    let Some(disk) = SmallDisk::mount("48m") else {
        return;
    };
    let data_dir = disk.path.join("data");
    let settings = eventlog::server::Settings {
        min_free_disk_bytes: 12 * 1024 * 1024,
        metrics_listen: Some("127.0.0.1:0".parse().expect("address")),
        ..settings(&data_dir)
    };
    let running = eventlog::server::start(&settings).await.expect("starts");
    let url = format!("http://{}", running.local_addr);
    let metrics = running.metrics_addr.expect("metrics endpoint");
    let mut client = eventlog::proto::event_log_client::EventLogClient::connect(url.clone())
        .await
        .expect("connect")
        .max_decoding_message_size(64 * 1024 * 1024);
    append(&mut client, seed_actors()).await.expect("actors");
    let mut named = subscribe(
        &mut client,
        proto::SubscribeRequest {
            name: "enricher".into(),
            start: Some(proto::subscribe_request::Start::FromPosition(1)),
            ..Default::default()
        },
    )
    .await
    .expect("a named subscription");
    next_said(&mut named, 10).await.expect("its first entries");
    drop(named);

    // Fill the disk with appends until one is refused.
    let mut acked: Vec<String> = Vec::new();
    let mut refusal = None;
    for batch in 0..400 {
        let entries = bulky_events(&format!("a{batch}"), 25);
        match append(&mut client, entries.clone()).await {
            Ok(_) => acked.extend(entries.iter().map(entry_id)),
            Err(status) => {
                refusal = Some(status);
                break;
            }
        }
    }
    let refusal = refusal.expect("the 48 MiB disk filled up");
    assert_eq!(refusal.code(), Code::ResourceExhausted, "{refusal:?}");
    for part in ["disk is almost full", "nothing was written", "resume"] {
        assert!(refusal.message().contains(part), "{refusal:?}");
    }
    assert!(
        !refusal.message().contains("/tmp"),
        "no server paths: {refusal:?}"
    );
    assert!(acked.len() >= 100, "{} entries fitted", acked.len());
    let head_when_full = head(&mut client).await;

    // Everything acknowledged is served: reads, queries, subscriptions.
    let served = read_all(&mut client).await;
    assert_eq!(served.len() as u64, head_when_full);
    let events: Vec<String> = served
        .iter()
        .filter(|e| is_event(e))
        .map(entry_id)
        .collect();
    assert_eq!(
        events, acked,
        "exactly the acknowledged events, nothing of the refused batch"
    );
    let page = client
        .query_events(proto::QueryEventsRequest {
            actor: "liwa-al-quds".into(),
            page_size: 10,
            ..Default::default()
        })
        .await
        .expect("queries go on")
        .into_inner();
    assert_eq!(page.entries.len(), 10);
    let mut live = subscribe(&mut client, from_position(1))
        .await
        .expect("subscribe");
    let said = read_through(&mut live, head_when_full).await;
    assert_eq!(positions(&said), (1..=head_when_full).collect::<Vec<_>>());
    drop(live);
    let (low, refusals) = disk_figures(&ops::scrape(metrics).await);
    assert_eq!(low, 1.0, "eventlog_disk_space_low while full");
    assert!(refusals >= 1.0, "refusals counted: {refusals}");

    // More room: appends resume by themselves, without a restart.
    disk.resize("96m");
    let more = bulky_events("after-resize", 25);
    append(&mut client, more.clone())
        .await
        .expect("appends resume once there is room");
    acked.extend(more.iter().map(entry_id));
    assert_eq!(disk_figures(&ops::scrape(metrics).await).0, 0.0);
    let after = bulky_events("after-resize-2", 10);
    append(&mut client, after.clone()).await.expect("append");
    acked.extend(after.iter().map(entry_id));

    // Another process fills the disk to 1 MiB (far below the reserve, below the indexer's
    // quarter of it): refused, then resumed when it frees the space.
    let ballast = disk.fill_to(1024 * 1024);
    assert_status(
        append(&mut client, bulky_events("while-ballast", 5)).await,
        Code::ResourceExhausted,
        &["disk is almost full"],
    );
    // Checkpoints are writes too.
    let checkpoint = proto::CommitCheckpointRequest {
        name: "enricher".into(),
        position: head_when_full,
    };
    assert_status(
        client.commit_checkpoint(checkpoint.clone()).await,
        Code::ResourceExhausted,
        &["disk is almost full"],
    );
    assert_eq!(
        read_all(&mut client).await.len() as u64,
        head(&mut client).await
    );
    std::fs::remove_file(&ballast).expect("free the ballast");
    client
        .commit_checkpoint(checkpoint)
        .await
        .expect("checkpoints resume too");
    let last = bulky_events("after-ballast", 5);
    append(&mut client, last.clone())
        .await
        .expect("appends resume once the ballast is gone");
    acked.extend(last.iter().map(entry_id));

    // And nothing acknowledged is lost across a restart; nothing refused appears.
    running.stop().await.expect("clean stop");
    let running = eventlog::server::start(&settings).await.expect("restarts");
    let mut client = eventlog::proto::event_log_client::EventLogClient::connect(format!(
        "http://{}",
        running.local_addr
    ))
    .await
    .expect("connect")
    .max_decoding_message_size(64 * 1024 * 1024);
    let events: Vec<String> = read_all(&mut client)
        .await
        .iter()
        .filter(|e| is_event(e))
        .map(entry_id)
        .collect();
    assert_eq!(events, acked);
    running.stop().await.expect("clean stop");
}

fn is_event(entry: &proto::Entry) -> bool {
    matches!(entry.body, Some(Body::Event(_)))
}
