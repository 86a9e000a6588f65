//! Helpers of the consumer group tests: a groups client, group settings, a member on a
//! bidirectional stream, and a log of events spread over several actors.

use std::time::Duration;

use eventlog::proto::consumer_groups_client::ConsumerGroupsClient;
use eventlog::proto::event_log_client::EventLogClient;
use eventlog::proto::{self, join_group_request, join_group_response};
use tokio::sync::mpsc;
use tonic::transport::Channel;
use tonic::{Status, Streaming};

use super::{actor, append, event};

/// A groups client for `url`.
pub async fn groups_client(url: &str) -> ConsumerGroupsClient<Channel> {
    ConsumerGroupsClient::connect(url.to_string())
        .await
        .expect("connect to test server")
        .max_decoding_message_size(64 * 1024 * 1024)
}

/// A protobuf duration of `ms` milliseconds.
pub fn millis(ms: u64) -> pbjson_types::Duration {
    pbjson_types::Duration {
        seconds: (ms / 1000) as i64,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

/// Settings with `ack_wait` in ms, `max_deliver` and `max_ack_pending` (0 = defaults).
pub fn settings(
    dispatch: proto::DispatchMode,
    ack_wait_ms: u64,
    max_deliver: u32,
    max_ack_pending: u32,
) -> proto::GroupSettings {
    proto::GroupSettings {
        dispatch: dispatch as i32,
        ack_wait: Some(millis(ack_wait_ms)),
        max_deliver,
        backoff: Vec::new(),
        max_ack_pending,
    }
}

/// Creates a group from the beginning of the log with `settings` and no filter.
pub async fn create(
    client: &mut ConsumerGroupsClient<Channel>,
    name: &str,
    settings: proto::GroupSettings,
) -> proto::GroupInfo {
    client
        .create_group(proto::CreateGroupRequest {
            name: name.into(),
            filter: None,
            start: None,
            settings: Some(settings),
        })
        .await
        .expect("CreateGroup")
        .into_inner()
        .group
        .expect("group")
}

/// A group's state.
pub async fn describe(client: &mut ConsumerGroupsClient<Channel>, name: &str) -> proto::GroupState {
    client
        .describe_group(proto::DescribeGroupRequest { name: name.into() })
        .await
        .expect("DescribeGroup")
        .into_inner()
        .state
        .expect("state")
}

/// The number of actors `append_spread` names, as `actor-0`...
pub const ACTORS: usize = 7;

/// Appends the actors, then `count` events in batches of `per_batch`, event `i` initiated by
/// actor `i % ACTORS`. Returns the position of the last actor entry.
pub async fn append_actors(client: &mut EventLogClient<Channel>) -> u64 {
    let actors = (0..ACTORS)
        .map(|i| {
            actor(
                &format!("actor-{i}"),
                &format!("Actor {i}"),
                proto::ActorKind::State,
            )
        })
        .collect();
    let receipt = append(client, actors).await.expect("append actors");
    receipt.head
}

/// `count` events from number `from` on, in batches of `per_batch`.
pub async fn append_events(
    client: &mut EventLogClient<Channel>,
    from: usize,
    count: usize,
    per_batch: usize,
) {
    let mut i = from;
    while i < from + count {
        let n = per_batch.min(from + count - i);
        let batch = (i..i + n)
            .map(|k| {
                event(
                    &format!("ev-{k}"),
                    "attacks",
                    &format!("actor-{}", k % ACTORS),
                    &format!("actor-{}", (k + 1) % ACTORS),
                    "2022",
                )
            })
            .collect();
        append(client, batch).await.expect("append events");
        i += n;
    }
}

/// The actor an entry is pinned by, as the server picks it.
pub fn pin_key(entry: &proto::Entry) -> String {
    match &entry.body {
        Some(proto::entry::Body::Actor(a)) => a.id.clone(),
        Some(proto::entry::Body::Event(e)) => e
            .participants
            .first()
            .map(|p| p.actor_id.clone())
            .unwrap_or_default(),
        Some(proto::entry::Body::Claim(c)) => c.subject.clone(),
        None => String::new(),
    }
}

/// A member of a group on its own stream.
pub struct TestMember {
    pub id: u64,
    tx: mpsc::Sender<proto::JoinGroupRequest>,
    rx: Streaming<proto::JoinGroupResponse>,
}

/// What a member was told.
#[allow(clippy::large_enum_variant)] // test data, short-lived
#[derive(Debug)]
pub enum Told {
    Delivery(proto::Delivery),
    Acked(proto::Acked),
}

impl TestMember {
    /// Joins `group` at `url`, holding at most `max_in_flight`.
    pub async fn join(url: &str, group: &str, max_in_flight: u32) -> Result<TestMember, Status> {
        let mut client = groups_client(url).await;
        let (tx, requests) = mpsc::channel(1024);
        tx.send(join_message(group, max_in_flight))
            .await
            .expect("queue join");
        let mut rx = client
            .join_group(tokio_stream::wrappers::ReceiverStream::new(requests))
            .await?
            .into_inner();
        let first = rx.message().await?.expect("a first message");
        match first.message {
            Some(join_group_response::Message::Joined(joined)) => Ok(TestMember {
                id: joined.member_id,
                tx,
                rx,
            }),
            other => panic!("expected joined, got {other:?}"),
        }
    }

    /// The next message, or `None` if nothing comes within `ms`; the stream's end is an error.
    pub async fn next(&mut self, ms: u64) -> Result<Option<Told>, Status> {
        match tokio::time::timeout(Duration::from_millis(ms), self.rx.message()).await {
            Err(_) => Ok(None),
            Ok(Err(status)) => Err(status),
            Ok(Ok(None)) => Err(Status::cancelled("stream ended")),
            Ok(Ok(Some(message))) => Ok(Some(match message.message {
                Some(join_group_response::Message::Delivery(d)) => Told::Delivery(d),
                Some(join_group_response::Message::Acked(a)) => Told::Acked(a),
                other => panic!("unexpected {other:?}"),
            })),
        }
    }

    /// Sends an ack of `ids`.
    pub async fn ack(&self, ids: Vec<u64>) {
        self.send(join_group_request::Message::Ack(proto::Ack {
            delivery_ids: ids,
        }))
        .await;
    }

    /// Sends a nack of `id` with a delay of `delay_ms`.
    pub async fn nack(&self, id: u64, delay_ms: u64) {
        self.send(join_group_request::Message::Nack(proto::Nack {
            delivery_id: id,
            delay: Some(millis(delay_ms)),
        }))
        .await;
    }

    /// Sends any message.
    pub async fn send(&self, message: join_group_request::Message) {
        // The stream may be gone already; the test reads why from `next`.
        let _ = self
            .tx
            .send(proto::JoinGroupRequest {
                message: Some(message),
            })
            .await;
    }
}

/// The `join` message.
pub fn join_message(group: &str, max_in_flight: u32) -> proto::JoinGroupRequest {
    proto::JoinGroupRequest {
        message: Some(join_group_request::Message::Join(proto::Join {
            group: group.into(),
            max_in_flight,
        })),
    }
}

/// What a member does with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Ack,
    Nack,
    /// Neither: let its ack_wait run out.
    Ignore,
}

/// What a member saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every delivery: position, attempt, pin key.
    pub deliveries: Vec<(u64, u32, String)>,
    /// Positions whose acks the server confirmed.
    pub confirmed: Vec<u64>,
    /// How the stream ended, if it did.
    pub ended: Option<Status>,
}

