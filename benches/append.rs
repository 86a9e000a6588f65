//! Append throughput: gRPC batches, gRPC single appends from many clients, and raw sled.
//!
//! All three benchmarks sit in one criterion group (`append`) and report events per second, so
//! one run compares them directly:
//!
//! - `grpc_batched_100`: one client appends batches of 100 events (~500 encoded bytes each) to a
//!   real in-process server on 127.0.0.1 with a temporary data directory.
//! - `grpc_single_64_clients`: 64 clients, each with its own connection, append one event per
//!   request concurrently; one iteration is `SINGLE_EVENTS_PER_ITER` events in total, timed
//!   wall-clock. This is what group commit is for.
//! - `raw_sled_batch_100`: the floor the server builds on: the same protobuf-encoded events
//!   written straight to sled 0.34.7 in `Batch`es of 100, one `flush` per batch.
//!
//! Every event id comes from one global counter, so no append is ever a duplicate.
//!
//! Run with `cargo bench --bench append`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use eventlog::proto::event_log_client::EventLogClient;
use eventlog::proto::{self, entry::Body};
use eventlog::server::{self, RunningServer, Settings};
use prost::Message;
use tokio::runtime::Runtime;
use tonic::transport::Channel;

/// The same allocator as the server binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events per `Append` request (and per sled batch) in the batched benchmarks.
const BATCH: usize = 100;
/// Concurrent clients of the single-append benchmark.
const CLIENTS: usize = 64;
/// Events per iteration of the single-append benchmark, spread evenly over the clients.
const SINGLE_EVENTS_PER_ITER: usize = CLIENTS * 8;
/// Encoded size each generated event is padded to (with its summary).
const TARGET_EVENT_BYTES: usize = 500;
/// Page cache of the server and of the raw sled database (the integration tests use the same).
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Actors the events refer to, appended once per server before measuring.
const ACTORS: &[(&str, &str, proto::ActorKind, &str)] = &[
    ("russia", "Russia", proto::ActorKind::State, "RUS"),
    ("ukraine", "Ukraine", proto::ActorKind::State, "UKR"),
    (
        "wagner-group",
        "Wagner Group",
        proto::ActorKind::PrivateMilitaryCompany,
        "RUS",
    ),
    (
        "hezbollah",
        "Hezbollah",
        proto::ActorKind::ArmedGroup,
        "LBN",
    ),
    (
        "liwa-al-quds",
        "Liwa' al-Quds",
        proto::ActorKind::ArmedGroup,
        "SYR",
    ),
    (
        "syrian-arab-army",
        "Syrian Arab Army",
        proto::ActorKind::Military,
        "SYR",
    ),
    (
        "sdf",
        "Syrian Democratic Forces",
        proto::ActorKind::ArmedGroup,
        "SYR",
    ),
    (
        "irgc",
        "Islamic Revolutionary Guard Corps",
        proto::ActorKind::Military,
        "IRN",
    ),
];

const SUMMARY_TEXT: &str = "Fighters of the initiating side attacked positions held by the \
    target near the village after a night of artillery exchanges; local monitors reported \
    casualties on both sides and the displacement of several families toward the district \
    centre, while the target's spokesman denied any loss of ground and accused the other side \
    of shelling residential areas. Independent confirmation was not available at the time of \
    reporting and the figures may be revised as more information becomes available.";

/// The next unused event number, across every benchmark and iteration of the process.
static NEXT_EVENT: AtomicU64 = AtomicU64::new(0);

