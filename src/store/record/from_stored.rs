//! Storage messages to domain values, for decoding. Trusting: every value was validated when it
//! was appended and the record's checksum vouches that these are the bytes then written, so ids,
//! relations, countries and dates are rebuilt with the domain's `from_stored` constructors and
//! nothing is parsed again. What is checked is only what the types cannot represent (an enum
//! value this version does not know, one coordinate without the other, a date without its
//! span): such a record is reported as corrupt, never guessed at.
//!
//! Each conversion destructures every field of the storage message, so a field added to the
//! schema cannot be ignored without the compiler pointing here. The public day spans (`*_span`)
//! are ignored on purpose: the domain keeps the exact day numbers from `spans`.

use std::vec;

use crate::domain::calendar::{MAX_YEAR, MIN_YEAR};
use crate::domain::{
    Actor, ActorKind, Affiliation, Certainty, Claim, CountryCode, DateSpan, Day, Edtf, EntryId,
    Event, Location, Participant, RelationKey, Role, Source,
};

use super::schema;

/// Why a body that passed its checksum still is not a valid entry.
pub(super) type Malformed = String;

impl TryFrom<schema::Actor> for Actor {
    type Error = Malformed;
    fn try_from(stored: schema::Actor) -> Result<Actor, Malformed> {
        let schema::Actor {
            id,
            name,
            aliases,
            kind,
            country,
            affiliations,
            same_as,
            description,
            spans,
        } = stored;
        let mut spans = Spans(spans.into_iter());
        let affiliations = affiliations
            .into_iter()
            .map(|affiliation| {
                let schema::Affiliation {
                    actor_id,
                    relation,
                    valid,
                    valid_span: _,
                } = affiliation;
                Ok(Affiliation {
                    actor_id: EntryId::from_stored(actor_id),
                    relation: RelationKey::from_stored(relation),
                    valid: spans.optional_date(valid)?,
                })
            })
            .collect::<Result<_, Malformed>>()?;
        spans.finish()?;
        Ok(Actor {
            id: EntryId::from_stored(id),
            name,
            aliases,
            kind: actor_kind(kind)?,
            country: country_code(country),
            affiliations,
            same_as: same_as.into_iter().map(EntryId::from_stored).collect(),
            description,
        })
    }
}

impl TryFrom<schema::Event> for Event {
    type Error = Malformed;
    fn try_from(stored: schema::Event) -> Result<Event, Malformed> {
        let schema::Event {
            id,
            relation,
            participants,
            date,
            location,
            summary,
            sources,
            certainty,
            attributes,
            supersedes,
            date_span: _,
            spans,
        } = stored;
        let mut spans = Spans(spans.into_iter());
        let date = spans.date(date)?;
        let sources = domain_sources(sources, &mut spans)?;
        spans.finish()?;
        Ok(Event {
            id: EntryId::from_stored(id),
            relation: RelationKey::from_stored(relation),
            participants: participants
                .into_iter()
                .map(participant)
                .collect::<Result<_, _>>()?,
            date,
            location: location.map(domain_location).transpose()?,
            summary,
            sources,
            certainty: certainty_of(certainty)?,
            attributes,
            supersedes: supersedes.into_iter().map(EntryId::from_stored).collect(),
        })
    }
}

impl TryFrom<schema::Claim> for Claim {
    type Error = Malformed;
    fn try_from(stored: schema::Claim) -> Result<Claim, Malformed> {
        let schema::Claim {
            id,
            subject,
            relation,
            object,
            event_id,
            valid,
            claimant,
            sources,
            certainty,
            negated,
            statement,
            supersedes,
            valid_span: _,
            spans,
        } = stored;
        let mut spans = Spans(spans.into_iter());
        let valid = spans.optional_date(valid)?;
        let sources = domain_sources(sources, &mut spans)?;
        spans.finish()?;
        Ok(Claim {
            id: EntryId::from_stored(id),
            subject: optional_id(subject),
            relation: (!relation.is_empty()).then(|| RelationKey::from_stored(relation)),
            object: optional_id(object),
            event_id: optional_id(event_id),
            valid,
            claimant: optional_id(claimant),
            sources,
            certainty: certainty_of(certainty)?,
            negated,
            statement,
            supersedes: supersedes.into_iter().map(EntryId::from_stored).collect(),
        })
    }
}

/// The stored day spans of a body, handed out in the order its dates appear.
struct Spans(vec::IntoIter<schema::DaySpan>);

/// Whether a stored span may name `day`: an open end, or a day of the years from 1000 before the
/// first the log accepts to 1000 after the last, far beyond the widest date the parser makes
/// (`00XX?` reaches back a century before year 1). Any other day is not one this server wrote,
/// and the calendar arithmetic that prints days would overflow on some.
fn storable(day: i32) -> bool {
    let first = Day::from_ymd(MIN_YEAR - 1000, 1, 1);
    let last = Day::from_ymd(MAX_YEAR + 1000, 12, 31);
    Day(day).is_open() || (first..=last).contains(&Day(day))
}

