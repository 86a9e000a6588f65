//! ACLED's CSV export (quoted, with a header row, the current column set) read row by row into
//! actors and events.
//!
//! Columns are found by their header names, so their order does not matter; a missing column
//! stops the import before any row. As for GDELT, a row is checked completely before anything
//! is emitted. Each event is `acled:<event_id_cnty>`, each actor `acled-actor-<slug of its
//! name>`. ACLED codes events from media and partner reports without confirming each one, so
//! events are `CERTAINTY_REPORTED`.
//!
//! actor1 is the event's `INITIATOR` and actor2 its `TARGET`, so the relation graph reads
//! "actor1 attacks actor2" for directed relations; for the symmetric ones (`clashes_with`,
//! `cooperates_with`) the log treats the two roles as one. Associated actors are `SUPPORTER`s;
//! which side each backed stays in the `assoc_actor_1` and `assoc_actor_2` attributes. ACLED
//! gives no country per actor, so actors have none; the event's place has the country.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use super::acled_types;
use super::actors::ActorBook;
use super::countries::numeric_to_iso3;
use super::crlf::CrlfToLf;
use super::text::{clean, slug_id};
use super::{ImportError, ImportStats, RowError, RowProblem, SkipReason};
use crate::domain::limits::{
    MAX_LONG_TEXT, MAX_MEDIUM_TEXT, MAX_PARTICIPANTS, MAX_SHORT_TEXT, MAX_SOURCES,
};
use crate::domain::{Edtf, EntryId};
use crate::proto::{self, entry::Body, ActorKind, Certainty, Role};

/// The columns the importer cannot do without.
const REQUIRED: &[&str] = &[
    "event_id_cnty",
    "event_date",
    "time_precision",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "iso",
    "admin1",
    "location",
    "latitude",
    "longitude",
    "source",
    "notes",
    "fatalities",
];

/// Columns kept as they are in the event's attributes, when not empty.
const KEPT: &[&str] = &[
    "event_type",
    "sub_event_type",
    "disorder_type",
    "time_precision",
    "year",
    "assoc_actor_1",
    "assoc_actor_2",
    "inter1",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin2",
    "admin3",
    "geo_precision",
    "source_scale",
    "fatalities",
    "tags",
    "timestamp",
];

/// The prefix of every ACLED actor's id.
pub const ACTOR_PREFIX: &str = "acled-actor-";

/// A named actor of a row and the kind its side's interaction code gives it.
#[derive(Debug, Clone, PartialEq)]
struct AcledActor {
    id: String,
    name: String,
    kind: ActorKind,
    role: Role,
}

/// One row, checked.
#[derive(Debug, Clone, PartialEq)]
struct AcledRow {
    id: String,
    date: String,
    relation: &'static str,
    actors: Vec<AcledActor>,
    location: Option<proto::Location>,
    sources: Vec<proto::Source>,
    summary: String,
    attributes: BTreeMap<String, String>,
}

/// `2022-09-24` or `24 September 2022` as (year, month, day).
fn parse_day(text: &str) -> Option<(u16, u8, u8)> {
    let text = text.trim();
    if let [y, m, d] = text.split('-').collect::<Vec<_>>()[..] {
        if y.len() == 4 && m.len() == 2 && d.len() == 2 {
            return Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?));
        }
    }
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let parts: Vec<&str> = text.split([' ', '-']).filter(|p| !p.is_empty()).collect();
    if let [d, m, y] = parts[..] {
        let month = MONTHS
            .iter()
            .position(|name| name.eq_ignore_ascii_case(m))?;
        if y.len() == 4 && d.len() <= 2 {
            return Some((y.parse().ok()?, month as u8 + 1, d.parse().ok()?));
        }
    }
    None
}

