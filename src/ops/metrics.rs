//! Prometheus metrics: what the server counts, and the `/metrics` endpoint that shows it.
//!
//! Every name starts with `eventlog_`; label values come only from fixed sets (method names
//! from [`super::methods::METHODS`], gRPC code names, entry kinds), so the number of series
//! is bounded whatever clients send. Figures the store already keeps (head, counts, size) are
//! read when scraped rather than mirrored on every append.

pub mod cluster;
pub mod groups;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tonic::Code;

use super::auth::AccessPolicy;
use super::grpc::code_name;
use crate::store::{LogStats, Store};

type MethodCode = [(&'static str, &'static str); 2];
type Kind = [(&'static str, &'static str); 1];
type Reason = [(&'static str, &'static str); 1];
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets, in seconds: 0.5 ms to ~65 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// The server's metrics. Cheap to clone; every clone updates the same series.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    rpcs: Family<MethodCode, Counter>,
    rpc_seconds: HistogramFamily<MethodCode>,
    entries: Family<Kind, Counter>,
    head: Gauge,
    indexed: Gauge,
    indexed_entries: Family<Kind, Counter>,
    subscribers: Gauge,
    subscriber_lag: Histogram,
    fell_behind: Counter,
    flush_seconds: Histogram,
    store_bytes: Gauge,
    disk_free: Gauge,
    disk_low: Gauge,
    disk_refused: Counter,
    connections: Gauge,
    connections_refused: Family<Reason, Counter>,
    groups: groups::GroupMetrics,
    cluster: cluster::ClusterMetrics,
    /// Serialises scrapes: the entry counters are advanced to the store's totals under it.
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, all at zero.
    pub fn new() -> Metrics {
        let rpcs = Family::<MethodCode, Counter>::default();
        let rpc_seconds = HistogramFamily::<MethodCode>::new_with_constructor(latency_histogram);
        let entries = Family::<Kind, Counter>::default();
        let head = Gauge::default();
        let indexed = Gauge::default();
        let indexed_entries = Family::<Kind, Counter>::default();
        let subscribers = Gauge::default();
        let subscriber_lag = Histogram::new(exponential_buckets(1.0, 4.0, 12));
        let fell_behind = Counter::default();
        let flush_seconds = latency_histogram();
        let store_bytes = Gauge::default();
        let disk_free = Gauge::default();
        let disk_low = Gauge::default();
        let disk_refused = Counter::default();
        let connections = Gauge::default();
        let connections_refused = Family::<Reason, Counter>::default();
        let mut registry = Registry::default();
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "eventlog_rpc_requests",
            "RPCs handled, by method and gRPC status code (streams count when they end)",
            rpcs.clone(),
        );
        registry.register(
            "eventlog_rpc_duration_seconds",
            "Time from request to final status, by method and gRPC status code (for streams, how long they were open)",
            rpc_seconds.clone(),
        );
        registry.register(
            "eventlog_entries_appended",
            "Entries appended to the log, by kind (the log's own counts, so they survive restarts)",
            entries.clone(),
        );
        registry.register(
            "eventlog_log_head_position",
            "Position of the last durable entry",
            head.clone(),
        );
        registry.register(
            "eventlog_subscribers_active",
            "Subscribe streams open now",
            subscribers.clone(),
        );
        registry.register(
            "eventlog_subscriber_lag_entries",
            "Entries between the log head and the last entry delivered, observed at each delivery to a subscriber",
            subscriber_lag.clone(),
        );
        registry.register(
            "eventlog_subscriber_fell_behind",
            "Times a subscriber fell behind the live feed and went back to reading the store",
            fell_behind.clone(),
        );
        registry.register(
            "eventlog_flush_duration_seconds",
            "Time an accepted Append waited for its group commit to be written and flushed to disk",
            flush_seconds.clone(),
        );
        registry.register(
            "eventlog_index_position",
            "Position the derived indexes (queries, the relation graph) cover; queries wait for it to reach the head they arrive at",
            indexed.clone(),
        );
        registry.register(
            "eventlog_indexed_entries",
            "Entries the indexer indexed since the server started, by where it took them from: feed (handed over by the writer after the flush) or log (read back from the log: after a restart, or when the indexer fell behind)",
            indexed_entries.clone(),
        );
        registry.register(
            "eventlog_store_size_bytes",
            "Size of the store on disk",
            store_bytes.clone(),
        );
        registry.register(
            "eventlog_disk_free_bytes",
            "Bytes free on the data directory's filesystem",
            disk_free.clone(),
        );
        registry.register(
            "eventlog_disk_space_low",
            "1 while writes are refused because the data directory's disk is almost full (see --min-free-disk-mb), else 0",
            disk_low.clone(),
        );
        registry.register(
            "eventlog_disk_full_refusals",
            "Writes (appends, checkpoints, index chunks) refused because the data directory's disk is almost full",
            disk_refused.clone(),
        );
        registry.register(
            "eventlog_connections_open",
            "Client connections open now",
            connections.clone(),
        );
        registry.register(
            "eventlog_connections_refused",
            "Connections closed by the server before a request: at the connection limit (limit) or silent past the handshake timeout (handshake_timeout)",
            connections_refused.clone(),
        );
        let groups = groups::GroupMetrics::default();
        groups.register(&mut registry);
        let cluster = cluster::ClusterMetrics::default();
        cluster.register(&mut registry);
        Metrics {
            inner: Arc::new(Inner {
                registry,
                rpcs,
                rpc_seconds,
                entries,
                head,
                indexed,
                indexed_entries,
                subscribers,
                subscriber_lag,
                fell_behind,
                flush_seconds,
                store_bytes,
                disk_free,
                disk_low,
                disk_refused,
                connections,
                connections_refused,
                groups,
                cluster,
                scrape: Mutex::new(()),
            }),
        }
    }

    /// A cluster node's series.
    pub fn cluster(&self) -> &cluster::ClusterMetrics {
        &self.inner.cluster
    }

    /// The consumer groups' series.
    pub fn groups(&self) -> &groups::GroupMetrics {
        &self.inner.groups
    }

    /// An RPC ended with `code` after `elapsed`.
    pub fn rpc_finished(&self, method: &'static str, code: Code, elapsed: Duration) {
        let labels = [("method", method), ("code", code_name(code))];
        self.inner.rpcs.get_or_create(&labels).inc();
        self.inner
            .rpc_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// A subscription stream opened.
    pub fn subscriber_started(&self) {
        self.inner.subscribers.inc();
    }

    /// A subscription stream ended.
    pub fn subscriber_ended(&self) {
        self.inner.subscribers.dec();
    }

    /// A subscriber was sent entries up to `delivered` while the head was at `head`.
    pub fn subscriber_delivered(&self, delivered: u64, head: u64) {
        self.inner
            .subscriber_lag
            .observe(head.saturating_sub(delivered) as f64);
    }

    /// A subscriber fell behind the live feed.
    pub fn subscriber_fell_behind(&self) {
        self.inner.fell_behind.inc();
    }

    /// A client connection was admitted.
    pub fn connection_opened(&self) {
        self.inner.connections.inc();
    }

    /// An admitted connection closed.
    pub fn connection_closed(&self) {
        self.inner.connections.dec();
    }

    /// A connection was closed before any request, for `reason` (a fixed label).
    pub fn connection_refused(&self, reason: &'static str) {
        self.inner
            .connections_refused
            .get_or_create(&[("reason", reason)])
            .inc();
    }

    /// An append's group commit took `elapsed`, flush included.
    pub fn flushed(&self, elapsed: Duration) {
        self.inner.flush_seconds.observe(elapsed.as_secs_f64());
    }

    /// The exposition text (OpenMetrics), with the store's figures as of now.
    pub fn render(&self, stats: Option<LogStats>) -> String {
        let _scrape = self
            .inner
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(stats) = stats {
            let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            self.inner.head.set(gauge(stats.head.0));
            self.inner.indexed.set(gauge(stats.indexed.0));
            for (source, total) in [
                ("feed", stats.indexed_from.feed),
                ("log", stats.indexed_from.log),
            ] {
                let counter = self
                    .inner
                    .indexed_entries
                    .get_or_create(&[("source", source)]);
                counter.inc_by(total.saturating_sub(counter.get()));
            }
            self.inner.store_bytes.set(gauge(stats.size_on_disk));
            if let Some(free) = stats.disk.free {
                self.inner.disk_free.set(gauge(free));
            }
            self.inner.disk_low.set(i64::from(stats.disk.low));
            let refused = &self.inner.disk_refused;
            refused.inc_by(stats.disk.refused.saturating_sub(refused.get()));
            for (kind, total) in [
                ("actor", stats.counts.actor_entries),
                ("event", stats.counts.event_entries),
                ("claim", stats.counts.claim_entries),
            ] {
                let counter = self.inner.entries.get_or_create(&[("kind", kind)]);
                counter.inc_by(total.saturating_sub(counter.get()));
            }
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.inner.registry);
        text
    }
}

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `GET /metrics` on `listener` until `shutdown` resolves. Holds the store weakly, so
/// the endpoint never keeps a stopping server's store open. With tokens configured, a scrape
/// must present one (`Authorization: Bearer <token>`, any role), as gRPC calls do.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    store: Weak<Store>,
    access: AccessPolicy,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;

    let app = axum::Router::new().route(
        "/metrics",
        get(move |headers: axum::http::HeaderMap| {
            let metrics = metrics.clone();
            let store = store.clone();
            let access = access.clone();
            async move {
                let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
                if let Err(status) = access.check_any_token(authorization) {
                    return (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, "Bearer")],
                        format!("{}\n", status.message()),
                    )
                        .into_response();
                }
                let stats = tokio::task::spawn_blocking(move || {
                    store.upgrade().and_then(|store| match store.stats() {
                        Ok(stats) => Some(stats),
                        Err(error) => {
                            tracing::warn!(%error, "metrics: cannot read the store's figures");
                            None
                        }
                    })
                })
                .await
                .ok()
                .flatten();
                (
                    [(header::CONTENT_TYPE, CONTENT_TYPE)],
                    metrics.render(stats),
                )
                    .into_response()
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let metrics = Metrics::new();
        metrics.rpc_finished("Append", Code::Ok, Duration::from_millis(3));
        let text = metrics.render(None);
        assert!(text.contains("eventlog_rpc_requests_total{method=\"Append\",code=\"OK\"} 1"));
        assert!(text.contains("# TYPE eventlog_rpc_duration_seconds histogram"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("eventlog_"), "{line}");
        }
    }

    #[test]
    fn a_groups_series_come_and_go_with_it() {
        let metrics = Metrics::new();
        let gauges = groups::GroupGauges {
            lag: 7,
            in_flight: 3,
            waiting: 2,
            members: 2,
        };
        metrics.groups().observed("enrich", gauges);
        metrics.groups().counted("enrich", 5, 1, 1);
        let text = metrics.render(None);
        assert!(
            text.contains("eventlog_group_lag_entries{group=\"enrich\"} 7"),
            "{text}"
        );
        assert!(text.contains("eventlog_group_in_flight{group=\"enrich\"} 3"));
        assert!(text.contains("eventlog_group_acked_total{group=\"enrich\"} 5"));
        assert!(text.contains("eventlog_group_parked_total{group=\"enrich\"} 1"));
        metrics.groups().removed("enrich");
        assert!(!metrics.render(None).contains("group=\"enrich\""));
    }
}
