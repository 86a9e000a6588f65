//! What the run asks of the server, through its public gRPC interface only: batched and single
//! appends of the shared load (`benches/support/load.rs`), the wait until an append is fully
//! indexed, a catch-up subscription, and timed queries.
//!
//! Nothing here knows how the store keeps its data, so the same code measures today's store and
//! the next one.

use std::time::{Duration, Instant};

use eventlog::proto::event_log_client::EventLogClient;
use eventlog::proto::{self, entry::Body, subscribe_request::Start, subscribe_response::Message};
use tonic::transport::Channel;

use crate::load::{actor_entries, claim_at, edge_of, event_at};

/// Client of the server under test.
pub type Client = EventLogClient<Channel>;

/// The date no generated event has: the last event of the main load carries it, so one query
/// finds exactly that event and nothing else.
pub const SENTINEL_DATE: &str = "2023-01-01";

/// Appends `entries`, checking that every one is new (a benchmark must never measure
/// rejections or duplicates).
pub async fn append(client: &mut Client, entries: Vec<proto::Entry>) {
    let expected = entries.len();
    let response = client
        .append(proto::AppendRequest {
            entries,
            expected_head: None,
            validate_only: false,
        })
        .await
        .unwrap_or_else(|status| panic!("append refused: {status}"))
        .into_inner();
    assert_eq!(response.results.len(), expected, "append answered short");
    assert!(
        response.results.iter().all(|r| !r.duplicate),
        "an appended entry was a duplicate: ids are not fresh"
    );
}

fn entry(body: Body) -> proto::Entry {
    proto::Entry {
        position: 0,
        recorded_at: None,
        body: Some(body),
    }
}

/// Events `from..to` as entries.
pub fn events(from: u64, to: u64) -> Vec<proto::Entry> {
    (from..to)
        .map(|n| entry(Body::Event(event_at(n))))
        .collect()
}

/// Appends the actors the load refers to.
pub async fn seed_actors(client: &mut Client) {
    append(client, actor_entries()).await;
}

/// Appends events `first..first + count` in batches of `batch`, one request at a time, with
/// `sentinel` the last one dated `SENTINEL_DATE`. Returns the time spent in the calls (building the
/// events excluded).
pub async fn append_events(
    client: &mut Client,
    first: u64,
    count: u64,
    batch: u64,
    sentinel: bool,
) -> Duration {
    let end = first + count;
    let mut n = first;
    let mut elapsed = Duration::ZERO;
    while n < end {
        let to = (n + batch).min(end);
        // Building the events is the generator's work, not a client's: kept out of the time,
        // as the raw sled reference keeps its encoding out. The call (encoding included) is in.
        let mut entries = events(n, to);
        if sentinel && to == end {
            if let Some(Body::Event(last)) = entries.last_mut().and_then(|e| e.body.as_mut()) {
                last.date = SENTINEL_DATE.into();
            }
        }
        let started = Instant::now();
        append(client, entries).await;
        elapsed += started.elapsed();
        n = to;
    }
    elapsed
}

/// Appends claims `first..first + count` in batches of 500 (untimed: they exist so that the
/// claim queries have something to find).
pub async fn append_claims(client: &mut Client, first: u64, count: u64) {
    let mut n = first;
    while n < first + count {
        let to = (n + 500).min(first + count);
        append(
            client,
            (n..to).map(|n| entry(Body::Claim(claim_at(n)))).collect(),
        )
        .await;
        n = to;
    }
}

/// How the wait for full indexing ended.
pub enum Indexed {
    /// Both the event query and the relation graph saw the last event, this long after the
    /// first append.
    After(Duration),
    /// The relation graph said it was truncated while the event was already found: it would
    /// never count the edge in full.
    Truncated,
    /// The deadline passed.
    TimedOut,
}

