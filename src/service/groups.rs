//! The `eventlog.v1.ConsumerGroups` service: thin handlers over `crate::groups` (the running
//! groups) and the store's group state. Each converts and checks its request, calls, and maps
//! errors (`status`); a member's stream is a reader task that forwards acks and nacks, and an
//! outbound stream of what the group sends it.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::{stream, StreamExt};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::domain::group::{DeliveryId, GroupConfig, GroupName, GroupRejection};
use crate::domain::{InvalidField, Position, Vocabulary};
use crate::groups::{Groups, MemberEvent};
use crate::proto;
use crate::proto::consumer_groups_server::ConsumerGroups;
use crate::store::groups::Selection;
use crate::store::Store;

use super::group_wire::{duration, info, name, selection, settings};
use super::status::group_end;
use super::{blocking, to_domain, to_proto};

/// How long a new member has to send `join`.
const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Default and largest page of `ListParked`.
const DEFAULT_PARKED_PAGE: usize = 100;
const MAX_PARKED_PAGE: usize = 1000;

type JoinStream = Pin<Box<dyn Stream<Item = Result<proto::JoinGroupResponse, Status>> + Send>>;

/// The consumer groups service.
#[derive(Clone)]
pub struct GroupsService {
    store: Arc<Store>,
    vocabulary: Arc<Vocabulary>,
    groups: Arc<Groups>,
    /// A cluster node's: groups keep their state in one node's store, which no other node
    /// sees, so a cluster does not serve them (yet) rather than lose a group with its node.
    replicated: bool,
}

impl GroupsService {
    /// A service over `store`'s groups, run by `groups`; filters name relations of
    /// `vocabulary`.
    pub fn new(store: Arc<Store>, vocabulary: Arc<Vocabulary>, groups: Arc<Groups>) -> Self {
        GroupsService {
            store,
            vocabulary,
            groups,
            replicated: false,
        }
    }

    /// The same service on a cluster node, where every call is refused.
    pub fn replicated(self, replicated: bool) -> Self {
        GroupsService { replicated, ..self }
    }

    /// FAILED_PRECONDITION on a cluster node.
    fn served_here(&self) -> Result<(), Status> {
        if !self.replicated {
            return Ok(());
        }
        Err(crate::ops::grpc::refusal(
            tonic::Code::FailedPrecondition,
            "consumer groups are not replicated: a cluster node (--nats-url) does not serve \
             them; share a stream among workers with named subscriptions, or run the group on \
             an embedded node",
            crate::ops::reason::Reason::GroupsNotReplicated,
            [],
        ))
    }
}

#[tonic::async_trait]
impl ConsumerGroups for GroupsService {
    async fn create_group(
        &self,
        request: Request<proto::CreateGroupRequest>,
    ) -> Result<Response<proto::CreateGroupResponse>, Status> {
        self.served_here()?;
        let request = request.into_inner();
        let group = name(&request.name)?;
        let settings = settings(request.settings)?;
        let filter = match request.filter {
            Some(filter) => {
                let resolved =
                    super::subscriptions::resolve_filter(&self.store, &self.vocabulary, filter)
                        .await?;
                super::subscriptions::with_classes(&self.store, resolved).await?
            }
            None => Default::default(),
        };
        use proto::create_group_request::Start;
        let start = match request.start {
            None => Position(1),
            Some(Start::FromPosition(p)) => Position(p.max(1)),
            Some(Start::FromEnd(true)) => self.store.head().next(),
            Some(Start::FromEnd(false)) => {
                return Err(InvalidField::new(
                    "from_end",
                    "is false; set it to true, or set from_position instead",
                )
                .into())
            }
            Some(Start::FromTime(time)) => {
                let time = to_domain::time("from_time", &time)?;
                let store = Arc::clone(&self.store);
                blocking(move || store.first_recorded_at_or_after(time)).await??
            }
        };
        let config = GroupConfig {
            filter,
            start,
            settings,
            created_at: SystemTime::now(),
        };
        let store = Arc::clone(&self.store);
        let (stored_name, stored) = (group.clone(), config.clone());
        blocking(move || store.create_group(&stored_name, &stored)).await???;
        tracing::info!(group = %group, start = start.0, "consumer group created");
        Ok(Response::new(proto::CreateGroupResponse {
            group: Some(info(&group, config)),
        }))
    }

    async fn update_group(
        &self,
        request: Request<proto::UpdateGroupRequest>,
    ) -> Result<Response<proto::UpdateGroupResponse>, Status> {
        self.served_here()?;
        let request = request.into_inner();
        let group = name(&request.name)?;
        let settings = settings(request.settings)?;
        let config = self.groups.update(&group, settings).await?;
        Ok(Response::new(proto::UpdateGroupResponse {
            group: Some(info(&group, config)),
        }))
    }

