//! Domain values to storage messages, for encoding. Each conversion destructures every field of
//! the domain type, so a field added to the domain cannot be left out of the record without the
//! compiler pointing here.
//!
//! Public fields are written exactly as `service::to_proto` shows them to clients (the streams
//! send them unchanged); the day spans of every date are collected into `spans` on the way, in
//! the order the dates appear.

use crate::domain::{
    Actor, ActorKind, Affiliation, Certainty, Claim, DateSpan, Edtf, Event, Location, Participant,
    Role, Source,
};

use super::schema;

impl From<&Actor> for schema::Actor {
    fn from(actor: &Actor) -> schema::Actor {
        let Actor {
            id,
            name,
            aliases,
            kind,
            country,
            affiliations,
            same_as,
            description,
        } = actor;
        let mut spans = Vec::new();
        let affiliations = affiliations
            .iter()
            .map(|affiliation| {
                let Affiliation {
                    actor_id,
                    relation,
                    valid,
                } = affiliation;
                let (valid, valid_span) = optional_date(valid.as_ref(), &mut spans);
                schema::Affiliation {
                    actor_id: actor_id.as_str().to_owned(),
                    relation: relation.as_str().to_owned(),
                    valid,
                    valid_span,
                }
            })
            .collect();
        schema::Actor {
            id: id.as_str().to_owned(),
            name: name.clone(),
            aliases: aliases.clone(),
            kind: actor_kind(*kind) as i32,
            country: country
                .as_ref()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            affiliations,
            same_as: same_as.iter().map(|id| id.as_str().to_owned()).collect(),
            description: description.clone(),
            spans,
        }
    }
}

impl From<&Event> for schema::Event {
    fn from(event: &Event) -> schema::Event {
        let Event {
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
        } = event;
        // `date` first, then the sources' dates: the order `from_stored` reads them back in.
        let mut spans = vec![day_span(date.span())];
        let date_span = Some(public_span(date.span()));
        let sources = stored_sources(sources, &mut spans);
        schema::Event {
            id: id.as_str().to_owned(),
            relation: relation.as_str().to_owned(),
            participants: participants.iter().map(participant).collect(),
            date: date.as_str().to_owned(),
            location: location.as_ref().map(stored_location),
            summary: summary.clone(),
            sources,
            certainty: certainty_of(*certainty) as i32,
            attributes: attributes.clone(),
            supersedes: supersedes.iter().map(|id| id.as_str().to_owned()).collect(),
            date_span,
            spans,
        }
    }
}

impl From<&Claim> for schema::Claim {
    fn from(claim: &Claim) -> schema::Claim {
        let Claim {
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
        } = claim;
        // `valid` first, then the sources' dates: the order `from_stored` reads them back in.
        let mut spans = Vec::new();
        let (valid, valid_span) = optional_date(valid.as_ref(), &mut spans);
        let sources = stored_sources(sources, &mut spans);
        let text = |id: &Option<crate::domain::EntryId>| {
            id.as_ref()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default()
        };
        schema::Claim {
            id: id.as_str().to_owned(),
            subject: text(subject),
            relation: relation
                .as_ref()
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
            object: text(object),
            event_id: text(event_id),
            valid,
            claimant: text(claimant),
            sources,
            certainty: certainty_of(*certainty) as i32,
            negated: *negated,
            statement: statement.clone(),
            supersedes: supersedes.iter().map(|id| id.as_str().to_owned()).collect(),
            valid_span,
            spans,
        }
    }
}

fn participant(participant: &Participant) -> schema::Participant {
    let Participant { actor_id, role } = participant;
    schema::Participant {
        actor_id: actor_id.as_str().to_owned(),
        role: role_of(*role) as i32,
    }
}

fn stored_location(location: &Location) -> schema::Location {
    let Location {
        name,
        country,
        admin1,
        coordinates,
    } = location;
    schema::Location {
        name: name.clone(),
        country: country
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        admin1: admin1.clone(),
        latitude: coordinates.map(|(latitude, _)| latitude),
        longitude: coordinates.map(|(_, longitude)| longitude),
    }
}

fn stored_sources(sources: &[Source], spans: &mut Vec<schema::DaySpan>) -> Vec<schema::Source> {
    sources
        .iter()
        .map(|source| {
            let Source {
                name,
                url,
                published,
            } = source;
            // Clients see no span for `published`; only the storage part keeps it.
            let (published, _) = optional_date(published.as_ref(), spans);
            schema::Source {
                name: name.clone(),
                url: url.clone(),
                published,
            }
        })
        .collect()
}

/// An optional date as its text (empty when absent) and its public span (absent with it); its
/// day span joins `spans` when it is there.
fn optional_date(
    date: Option<&Edtf>,
    spans: &mut Vec<schema::DaySpan>,
) -> (String, Option<schema::DateSpan>) {
    match date {
        None => (String::new(), None),
        Some(date) => {
            spans.push(day_span(date.span()));
            (date.as_str().to_owned(), Some(public_span(date.span())))
        }
    }
}

fn day_span(span: DateSpan) -> schema::DaySpan {
    schema::DaySpan {
        earliest: span.earliest.0,
        latest: span.latest.0,
    }
}

/// The span as clients see it: ISO days, open ends empty (what `service::to_proto::span` sends).
fn public_span(span: DateSpan) -> schema::DateSpan {
    schema::DateSpan {
        earliest: span.earliest.iso(),
        latest: span.latest.iso(),
    }
}

fn actor_kind(kind: ActorKind) -> schema::ActorKind {
    match kind {
        ActorKind::State => schema::ActorKind::State,
        ActorKind::GovernmentBody => schema::ActorKind::GovernmentBody,
        ActorKind::Military => schema::ActorKind::Military,
        ActorKind::ArmedGroup => schema::ActorKind::ArmedGroup,
        ActorKind::PrivateMilitaryCompany => schema::ActorKind::PrivateMilitaryCompany,
        ActorKind::PoliticalParty => schema::ActorKind::PoliticalParty,
        ActorKind::Person => schema::ActorKind::Person,
        ActorKind::Organization => schema::ActorKind::Organization,
    }
}

fn role_of(role: Role) -> schema::Role {
    match role {
        Role::Initiator => schema::Role::Initiator,
        Role::Target => schema::Role::Target,
        Role::Participant => schema::Role::Participant,
        Role::Supporter => schema::Role::Supporter,
    }
}

fn certainty_of(certainty: Certainty) -> schema::Certainty {
    match certainty {
        Certainty::Confirmed => schema::Certainty::Confirmed,
        Certainty::Reported => schema::Certainty::Reported,
        Certainty::Alleged => schema::Certainty::Alleged,
        Certainty::Speculated => schema::Certainty::Speculated,
        Certainty::Disputed => schema::Certainty::Disputed,
    }
}