/// A realistic event with a fresh id, padded to about `TARGET_EVENT_BYTES` encoded bytes.
fn event() -> proto::Event {
    let n = NEXT_EVENT.fetch_add(1, Ordering::Relaxed);
    let initiator = ACTORS[(n % ACTORS.len() as u64) as usize].0;
    let target = ACTORS[((n + 3) % ACTORS.len() as u64) as usize].0;
    // "A attacks B" has an initiator and a target; "clashes_with" is symmetric.
    let (relation, first, second) = if n.is_multiple_of(2) {
        ("attacks", proto::Role::Initiator, proto::Role::Target)
    } else {
        (
            "clashes_with",
            proto::Role::Participant,
            proto::Role::Participant,
        )
    };
    let day = n % 28 + 1;
    let mut event = proto::Event {
        // Fixed width, so every event of a run has the same encoded size.
        id: format!("bench:ev-{n:012}"),
        relation: relation.into(),
        participants: vec![
            proto::Participant {
                actor_id: initiator.into(),
                role: first as i32,
            },
            proto::Participant {
                actor_id: target.into(),
                role: second as i32,
            },
        ],
        date: format!("2022-09-{day:02}"),
        location: Some(proto::Location {
            name: "Deir ez-Zor".into(),
            country: "SYR".into(),
            admin1: "Deir ez-Zor".into(),
            latitude: Some(35.336),
            longitude: Some(40.145),
        }),
        summary: String::new(),
        sources: vec![proto::Source {
            name: "SOHR".into(),
            url: format!("https://www.syriahr.com/en/{}/", 270_000 + n % 10_000),
            published: format!("2022-09-{day:02}"),
        }],
        certainty: proto::Certainty::Reported as i32,
        attributes: BTreeMap::from([
            ("fatalities".to_string(), (n % 17).to_string()),
            ("cameo_code".to_string(), "190".to_string()),
            ("dataset".to_string(), "bench".to_string()),
        ]),
        supersedes: Vec::new(),
        date_span: None,
    };
    // The summary's length prefix is two bytes from 128 characters on; aim for the total.
    let room = TARGET_EVENT_BYTES.saturating_sub(event.encoded_len() + 3);
    let mut summary = String::with_capacity(room);
    while summary.len() < room {
        let take = (room - summary.len()).min(SUMMARY_TEXT.len());
        summary.push_str(&SUMMARY_TEXT[..take]);
    }
    event.summary = summary;
    event
}

fn event_entry() -> proto::Entry {
    proto::Entry {
        position: 0,
        recorded_at: None,
        body: Some(Body::Event(event())),
    }
}

fn append_request(entries: usize) -> proto::AppendRequest {
    proto::AppendRequest {
        entries: (0..entries).map(|_| event_entry()).collect(),
        expected_head: None,
        validate_only: false,
    }
}

/// A running server on its own temporary data directory.
struct BenchServer {
    running: RunningServer,
    _dir: tempfile::TempDir,
}

impl BenchServer {
    /// Starts a server and appends the actors every event refers to.
    async fn start() -> BenchServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let running = server::start(&Settings {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse().expect("valid address"),
            vocabulary_file: None,
            cache_capacity_bytes: CACHE_BYTES,
            ..Settings::default()
        })
        .await
        .expect("server starts");
        let server = BenchServer { running, _dir: dir };
        let actors = ACTORS
            .iter()
            .map(|(id, name, kind, country)| proto::Entry {
                position: 0,
                recorded_at: None,
                body: Some(Body::Actor(proto::Actor {
                    id: (*id).into(),
                    name: (*name).into(),
                    kind: *kind as i32,
                    country: (*country).into(),
                    ..Default::default()
                })),
            })
            .collect();
        server
            .client()
            .await
            .append(proto::AppendRequest {
                entries: actors,
                expected_head: None,
                validate_only: false,
            })
            .await
            .expect("actors appended");
        server
    }

    /// A client on a connection of its own.
    async fn client(&self) -> EventLogClient<Channel> {
        let url = format!("http://{}", self.running.local_addr);
        EventLogClient::connect(url).await.expect("connect")
    }

    async fn stop(self) {
        self.running.stop().await.expect("clean stop");
    }
}

/// Checks that an append was accepted as `expected` new entries, so a benchmark never
/// silently measures rejections or duplicates.
fn check(response: Result<tonic::Response<proto::AppendResponse>, tonic::Status>, expected: usize) {
    let response = response.expect("append accepted").into_inner();
    assert_eq!(response.results.len(), expected);
    assert!(
        response.results.iter().all(|r| !r.duplicate),
        "an event was a duplicate"
    );
}

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

fn raw_sled(group: &mut Group<'_>) {
    let dir = tempfile::tempdir().expect("temp dir");
    // The server's sled settings, so that only the server's own work differs.
    let db = sled::Config::new()
        .path(dir.path().join("raw"))
        .cache_capacity(CACHE_BYTES)
        .mode(sled::Mode::HighThroughput)
        .open()
        .expect("open sled");
    let tree = db.open_tree("raw").expect("open tree");
    let mut next_key: u64 = 1;
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("raw_sled_batch_100", |b| {
        b.iter_batched(
            || {
                (0..BATCH)
                    .map(|_| event().encode_to_vec())
                    .collect::<Vec<_>>()
            },
            |values| {
                let mut batch = sled::Batch::default();
                for value in values {
                    batch.insert(&next_key.to_be_bytes(), value);
                    next_key += 1;
                }
                tree.apply_batch(batch).expect("apply batch");
                db.flush().expect("flush");
            },
            BatchSize::SmallInput,
        );
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
    group.finish();
}

criterion_group!(append, benches);
criterion_main!(append);
