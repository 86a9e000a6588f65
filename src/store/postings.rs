//! The query indexes: which postings an event or claim gets, and how they are encoded.
//!
//! A posting is a key in one of two families:
//!
//! - **date**: `Q d <scope> <class> <earliest day> <position>`, walked for date-ordered queries;
//! - **position**: `Q p <scope> <position>`, walked for position-ordered queries.
//!
//! The *scope* names the entries a posting list holds: all events, the events of one actor, of
//! one relation, of an actor with a relation, of a pair of actors; the same for claims, plus the
//! claims about one event. A query walks the narrowest scope its filters allow, so the work per
//! page follows the page, not the log. The value of every posting carries the facts that most
//! filters test (date span, certainty, negation, country), so most non-matching candidates are
//! skipped without reading the entry.
//!
//! Fuzzy dates make a date range query harder than a key range: "2022" overlaps September 2022
//! but starts in January. So date postings are split by the *class* of their span's length (a
//! day, a month, a quarter, a year, a decade, longer or open); within a class every span is at
//! most `CLASS_MAX_DAYS` long, so the entries overlapping `[from, to]` all start in
//! `[from - max + 1, to]`, one key range per class. The query merges the class ranges, which are
//! each sorted by (earliest day, position), into one stream in that order.
//!
//! Position postings exist only for the single-filter scopes (all, actor, relation, event): a
//! position-ordered query that combines filters walks one of those and checks the rest, which
//! costs more per page than the date order but keeps the index small.
//!
//! **Blocks.** Postings are not stored one key each: the indexer gathers the postings of the
//! entries it indexes in one batch (up to `indexer::CHUNK` consecutive entries) by list (the
//! key without its position: scope, and for date lists class and earliest day) and writes one
//! key per list, ending in the block's *last* position, whose value holds every posting of the
//! block in position order. Measured (issue 11, 2 CPUs): one key per posting spent about 40%
//! of the indexer in the LSM memtable's skiplist, comparing long keys with shared prefixes, at
//! 11 postings per event; a batch of 4 096 events of 10 actors, 2 relations and 28 days makes
//! about 1 200 blocks instead of 45 000 keys. Data arrives in the order things happened (a
//! GDELT day, an ACLED week), so real lists share days within a batch even more. At worst
//! (every posting alone in its list) a block is the old key with 8 more bytes of value.
//!
//! Blocks of one list never overlap: a batch covers positions after every earlier batch. So
//! the blocks of a list, in key order, hold its postings in (day,) position order, and a walk
//! that starts at a cursor seeks the first block whose last position is past it and skips
//! what precedes the cursor inside it (see `query::block_walk`). Postings never change once
//! written (supersession is its own index), so a block is never rewritten.

use crate::domain::{
    ActorId, Certainty, Claim, DateSpan, EntryBody, EntryId, Event, Position, RelationKey,
};

use super::keys::{
    self, date_list, day_bytes, day_of, scope_prefix, superseded_key, DATE_FAMILY, POSITION_FAMILY,
};

/// Which walk order a posting serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Sorted by (class, earliest day, position) within a scope.
    Date,
    /// Sorted by position within a scope.
    Position,
}

impl Family {
    fn byte(self) -> u8 {
        match self {
            Family::Date => DATE_FAMILY,
            Family::Position => POSITION_FAMILY,
        }
    }
}

