//! The subscription RPCs: `Subscribe`, `CommitCheckpoint`, `ListSubscriptions`,
//! `DeleteSubscription`. The following itself is `crate::subscription`'s; this file resolves
//! requests into a start position and a filter, and turns deliveries into messages.

use std::sync::Arc;
use std::time::SystemTime;

use futures_util::{stream, StreamExt};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Status};

use crate::cluster::ClusterNode;
use crate::domain::subscription::{self as subscription_rules, Requester};
use crate::domain::SubscriptionRejection;
use crate::domain::{
    EntryFilter, EntryId, EntryKind, InvalidField, Position, SubscriptionName, SubscriptionState,
    Vocabulary,
};
use crate::ops::auth::Caller;
use crate::ops::grpc::refusal;
use crate::ops::methods::Role;
use crate::ops::reason::Reason;
use crate::proto;
use crate::store::Store;
use crate::subscription::{self, Budget, Delivery, Pace, StreamEnd};

use super::wire::{self, SubscribeFrame};
use super::{blocking, to_domain, to_proto, SubscribeStream};

/// Starts a subscription stream.
#[allow(clippy::too_many_arguments)] // one call site, each argument a different concern
pub async fn subscribe(
    store: &Arc<Store>,
    cluster: Option<&Arc<ClusterNode>>,
    vocabulary: &Vocabulary,
    shutdown: crate::shutdown::Shutdown,
    metrics: crate::ops::metrics::Metrics,
    limits: SubscriberLimits,
    caller: Option<Caller>,
    request: proto::SubscribeRequest,
) -> Result<SubscribeStream, Status> {
    let pace = limits.pace;
    let filter = match request.filter {
        Some(filter) => Some(resolve_filter(store, vocabulary, filter).await?),
        None => None,
    };
    let requested_start = match request.start {
        None => Position(1),
        Some(proto::subscribe_request::Start::FromPosition(p)) => Position(p.max(1)),
        Some(proto::subscribe_request::Start::FromEnd(true)) => store.head().next(),
        Some(proto::subscribe_request::Start::FromTime(time)) => {
            let time = to_domain::time("from_time", &time)?;
            let store = Arc::clone(store);
            blocking(move || store.first_recorded_at_or_after(time)).await??
        }
        Some(proto::subscribe_request::Start::FromEnd(false)) => {
            return Err(InvalidField::new(
                "from_end",
                "is false; set it to true, or set from_position instead",
            )
            .into())
        }
    };
    let (start, filter, name) = if request.name.is_empty() {
        (requested_start, filter.unwrap_or_default(), None)
    } else {
        let name = SubscriptionName::parse(&request.name)
            .map_err(|reason| InvalidField::new("name", reason))?;
        let wanted = filter.clone().unwrap_or_default();
        let (state, created) = {
            let head = store.head();
            let owner = caller.clone();
            let create = move |existing: &[SubscriptionState]| {
                new_subscription(
                    existing,
                    requester(owner.as_ref()),
                    requested_start,
                    head,
                    wanted,
                    limits,
                )
            };
            let opened = match cluster {
                Some(cluster) => {
                    cluster
                        .subscriptions()
                        .open_subscription(&name, create)
                        .await?
                }
                None => {
                    let store = Arc::clone(store);
                    let name = name.clone();
                    blocking(move || store.open_subscription(&name, create)).await??
                }
            };
            let (state, created) = opened?;
            state.check_owner(&name, requester(caller.as_ref()))?;
            (state, created)
        };
        if !created && filter.as_ref().is_some_and(|f| f != &state.filter) {
            return Err(
                crate::domain::SubscriptionRejection::FilterMismatch(name.to_string()).into(),
            );
        }
        (state.checkpoint.next(), state.filter, Some(name))
    };
    let filter = with_classes(store, filter).await?;
    tracing::info!(
        name = name.as_ref().map(|n| n.as_str()),
        start = start.0,
        filtered = !filter.is_empty(),
        actors = filter.actors.len(),
        "subscription started"
    );
    let deliveries = subscription::follow(
        Arc::clone(store),
        start,
        filter,
        shutdown,
        wire::entry_frame,
        pace,
    );
    let store = Arc::clone(store);
    let stream = ReceiverStream::new(deliveries).flat_map(move |item| {
        let (messages, budget): (Vec<Result<SubscribeFrame, Status>>, _) = match item {
            Ok((delivery, budget)) => {
                observe(&metrics, &delivery, &store);
                let messages = messages(delivery).into_iter().map(Ok).collect();
                (messages, Some(budget))
            }
            Err(end) => (vec![Err(end_status(end))], None),
        };
        stream::iter(Budgeted {
            messages: messages.into_iter(),
            _budget: budget,
        })
    });
    Ok(Box::pin(stream))
}

