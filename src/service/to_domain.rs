//! Requests to domain values: every rule a single entry must follow, checked at the edge.
//!
//! Errors name the field by its path inside the entry (`event.participants[2].role`); the
//! caller prefixes the entry's index. Nothing here reads the store: rules that depend on what the
//! log holds (duplicates, references) are the writer's.

use std::collections::BTreeMap;

use crate::domain::limits::{
    check_count, check_text, MAX_AFFILIATIONS, MAX_ALIASES, MAX_ATTRIBUTES, MAX_LONG_TEXT,
    MAX_MEDIUM_TEXT, MAX_PARTICIPANTS, MAX_SAME_AS, MAX_SHORT_TEXT, MAX_SOURCES, MAX_SUPERSEDES,
};
use crate::domain::quote::quoted;
use crate::domain::{
    Actor, ActorKind, Affiliation, Certainty, Claim, CountryCode, DateMatch, DateRange, Direction,
    Edtf, EntryBody, EntryId, Event, FieldProblem, InvalidField, Location, Participant, QueryOrder,
    RelationKey, Role, Source, Vocabulary,
};
use crate::proto;

type Result<T> = std::result::Result<T, InvalidField>;

/// Converts one entry of an `AppendRequest`.
pub fn entry_body(entry: proto::Entry, vocabulary: &Vocabulary) -> Result<EntryBody> {
    if entry.position != 0 {
        return Err(InvalidField::of(
            FieldProblem::ServerAssigned,
            "position",
            "is assigned by the server; leave it unset (0) when appending",
        ));
    }
    if entry.recorded_at.is_some() {
        return Err(InvalidField::of(
            FieldProblem::ServerAssigned,
            "recorded_at",
            "is assigned by the server; leave it unset when appending",
        ));
    }
    match entry.body {
        None => Err(InvalidField::missing(
            "body",
            "is missing: set one of actor, event or claim",
        )),
        Some(proto::entry::Body::Actor(a)) => actor(a, vocabulary).map(EntryBody::Actor),
        Some(proto::entry::Body::Event(e)) => event(e, vocabulary).map(EntryBody::Event),
        Some(proto::entry::Body::Claim(c)) => claim(c, vocabulary).map(EntryBody::Claim),
    }
}

/// Parses an id field.
pub fn id(field: &str, text: &str) -> Result<EntryId> {
    EntryId::parse(text).map_err(|reason| InvalidField::of(FieldProblem::InvalidId, field, reason))
}

fn optional_id(field: &str, text: &str) -> Result<Option<EntryId>> {
    if text.is_empty() {
        Ok(None)
    } else {
        id(field, text).map(Some)
    }
}

fn relation(field: &str, key: &str, vocabulary: &Vocabulary) -> Result<RelationKey> {
    vocabulary
        .relation(key)
        .map_err(|reason| InvalidField::of(FieldProblem::UnknownRelation, field, reason))
}

fn date(field: &str, text: &str) -> Result<Edtf> {
    if text.is_empty() {
        return Err(InvalidField::missing(
            field,
            "is required: give an EDTF date such as 2022, 2022-09, 2022-09-24 or 2022-03~",
        ));
    }
    Edtf::parse(text).map_err(|e| InvalidField::of(FieldProblem::InvalidDate, field, e.to_string()))
}

/// Parses an optional EDTF date field.
pub fn optional_date(field: &str, text: &str) -> Result<Option<Edtf>> {
    if text.is_empty() {
        Ok(None)
    } else {
        date(field, text).map(Some)
    }
}

/// Parses an optional country code field.
pub fn optional_country(field: &str, text: &str) -> Result<Option<CountryCode>> {
    if text.is_empty() {
        return Ok(None);
    }
    CountryCode::parse(text)
        .map(Some)
        .map_err(|reason| InvalidField::new(field, reason))
}

fn text(field: &str, value: String, max: usize) -> Result<String> {
    check_text(&value, max).map_err(|reason| {
        let problem = if value.chars().count() > max {
            FieldProblem::TooLarge
        } else {
            FieldProblem::Invalid
        };
        InvalidField::of(problem, field, reason)
    })?;
    Ok(value)
}

fn required_text(field: &str, value: String, max: usize) -> Result<String> {
    if value.trim().is_empty() {
        return Err(InvalidField::missing(
            field,
            "is required and may not be blank",
        ));
    }
    text(field, value, max)
}

fn count(field: &str, len: usize, max: usize, what: &str) -> Result<()> {
    check_count(len, max, what)
        .map_err(|reason| InvalidField::of(FieldProblem::TooLarge, field, reason))
}

