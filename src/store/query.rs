//! Answering queries from the indexes: pick the narrowest posting lists, merge them in the
//! requested order, check each candidate, stop at a page.
//!
//! **Choosing an index.** Each filter that names an actor, a pair of actors, a relation or an
//! event has its own posting lists, including the combinations analysts ask most (actor with
//! relation, actor with counterpart). A query walks the lists of its most specific filter and
//! checks the others on each candidate: first against the facts stored in the posting (dates,
//! certainty, negation, country), which costs no read, then against the entry itself with the
//! domain's predicate, which decides. Walking one list and checking was chosen over
//! intersecting several sorted lists because the composite lists already make the common
//! combinations narrow, and a merge-intersection would pay a seek per step on every list for
//! the rare remaining ones.
//!
//! **Merging.** A date-ordered query reads one key range per span class (see `postings`) of
//! each list it walks (several lists when several relations are asked) and merges them by
//! (earliest day, position); position-ordered queries merge position lists.
//!
//! **Bounding.** A page examines at most `SCAN_BUDGET` postings. A query whose candidates
//! rarely match returns a short page with a token to continue, rather than working without
//! bound. `ListRelations` does not walk postings: it reads the graph (`graph`).

use std::collections::HashSet;
use std::iter::Peekable;
use std::ops::Bound;

use crate::domain::query::{ClaimQuery, DateKey, DateRange, EventQuery, QueryOrder, Snapshot};
use crate::domain::relations::{sort_edges, RelationEdge, RelationQuery};
use crate::domain::same_as::{class_of, ActorClass};
use crate::domain::{ActorId, DateMatch, Day, Entry, EntryBody, Position};

use super::engine::fjall_index::{FjallIndex, KeyRange};
use super::error::StoreError;
use super::graph_store;
use super::index_reads;
use super::keys::{date_key, position_key};
use super::postings::{decode_block, Facts, Family, Posting, Scope, CLASS_MAX_DAYS, OPEN_CLASS};
use super::same_as_index;
use super::Store;

/// Postings one page examines at most.
pub const SCAN_BUDGET: usize = 10_000;

/// One page of a query's answer.
#[derive(Debug, Clone)]
pub struct QueryPage {
    /// The matching entries, in order.
    pub entries: Vec<Entry>,
    /// Where the next page starts; `None` when the answer is complete.
    pub resume: Option<DateKey>,
}

/// The relation graph around an actor.
#[derive(Debug, Clone)]
pub struct RelationAnswer {
    /// The edges.
    pub edges: Vec<RelationEdge>,
    /// True only for an `as_of` older than the graph's undo budget on an actor with more
    /// evidence rows than one call walks (see `graph::WALK_BUDGET`).
    pub truncated: bool,
}

/// Where a query reads and how far.
struct Walk<'a> {
    family: Family,
    scopes: Vec<Scope<'a>>,
    dates: DateRange,
    order: QueryOrder,
    after: Option<DateKey>,
    as_of: Position,
}

impl Store {
    /// One page of events matching `query`, as of `snapshot`, in `order`, after `after`.
    pub fn query_events(
        &self,
        query: &EventQuery,
        snapshot: Snapshot,
        order: QueryOrder,
        after: Option<DateKey>,
        limit: usize,
    ) -> Result<QueryPage, StoreError> {
        let walk = Walk {
            family: family_for(order),
            scopes: event_scopes(query, order),
            dates: query.dates,
            order,
            after,
            as_of: snapshot.as_of,
        };
        let facts_ok = |f: &Facts| {
            query.dates.accepts(f.span)
                && query.min_certainty.is_none_or(|min| f.certainty <= min)
                && query
                    .country
                    .as_ref()
                    .is_none_or(|c| f.country == c.as_str().as_bytes())
        };
        let matches = |body: &EntryBody| matches!(body, EntryBody::Event(e) if query.matches(e));
        self.page(&walk, snapshot, limit, facts_ok, matches)
    }