/// The messages of one delivery, holding its share of the follower's byte budget until the
/// last of them has been taken (and the iterator dropped).
struct Budgeted {
    messages: std::vec::IntoIter<Result<SubscribeFrame, Status>>,
    _budget: Option<Budget>,
}

impl Iterator for Budgeted {
    type Item = Result<SubscribeFrame, Status>;

    fn next(&mut self) -> Option<Self::Item> {
        self.messages.next()
    }
}

/// Subscriber lag (head minus the last position delivered) and falls behind, for metrics.
fn observe(metrics: &crate::ops::metrics::Metrics, delivery: &Delivery, store: &Store) {
    match delivery {
        Delivery::Entries(entries) => {
            if let Some(last) = entries.last() {
                metrics.subscriber_delivered(last.position.0, store.head().0);
            }
        }
        Delivery::FellBehind { .. } => metrics.subscriber_fell_behind(),
        Delivery::Checkpoint(_) | Delivery::CaughtUp(_) => {}
    }
}

fn end_status(end: StreamEnd) -> Status {
    match end {
        StreamEnd::ShuttingDown { next } => {
            tracing::info!(next = next.0, "subscription ended: server shutting down");
            refusal(
                Code::Unavailable,
                format!("the server is shutting down; resume from position {next}"),
                Reason::ShuttingDown,
                [("next_position", next.0.to_string())],
            )
        }
        StreamEnd::Stalled { next, waited } => {
            tracing::warn!(
                next = next.0,
                waited_ms = waited.as_millis(),
                "subscription ended: the client read nothing while entries waited"
            );
            refusal(
                Code::ResourceExhausted,
                format!(
                    "the client read nothing for {} ms while entries waited \
                     (--subscriber-stall-timeout); resume from position {next}",
                    waited.as_millis()
                ),
                Reason::SubscriberStalled,
                [("next_position", next.0.to_string())],
            )
        }
        StreamEnd::Store(error) => {
            tracing::warn!(%error, "subscription ended: store failure");
            error.into()
        }
    }
}

/// The messages of one delivery: entries, already framed, are cut into messages of bounded
/// size.
fn messages(delivery: Delivery) -> Vec<SubscribeFrame> {
    use proto::subscribe_response::Message;
    let wrap = |message| {
        SubscribeFrame::message(&proto::SubscribeResponse {
            message: Some(message),
        })
    };
    let message = match delivery {
        Delivery::Entries(entries) => {
            let frames: Vec<bytes::Bytes> = entries.into_iter().map(|f| f.bytes).collect();
            return SubscribeFrame::entries(&frames);
        }
        Delivery::Checkpoint(position) => Message::Checkpoint(proto::Checkpoint {
            position: position.0,
        }),
        Delivery::CaughtUp(head) => Message::CaughtUp(proto::CaughtUp { head: head.0 }),
        Delivery::FellBehind { next, head } => Message::FellBehind(proto::FellBehind {
            position: next.0,
            head: head.0,
        }),
    };
    vec![wrap(message)]
}