/// The event's EDTF date from `event_date` and `time_precision`: 1 is the day, 2 a day ACLED
/// places within a week or so (an approximate day), 3 a day standing for its month.
fn date(event_date: &str, precision: &str) -> Result<String, RowProblem> {
    let (y, m, d) = parse_day(event_date).ok_or_else(|| {
        RowProblem::invalid(
            "event_date",
            event_date,
            "expected a day like 2022-09-24 or 24 September 2022",
        )
    })?;
    let day = format!("{y:04}-{m:02}-{d:02}");
    Edtf::parse(&day).map_err(|e| RowProblem::invalid("event_date", event_date, e.to_string()))?;
    match precision.trim() {
        "1" => Ok(day),
        "2" => Ok(format!("{day}~")),
        "3" => Ok(format!("{y:04}-{m:02}")),
        "" => Err(RowProblem::Missing {
            field: "time_precision",
        }),
        other => Err(RowProblem::invalid(
            "time_precision",
            other,
            "expected 1 (day), 2 (about that day) or 3 (that month)",
        )),
    }
}

impl AcledRow {
    fn parse(get: &dyn Fn(&str) -> String) -> Result<Option<AcledRow>, RowProblem> {
        let id_text = get("event_id_cnty");
        if id_text.is_empty() {
            return Err(RowProblem::Missing {
                field: "event_id_cnty",
            });
        }
        let id = format!("acled:{id_text}");
        EntryId::parse(&id).map_err(|e| RowProblem::invalid("event_id_cnty", &id_text, e))?;
        let date = date(&get("event_date"), &get("time_precision"))?;
        let relation = acled_types::relation(&get("event_type"), &get("sub_event_type"))
            .map_err(|e| RowProblem::invalid("event_type", &get("event_type"), e))?;

        let mut actors = Vec::new();
        // Kept apart and added after both sides' actors, so that a long list of associated
        // actors never crowds actor2 out of the participant limit.
        let mut supporters = Vec::new();
        let sides = [
            ("actor1", "assoc_actor_1", "inter1", Role::Initiator),
            ("actor2", "assoc_actor_2", "inter2", Role::Target),
        ];
        for (actor_field, assoc_field, inter_field, role) in sides {
            let name = clean(&get(actor_field), MAX_SHORT_TEXT);
            if name.is_empty() {
                continue;
            }
            let inter = get(inter_field);
            // Associated actors have no code of their own; they usually share their side's.
            let kind = acled_types::actor_kind(&inter)
                .map_err(|e| RowProblem::invalid(inter_field, &inter, e))?;
            let assoc = get(assoc_field);
            let names = std::iter::once((name, role)).chain(
                assoc
                    .split(';')
                    .map(|n| clean(n, MAX_SHORT_TEXT))
                    .filter(|n| !n.is_empty())
                    .map(|n| (n, Role::Supporter)),
            );
            for (name, role) in names {
                let id = slug_id(ACTOR_PREFIX, &name).ok_or_else(|| {
                    RowProblem::invalid(
                        if role == Role::Supporter {
                            assoc_field
                        } else {
                            actor_field
                        },
                        &name,
                        "has no letter or digit to make an actor id from",
                    )
                })?;
                let list = if role == Role::Supporter {
                    &mut supporters
                } else {
                    &mut actors
                };
                let duplicate = list
                    .iter()
                    .any(|a: &AcledActor| a.id == id && a.role == role);
                if !duplicate {
                    list.push(AcledActor {
                        id,
                        name,
                        kind,
                        role,
                    });
                }
            }
        }
        if actors.is_empty() {
            return Ok(None);
        }
        let room = MAX_PARTICIPANTS.saturating_sub(actors.len());
        actors.extend(supporters.into_iter().take(room));

        let fatalities = get("fatalities");
        if !fatalities.is_empty() && fatalities.parse::<u64>().is_err() {
            return Err(RowProblem::invalid(
                "fatalities",
                &fatalities,
                "expected a whole number",
            ));
        }
        let mut attributes = BTreeMap::new();
        for key in KEPT {
            let value = clean(&get(key), MAX_MEDIUM_TEXT);
            if !value.is_empty() {
                attributes.insert(key.to_string(), value);
            }
        }
        let sources = get("source")
            .split(';')
            .map(|s| clean(s, MAX_SHORT_TEXT))
            .filter(|s| !s.is_empty())
            .take(MAX_SOURCES)
            .map(|name| proto::Source {
                name,
                ..Default::default()
            })
            .collect();
        Ok(Some(AcledRow {
            id,
            date,
            relation,
            actors,
            location: location(get)?,
            sources,
            summary: clean(&get("notes"), MAX_LONG_TEXT),
            attributes,
        }))
    }
}

