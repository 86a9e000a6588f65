//! Domain values to responses. Infallible: everything in the store was valid when written.

use crate::domain::names::{MatchDetail, MatchQuality};
use crate::domain::{
    Actor, ActorClass, ActorKind, Affiliation, Certainty, Claim, DateSpan, Day, Edtf, Entry,
    EntryBody, EntryFilter, EntryKind, Event, Location, Participant, RelationEdge, RelationType,
    Role, Source,
};
use crate::proto;

/// An entry as clients see it.
pub fn entry(entry: Entry) -> proto::Entry {
    proto::Entry {
        position: entry.position.0,
        recorded_at: Some(proto::timestamp(entry.recorded_at)),
        body: Some(match entry.body {
            EntryBody::Actor(a) => proto::entry::Body::Actor(actor(a.into_inner())),
            EntryBody::Event(e) => proto::entry::Body::Event(event(e.into_inner())),
            EntryBody::Claim(c) => proto::entry::Body::Claim(claim(c.into_inner())),
        }),
    }
}

/// A `ResolveActor` match as clients see it: the actor, the name that matched and how.
pub fn actor_match(quality: MatchQuality, detail: MatchDetail, a: Actor) -> proto::ActorMatch {
    let kind = match quality {
        MatchQuality::ExactName => proto::MatchKind::Name,
        MatchQuality::ExactAlias => proto::MatchKind::Alias,
        MatchQuality::ExactId => proto::MatchKind::Id,
        MatchQuality::Prefix => proto::MatchKind::Prefix,
        MatchQuality::AllWords => proto::MatchKind::Words,
        MatchQuality::Near => proto::MatchKind::Near,
    };
    let MatchDetail {
        matched_name,
        score,
    } = detail;
    proto::ActorMatch {
        actor: Some(actor(a)),
        matched_name,
        kind: kind as i32,
        // A score is a share between 0 and 1: f32 holds it to the precision anyone reads.
        score: score as f32,
    }
}

/// Which actors a request's `field` covered.
pub fn actors_covered(field: &str, class: &ActorClass) -> proto::ActorsCovered {
    proto::ActorsCovered {
        field: field.to_string(),
        actor_ids: class.ids().map(ToString::to_string).collect(),
    }
}

// The converters below bind every field of the domain value by name (no `..`) and build every
// field of the message (no `..Default::default()`): a field added on either side and not mapped
// does not compile.

/// An actor as clients see it.
pub fn actor(a: Actor) -> proto::Actor {
    let Actor {
        id,
        name,
        aliases,
        kind,
        country,
        affiliations,
        same_as,
        description,
    } = a;
    proto::Actor {
        id: id.into(),
        name,
        aliases,
        kind: actor_kind(kind) as i32,
        country: country.map(String::from).unwrap_or_default(),
        affiliations: affiliations.into_iter().map(affiliation).collect(),
        same_as: same_as.into_iter().map(String::from).collect(),
        description,
    }
}

fn affiliation(af: Affiliation) -> proto::Affiliation {
    let Affiliation {
        actor_id,
        relation,
        valid,
    } = af;
    proto::Affiliation {
        actor_id: actor_id.into(),
        relation: relation.to_string(),
        valid_span: valid.as_ref().map(span),
        valid: edtf_text(valid),
    }
}

fn event(e: Event) -> proto::Event {
    let Event {
        id,
        relation,
        participants,
        date,
        location: place,
        summary,
        sources,
        certainty: how_sure,
        attributes,
        supersedes,
    } = e;
    proto::Event {
        id: id.into(),
        relation: relation.to_string(),
        participants: participants.into_iter().map(participant).collect(),
        date_span: Some(span(&date)),
        date: date.into(),
        location: place.map(location),
        summary,
        sources: sources.into_iter().map(source).collect(),
        certainty: certainty(how_sure) as i32,
        attributes: attributes.into_iter().collect(),
        supersedes: supersedes.into_iter().map(String::from).collect(),
    }
}

fn participant(p: Participant) -> proto::Participant {
    let Participant { actor_id, role: r } = p;
    proto::Participant {
        actor_id: actor_id.into(),
        role: role(r) as i32,
    }
}

fn claim(c: Claim) -> proto::Claim {
    let Claim {
        id,
        subject,
        relation,
        object,
        event_id,
        valid,
        claimant,
        sources,
        certainty: how_sure,
        negated,
        statement,
        supersedes,
    } = c;
    proto::Claim {
        id: id.into(),
        subject: subject.map(String::from).unwrap_or_default(),
        relation: relation.map(|r| r.to_string()).unwrap_or_default(),
        object: object.map(String::from).unwrap_or_default(),
        event_id: event_id.map(String::from).unwrap_or_default(),
        valid_span: valid.as_ref().map(span),
        valid: edtf_text(valid),
        claimant: claimant.map(String::from).unwrap_or_default(),
        sources: sources.into_iter().map(source).collect(),
        certainty: certainty(how_sure) as i32,
        negated,
        statement,
        supersedes: supersedes.into_iter().map(String::from).collect(),
    }
}