/// Converts an `ActorKind` enum value; unspecified is `None`.
pub fn actor_kind(field: &str, value: i32) -> Result<Option<ActorKind>> {
    use proto::ActorKind as P;
    Ok(Some(match P::try_from(value) {
        Ok(P::Unspecified) => return Ok(None),
        Ok(P::State) => ActorKind::State,
        Ok(P::GovernmentBody) => ActorKind::GovernmentBody,
        Ok(P::Military) => ActorKind::Military,
        Ok(P::ArmedGroup) => ActorKind::ArmedGroup,
        Ok(P::PrivateMilitaryCompany) => ActorKind::PrivateMilitaryCompany,
        Ok(P::PoliticalParty) => ActorKind::PoliticalParty,
        Ok(P::Person) => ActorKind::Person,
        Ok(P::Organization) => ActorKind::Organization,
        Err(_) => return Err(unknown_enum(field, value, "ActorKind")),
    }))
}

fn role(field: &str, value: i32) -> Result<Role> {
    use proto::Role as P;
    match P::try_from(value) {
        Ok(P::Initiator) => Ok(Role::Initiator),
        Ok(P::Target) => Ok(Role::Target),
        Ok(P::Participant) => Ok(Role::Participant),
        Ok(P::Supporter) => Ok(Role::Supporter),
        Ok(P::Unspecified) => Err(InvalidField::missing(
            field,
            "is required: ROLE_INITIATOR, ROLE_TARGET, ROLE_PARTICIPANT or ROLE_SUPPORTER",
        )),
        Err(_) => Err(unknown_enum(field, value, "Role")),
    }
}

/// Converts a `Role` enum value used as a filter; unspecified is `None`.
pub fn optional_role(field: &str, value: i32) -> Result<Option<Role>> {
    match proto::Role::try_from(value) {
        Ok(proto::Role::Unspecified) => Ok(None),
        _ => role(field, value).map(Some),
    }
}

/// Converts a `DateMatch` enum value; unspecified is OVERLAPS.
pub fn date_match(field: &str, value: i32) -> Result<DateMatch> {
    use proto::DateMatch as P;
    match P::try_from(value) {
        Ok(P::Unspecified | P::Overlaps) => Ok(DateMatch::Overlaps),
        Ok(P::Within) => Ok(DateMatch::Within),
        Err(_) => Err(unknown_enum(field, value, "DateMatch")),
    }
}

/// Converts a `QueryOrder` enum value; unspecified is DATE_ASCENDING.
pub fn query_order(field: &str, value: i32) -> Result<QueryOrder> {
    use proto::QueryOrder as P;
    match P::try_from(value) {
        Ok(P::Unspecified | P::DateAscending) => Ok(QueryOrder::DateAscending),
        Ok(P::DateDescending) => Ok(QueryOrder::DateDescending),
        Ok(P::Position) => Ok(QueryOrder::Position),
        Err(_) => Err(unknown_enum(field, value, "QueryOrder")),
    }
}

/// Converts a `Direction` enum value; unspecified is BOTH.
pub fn direction(field: &str, value: i32) -> Result<Direction> {
    use proto::Direction as P;
    match P::try_from(value) {
        Ok(P::Unspecified | P::Both) => Ok(Direction::Both),
        Ok(P::Outgoing) => Ok(Direction::Outgoing),
        Ok(P::Incoming) => Ok(Direction::Incoming),
        Err(_) => Err(unknown_enum(field, value, "Direction")),
    }
}

/// A range of EDTF dates, either end open.
pub fn date_range(from: &str, to: &str, mode: DateMatch) -> Result<DateRange> {
    let from = optional_date("date_from", from)?;
    let to = optional_date("date_to", to)?;
    DateRange::between(from.as_ref(), to.as_ref(), mode)
        .map_err(|reason| InvalidField::new("date_from", reason))
}

