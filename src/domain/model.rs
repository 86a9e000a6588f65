//! The things the log holds: actors, events and claims, as validated domain values.
//!
//! These types know nothing of protobuf or sled: the service layer maps requests into them, an
//! entry's body is only built through [`Checked::new`] (which enforces [`super::rules`]), and
//! the store persists them. Equality is structural
//! and used for idempotency: an entry appended again is a duplicate exactly when it is equal.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::checked::Checked;
use super::edtf::Edtf;
use super::ids::{ActorId, CountryCode, EntryId, Position, RelationKey};

/// What kind of actor an actor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A sovereign state.
    State,
    /// A ministry, agency or other body of a government.
    GovernmentBody,
    /// A state's armed forces or one of their units.
    Military,
    /// A non-state armed group or militia.
    ArmedGroup,
    /// A private military or security company.
    PrivateMilitaryCompany,
    /// A political party.
    PoliticalParty,
    /// A person.
    Person,
    /// Any other organisation.
    Organization,
}

/// How an actor takes part in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The actor who acts.
    Initiator,
    /// The actor acted upon.
    Target,
    /// Takes part without a clear direction.
    Participant,
    /// Backs one of the sides.
    Supporter,
}

/// How certain the sources are, strongest first: the derived order makes `Confirmed` the
/// smallest, so "at least REPORTED" is `certainty <= Certainty::Reported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Certainty {
    /// Confirmed by the actors or independent sources.
    Confirmed,
    /// Reported by credible sources.
    Reported,
    /// Said by some party without support.
    Alleged,
    /// Inferred or suggested.
    Speculated,
    /// Contested.
    Disputed,
}

/// Which of the three bodies an entry has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// An actor (or a new revision of one).
    Actor,
    /// An event.
    Event,
    /// A claim.
    Claim,
}

impl EntryKind {
    /// The kind's name as users read it.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Actor => "actor",
            EntryKind::Event => "event",
            EntryKind::Claim => "claim",
        }
    }
}

/// A standing relation of an actor to another actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affiliation {
    /// The other actor.
    pub actor_id: ActorId,
    /// Read as "<actor> <relation> <actor_id>".
    pub relation: RelationKey,
    /// When it holds, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<Edtf>,
}

/// An actor: a state, group, company, party or person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// Stable id; appending the same id with other content makes a new revision.
    pub id: ActorId,
    /// The usual name.
    pub name: String,
    /// Other names by which `ResolveActor` finds the actor.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// What kind of actor.
    pub kind: ActorKind,
    /// Country it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
    /// Standing relations to other actors.
    #[serde(default)]
    pub affiliations: Vec<Affiliation>,
    /// Other actors this one is the same as (see `same_as`): queries that name one of them
    /// cover them all while this revision is current. Never the actor itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub same_as: Vec<ActorId>,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// An actor's part in an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    /// Which actor.
    pub actor_id: ActorId,
    /// How it takes part.
    pub role: Role,
}

/// Where something happened.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Location {
    /// Place name.
    #[serde(default)]
    pub name: String,
    /// Country, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
    /// First-level administrative division.
    #[serde(default)]
    pub admin1: String,
    /// WGS84 coordinates (latitude, longitude) in degrees, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<(f64, f64)>,
}

/// Where the log learned something.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Source {
    /// Publisher.
    pub name: String,
    /// Link, if any.
    #[serde(default)]
    pub url: String,
    /// Publication date, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Edtf>,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Idempotency key.
    pub id: EntryId,
    /// What happened.
    pub relation: RelationKey,
    /// Who took part; never empty.
    pub participants: Vec<Participant>,
    /// When.
    pub date: Edtf,
    /// Where, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// What happened, in words.
    #[serde(default)]
    pub summary: String,
    /// Where the log learned of it.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// How certain it is.
    pub certainty: Certainty,
    /// Further facts; a `BTreeMap` so equality and storage do not depend on insertion order.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Earlier events this one corrects.
    #[serde(default)]
    pub supersedes: Vec<EntryId>,
}

/// An attributed assertion that `subject relation object` holds over `valid`, or about an
/// event when `event_id` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Idempotency key.
    pub id: EntryId,
    /// The actor the claim is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<ActorId>,
    /// The claimed relation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<RelationKey>,
    /// The other actor of the relation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ActorId>,
    /// The event the claim is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EntryId>,
    /// When the relation holds, if the claim says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<Edtf>,
    /// Who makes the claim, if it is an actor of the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimant: Option<ActorId>,
    /// Who reported it.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// How certain it is.
    pub certainty: Certainty,
    /// True for a denial.
    #[serde(default)]
    pub negated: bool,
    /// The claim in words.
    #[serde(default)]
    pub statement: String,
    /// Earlier claims this one corrects.
    #[serde(default)]
    pub supersedes: Vec<EntryId>,
}