fn location(get: &dyn Fn(&str) -> String) -> Result<Option<proto::Location>, RowProblem> {
    let coordinate = |field: &'static str, limit: f64| -> Result<Option<f64>, RowProblem> {
        let text = get(field);
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(v) if (-limit..=limit).contains(&v) => Ok(Some(v)),
            _ => Err(RowProblem::invalid(
                field,
                &text,
                format!("expected degrees from -{limit} to {limit}"),
            )),
        }
    };
    let latitude = coordinate("latitude", 90.0)?;
    let longitude = coordinate("longitude", 180.0)?;
    match (latitude, longitude) {
        (Some(_), None) => {
            return Err(RowProblem::invalid(
                "longitude",
                &get("longitude"),
                "is empty while latitude is set; give both coordinates or neither",
            ))
        }
        (None, Some(_)) => {
            return Err(RowProblem::invalid(
                "latitude",
                &get("latitude"),
                "is empty while longitude is set; give both coordinates or neither",
            ))
        }
        _ => {}
    }
    let iso = get("iso");
    let country = if iso.is_empty() {
        ""
    } else {
        let numeric: u16 = iso.parse().map_err(|_| {
            RowProblem::invalid("iso", &iso, "expected an ISO 3166 numeric code, e.g. 760")
        })?;
        // Codes the table lacks stay in the `iso` and `country` attributes.
        numeric_to_iso3(numeric).unwrap_or("")
    };
    let name = clean(&get("location"), MAX_SHORT_TEXT);
    let admin1 = clean(&get("admin1"), MAX_SHORT_TEXT);
    if name.is_empty() && admin1.is_empty() && country.is_empty() && latitude.is_none() {
        return Ok(None);
    }
    Ok(Some(proto::Location {
        name,
        country: country.to_string(),
        admin1,
        latitude,
        longitude,
    }))
}

fn entries(row: AcledRow, book: &mut ActorBook) -> Vec<proto::Entry> {
    let mut out = Vec::new();
    let mut participants = Vec::new();
    for actor in row.actors {
        let emitted = book.mention(&actor.id, &actor.name, || proto::Actor {
            id: actor.id.clone(),
            name: actor.name.clone(),
            kind: actor.kind as i32,
            ..Default::default()
        });
        out.extend(emitted.map(|a| proto::Entry {
            body: Some(Body::Actor(a)),
            ..Default::default()
        }));
        participants.push(proto::Participant {
            actor_id: actor.id,
            role: actor.role as i32,
        });
    }
    out.push(proto::Entry {
        body: Some(Body::Event(proto::Event {
            id: row.id,
            relation: row.relation.to_string(),
            participants,
            date: row.date,
            location: row.location,
            summary: row.summary,
            sources: row.sources,
            certainty: Certainty::Reported as i32,
            attributes: row.attributes,
            ..Default::default()
        })),
        ..Default::default()
    });
    out
}

/// Reads an ACLED CSV export and yields, for each row with an actor, the entries to append:
/// actors new to this import, then the event. Rows without actor1 and actor2 are skipped and
/// counted; malformed rows are yielded as [`ImportError::Row`] and the reader goes on; a read
/// failure is yielded once as [`ImportError::Io`] and ends the iteration.
pub struct AcledReader<R> {
    /// The CSV parser: quoted fields may hold commas, quotes and line breaks.
    csv: csv::Reader<CrlfToLf<R>>,
    /// Column index of each header name.
    columns: HashMap<String, usize>,
    /// Fields in the header, which every row must have too (`columns` holds a repeated name,
    /// such as the "" of padding columns, once).
    width: usize,
    /// Actors emitted so far, carried across files with [`AcledReader::with_book`].
    book: ActorBook,
    /// What the import did so far.
    stats: ImportStats,
    /// Set after a read failure, which leaves the position in the input unknown.
    failed: bool,
    /// The line the record read last starts on.
    line: u64,
}