    async fn delete_group(
        &self,
        request: Request<proto::DeleteGroupRequest>,
    ) -> Result<Response<proto::DeleteGroupResponse>, Status> {
        self.served_here()?;
        let group = name(&request.into_inner().name)?;
        if !self.groups.delete(&group).await? {
            return Err(GroupRejection::Unknown(group.to_string()).into());
        }
        tracing::info!(group = %group, "consumer group deleted");
        Ok(Response::new(proto::DeleteGroupResponse {}))
    }

    async fn list_groups(
        &self,
        _request: Request<proto::ListGroupsRequest>,
    ) -> Result<Response<proto::ListGroupsResponse>, Status> {
        self.served_here()?;
        let store = Arc::clone(&self.store);
        let all = blocking(move || store.groups()).await??;
        Ok(Response::new(proto::ListGroupsResponse {
            groups: all.into_iter().map(|(n, c)| info(&n, c)).collect(),
        }))
    }

    async fn describe_group(
        &self,
        request: Request<proto::DescribeGroupRequest>,
    ) -> Result<Response<proto::DescribeGroupResponse>, Status> {
        self.served_here()?;
        let group = name(&request.into_inner().name)?;
        let store = Arc::clone(&self.store);
        let loaded = group.clone();
        let (config, progress, (parked, replaying)) = blocking(move || {
            let Some(config) = store.group(&loaded)? else {
                return Ok(None);
            };
            let progress = store.group_progress(&loaded)?.unwrap_or_default();
            Ok::<_, crate::store::StoreError>(Some((
                config,
                progress,
                store.parked_counts(&loaded)?,
            )))
        })
        .await??
        .ok_or_else(|| GroupRejection::Unknown(group.to_string()))?;
        let head = self.store.head();
        let state = match self.groups.status(&group).await {
            Some(status) => proto::GroupState {
                next_position: status.next_position.0,
                acked_through: status.acked_through.0,
                lag: head.0.saturating_sub(status.acked_through.0),
                in_flight: status.in_flight as u64,
                waiting: status.waiting as u64,
                parked,
                replaying,
                members: status
                    .members
                    .into_iter()
                    .map(|(id, in_flight, max)| proto::GroupMember {
                        member_id: id.0,
                        in_flight: in_flight as u64,
                        max_in_flight: u32::try_from(max).unwrap_or(u32::MAX),
                    })
                    .collect(),
            },
            None => {
                // Nobody joined since the server started: the stored progress is the state.
                let cursor = progress.cursor.max(config.start);
                let acked_through = progress
                    .outstanding
                    .first()
                    .map_or(cursor, |(p, _)| *p)
                    .0
                    .saturating_sub(1);
                proto::GroupState {
                    next_position: cursor.0,
                    acked_through,
                    lag: head.0.saturating_sub(acked_through),
                    in_flight: 0,
                    waiting: progress.outstanding.len() as u64,
                    parked,
                    replaying,
                    members: Vec::new(),
                }
            }
        };
        Ok(Response::new(proto::DescribeGroupResponse {
            group: Some(info(&group, config)),
            state: Some(state),
        }))
    }

    type JoinGroupStream = JoinStream;

    async fn join_group(
        &self,
        request: Request<Streaming<proto::JoinGroupRequest>>,
    ) -> Result<Response<Self::JoinGroupStream>, Status> {
        self.served_here()?;
        use proto::join_group_request::Message;
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(JOIN_TIMEOUT, inbound.message())
            .await
            .map_err(|_| {
                Status::from(GroupRejection::Protocol(
                    "no join message within 10 s; send join first",
                ))
            })??;
        let join = match first.and_then(|m| m.message) {
            Some(Message::Join(join)) => join,
            _ => {
                return Err(GroupRejection::Protocol(
                    "the first message of JoinGroup must be join (with the group's name)",
                )
                .into())
            }
        };
        let group = GroupName::parse(&join.group)
            .map_err(|reason| Status::from(InvalidField::new("join.group", reason)))?;
        let member = self
            .groups
            .join(&group, join.max_in_flight as usize)
            .await?;
        let joined = proto::JoinGroupResponse {
            message: Some(proto::join_group_response::Message::Joined(proto::Joined {
                member_id: member.id.0,
                group: Some(info(&group, member.config)),
            })),
        };
        let handle = member.handle;
        // Forwards the member's acks and nacks until its side of the stream ends; dropping
        // the handle then leaves the group.
        let reader = tokio::spawn(async move {
            while let Ok(Some(request)) = inbound.message().await {
                match request.message {
                    Some(Message::Ack(ack)) => {
                        handle
                            .ack(ack.delivery_ids.into_iter().map(DeliveryId).collect())
                            .await
                    }
                    Some(Message::Nack(nack)) => {
                        let delay = match nack.delay.as_ref().map(|d| duration("nack.delay", d)) {
                            None => Duration::ZERO,
                            Some(Ok(delay)) => delay,
                            Some(Err(_)) => {
                                handle
                                    .reject(GroupRejection::Protocol(
                                        "nack.delay is negative or longer than 1 h; give 0 to 1 h",
                                    ))
                                    .await;
                                break;
                            }
                        };
                        handle.nack(DeliveryId(nack.delivery_id), delay).await
                    }
                    Some(Message::Join(_)) => {
                        handle
                            .reject(GroupRejection::Protocol(
                                "join was sent twice; a stream is one membership",
                            ))
                            .await;
                        break;
                    }
                    None => {}
                }
            }
        });
        let reader = AbortOnDrop(reader);
        let events = ReceiverStream::new(member.events).map(move |event| {
            let _keep = &reader;
            event_message(event)
        });
        let ended = stream::once(async {
            Err(Status::unavailable(
                "the group ended this membership; join again",
            ))
        });
        Ok(Response::new(Box::pin(
            stream::once(async { Ok(joined) })
                .chain(events)
                .chain(ended),
        )))
    }