/// Relation keys of a query filter, each checked against the vocabulary, without repeats (a
/// query walks one index per relation, so a repeat would return its entries twice).
pub fn relations(
    field: &str,
    keys: &[String],
    vocabulary: &Vocabulary,
) -> Result<Vec<RelationKey>> {
    if keys.len() > vocabulary.len() {
        return Err(InvalidField::new(
            field,
            format!(
                "lists {} relations; the vocabulary has only {}",
                keys.len(),
                vocabulary.len()
            ),
        ));
    }
    let mut relations = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            vocabulary.relation(key).map_err(|reason| {
                InvalidField::of(
                    FieldProblem::UnknownRelation,
                    format!("{field}[{i}]"),
                    reason,
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    relations.sort();
    relations.dedup();
    Ok(relations)
}

/// Converts a `Certainty` enum value; unspecified is `None`.
pub fn certainty(field: &str, value: i32) -> Result<Option<Certainty>> {
    use proto::Certainty as P;
    Ok(Some(match P::try_from(value) {
        Ok(P::Unspecified) => return Ok(None),
        Ok(P::Confirmed) => Certainty::Confirmed,
        Ok(P::Reported) => Certainty::Reported,
        Ok(P::Alleged) => Certainty::Alleged,
        Ok(P::Speculated) => Certainty::Speculated,
        Ok(P::Disputed) => Certainty::Disputed,
        Err(_) => return Err(unknown_enum(field, value, "Certainty")),
    }))
}

fn required_certainty(field: &str, value: i32) -> Result<Certainty> {
    certainty(field, value)?.ok_or_else(|| {
        InvalidField::missing(
            field,
            "is required: CERTAINTY_CONFIRMED, _REPORTED, _ALLEGED, _SPECULATED or _DISPUTED",
        )
    })
}

fn unknown_enum(field: &str, value: i32, name: &str) -> InvalidField {
    InvalidField::new(field, format!("{value} is not a known {name} value"))
}

fn actor(a: proto::Actor, vocabulary: &Vocabulary) -> Result<Actor> {
    let id = id("actor.id", &a.id)?;
    let kind = actor_kind("actor.kind", a.kind)?.ok_or_else(|| {
        InvalidField::missing(
            "actor.kind",
            "is required, e.g. ACTOR_KIND_STATE or ACTOR_KIND_ARMED_GROUP",
        )
    })?;
    count("actor.aliases", a.aliases.len(), MAX_ALIASES, "aliases")?;
    let aliases = a
        .aliases
        .into_iter()
        .enumerate()
        .map(|(i, alias)| {
            required_text("", alias, MAX_SHORT_TEXT)
                .map_err(|e| e.at(format!("actor.aliases[{i}]")))
        })
        .collect::<Result<_>>()?;
    count(
        "actor.affiliations",
        a.affiliations.len(),
        MAX_AFFILIATIONS,
        "affiliations",
    )?;
    let affiliations = a
        .affiliations
        .into_iter()
        .enumerate()
        .map(|(i, af)| {
            affiliation(af, &id, vocabulary)
                .map_err(|e| e.under(&format!("actor.affiliations[{i}]")))
        })
        .collect::<Result<_>>()?;
    let same_as = same_as(&a.same_as, &id)?;
    Ok(Actor {
        name: required_text("actor.name", a.name, MAX_SHORT_TEXT)?,
        aliases,
        kind,
        country: optional_country("actor.country", &a.country)?,
        affiliations,
        same_as,
        description: text("actor.description", a.description, MAX_LONG_TEXT)?,
        id,
    })
}

fn affiliation(
    af: proto::Affiliation,
    own: &EntryId,
    vocabulary: &Vocabulary,
) -> Result<Affiliation> {
    let actor_id = id("actor_id", &af.actor_id)?;
    if &actor_id == own {
        return Err(InvalidField::new(
            "actor_id",
            "is the actor itself; an actor cannot be affiliated with itself",
        ));
    }
    Ok(Affiliation {
        actor_id,
        relation: relation("relation", &af.relation, vocabulary)?,
        valid: optional_date("valid", &af.valid)?,
    })
}

/// An actor's `same_as` ids: valid, not the actor itself, each once. Whether they are in the
/// log is the writer's to check, with the other references.
fn same_as(ids: &[String], own: &EntryId) -> Result<Vec<EntryId>> {
    count("actor.same_as", ids.len(), MAX_SAME_AS, "ids")?;
    let mut parsed: Vec<EntryId> = Vec::with_capacity(ids.len());
    for (i, text) in ids.iter().enumerate() {
        let field = format!("actor.same_as[{i}]");
        let other = id(&field, text)?;
        if &other == own {
            return Err(InvalidField::new(
                field,
                "is the actor itself; same_as lists other actors this one is the same as",
            ));
        }
        if parsed.contains(&other) {
            return Err(InvalidField::new(field, "is listed twice"));
        }
        parsed.push(other);
    }
    Ok(parsed)
}

fn participant(p: proto::Participant) -> Result<Participant> {
    Ok(Participant {
        actor_id: id("actor_id", &p.actor_id)?,
        role: role("role", p.role)?,
    })
}

fn event(e: proto::Event, vocabulary: &Vocabulary) -> Result<Event> {
    let id = id("event.id", &e.id)?;
    if e.participants.is_empty() {
        return Err(InvalidField::missing(
            "event.participants",
            "is empty; an event needs at least one participant",
        ));
    }
    count(
        "event.participants",
        e.participants.len(),
        MAX_PARTICIPANTS,
        "participants",
    )?;
    let participants = e
        .participants
        .into_iter()
        .enumerate()
        .map(|(i, p)| participant(p).map_err(|e| e.under(&format!("event.participants[{i}]"))))
        .collect::<Result<_>>()?;
    count(
        "event.attributes",
        e.attributes.len(),
        MAX_ATTRIBUTES,
        "attributes",
    )?;
    let attributes = e
        .attributes
        .into_iter()
        .map(|(key, value)| {
            let field = || format!("event.attributes[{}]", quoted(&key));
            let checked_key =
                required_text("", key.clone(), MAX_SHORT_TEXT).map_err(|e| e.at(field()))?;
            let value = text("", value, MAX_MEDIUM_TEXT).map_err(|e| e.at(field()))?;
            Ok((checked_key, value))
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    Ok(Event {
        relation: relation("event.relation", &e.relation, vocabulary)?,
        participants,
        date: date("event.date", &e.date)?,
        location: e.location.map(location).transpose()?,
        summary: text("event.summary", e.summary, MAX_LONG_TEXT)?,
        sources: sources("event.sources", e.sources)?,
        certainty: required_certainty("event.certainty", e.certainty)?,
        attributes,
        supersedes: supersedes("event.supersedes", e.supersedes, &id)?,
        id,
    })
}

fn claim(c: proto::Claim, vocabulary: &Vocabulary) -> Result<Claim> {
    let id = id("claim.id", &c.id)?;
    let subject = optional_id("claim.subject", &c.subject)?;
    let object = optional_id("claim.object", &c.object)?;
    let event_id = optional_id("claim.event_id", &c.event_id)?;
    let relation = if c.relation.is_empty() {
        None
    } else {
        Some(relation("claim.relation", &c.relation, vocabulary)?)
    };
    if event_id.is_none() && (subject.is_none() || relation.is_none()) {
        return Err(InvalidField::missing(
            "claim",
            "needs a subject and a relation (subject relation object), or an event_id for a claim about an event",
        ));
    }
    if object.is_some() && (subject.is_none() || relation.is_none()) {
        return Err(InvalidField::missing(
            "claim.object",
            "needs a subject and a relation to go with it",
        ));
    }
    Ok(Claim {
        subject,
        relation,
        object,
        event_id,
        valid: optional_date("claim.valid", &c.valid)?,
        claimant: optional_id("claim.claimant", &c.claimant)?,
        sources: sources("claim.sources", c.sources)?,
        certainty: required_certainty("claim.certainty", c.certainty)?,
        negated: c.negated,
        statement: text("claim.statement", c.statement, MAX_LONG_TEXT)?,
        supersedes: supersedes("claim.supersedes", c.supersedes, &id)?,
        id,
    })
}

fn location(l: proto::Location) -> Result<Location> {
    let coordinates = match (l.latitude, l.longitude) {
        (None, None) => None,
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) {
                return Err(InvalidField::new(
                    "event.location.latitude",
                    format!("{lat} is outside -90 to 90"),
                ));
            }
            if !(-180.0..=180.0).contains(&lon) {
                return Err(InvalidField::new(
                    "event.location.longitude",
                    format!("{lon} is outside -180 to 180"),
                ));
            }
            Some((lat, lon))
        }
        _ => {
            return Err(InvalidField::new(
                "event.location",
                "has only one coordinate; set both latitude and longitude, or neither",
            ))
        }
    };
    Ok(Location {
        name: text("event.location.name", l.name, MAX_SHORT_TEXT)?,
        country: optional_country("event.location.country", &l.country)?,
        admin1: text("event.location.admin1", l.admin1, MAX_SHORT_TEXT)?,
        coordinates,
    })
}

fn sources(field: &str, sources: Vec<proto::Source>) -> Result<Vec<Source>> {
    count(field, sources.len(), MAX_SOURCES, "sources")?;
    sources
        .into_iter()
        .enumerate()
        .map(|(i, s)| source(s).map_err(|e| e.under(&format!("{field}[{i}]"))))
        .collect()
}

fn source(s: proto::Source) -> Result<Source> {
    if s.name.trim().is_empty() && s.url.trim().is_empty() {
        return Err(InvalidField::missing("", "needs a name or a url"));
    }
    Ok(Source {
        name: text("name", s.name, MAX_SHORT_TEXT)?,
        url: text("url", s.url, MAX_MEDIUM_TEXT)?,
        published: optional_date("published", &s.published)?,
    })
}

fn supersedes(field: &str, ids: Vec<String>, own: &EntryId) -> Result<Vec<EntryId>> {
    count(field, ids.len(), MAX_SUPERSEDES, "ids")?;
    ids.iter()
        .enumerate()
        .map(|(i, text)| {
            let superseded = id("", text).map_err(|e| e.at(format!("{field}[{i}]")))?;
            if &superseded == own {
                return Err(InvalidField::new(
                    format!("{field}[{i}]"),
                    "is the entry itself",
                ));
            }
            Ok(superseded)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z_]{1,12}",
            "\\PC{0,40}",
            Just("2022-03~".to_string()),
            Just("liwa-al-quds".to_string()),
        ]
    }

    fn event() -> impl Strategy<Value = proto::Event> {
        (
            text(),
            text(),
            prop::collection::vec((text(), -2_i32..7), 0..4),
            text(),
            prop::option::of((
                text(),
                text(),
                prop::option::of(-200.0..200.0_f64),
                prop::option::of(-200.0..200.0_f64),
            )),
            -2_i32..8,
            prop::collection::vec((text(), text(), text()), 0..3),
            prop::collection::btree_map(text(), text(), 0..3),
            prop::collection::vec(text(), 0..3),
        )
            .prop_map(
                |(
                    id,
                    relation,
                    participants,
                    date,
                    location,
                    certainty,
                    sources,
                    attributes,
                    supersedes,
                )| {
                    proto::Event {
                        id,
                        relation,
                        participants: participants
                            .into_iter()
                            .map(|(actor_id, role)| proto::Participant { actor_id, role })
                            .collect(),
                        date,
                        location: location.map(|(name, country, latitude, longitude)| {
                            proto::Location {
                                name,
                                country,
                                latitude,
                                longitude,
                                ..Default::default()
                            }
                        }),
                        certainty,
                        sources: sources
                            .into_iter()
                            .map(|(name, url, published)| proto::Source {
                                name,
                                url,
                                published,
                            })
                            .collect(),
                        attributes: attributes.into_iter().collect(),
                        supersedes,
                        ..Default::default()
                    }
                },
            )
    }

    fn claim() -> impl Strategy<Value = proto::Claim> {
        (
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            -2_i32..8,
            any::<bool>(),
        )
            .prop_map(
                |(id, subject, relation, object, event_id, valid, claimant, certainty, negated)| {
                    proto::Claim {
                        id,
                        subject,
                        relation,
                        object,
                        event_id,
                        valid,
                        claimant,
                        certainty,
                        negated,
                        ..Default::default()
                    }
                },
            )
    }

    fn actor() -> impl Strategy<Value = proto::Actor> {
        (
            text(),
            text(),
            prop::collection::vec(text(), 0..3),
            -2_i32..10,
            text(),
            prop::collection::vec((text(), text(), text()), 0..3),
        )
            .prop_map(
                |(id, name, aliases, kind, country, affiliations)| proto::Actor {
                    id,
                    name,
                    aliases,
                    kind,
                    country,
                    affiliations: affiliations
                        .into_iter()
                        .map(|(actor_id, relation, valid)| proto::Affiliation {
                            actor_id,
                            relation,
                            valid,
                            valid_span: None,
                        })
                        .collect(),
                    same_as: Vec::new(),
                    description: String::new(),
                },
            )
    }

    proptest! {
        /// Whatever arrives on the wire, conversion answers Ok or a field error; it never panics,
        /// and every error names a field.
        #[test]
        fn any_entry_converts_or_names_the_bad_field(
            body in prop_oneof![
                event().prop_map(proto::entry::Body::Event),
                claim().prop_map(proto::entry::Body::Claim),
                actor().prop_map(proto::entry::Body::Actor),
            ],
            position in prop_oneof![Just(0_u64), any::<u64>()],
        ) {
            let entry = proto::Entry { position, recorded_at: None, body: Some(body) };
            if let Err(error) = entry_body(entry, &Vocabulary::builtin()) {
                prop_assert!(!error.field.is_empty());
                prop_assert!(!error.reason.is_empty());
            }
        }
    }
}