/// A posting list: the entries of one kind that share a filter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every event.
    Events,
    /// Events an actor takes part in.
    EventActor(&'a ActorId),
    /// Events of a relation.
    EventRelation(&'a RelationKey),
    /// Events of a relation an actor takes part in.
    EventActorRelation(&'a ActorId, &'a RelationKey),
    /// Events two actors take part in (the pair in id order).
    EventPair(&'a ActorId, &'a ActorId),
    /// Every claim.
    Claims,
    /// Claims with an actor as subject, object or claimant.
    ClaimActor(&'a ActorId),
    /// Claims of a relation.
    ClaimRelation(&'a RelationKey),
    /// Claims of a relation with an actor as subject, object or claimant.
    ClaimActorRelation(&'a ActorId, &'a RelationKey),
    /// Claims with two actors as subject and object, in either order (the pair in id order).
    ClaimPair(&'a ActorId, &'a ActorId),
    /// Claims about an event.
    ClaimEvent(&'a EntryId),
}

impl Scope<'_> {
    /// The pair scope of two actors for events, whatever their order.
    pub fn event_pair<'a>(a: &'a ActorId, b: &'a ActorId) -> Scope<'a> {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        Scope::EventPair(low, high)
    }

    /// The pair scope of two actors for claims, whatever their order.
    pub fn claim_pair<'a>(a: &'a ActorId, b: &'a ActorId) -> Scope<'a> {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        Scope::ClaimPair(low, high)
    }

    /// True if position postings exist for this scope.
    pub fn has_position_postings(&self) -> bool {
        matches!(
            self,
            Scope::Events
                | Scope::EventActor(_)
                | Scope::EventRelation(_)
                | Scope::Claims
                | Scope::ClaimActor(_)
                | Scope::ClaimRelation(_)
                | Scope::ClaimEvent(_)
        )
    }

    fn tag_and_parts(&self) -> (u8, [&str; 2]) {
        match *self {
            Scope::Events => (b'E', ["", ""]),
            Scope::EventActor(a) => (b'a', [a.as_str(), ""]),
            Scope::EventRelation(r) => (b'r', [r.as_str(), ""]),
            Scope::EventActorRelation(a, r) => (b'b', [a.as_str(), r.as_str()]),
            Scope::EventPair(a, b) => (b'c', [a.as_str(), b.as_str()]),
            Scope::Claims => (b'C', ["", ""]),
            Scope::ClaimActor(a) => (b'A', [a.as_str(), ""]),
            Scope::ClaimRelation(r) => (b'R', [r.as_str(), ""]),
            Scope::ClaimActorRelation(a, r) => (b'B', [a.as_str(), r.as_str()]),
            Scope::ClaimPair(a, b) => (b'P', [a.as_str(), b.as_str()]),
            Scope::ClaimEvent(e) => (b'V', [e.as_str(), ""]),
        }
    }

    /// The key prefix of this scope's postings in `family`. Each text part ends with 0x00,
    /// which ids and relation keys never contain, so no scope's prefix is another's.
    pub fn prefix(&self, family: Family) -> Vec<u8> {
        let (tag, parts) = self.tag_and_parts();
        scope_prefix(family.byte(), tag, parts)
    }
}

/// Span-length classes of date postings: the longest span, in days, each class holds. Spans
/// longer than the last, or open at either end, are in the open class. The bounds roughly
/// double, so within a class no span is much shorter than the class's window: the entries a
/// range walk skips because they end before the range stay a fraction of those it returns.
pub const CLASS_MAX_DAYS: [i64; 10] = [1, 7, 31, 92, 183, 366, 731, 1_462, 2_923, 5_844];
/// The class of spans that are open or longer than every bounded class.
pub const OPEN_CLASS: u8 = CLASS_MAX_DAYS.len() as u8;

/// The class of a span (see the module docs).
pub fn class_of(span: DateSpan) -> u8 {
    if span.earliest.is_open() || span.latest.is_open() {
        return OPEN_CLASS;
    }
    let days = i64::from(span.latest.0) - i64::from(span.earliest.0) + 1;
    CLASS_MAX_DAYS
        .iter()
        .position(|max| days <= *max)
        .map_or(OPEN_CLASS, |c| c as u8)
}

/// What a posting's value says about its entry, for filtering without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// The entry's date span (a claim's `valid`, unbounded if it has none).
    pub span: DateSpan,
    /// Its certainty.
    pub certainty: Certainty,
    /// A negated claim.
    pub negated: bool,
    /// The event's location country (ASCII), zeros when unknown.
    pub country: [u8; 3],
}

const FACTS_LEN: usize = 12;

impl Facts {
    fn of(body: &EntryBody) -> Option<Facts> {
        match body {
            EntryBody::Actor(_) => None,
            EntryBody::Event(e) => Some(Facts {
                span: e.date.span(),
                certainty: e.certainty,
                negated: false,
                country: e
                    .location
                    .as_ref()
                    .and_then(|l| l.country.as_ref())
                    .and_then(|c| c.as_str().as_bytes().try_into().ok())
                    .unwrap_or([0; 3]),
            }),
            EntryBody::Claim(c) => Some(Facts {
                span: crate::domain::query::claim_span(c),
                certainty: c.certainty,
                negated: c.negated,
                country: [0; 3],
            }),
        }
    }

    fn encode(&self) -> [u8; FACTS_LEN] {
        let mut value = [0; FACTS_LEN];
        value[0..4].copy_from_slice(&day_bytes(self.span.earliest));
        value[4..8].copy_from_slice(&day_bytes(self.span.latest));
        value[8] = certainty_byte(self.certainty) | if self.negated { 0x80 } else { 0 };
        value[9..12].copy_from_slice(&self.country);
        value
    }

    fn decode(value: &[u8]) -> Option<Facts> {
        let value: &[u8; FACTS_LEN] = value.try_into().ok()?;
        Some(Facts {
            span: DateSpan {
                earliest: day_of(value[0..4].try_into().ok()?),
                latest: day_of(value[4..8].try_into().ok()?),
            },
            certainty: certainty_of(value[8] & 0x7f)?,
            negated: value[8] & 0x80 != 0,
            country: value[9..12].try_into().ok()?,
        })
    }
}

/// One decoded posting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    /// The entry's position.
    pub position: Position,
    /// What the value says about it.
    pub facts: Facts,
}

/// Bytes of one posting in a block: its position, then its facts.
const POSTING_LEN: usize = 8 + FACTS_LEN;

/// Decodes a block of postings from its key and value, in position order. A block whose
/// postings are not in strictly ascending order or do not end at the key's position is
/// refused (`None`), so a damaged block is reported rather than read as wrong answers.
pub fn decode_block(key: &[u8], value: &[u8]) -> Option<Vec<Posting>> {
    let last = keys::position_of_posting_key(key)?;
    if value.is_empty() || !value.len().is_multiple_of(POSTING_LEN) {
        return None;
    }
    let mut postings = Vec::with_capacity(value.len() / POSTING_LEN);
    for item in value.chunks_exact(POSTING_LEN) {
        let position = keys::decode_position(&item[..8])?;
        if postings
            .last()
            .is_some_and(|p: &Posting| p.position >= position)
        {
            return None;
        }
        postings.push(Posting {
            position,
            facts: Facts::decode(&item[8..])?,
        });
    }
    (postings.last().map(|p| p.position) == Some(last)).then_some(postings)
}

/// An entry's posting in one list: the list's key (everything but the position) and the
/// posting itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosting {
    /// Scope prefix, and for date lists the class and earliest day.
    pub list: Vec<u8>,
    /// The entry's position and facts.
    pub posting: Posting,
}

