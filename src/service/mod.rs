//! The gRPC layer: thin handlers over the store and the domain.
//!
//! Each handler unpacks its request, converts and validates it (`to_domain`), calls the store,
//! maps errors (`status`) and builds the response (`to_proto`). It holds no state of its own
//! and makes no decision that a second transport would have to repeat.

mod backup;
mod consistency;
mod group_wire;
mod groups;
mod hex;
#[cfg(test)]
mod mapping_tests;
pub(crate) mod page_token;
mod queries;
pub(crate) mod query_token;
mod status;
mod subscriptions;
pub(crate) mod to_domain;
mod to_proto;
pub mod wire;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};

use crate::cluster::ClusterNode;
use crate::domain::limits::{
    MAX_BATCH_BYTES, MAX_ENTRIES_PER_BATCH, MAX_PAGE_SIZE, MAX_RESOLVE_MATCHES, MAX_SHORT_TEXT,
};
use crate::domain::quote::quoted;
use crate::domain::{FieldProblem, InvalidField, Position, SymmetricRelations, Vocabulary};
use crate::ops::auth::Caller;
use crate::ops::grpc::refusal;
use crate::ops::metrics::Metrics;
use crate::ops::reason::Reason;
use crate::proto;
use crate::proto::event_log_server::EventLog;
use crate::shutdown::Shutdown;
use crate::store::{ActorFilter, Store};
pub use groups::GroupsService;
pub use subscriptions::SubscriberLimits;

/// Entries per `ReadLog` message: large enough to amortise framing, small enough that a message
/// stays well under the gRPC size limit.
const READ_CHUNK: usize = 256;
/// Stored bytes per `ReadLog` message at most (past one entry): with `READ_BUFFER`, what a
/// stream holds whatever the size of its entries.
const READ_CHUNK_BYTES: usize = 256 * 1024;
/// Messages buffered per `ReadLog` stream; the stream waits for the client beyond that.
const READ_BUFFER: usize = 4;
const DEFAULT_PAGE_SIZE: usize = 50;
const DEFAULT_RESOLVE_MATCHES: usize = 10;

/// The `eventlog.v1.EventLog` service.
#[derive(Clone)]
pub struct EventLogService {
    store: Arc<Store>,
    vocabulary: Arc<Vocabulary>,
    /// The vocabulary's symmetric relations, which every query needs.
    symmetric: SymmetricRelations,
    /// Ends subscription streams with UNAVAILABLE when the server stops.
    shutdown: Shutdown,
    /// Flush latency and subscriber lag, which only the handlers can see.
    metrics: Metrics,
    /// What a subscriber may have outstanding, how long it may stall, and how many named
    /// subscriptions a caller may own.
    subscribers: SubscriberLimits,
    /// On a cluster node: appends go through the cluster's stream.
    cluster: Option<Arc<ClusterNode>>,
}

impl EventLogService {
    /// A service over `store` accepting the relations of `vocabulary`; its streams end when
    /// `shutdown` is triggered.
    pub fn new(
        store: Arc<Store>,
        vocabulary: Arc<Vocabulary>,
        shutdown: Shutdown,
    ) -> EventLogService {
        EventLogService {
            store,
            symmetric: Arc::new(vocabulary.symmetric_keys()),
            vocabulary,
            shutdown,
            metrics: Metrics::default(),
            subscribers: SubscriberLimits::default(),
            cluster: None,
        }
    }

    /// The same service on a cluster node (`Some`), whose appends go through the stream.
    pub fn with_cluster(self, cluster: Option<Arc<ClusterNode>>) -> EventLogService {
        EventLogService { cluster, ..self }
    }

    /// The same service, with `subscribers` as its subscriber limits.
    pub fn with_subscriber_limits(self, subscribers: SubscriberLimits) -> EventLogService {
        EventLogService {
            subscribers,
            ..self
        }
    }

    /// The same service, recording into `metrics`.
    pub fn with_metrics(self, metrics: Metrics) -> EventLogService {
        EventLogService { metrics, ..self }
    }

    fn query_context(&self) -> queries::QueryContext<'_> {
        queries::QueryContext {
            store: &self.store,
            vocabulary: &self.vocabulary,
            symmetric: &self.symmetric,
        }
    }
}

type ReadLogStream = Pin<Box<dyn Stream<Item = Result<wire::ReadLogFrame, Status>> + Send>>;
type SubscribeStream = Pin<Box<dyn Stream<Item = Result<wire::SubscribeFrame, Status>> + Send>>;
type BackupStream = Pin<Box<dyn Stream<Item = Result<proto::BackupChunk, Status>> + Send>>;

/// Store calls that may run at once on the blocking pool, across all requests.
const MAX_BLOCKING_CALLS: usize = 128;
/// See `blocking`.
static BLOCKING_CALLS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(MAX_BLOCKING_CALLS);