/// What an entry says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryBody {
    /// An actor revision.
    Actor(Checked<Actor>),
    /// An event.
    Event(Checked<Event>),
    /// A claim.
    Claim(Checked<Claim>),
}

impl EntryBody {
    /// The entry's id.
    pub fn id(&self) -> &EntryId {
        match self {
            EntryBody::Actor(a) => &a.id,
            EntryBody::Event(e) => &e.id,
            EntryBody::Claim(c) => &c.id,
        }
    }

    /// Which kind of body this is.
    pub fn kind(&self) -> EntryKind {
        match self {
            EntryBody::Actor(_) => EntryKind::Actor,
            EntryBody::Event(_) => EntryKind::Event,
            EntryBody::Claim(_) => EntryKind::Claim,
        }
    }

    /// Every actor this entry refers to, with the field that refers to it.
    pub fn actor_references(&self) -> Vec<(ReferenceField, &ActorId)> {
        match self {
            EntryBody::Actor(a) => a
                .affiliations
                .iter()
                .enumerate()
                .map(|(i, af)| (ReferenceField::Affiliation(i), &af.actor_id))
                .chain(
                    a.same_as
                        .iter()
                        .enumerate()
                        .map(|(i, id)| (ReferenceField::SameAs(i), id)),
                )
                .collect(),
            EntryBody::Event(e) => e
                .participants
                .iter()
                .enumerate()
                .map(|(i, p)| (ReferenceField::Participant(i), &p.actor_id))
                .collect(),
            EntryBody::Claim(c) => [
                (ReferenceField::Subject, &c.subject),
                (ReferenceField::Object, &c.object),
                (ReferenceField::Claimant, &c.claimant),
            ]
            .into_iter()
            .filter_map(|(field, id)| id.as_ref().map(|id| (field, id)))
            .collect(),
        }
    }

    /// Entries of other kinds this entry refers to: the claimed event, superseded entries.
    /// Each comes with its field and the kind it must have.
    pub fn entry_references(&self) -> Vec<(ReferenceField, &EntryId, EntryKind)> {
        match self {
            EntryBody::Actor(_) => Vec::new(),
            EntryBody::Event(e) => e
                .supersedes
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    (
                        ReferenceField::Supersedes(EntryKind::Event, i),
                        id,
                        EntryKind::Event,
                    )
                })
                .collect(),
            EntryBody::Claim(c) => c
                .supersedes
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    (
                        ReferenceField::Supersedes(EntryKind::Claim, i),
                        id,
                        EntryKind::Claim,
                    )
                })
                .chain(
                    c.event_id
                        .iter()
                        .map(|id| (ReferenceField::EventId, id, EntryKind::Event)),
                )
                .collect(),
        }
    }
}

/// The field of an entry that refers to another entry. Kept as a value and only spelled out
/// (`event.participants[2].actor_id`) when an error needs it, because references are checked
/// for every appended entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceField {
    /// `actor.affiliations[i].actor_id`
    Affiliation(usize),
    /// `actor.same_as[i]`
    SameAs(usize),
    /// `event.participants[i].actor_id`
    Participant(usize),
    /// `claim.subject`
    Subject,
    /// `claim.object`
    Object,
    /// `claim.claimant`
    Claimant,
    /// `claim.event_id`
    EventId,
    /// `event.supersedes[i]` or `claim.supersedes[i]`
    Supersedes(EntryKind, usize),
}

impl std::fmt::Display for ReferenceField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReferenceField::Affiliation(i) => write!(f, "actor.affiliations[{i}].actor_id"),
            ReferenceField::SameAs(i) => write!(f, "actor.same_as[{i}]"),
            ReferenceField::Participant(i) => write!(f, "event.participants[{i}].actor_id"),
            ReferenceField::Subject => f.write_str("claim.subject"),
            ReferenceField::Object => f.write_str("claim.object"),
            ReferenceField::Claimant => f.write_str("claim.claimant"),
            ReferenceField::EventId => f.write_str("claim.event_id"),
            ReferenceField::Supersedes(kind, i) => write!(f, "{}.supersedes[{i}]", kind.as_str()),
        }
    }
}

/// An entry as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Where it is in the log.
    pub position: Position,
    /// When the server wrote it.
    pub recorded_at: SystemTime,
    /// What it says.
    pub body: EntryBody,
}
