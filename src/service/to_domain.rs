//! Requests to domain values. This layer parses what the wire spells as text or numbers (ids,
//! EDTF dates, relation keys, enum values) into the domain's types and hands the value to
//! `Checked::new`, which owns every rule of a single entry (`domain::rules`).
//!
//! Errors name the field by its path inside the entry (`event.participants[2].role`); the
//! caller prefixes the entry's index. Nothing here reads the store: rules that depend on what the
//! log holds (duplicates, references) are the writer's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::domain::{
    Actor, ActorKind, Affiliation, Certainty, Checked, Claim, CountryCode, DateMatch, DateRange,
    Direction, Edtf, EntryBody, EntryId, Event, FieldProblem, InvalidField, Location, Participant,
    QueryOrder, RelationKey, Role, Source, Vocabulary,
};
use crate::proto;

type Result<T> = std::result::Result<T, InvalidField>;

/// Converts one entry of an `AppendRequest`.
pub fn entry_body(entry: proto::Entry, vocabulary: &Vocabulary) -> Result<EntryBody> {
    let proto::Entry {
        position,
        recorded_at,
        body,
    } = entry;
    if position != 0 {
        return Err(InvalidField::of(
            FieldProblem::ServerAssigned,
            "position",
            "is assigned by the server; leave it unset (0) when appending",
        ));
    }
    if recorded_at.is_some() {
        return Err(InvalidField::of(
            FieldProblem::ServerAssigned,
            "recorded_at",
            "is assigned by the server; leave it unset when appending",
        ));
    }
    match body {
        None => Err(InvalidField::missing(
            "body",
            "is missing: set one of actor, event or claim",
        )),
        Some(proto::entry::Body::Actor(a)) => actor(a, vocabulary).map(EntryBody::Actor),
        Some(proto::entry::Body::Event(e)) => event(e, vocabulary).map(EntryBody::Event),
        Some(proto::entry::Body::Claim(c)) => claim(c, vocabulary).map(EntryBody::Claim),
    }
}

/// The last second `google.protobuf.Timestamp` allows: 9999-12-31T23:59:59Z.
const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_799;

