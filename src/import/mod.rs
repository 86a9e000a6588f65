//! Importers: rows of public event datasets (GDELT 2.0 exports, ACLED CSV) turned into log
//! entries, ready to be sent with `Append`.
//!
//! This layer is pure mapping. It reads from any `BufRead` (GDELT) or `Read` (ACLED), yields
//! `proto::Entry` values row by row (the actors a row introduces first, then its event) and never
//! talks to a server: the `eventlog import` command sends what it yields. It must never panic on
//! input; every malformed row becomes a [`RowError`] naming the line and what is wrong, and the
//! caller decides whether to go on.
//!
//! - [`gdelt`]: the 61-column, tab-separated GDELT 2.0 event export; [`gdelt_row`] checks one
//!   row of it.
//! - [`acled`]: ACLED's quoted CSV with a header row.
//! - [`ndjson`]: the log's own export format, one entry a line.
//! - [`cameo`]: CAMEO event codes to relations and CAMEO actor types to actor kinds.
//! - [`acled_types`]: ACLED event and sub-event types to relations, interaction codes to kinds.
//! - [`countries`]: FIPS 10-4 and ISO 3166 numeric codes to ISO 3166-1 alpha-3.
//! - [`actors`]: which actors an import has already emitted.
//! - [`text`]: slugs for ids and text cleaned to fit the log's limits.
//!
//! **Actors are emitted once per import.** The first row that mentions an actor emits it, with
//! that row's name; names seen later are remembered and offered by
//! [`ActorBook::grown_actors`] as revisions the caller may append at the end. Appending an actor
//! again with other content makes a new revision, so a caller importing many files should seed
//! the book with the ids already in the log ([`ActorBook::mark_known`]) rather than let every
//! file re-emit them.

pub mod acled;
pub mod acled_types;
pub mod actors;
pub mod cameo;
pub mod countries;
pub mod crlf;
pub mod gdelt;
pub mod gdelt_row;
mod lines;
pub mod ndjson;
pub mod text;

#[cfg(test)]
mod acled_tests;
#[cfg(test)]
mod gdelt_tests;
#[cfg(test)]
mod test_support;

pub use acled::AcledReader;
pub use actors::ActorBook;
pub use gdelt::GdeltReader;
pub use ndjson::NdjsonReader;

/// What every reader of an input format offers the import command: rows' entries as an
/// iterator, the line of the row read last (for reporting), and at the end its counts and the
/// actors it emitted.
pub trait RowSource: Iterator<Item = Result<Vec<proto::Entry>, ImportError>> {
    /// The 1-based line the row read last starts on.
    fn line(&self) -> u64;
    /// What the reader did so far.
    fn stats(&self) -> &ImportStats;
    /// The final counts and the actor book, to carry into the next file.
    fn finish(self: Box<Self>) -> (ImportStats, ActorBook);
}

use std::fmt;

use crate::proto;

/// What went wrong with one input row. The row is not imported; later rows still are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RowError {
    /// The 1-based line (GDELT) or record line (ACLED, where a quoted field may span lines) the
    /// row starts on, so a person can open the file there.
    pub line: u64,
    /// What is wrong with it.
    pub reason: RowProblem,
}

/// The ways a row can be malformed. Each message says what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RowProblem {
    /// The row has the wrong number of fields.
    #[error("has {found} fields; expected {expected} (is this the right file format?)")]
    FieldCount {
        /// Fields found.
        found: usize,
        /// Fields the format has.
        expected: usize,
    },
    /// The row is not valid UTF-8.
    #[error("is not valid UTF-8")]
    NotUtf8,
    /// A required field is empty.
    #[error("{field} is empty; it is required")]
    Missing {
        /// The column name.
        field: &'static str,
    },
    /// A field does not hold what its column should.
    #[error("{field} is {value:?}: {expected}")]
    Invalid {
        /// The column name.
        field: &'static str,
        /// The value found (cut to 80 characters).
        value: String,
        /// What the column should hold.
        expected: String,
    },
    /// The CSV parser refused the record for a reason other than its bytes. (It does not report
    /// an unclosed quote: such a record runs on to the end of the file and is refused for its
    /// field count.)
    #[error("is not valid CSV: {0}")]
    Csv(String),
    /// The line is longer than any entry can be; the rest of it was skipped unread.
    #[error("is longer than {max} bytes; no entry is that large (is this the right file?)")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// An NDJSON line is not a log entry in the proto3 JSON mapping.
    #[error("is not a log entry in JSON: {0}")]
    Json(String),
}

impl RowProblem {
    /// An [`RowProblem::Invalid`] with the value cut short, so one huge field cannot flood a log.
    pub fn invalid(field: &'static str, value: &str, expected: impl Into<String>) -> RowProblem {
        RowProblem::Invalid {
            field,
            value: value.chars().take(80).collect(),
            expected: expected.into(),
        }
    }
}

/// Longest line the line-based readers take in: a batch's limit, since no entry can be larger.
/// Without a bound, a file without line breaks would be read into memory whole.
pub const MAX_LINE_BYTES: usize = crate::domain::limits::MAX_BATCH_BYTES;

/// What stops an import as a whole, as opposed to one bad row.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// One row is malformed; the reader goes on with the next.
    #[error(transparent)]
    Row(#[from] RowError),
    /// The input could not be read; the reader yields nothing more.
    #[error("reading the input failed: {0}")]
    Io(#[from] std::io::Error),
    /// The ACLED header row could not be parsed as CSV.
    #[error("the header row is not readable CSV: {0}")]
    Header(String),
    /// The ACLED header lacks a column the importer needs; nothing can be imported.
    #[error(
        "the header has no {0:?} column; is this an ACLED export with the current column set?"
    )]
    MissingColumn(&'static str),
}

/// Why rows were skipped without being an error: they are valid but carry nothing to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// A GDELT row with neither an Actor1Code nor an Actor2Code: an event needs a participant.
    NoActor,
    /// An ACLED row with neither actor1 nor actor2.
    NoAcledActor,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::NoActor => "no actor code",
            SkipReason::NoAcledActor => "no actor",
        })
    }
}

/// Counts of what an import did, for the summary the CLI prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// Data rows read (blank lines and the ACLED header are not rows).
    pub rows: u64,
    /// Events emitted.
    pub events: u64,
    /// Actor entries emitted.
    pub actors: u64,
    /// Rows skipped because they carry nothing to import, by reason.
    pub skipped: std::collections::BTreeMap<SkipReason, u64>,
    /// Rows refused as malformed.
    pub errors: u64,
}

impl ImportStats {
    /// Rows skipped for any reason.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub(crate) fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Counts the entries a row yields.
    pub(crate) fn emitted(&mut self, entries: &[proto::Entry]) {
        for entry in entries {
            match entry.body {
                Some(proto::entry::Body::Actor(_)) => self.actors += 1,
                _ => self.events += 1,
            }
        }
    }
}
