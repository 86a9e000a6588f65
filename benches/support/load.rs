//! The load of the core's append benchmarks, shared with the import benchmark so both compare
//! against exactly the same batched appends: realistic ~500-byte events with fresh ids, and a
//! server on a temporary directory with the actors they name.

#![allow(dead_code)] // each benchmark uses its own part

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use eventlog::proto::event_log_client::EventLogClient;
use eventlog::proto::{self, entry::Body};
use eventlog::server::{self, RunningServer, Settings};
use prost::Message;
use tonic::transport::Channel;

/// Encoded size each generated event is padded to (with its summary).
pub const TARGET_EVENT_BYTES: usize = 500;
/// Page cache of the server and of the raw sled database (the integration tests use the same).
pub const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Actors the events refer to, appended once per server before measuring.
pub const ACTORS: &[(&str, &str, proto::ActorKind, &str)] = &[
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

pub const SUMMARY_TEXT: &str = "Fighters of the initiating side attacked positions held by the \
    target near the village after a night of artillery exchanges; local monitors reported \
    casualties on both sides and the displacement of several families toward the district \
    centre, while the target's spokesman denied any loss of ground and accused the other side \
    of shelling residential areas. Independent confirmation was not available at the time of \
    reporting and the figures may be revised as more information becomes available.";

/// The next unused event number, across every benchmark and iteration of the process.
pub static NEXT_EVENT: AtomicU64 = AtomicU64::new(0);

/// A realistic event with a fresh id, padded to about `TARGET_EVENT_BYTES` encoded bytes.
pub fn event() -> proto::Event {
    event_at(NEXT_EVENT.fetch_add(1, Ordering::Relaxed))
}

/// Who does what to whom in event number `n`: (initiator, relation, target). Pure, so a
/// benchmark can know how many events an edge holds without keeping the events.
pub fn edge_of(n: u64) -> (&'static str, &'static str, &'static str) {
    let initiator = ACTORS[(n % ACTORS.len() as u64) as usize].0;
    let target = ACTORS[((n + 3) % ACTORS.len() as u64) as usize].0;
    // "A attacks B" has an initiator and a target; "clashes_with" is symmetric.
    let relation = if n.is_multiple_of(2) {
        "attacks"
    } else {
        "clashes_with"
    };
    (initiator, relation, target)
}

/// Event number `n`: a pure function of `n`, so two runs (or eventlog and raw sled in one run)
/// write exactly the same bytes, and a fresh `n` is a fresh id.
pub fn event_at(n: u64) -> proto::Event {
    let (initiator, relation, target) = edge_of(n);
    let (first, second) = if relation == "attacks" {
        (proto::Role::Initiator, proto::Role::Target)
    } else {
        (proto::Role::Participant, proto::Role::Participant)
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

pub fn event_entry() -> proto::Entry {
    proto::Entry {
        position: 0,
        recorded_at: None,
        body: Some(Body::Event(event())),
    }
}

/// Claim number `n`: about 300 encoded bytes, a pure function of `n` like `event_at`, cycling
/// through every certainty so that certainty filters have something to find.
pub fn claim_at(n: u64) -> proto::Claim {
    let subject = ACTORS[(n % ACTORS.len() as u64) as usize].0;
    let object = ACTORS[((n + 1) % ACTORS.len() as u64) as usize].0;
    let certainties = [
        proto::Certainty::Confirmed,
        proto::Certainty::Reported,
        proto::Certainty::Alleged,
        proto::Certainty::Speculated,
        proto::Certainty::Disputed,
    ];
    proto::Claim {
        id: format!("bench:cl-{n:012}"),
        subject: subject.into(),
        relation: if n.is_multiple_of(3) {
            "criticizes"
        } else {
            "backs"
        }
        .into(),
        object: object.into(),
        valid: format!("2022-{:02}", n % 12 + 1),
        sources: vec![proto::Source {
            name: "SOHR".into(),
            url: format!("https://www.syriahr.com/en/{}/", 280_000 + n % 10_000),
            published: "2022-10-01".into(),
        }],
        certainty: certainties[(n % certainties.len() as u64) as usize] as i32,
        negated: n.is_multiple_of(20),
        statement: "A spokesman said so in a statement carried by several outlets.".into(),
        ..Default::default()
    }
}

/// The actors every event and claim refers to, as entries to append first.
pub fn actor_entries() -> Vec<proto::Entry> {
    ACTORS
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
        .collect()
}

pub fn append_request(entries: usize) -> proto::AppendRequest {
    proto::AppendRequest {
        entries: (0..entries).map(|_| event_entry()).collect(),
        expected_head: None,
        validate_only: false,
    }
}

/// A running server on its own temporary data directory.
pub struct BenchServer {
    pub running: RunningServer,
    _dir: tempfile::TempDir,
}

impl BenchServer {
    /// Starts a server and appends the actors every event refers to.
    pub async fn start() -> BenchServer {
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
        let actors = actor_entries();
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
    pub async fn client(&self) -> EventLogClient<Channel> {
        let url = format!("http://{}", self.running.local_addr);
        EventLogClient::connect(url).await.expect("connect")
    }

    pub async fn stop(self) {
        self.running.stop().await.expect("clean stop");
    }
}

/// Checks that an append was accepted as `expected` new entries, so a benchmark never
/// silently measures rejections or duplicates.
pub fn check(
    response: Result<tonic::Response<proto::AppendResponse>, tonic::Status>,
    expected: usize,
) {
    let response = response.expect("append accepted").into_inner();
    assert_eq!(response.results.len(), expected);
    assert!(
        response.results.iter().all(|r| !r.duplicate),
        "an event was a duplicate"
    );
}