/// A point in time, as `google.protobuf.Timestamp` defines it (years 1 to 9999, nanoseconds a
/// fraction of a second). A time before 1970 stands for the beginning of the log.
pub fn time(field: &str, at: &pbjson_types::Timestamp) -> Result<SystemTime> {
    if at.seconds > MAX_TIMESTAMP_SECONDS {
        return Err(InvalidField::new(
            format!("{field}.seconds"),
            format!("{} is after 9999-12-31T23:59:59Z", at.seconds),
        ));
    }
    let nanos = u32::try_from(at.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| {
            InvalidField::new(
                format!("{field}.nanos"),
                format!("{} is not between 0 and 999,999,999", at.nanos),
            )
        })?;
    let seconds = u64::try_from(at.seconds).unwrap_or(0);
    Ok(UNIX_EPOCH + Duration::new(seconds, nanos))
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

/// A range of EDTF dates, either end open, from the fields `{prefix}date_from` and
/// `{prefix}date_to` (queries have them at the top, subscriptions under `filter.`).
pub fn date_range(prefix: &str, from: &str, to: &str, mode: DateMatch) -> Result<DateRange> {
    let (from, to) = dates(prefix, from, to)?;
    DateRange::between(from.as_ref(), to.as_ref(), mode)
        .map_err(|reason| InvalidField::new(format!("{prefix}date_from"), reason))
}

/// The two ends of a date range as dates. A range that ends before it starts is refused: a
/// mistake, not a filter that silently matches nothing.
pub fn dates(prefix: &str, from: &str, to: &str) -> Result<(Option<Edtf>, Option<Edtf>)> {
    let from = optional_date(&format!("{prefix}date_from"), from)?;
    let to = optional_date(&format!("{prefix}date_to"), to)?;
    DateRange::between(from.as_ref(), to.as_ref(), DateMatch::Overlaps)
        .map_err(|reason| InvalidField::new(format!("{prefix}date_from"), reason))?;
    Ok((from, to))
}

/// Relation keys, each checked against the vocabulary, in the order given.
pub fn relation_keys(
    field: &str,
    keys: &[String],
    vocabulary: &Vocabulary,
) -> Result<Vec<RelationKey>> {
    keys.iter()
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
        .collect()
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
    let mut relations = relation_keys(field, keys, vocabulary)?;
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

// The converters below map wire to domain and nothing more: each binds every field of its
// message by name (no `..`), so a field added to the proto cannot be dropped unnoticed, and
// each leaves the rules to `Checked::new` (domain::rules).

fn actor(a: proto::Actor, vocabulary: &Vocabulary) -> Result<Checked<Actor>> {
    let proto::Actor {
        id: actor_id,
        name,
        aliases,
        kind,
        country,
        affiliations,
        description,
        same_as,
    } = a;
    let own_id = id("actor.id", &actor_id)?;
    let kind = actor_kind("actor.kind", kind)?.ok_or_else(|| {
        InvalidField::missing(
            "actor.kind",
            "is required, e.g. ACTOR_KIND_STATE or ACTOR_KIND_ARMED_GROUP",
        )
    })?;
    let affiliations = affiliations
        .into_iter()
        .enumerate()
        .map(|(i, af)| {
            affiliation(af, vocabulary).map_err(|e| e.under(&format!("actor.affiliations[{i}]")))
        })
        .collect::<Result<_>>()?;
    let same_as = same_as
        .iter()
        .enumerate()
        .map(|(i, text)| id(&format!("actor.same_as[{i}]"), text))
        .collect::<Result<_>>()?;
    Checked::new(Actor {
        id: own_id,
        name,
        aliases,
        kind,
        country: optional_country("actor.country", &country)?,
        affiliations,
        same_as,
        description,
    })
}

fn affiliation(af: proto::Affiliation, vocabulary: &Vocabulary) -> Result<Affiliation> {
    // `valid_span` is the server's reading of `valid`, sent back to clients; it is ignored here.
    let proto::Affiliation {
        actor_id,
        relation: key,
        valid,
        valid_span: _,
    } = af;
    Ok(Affiliation {
        actor_id: id("actor_id", &actor_id)?,
        relation: relation("relation", &key, vocabulary)?,
        valid: optional_date("valid", &valid)?,
    })
}

fn participant(p: proto::Participant) -> Result<Participant> {
    let proto::Participant {
        actor_id,
        role: value,
    } = p;
    Ok(Participant {
        actor_id: id("actor_id", &actor_id)?,
        role: role("role", value)?,
    })
}

fn event(e: proto::Event, vocabulary: &Vocabulary) -> Result<Checked<Event>> {
    let proto::Event {
        id: event_id,
        relation: key,
        participants,
        date: when,
        location: place,
        summary,
        sources: cited,
        certainty,
        attributes,
        supersedes: superseded,
        date_span: _,
    } = e;
    let own_id = id("event.id", &event_id)?;
    let relation = relation("event.relation", &key, vocabulary)?;
    let participants = participants
        .into_iter()
        .enumerate()
        .map(|(i, p)| participant(p).map_err(|e| e.under(&format!("event.participants[{i}]"))))
        .collect::<Result<_>>()?;
    Checked::new(Event {
        id: own_id,
        relation,
        participants,
        date: date("event.date", &when)?,
        location: place.map(location).transpose()?,
        summary,
        sources: sources("event.sources", cited)?,
        certainty: required_certainty("event.certainty", certainty)?,
        attributes,
        supersedes: ids("event.supersedes", &superseded)?,
    })
}

fn claim(c: proto::Claim, vocabulary: &Vocabulary) -> Result<Checked<Claim>> {
    let proto::Claim {
        id: claim_id,
        subject,
        relation: key,
        object,
        event_id,
        valid,
        claimant,
        sources: cited,
        certainty,
        negated,
        statement,
        supersedes: superseded,
        valid_span: _,
    } = c;
    let relation = if key.is_empty() {
        None
    } else {
        Some(relation("claim.relation", &key, vocabulary)?)
    };
    Checked::new(Claim {
        id: id("claim.id", &claim_id)?,
        subject: optional_id("claim.subject", &subject)?,
        relation,
        object: optional_id("claim.object", &object)?,
        event_id: optional_id("claim.event_id", &event_id)?,
        valid: optional_date("claim.valid", &valid)?,
        claimant: optional_id("claim.claimant", &claimant)?,
        sources: sources("claim.sources", cited)?,
        certainty: required_certainty("claim.certainty", certainty)?,
        negated,
        statement,
        supersedes: ids("claim.supersedes", &superseded)?,
    })
}

fn location(l: proto::Location) -> Result<Location> {
    let proto::Location {
        name,
        country,
        admin1,
        latitude,
        longitude,
    } = l;
    // Two optional numbers on the wire, one optional pair in the domain: the one shape the
    // domain cannot express is refused here.
    let coordinates = match (latitude, longitude) {
        (None, None) => None,
        (Some(lat), Some(lon)) => Some((lat, lon)),
        _ => {
            return Err(InvalidField::new(
                "event.location",
                "has only one coordinate; set both latitude and longitude, or neither",
            ))
        }
    };
    Ok(Location {
        name,
        country: optional_country("event.location.country", &country)?,
        admin1,
        coordinates,
    })
}

fn sources(field: &str, sources: Vec<proto::Source>) -> Result<Vec<Source>> {
    sources
        .into_iter()
        .enumerate()
        .map(|(i, s)| source(s).map_err(|e| e.under(&format!("{field}[{i}]"))))
        .collect()
}

fn source(s: proto::Source) -> Result<Source> {
    let proto::Source {
        name,
        url,
        published,
    } = s;
    Ok(Source {
        name,
        url,
        published: optional_date("published", &published)?,
    })
}

/// A list of ids, each parsed (`supersedes`).
fn ids(field: &str, texts: &[String]) -> Result<Vec<EntryId>> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| id("", text).map_err(|e| e.at(format!("{field}[{i}]"))))
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
