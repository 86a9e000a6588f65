//! The applier: reads the cluster's stream in order and applies every message to this node's
//! store, then tells this node's waiting appends what their batch became.
//!
//! One ephemeral pull consumer without acks (the store itself remembers how far it got) starts
//! after the last sequence the store applied. It is checked the way an ordered consumer is (its
//! delivery count must rise by one each time), but with a heartbeat of a second rather than the
//! client library's fifteen: the consumer lives on one NATS server, and when that server dies
//! the applier must notice in seconds, not after half a minute of appends waiting.
//!
//! Messages are queued at the store's writer one by one, in stream order, and up to
//! [`MAX_APPLYING`] of them (and [`MAX_APPLYING_BYTES`]) wait there at once, so consecutive
//! batches share a group commit; their outcomes come back in stream order. If the store fails,
//! or the consumer breaks (NATS gone, a missed heartbeat), the applier lets the writer decide
//! what it already holds and starts over after the last message applied: the writer refuses any
//! message that does not follow the last one applied, so nothing after a failure is applied
//! before it. Waiters survive a restart of the applier: the message is delivered again with its
//! request id, and its outcome reaches them then.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream::Stream as JetStream;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};

use super::batch::{Batch, ORIGIN_HEADER};
use super::waiters::{Outcome, Waiters};
use crate::ops::metrics::cluster::ClusterMetrics;
use crate::shutdown::Shutdown;
use crate::store::{AppendError, AppendReceipt, Store, StreamOrigin};

/// Messages handed to the writer and not yet decided, at most: enough to fill group commits,
/// few enough that a restart re-reads little.
const MAX_APPLYING: usize = 256;
/// Bytes of messages handed to the writer and not yet decided, at most (past one message):
/// with batches of up to 4 MiB, a count alone would let a gigabyte wait.
const MAX_APPLYING_BYTES: usize = 32 * 1024 * 1024;
/// Bytes one pull request asks for at most, which bounds what the client library buffers.
const PULL_BYTES: usize = 16 * 1024 * 1024;
/// Messages one pull request asks for.
const PULL_BATCH: usize = 500;
/// How often NATS says the consumer is alive when it has nothing to deliver; two missed in a
/// row end the consumer's stream, and the applier starts over.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long one pull request waits for messages.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// How long NATS keeps a consumer nobody pulls from.
const CONSUMER_INACTIVE: Duration = Duration::from_secs(30);
/// Pause before starting over after a failure, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the applier shares with the rest of the node.
pub struct Applier {
    /// The node's store.
    pub store: Arc<Store>,
    /// The stream it applies.
    pub stream: JetStream,
    /// This node's waiting appends.
    pub waiters: Waiters,
    /// This node's name, as batches it published carry it.
    pub node: String,
    /// The stream's last sequence as last heard (from a delivered message's pending count).
    pub stream_last: Arc<AtomicU64>,
    /// Where the node reports how far it is.
    pub metrics: ClusterMetrics,
}

type Applying = Pin<Box<dyn Future<Output = Applied> + Send>>;

impl Applier {
    /// Applies the stream until `shutdown`, starting over after every failure; then tells the
    /// appends still waiting that their node is stopping.
    pub async fn run(self, shutdown: Shutdown) {
        self.apply_until(shutdown).await;
        self.waiters.close();
    }

