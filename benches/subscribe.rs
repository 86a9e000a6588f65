//! Subscription benchmarks (a load generator, not criterion: it reports distributions).
//!
//! 1. Live fan-out: 100 subscribers while appending 10k events/s; latency from append
//!    acknowledgement to receipt, p50/p99/max.
//! 2. Catch-up of one subscriber over a 1M-entry log, entries/s, against a raw sled scan of the
//!    same entries in the same run.
//! 3. A filtered subscription matching 1% of the 1M entries: time to catch up.
//!
//! `cargo bench --bench subscribe` runs all three; `EVENTLOG_BENCH_ENTRIES` changes the size of
//! the catch-up log (default 1,000,000).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventlog::proto::event_log_client::EventLogClient;
use eventlog::proto::{self, entry::Body, subscribe_request::Start, subscribe_response::Message};
use eventlog::server::{self, RunningServer, Settings};
use tonic::transport::Channel;

/// The same allocator as the server binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events per append in the fan-out run: 10 every millisecond makes 10k/s.
const FAN_OUT_BATCH: u64 = 10;
/// Appends in flight at once in the fan-out run.
const MAX_IN_FLIGHT: usize = 32;

/// How big a run is: the full benchmark under `cargo bench`, a smoke run under `cargo test`.
struct Scale {
    /// Events appended per second in the fan-out run (EVENTLOG_BENCH_RATE, default 10k).
    rate: u64,
    subscribers: usize,
    fan_out_seconds: u64,
    entries: u64,
}

fn actor(id: &str, kind: proto::ActorKind) -> proto::Entry {
    entry(Body::Actor(proto::Actor {
        id: id.into(),
        name: id.replace('-', " "),
        kind: kind as i32,
        ..Default::default()
    }))
}

fn entry(body: Body) -> proto::Entry {
    proto::Entry {
        position: 0,
        recorded_at: None,
        body: Some(body),
    }
}

/// An event of about 500 bytes; `rare` involves the actor the filtered benchmark looks for.
fn event(id: String, rare: bool) -> proto::Entry {
    let target = if rare { "rare-group" } else { "liwa-al-quds" };
    entry(Body::Event(proto::Event {
        id,
        relation: "clashes_with".into(),
        participants: vec![
            proto::Participant {
                actor_id: "russia".into(),
                role: proto::Role::Initiator as i32,
            },
            proto::Participant {
                actor_id: target.into(),
                role: proto::Role::Target as i32,
            },
        ],
        date: "2022-09-24".into(),
        location: Some(proto::Location {
            name: "Deir ez-Zor".into(),
            country: "SYR".into(),
            admin1: "Deir ez-Zor".into(),
            latitude: Some(35.33),
            longitude: Some(40.14),
        }),
        summary:
            "Clashes were reported between the two sides near the river crossing; local sources \
                  described artillery exchanges and several casualties, numbers remain unconfirmed."
                .into(),
        sources: vec![proto::Source {
            name: "Syrian Observatory".into(),
            url: "https://example.org/reports/2022/09/24/deir-ez-zor".into(),
            published: "2022-09-25".into(),
        }],
        certainty: proto::Certainty::Reported as i32,
        attributes: [("fatalities".to_string(), "4".to_string())]
            .into_iter()
            .collect(),
        ..Default::default()
    }))
}

async fn start(dir: &std::path::Path) -> RunningServer {
    server::start(&Settings {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("address"),
        vocabulary_file: None,
        cache_capacity_bytes: 256 * 1024 * 1024,
        ..Settings::default()
    })
    .await
    .expect("server starts")
}

async fn connect(server: &RunningServer) -> EventLogClient<Channel> {
    EventLogClient::connect(format!("http://{}", server.local_addr))
        .await
        .expect("connect")
        .max_decoding_message_size(64 * 1024 * 1024)
}

async fn append(
    client: &mut EventLogClient<Channel>,
    entries: Vec<proto::Entry>,
) -> proto::AppendResponse {
    client
        .append(proto::AppendRequest {
            entries,
            expected_head: None,
            validate_only: false,
        })
        .await
        .expect("append")
        .into_inner()
}