    async fn list_parked(
        &self,
        request: Request<proto::ListParkedRequest>,
    ) -> Result<Response<proto::ListParkedResponse>, Status> {
        self.served_here()?;
        let request = request.into_inner();
        let group = name(&request.name)?;
        let limit = match request.limit as usize {
            0 => DEFAULT_PARKED_PAGE,
            n => n.min(MAX_PARKED_PAGE),
        };
        let store = Arc::clone(&self.store);
        let after = Position(request.after_position);
        let (parked, total) = blocking(move || {
            if store.group(&group)?.is_none() {
                return Ok(Err(GroupRejection::Unknown(group.to_string())));
            }
            let page = store.parked(&group, after, limit)?;
            Ok::<_, crate::store::StoreError>(Ok((page, store.parked_counts(&group)?.0)))
        })
        .await???;
        Ok(Response::new(proto::ListParkedResponse {
            parked: parked
                .into_iter()
                .map(|p| proto::ParkedEntry {
                    position: p.position.0,
                    attempts: p.attempts,
                    parked_at: Some(proto::timestamp(p.parked_at)),
                })
                .collect(),
            total,
        }))
    }

    async fn replay_parked(
        &self,
        request: Request<proto::ReplayParkedRequest>,
    ) -> Result<Response<proto::ReplayParkedResponse>, Status> {
        self.served_here()?;
        let request = request.into_inner();
        let group = name(&request.name)?;
        let positions = selection(&request.positions)?;
        let store = Arc::clone(&self.store);
        let target = group.clone();
        let replayed = blocking(move || {
            let selected = match positions.is_empty() {
                true => Selection::All,
                false => Selection::Only(&positions),
            };
            store.replay_parked(&target, selected)
        })
        .await???;
        self.groups.replayed(&group).await;
        tracing::info!(group = %group, replayed, "parked entries replayed");
        Ok(Response::new(proto::ReplayParkedResponse { replayed }))
    }

    async fn drop_parked(
        &self,
        request: Request<proto::DropParkedRequest>,
    ) -> Result<Response<proto::DropParkedResponse>, Status> {
        self.served_here()?;
        let request = request.into_inner();
        let group = name(&request.name)?;
        let positions = selection(&request.positions)?;
        let store = Arc::clone(&self.store);
        let target = group.clone();
        let dropped = blocking(move || {
            let selected = match positions.is_empty() {
                true => Selection::All,
                false => Selection::Only(&positions),
            };
            store.drop_parked(&target, selected)
        })
        .await???;
        tracing::info!(group = %group, dropped, "parked entries dropped");
        Ok(Response::new(proto::DropParkedResponse { dropped }))
    }
}

/// A member event as a message; the end of the membership as the status it ends with.
fn event_message(event: MemberEvent) -> Result<proto::JoinGroupResponse, Status> {
    use proto::join_group_response::Message;
    let message = match event {
        MemberEvent::Delivery {
            delivery,
            attempt,
            entry,
        } => Message::Delivery(proto::Delivery {
            delivery_id: delivery.0,
            attempt,
            entry: Some(to_proto::entry(entry.as_ref().clone())),
        }),
        MemberEvent::Acked { acked, late } => Message::Acked(proto::Acked {
            delivery_ids: acked,
            late,
        }),
        MemberEvent::End(end) => return Err(group_end(end)),
    };
    Ok(proto::JoinGroupResponse {
        message: Some(message),
    })
}

/// Aborts the member's reader task when its outbound stream is dropped (the client went
/// away), so that the membership ends with the stream.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
