//! What a dry run remembers: nothing is written, so a later batch's references to entries of an
//! earlier one are satisfied by sending those entries along again (`validate_only`).

use std::collections::{HashMap, HashSet};

use prost::Message;

use super::super::args::ImportFormat;
use crate::domain::limits::{MAX_BATCH_BYTES, MAX_ENTRIES_PER_BATCH};
use crate::proto::{self, entry::Body};

/// Entries a dry run has "appended", so later batches may refer to them. Only what can be
/// referred to is kept: actors, and for NDJSON (where claims name events) events and claims.
#[derive(Debug, Default)]
pub(super) struct DryRunContext {
    /// Id -> the entry's latest version in the input.
    entries: HashMap<String, proto::Entry>,
}

impl DryRunContext {
    pub(super) fn actor(&self, id: &str) -> Option<&proto::Actor> {
        match &self.entries.get(id)?.body {
            Some(Body::Actor(actor)) => Some(actor),
            _ => None,
        }
    }

    /// The batch preceded by the remembered entries it refers to, directly or through each
    /// other (an actor's affiliation names another actor), each after what it refers to; and
    /// how many those are.
    pub(super) fn with_references(&self, batch: &[proto::Entry]) -> (Vec<proto::Entry>, usize) {
        let mut done: HashSet<&str> = HashSet::new();
        let mut prefix: Vec<proto::Entry> = Vec::new();
        // Depth-first, post-order, without recursion: a long chain of corrections must not
        // exhaust the stack. `(id, expanded)`: an id is emitted once its references are.
        let mut stack: Vec<(&str, bool)> = batch
            .iter()
            .flat_map(references)
            .rev()
            .map(|id| (id, false))
            .collect();
        while let Some((id, expanded)) = stack.pop() {
            let Some(entry) = self.entries.get(id) else {
                continue;
            };
            if done.contains(id) {
                continue;
            }
            if expanded {
                done.insert(id);
                prefix.push(entry.clone());
            } else {
                stack.push((id, true));
                stack.extend(references(entry).into_iter().rev().map(|r| (r, false)));
            }
        }
        let count = prefix.len();
        prefix.extend(batch.iter().cloned());
        (prefix, count)
    }

    /// True when the batch and what it refers to fit in one `Append`.
    pub(super) fn fits(&self, batch: &[proto::Entry]) -> bool {
        let (entries, _) = self.with_references(batch);
        let bytes: usize = entries.iter().map(|e| e.encoded_len() + 8).sum();
        entries.len() <= MAX_ENTRIES_PER_BATCH && bytes <= MAX_BATCH_BYTES * 3 / 4
    }

    pub(super) fn remember(&mut self, batch: &[proto::Entry], format: ImportFormat) {
        for entry in batch {
            let keep = matches!(entry.body, Some(Body::Actor(_))) || format == ImportFormat::Ndjson;
            if let (true, Some(id)) = (keep, entry_id(entry)) {
                self.entries.insert(id.to_string(), entry.clone());
            }
        }
    }
}

fn entry_id(entry: &proto::Entry) -> Option<&str> {
    match entry.body.as_ref()? {
        Body::Actor(a) => Some(&a.id),
        Body::Event(e) => Some(&e.id),
        Body::Claim(c) => Some(&c.id),
    }
}

/// Every id an entry refers to (not its own: a revision needs nothing before it).
fn references(entry: &proto::Entry) -> Vec<&str> {
    let mut ids: Vec<&str> = Vec::new();
    match entry.body.as_ref() {
        Some(Body::Actor(a)) => {
            ids.extend(a.affiliations.iter().map(|x| x.actor_id.as_str()));
            ids.extend(a.same_as.iter().map(String::as_str));
        }
        Some(Body::Event(e)) => {
            ids.extend(e.participants.iter().map(|p| p.actor_id.as_str()));
            ids.extend(e.supersedes.iter().map(String::as_str));
        }
        Some(Body::Claim(c)) => {
            ids.extend([&c.subject, &c.object, &c.claimant, &c.event_id].map(String::as_str));
            ids.extend(c.supersedes.iter().map(String::as_str));
        }
        None => {}
    }
    ids.retain(|id| !id.is_empty());
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(id: &str, part_of: Option<&str>) -> proto::Entry {
        proto::Entry {
            body: Some(Body::Actor(proto::Actor {
                id: id.into(),
                affiliations: part_of
                    .map(|p| proto::Affiliation {
                        actor_id: p.into(),
                        relation: "part_of".into(),
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn event(id: &str, actors: &[&str]) -> proto::Entry {
        proto::Entry {
            body: Some(Body::Event(proto::Event {
                id: id.into(),
                participants: actors
                    .iter()
                    .map(|a| proto::Participant {
                        actor_id: (*a).into(),
                        role: proto::Role::Participant as i32,
                    })
                    .collect(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn a_dry_run_sends_what_a_batch_refers_to_transitively_in_input_order() {
        let mut context = DryRunContext::default();
        context.remember(
            &[
                actor("syr", None),
                actor("unit", Some("syr")),
                actor("other", None),
            ],
            ImportFormat::Gdelt,
        );
        context.remember(&[event("ev-old", &["unit"])], ImportFormat::Gdelt);
        assert!(
            !context.entries.contains_key("ev-old"),
            "GDELT events are never referred to"
        );
        // A later revision of the parent keeps the prefix in dependency order.
        context.remember(&[actor("syr", None)], ImportFormat::Gdelt);
        let batch = [event("ev-new", &["unit"])];
        let (entries, prefix) = context.with_references(&batch);
        assert_eq!(prefix, 2);
        let ids: Vec<&str> = entries.iter().filter_map(entry_id).collect();
        assert_eq!(ids, vec!["syr", "unit", "ev-new"]);
    }

    #[test]
    fn an_actor_the_same_as_another_brings_it_along() {
        let mut context = DryRunContext::default();
        context.remember(&[actor("hezbollah", None)], ImportFormat::Ndjson);
        let mut linked = actor("cameo-lbnreb", None);
        if let Some(Body::Actor(a)) = &mut linked.body {
            a.same_as = vec!["hezbollah".into()];
        }
        let (entries, prefix) = context.with_references(&[linked]);
        assert_eq!(prefix, 1);
        let ids: Vec<&str> = entries.iter().filter_map(entry_id).collect();
        assert_eq!(ids, vec!["hezbollah", "cameo-lbnreb"]);
    }

    #[test]
    fn a_dry_run_batch_that_brings_too_much_along_does_not_fit() {
        let mut context = DryRunContext::default();
        let actors: Vec<proto::Entry> = (0..1200).map(|i| actor(&format!("a{i}"), None)).collect();
        context.remember(&actors, ImportFormat::Gdelt);
        let events: Vec<proto::Entry> = (0..600)
            .map(|i| {
                let (a, b) = (format!("a{}", 2 * i), format!("a{}", 2 * i + 1));
                event(&format!("e{i}"), &[a.as_str(), b.as_str()])
            })
            .collect();
        assert!(
            !context.fits(&events),
            "1200 actors and 600 events are over 1000"
        );
        assert!(
            context.fits(&events[..300]),
            "600 actors and 300 events fit"
        );
    }
}