/// Every posting of the entry at `position`, one per list it belongs to. Actors have none.
pub fn postings(position: Position, body: &EntryBody) -> Vec<ListPosting> {
    let Some(facts) = Facts::of(body) else {
        return Vec::new();
    };
    let scopes = match body {
        EntryBody::Actor(_) => Vec::new(),
        EntryBody::Event(e) => event_scopes(e),
        EntryBody::Claim(c) => claim_scopes(c),
    };
    let posting = Posting { position, facts };
    let class = class_of(facts.span);
    let mut lists = Vec::with_capacity(scopes.len() * 2);
    for scope in scopes {
        lists.push(ListPosting {
            list: date_list(&scope.prefix(Family::Date), class, facts.span.earliest),
            posting,
        });
        if scope.has_position_postings() {
            lists.push(ListPosting {
                list: scope.prefix(Family::Position),
                posting,
            });
        }
    }
    lists
}

/// The postings of consecutive entries, gathered by list into the blocks of one batch.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    /// List -> its block so far (encoded postings) and the block's last position.
    blocks: std::collections::HashMap<Vec<u8>, (Vec<u8>, Position)>,
}

impl BlockBuilder {
    /// Adds a posting. Postings of one list must come in ascending position order (entries
    /// are indexed in log order); one that does not is a bug, refused before it is stored.
    pub fn add(&mut self, item: ListPosting) -> Result<(), String> {
        let (block, last) = self
            .blocks
            .entry(item.list)
            .or_insert_with(|| (Vec::with_capacity(POSTING_LEN), Position::ZERO));
        if item.posting.position <= *last {
            return Err(format!(
                "posting at {} after one at {} in the same list",
                item.posting.position, last
            ));
        }
        block.extend_from_slice(&item.posting.position.0.to_be_bytes());
        block.extend_from_slice(&item.posting.facts.encode());
        *last = item.posting.position;
        Ok(())
    }

