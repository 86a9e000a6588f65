//! The reading half of `eventlog import`: a thread that parses the input files and hands
//! batches to the sender through a small bounded channel, so parsing the next batch overlaps
//! appending the last one and memory stays at a few batches whatever the input's size.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prost::Message;
use tokio::sync::mpsc;

use super::args::ImportFormat;
use crate::domain::limits::MAX_BATCH_BYTES;
use crate::import::{
    AcledReader, ActorBook, GdeltReader, ImportError, ImportStats, NdjsonReader, RowSource,
};
use crate::proto::{self, entry::Body};

/// Batches parsed ahead of the sender. Two keep the sender busy while bounding memory.
const BATCHES_AHEAD: usize = 2;

/// Where an entry came from, for messages a person can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Index into the import's file list.
    pub file: usize,
    /// The 1-based line its row starts on; 0 for an actor revision the import made at the end
    /// from names gathered over the whole input.
    pub line: u64,
}

/// Entries to append together, each with its origin.
#[derive(Debug, Default)]
pub struct Batch {
    /// The entries, in input order.
    pub entries: Vec<proto::Entry>,
    /// `origins[i]` is where `entries[i]` came from.
    pub origins: Vec<Origin>,
    /// Encoded size of `entries`, to keep a batch under the server's limit.
    bytes: usize,
}

impl Batch {
    /// Takes out entry `index`, returning where it came from.
    pub fn remove(&mut self, index: usize) -> Origin {
        self.entries.remove(index);
        self.origins.remove(index)
    }

    /// Splits the batch at `at`, returning the second part.
    pub fn split_off(&mut self, at: usize) -> Batch {
        Batch {
            entries: self.entries.split_off(at),
            origins: self.origins.split_off(at),
            bytes: 0,
        }
    }
}

/// What the reader thread reports, in input order.
#[derive(Debug)]
pub enum SourceEvent {
    /// Entries ready to append.
    Batch(Batch),
    /// A row the reader refused. Without --skip-invalid it is the last event.
    Malformed {
        /// Where.
        origin: Origin,
        /// Why.
        reason: String,
    },
    /// An input could not be opened or read; the last event.
    Failed(String),
    /// Every file was read; the last event.
    Finished(ImportStats),
}

/// What the reader thread needs to know.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// The input format.
    pub format: ImportFormat,
    /// The files, `-` for stdin.
    pub files: Vec<PathBuf>,
    /// Most entries a batch.
    pub batch_size: usize,
    /// Go on after a malformed row.
    pub skip_invalid: bool,
}

/// Bytes of input read so far, shared with the progress bar.
pub type BytesRead = Arc<AtomicU64>;

/// Starts the reader thread; its events arrive on the returned channel.
pub fn start(
    settings: SourceSettings,
    bytes_read: BytesRead,
) -> std::io::Result<mpsc::Receiver<SourceEvent>> {
    let (tx, rx) = mpsc::channel(BATCHES_AHEAD);
    std::thread::Builder::new()
        .name("eventlog-import-reader".into())
        .spawn(move || {
            let last = read_all(&settings, &bytes_read, &tx);
            // The receiver is gone only when the sender stopped; nothing left to tell.
            let _ = tx.blocking_send(last);
        })?;
    Ok(rx)
}