    /// One page of claims matching `query`.
    pub fn query_claims(
        &self,
        query: &ClaimQuery,
        snapshot: Snapshot,
        order: QueryOrder,
        after: Option<DateKey>,
        limit: usize,
    ) -> Result<QueryPage, StoreError> {
        let walk = Walk {
            family: family_for(order),
            scopes: claim_scopes(query, order),
            dates: query.dates,
            order,
            after,
            as_of: snapshot.as_of,
        };
        let facts_ok = |f: &Facts| {
            query.dates.accepts(f.span)
                && query.min_certainty.is_none_or(|min| f.certainty <= min)
                && query.max_certainty.is_none_or(|max| f.certainty >= max)
                && query.negated.is_none_or(|n| f.negated == n)
        };
        let matches = |body: &EntryBody| matches!(body, EntryBody::Claim(c) if query.matches(c));
        self.page(&walk, snapshot, limit, facts_ok, matches)
    }

    /// The relation graph around `query.actor` as of `as_of`, without superseded evidence:
    /// read from the graph the indexer maintains, complete at any size (see `graph`).
    pub fn relations(
        &self,
        query: &RelationQuery,
        as_of: Position,
    ) -> Result<RelationAnswer, StoreError> {
        graph_store::relations(&self.log, &self.index, query, as_of)
    }

    /// The relation graph around every actor of `centre` (`query.actor` is ignored): the
    /// graph of each, merged. An edge between two members is found from both of them; it is
    /// answered once (for a symmetric relation, as the first member found it).
    pub fn class_relations(
        &self,
        centre: &ActorClass,
        query: &RelationQuery,
        as_of: Position,
    ) -> Result<RelationAnswer, StoreError> {
        let mut answer = RelationAnswer {
            edges: Vec::new(),
            truncated: false,
        };
        let mut seen = HashSet::new();
        for member in centre.ids() {
            let one = RelationQuery {
                actor: member.clone(),
                ..query.clone()
            };
            let part = self.relations(&one, as_of)?;
            answer.truncated |= part.truncated;
            for edge in part.edges {
                let (low, high) = match query.symmetric.contains(&edge.relation) {
                    true if edge.object < edge.subject => (&edge.object, &edge.subject),
                    _ => (&edge.subject, &edge.object),
                };
                if seen.insert((low.clone(), edge.relation.clone(), high.clone())) {
                    answer.edges.push(edge);
                }
            }
        }
        sort_edges(&mut answer.edges);
        Ok(answer)
    }

    /// The actors `named` stands for as of `as_of`: it and every actor it is the same as, as
    /// the `same_as` links of the revisions current then say (see `domain::same_as`).
    pub fn actor_class(&self, named: ActorId, as_of: Position) -> Result<ActorClass, StoreError> {
        class_of(named, |actor| {
            same_as_index::linked_at(&self.index, actor, as_of)
        })
    }

    fn page(
        &self,
        walk: &Walk<'_>,
        snapshot: Snapshot,
        limit: usize,
        facts_ok: impl Fn(&Facts) -> bool,
        matches: impl Fn(&EntryBody) -> bool,
    ) -> Result<QueryPage, StoreError> {
        let mut postings = self.merged(walk);
        let mut entries = Vec::with_capacity(limit.min(64));
        let mut last_returned = None;
        let mut examined = 0;
        let mut previous = None;
        while let Some(posting) = postings.next_posting()? {
            examined += 1;
            let key = DateKey {
                earliest: posting.facts.span.earliest,
                position: posting.position,
            };
            // An entry of two actors of one class is in both their lists; the merge yields its
            // postings one after the other (same order key), and the first one decides.
            let repeat = previous == Some(posting.position);
            previous = Some(posting.position);
            if !repeat && posting.position <= snapshot.as_of && facts_ok(&posting.facts) {
                if let Some(entry) = self.visible(posting.position, snapshot, &matches)? {
                    if entries.len() == limit {
                        // One match beyond the page: another page follows.
                        return Ok(QueryPage {
                            entries,
                            resume: last_returned,
                        });
                    }
                    entries.push(entry);
                    last_returned = Some(key);
                }
            }
            if examined == SCAN_BUDGET {
                return Ok(QueryPage {
                    entries,
                    resume: Some(key),
                });
            }
        }
        Ok(QueryPage {
            entries,
            resume: None,
        })
    }

