//! Cluster mode: several eventlog nodes over one NATS JetStream stream, with no consensus of
//! their own.
//!
//! The stream is the log of record. An `Append` on any node is published to it as one message
//! (so a batch is atomic), and every node's applier (`applier`) reads the stream in order and
//! applies each message to its own store. Applying is deterministic (positions, duplicates,
//! `expected_head`, refusals and recording times are functions of the log and the message),
//! so every node holds the same log. The node that took the append waits until it has applied
//! the batch itself (`waiters`), then answers what applying decided: the same answer an
//! embedded server gives.
//!
//! Replication, leader election and the quorum are JetStream's (R3 by default). Reads, queries
//! and subscriptions are served by each node from its own store, which says how far it has
//! applied the stream. Nothing here knows gRPC: the service calls [`ClusterNode::append`], and
//! the errors (`error`) are mapped to statuses with the others.

mod applier;
mod batch;
mod error;
mod subscriptions;
mod waiters;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{ConnectOptions, ServerAddr};
use tokio::task::JoinHandle;

use crate::domain::{EntryBody, Position};
use crate::ops::metrics::cluster::ClusterMetrics;
use crate::shutdown::Shutdown;
use crate::store::{AppendReceipt, Store};

pub use error::ClusterError;
pub use subscriptions::ReplicatedSubscriptions;

use applier::Applier;
use batch::{Batch, ORIGIN_HEADER};
use waiters::Waiters;

/// Appends that may wait for the stream on one node at once; past that, RESOURCE_EXHAUSTED.
const MAX_WAITING_APPENDS: usize = 4_096;
/// How long a publish may wait for JetStream's acknowledgement (stored on a quorum).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between tries of a publish that found no stream.
const PUBLISH_RETRY: Duration = Duration::from_millis(100);
/// How long an append waits for this node to apply its batch once the stream has it. With
/// [`PUBLISH_TIMEOUT`], under the default `--request-timeout` (30 s), so that a slow apply is
/// answered `NOT_YET_APPLIED` with its stream sequence rather than a bare timeout.
const APPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a node waits for NATS at start before saying it cannot reach it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The stream's metadata key holding the vocabulary's fingerprint.
const VOCABULARY_METADATA: &str = "eventlog-vocabulary";
/// How long a node waits at start for JetStream to answer and the stream to have a leader.
const STREAM_LEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// JetStream's window for dropping a message published twice with one id: a publish retried
/// by the client library after a lost acknowledgement. Idempotency itself does not depend on
/// it: the log finds repeated entry ids forever.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// How a node joins its cluster (`eventlog serve --nats-url ...`).
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// NATS servers, comma-separated `nats://host:port` (or `tls://`).
    pub urls: String,
    /// This node's name: unique in the cluster, stable across restarts.
    pub node_name: String,
    /// The JetStream stream that is the log of record.
    pub stream: String,
    /// Its replicas (created with this many; an existing stream keeps its own).
    pub replicas: usize,
    /// A NATS credentials file (`.creds`: a user JWT and its nkey seed).
    pub creds: Option<PathBuf>,
    /// CA certificates to trust for the NATS servers' TLS (PEM).
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and key for NATS servers that ask for one (PEM).
    pub tls_client: Option<(PathBuf, PathBuf)>,
}

impl ClusterSettings {
    /// The subject batches are published on: the stream's only subject.
    fn subject(&self) -> String {
        format!("{}.batches", self.stream)
    }
}

/// A node's view of the cluster, for `GetLogInfo` and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStatus {
    /// This node.
    pub node_name: String,
    /// The stream.
    pub stream: String,
    /// The last sequence applied to this node's log.
    pub applied_sequence: u64,
    /// The stream's last sequence as last heard.
    pub stream_last_sequence: u64,
    /// Connected to NATS now.
    pub connected: bool,
}

/// This node's membership of the cluster: it publishes appends and applies the stream.
pub struct ClusterNode {
    settings: ClusterSettings,
    client: async_nats::Client,
    jetstream: jetstream::Context,
    store: Arc<Store>,
    waiters: Waiters,
    stream_last: Arc<AtomicU64>,
    /// Named subscriptions, shared by every node.
    subscriptions: ReplicatedSubscriptions,
    /// The applier's task, aborted when the node goes.
    applier: JoinHandle<()>,
}