/// Runs blocking store work off the async threads.
///
/// The work holds a slot until it is done, also when the request that started it was given up
/// (a client that left, a request past its timeout), so abandoned work cannot pile up on
/// tokio's blocking pool, whose queue has no bound. No slot free means the store is saturated:
/// RESOURCE_EXHAUSTED at once.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Status> {
    let slot = BLOCKING_CALLS.try_acquire().map_err(|_| {
        refusal(
            Code::ResourceExhausted,
            format!("the store is already serving {MAX_BLOCKING_CALLS} reads; retry later"),
            Reason::Overloaded,
            [],
        )
    })?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot; // released when the work ends, even if it panics
        work()
    })
    .await
    .map_err(|error| {
        tracing::error!(%error, "a storage task failed");
        status::storage_failed()
    })
}

#[tonic::async_trait]
impl EventLog for EventLogService {
    async fn append(
        &self,
        request: Request<proto::AppendRequest>,
    ) -> Result<Response<proto::AppendResponse>, Status> {
        let request = request.into_inner();
        let size = request.encoded_len();
        if size > MAX_BATCH_BYTES {
            return Err(InvalidField::of(
                FieldProblem::TooLarge,
                "entries",
                format!("take {size} bytes; a batch is at most {MAX_BATCH_BYTES} bytes: split it"),
            )
            .into());
        }
        if request.entries.is_empty() {
            return Err(InvalidField::missing("entries", "is empty; nothing to append").into());
        }
        if request.entries.len() > MAX_ENTRIES_PER_BATCH {
            return Err(InvalidField::of(
                FieldProblem::TooLarge,
                "entries",
                format!(
                    "has {} entries; a batch is at most {MAX_ENTRIES_PER_BATCH}: split it",
                    request.entries.len()
                ),
            )
            .into());
        }
        let bodies = request
            .entries
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                to_domain::entry_body(entry, &self.vocabulary)
                    .map_err(|e| e.under(&format!("entries[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let expected_head = request.expected_head.map(Position);
        let receipt = if request.validate_only {
            let receipt = self.store.validate(bodies, expected_head).await?;
            tracing::debug!(
                entries = receipt.entries.len(),
                "validated, nothing written"
            );
            receipt
        } else {
            let started = Instant::now();
            let receipt = match &self.cluster {
                Some(cluster) => cluster.append(bodies, expected_head).await?,
                None => self.store.append(bodies, expected_head).await?,
            };
            self.metrics.flushed(started.elapsed());
            let mut written = receipt.entries.iter().filter(|e| !e.duplicate);
            let first = written.next().map(|e| e.position.0);
            let last = written.next_back().map(|e| e.position.0).or(first);
            tracing::info!(
                first_position = first,
                last_position = last,
                head = receipt.head.0,
                entries = receipt.entries.len(),
                duplicates = receipt.entries.iter().filter(|e| e.duplicate).count(),
                "appended"
            );
            receipt
        };
        Ok(Response::new(proto::AppendResponse {
            results: receipt
                .entries
                .into_iter()
                .map(|e| proto::AppendResult {
                    position: e.position.0,
                    id: e.id.into(),
                    duplicate: e.duplicate,
                })
                .collect(),
            head: receipt.head.0,
        }))
    }

    async fn get_entry(
        &self,
        request: Request<proto::GetEntryRequest>,
    ) -> Result<Response<proto::GetEntryResponse>, Status> {
        use proto::get_entry_request::Selector;
        let entry = match request.into_inner().selector {
            None => {
                return Err(
                    InvalidField::missing("selector", "is missing: set id or position").into(),
                )
            }
            Some(Selector::Id(text)) => {
                let id = to_domain::id("id", &text)?;
                self.store.entry_by_id(&id)?.ok_or_else(|| {
                    refusal(
                        Code::NotFound,
                        format!("no entry has id {}", quoted(&text)),
                        Reason::UnknownEntry,
                        [("id", id.to_string())],
                    )
                })?
            }
            Some(Selector::Position(0)) => {
                return Err(InvalidField::new("position", "is 0; positions start at 1").into())
            }
            Some(Selector::Position(position)) => {
                self.store.entry_at(Position(position))?.ok_or_else(|| {
                    let head = self.store.head();
                    refusal(
                        Code::NotFound,
                        format!("no entry at position {position}; the head is {head}"),
                        Reason::UnknownEntry,
                        [
                            ("position", position.to_string()),
                            ("head", head.0.to_string()),
                        ],
                    )
                })?
            }
        };
        Ok(Response::new(proto::GetEntryResponse {
            entry: Some(to_proto::entry(entry)),
        }))
    }

    type ReadLogStream = ReadLogStream;

    async fn read_log(
        &self,
        request: Request<proto::ReadLogRequest>,
    ) -> Result<Response<Self::ReadLogStream>, Status> {
        let request = request.into_inner();
        let from = Position(request.from_position.max(1));
        let head = self.store.head();
        let until = match request.max_entries {
            0 => head,
            n => Position(from.0.saturating_add(n - 1)).min(head),
        };
        let (tx, rx) = mpsc::channel(READ_BUFFER);
        let store = Arc::clone(&self.store);
        tokio::spawn(async move {
            let mut next = from;
            while next <= until {
                // Records as stored, spliced into responses off the async threads.
                let chunk = {
                    let store = Arc::clone(&store);
                    tokio::task::spawn_blocking(move || {
                        let stored =
                            store.read_stored(next, until, READ_CHUNK, READ_CHUNK_BYTES)?;
                        let last = stored.last().map(crate::store::StoredEntry::position);
                        let frames = stored
                            .iter()
                            .map(|s| wire::entry_frame(&s.view()?, None))
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok::<_, crate::store::StoreError>((last, frames))
                    })
                    .await
                };
                let (last, frames) = match chunk {
                    Ok(Ok(read)) => read,
                    Ok(Err(error)) => {
                        let _ = tx.send(Err(error.into())).await;
                        return;
                    }
                    Err(join) => {
                        let _ = tx
                            .send(Err({
                                tracing::error!(error = %join, "a read task failed");
                                status::storage_failed()
                            }))
                            .await;
                        return;
                    }
                };
                let Some(last) = last else {
                    return;
                };
                next = last.next();
                for message in wire::ReadLogFrame::entries(&frames) {
                    if tx.send(Ok(message)).await.is_err() {
                        return; // The client went away.
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_actor(
        &self,
        request: Request<proto::GetActorRequest>,
    ) -> Result<Response<proto::GetActorResponse>, Status> {
        let text = request.into_inner().id;
        let id = to_domain::id("id", &text)?;
        let (actor, entry) = self.store.actor(&id)?.ok_or_else(|| {
            refusal(
                Code::NotFound,
                format!(
                    "no actor has id {}; ResolveActor finds actors by name or alias",
                    quoted(&text)
                ),
                Reason::UnknownActor,
                [("id", id.to_string())],
            )
        })?;
        Ok(Response::new(proto::GetActorResponse {
            actor: Some(to_proto::actor(actor)),
            position: entry.position.0,
            recorded_at: Some(proto::timestamp(entry.recorded_at)),
        }))
    }

    async fn resolve_actor(
        &self,
        request: Request<proto::ResolveActorRequest>,
    ) -> Result<Response<proto::ResolveActorResponse>, Status> {
        let request = request.into_inner();
        if crate::domain::names::fold(&request.name).is_empty() {
            return Err(InvalidField::new(
                "name",
                "has no letters or digits; give an id, name or alias",
            )
            .into());
        }
        if request.name.chars().count() > MAX_SHORT_TEXT {
            return Err(InvalidField::of(
                FieldProblem::TooLarge,
                "name",
                format!("is longer than {MAX_SHORT_TEXT} characters"),
            )
            .into());
        }
        let limit = page_size(
            "limit",
            request.limit,
            DEFAULT_RESOLVE_MATCHES,
            MAX_RESOLVE_MATCHES,
        )?;
        consistency::indexes_cover(&self.store, request.min_position).await?;
        let store = Arc::clone(&self.store);
        let name = request.name;
        let ranked = blocking(move || {
            store.resolve_ranked(&name, limit).map(|ranked| {
                ranked
                    .into_iter()
                    .map(|(quality, actor)| {
                        let detail = crate::domain::names::explain_match(&name, quality, &actor);
                        (quality, detail, actor)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .await??;
        let ranked: Vec<proto::ActorMatch> = ranked
            .into_iter()
            .map(|(quality, detail, actor)| to_proto::actor_match(quality, detail, actor))
            .collect();
        Ok(Response::new(proto::ResolveActorResponse {
            matches: ranked.iter().filter_map(|m| m.actor.clone()).collect(),
            ranked,
        }))
    }

    async fn list_actors(
        &self,
        request: Request<proto::ListActorsRequest>,
    ) -> Result<Response<proto::ListActorsResponse>, Status> {
        let request = request.into_inner();
        let limit = page_size(
            "page_size",
            request.page_size,
            DEFAULT_PAGE_SIZE,
            MAX_PAGE_SIZE,
        )?;
        let fingerprint = query_token::fingerprint(&proto::ListActorsRequest {
            kind: request.kind,
            country: request.country.clone(),
            ..Default::default()
        });
        let after = page_token::decode(&request.page_token, fingerprint)?;
        let filter = ActorFilter {
            kind: to_domain::actor_kind("kind", request.kind)?,
            country: to_domain::optional_country("country", &request.country)?,
        };
        consistency::indexes_cover(&self.store, request.min_position).await?;
        let store = Arc::clone(&self.store);
        let page = blocking(move || store.list_actors(after.as_ref(), limit, &filter)).await??;
        Ok(Response::new(proto::ListActorsResponse {
            actors: page.actors.into_iter().map(to_proto::actor).collect(),
            next_page_token: page
                .resume_after
                .as_ref()
                .map(|id| page_token::encode(fingerprint, id))
                .unwrap_or_default(),
        }))
    }

    async fn list_relation_types(
        &self,
        _request: Request<proto::ListRelationTypesRequest>,
    ) -> Result<Response<proto::ListRelationTypesResponse>, Status> {
        Ok(Response::new(proto::ListRelationTypesResponse {
            relation_types: self
                .vocabulary
                .relations()
                .map(to_proto::relation_type)
                .collect(),
        }))
    }

    async fn get_log_info(
        &self,
        _request: Request<proto::GetLogInfoRequest>,
    ) -> Result<Response<proto::LogInfo>, Status> {
        let stats = self.store.stats()?;
        Ok(Response::new(proto::LogInfo {
            head: stats.head.0,
            actor_entries: stats.counts.actor_entries,
            event_entries: stats.counts.event_entries,
            claim_entries: stats.counts.claim_entries,
            actors: stats.counts.actors,
            store_size_bytes: stats.size_on_disk,
            version: env!("CARGO_PKG_VERSION").to_string(),
            relation_types: u32::try_from(self.vocabulary.len()).unwrap_or(u32::MAX),
            indexed_position: stats.indexed.0,
            cluster: self.cluster.as_ref().map(|cluster| {
                let status = cluster.status();
                proto::ClusterInfo {
                    node_name: status.node_name,
                    stream: status.stream,
                    applied_sequence: status.applied_sequence,
                    stream_last_sequence: status.stream_last_sequence,
                    connected: status.connected,
                }
            }),
        }))
    }

    type SubscribeStream = SubscribeStream;

    async fn subscribe(
        &self,
        request: Request<proto::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let caller = request.extensions().get::<Caller>().cloned();
        let stream = subscriptions::subscribe(
            &self.store,
            self.cluster.as_ref(),
            &self.vocabulary,
            self.shutdown.clone(),
            self.metrics.clone(),
            self.subscribers,
            caller,
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(stream))
    }

    type BackupStream = BackupStream;

    async fn backup(
        &self,
        _request: Request<proto::BackupRequest>,
    ) -> Result<Response<Self::BackupStream>, Status> {
        let chunks = backup::backup(&self.store, &self.vocabulary);
        Ok(Response::new(Box::pin(ReceiverStream::new(chunks))))
    }

    async fn commit_checkpoint(
        &self,
        request: Request<proto::CommitCheckpointRequest>,
    ) -> Result<Response<proto::CommitCheckpointResponse>, Status> {
        let caller = request.extensions().get::<Caller>().cloned();
        subscriptions::commit_checkpoint(
            &self.store,
            self.cluster.as_ref(),
            caller,
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }

    async fn list_subscriptions(
        &self,
        _request: Request<proto::ListSubscriptionsRequest>,
    ) -> Result<Response<proto::ListSubscriptionsResponse>, Status> {
        subscriptions::list(&self.store, self.cluster.as_ref())
            .await
            .map(Response::new)
    }

    async fn delete_subscription(
        &self,
        request: Request<proto::DeleteSubscriptionRequest>,
    ) -> Result<Response<proto::DeleteSubscriptionResponse>, Status> {
        subscriptions::delete(&self.store, self.cluster.as_ref(), request.into_inner())
            .await
            .map(Response::new)
    }

    async fn query_events(
        &self,
        request: Request<proto::QueryEventsRequest>,
    ) -> Result<Response<proto::QueryEventsResponse>, Status> {
        queries::query_events(self.query_context(), request.into_inner())
            .await
            .map(Response::new)
    }

    async fn query_claims(
        &self,
        request: Request<proto::QueryClaimsRequest>,
    ) -> Result<Response<proto::QueryClaimsResponse>, Status> {
        queries::query_claims(self.query_context(), request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_relations(
        &self,
        request: Request<proto::ListRelationsRequest>,
    ) -> Result<Response<proto::ListRelationsResponse>, Status> {
        queries::list_relations(self.query_context(), request.into_inner())
            .await
            .map(Response::new)
    }
}

/// A page size from a request: 0 means the default, above the maximum is refused.
fn page_size(
    field: &str,
    requested: u32,
    default: usize,
    max: usize,
) -> Result<usize, InvalidField> {
    match requested as usize {
        0 => Ok(default),
        n if n > max => Err(InvalidField::of(
            FieldProblem::TooLarge,
            field,
            format!("is {n}; the maximum is {max}"),
        )),
        n => Ok(n),
    }
}
