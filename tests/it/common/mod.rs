//! Shared helpers of the integration tests: a real server on a free port in a temporary
//! directory, a client, and builders for realistic entries.

#![allow(dead_code)]

pub mod cluster;
pub mod groups;
pub mod nats;
pub mod ops;
pub mod web;

use std::path::{Path, PathBuf};

use eventlog::proto::event_log_client::EventLogClient;
use eventlog::proto::{self, entry::Body};
use eventlog::server::{self, RunningServer, Settings};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// A server on 127.0.0.1 with its own data directory, stopped when dropped via `stop`.
pub struct TestServer {
    pub running: Option<RunningServer>,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on a fresh temporary data directory.
    pub async fn start() -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().join("data");
        let running = start_on(&data_dir).await;
        TestServer {
            running: Some(running),
            data_dir,
            _temp: Some(temp),
        }
    }

    /// Starts a server on `data_dir`, a directory the caller prepared inside `temp` (a copy of
    /// a fixture, say); `temp` goes when the server does.
    pub async fn start_in(temp: tempfile::TempDir, data_dir: PathBuf) -> TestServer {
        let running = start_on(&data_dir).await;
        TestServer {
            running: Some(running),
            data_dir,
            _temp: Some(temp),
        }
    }

    /// The address clients connect to.
    pub fn url(&self) -> String {
        let addr = self.running.as_ref().expect("server is running").local_addr;
        format!("http://{addr}")
    }

    /// A new client connection.
    pub async fn client(&self) -> EventLogClient<Channel> {
        EventLogClient::connect(self.url())
            .await
            .expect("connect to test server")
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    /// Stops the server (closing the store) and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("clean stop");
        }
        self.running = Some(start_on(&self.data_dir).await);
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("clean stop");
        }
    }
}

/// Test settings: `data_dir`, a free loopback port, the built-in vocabulary, a small cache.
pub fn settings(data_dir: &Path) -> Settings {
    Settings {
        data_dir: data_dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("valid address"),
        vocabulary_file: None,
        cache_capacity_bytes: 64 * 1024 * 1024,
        ..Settings::default()
    }
}

/// Starts a server on `data_dir` and a free port.
pub async fn start_on(data_dir: &Path) -> RunningServer {
    server::start(&settings(data_dir))
        .await
        .expect("server starts")
}

/// An actor entry.
pub fn actor(id: &str, name: &str, kind: proto::ActorKind) -> proto::Entry {
    entry(Body::Actor(proto::Actor {
        id: id.into(),
        name: name.into(),
        kind: kind as i32,
        ..Default::default()
    }))
}

/// An actor entry with aliases and a country.
pub fn actor_with(
    id: &str,
    name: &str,
    kind: proto::ActorKind,
    aliases: &[&str],
    country: &str,
) -> proto::Entry {
    entry(Body::Actor(proto::Actor {
        id: id.into(),
        name: name.into(),
        kind: kind as i32,
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        country: country.into(),
        ..Default::default()
    }))
}

/// An event where `initiator` does `relation` to `target`.
pub fn event(id: &str, relation: &str, initiator: &str, target: &str, date: &str) -> proto::Entry {
    entry(Body::Event(event_body(
        id, relation, initiator, target, date,
    )))
}

/// The body of `event`, for tests that tweak fields.
pub fn event_body(
    id: &str,
    relation: &str,
    initiator: &str,
    target: &str,
    date: &str,
) -> proto::Event {
    proto::Event {
        id: id.into(),
        relation: relation.into(),
        participants: vec![
            proto::Participant {
                actor_id: initiator.into(),
                role: proto::Role::Initiator as i32,
            },
            proto::Participant {
                actor_id: target.into(),
                role: proto::Role::Target as i32,
            },
        ],
        date: date.into(),
        summary: format!("{initiator} {relation} {target}"),
        sources: vec![proto::Source {
            name: "Test Wire".into(),
            url: "https://example.org/report".into(),
            published: date
                .split('/')
                .next()
                .unwrap_or(date)
                .trim_end_matches(['?', '~', '%'])
                .into(),
        }],
        certainty: proto::Certainty::Reported as i32,
        ..Default::default()
    }
}

/// A claim that `subject relation object`.
pub fn claim(
    id: &str,
    subject: &str,
    relation: &str,
    object: &str,
    certainty: proto::Certainty,
) -> proto::Entry {
    entry(Body::Claim(proto::Claim {
        id: id.into(),
        subject: subject.into(),
        relation: relation.into(),
        object: object.into(),
        certainty: certainty as i32,
        statement: format!("{subject} {relation} {object}"),
        sources: vec![proto::Source {
            name: "Test Wire".into(),
            ..Default::default()
        }],
        ..Default::default()
    }))
}

/// Wraps a body in an entry with no server-assigned fields.
pub fn entry(body: Body) -> proto::Entry {
    proto::Entry {
        position: 0,
        recorded_at: None,
        body: Some(body),
    }
}

/// Appends `entries` as one batch.
pub async fn append(
    client: &mut EventLogClient<Channel>,
    entries: Vec<proto::Entry>,
) -> Result<proto::AppendResponse, Status> {
    client
        .append(proto::AppendRequest {
            entries,
            expected_head: None,
            validate_only: false,
        })
        .await
        .map(|r| r.into_inner())
}

/// The log's head.
pub async fn head(client: &mut EventLogClient<Channel>) -> u64 {
    client
        .get_log_info(proto::GetLogInfoRequest {})
        .await
        .expect("GetLogInfo")
        .into_inner()
        .head
}

/// The `google.rpc.ErrorInfo` reason of a failed call, as any client reads it from the status
/// details (empty if it has none).
pub fn reason_of<T>(result: &Result<T, Status>) -> String {
    use tonic_types::StatusExt;
    result
        .as_ref()
        .err()
        .and_then(|status| status.get_details_error_info())
        .map(|info| info.reason)
        .unwrap_or_default()
}

