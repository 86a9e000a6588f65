//! Cluster mode against the embedded node, in one run (issue 16).
//!
//! Three nats-server processes (one JetStream cluster, the stream R3) on loopback and three
//! eventlog nodes in this process; the same loads against an embedded node in the same run:
//!
//! - batched `Append` (100 events of ~500 B) from one client, through node A;
//! - 64 concurrent clients appending one event per call, through node A;
//! - apply lag at 1k events/s: batches of 10 appended on A every 10 ms, timed until a live
//!   subscriber on B receives them (p50, p99);
//! - a new node with an empty data directory catching up the whole stream, against a
//!   `Subscribe` from position 1 on the embedded node holding the same entries.
//!
//! Each cluster figure is measured with JetStream's default `sync_interval` and with
//! `sync_interval: always` (what docs/nats/eventlog-nats.conf recommends).
//!
//! Needs nats-server: `EVENTLOG_NATS_SERVER` (see scripts/nats-deps.sh) or on PATH.
//! `EVENTLOG_BENCH_CATCH_UP` sets the entries of the catch-up (default 100000; 1000000 by hand).
//! Run with `cargo bench --bench cluster`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use eventlog::cluster::ClusterSettings;
use eventlog::proto::event_log_client::EventLogClient;
use eventlog::proto::{self, subscribe_response::Message as Said};
use eventlog::server::{self, RunningServer, Settings};
use tonic::transport::Channel;

#[path = "support/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../tests/it/common/nats.rs"]
mod nats;

use load::{actor_entries, append_request, check, CACHE_BYTES};
use nats::{NatsCluster, Sync as SyncInterval};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 100;
const CLIENTS: usize = 64;
const LAG_BATCH: usize = 10;

/// How much work each measurement does: the bench's, or a smoke run's under `cargo test`
/// (which runs bench targets without `--bench`), so the code cannot rot unnoticed.
#[derive(Clone, Copy)]
struct Sizes {
    batches: usize,
    single_events: usize,
    lag_seconds: u64,
    catch_up: usize,
}

impl Sizes {
    fn of_this_run() -> Sizes {
        if std::env::args().any(|a| a == "--bench") {
            Sizes {
                batches: 300,
                single_events: CLIENTS * 40,
                lag_seconds: 10,
                catch_up: std::env::var("EVENTLOG_BENCH_CATCH_UP")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(100_000),
            }
        } else {
            Sizes {
                batches: 10,
                single_events: CLIENTS,
                lag_seconds: 1,
                catch_up: 2_000,
            }
        }
    }
}

struct Node {
    running: RunningServer,
}

impl Node {
    async fn start(dir: &std::path::Path, name: &str, cluster: Option<&str>) -> Node {
        let running = server::start(&Settings {
            data_dir: dir.join(name),
            listen: "127.0.0.1:0".parse().expect("address"),
            cache_capacity_bytes: CACHE_BYTES,
            cluster: cluster.map(|urls| ClusterSettings {
                urls: urls.to_string(),
                node_name: name.to_string(),
                stream: "eventlog".into(),
                replicas: 3,
                creds: None,
                tls_ca: None,
                tls_client: None,
            }),
            ..Settings::default()
        })
        .await
        .expect("node starts");
        Node { running }
    }

    async fn client(&self) -> EventLogClient<Channel> {
        EventLogClient::connect(format!("http://{}", self.running.local_addr))
            .await
            .expect("connect")
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    /// Appends the actors every event of the load names.
    async fn append_actors(&self) {
        let request = proto::AppendRequest {
            entries: actor_entries(),
            ..Default::default()
        };
        self.client().await.append(request).await.expect("actors");
    }

    async fn head(&self) -> u64 {
        let info = self
            .client()
            .await
            .get_log_info(proto::GetLogInfoRequest {})
            .await;
        info.expect("GetLogInfo").into_inner().head
    }
}

/// Events per second of `batches` batched appends.
async fn batched(node: &Node, batches: usize) -> f64 {
    let mut client = node.client().await;
    let started = Instant::now();
    for _ in 0..batches {
        check(client.append(append_request(BATCH)).await, BATCH);
    }
    (batches * BATCH) as f64 / started.elapsed().as_secs_f64()
}

/// Events per second of 64 clients appending one event per call.
async fn single(node: &Node, events: usize) -> f64 {
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(node.client().await);
    }
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                for _ in 0..events / CLIENTS {
                    check(client.append(append_request(1)).await, 1);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client");
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// p50 and p99 of the time from an append on `a` until a subscriber on `b` has its last entry,
/// at 1k events/s. Matched by entry id, since the entry may reach `b` before the append's
/// answer reaches the writer.
async fn apply_lag(a: &Node, b: &Node, seconds: u64) -> (Duration, Duration) {
    let from = a.head().await + 1;
    let mut stream = b
        .client()
        .await
        .subscribe(proto::SubscribeRequest {
            start: Some(proto::subscribe_request::Start::FromPosition(from)),
            ..Default::default()
        })
        .await
        .expect("subscribe")
        .into_inner();
    let rounds = seconds * 100;
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::channel::<(String, Instant)>(rounds as usize);
    let mut client = a.client().await;
    let writer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        for _ in 0..rounds {
            tick.tick().await;
            let request = append_request(LAG_BATCH);
            let last = request.entries.last().map(id_of).expect("entries");
            sent_tx
                .send((last, Instant::now()))
                .await
                .expect("bounded by rounds");
            check(client.append(request).await, LAG_BATCH);
        }
    });
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut lags = Vec::new();
    while lags.len() < rounds as usize {
        let message = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("entries in time")
            .expect("stream")
            .expect("open");
        let arrived = Instant::now();
        let entries = match message.message {
            Some(Said::Entry(e)) => vec![e],
            Some(Said::Entries(es)) => es.entries,
            _ => continue,
        };
        while let Ok((id, at)) = sent_rx.try_recv() {
            sent.insert(id, at);
        }
        for entry in &entries {
            if let Some(at) = sent.remove(&id_of(entry)) {
                lags.push(arrived - at);
            }
        }
    }
    writer.await.expect("writer");
    lags.sort();
    (lags[lags.len() / 2], lags[lags.len() * 99 / 100])
}