async fn seed_actors(client: &mut EventLogClient<Channel>) {
    append(
        client,
        vec![
            actor("russia", proto::ActorKind::State),
            actor("liwa-al-quds", proto::ActorKind::ArmedGroup),
            actor("rare-group", proto::ActorKind::ArmedGroup),
        ],
    )
    .await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Runs one subscription until it has seen `last` (or caught up when `last` is 0); returns the
/// number of entries received and the elapsed time.
async fn catch_up(
    client: &mut EventLogClient<Channel>,
    filter: Option<proto::SubscriptionFilter>,
) -> (u64, Duration) {
    let started = Instant::now();
    let mut stream = client
        .subscribe(proto::SubscribeRequest {
            start: Some(Start::FromPosition(1)),
            filter,
            ..Default::default()
        })
        .await
        .expect("subscribe")
        .into_inner();
    let mut received = 0;
    while let Some(message) = stream.message().await.expect("stream") {
        match message.message {
            Some(Message::Entry(_)) => received += 1,
            Some(Message::Entries(e)) => received += e.entries.len() as u64,
            Some(Message::CaughtUp(_)) => break,
            _ => {}
        }
    }
    (received, started.elapsed())
}

async fn fan_out(scale: &Scale) {
    let subscribers_wanted = scale.subscribers;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path()).await;
    let mut writer = connect(&server).await;
    seed_actors(&mut writer).await;

    let receipts: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut subscribers = Vec::new();
    let total = scale.rate * scale.fan_out_seconds;
    let last = 3 + total;
    for _ in 0..subscribers_wanted {
        let mut client = connect(&server).await;
        let mut stream = client
            .subscribe(proto::SubscribeRequest {
                start: Some(Start::FromEnd(true)),
                ..Default::default()
            })
            .await
            .expect("subscribe")
            .into_inner();
        let receipts = Arc::clone(&receipts);
        subscribers.push(tokio::spawn(async move {
            let mut mine = Vec::with_capacity(total as usize);
            while let Some(message) = stream.message().await.expect("stream") {
                let now = Instant::now();
                let positions: Vec<u64> = match message.message {
                    Some(Message::Entry(e)) => vec![e.position],
                    Some(Message::Entries(es)) => es.entries.iter().map(|e| e.position).collect(),
                    _ => continue,
                };
                let done = positions.iter().any(|p| *p >= last);
                mine.extend(positions.into_iter().map(|p| (p, now)));
                if done {
                    break;
                }
            }
            receipts.lock().expect("receipts").extend(mine);
            drop(client);
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Appends are paced by a ticker and sent without waiting for the previous one, as
    // independent producers would: at most `MAX_IN_FLIGHT` at once, so the rate holds even when
    // one append waits for a flush.
    let acks: Arc<Mutex<Vec<Option<Instant>>>> =
        Arc::new(Mutex::new(vec![None; last as usize + 1]));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut ticker = tokio::time::interval(Duration::from_micros(
        1_000_000 * FAN_OUT_BATCH / scale.rate,
    ));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut appends = Vec::new();
    let mut n = 0;
    while n < total {
        ticker.tick().await;
        let permit = Arc::clone(&in_flight)
            .acquire_owned()
            .await
            .expect("semaphore");
        let batch: Vec<_> = (0..FAN_OUT_BATCH)
            .map(|i| event(format!("fan-{}", n + i), false))
            .collect();
        let mut client = writer.clone();
        let acks = Arc::clone(&acks);
        appends.push(tokio::spawn(async move {
            let response = append(&mut client, batch).await;
            let now = Instant::now();
            let mut acks = acks.lock().expect("acks");
            for result in response.results {
                acks[result.position as usize] = Some(now);
            }
            drop(permit);
        }));
        n += FAN_OUT_BATCH;
    }
    for task in appends {
        task.await.expect("append task");
    }
    let append_rate = total as f64 / started.elapsed().as_secs_f64();
    for s in subscribers {
        s.await.expect("subscriber");
    }
    let acks = std::mem::take(&mut *acks.lock().expect("acks"));
    let receipts = std::mem::take(&mut *receipts.lock().expect("receipts"));
    let mut latencies: Vec<Duration> = receipts
        .iter()
        .filter_map(|(p, at)| {
            acks.get(*p as usize)
                .copied()
                .flatten()
                .map(|ack| at.saturating_duration_since(ack))
        })
        .collect();
    latencies.sort();
    println!(
        "fan-out: {subscribers_wanted} subscribers, {total} events appended at {append_rate:.0}/s, {} deliveries: \
         ack-to-receipt p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    server.stop().await.expect("stop");
}

async fn catch_up_and_filtered(entries: u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let server = start(&data).await;
    let mut writer = connect(&server).await;
    seed_actors(&mut writer).await;
    let built = Instant::now();
    let mut n = 0;
    while n < entries {
        let batch = (n..(n + 1000).min(entries))
            .map(|i| event(format!("bulk-{i}"), i % 100 == 0))
            .collect();
        append(&mut writer, batch).await;
        n += 1000;
    }
    println!(
        "built a log of {entries} events in {:.1} s",
        built.elapsed().as_secs_f64()
    );

    let mut reader = connect(&server).await;
    // Warm the page cache the same way for both readers: one untimed pass first.
    let _ = catch_up(&mut reader, None).await;
    let (received, elapsed) = catch_up(&mut reader, None).await;
    let subscribe_rate = received as f64 / elapsed.as_secs_f64();
    let filter = proto::SubscriptionFilter {
        actors: vec!["rare-group".into()],
        ..Default::default()
    };
    let (matched, filtered_elapsed) = catch_up(&mut reader, Some(filter)).await;
    server.stop().await.expect("stop");

    // The raw scan: the same entries, straight from sled, no decoding, no gRPC.
    let db = sled::Config::new()
        .path(&data)
        .cache_capacity(256 * 1024 * 1024)
        .open()
        .expect("open sled");
    let tree = db.open_tree("eventlog").expect("tree");
    let mut raw_rate = 0.0;
    for _ in 0..2 {
        let started = Instant::now();
        let mut count = 0_u64;
        let mut bytes = 0_usize;
        // The server's blocks, each counted by walking its framing (records are not decoded).
        for item in tree.scan_prefix([eventlog::store::keys::BLOCK]) {
            let (key, value) = item.expect("scan");
            let first = eventlog::store::keys::position_of_block_key(&key).expect("a block key");
            bytes += value.len();
            count += eventlog::store::record::block::record_count(first, &value).expect("a block");
        }
        std::hint::black_box(bytes);
        raw_rate = count as f64 / started.elapsed().as_secs_f64();
    }
    println!(
        "catch-up: one subscriber {received} entries in {:.2} s = {subscribe_rate:.0} entries/s; \
         raw sled scan {raw_rate:.0} entries/s; ratio {:.2}",
        elapsed.as_secs_f64(),
        subscribe_rate / raw_rate
    );
    println!(
        "filtered catch-up: {matched} of {} entries match (1%), caught up in {:.2} s",
        received,
        filtered_elapsed.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this without it, and then
    // a small smoke run checks that the benchmark still works.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let scale = if benchmarking {
        Scale {
            rate: std::env::var("EVENTLOG_BENCH_RATE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(10_000),
            subscribers: 100,
            fan_out_seconds: 5,
            entries: std::env::var("EVENTLOG_BENCH_ENTRIES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1_000_000),
        }
    } else {
        Scale {
            rate: 10_000,
            subscribers: 4,
            fan_out_seconds: 1,
            entries: 5_000,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // EVENTLOG_BENCH_ONLY=fan-out or =catch-up runs one part.
    let only = std::env::var("EVENTLOG_BENCH_ONLY").unwrap_or_default();
    runtime.block_on(async {
        if only.is_empty() || only == "fan-out" {
            fan_out(&scale).await;
        }
        if only.is_empty() || only == "catch-up" {
            catch_up_and_filtered(scale.entries).await;
        }
    });
}