    /// The entry at `position` if it matches and is visible in `snapshot` (not superseded by
    /// an entry at or before `snapshot.as_of`, unless superseded entries are wanted).
    fn visible(
        &self,
        position: Position,
        snapshot: Snapshot,
        matches: impl Fn(&EntryBody) -> bool,
    ) -> Result<Option<Entry>, StoreError> {
        let Some(entry) = self.log.read_at(position)? else {
            return Ok(None);
        };
        if !matches(&entry.body) {
            return Ok(None);
        }
        if !snapshot.include_superseded {
            if let Some(by) = index_reads::first_supersession(&self.index, entry.body.id())? {
                if by <= snapshot.as_of {
                    return Ok(None);
                }
            }
        }
        Ok(Some(entry))
    }

    /// The postings of every scope of `walk`, merged into its order.
    fn merged(&self, walk: &Walk<'_>) -> Merge {
        let mut streams = Vec::new();
        for scope in &walk.scopes {
            let prefix = scope.prefix(walk.family);
            match walk.family {
                Family::Position => {
                    // A block ends at its last position, so the one that holds the cursor's
                    // successor is the first whose key is past the cursor; a block that ends
                    // after `as_of` may still hold postings before it, so the walk runs to the
                    // scope's end and stops at the first posting past `as_of`.
                    let lower = match walk.after {
                        Some(after) => Bound::Excluded(position_key(&prefix, after.position)),
                        None => Bound::Included(position_key(&prefix, Position(1))),
                    };
                    let (_, upper) = index_reads::prefix_range(prefix);
                    let (after, as_of) = (walk.after.map(|a| a.position), walk.as_of);
                    streams.push(block_walk(
                        &self.index,
                        (lower, upper),
                        false,
                        Box::new(move |p: &Posting| {
                            if p.position > as_of {
                                Keep::Stop
                            } else if after.is_some_and(|a| p.position <= a) {
                                Keep::Skip
                            } else {
                                Keep::Yes
                            }
                        }),
                    ));
                }
                Family::Date => {
                    for class in 0..=OPEN_CLASS {
                        if let Some(range) = class_range(&prefix, class, walk) {
                            let order = walk.order;
                            let after = walk.after;
                            streams.push(block_walk(
                                &self.index,
                                range,
                                order == QueryOrder::DateDescending,
                                Box::new(move |p: &Posting| match after {
                                    Some(cut) if !is_after(order, p, cut) => Keep::Skip,
                                    _ => Keep::Yes,
                                }),
                            ));
                        }
                    }
                }
            }
        }
        Merge {
            streams: streams.into_iter().map(Iterator::peekable).collect(),
            order: walk.order,
        }
    }
}

/// What a walk does with a posting it finds in a block.
enum Keep {
    /// Yields it.
    Yes,
    /// Passes over it: it precedes the walk's cursor.
    Skip,
    /// Ends the walk: it and everything after it are past the walk's end.
    Stop,
}