/// Polls until `QueryEvents` finds the last event of the main load (`last`, dated
/// `SENTINEL_DATE`) and `ListRelations` counts its edge in full: every event `first..=last`
/// with the same initiator, relation and target.
pub async fn wait_indexed(
    client: &mut Client,
    first: u64,
    last: u64,
    started: Instant,
    deadline: Duration,
) -> Indexed {
    let (initiator, relation, target) = edge_of(last);
    let expected = (first..=last)
        .filter(|n| edge_of(*n) == edge_of(last))
        .count() as u64;
    let id = event_at(last).id;
    let mut found = false;
    loop {
        if !found {
            let page = client
                .query_events(proto::QueryEventsRequest {
                    actor: initiator.into(),
                    date_from: SENTINEL_DATE.into(),
                    date_to: SENTINEL_DATE.into(),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|status| panic!("QueryEvents failed: {status}"))
                .into_inner();
            found = page
                .entries
                .iter()
                .any(|e| matches!(&e.body, Some(Body::Event(ev)) if ev.id == id));
        }
        if found {
            let graph = client
                .list_relations(proto::ListRelationsRequest {
                    actor: initiator.into(),
                    counterpart: target.into(),
                    relations: vec![relation.into()],
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|status| panic!("ListRelations failed: {status}"))
                .into_inner();
            let counted = graph
                .edges
                .iter()
                .filter(|e| e.relation == relation)
                .map(|e| e.event_count)
                .max()
                .unwrap_or(0);
            if counted == expected {
                return Indexed::After(started.elapsed());
            }
            if graph.truncated {
                return Indexed::Truncated;
            }
        }
        if started.elapsed() > deadline {
            return Indexed::TimedOut;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Events per second of `clients` concurrent clients appending one event per call, `per_client`
/// calls each, events numbered from `first`.
pub async fn single_clients(url: &str, clients: u64, per_client: u64, first: u64) -> f64 {
    let elapsed = on_connections(url, clients, |i, mut client| {
        let mine = first + i as u64 * per_client;
        async move {
            for n in mine..mine + per_client {
                append(&mut client, events(n, n + 1)).await;
            }
        }
    })
    .await;
    (clients * per_client) as f64 / elapsed.as_secs_f64()
}

/// Runs `work` once per connection, on `clients` connections of their own at once: how long
/// they took together (connecting left out). A panic in one fails the run.
async fn on_connections<F, Work>(url: &str, clients: u64, work: F) -> Duration
where
    F: Fn(usize, Client) -> Work,
    Work: std::future::Future<Output = ()> + Send + 'static,
{
    let mut connections = Vec::new();
    for _ in 0..clients {
        connections.push(crate::process::connect(url).await);
    }
    let started = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, client)| tokio::spawn(work(i, client)))
        .collect();
    for task in tasks {
        task.await.expect("a client panicked");
    }
    started.elapsed()
}

/// One subscription from position 1 until it is caught up: entries received and the time taken.
pub async fn catch_up(client: &mut Client) -> (u64, Duration) {
    let started = Instant::now();
    let mut stream = client
        .subscribe(proto::SubscribeRequest {
            start: Some(Start::FromPosition(1)),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("Subscribe refused: {status}"))
        .into_inner();
    let mut received = 0;
    while let Some(message) = stream
        .message()
        .await
        .unwrap_or_else(|status| panic!("catch-up stream failed: {status}"))
    {
        match message.message {
            Some(Message::Entry(_)) => received += 1,
            Some(Message::Entries(e)) => received += e.entries.len() as u64,
            Some(Message::CaughtUp(_)) => break,
            _ => {}
        }
    }
    (received, started.elapsed())
}

/// The head of the log.
pub async fn head(client: &mut Client) -> u64 {
    client
        .get_log_info(proto::GetLogInfoRequest {})
        .await
        .unwrap_or_else(|status| panic!("GetLogInfo failed: {status}"))
        .into_inner()
        .head
}

/// `reads` `GetEntry` calls by position, spread over positions 1 to `head` by a fixed
/// pseudo-random sequence, from `clients` concurrent connections: reads per second.
///
/// Reads all over a log larger than the cache are what makes sled page in leaves faster than
/// its cache learns of them, so this phase's peak RSS is the worst case of the point reads.
pub async fn random_reads(url: &str, clients: u64, reads: u64, head: u64) -> f64 {
    let elapsed = on_connections(url, clients, |i, mut client| {
        // xorshift64, one sequence per client (never seeded with 0).
        let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ (i as u64 + 1);
        async move {
            for _ in 0..reads / clients {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let position = 1 + state % head;
                let entry = client
                    .get_entry(proto::GetEntryRequest {
                        selector: Some(proto::get_entry_request::Selector::Position(position)),
                    })
                    .await
                    .unwrap_or_else(|status| panic!("GetEntry {position} failed: {status}"))
                    .into_inner()
                    .entry
                    .unwrap_or_else(|| panic!("GetEntry {position}: no entry"));
                assert_eq!(entry.position, position);
            }
        }
    })
    .await;
    (reads - reads % clients) as f64 / elapsed.as_secs_f64()
}