    /// The blocks as keys (list + last position) and values.
    pub fn into_writes(self) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
        self.blocks.into_iter().map(|(mut list, (block, last))| {
            list.extend_from_slice(&last.0.to_be_bytes());
            (list, block)
        })
    }
}

fn event_scopes(event: &Event) -> Vec<Scope<'_>> {
    let mut actors: Vec<&ActorId> = event.participants.iter().map(|p| &p.actor_id).collect();
    actors.sort();
    actors.dedup();
    let mut scopes = vec![Scope::Events, Scope::EventRelation(&event.relation)];
    for (i, actor) in actors.iter().enumerate() {
        scopes.push(Scope::EventActor(actor));
        scopes.push(Scope::EventActorRelation(actor, &event.relation));
        for other in &actors[i + 1..] {
            scopes.push(Scope::EventPair(actor, other));
        }
    }
    scopes
}

fn claim_scopes(claim: &Claim) -> Vec<Scope<'_>> {
    let mut scopes = vec![Scope::Claims];
    let mut actors: Vec<&ActorId> = [&claim.subject, &claim.object, &claim.claimant]
        .into_iter()
        .flatten()
        .collect();
    actors.sort();
    actors.dedup();
    for actor in &actors {
        scopes.push(Scope::ClaimActor(actor));
        if let Some(relation) = &claim.relation {
            scopes.push(Scope::ClaimActorRelation(actor, relation));
        }
    }
    if let Some(relation) = &claim.relation {
        scopes.push(Scope::ClaimRelation(relation));
    }
    if let (Some(subject), Some(object)) = (&claim.subject, &claim.object) {
        if subject != object {
            scopes.push(Scope::claim_pair(subject, object));
        }
    }
    if let Some(event) = &claim.event_id {
        scopes.push(Scope::ClaimEvent(event));
    }
    scopes
}

/// The corrections an entry makes: one key per id it supersedes.
pub fn supersession_keys(position: Position, body: &EntryBody) -> Vec<Vec<u8>> {
    let ids = match body {
        EntryBody::Actor(_) => return Vec::new(),
        EntryBody::Event(e) => &e.supersedes,
        EntryBody::Claim(c) => &c.supersedes,
    };
    ids.iter().map(|id| superseded_key(id, position)).collect()
}

fn certainty_byte(certainty: Certainty) -> u8 {
    match certainty {
        Certainty::Confirmed => 1,
        Certainty::Reported => 2,
        Certainty::Alleged => 3,
        Certainty::Speculated => 4,
        Certainty::Disputed => 5,
    }
}

