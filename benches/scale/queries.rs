//! Query latency: every query's first page, and `ListRelations` of the busiest actor, timed
//! through gRPC on the large log and on a 10k-entry log in the same run.
//!
//! The logs are asked in turn, call by call, so whatever else the machine does at a moment
//! weighs on both sizes alike and the ratio p50(N) / p50(10k) is about the store, not the noise.

use std::time::{Duration, Instant};

use eventlog::proto;

use crate::load::ACTORS;
use crate::workload::Client;

/// One kind of call.
#[derive(Clone)]
pub enum Query {
    /// `QueryEvents`, first page.
    Events(proto::QueryEventsRequest),
    /// `QueryClaims`, first page.
    Claims(proto::QueryClaimsRequest),
    /// `ResolveActor`.
    Resolve(proto::ResolveActorRequest),
    /// `ListRelations`.
    Relations(proto::ListRelationsRequest),
}

/// What one call returned: how many results, how many bytes the answer took on the wire,
/// and whether it said it was incomplete.
struct Answer {
    results: usize,
    bytes: usize,
    truncated: bool,
}

impl Answer {
    fn of<M: prost::Message>(message: &M, results: usize, truncated: bool) -> Answer {
        Answer {
            results,
            bytes: message.encoded_len(),
            truncated,
        }
    }
}

/// A failed query ends the run: a latency of an error would be meaningless.
fn failed<T>(status: tonic::Status) -> T {
    panic!("query failed: {status}")
}

impl Query {
    async fn call(&self, client: &mut Client) -> Answer {
        match self.clone() {
            Query::Events(request) => {
                let page = client.query_events(request).await;
                let page = page.unwrap_or_else(failed).into_inner();
                Answer::of(&page, page.entries.len(), false)
            }
            Query::Claims(request) => {
                let page = client.query_claims(request).await;
                let page = page.unwrap_or_else(failed).into_inner();
                Answer::of(&page, page.entries.len(), false)
            }
            Query::Resolve(request) => {
                let found = client.resolve_actor(request).await;
                let found = found.unwrap_or_else(failed).into_inner();
                Answer::of(&found, found.matches.len(), false)
            }
            Query::Relations(request) => {
                let graph = client.list_relations(request).await;
                let graph = graph.unwrap_or_else(failed).into_inner();
                Answer::of(&graph, graph.edges.len(), graph.truncated)
            }
        }
    }
}

/// The calls timed on the synthetic load. The busiest actor: every actor of the load is in the
/// same number of events, so the first is as busy as any.
pub fn synthetic() -> Vec<(&'static str, Query)> {
    let actor = ACTORS[0].0;
    let counterpart = ACTORS[3].0;
    vec![
        (
            "ListRelations, busiest actor",
            Query::Relations(proto::ListRelationsRequest {
                actor: actor.into(),
                ..Default::default()
            }),
        ),
        (
            "QueryEvents by actor",
            Query::Events(proto::QueryEventsRequest {
                actor: actor.into(),
                ..Default::default()
            }),
        ),
        (
            "QueryEvents by relation",
            Query::Events(proto::QueryEventsRequest {
                relations: vec!["clashes_with".into()],
                ..Default::default()
            }),
        ),
        (
            "QueryEvents by actor + relation",
            Query::Events(proto::QueryEventsRequest {
                actor: actor.into(),
                relations: vec!["attacks".into()],
                ..Default::default()
            }),
        ),
        (
            "QueryEvents by pair",
            Query::Events(proto::QueryEventsRequest {
                actor: actor.into(),
                counterpart: counterpart.into(),
                ..Default::default()
            }),
        ),
        (
            "QueryEvents by date range",
            Query::Events(proto::QueryEventsRequest {
                date_from: "2022-09-10".into(),
                date_to: "2022-09-12".into(),
                ..Default::default()
            }),
        ),
        (
            "QueryClaims by subject",
            Query::Claims(proto::QueryClaimsRequest {
                subject: actor.into(),
                ..Default::default()
            }),
        ),
        (
            "QueryClaims unconfirmed",
            Query::Claims(proto::QueryClaimsRequest {
                max_certainty: proto::Certainty::Reported as i32,
                ..Default::default()
            }),
        ),
        (
            "ResolveActor",
            Query::Resolve(proto::ResolveActorRequest {
                name: "syrian".into(),
                limit: 10,
                min_position: 0,
            }),
        ),
    ]
}

/// Latency of one query on one log.
#[derive(Clone, Copy, Default)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Results of the last call (so a query that finds nothing is visible in the table).
    pub results: usize,
    /// Encoded bytes of the last answer (answers of one query can differ in size between logs:
    /// an edge lists up to 20 evidence ids, fewer on a small log).
    pub bytes: usize,
    /// Whether any call said its answer was incomplete.
    pub truncated: bool,
}

/// The value at quantile `p` of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// Times every query `rounds` times on every log (after a tenth as many untimed warm-up
/// rounds); `result[q][log]`.
pub async fn measure(
    clients: &mut [Client],
    queries: &[(&'static str, Query)],
    rounds: usize,
) -> Vec<Vec<Latency>> {
    let mut all = Vec::new();
    for (_, query) in queries {
        let mut latencies = vec![Vec::with_capacity(rounds); clients.len()];
        let mut summary = vec![Latency::default(); clients.len()];
        let warm_up = rounds / 10;
        for round in 0..warm_up + rounds {
            for (i, client) in clients.iter_mut().enumerate() {
                let started = Instant::now();
                let answer = query.call(client).await;
                let elapsed = started.elapsed();
                if round >= warm_up {
                    latencies[i].push(elapsed);
                }
                summary[i].results = answer.results;
                summary[i].bytes = answer.bytes;
                summary[i].truncated |= answer.truncated;
            }
        }
        for (i, mut times) in latencies.into_iter().enumerate() {
            times.sort();
            summary[i].p50 = percentile(&times, 0.50);
            summary[i].p99 = percentile(&times, 0.99);
        }
        all.push(summary);
    }
    all
}