    async fn apply_until(&self, mut shutdown: Shutdown) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started_at = self.store.applied_sequence();
            tokio::select! {
                () = shutdown.triggered() => return,
                failure = self.follow() => {
                    let applied = self.store.applied_sequence();
                    tracing::warn!(
                        error = %failure,
                        applied,
                        "applying the cluster's stream stopped; starting over from what the log holds"
                    );
                    if applied > started_at {
                        backoff = FIRST_BACKOFF;
                    }
                }
            }
            tokio::select! {
                () = shutdown.triggered() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Follows the stream from the message after the last one applied; returns why it stopped.
    async fn follow(&self) -> String {
        let after = self.store.applied_sequence();
        let consumer = match self
            .stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: after + 1,
                },
                ack_policy: AckPolicy::None,
                // Gone by itself once this applier stops asking (a node that died, a restart).
                inactive_threshold: CONSUMER_INACTIVE,
                memory_storage: true,
                num_replicas: 1,
                ..Default::default()
            })
            .await
        {
            Ok(consumer) => consumer,
            Err(error) => return format!("cannot create the stream's consumer: {error}"),
        };
        let messages = consumer
            .stream()
            .max_messages_per_batch(PULL_BATCH)
            .max_bytes_per_batch(PULL_BYTES)
            .heartbeat(HEARTBEAT)
            .expires(PULL_EXPIRES)
            .messages()
            .await;
        let mut messages = match messages {
            Ok(messages) => messages,
            Err(error) => return format!("cannot read the stream: {error}"),
        };
        tracing::info!(from = after + 1, "applying the cluster's stream");
        let mut applying: FuturesOrdered<Applying> = FuturesOrdered::new();
        let mut previous = after;
        let mut delivered = 0;
        let mut applying_bytes = 0_usize;
        let stopped = loop {
            tokio::select! {
                message = messages.next(), if applying.len() < MAX_APPLYING && applying_bytes < MAX_APPLYING_BYTES => {
                    let message = match message {
                        Some(Ok(message)) => message,
                        Some(Err(error)) => break format!("the stream's consumer failed: {error}"),
                        None => break "the stream's consumer ended".to_string(),
                    };
                    let (sequence, pending, published, count) = match message.info() {
                        Ok(info) => (info.stream_sequence, info.pending, info.published, info.consumer_sequence),
                        Err(error) => break format!("a message without stream metadata: {error}"),
                    };
                    if count != delivered + 1 {
                        break format!("the consumer skipped deliveries ({delivered} then {count})");
                    }
                    delivered = count;
                    self.stream_last.fetch_max(sequence + pending, Ordering::Relaxed);
                    let origin = StreamOrigin {
                        sequence,
                        after: previous,
                        published: SystemTime::from(published),
                    };
                    previous = sequence;
                    let queued = self.enqueue(self.request_of(&message), origin, &message.payload).await;
                    let bytes = message.payload.len();
                    applying_bytes += bytes;
                    applying.push_back(Box::pin(queued.map(move |applied| Applied { bytes, ..applied })));
                }
                Some(applied) = applying.next() => {
                    applying_bytes = applying_bytes.saturating_sub(applied.bytes);
                    if let Some(failure) = self.settle(applied) {
                        break failure;
                    }
                }
            }
        };
        // What the writer already has is decided before starting over, so the restart begins
        // exactly after the last message applied.
        while let Some(applied) = applying.next().await {
            self.settle(applied);
        }
        stopped
    }

    /// The request id of a batch this node published, which its waiter is registered under.
    fn request_of(&self, message: &async_nats::jetstream::Message) -> Option<String> {
        let headers = message.headers.as_ref()?;
        let ours = headers.get(ORIGIN_HEADER).map(|v| v.as_str()) == Some(self.node.as_str());
        let id = headers.get(async_nats::header::NATS_MESSAGE_ID)?;
        ours.then(|| id.as_str().to_string())
    }

    /// Tells a decided message's waiter its outcome; returns why the store failed, if it did
    /// (the waiter then keeps waiting: the message comes again after the restart).
    fn settle(&self, applied: Applied) -> Option<String> {
        if let Some(failure) = applied.failure {
            return Some(format!(
                "the store could not apply stream sequence {}: {failure}",
                applied.sequence
            ));
        }
        if let Some(request) = applied.request {
            self.waiters.settle(&request, applied.outcome);
        }
        self.metrics.applied(
            self.store.applied_sequence(),
            self.stream_last.load(Ordering::Relaxed),
        );
        self.metrics.waiting(self.waiters.len());
        None
    }

    /// Hands one message to the store's writer, in stream order (this returns once it is
    /// queued), and returns what resolves once it is decided.
    async fn enqueue(
        &self,
        request: Option<String>,
        origin: StreamOrigin,
        payload: &[u8],
    ) -> Applying {
        let sequence = origin.sequence;
        let decoded = match Batch::decode(payload) {
            None => Err(None),
            Some(batch) => match Store::open_replicated(&batch.records) {
                Ok(entries) => Ok((entries, batch)),
                Err(damage) => Err(Some(damage)),
            },
        };
        match decoded {
            Ok((entries, batch)) => {
                let queued = self
                    .store
                    .enqueue_replicated(entries, batch.records, batch.expected_head, origin)
                    .await;
                Box::pin(async move {
                    let outcome = match queued {
                        Ok(pending) => pending.decided().await,
                        Err(error) => Err(error),
                    };
                    match outcome {
                        Err(AppendError::Store(failure)) => {
                            Applied::failed(request, sequence, AppendError::Store(failure))
                        }
                        outcome => Applied {
                            request,
                            sequence,
                            outcome,
                            failure: None,
                            bytes: 0,
                        },
                    }
                })
            }
            Err(damage) => {
                // Every node reads the same bytes and passes over them alike.
                tracing::error!(
                    sequence,
                    damage = damage.as_ref().map(ToString::to_string),
                    "a stream message that is not a readable batch; passing over it"
                );
                let queued = self.store.enqueue_pass_over(origin).await;
                let store = Arc::clone(&self.store);
                Box::pin(async move {
                    let passed = match queued {
                        Ok(pending) => pending.decided().await.map(drop),
                        Err(error) => Err(error),
                    };
                    let outcome = match (passed, damage) {
                        (Err(failure), _) => return Applied::failed(request, sequence, failure),
                        (Ok(()), Some(damage)) => Err(AppendError::Store(damage)),
                        (Ok(()), None) => Ok(AppendReceipt {
                            entries: Vec::new(),
                            head: store.head(),
                        }),
                    };
                    Applied {
                        request,
                        sequence,
                        outcome,
                        failure: None,
                        bytes: 0,
                    }
                })
            }
        }
    }
}

/// What applying one message came to.
struct Applied {
    /// The request id of a batch this node published.
    request: Option<String>,
    sequence: u64,
    /// What its publisher is told.
    outcome: Outcome,
    /// Set when the store failed: nothing is decided, and the applier starts over.
    failure: Option<String>,
    /// The message's size, counted against [`MAX_APPLYING_BYTES`] until it is decided.
    bytes: usize,
}

impl Applied {
    fn failed(request: Option<String>, sequence: u64, failure: AppendError) -> Applied {
        Applied {
            request,
            sequence,
            failure: Some(failure.to_string()),
            outcome: Err(failure),
            bytes: 0,
        }
    }
}