fn location(l: Location) -> proto::Location {
    let Location {
        name,
        country,
        admin1,
        coordinates,
    } = l;
    proto::Location {
        name,
        country: country.map(String::from).unwrap_or_default(),
        admin1,
        latitude: coordinates.map(|c| c.0),
        longitude: coordinates.map(|c| c.1),
    }
}

fn source(s: Source) -> proto::Source {
    let Source {
        name,
        url,
        published,
    } = s;
    proto::Source {
        name,
        url,
        published: edtf_text(published),
    }
}

fn edtf_text(date: Option<Edtf>) -> String {
    date.map(String::from).unwrap_or_default()
}

/// The span of a date, with open ends as empty strings.
pub fn span(date: &Edtf) -> proto::DateSpan {
    let DateSpan { earliest, latest } = date.span();
    proto::DateSpan {
        earliest: day(earliest),
        latest: day(latest),
    }
}

fn day(day: Day) -> String {
    day.to_string()
}

/// An edge of the relation graph, with open or unknown dates as empty strings.
pub fn relation_edge(edge: RelationEdge) -> proto::RelationEdge {
    let (earliest, latest) = edge.dated.map_or((String::new(), String::new()), |s| {
        (day(s.earliest), day(s.latest))
    });
    proto::RelationEdge {
        subject: edge.subject.into(),
        relation: edge.relation.to_string(),
        object: edge.object.into(),
        earliest,
        latest,
        event_count: edge.event_count,
        claim_count: edge.claim_count,
        certainty: certainty(edge.certainty) as i32,
        denied: edge.denied,
        evidence_ids: edge.evidence.into_iter().map(String::from).collect(),
    }
}

/// A relation of the vocabulary.
pub fn relation_type(r: &RelationType) -> proto::RelationType {
    proto::RelationType {
        key: r.key.clone(),
        description: r.description.clone(),
        symmetric: r.symmetric,
        inverse: r.inverse.clone(),
        cameo_root: r.cameo_root.clone().unwrap_or_default(),
    }
}

/// A stored subscription filter, with actors as ids.
pub fn filter(f: EntryFilter) -> proto::SubscriptionFilter {
    proto::SubscriptionFilter {
        kinds: f
            .kinds
            .into_iter()
            .map(|k| match k {
                EntryKind::Actor => proto::EntryKind::Actor as i32,
                EntryKind::Event => proto::EntryKind::Event as i32,
                EntryKind::Claim => proto::EntryKind::Claim as i32,
            })
            .collect(),
        actors: f.actors.into_iter().map(String::from).collect(),
        relations: f.relations.into_iter().map(|r| r.to_string()).collect(),
        date_from: edtf_text(f.date_from),
        date_to: edtf_text(f.date_to),
        min_certainty: f.min_certainty.map_or(0, |c| certainty(c) as i32),
    }
}

fn actor_kind(kind: ActorKind) -> proto::ActorKind {
    match kind {
        ActorKind::State => proto::ActorKind::State,
        ActorKind::GovernmentBody => proto::ActorKind::GovernmentBody,
        ActorKind::Military => proto::ActorKind::Military,
        ActorKind::ArmedGroup => proto::ActorKind::ArmedGroup,
        ActorKind::PrivateMilitaryCompany => proto::ActorKind::PrivateMilitaryCompany,
        ActorKind::PoliticalParty => proto::ActorKind::PoliticalParty,
        ActorKind::Person => proto::ActorKind::Person,
        ActorKind::Organization => proto::ActorKind::Organization,
    }
}

fn role(role: Role) -> proto::Role {
    match role {
        Role::Initiator => proto::Role::Initiator,
        Role::Target => proto::Role::Target,
        Role::Participant => proto::Role::Participant,
        Role::Supporter => proto::Role::Supporter,
    }
}

fn certainty(certainty: Certainty) -> proto::Certainty {
    match certainty {
        Certainty::Confirmed => proto::Certainty::Confirmed,
        Certainty::Reported => proto::Certainty::Reported,
        Certainty::Alleged => proto::Certainty::Alleged,
        Certainty::Speculated => proto::Certainty::Speculated,
        Certainty::Disputed => proto::Certainty::Disputed,
    }
}
