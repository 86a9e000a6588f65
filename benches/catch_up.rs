//! Catch-up reads: one `Subscribe` from position 1 through gRPC against a raw sled scan of the
//! same records, in one criterion group (`catch_up`), both in entries per second.
//!
//! - `grpc_subscribe_from_1`: a real in-process server on a temporary directory, holding
//!   `EVENTLOG_BENCH_CATCH_UP` events (default 20,000) of the shared append load; one iteration
//!   is a subscription from position 1 until the server says it is caught up.
//! - `raw_sled_scan`: the same events (`load::event_at`, protobuf-encoded) in a sled database of
//!   their own with the server's sled settings, scanned front to back: the floor a catch-up read
//!   builds on.
//!
//! The scale run (`benches/scale.rs`) measures the same pair at N events with the server in its
//! own process; this one is for quick comparisons while working on the read path.
//!
//! Run with `cargo bench --bench catch_up`.

#[path = "support/load.rs"]
mod load;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eventlog::proto::{self, entry::Body, subscribe_request::Start, subscribe_response::Message};
use prost::Message as _;

use load::{event_at, BenchServer, CACHE_BYTES};

/// The same allocator as the server binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events per `Append` while building the log (not measured).
const BUILD_BATCH: u64 = 1_000;

/// Events in the log: `EVENTLOG_BENCH_CATCH_UP` under `cargo bench`, a small log under
/// `cargo test --all-targets` (where criterion runs each benchmark once, as a smoke test).
fn entries() -> u64 {
    let benching = std::env::args().any(|a| a == "--bench");
    std::env::var("EVENTLOG_BENCH_CATCH_UP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 20_000 } else { 1_000 })
}

fn benches(c: &mut Criterion) {
    let events = entries();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = rt.block_on(async {
        let server = BenchServer::start().await;
        let mut client = server.client().await;
        let mut n = 0;
        while n < events {
            let to = (n + BUILD_BATCH).min(events);
            let entries = (n..to)
                .map(|n| proto::Entry {
                    body: Some(Body::Event(event_at(n))),
                    ..Default::default()
                })
                .collect();
            client
                .append(proto::AppendRequest {
                    entries,
                    expected_head: None,
                    validate_only: false,
                })
                .await
                .expect("the log is built");
            n = to;
        }
        server
    });
    // The actors are entries too: the subscription delivers them along with the events.
    let log_entries = events + load::ACTORS.len() as u64;

    let dir = tempfile::tempdir().expect("temp dir");
    let db = sled::Config::new()
        .path(dir.path().join("raw"))
        .cache_capacity(CACHE_BYTES)
        .mode(sled::Mode::HighThroughput)
        .open()
        .expect("open sled");
    let tree = db.open_tree("raw").expect("open tree");
    for n in 0..events {
        tree.insert((n + 1).to_be_bytes(), event_at(n).encode_to_vec())
            .expect("insert");
    }
    db.flush().expect("flush");

    let mut group = c.benchmark_group("catch_up");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    let client = rt.block_on(server.client());
    group.throughput(Throughput::Elements(log_entries));
    group.bench_function("grpc_subscribe_from_1", |b| {
        b.to_async(&rt).iter(|| {
            let mut client = client.clone();
            async move {
                let mut stream = client
                    .subscribe(proto::SubscribeRequest {
                        start: Some(Start::FromPosition(1)),
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
                assert_eq!(received, log_entries, "the catch-up missed entries");
            }
        });
    });
    group.throughput(Throughput::Elements(events));
    group.bench_function("raw_sled_scan", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for item in tree.iter() {
                bytes += item.expect("scan").1.len();
            }
            std::hint::black_box(bytes)
        });
    });
    group.finish();
    rt.block_on(server.stop());
}

criterion_group!(catch_up, benches);
criterion_main!(catch_up);
