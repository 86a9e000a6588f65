//! The query RPCs: `QueryEvents`, `QueryClaims`, `ListRelations`. Each resolves its request
//! (actor names to ids, dates to days, the page token to a snapshot and cursor), asks the
//! store, and builds the page.

use std::sync::Arc;

use prost::Message;
use tonic::{Code, Status};

use crate::domain::limits::MAX_PAGE_SIZE;
use crate::domain::query::entry_span;
use crate::domain::quote::quoted;
use crate::domain::{
    ActorClass, ActorId, ClaimQuery, DateKey, DateMatch, Day, EntryId, EventQuery, InvalidField,
    Position, QueryRejection, RelationQuery, Snapshot, SymmetricRelations, Vocabulary,
};
use crate::ops::grpc::refusal;
use crate::ops::reason::Reason;
use crate::proto;
use crate::store::{QueryPage, Store};

use super::query_token::{self, QueryToken, TokenKind};
use super::subscriptions::resolve_actor;
use super::{blocking, consistency, page_size, to_domain, to_proto, DEFAULT_PAGE_SIZE};

/// Bytes of entries after which a query page is cut: with the one entry that crosses it, a
/// page stays within the 4 MiB that gRPC clients accept by default.
const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// What the query handlers share: the store and the vocabulary's symmetric relations.
pub struct QueryContext<'a> {
    /// The store.
    pub store: &'a Arc<Store>,
    /// The relation vocabulary.
    pub vocabulary: &'a Vocabulary,
    /// Its symmetric relations.
    pub symmetric: &'a SymmetricRelations,
}

/// `QueryEvents`.
pub async fn query_events(
    context: QueryContext<'_>,
    mut request: proto::QueryEventsRequest,
) -> Result<proto::QueryEventsResponse, Status> {
    let limit = page_size(
        "page_size",
        request.page_size,
        DEFAULT_PAGE_SIZE,
        MAX_PAGE_SIZE,
    )?;
    let request_fingerprint = query_token::fingerprint(&proto::QueryEventsRequest {
        page_size: 0,
        page_token: String::new(),
        min_position: 0,
        ..request.clone()
    });
    let page_token = std::mem::take(&mut request.page_token);
    consistency::indexes_cover(context.store, request.min_position).await?;
    let actor = optional_actor(context.store, "actor", request.actor).await?;
    let role = to_domain::optional_role("role", request.role)?;
    if role.is_some() && actor.is_none() {
        return Err(
            InvalidField::missing("role", "needs `actor`: the role of which actor?").into(),
        );
    }
    let counterpart = optional_actor(context.store, "counterpart", request.counterpart).await?;
    let relations = to_domain::relations("relations", &request.relations, context.vocabulary)?;
    let dates = to_domain::date_range(
        "",
        &request.date_from,
        &request.date_to,
        to_domain::date_match("date_match", request.date_match)?,
    )?;
    let country = to_domain::optional_country("country", &request.country)?;
    let min_certainty = to_domain::certainty("min_certainty", request.min_certainty)?;
    // The token binds the actors named, not their classes: a class is a function of the named
    // actor and the snapshot, which the token carries.
    let fingerprint =
        query_token::with_actors(request_fingerprint, &[actor.as_ref(), counterpart.as_ref()]);
    let token = query_token::decode(&page_token, TokenKind::Events, fingerprint)?;
    let order = to_domain::query_order("order", request.order)?;
    let snapshot = snapshot(
        context.store,
        token,
        request.as_of_position,
        request.include_superseded,
    )?;
    let mut covered = Vec::new();
    let query = EventQuery {
        actor: class(context.store, snapshot, "actor", actor, &mut covered).await?,
        role,
        counterpart: class(
            context.store,
            snapshot,
            "counterpart",
            counterpart,
            &mut covered,
        )
        .await?,
        relations,
        dates,
        country,
        min_certainty,
        symmetric: Arc::clone(context.symmetric),
    };
    let after = token.map(|t| t.after);
    let store = Arc::clone(context.store);
    let page =
        blocking(move || store.query_events(&query, snapshot, order, after, limit)).await??;
    let (entries, next_page_token) = page_parts(page, TokenKind::Events, fingerprint, snapshot);
    Ok(proto::QueryEventsResponse {
        entries,
        next_page_token,
        as_of_position: snapshot.as_of.0,
        covered,
    })
}