/// The filter a stream follows: `filter` with each of its actors' `same_as` class (see
/// `domain::same_as`) as the links stand when the stream starts. Fixed for the stream's life,
/// so that what it delivers never depends on when the follower read an entry; a later Subscribe
/// (also resuming a named subscription, whose stored filter keeps the actors as named) takes the
/// links as they stand then.
pub(super) async fn with_classes(
    store: &Arc<Store>,
    mut filter: EntryFilter,
) -> Result<EntryFilter, Status> {
    if filter.actors.is_empty() {
        return Ok(filter);
    }
    let as_of = super::consistency::indexes_cover(store, 0).await?;
    let store = Arc::clone(store);
    blocking(move || {
        let mut actors = Vec::with_capacity(filter.actors.len());
        let mut seen = std::collections::HashSet::new();
        for named in std::mem::take(&mut filter.actors) {
            for member in store.actor_class(named, as_of)?.ids() {
                if seen.insert(member.clone()) {
                    actors.push(member.clone());
                }
            }
        }
        filter.actors = actors;
        Ok::<_, Status>(filter)
    })
    .await?
}

/// Resolves a filter: kinds, actor names to ids, relations, dates, certainty.
pub(super) async fn resolve_filter(
    store: &Arc<Store>,
    vocabulary: &Vocabulary,
    filter: proto::SubscriptionFilter,
) -> Result<EntryFilter, Status> {
    let kinds = filter
        .kinds
        .iter()
        .enumerate()
        .map(|(i, k)| match proto::EntryKind::try_from(*k) {
            Ok(proto::EntryKind::Actor) => Ok(EntryKind::Actor),
            Ok(proto::EntryKind::Event) => Ok(EntryKind::Event),
            Ok(proto::EntryKind::Claim) => Ok(EntryKind::Claim),
            _ => Err(InvalidField::new(
                format!("filter.kinds[{i}]"),
                "must be ENTRY_KIND_ACTOR, ENTRY_KIND_EVENT or ENTRY_KIND_CLAIM",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut actors = Vec::with_capacity(filter.actors.len());
    for (i, name) in filter.actors.into_iter().enumerate() {
        actors.push(resolve_actor(store, &format!("filter.actors[{i}]"), name).await?);
    }
    let relations = to_domain::relation_keys("filter.relations", &filter.relations, vocabulary)?;
    let (date_from, date_to) = to_domain::dates("filter.", &filter.date_from, &filter.date_to)?;
    Ok(EntryFilter {
        kinds,
        actors,
        relations,
        date_from,
        date_to,
        min_certainty: to_domain::certainty("filter.min_certainty", filter.min_certainty)?,
    })
}

/// Actors a name's resolution considers at most: enough to list the candidates of a name
/// several actors share, or a few suggestions for one that matches none exactly.
const NAME_CANDIDATES: usize = 8;

/// An actor given by id, name or alias: an exact id first, else the one actor whose name or
/// alias it is (see `domain::names::pick_actor`: never a guess).
pub async fn resolve_actor(
    store: &Arc<Store>,
    field: &str,
    name: String,
) -> Result<EntryId, Status> {
    if crate::domain::names::fold(&name).is_empty() {
        return Err(InvalidField::new(
            field,
            "has no letters or digits; give an actor id, name or alias",
        )
        .into());
    }
    super::consistency::indexes_cover(store, 0).await?;
    let store = Arc::clone(store);
    let field = field.to_string();
    blocking(move || {
        if let Ok(id) = EntryId::parse(&name) {
            if store.actor(&id)?.is_some() {
                return Ok(id);
            }
        }
        let candidates = store.name_candidates(&name, NAME_CANDIDATES)?;
        Ok(crate::domain::names::pick_actor(
            &field,
            &name,
            candidates,
            NAME_CANDIDATES,
        )?)
    })
    .await?
}

/// What limits subscribers: the pace of every stream, and how many named subscriptions one
/// caller may own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriberLimits {
    /// See [`Pace`].
    pub pace: Pace,
    /// Named subscriptions one token (or all callers without one) may own.
    pub max_named_per_caller: usize,
}

impl Default for SubscriberLimits {
    fn default() -> Self {
        SubscriberLimits {
            pace: Pace::default(),
            max_named_per_caller: 64,
        }
    }
}

/// The state of a new named subscription, if the rules admit it.
fn new_subscription(
    existing: &[SubscriptionState],
    requester: Requester<'_>,
    requested_start: Position,
    head: Position,
    filter: EntryFilter,
    limits: SubscriberLimits,
) -> Result<SubscriptionState, SubscriptionRejection> {
    // A checkpoint is never beyond the head: it would skip entries not yet written.
    if requested_start > head.next() {
        return Err(SubscriptionRejection::StartBeyondHead {
            start: requested_start,
            head,
        });
    }
    subscription_rules::admit_new(existing, requester, limits.max_named_per_caller)?;
    Ok(SubscriptionState {
        checkpoint: Position(requested_start.0 - 1),
        filter,
        created_at: SystemTime::now(),
        updated_at: SystemTime::now(),
        owner: requester.name.map(str::to_string),
    })
}

/// The domain's view of a caller.
fn requester(caller: Option<&Caller>) -> Requester<'_> {
    Requester {
        name: caller.map(|c| &*c.name),
        admin: caller.is_some_and(|c| c.role == Role::Admin),
    }
}

/// Stores a checkpoint.
pub async fn commit_checkpoint(
    store: &Arc<Store>,
    cluster: Option<&Arc<ClusterNode>>,
    caller: Option<Caller>,
    request: proto::CommitCheckpointRequest,
) -> Result<proto::CommitCheckpointResponse, Status> {
    let name = SubscriptionName::parse(&request.name)
        .map_err(|reason| InvalidField::new("name", reason))?;
    let response_name = name.clone();
    let position = Position(request.position);
    let state = match cluster {
        Some(cluster) => {
            let owner =
                |state: &SubscriptionState| state.check_owner(&name, requester(caller.as_ref()));
            cluster
                .subscriptions()
                .commit_checkpoint(&name, position, store.head(), owner)
                .await??
        }
        None => {
            let store = Arc::clone(store);
            blocking(move || {
                let checked = name.clone();
                store.commit_checkpoint(&name, position, |state| {
                    state.check_owner(&checked, requester(caller.as_ref()))
                })
            })
            .await???
        }
    };
    Ok(proto::CommitCheckpointResponse {
        subscription: Some(info(response_name.as_str(), state)),
    })
}

/// Lists named subscriptions.
pub async fn list(
    store: &Arc<Store>,
    cluster: Option<&Arc<ClusterNode>>,
) -> Result<proto::ListSubscriptionsResponse, Status> {
    let all = match cluster {
        Some(cluster) => cluster.subscriptions().list().await?,
        None => {
            let store = Arc::clone(store);
            blocking(move || store.subscriptions()).await??
        }
    };
    Ok(proto::ListSubscriptionsResponse {
        subscriptions: all
            .into_iter()
            .map(|(name, state)| info(&name, state))
            .collect(),
    })
}

/// Deletes a named subscription.
pub async fn delete(
    store: &Arc<Store>,
    cluster: Option<&Arc<ClusterNode>>,
    request: proto::DeleteSubscriptionRequest,
) -> Result<proto::DeleteSubscriptionResponse, Status> {
    let name = SubscriptionName::parse(&request.name)
        .map_err(|reason| InvalidField::new("name", reason))?;
    let shown = name.to_string();
    let deleted = match cluster {
        Some(cluster) => cluster.subscriptions().delete(&name).await?,
        None => {
            let store = Arc::clone(store);
            blocking(move || store.delete_subscription(&name)).await??
        }
    };
    if deleted {
        tracing::info!(name = %shown, "subscription deleted");
        Ok(proto::DeleteSubscriptionResponse {})
    } else {
        Err(crate::domain::SubscriptionRejection::Unknown(shown).into())
    }
}

fn info(name: &str, state: SubscriptionState) -> proto::SubscriptionInfo {
    proto::SubscriptionInfo {
        name: name.to_string(),
        checkpoint: state.checkpoint.0,
        filter: Some(to_proto::filter(state.filter)),
        created_at: Some(proto::timestamp(state.created_at)),
        updated_at: Some(proto::timestamp(state.updated_at)),
        owner: state.owner.unwrap_or_default(),
    }
}
