//! Consumer group benchmarks (a load generator, not criterion: it reports rates and a
//! distribution), all in one run over the same log:
//!
//! 1. A plain `Subscribe` reading the whole log: entries/s, the baseline.
//! 2. A group with 1, 4 and 16 members, each acking every entry as it arrives: entries/s until
//!    every ack is confirmed durable.
//! 3. The ack round trip seen by members: from sending an ack to its `Acked` confirmation
//!    (which waits for the group's flush), p50/p99/max.
//!
//! `cargo bench --bench groups` runs it on 50,000 entries (EVENTLOG_BENCH_ENTRIES changes
//! that); `cargo test --all-targets` runs a smoke run of 2,000.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventlog::proto::consumer_groups_client::ConsumerGroupsClient;
use eventlog::proto::event_log_client::EventLogClient;
use eventlog::proto::{self, entry::Body, join_group_request, join_group_response};
use eventlog::server::{self, Settings};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// The same allocator as the server binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ACTORS: usize = 16;

fn entry(body: Body) -> proto::Entry {
    proto::Entry {
        position: 0,
        recorded_at: None,
        body: Some(body),
    }
}

fn event(i: usize) -> proto::Entry {
    entry(Body::Event(proto::Event {
        id: format!("ev-{i}"),
        relation: "attacks".into(),
        participants: vec![
            proto::Participant {
                actor_id: format!("actor-{}", i % ACTORS),
                role: proto::Role::Initiator as i32,
            },
            proto::Participant {
                actor_id: format!("actor-{}", (i + 1) % ACTORS),
                role: proto::Role::Target as i32,
            },
        ],
        date: "2022-09-24".into(),
        summary: "Shelling was reported near the river crossing; local sources gave no figures."
            .into(),
        certainty: proto::Certainty::Reported as i32,
        ..Default::default()
    }))
}

async fn fill(client: &mut EventLogClient<tonic::transport::Channel>, entries: usize) -> u64 {
    let actors = (0..ACTORS)
        .map(|i| {
            entry(Body::Actor(proto::Actor {
                id: format!("actor-{i}"),
                name: format!("Actor {i}"),
                kind: proto::ActorKind::State as i32,
                ..Default::default()
            }))
        })
        .collect();
    let append = |entries| proto::AppendRequest {
        entries,
        expected_head: None,
        validate_only: false,
    };
    client.append(append(actors)).await.expect("append actors");
    let mut head = 0;
    for start in (0..entries).step_by(1000) {
        let batch = (start..(start + 1000).min(entries)).map(event).collect();
        head = client
            .append(append(batch))
            .await
            .expect("append")
            .into_inner()
            .head;
    }
    head
}

/// Reads the log from the start with a plain Subscribe until `head`; entries/s.
async fn subscribe_rate(url: &str, head: u64) -> f64 {
    let mut client = EventLogClient::connect(url.to_string())
        .await
        .expect("connect");
    let started = Instant::now();
    let mut stream = client
        .subscribe(proto::SubscribeRequest {
            start: Some(proto::subscribe_request::Start::FromPosition(1)),
            ..Default::default()
        })
        .await
        .expect("subscribe")
        .into_inner();
    let mut last = 0;
    while last < head {
        let message = stream.message().await.expect("stream").expect("a message");
        match message.message {
            Some(proto::subscribe_response::Message::Entry(e)) => last = e.position,
            Some(proto::subscribe_response::Message::Entries(batch)) => {
                if let Some(e) = batch.entries.last() {
                    last = e.position;
                }
            }
            _ => {}
        }
    }
    head as f64 / started.elapsed().as_secs_f64()
}

/// One member: acks every delivery at once, until `done` reaches `total`; returns its ack
/// round trips.
async fn member(url: String, group: String, done: Arc<AtomicUsize>, total: usize) -> Vec<Duration> {
    let mut client = ConsumerGroupsClient::connect(url).await.expect("connect");
    let (tx, rx) = mpsc::channel(4096);
    tx.send(proto::JoinGroupRequest {
        message: Some(join_group_request::Message::Join(proto::Join {
            group,
            max_in_flight: 0,
        })),
    })
    .await
    .expect("queue join");
    let mut stream = client
        .join_group(ReceiverStream::new(rx))
        .await
        .expect("join")
        .into_inner();
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let mut round_trips = Vec::new();
    while done.load(Ordering::SeqCst) < total {
        let message = match tokio::time::timeout(Duration::from_millis(100), stream.message()).await
        {
            Err(_) => continue,
            Ok(message) => message.expect("stream").expect("a message"),
        };
        match message.message {
            Some(join_group_response::Message::Delivery(d)) => {
                sent.insert(d.delivery_id, Instant::now());
                let ack = join_group_request::Message::Ack(proto::Ack {
                    delivery_ids: vec![d.delivery_id],
                });
                let _ = tx
                    .send(proto::JoinGroupRequest { message: Some(ack) })
                    .await;
            }
            Some(join_group_response::Message::Acked(acked)) => {
                for id in acked.delivery_ids {
                    if let Some(at) = sent.remove(&id) {
                        round_trips.push(at.elapsed());
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }
            _ => {}
        }
    }
    round_trips
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or_default()
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let entries = if benchmarking {
        std::env::var("EVENTLOG_BENCH_ENTRIES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50_000)
    } else {
        2_000
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let temp = tempfile::tempdir().expect("temp dir");
        let running = server::start(&Settings {
            data_dir: temp.path().join("data"),
            listen: "127.0.0.1:0".parse().expect("address"),
            ..Settings::default()
        })
        .await
        .expect("server starts");
        let url = format!("http://{}", running.local_addr);
        let mut log = EventLogClient::connect(url.clone()).await.expect("connect");
        let head = fill(&mut log, entries).await;
        println!("consumer groups over {head} entries (each member acks every entry)");
        println!(
            "  plain Subscribe          {:>9.0} entries/s",
            subscribe_rate(&url, head).await
        );
        let mut groups = ConsumerGroupsClient::connect(url.clone()).await.expect("connect");
        for members in [1_usize, 4, 16] {
            let name = format!("bench-{members}");
            groups
                .create_group(proto::CreateGroupRequest {
                    name: name.clone(),
                    filter: None,
                    start: None,
                    settings: Some(proto::GroupSettings {
                        max_ack_pending: 1000,
                        ..Default::default()
                    }),
                })
                .await
                .expect("create group");
            let done = Arc::new(AtomicUsize::new(0));
            let started = Instant::now();
            let tasks: Vec<_> = (0..members)
                .map(|_| {
                    tokio::spawn(member(url.clone(), name.clone(), Arc::clone(&done), head as usize))
                })
                .collect();
            let mut round_trips = Vec::new();
            for task in tasks {
                round_trips.extend(task.await.expect("member"));
            }
            let rate = head as f64 / started.elapsed().as_secs_f64();
            round_trips.sort_unstable();
            println!(
                "  group, {members:>2} member(s)      {rate:>9.0} entries/s   ack round trip p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                quantile(&round_trips, 0.5).as_secs_f64() * 1e3,
                quantile(&round_trips, 0.99).as_secs_f64() * 1e3,
                round_trips.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            );
        }
        running.stop().await.expect("clean stop");
    });
}