impl ClusterNode {
    /// Connects to NATS, creates the stream if it does not exist, and starts applying it to
    /// `store` (whose log must be this stream's: see `StoreConfig::cluster_stream`). Fails,
    /// saying why, when NATS cannot be reached, or when the stream was created by nodes whose
    /// vocabulary's fingerprint (`Vocabulary::fingerprint`) is not `vocabulary`.
    pub async fn start(
        settings: ClusterSettings,
        vocabulary: &str,
        store: Arc<Store>,
        shutdown: Shutdown,
        metrics: ClusterMetrics,
    ) -> Result<ClusterNode, ClusterError> {
        let client = connect(&settings, &metrics).await?;
        metrics.connected(true);
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(PUBLISH_TIMEOUT)
            .build(client.clone());
        let stream = ensure_stream(&jetstream, &settings, vocabulary).await?;
        let subscriptions =
            ReplicatedSubscriptions::open(&jetstream, &settings.stream, settings.replicas).await?;
        let waiters = Waiters::new(MAX_WAITING_APPENDS);
        let stream_last = Arc::new(AtomicU64::new(0));
        let applier = Applier {
            store: Arc::clone(&store),
            stream,
            waiters: waiters.clone(),
            node: settings.node_name.clone(),
            stream_last: Arc::clone(&stream_last),
            metrics,
        };
        let applier = tokio::spawn(applier.run(shutdown));
        tracing::info!(
            node = %settings.node_name,
            stream = %settings.stream,
            nats = %settings.urls,
            max_payload = client.server_info().max_payload,
            applied = store.applied_sequence(),
            "joined the cluster"
        );
        Ok(ClusterNode {
            settings,
            client,
            jetstream,
            store,
            waiters,
            stream_last,
            subscriptions,
            applier,
        })
    }

    /// Appends a batch through the stream: publishes it, waits until this node has applied it,
    /// and answers what applying decided (positions, duplicates, or a rule's refusal).
    pub async fn append(
        &self,
        entries: Vec<EntryBody>,
        expected_head: Option<Position>,
    ) -> Result<AppendReceipt, ClusterError> {
        let records = Store::seal_for_replication(&entries)?;
        let payload = Batch {
            records,
            expected_head,
        }
        .encode();
        let max = self.client.server_info().max_payload;
        if payload.len() > max {
            return Err(ClusterError::TooLarge {
                size: payload.len(),
                max,
            });
        }
        if self.client.connection_state() != async_nats::connection::State::Connected {
            // Answer at once rather than after the publish timeout: nothing was sent.
            return Err(ClusterError::Unavailable(format!(
                "this node is not connected to NATS ({}); it reconnects by itself",
                self.settings.urls
            )));
        }
        let request = format!(
            "{}-{}",
            self.settings.node_name,
            uuid::Uuid::new_v4().simple()
        );
        let Some(mut waiting) = self.waiters.register(request.clone()) else {
            return Err(if self.waiters.is_closed() {
                ClusterError::Stopping
            } else {
                ClusterError::Overloaded(MAX_WAITING_APPENDS)
            });
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, request.as_str());
        headers.insert(ORIGIN_HEADER, self.settings.node_name.as_str());
        let ack = self.publish(headers, payload.into()).await?;
        match tokio::time::timeout(APPLY_TIMEOUT, waiting.outcome()).await {
            Ok(Some(outcome)) => Ok(outcome?),
            Ok(None) => Err(ClusterError::Stopping),
            Err(_) => Err(ClusterError::NotYetApplied {
                sequence: ack.sequence,
                applied: self.store.applied_sequence(),
            }),
        }
    }

    /// Publishes one batch and waits for JetStream's acknowledgement, within
    /// [`PUBLISH_TIMEOUT`]. "No stream" is retried: the stream's leader may be moving (a NATS
    /// server died) or its subject not yet known to the server this node talks to (a stream
    /// just created). Retrying is safe: the message id makes JetStream store it once.
    async fn publish(
        &self,
        headers: async_nats::HeaderMap,
        payload: bytes::Bytes,
    ) -> Result<async_nats::jetstream::publish::PublishAck, ClusterError> {
        use async_nats::jetstream::context::PublishErrorKind;
        let deadline = tokio::time::Instant::now() + PUBLISH_TIMEOUT;
        loop {
            let attempt = async {
                self.jetstream
                    .publish_with_headers(self.settings.subject(), headers.clone(), payload.clone())
                    .await?
                    .await
            };
            let error = match tokio::time::timeout_at(deadline, attempt).await {
                Ok(Ok(ack)) => return Ok(ack),
                Ok(Err(error)) => error,
                Err(_) => {
                    return Err(ClusterError::Unavailable(format!(
                        "no acknowledgement within {} s",
                        PUBLISH_TIMEOUT.as_secs()
                    )))
                }
            };
            let retry = error.kind() == PublishErrorKind::StreamNotFound
                && tokio::time::Instant::now() + PUBLISH_RETRY < deadline;
            if !retry {
                return Err(ClusterError::Unavailable(error.to_string()));
            }
            tokio::time::sleep(PUBLISH_RETRY).await;
        }
    }

    /// Where this node stands.
    pub fn status(&self) -> ClusterStatus {
        let applied = self.store.applied_sequence();
        ClusterStatus {
            node_name: self.settings.node_name.clone(),
            stream: self.settings.stream.clone(),
            applied_sequence: applied,
            stream_last_sequence: self.stream_last.load(Ordering::Relaxed).max(applied),
            connected: self.client.connection_state() == async_nats::connection::State::Connected,
        }
    }

    /// The cluster's named subscriptions.
    pub fn subscriptions(&self) -> &ReplicatedSubscriptions {
        &self.subscriptions
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        self.applier.abort();
    }
}