/// `QueryClaims`.
pub async fn query_claims(
    context: QueryContext<'_>,
    mut request: proto::QueryClaimsRequest,
) -> Result<proto::QueryClaimsResponse, Status> {
    let limit = page_size(
        "page_size",
        request.page_size,
        DEFAULT_PAGE_SIZE,
        MAX_PAGE_SIZE,
    )?;
    let request_fingerprint = query_token::fingerprint(&proto::QueryClaimsRequest {
        page_size: 0,
        page_token: String::new(),
        min_position: 0,
        ..request.clone()
    });
    let page_token = std::mem::take(&mut request.page_token);
    consistency::indexes_cover(context.store, request.min_position).await?;
    let store = context.store;
    let min_certainty = to_domain::certainty("min_certainty", request.min_certainty)?;
    let max_certainty = to_domain::certainty("max_certainty", request.max_certainty)?;
    // Certainty sorts strongest first: "at least min" is `c <= min`, "at most max" is
    // `c >= max`, so nothing can match when `max` is weaker than `min`.
    if let (Some(min), Some(max)) = (min_certainty, max_certainty) {
        if max > min {
            return Err(InvalidField::new(
                "max_certainty",
                "is less certain than min_certainty, so nothing can match; swap them?",
            )
            .into());
        }
    }
    let event_id = match request.event_id.as_str() {
        "" => None,
        text => Some(to_domain::id("event_id", text)?),
    };
    let subject = optional_actor(store, "subject", request.subject).await?;
    let object = optional_actor(store, "object", request.object).await?;
    let claimant = optional_actor(store, "claimant", request.claimant).await?;
    let actor = optional_actor(store, "actor", request.actor).await?;
    let relations = to_domain::relations("relations", &request.relations, context.vocabulary)?;
    let dates = to_domain::date_range(
        "",
        &request.date_from,
        &request.date_to,
        to_domain::date_match("date_match", request.date_match)?,
    )?;
    if let Some(id) = event_id.clone() {
        require_event(store, id).await?;
    }
    let fingerprint = query_token::with_actors(
        request_fingerprint,
        &[
            subject.as_ref(),
            object.as_ref(),
            claimant.as_ref(),
            actor.as_ref(),
        ],
    );
    let token = query_token::decode(&page_token, TokenKind::Claims, fingerprint)?;
    let order = to_domain::query_order("order", request.order)?;
    let snapshot = snapshot(
        store,
        token,
        request.as_of_position,
        request.include_superseded,
    )?;
    let mut covered = Vec::new();
    let query = ClaimQuery {
        subject: class(store, snapshot, "subject", subject, &mut covered).await?,
        object: class(store, snapshot, "object", object, &mut covered).await?,
        claimant: class(store, snapshot, "claimant", claimant, &mut covered).await?,
        actor: class(store, snapshot, "actor", actor, &mut covered).await?,
        relations,
        event_id,
        dates,
        min_certainty,
        max_certainty,
        negated: request.negated,
        symmetric: Arc::clone(context.symmetric),
    };
    let after = token.map(|t| t.after);
    let store = Arc::clone(store);
    let page =
        blocking(move || store.query_claims(&query, snapshot, order, after, limit)).await??;
    let (entries, next_page_token) = page_parts(page, TokenKind::Claims, fingerprint, snapshot);
    Ok(proto::QueryClaimsResponse {
        entries,
        next_page_token,
        as_of_position: snapshot.as_of.0,
        covered,
    })
}

/// `ListRelations`.
pub async fn list_relations(
    context: QueryContext<'_>,
    request: proto::ListRelationsRequest,
) -> Result<proto::ListRelationsResponse, Status> {
    let store = context.store;
    consistency::indexes_cover(store, request.min_position).await?;
    let Some(actor) = optional_actor(store, "actor", request.actor).await? else {
        return Err(InvalidField::missing(
            "actor",
            "is required: the actor (id, name or alias) whose relations to list",
        )
        .into());
    };
    let counterpart = optional_actor(store, "counterpart", request.counterpart).await?;
    let relations = to_domain::relations("relations", &request.relations, context.vocabulary)?;
    let dates = to_domain::date_range(
        "",
        &request.date_from,
        &request.date_to,
        DateMatch::Overlaps,
    )?;
    let direction = to_domain::direction("direction", request.direction)?;
    let min_certainty = to_domain::certainty("min_certainty", request.min_certainty)?;
    let snapshot = snapshot(store, None, request.as_of_position, false)?;
    let mut covered = Vec::new();
    let centre = named_class(store, snapshot, "actor", actor.clone(), &mut covered).await?;
    let query = RelationQuery {
        actor,
        counterpart: class(store, snapshot, "counterpart", counterpart, &mut covered).await?,
        relations,
        dates,
        direction,
        min_certainty,
        symmetric: Arc::clone(context.symmetric),
    };
    let store = Arc::clone(store);
    let answer = blocking(move || store.class_relations(&centre, &query, snapshot.as_of)).await??;
    Ok(proto::ListRelationsResponse {
        edges: answer
            .edges
            .into_iter()
            .map(to_proto::relation_edge)
            .collect(),
        truncated: answer.truncated,
        as_of_position: snapshot.as_of.0,
        covered,
    })
}