/// Asserts that `result` failed with `code` and a message containing every one of `parts`.
pub fn assert_status<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, parts: &[&str]) {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "unexpected status: {status:?}");
    for part in parts {
        assert!(
            status.message().contains(part),
            "message {:?} should contain {part:?}",
            status.message()
        );
    }
}

/// Reads the log from `from_position`, at most `max_entries` (0 = up to the head).
pub async fn read_log(
    client: &mut EventLogClient<Channel>,
    from_position: u64,
    max_entries: u64,
) -> Vec<proto::Entry> {
    let mut stream = client
        .read_log(proto::ReadLogRequest {
            from_position,
            max_entries,
        })
        .await
        .expect("ReadLog")
        .into_inner();
    let mut entries = Vec::new();
    while let Some(chunk) = stream.message().await.expect("ReadLog chunk") {
        entries.extend(chunk.entries);
    }
    entries
}

/// Reads the whole log.
pub async fn read_all(client: &mut EventLogClient<Channel>) -> Vec<proto::Entry> {
    read_log(client, 1, 0).await
}

/// The ids of the actors `ResolveActor` finds for `name`, best first.
pub async fn resolve_ids(client: &mut EventLogClient<Channel>, name: &str) -> Vec<String> {
    client
        .resolve_actor(proto::ResolveActorRequest {
            name: name.into(),
            limit: 0,
            min_position: 0,
        })
        .await
        .expect("ResolveActor")
        .into_inner()
        .matches
        .into_iter()
        .map(|a| a.id)
        .collect()
}

/// Appends `batches` batches of `per_batch` events "russia attacks liwa-al-quds" on `date`,
/// with ids `e<batch>-<i>` (the seed actors must be in the log).
pub async fn append_attacks(
    client: &mut EventLogClient<Channel>,
    batches: u32,
    per_batch: u32,
    date: &str,
) {
    for chunk in 0..batches {
        let batch = (0..per_batch)
            .map(|i| {
                event(
                    &format!("e{chunk}-{i}"),
                    "attacks",
                    "russia",
                    "liwa-al-quds",
                    date,
                )
            })
            .collect();
        append(client, batch).await.expect("append events");
    }
}

/// The three actors most tests need: Russia (alias Moscow), Iran and Liwa' al-Quds.
pub fn seed_actors() -> Vec<proto::Entry> {
    vec![
        actor_with(
            "russia",
            "Russia",
            proto::ActorKind::State,
            &["Moscow", "Russian Federation"],
            "RUS",
        ),
        actor_with("iran", "Iran", proto::ActorKind::State, &["Tehran"], "IRN"),
        actor_with(
            "liwa-al-quds",
            "Liwa' al-Quds",
            proto::ActorKind::ArmedGroup,
            &["Jerusalem Brigade", "Quds Brigade"],
            "SYR",
        ),
    ]
}

/// A subscription stream.
pub type Subscription = tonic::Streaming<proto::SubscribeResponse>;

/// What a subscription stream said, flattened.
#[allow(clippy::large_enum_variant)] // test data, short-lived
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    Entry(proto::Entry),
    Checkpoint(u64),
    CaughtUp(u64),
    FellBehind(u64),
}

/// A `Subscribe` request from `position`, unnamed and unfiltered.
pub fn from_position(position: u64) -> proto::SubscribeRequest {
    proto::SubscribeRequest {
        start: Some(proto::subscribe_request::Start::FromPosition(position)),
        ..Default::default()
    }
}

/// The id of an entry of any kind ("" for an entry without a body).
pub fn entry_id(entry: &proto::Entry) -> String {
    match &entry.body {
        Some(Body::Actor(a)) => a.id.clone(),
        Some(Body::Event(e)) => e.id.clone(),
        Some(Body::Claim(c)) => c.id.clone(),
        None => String::new(),
    }
}

/// Starts a subscription.
pub async fn subscribe(
    client: &mut EventLogClient<Channel>,
    request: proto::SubscribeRequest,
) -> Result<Subscription, Status> {
    client.subscribe(request).await.map(|r| r.into_inner())
}

/// Reads one message of a stream (entries flattened), failing after `seconds`.
pub async fn next_said(stream: &mut Subscription, seconds: u64) -> Result<Vec<Said>, Status> {
    use proto::subscribe_response::Message;
    let message = tokio::time::timeout(std::time::Duration::from_secs(seconds), stream.message())
        .await
        .expect("the stream said nothing in time")?
        .expect("the stream ended");
    Ok(match message.message.expect("a message") {
        Message::Entry(e) => vec![Said::Entry(e)],
        Message::Entries(es) => es.entries.into_iter().map(Said::Entry).collect(),
        Message::Checkpoint(c) => vec![Said::Checkpoint(c.position)],
        Message::CaughtUp(c) => vec![Said::CaughtUp(c.head)],
        Message::FellBehind(f) => vec![Said::FellBehind(f.position)],
    })
}

/// Reads a stream until an entry at `last` (or later) arrived; returns everything said.
pub async fn read_through(stream: &mut Subscription, last: u64) -> Vec<Said> {
    let mut said = Vec::new();
    loop {
        let batch = next_said(stream, 60).await.expect("stream error");
        let done = batch
            .iter()
            .any(|s| matches!(s, Said::Entry(e) if e.position >= last));
        said.extend(batch);
        if done {
            return said;
        }
    }
}

/// The positions of the entries in `said`.
pub fn positions(said: &[Said]) -> Vec<u64> {
    said.iter()
        .filter_map(|s| match s {
            Said::Entry(e) => Some(e.position),
            _ => None,
        })
        .collect()
}
