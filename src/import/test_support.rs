//! Checks shared by the importer tests: every entry an importer yields must follow the rules
//! `Append` checks (ids, vocabulary, dates, countries, limits), and must only refer to actors
//! yielded before it. The service's own converter is private to it, so the rules an importer
//! could break are checked here with the same domain parsers.

use std::collections::HashSet;

use crate::domain::limits::{
    check_text, MAX_ALIASES, MAX_ATTRIBUTES, MAX_LONG_TEXT, MAX_MEDIUM_TEXT, MAX_SHORT_TEXT,
    MAX_SOURCES,
};
use crate::domain::{CountryCode, Edtf, EntryId, Vocabulary};
use crate::proto::{self, entry::Body};

fn entry_body(entry: proto::Entry, vocabulary: &Vocabulary) -> Result<(), String> {
    let short = |t: &str| check_text(t, MAX_SHORT_TEXT);
    let country = |c: &str| {
        if c.is_empty() {
            Ok(())
        } else {
            CountryCode::parse(c).map(drop)
        }
    };
    match entry.body {
        Some(Body::Actor(a)) => {
            EntryId::parse(&a.id)?;
            if a.name.trim().is_empty() {
                return Err("actor name empty".into());
            }
            short(&a.name)?;
            if a.aliases.len() > MAX_ALIASES {
                return Err("too many aliases".into());
            }
            for alias in &a.aliases {
                if alias.trim().is_empty() {
                    return Err("empty alias".into());
                }
                short(alias)?;
            }
            if a.kind == 0 {
                return Err("kind unset".into());
            }
            country(&a.country)?;
            for af in &a.affiliations {
                EntryId::parse(&af.actor_id)?;
                vocabulary.relation(&af.relation)?;
                if af.actor_id == a.id {
                    return Err("affiliated with itself".into());
                }
            }
        }
        Some(Body::Event(e)) => {
            EntryId::parse(&e.id)?;
            vocabulary.relation(&e.relation)?;
            if e.participants.is_empty() || e.participants.len() > 32 {
                return Err("participant count".into());
            }
            for p in &e.participants {
                EntryId::parse(&p.actor_id)?;
                if p.role == 0 {
                    return Err("role unset".into());
                }
            }
            Edtf::parse(&e.date).map_err(|e| e.to_string())?;
            if let Some(l) = &e.location {
                short(&l.name)?;
                short(&l.admin1)?;
                country(&l.country)?;
                match (l.latitude, l.longitude) {
                    (None, None) => {}
                    (Some(lat), Some(lon)) if lat.abs() <= 90.0 && lon.abs() <= 180.0 => {}
                    _ => return Err("bad coordinates".into()),
                }
            }
            check_text(&e.summary, MAX_LONG_TEXT)?;
            if e.sources.len() > MAX_SOURCES {
                return Err("too many sources".into());
            }
            for s in &e.sources {
                if s.name.trim().is_empty() && s.url.trim().is_empty() {
                    return Err("source without name or url".into());
                }
                short(&s.name)?;
                check_text(&s.url, MAX_MEDIUM_TEXT)?;
            }
            if e.certainty == 0 {
                return Err("certainty unset".into());
            }
            if e.attributes.len() > MAX_ATTRIBUTES {
                return Err("too many attributes".into());
            }
            for (k, v) in &e.attributes {
                short(k)?;
                check_text(v, MAX_MEDIUM_TEXT)?;
            }
        }
        _ => return Err("not an actor or event".into()),
    }
    Ok(())
}

/// Validates entries as `Append` would (fields, limits, vocabulary, references in order).
/// `known` holds actors the log is assumed to hold already.
pub fn assert_appendable(entries: &[proto::Entry], known: &mut HashSet<String>) {
    let vocabulary = Vocabulary::builtin();
    for entry in entries {
        if let Err(e) = entry_body(entry.clone(), &vocabulary) {
            panic!("entry refused: {e}: {entry:?}");
        }
        match &entry.body {
            Some(Body::Actor(a)) => {
                for af in &a.affiliations {
                    assert!(
                        known.contains(&af.actor_id),
                        "{} before {}",
                        a.id,
                        af.actor_id
                    );
                }
                known.insert(a.id.clone());
            }
            Some(Body::Event(e)) => {
                for p in &e.participants {
                    assert!(
                        known.contains(&p.actor_id),
                        "{} before {}",
                        e.id,
                        p.actor_id
                    );
                }
            }
            _ => panic!("importers yield only actors and events"),
        }
    }
}

/// The actors among entries.
pub fn actors(entries: &[proto::Entry]) -> Vec<&proto::Actor> {
    entries
        .iter()
        .filter_map(|e| match &e.body {
            Some(Body::Actor(a)) => Some(a),
            _ => None,
        })
        .collect()
}

/// The events among entries.
pub fn events(entries: &[proto::Entry]) -> Vec<&proto::Event> {
    entries
        .iter()
        .filter_map(|e| match &e.body {
            Some(Body::Event(e)) => Some(e),
            _ => None,
        })
        .collect()
}