/// The postings of the blocks in `range`, in the walk's order (blocks and the postings inside
/// them backwards when `reverse`), as `keep` decides. A block that fails to decode is reported
/// as corrupt.
fn block_walk(
    index: &FjallIndex,
    range: KeyRange,
    reverse: bool,
    keep: Box<dyn Fn(&Posting) -> Keep + Send>,
) -> Box<dyn Iterator<Item = Result<Posting, StoreError>> + Send> {
    let mut blocks = index_reads::walk(index, range, reverse, decode_block);
    let mut current: std::vec::IntoIter<Posting> = Vec::new().into_iter();
    let mut stopped = false;
    Box::new(std::iter::from_fn(move || loop {
        if stopped {
            return None;
        }
        let next = if reverse {
            current.next_back()
        } else {
            current.next()
        };
        match next {
            Some(posting) => match keep(&posting) {
                Keep::Yes => return Some(Ok(posting)),
                Keep::Skip => continue,
                Keep::Stop => {
                    stopped = true;
                    return None;
                }
            },
            None => match blocks.next()? {
                Ok(block) => current = block.into_iter(),
                Err(error) => {
                    stopped = true;
                    return Some(Err(error));
                }
            },
        }
    }))
}

/// True if `posting` comes after the cursor `cut` in a date-ordered walk.
fn is_after(order: QueryOrder, posting: &Posting, cut: DateKey) -> bool {
    let key = (posting.facts.span.earliest, posting.position);
    match order {
        QueryOrder::DateDescending => key < (cut.earliest, cut.position),
        _ => key > (cut.earliest, cut.position),
    }
}

fn family_for(order: QueryOrder) -> Family {
    match order {
        QueryOrder::Position => Family::Position,
        QueryOrder::DateAscending | QueryOrder::DateDescending => Family::Date,
    }
}

/// Pair lists a query walks at most for two actor classes (see `domain::same_as`); beyond,
/// it walks the first class's lists and checks the other on each candidate.
const MAX_PAIR_SCOPES: usize = 16;

/// The pair lists of every member of `a` with every member of `b`, when that covers the
/// answer: the classes are disjoint (an entry of two members of one class is in no pair list
/// of the other) and the pairs are few.
fn pair_scopes<'a>(
    a: &'a ActorClass,
    b: &'a ActorClass,
    pair: fn(&'a ActorId, &'a ActorId) -> Scope<'a>,
) -> Option<Vec<Scope<'a>>> {
    let disjoint = a.ids().all(|id| !b.contains(id));
    if !disjoint || a.len() * b.len() > MAX_PAIR_SCOPES {
        return None;
    }
    Some(
        a.ids()
            .flat_map(|x| b.ids().map(move |y| pair(x, y)))
            .collect(),
    )
}

/// The posting lists an event query walks: its most specific filter's, for each actor of its
/// classes.
fn event_scopes(query: &EventQuery, order: QueryOrder) -> Vec<Scope<'_>> {
    let by_date = order != QueryOrder::Position;
    if let (Some(a), Some(c), true) = (&query.actor, &query.counterpart, by_date) {
        if let Some(scopes) = pair_scopes(a, c, Scope::event_pair) {
            return scopes;
        }
    }
    let anchor = query.actor.as_ref().or(query.counterpart.as_ref());
    match anchor {
        Some(class) if by_date && !query.relations.is_empty() => class
            .ids()
            .flat_map(|a| {
                query
                    .relations
                    .iter()
                    .map(move |r| Scope::EventActorRelation(a, r))
            })
            .collect(),
        Some(class) => class.ids().map(Scope::EventActor).collect(),
        None if !query.relations.is_empty() => {
            query.relations.iter().map(Scope::EventRelation).collect()
        }
        None => vec![Scope::Events],
    }
}

/// The posting lists a claim query walks: its most specific filter's, for each actor of its
/// classes.
fn claim_scopes(query: &ClaimQuery, order: QueryOrder) -> Vec<Scope<'_>> {
    let by_date = order != QueryOrder::Position;
    if let Some(event) = &query.event_id {
        return vec![Scope::ClaimEvent(event)];
    }
    if let (Some(s), Some(o), true) = (&query.subject, &query.object, by_date) {
        if let Some(scopes) = pair_scopes(s, o, Scope::claim_pair) {
            return scopes;
        }
    }
    let anchor = [&query.subject, &query.object, &query.claimant, &query.actor]
        .into_iter()
        .flatten()
        .next();
    match anchor {
        Some(class) if by_date && !query.relations.is_empty() => class
            .ids()
            .flat_map(|a| {
                query
                    .relations
                    .iter()
                    .map(move |r| Scope::ClaimActorRelation(a, r))
            })
            .collect(),
        Some(class) => class.ids().map(Scope::ClaimActor).collect(),
        None if !query.relations.is_empty() => {
            query.relations.iter().map(Scope::ClaimRelation).collect()
        }
        None => vec![Scope::Claims],
    }
}