/// Reads every file; returns the last event to send.
fn read_all(
    settings: &SourceSettings,
    bytes_read: &BytesRead,
    tx: &mpsc::Sender<SourceEvent>,
) -> SourceEvent {
    let mut batcher = Batcher {
        tx,
        batch: Batch::default(),
        size: settings.batch_size,
    };
    let mut book = ActorBook::new();
    let mut totals = ImportStats::default();
    for (file, path) in settings.files.iter().enumerate() {
        let input = match open(path, bytes_read) {
            Ok(input) => input,
            Err(error) => return SourceEvent::Failed(error),
        };
        let mut reader = match reader(settings.format, input, book) {
            Ok(reader) => reader,
            Err(error) => return SourceEvent::Failed(format!("{}: {error}", path.display())),
        };
        while let Some(item) = reader.next() {
            match item {
                Ok(entries) => {
                    let origin = Origin {
                        file,
                        line: reader.line(),
                    };
                    for entry in entries {
                        if !batcher.push(entry, origin) {
                            return SourceEvent::Failed("the import was stopped".into());
                        }
                    }
                }
                Err(ImportError::Row(row)) => {
                    let origin = Origin {
                        file,
                        line: row.line,
                    };
                    let event = SourceEvent::Malformed {
                        origin,
                        reason: row.reason.to_string(),
                    };
                    if !settings.skip_invalid {
                        // The batch this row would have joined is dropped: nothing of it is
                        // written, as the import promises.
                        return event;
                    }
                    if tx.blocking_send(event).is_err() {
                        return SourceEvent::Failed("the import was stopped".into());
                    }
                }
                Err(error) => return SourceEvent::Failed(format!("{}: {error}", path.display())),
            }
        }
        let (stats, carried) = reader.finish();
        add(&mut totals, &stats);
        book = carried;
    }
    // Names gathered over the whole input, as one revision per actor that grew.
    let last_file = settings.files.len().saturating_sub(1);
    for actor in book.grown_actors() {
        let entry = proto::Entry {
            body: Some(Body::Actor(actor)),
            ..Default::default()
        };
        let origin = Origin {
            file: last_file,
            line: 0,
        };
        if !batcher.push(entry, origin) {
            return SourceEvent::Failed("the import was stopped".into());
        }
    }
    if !batcher.flush() {
        return SourceEvent::Failed("the import was stopped".into());
    }
    SourceEvent::Finished(totals)
}

fn add(totals: &mut ImportStats, stats: &ImportStats) {
    totals.rows += stats.rows;
    totals.events += stats.events;
    totals.actors += stats.actors;
    totals.errors += stats.errors;
    for (reason, count) in &stats.skipped {
        *totals.skipped.entry(*reason).or_default() += count;
    }
}

/// Fills batches and sends each when full (by count or by bytes).
struct Batcher<'a> {
    tx: &'a mpsc::Sender<SourceEvent>,
    batch: Batch,
    size: usize,
}

impl Batcher<'_> {
    /// Adds an entry; false when the sender has gone away.
    fn push(&mut self, entry: proto::Entry, origin: Origin) -> bool {
        let bytes = entry.encoded_len() + 8;
        // Leave a quarter of the server's batch limit as headroom for framing.
        let full = self.batch.bytes + bytes > MAX_BATCH_BYTES * 3 / 4;
        if full && !self.batch.entries.is_empty() && !self.flush() {
            return false;
        }
        self.batch.entries.push(entry);
        self.batch.origins.push(origin);
        self.batch.bytes += bytes;
        if self.batch.entries.len() >= self.size {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.batch.entries.is_empty() {
            return true;
        }
        let batch = std::mem::take(&mut self.batch);
        self.tx.blocking_send(SourceEvent::Batch(batch)).is_ok()
    }
}

fn reader(
    format: ImportFormat,
    input: Box<dyn BufRead>,
    book: ActorBook,
) -> Result<Box<dyn RowSource>, ImportError> {
    Ok(match format {
        ImportFormat::Ndjson => Box::new(NdjsonReader::new(input)),
        ImportFormat::Gdelt => Box::new(GdeltReader::with_book(input, book)),
        ImportFormat::Acled => Box::new(AcledReader::with_book(input, book)?),
    })
}

fn open(path: &Path, bytes_read: &BytesRead) -> Result<Box<dyn BufRead>, String> {
    let inner: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(File::open(path).map_err(|e| format!("{}: {e}", path.display()))?)
    };
    Ok(Box::new(BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner,
            count: Arc::clone(bytes_read),
        },
    )))
}

/// Counts the bytes read, for the progress bar.
struct Counting {
    inner: Box<dyn Read>,
    count: BytesRead,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