/// An entry's id.
fn id_of(entry: &proto::Entry) -> String {
    use proto::entry::Body;
    match &entry.body {
        Some(Body::Event(e)) => e.id.clone(),
        Some(Body::Claim(c)) => c.id.clone(),
        Some(Body::Actor(a)) => a.id.clone(),
        None => String::new(),
    }
}

/// Seconds until a `Subscribe` from position 1 on `node` has delivered `head` entries.
async fn subscribe_all(node: &Node, head: u64) -> f64 {
    let mut stream = node
        .client()
        .await
        .subscribe(proto::SubscribeRequest {
            start: Some(proto::subscribe_request::Start::FromPosition(1)),
            ..Default::default()
        })
        .await
        .expect("subscribe")
        .into_inner();
    let started = Instant::now();
    loop {
        let message = stream.message().await.expect("stream").expect("open");
        let last = match message.message {
            Some(Said::Entry(e)) => e.position,
            Some(Said::Entries(es)) => es.entries.last().map_or(0, |e| e.position),
            _ => 0,
        };
        if last >= head {
            return started.elapsed().as_secs_f64();
        }
    }
}

/// Appends `count` events through `node` in batches of 1000.
async fn fill(node: &Node, count: usize) {
    let mut client = node.client().await;
    for _ in 0..count / 1000 {
        check(client.append(append_request(1000)).await, 1000);
    }
}

async fn cluster_run(
    sync: SyncInterval,
    sizes: Sizes,
    embedded_batched: f64,
    embedded_single: f64,
) {
    let nats = NatsCluster::start_with(3, sync).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let a = Node::start(dir.path(), "a", Some(&nats.urls())).await;
    let b = Node::start(dir.path(), "b", Some(&nats.urls())).await;
    let c = Node::start(dir.path(), "c", Some(&nats.urls())).await;
    a.append_actors().await;
    let batched = batched(&a, sizes.batches).await;
    let single = single(&a, sizes.single_events).await;
    let (p50, p99) = apply_lag(&a, &b, sizes.lag_seconds).await;
    println!(
        "cluster ({sync:?} sync): batched {batched:.0} events/s ({:.2} x embedded), 64 clients \
         {single:.0} events/s ({:.2} x embedded), apply lag A->B at 1k events/s p50 {:.1} ms p99 {:.1} ms",
        batched / embedded_batched,
        single / embedded_single,
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
    );
    if sync == SyncInterval::Default {
        fill(&a, sizes.catch_up).await;
        let head = a.head().await;
        let started = Instant::now();
        let d = Node::start(dir.path(), "d", Some(&nats.urls())).await;
        while d.head().await < head {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let joined = started.elapsed().as_secs_f64();
        let local = subscribe_all(&a, head).await;
        println!(
            "catch-up of {head} entries: a new node from the stream {:.0} entries/s ({joined:.1} s); \
             Subscribe from 1 on a node's own store {:.0} entries/s ({local:.1} s); ratio {:.2}",
            head as f64 / joined,
            head as f64 / local,
            local / joined
        );
        d.running.stop().await.expect("stop d");
    }
    for node in [a, b, c] {
        node.running.stop().await.expect("stop");
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("cluster: bench");
        return;
    }
    // Without nats-server: skipped, saying how to get it (a failure under CI=true).
    if nats::skip_without_nats() {
        return;
    }
    let sizes = Sizes::of_this_run();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let embedded = Node::start(dir.path(), "embedded", None).await;
        embedded.append_actors().await;
        let embedded_batched = batched(&embedded, sizes.batches).await;
        let embedded_single = single(&embedded, sizes.single_events).await;
        println!(
            "embedded: batched {embedded_batched:.0} events/s, 64 clients {embedded_single:.0} events/s"
        );
        embedded.running.stop().await.expect("stop");
        cluster_run(SyncInterval::Default, sizes, embedded_batched, embedded_single).await;
        if sizes.catch_up > 2_000 {
            cluster_run(SyncInterval::Always, sizes, embedded_batched, embedded_single).await;
        }
    });
}