/// The key range of one span class of a date posting list: the earliest days an entry of that
/// class can have and still match, cut at the cursor. `None` when the range is empty.
fn class_range(prefix: &[u8], class: u8, walk: &Walk<'_>) -> Option<KeyRange> {
    let dates = walk.dates;
    let lowest = match dates.mode {
        // A span of at most `max` days that ends on or after `from` starts after `from - max`.
        DateMatch::Overlaps => match CLASS_MAX_DAYS.get(usize::from(class)) {
            Some(max) => Day(dates.from.0.saturating_sub((*max - 1) as i32)),
            None => Day::OPEN_START,
        },
        DateMatch::Within => dates.from,
    };
    let mut lower = Bound::Included(date_key(prefix, class, lowest, Position(0)));
    let mut upper = Bound::Included(date_key(prefix, class, dates.to, Position(u64::MAX)));
    if let Some(after) = walk.after {
        // Blocks are keyed by their last position. Forwards, a block whose key is at or
        // before the cursor holds nothing after it; backwards, a block of the cursor's day
        // keyed after the cursor may hold postings before it, so the cut is the day's end.
        // The walk skips what precedes the cursor inside a block.
        if walk.order == QueryOrder::DateDescending {
            let cut = date_key(prefix, class, after.earliest, Position(u64::MAX));
            if bound_key(&upper) >= cut.as_slice() {
                upper = Bound::Included(cut);
            }
        } else {
            let cut = date_key(prefix, class, after.earliest, after.position);
            if bound_key(&lower) <= cut.as_slice() {
                lower = Bound::Excluded(cut);
            }
        }
    }
    (!is_empty_range(&lower, &upper)).then_some((lower, upper))
}

fn bound_key(bound: &Bound<Vec<u8>>) -> &[u8] {
    match bound {
        Bound::Included(key) | Bound::Excluded(key) => key,
        Bound::Unbounded => &[],
    }
}

/// True if no key lies between the bounds (sled refuses ranges that end before they start).
fn is_empty_range(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Included(u) | Bound::Excluded(u)) => {
            l >= u
        }
        _ => false,
    }
}

type PostingStream = Peekable<Box<dyn Iterator<Item = Result<Posting, StoreError>> + Send>>;

/// Several posting streams, each sorted in the query's order, read as one.
struct Merge {
    streams: Vec<PostingStream>,
    order: QueryOrder,
}

impl Merge {
    fn next_posting(&mut self) -> Result<Option<Posting>, StoreError> {
        let mut best: Option<(usize, Posting)> = None;
        for (i, stream) in self.streams.iter_mut().enumerate() {
            match stream.peek() {
                None => {}
                Some(Err(_)) => {
                    if let Some(Err(error)) = stream.next() {
                        return Err(error);
                    }
                }
                Some(Ok(posting))
                    if best
                        .as_ref()
                        .is_none_or(|(_, b)| precedes(self.order, posting, b)) =>
                {
                    best = Some((i, *posting));
                }
                Some(Ok(_)) => {}
            }
        }
        Ok(best.map(|(i, posting)| {
            self.streams[i].next();
            posting
        }))
    }
}

fn precedes(order: QueryOrder, a: &Posting, b: &Posting) -> bool {
    let key = |p: &Posting| (p.facts.span.earliest, p.position);
    match order {
        QueryOrder::DateAscending => key(a) < key(b),
        QueryOrder::DateDescending => key(a) > key(b),
        QueryOrder::Position => a.position < b.position,
    }
}