fn certainty_of(byte: u8) -> Option<Certainty> {
    Some(match byte {
        1 => Certainty::Confirmed,
        2 => Certainty::Reported,
        3 => Certainty::Alleged,
        4 => Certainty::Speculated,
        5 => Certainty::Disputed,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Edtf;

    #[test]
    fn spans_fall_in_the_class_of_their_length() {
        let class = |text: &str| class_of(Edtf::parse(text).expect("valid").span());
        assert_eq!(class("2022-09-24"), 0);
        assert_eq!(class("2022-09-24~"), 1); // a day either side
        assert_eq!(class("2022-09"), 2);
        assert_eq!(class("2022-21"), 3); // spring: three months
        assert_eq!(class("2022"), 5);
        assert_eq!(class("2022~"), 7); // a year either side
        assert_eq!(class("2015/2023"), 9);
        assert_eq!(class("1990/2010"), OPEN_CLASS);
        assert_eq!(class("2015/.."), OPEN_CLASS);
        assert_eq!(class_of(DateSpan::UNBOUNDED), OPEN_CLASS);
    }

    #[test]
    fn facts_round_trip() {
        let facts = Facts {
            span: Edtf::parse("2022-03~").expect("valid").span(),
            certainty: Certainty::Speculated,
            negated: true,
            country: *b"SYR",
        };
        assert_eq!(Facts::decode(&facts.encode()), Some(facts));
        assert_eq!(Facts::decode(&[0; 3]), None);
    }

    #[test]
    fn a_block_holds_its_postings_in_order_under_its_last_position() {
        let facts = |day: i32| Facts {
            span: DateSpan {
                earliest: crate::domain::Day(day),
                latest: crate::domain::Day(day),
            },
            certainty: Certainty::Alleged,
            negated: false,
            country: *b"SYR",
        };
        let list = b"Qd-list".to_vec();
        let mut builder = BlockBuilder::default();
        for (position, day) in [(3, 10), (7, 11), (12, 12)] {
            let posting = Posting {
                position: Position(position),
                facts: facts(day),
            };
            builder
                .add(ListPosting {
                    list: list.clone(),
                    posting,
                })
                .expect("ascending");
        }
        let late = Posting {
            position: Position(12),
            facts: facts(1),
        };
        assert!(builder
            .add(ListPosting {
                list: list.clone(),
                posting: late
            })
            .is_err());
        let writes: Vec<_> = builder.into_writes().collect();
        assert_eq!(writes.len(), 1, "one key per list");
        let (key, value) = &writes[0];
        assert_eq!(keys::position_of_posting_key(key), Some(Position(12)));
        let postings = decode_block(key, value).expect("decodes");
        assert_eq!(
            postings.iter().map(|p| p.position.0).collect::<Vec<_>>(),
            [3, 7, 12]
        );
        assert_eq!(postings[1].facts, facts(11));
        // Damage is refused, never read as other postings.
        assert_eq!(decode_block(key, &value[..value.len() - 1]), None);
        let mut wrong_last = key.clone();
        *wrong_last.last_mut().expect("a key") = 13;
        assert_eq!(decode_block(&wrong_last, value), None);
        let mut swapped = value[POSTING_LEN..2 * POSTING_LEN].to_vec();
        swapped.extend_from_slice(&value[..POSTING_LEN]);
        swapped.extend_from_slice(&value[2 * POSTING_LEN..]);
        assert_eq!(decode_block(key, &swapped), None);
        assert_eq!(decode_block(key, &[]), None);
    }

    #[test]
    fn scope_prefixes_do_not_nest() {
        let a = ActorId::parse("ab").expect("valid");
        let ab = ActorId::parse("abc").expect("valid");
        let short = Scope::EventActor(&a).prefix(Family::Date);
        let long = Scope::EventActor(&ab).prefix(Family::Date);
        assert!(!long.starts_with(&short));
    }
}
