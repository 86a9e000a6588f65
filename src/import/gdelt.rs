//! The GDELT 2.0 event export (`*.export.CSV`: tab-separated, 61 columns, no header, one row per
//! event) read row by row into actors and events.
//!
//! A row is first parsed and checked completely ([`GdeltRow::parse`], in [`super::gdelt_row`])
//! and only then turned into entries, so a malformed row never leaves a half-registered actor
//! behind. Each event is
//! `gdelt:<GLOBALEVENTID>`; each CAMEO actor code is an actor `cameo-<code>`, `part_of` its
//! country's actor when the code starts with the country (`cameo-usagov` part_of `cameo-usa`).
//! Everything GDELT measures that the log has no field for (QuadClass, GoldsteinScale,
//! NumMentions, AvgTone, the raw codes) goes into the event's attributes.

use std::io::BufRead;

use super::actors::ActorBook;
use super::cameo;
use super::gdelt_row::cameo_id;
pub use super::gdelt_row::{CameoActor, GdeltRow, COLUMNS};
use super::lines::Lines;
use super::text::clean;
use super::{ImportError, ImportStats, RowError, RowProblem, SkipReason};
use crate::domain::limits::{MAX_MEDIUM_TEXT, MAX_SHORT_TEXT};
use crate::proto::{self, entry::Body, ActorKind, Certainty, Role};

/// The host of a URL, as the source's name (`https://www.reuters.com/x` is `www.reuters.com`).
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// Turns checked rows into entries, emitting each actor once (see [`ActorBook`]).
fn entries(row: GdeltRow, book: &mut ActorBook) -> Vec<proto::Entry> {
    let mut out = Vec::new();
    let mut participants = Vec::new();
    for (actor, role) in row.actors.iter().zip([Role::Initiator, Role::Target]) {
        let Some(actor) = actor else { continue };
        if let Some(parent) = actor.parent_country() {
            // The country's own actor, named by its code until a row names it: the affiliation
            // must point at an actor already in the log.
            let emitted = book.mention(&cameo_id(parent), "", || proto::Actor {
                id: cameo_id(parent),
                name: parent.to_string(),
                kind: ActorKind::State as i32,
                country: parent.to_string(),
                ..Default::default()
            });
            out.extend(emitted.map(actor_entry));
        }
        let id = actor.id();
        let emitted = book.mention(&id, &actor.name, || cameo_actor(actor));
        out.extend(emitted.map(actor_entry));
        participants.push(proto::Participant {
            actor_id: id,
            role: role as i32,
        });
    }
    let relation = row.event_code.relation();
    let names: Vec<&str> = row
        .actors
        .iter()
        .flatten()
        .map(|a| a.name.as_str())
        .collect();
    let summary = match names.as_slice() {
        [one, two] => format!("{one} {relation} {two} (CAMEO {})", row.event_code.as_str()),
        [one] => format!("{one}: {relation} (CAMEO {})", row.event_code.as_str()),
        _ => String::new(),
    };
    let name = clean(host(&row.source_url), MAX_SHORT_TEXT);
    // A URL beyond the log's limit would refuse the event; the host still says where.
    let url = if row.source_url.chars().count() <= MAX_MEDIUM_TEXT {
        clean(&row.source_url, MAX_MEDIUM_TEXT)
    } else {
        String::new()
    };
    // An empty SOURCEURL, or one of nothing but control characters, names no source.
    let sources = if name.is_empty() && url.is_empty() {
        Vec::new()
    } else {
        vec![proto::Source {
            name,
            url,
            published: String::new(),
        }]
    };
    let id = row.id();
    let mut attributes = row.attributes;
    attributes.insert("cameo_root".into(), row.event_code.root().to_string());
    out.push(proto::Entry {
        body: Some(Body::Event(proto::Event {
            id,
            relation: relation.to_string(),
            participants,
            date: row.date,
            location: row.location,
            summary,
            sources,
            // Machine-coded from news reports: reported, never confirmed.
            certainty: Certainty::Reported as i32,
            attributes,
            ..Default::default()
        })),
        ..Default::default()
    });
    out
}