/// Runs `member` until `done` (confirmed acks across all members) reaches `total`, its stream
/// ends, or `patience` passes; `policy` decides each delivery.
pub async fn run_member(
    mut member: TestMember,
    done: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    total: usize,
    policy: impl Fn(&proto::Delivery) -> Action,
    patience: Duration,
) -> Seen {
    use std::sync::atomic::Ordering;
    let deadline = tokio::time::Instant::now() + patience;
    let mut seen = Seen::default();
    let mut positions = std::collections::HashMap::new();
    while done.load(Ordering::SeqCst) < total && tokio::time::Instant::now() < deadline {
        match member.next(100).await {
            Ok(None) => {}
            Ok(Some(Told::Delivery(d))) => {
                let entry = d.entry.clone().expect("an entry");
                seen.deliveries
                    .push((entry.position, d.attempt, pin_key(&entry)));
                positions.insert(d.delivery_id, entry.position);
                match policy(&d) {
                    Action::Ack => member.ack(vec![d.delivery_id]).await,
                    Action::Nack => member.nack(d.delivery_id, 0).await,
                    Action::Ignore => {}
                }
            }
            Ok(Some(Told::Acked(acked))) => {
                for id in acked.delivery_ids {
                    seen.confirmed.push(positions[&id]);
                    done.fetch_add(1, Ordering::SeqCst);
                }
            }
            Err(status) => {
                seen.ended = Some(status);
                break;
            }
        }
    }
    seen
}

/// What a run of the CLI printed.
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `eventlog groups ARGS... --addr URL` off the async runtime (so an in-process server
/// keeps serving), bounded to a minute.
pub async fn groups_cli(url: &str, args: &[&str]) -> CliRun {
    let mut command = assert_cmd::Command::cargo_bin("eventlog").expect("the binary is built");
    command
        .arg("groups")
        .args(args)
        .args(["--addr", url])
        .env_remove("EVENTLOG_TOKEN")
        .timeout(Duration::from_secs(60));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run eventlog");
    CliRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