/// Connects to the first NATS server that answers, within [`CONNECT_TIMEOUT`].
async fn connect(
    settings: &ClusterSettings,
    metrics: &ClusterMetrics,
) -> Result<async_nats::Client, ClusterError> {
    let addrs = settings
        .urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            url.parse::<ServerAddr>()
                .map_err(|e| ClusterError::Settings(format!("--nats-url {url:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.is_empty() {
        return Err(ClusterError::Settings(
            "--nats-url names no server; give nats://host:port[,nats://host:port...]".into(),
        ));
    }
    let mut options = ConnectOptions::new()
        .name(format!("eventlog {}", settings.node_name))
        .connection_timeout(CONNECT_TIMEOUT)
        // After the first connection, reconnect forever: a node without NATS keeps serving
        // reads and comes back by itself.
        .max_reconnects(None)
        .event_callback({
            let metrics = metrics.clone();
            move |event| {
                let metrics = metrics.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => metrics.connected(true),
                        async_nats::Event::Disconnected => {
                            tracing::warn!("lost the connection to NATS; reconnecting");
                            metrics.connected(false);
                        }
                        _ => {}
                    }
                }
            }
        });
    if let Some(creds) = &settings.creds {
        options = options.credentials_file(creds).await.map_err(|e| {
            ClusterError::Settings(format!("--nats-creds {}: {e}", creds.display()))
        })?;
    }
    if let Some(ca) = &settings.tls_ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &settings.tls_client {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    let connecting = options.connect(addrs);
    match tokio::time::timeout(CONNECT_TIMEOUT * 2, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error)) => Err(ClusterError::Connect {
            urls: settings.urls.clone(),
            reason: error.to_string(),
        }),
        Err(_) => Err(ClusterError::Connect {
            urls: settings.urls.clone(),
            reason: format!("no answer within {} s", (CONNECT_TIMEOUT * 2).as_secs()),
        }),
    }
}

/// The stream, created if missing: file storage, the configured replicas, nothing ever
/// deleted or purged (it is the log of record), a duplicate window for retried publishes, and
/// the vocabulary's fingerprint in its metadata.
async fn ensure_stream(
    jetstream: &jetstream::Context,
    settings: &ClusterSettings,
    vocabulary: &str,
) -> Result<stream::Stream, ClusterError> {
    let config = stream::Config {
        name: settings.stream.clone(),
        metadata: [(VOCABULARY_METADATA.to_string(), vocabulary.to_string())].into(),
        subjects: vec![settings.subject()],
        num_replicas: settings.replicas,
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: DUPLICATE_WINDOW,
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    };
    let failed = |error: &dyn std::fmt::Display| ClusterError::Stream {
        stream: settings.stream.clone(),
        reason: error.to_string(),
    };
    // A JetStream cluster that has just started has no meta leader for a few seconds and
    // answers nothing: keep asking until the deadline.
    let deadline = tokio::time::Instant::now() + STREAM_LEADER_TIMEOUT;
    let mut stream = loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(2),
            jetstream.get_or_create_stream(config.clone()),
        )
        .await;
        match attempt {
            Ok(Ok(stream)) => break stream,
            Ok(Err(error)) if tokio::time::Instant::now() >= deadline => {
                return Err(failed(&error))
            }
            Err(_) if tokio::time::Instant::now() >= deadline => {
                return Err(failed(&format!(
                    "no answer from JetStream within {} s: is JetStream enabled (-js), and do \
                     enough of the cluster's servers run to elect a leader?",
                    STREAM_LEADER_TIMEOUT.as_secs()
                )))
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    // A stream just created has no leader for a moment, and publishes then find no stream:
    // wait for one, so the first append after start is taken.
    let info = loop {
        let info = stream.info().await.map_err(|e| failed(&e))?;
        let led = info.cluster.as_ref().is_none_or(|c| c.leader.is_some());
        if led {
            break info.clone();
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(failed(&format!(
                "no leader after {} s: are enough JetStream servers up for {} replicas?",
                STREAM_LEADER_TIMEOUT.as_secs(),
                info.config.num_replicas
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Nodes with different vocabularies would validate and relate entries differently.
    match info.config.metadata.get(VOCABULARY_METADATA) {
        Some(theirs) if theirs != vocabulary => {
            return Err(failed(&format!(
                "it was created by a node whose vocabulary has fingerprint {theirs}, and this \
                 node's has {vocabulary}: give every node of the cluster the same --vocabulary"
            )))
        }
        Some(_) => {}
        None => tracing::warn!(
            stream = %settings.stream,
            "the stream records no vocabulary; make sure every node runs with the same --vocabulary"
        ),
    }
    if info.config.num_replicas != settings.replicas {
        tracing::warn!(
            stream = %settings.stream,
            replicas = info.config.num_replicas,
            asked = settings.replicas,
            "the stream exists with another number of replicas; keeping its own"
        );
    }
    Ok(stream)
}
