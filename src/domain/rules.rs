//! The rules an actor, event or claim follows, whoever builds it: the gRPC adapter only maps
//! wire to domain and leaves every rule to [`Checked::new`](super::checked::Checked::new).
//!
//! Rules about one value's own fields live here (required fields, lengths, counts, shapes,
//! ranges, self-references). Rules that depend on what the log holds (duplicates, references)
//! are the append planner's ([`super::append`]).

use super::checked::Rules;
use super::error::{FieldProblem, InvalidField};
use super::ids::EntryId;
use super::limits::{
    check_count, check_text, MAX_AFFILIATIONS, MAX_ALIASES, MAX_ATTRIBUTES, MAX_LONG_TEXT,
    MAX_MEDIUM_TEXT, MAX_PARTICIPANTS, MAX_SAME_AS, MAX_SHORT_TEXT, MAX_SOURCES, MAX_SUPERSEDES,
};
use super::model::{Actor, Claim, Event, Location, Source};
use super::quote::quoted;

type Result = std::result::Result<(), InvalidField>;

impl Rules for Actor {
    fn check(&self) -> Result {
        required_text("actor.name", &self.name, MAX_SHORT_TEXT)?;
        count("actor.aliases", self.aliases.len(), MAX_ALIASES, "aliases")?;
        for (i, alias) in self.aliases.iter().enumerate() {
            required_text("", alias, MAX_SHORT_TEXT)
                .map_err(|e| e.at(format!("actor.aliases[{i}]")))?;
        }
        count(
            "actor.affiliations",
            self.affiliations.len(),
            MAX_AFFILIATIONS,
            "affiliations",
        )?;
        if let Some(i) = self.affiliations.iter().position(|a| a.actor_id == self.id) {
            return Err(InvalidField::new(
                format!("actor.affiliations[{i}].actor_id"),
                "is the actor itself; an actor cannot be affiliated with itself",
            ));
        }
        count("actor.same_as", self.same_as.len(), MAX_SAME_AS, "ids")?;
        for (i, other) in self.same_as.iter().enumerate() {
            let field = || format!("actor.same_as[{i}]");
            if other == &self.id {
                return Err(InvalidField::new(
                    field(),
                    "is the actor itself; same_as lists other actors this one is the same as",
                ));
            }
            if self.same_as[..i].contains(other) {
                return Err(InvalidField::new(field(), "is listed twice"));
            }
        }
        text("actor.description", &self.description, MAX_LONG_TEXT)
    }
}

impl Rules for Event {
    fn check(&self) -> Result {
        if self.participants.is_empty() {
            return Err(InvalidField::missing(
                "event.participants",
                "is empty; an event needs at least one participant",
            ));
        }
        count(
            "event.participants",
            self.participants.len(),
            MAX_PARTICIPANTS,
            "participants",
        )?;
        if let Some(location) = &self.location {
            location_rules(location)?;
        }
        text("event.summary", &self.summary, MAX_LONG_TEXT)?;
        sources("event.sources", &self.sources)?;
        count(
            "event.attributes",
            self.attributes.len(),
            MAX_ATTRIBUTES,
            "attributes",
        )?;
        for (key, value) in &self.attributes {
            let field = || format!("event.attributes[{}]", quoted(key));
            required_text("", key, MAX_SHORT_TEXT).map_err(|e| e.at(field()))?;
            text("", value, MAX_MEDIUM_TEXT).map_err(|e| e.at(field()))?;
        }
        supersedes("event.supersedes", &self.supersedes, &self.id)
    }
}

impl Rules for Claim {
    fn check(&self) -> Result {
        let statement = self.subject.is_some() && self.relation.is_some();
        if self.event_id.is_none() && !statement {
            return Err(InvalidField::missing(
                "claim",
                "needs a subject and a relation (subject relation object), or an event_id for a claim about an event",
            ));
        }
        if self.object.is_some() && !statement {
            return Err(InvalidField::missing(
                "claim.object",
                "needs a subject and a relation to go with it",
            ));
        }
        sources("claim.sources", &self.sources)?;
        text("claim.statement", &self.statement, MAX_LONG_TEXT)?;
        supersedes("claim.supersedes", &self.supersedes, &self.id)
    }
}

fn location_rules(location: &Location) -> Result {
    if let Some((lat, lon)) = location.coordinates {
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
    }
    text("event.location.name", &location.name, MAX_SHORT_TEXT)?;
    text("event.location.admin1", &location.admin1, MAX_SHORT_TEXT)
}

fn sources(field: &str, sources: &[Source]) -> Result {
    count(field, sources.len(), MAX_SOURCES, "sources")?;
    for (i, source) in sources.iter().enumerate() {
        let under = |e: InvalidField| e.under(&format!("{field}[{i}]"));
        if source.name.trim().is_empty() && source.url.trim().is_empty() {
            return Err(under(InvalidField::missing("", "needs a name or a url")));
        }
        text("name", &source.name, MAX_SHORT_TEXT).map_err(under)?;
        text("url", &source.url, MAX_MEDIUM_TEXT).map_err(under)?;
    }
    Ok(())
}

fn supersedes(field: &str, ids: &[EntryId], own: &EntryId) -> Result {
    count(field, ids.len(), MAX_SUPERSEDES, "ids")?;
    match ids.iter().position(|id| id == own) {
        Some(i) => Err(InvalidField::new(
            format!("{field}[{i}]"),
            "is the entry itself",
        )),
        None => Ok(()),
    }
}

/// A text of at most `max` characters, without control characters.
fn text(field: &str, value: &str, max: usize) -> Result {
    check_text(value, max).map_err(|reason| {
        let problem = if value.chars().count() > max {
            FieldProblem::TooLarge
        } else {
            FieldProblem::Invalid
        };
        InvalidField::of(problem, field, reason)
    })
}

/// [`text`], and not blank.
fn required_text(field: &str, value: &str, max: usize) -> Result {
    if value.trim().is_empty() {
        return Err(InvalidField::missing(
            field,
            "is required and may not be blank",
        ));
    }
    text(field, value, max)
}

fn count(field: &str, len: usize, max: usize, what: &str) -> Result {
    check_count(len, max, what)
        .map_err(|reason| InvalidField::of(FieldProblem::TooLarge, field, reason))
}