/// An optional actor filter: empty is none, anything else must resolve.
async fn optional_actor(
    store: &Arc<Store>,
    field: &str,
    name: String,
) -> Result<Option<ActorId>, Status> {
    if name.is_empty() {
        return Ok(None);
    }
    resolve_actor(store, field, name).await.map(Some)
}

/// The actors `named` (given in `field`) stands for in `snapshot`: it and those it is the same
/// as (see `domain::same_as`), which the response lists in `covered`.
async fn class(
    store: &Arc<Store>,
    snapshot: Snapshot,
    field: &'static str,
    named: Option<ActorId>,
    covered: &mut Vec<proto::ActorsCovered>,
) -> Result<Option<ActorClass>, Status> {
    match named {
        Some(named) => named_class(store, snapshot, field, named, covered)
            .await
            .map(Some),
        None => Ok(None),
    }
}

/// [`class`] of a field that is set.
async fn named_class(
    store: &Arc<Store>,
    snapshot: Snapshot,
    field: &'static str,
    named: ActorId,
    covered: &mut Vec<proto::ActorsCovered>,
) -> Result<ActorClass, Status> {
    let store = Arc::clone(store);
    let class = blocking(move || store.actor_class(named, snapshot.as_of)).await??;
    covered.push(to_proto::actors_covered(field, &class));
    Ok(class)
}

/// Refuses an `event_id` filter naming no event, which would otherwise silently match nothing.
async fn require_event(store: &Arc<Store>, id: EntryId) -> Result<(), Status> {
    let store = Arc::clone(store);
    let found = blocking(move || store.entry_by_id(&id).map(|e| (id, e))).await??;
    match found {
        (_, Some(entry)) if entry.body.kind() == crate::domain::EntryKind::Event => Ok(()),
        (id, _) => Err(refusal(
            Code::NotFound,
            format!("event_id: no event has id {}", quoted(id.as_str())),
            Reason::UnknownEntry,
            [("field", "event_id".to_string()), ("id", id.to_string())],
        )),
    }
}

/// The log state a query reads: the token's snapshot on later pages, else `as_of_position`
/// (which must not be beyond the head), else the head.
fn snapshot(
    store: &Store,
    token: Option<QueryToken>,
    as_of_position: u64,
    include_superseded: bool,
) -> Result<Snapshot, Status> {
    let head = store.head();
    let as_of = match (token, as_of_position) {
        // The head never moves back, so a token beyond it was made up (or the log was restored
        // from an older backup): refused as `as_of_position` would be, not quietly clamped.
        (Some(token), _) if token.snapshot > head => {
            return Err(QueryRejection::TokenBeyondHead {
                snapshot: token.snapshot,
                head,
            }
            .into())
        }
        (Some(token), _) => token.snapshot,
        (None, 0) => head,
        (None, asked) if Position(asked) > head => {
            return Err(QueryRejection::AsOfBeyondHead {
                as_of: Position(asked),
                head,
            }
            .into())
        }
        (None, asked) => Position(asked),
    };
    Ok(Snapshot {
        as_of,
        include_superseded,
    })
}

/// The entries of a page as messages, and the token of the next page. A page is cut once it
/// holds `MAX_PAGE_BYTES` (the next page starts right after its last entry), so that a page of
/// large entries still fits in what clients accept.
fn page_parts(
    page: QueryPage,
    kind: TokenKind,
    fingerprint: u64,
    snapshot: Snapshot,
) -> (Vec<proto::Entry>, String) {
    let total = page.entries.len();
    let mut entries = Vec::with_capacity(total);
    let mut bytes = 0;
    let mut resume = page.resume;
    for (i, entry) in page.entries.into_iter().enumerate() {
        let key = DateKey {
            earliest: entry_span(&entry.body).map_or(Day::OPEN_START, |span| span.earliest),
            position: entry.position,
        };
        let message = to_proto::entry(entry);
        bytes += message.encoded_len();
        entries.push(message);
        if bytes >= MAX_PAGE_BYTES && i + 1 < total {
            resume = Some(key);
            break;
        }
    }
    let token = resume
        .map(|after| {
            query_token::encode(
                kind,
                fingerprint,
                QueryToken {
                    snapshot: snapshot.as_of,
                    after,
                },
            )
        })
        .unwrap_or_default();
    (entries, token)
}
