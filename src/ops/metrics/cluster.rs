//! A cluster node's series: how far it applied the stream, how far the stream is, whether it is
//! connected to NATS, and how many appends wait for it. All 0 on an embedded node.

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// What the cluster node reports as it applies the stream.
#[derive(Clone, Default)]
pub struct ClusterMetrics {
    applied: Gauge,
    stream_last: Gauge,
    connected: Gauge,
    waiting: Gauge,
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl ClusterMetrics {
    /// Registers the series in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "eventlog_cluster_applied_sequence",
            "Cluster mode: stream sequence of the last message this node applied to its log",
            self.applied.clone(),
        );
        registry.register(
            "eventlog_cluster_stream_last_sequence",
            "Cluster mode: the stream's last sequence as this node last heard; minus the applied sequence, how far the node lags",
            self.stream_last.clone(),
        );
        registry.register(
            "eventlog_cluster_connected",
            "Cluster mode: 1 while the node is connected to NATS, else 0",
            self.connected.clone(),
        );
        registry.register(
            "eventlog_cluster_appends_waiting",
            "Cluster mode: appends on this node published and waiting for the node to apply them",
            self.waiting.clone(),
        );
    }

    /// The node applied up to `applied`; the stream is at least at `stream_last`.
    pub fn applied(&self, applied: u64, stream_last: u64) {
        self.applied.set(gauge(applied));
        self.stream_last.set(gauge(stream_last.max(applied)));
    }

    /// The NATS connection went up or down.
    pub fn connected(&self, connected: bool) {
        self.connected.set(i64::from(connected));
    }

    /// `waiting` appends wait for the node now.
    pub fn waiting(&self, waiting: usize) {
        self.waiting.set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }
}