fn cameo_actor(actor: &CameoActor) -> proto::Actor {
    let types: Vec<&str> = actor.types.iter().map(String::as_str).collect();
    proto::Actor {
        id: actor.id(),
        name: actor.name.clone(),
        aliases: if actor.name == actor.code {
            Vec::new()
        } else {
            vec![actor.code.clone()]
        },
        kind: cameo::actor_kind(&types, &actor.code, actor.country.as_deref()) as i32,
        country: actor.country.clone().unwrap_or_default(),
        affiliations: actor
            .parent_country()
            .map(|parent| proto::Affiliation {
                actor_id: cameo_id(parent),
                relation: "part_of".into(),
                ..Default::default()
            })
            .into_iter()
            .collect(),
        same_as: Vec::new(),
        description: String::new(),
    }
}

fn actor_entry(actor: proto::Actor) -> proto::Entry {
    proto::Entry {
        body: Some(Body::Actor(actor)),
        ..Default::default()
    }
}

/// Reads a GDELT 2.0 export and yields, for each row with an actor, the entries to append:
/// actors new to this import, then the event. Rows without an actor are skipped and counted in
/// [`GdeltReader::stats`]; malformed rows are yielded as [`ImportError::Row`] and the reader goes
/// on; a read failure is yielded once as [`ImportError::Io`] and ends the iteration.
pub struct GdeltReader<R> {
    /// The input, read a line at a time so a 15-minute file or a day of them streams.
    lines: Lines<R>,
    /// Actors emitted so far; carried from file to file with [`GdeltReader::with_book`].
    book: ActorBook,
    /// What the import did so far.
    stats: ImportStats,
}

impl<R: BufRead> GdeltReader<R> {
    /// A reader with an empty actor book.
    pub fn new(input: R) -> GdeltReader<R> {
        GdeltReader::with_book(input, ActorBook::new())
    }

    /// A reader that continues with the actors of an earlier file (or of the log).
    pub fn with_book(input: R, book: ActorBook) -> GdeltReader<R> {
        GdeltReader {
            lines: Lines::new(input),
            book,
            stats: ImportStats::default(),
        }
    }

    /// What the import did so far.
    pub fn stats(&self) -> &ImportStats {
        &self.stats
    }

    /// The actor book, for [`ActorBook::grown_actors`] or the next file.
    pub fn into_book(self) -> ActorBook {
        self.book
    }

    /// The 1-based line of the row read last.
    pub fn line(&self) -> u64 {
        self.lines.line()
    }
}

/// One row's entries, or `None` for a row without an actor (counted in `stats`).
fn row(
    bytes: &[u8],
    book: &mut ActorBook,
    stats: &mut ImportStats,
) -> Result<Option<Vec<proto::Entry>>, RowProblem> {
    let text = std::str::from_utf8(bytes).map_err(|_| RowProblem::NotUtf8)?;
    let fields: Vec<&str> = text.split('\t').collect();
    let row = GdeltRow::parse(&fields)?;
    if row.actors.iter().all(Option::is_none) {
        stats.skip(SkipReason::NoActor);
        return Ok(None);
    }
    Ok(Some(entries(row, book)))
}

impl<R: BufRead> Iterator for GdeltReader<R> {
    type Item = Result<Vec<proto::Entry>, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let bytes = match self.lines.next_row(&mut self.stats)? {
                Ok(bytes) => bytes,
                Err(error) => return Some(Err(error)),
            };
            match row(bytes, &mut self.book, &mut self.stats) {
                Ok(None) => continue,
                Ok(Some(entries)) => {
                    self.stats.emitted(&entries);
                    return Some(Ok(entries));
                }
                Err(reason) => {
                    self.stats.errors += 1;
                    return Some(Err(ImportError::Row(RowError {
                        line: self.lines.line(),
                        reason,
                    })));
                }
            }
        }
    }
}

impl<R: BufRead> super::RowSource for GdeltReader<R> {
    fn line(&self) -> u64 {
        self.lines.line()
    }

    fn stats(&self) -> &ImportStats {
        &self.stats
    }

    fn finish(self: Box<Self>) -> (ImportStats, ActorBook) {
        (self.stats, self.book)
    }
}