impl<R: Read> AcledReader<R> {
    /// Reads the header; fails when a column the importer needs is missing.
    pub fn new(input: R) -> Result<AcledReader<R>, ImportError> {
        AcledReader::with_book(input, ActorBook::new())
    }

    /// As [`AcledReader::new`], continuing with the actors of an earlier file (or of the log).
    pub fn with_book(input: R, book: ActorBook) -> Result<AcledReader<R>, ImportError> {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(CrlfToLf::new(input));
        let headers = csv.headers().map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(e) => ImportError::Io(e),
            other => ImportError::Header(format!("{other:?}")),
        })?;
        let width = headers.len();
        let columns: HashMap<String, usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim().trim_start_matches('\u{feff}').to_string(), i))
            .collect();
        if let Some(missing) = REQUIRED.iter().find(|c| !columns.contains_key(**c)) {
            return Err(ImportError::MissingColumn(missing));
        }
        Ok(AcledReader {
            csv,
            columns,
            width,
            book,
            stats: ImportStats::default(),
            failed: false,
            line: 1,
        })
    }

    /// What the import did so far.
    pub fn stats(&self) -> &ImportStats {
        &self.stats
    }

    /// The actor book, for [`ActorBook::grown_actors`] or the next file.
    pub fn into_book(self) -> ActorBook {
        self.book
    }

    /// The line the record read last starts on (the header is line 1).
    pub fn line(&self) -> u64 {
        self.line
    }

    fn row(&mut self, record: &csv::StringRecord) -> Result<Option<Vec<proto::Entry>>, RowProblem> {
        if record.len() != self.width {
            return Err(RowProblem::FieldCount {
                found: record.len(),
                expected: self.width,
            });
        }
        let columns = &self.columns;
        let get = |name: &str| -> String {
            columns
                .get(name)
                .and_then(|&i| record.get(i))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        match AcledRow::parse(&get)? {
            Some(row) => Ok(Some(entries(row, &mut self.book))),
            None => {
                self.stats.skip(SkipReason::NoAcledActor);
                Ok(None)
            }
        }
    }
}

impl<R: Read> Iterator for AcledReader<R> {
    type Item = Result<Vec<proto::Entry>, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut record = csv::StringRecord::new();
        while !self.failed {
            // The line the record starts on, for the error message.
            let mut line = self.csv.position().line();
            let problem = match self.csv.read_record(&mut record) {
                Ok(false) => return None,
                Ok(true) => {
                    line = record.position().map_or(line, |p| p.line());
                    self.line = line;
                    if record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    self.stats.rows += 1;
                    match self.row(&record) {
                        Ok(None) => continue,
                        Ok(Some(entries)) => {
                            self.stats.emitted(&entries);
                            return Some(Ok(entries));
                        }
                        Err(problem) => problem,
                    }
                }
                Err(e) => {
                    self.stats.rows += 1;
                    line = e.position().map_or(line, |p| p.line());
                    self.line = line;
                    match e.into_kind() {
                        csv::ErrorKind::Io(e) => {
                            self.failed = true;
                            return Some(Err(ImportError::Io(e)));
                        }
                        csv::ErrorKind::Utf8 { .. } => RowProblem::NotUtf8,
                        other => RowProblem::Csv(format!("{other:?}")),
                    }
                }
            };
            self.stats.errors += 1;
            return Some(Err(ImportError::Row(RowError {
                line,
                reason: problem,
            })));
        }
        None
    }
}

impl<R: Read> super::RowSource for AcledReader<R> {
    fn line(&self) -> u64 {
        self.line
    }

    fn stats(&self) -> &ImportStats {
        &self.stats
    }

    fn finish(self: Box<Self>) -> (ImportStats, ActorBook) {
        (self.stats, self.book)
    }
}
