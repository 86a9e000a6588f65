//! Append throughput: gRPC batches, gRPC single appends from many clients, and raw sled.
//!
//! All four benchmarks sit in one criterion group (`append`) and report events per second, so
//! one run compares them directly:
//!
//! - `grpc_batched_100`: one client appends batches of 100 events (~500 encoded bytes each) to a
//!   real in-process server on 127.0.0.1 with a temporary data directory.
//! - `grpc_single_64_clients`: 64 clients, each with its own connection, append one event per
//!   request concurrently; one iteration is `SINGLE_EVENTS_PER_ITER` events in total, timed
//!   wall-clock. This is what group commit is for.
//! - `raw_sled_batch_100`: the floor the server builds on: the same protobuf-encoded events
//!   written straight to sled 0.34.7 in `Batch`es of 100, one `flush` per batch.
//! - `raw_sled_blocks_100`: the same records and flushes, framed into the server's blocks
//!   (`record::block`): what sled itself costs for the layout the server writes.
//!
//! Every event id comes from one global counter, so no append is ever a duplicate.
//!
//! Run with `cargo bench --bench append`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use prost::Message;
use tokio::runtime::Runtime;

#[path = "support/load.rs"]
mod load;

use eventlog::store::record::block;
use load::{append_request, check, event, BenchServer, CACHE_BYTES};

/// The same allocator as the server binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events per `Append` request (and per sled batch) in the batched benchmarks.
const BATCH: usize = 100;
/// Concurrent clients of the single-append benchmark.
const CLIENTS: usize = 64;
/// Events per iteration of the single-append benchmark, spread evenly over the clients.
const SINGLE_EVENTS_PER_ITER: usize = CLIENTS * 8;
type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn grpc_batched(group: &mut Group<'_>, rt: &Runtime) {
    let server = rt.block_on(BenchServer::start());
    let client = rt.block_on(server.client());
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("grpc_batched_100", |b| {
        b.to_async(rt).iter_batched(
            || append_request(BATCH),
            |request| {
                let mut client = client.clone();
                async move { check(client.append(request).await, BATCH) }
            },
            BatchSize::SmallInput,
        );
    });
    rt.block_on(server.stop());
}

fn grpc_single_concurrent(group: &mut Group<'_>, rt: &Runtime) {
    let server = rt.block_on(BenchServer::start());
    let clients = rt.block_on(async {
        let mut clients = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            clients.push(server.client().await);
        }
        clients
    });
    group.throughput(Throughput::Elements(SINGLE_EVENTS_PER_ITER as u64));
    group.bench_function("grpc_single_64_clients", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let clients = clients.clone();
            async move {
                let per_client = SINGLE_EVENTS_PER_ITER / CLIENTS;
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // The requests are built outside the timed part.
                    let work: Vec<_> = clients
                        .iter()
                        .map(|client| {
                            let requests: Vec<_> =
                                (0..per_client).map(|_| append_request(1)).collect();
                            (client.clone(), requests)
                        })
                        .collect();
                    let start = Instant::now();
                    let tasks: Vec<_> = work
                        .into_iter()
                        .map(|(mut client, requests)| {
                            tokio::spawn(async move {
                                for request in requests {
                                    check(client.append(request).await, 1);
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.expect("client task");
                    }
                    total += start.elapsed();
                }
                total
            }
        });
    });
    rt.block_on(server.stop());
}

/// A sled database of its own in a temporary directory, with the server's sled settings, so that
/// only the server's own work differs from the raw reference.
fn raw_sled_tree() -> (tempfile::TempDir, sled::Db, sled::Tree) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sled::Config::new()
        .path(dir.path().join("raw"))
        .cache_capacity(CACHE_BYTES)
        .mode(sled::Mode::HighThroughput)
        .open()
        .expect("open sled");
    let tree = db.open_tree("raw").expect("open tree");
    (dir, db, tree)
}

/// Times `write` on batches of `BATCH` freshly encoded events, each followed by a flush, in a
/// raw sled database of its own; `write` gets the batch's first key.
fn raw_sled_bench(
    group: &mut Group<'_>,
    name: &str,
    mut write: impl FnMut(&sled::Tree, u64, Vec<Vec<u8>>),
) {
    let (_dir, db, tree) = raw_sled_tree();
    let mut next_key: u64 = 1;
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(name, |b| {
        b.iter_batched(
            || {
                (0..BATCH)
                    .map(|_| event().encode_to_vec())
                    .collect::<Vec<_>>()
            },
            |values| {
                write(&tree, next_key, values);
                next_key += BATCH as u64;
                db.flush().expect("flush");
            },
            BatchSize::SmallInput,
        );
    });
}

/// The reference the issue names: one key per record, one atomic batch, one flush.
fn raw_sled(group: &mut Group<'_>) {
    raw_sled_bench(group, "raw_sled_batch_100", |tree, first, values| {
        let mut batch = sled::Batch::default();
        for (key, value) in (first..).zip(values) {
            batch.insert(&key.to_be_bytes(), value);
        }
        tree.apply_batch(batch).expect("apply batch");
    });
}

/// The same records and flush, framed into blocks as the server frames them (the server's
/// block size and format): what sled itself costs for the server's layout.
fn raw_sled_blocks(group: &mut Group<'_>) {
    raw_sled_bench(group, "raw_sled_blocks_100", |tree, first, values| {
        let mut batch = sled::Batch::default();
        for range in block::split(values.iter().map(Vec::len)) {
            let records = values[range.clone()].iter().map(Vec::as_slice);
            let key = first + range.start as u64;
            batch.insert(&key.to_be_bytes(), block::encode(records));
        }
        tree.apply_batch(batch).expect("apply batch");
    });
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    eprintln!(
        "event: {} bytes encoded; Append of {BATCH}: {} bytes",
        event().encoded_len(),
        append_request(BATCH).encoded_len()
    );
    let mut group = c.benchmark_group("append");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    grpc_batched(&mut group, &rt);
    grpc_single_concurrent(&mut group, &rt);
    raw_sled(&mut group);
    raw_sled_blocks(&mut group);
    group.finish();
}

criterion_group!(append, benches);
criterion_main!(append);