impl Spans {
    /// A date that must be there.
    fn date(&mut self, text: String) -> Result<Edtf, Malformed> {
        let Some(schema::DaySpan { earliest, latest }) = self.0.next() else {
            return Err(format!("the date {text:?} has no stored span"));
        };
        if earliest > latest {
            return Err(format!(
                "the stored span of {text:?} ends (day {latest}) before it starts (day {earliest})"
            ));
        }
        if let Some(day) = [earliest, latest].into_iter().find(|&d| !storable(d)) {
            return Err(format!(
                "the stored span of {text:?} names day {day}, which no date covers"
            ));
        }
        let span = DateSpan {
            earliest: Day(earliest),
            latest: Day(latest),
        };
        Ok(Edtf::from_stored(text, span))
    }

    /// A date stored as empty text when absent (and then without a span).
    fn optional_date(&mut self, text: String) -> Result<Option<Edtf>, Malformed> {
        if text.is_empty() {
            Ok(None)
        } else {
            self.date(text).map(Some)
        }
    }

    /// Every span must belong to a date: a left-over one means the body is not what was written.
    fn finish(self) -> Result<(), Malformed> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(format!("{n} stored date spans belong to no date")),
        }
    }
}

fn domain_sources(
    sources: Vec<schema::Source>,
    spans: &mut Spans,
) -> Result<Vec<Source>, Malformed> {
    sources
        .into_iter()
        .map(|source| {
            let schema::Source {
                name,
                url,
                published,
            } = source;
            Ok(Source {
                name,
                url,
                published: spans.optional_date(published)?,
            })
        })
        .collect()
}

fn participant(stored: schema::Participant) -> Result<Participant, Malformed> {
    let schema::Participant { actor_id, role } = stored;
    Ok(Participant {
        actor_id: EntryId::from_stored(actor_id),
        role: role_of(role)?,
    })
}

fn domain_location(stored: schema::Location) -> Result<Location, Malformed> {
    let schema::Location {
        name,
        country,
        admin1,
        latitude,
        longitude,
    } = stored;
    let coordinates = match (latitude, longitude) {
        (Some(latitude), Some(longitude)) => Some((latitude, longitude)),
        (None, None) => None,
        _ => return Err("a location has one coordinate without the other".into()),
    };
    Ok(Location {
        name,
        country: country_code(country),
        admin1,
        coordinates,
    })
}

fn optional_id(text: String) -> Option<EntryId> {
    (!text.is_empty()).then(|| EntryId::from_stored(text))
}

fn country_code(text: String) -> Option<CountryCode> {
    (!text.is_empty()).then(|| CountryCode::from_stored(text))
}

fn actor_kind(value: i32) -> Result<ActorKind, Malformed> {
    Ok(
        match schema::ActorKind::try_from(value).unwrap_or(schema::ActorKind::Unspecified) {
            schema::ActorKind::State => ActorKind::State,
            schema::ActorKind::GovernmentBody => ActorKind::GovernmentBody,
            schema::ActorKind::Military => ActorKind::Military,
            schema::ActorKind::ArmedGroup => ActorKind::ArmedGroup,
            schema::ActorKind::PrivateMilitaryCompany => ActorKind::PrivateMilitaryCompany,
            schema::ActorKind::PoliticalParty => ActorKind::PoliticalParty,
            schema::ActorKind::Person => ActorKind::Person,
            schema::ActorKind::Organization => ActorKind::Organization,
            schema::ActorKind::Unspecified => return Err(format!("unknown actor kind {value}")),
        },
    )
}

fn role_of(value: i32) -> Result<Role, Malformed> {
    Ok(
        match schema::Role::try_from(value).unwrap_or(schema::Role::Unspecified) {
            schema::Role::Initiator => Role::Initiator,
            schema::Role::Target => Role::Target,
            schema::Role::Participant => Role::Participant,
            schema::Role::Supporter => Role::Supporter,
            schema::Role::Unspecified => return Err(format!("unknown role {value}")),
        },
    )
}

fn certainty_of(value: i32) -> Result<Certainty, Malformed> {
    Ok(
        match schema::Certainty::try_from(value).unwrap_or(schema::Certainty::Unspecified) {
            schema::Certainty::Confirmed => Certainty::Confirmed,
            schema::Certainty::Reported => Certainty::Reported,
            schema::Certainty::Alleged => Certainty::Alleged,
            schema::Certainty::Speculated => Certainty::Speculated,
            schema::Certainty::Disputed => Certainty::Disputed,
            schema::Certainty::Unspecified => return Err(format!("unknown certainty {value}")),
        },
    )
}
