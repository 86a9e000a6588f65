//! Backup files: the chunks of the `Backup` RPC, framed in a file, checked on the way back.
//!
//! A file is the line `EVENTLOG-BACKUP 1`, then each `BackupChunk` prefixed with its length as
//! a varint (protobuf's length-delimited framing), exactly as the server sent them. Every chunk
//! carries the SHA-256 of its body and a sequence number, and the trailer carries the counts and
//! a digest of everything before it, so a reader can tell a damaged file (a chunk whose checksum
//! fails), a truncated one (no trailer), a spliced one (a sequence gap, a digest mismatch) and a
//! good one apart, and say where. Each record is also checked against its own checksum (the
//! store's [`RecordView`], a pure function of the bytes). Records and subscriptions are handed
//! to a [`Visitor`]: the restore writes them into a store, the verification drops them.

pub mod restore;

use std::io::{self, Read, Write};

use bytes::Bytes;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::domain::{EntryKind, Position};
use crate::proto::{self, backup_section::Section};
use crate::store::RecordView;

/// The first line of every backup file.
pub const MAGIC: &[u8] = b"EVENTLOG-BACKUP 1\n";
/// The format of the chunks this release writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Largest chunk accepted when reading: far above what a server sends (about 1 MiB of records),
/// so a damaged length cannot make a reader allocate without bound.
const MAX_CHUNK_BYTES: u64 = 64 * 1024 * 1024;

/// Why a backup file was refused.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The file could not be read or written.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file does not start as a backup does.
    #[error("not an eventlog backup (it does not start with \"EVENTLOG-BACKUP 1\")")]
    NotABackup,
    /// A chunk is damaged, out of place or inconsistent with the rest.
    #[error("damaged at chunk {chunk} (byte {offset}): {reason}")]
    Damaged {
        /// The chunk's sequence number (its place in the file).
        chunk: u64,
        /// Where it starts in the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The file ends before its trailer.
    #[error("truncated: the file ends at byte {offset}, inside or after chunk {chunk}, before the trailer that closes a complete backup")]
    Truncated {
        /// The chunk being read.
        chunk: u64,
        /// Where the file ends.
        offset: u64,
    },
}

/// Entries by kind, as a trailer counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// Actor entries (revisions included).
    pub actor: u64,
    /// Event entries.
    pub event: u64,
    /// Claim entries.
    pub claim: u64,
}

impl KindCounts {
    /// Counts one entry of `kind`.
    pub fn add(&mut self, kind: EntryKind) {
        match kind {
            EntryKind::Actor => self.actor += 1,
            EntryKind::Event => self.event += 1,
            EntryKind::Claim => self.claim += 1,
        }
    }

    /// Adds `other`'s counts.
    pub fn add_all(&mut self, other: KindCounts) {
        self.actor += other.actor;
        self.event += other.event;
        self.claim += other.claim;
    }

    /// What `trailer` says.
    pub fn of(trailer: &proto::BackupTrailer) -> KindCounts {
        KindCounts {
            actor: trailer.actor_entries,
            event: trailer.event_entries,
            claim: trailer.claim_entries,
        }
    }
}

/// Makes chunk `sequence` of `section`.
pub fn chunk(sequence: u64, section: Section) -> proto::BackupChunk {
    let body = proto::BackupSection {
        section: Some(section),
    }
    .encode_to_vec();
    let sha256 = Sha256::digest(&body).to_vec();
    proto::BackupChunk {
        sequence,
        body,
        sha256,
    }
}

/// The running digest a trailer carries: SHA-256 over the bodies of the chunks before it.
#[derive(Default)]
pub struct RunningDigest(Sha256);

impl RunningDigest {
    /// Takes `chunk` into the digest.
    pub fn add(&mut self, chunk: &proto::BackupChunk) {
        self.0.update(&chunk.body);
    }

    /// The digest so far.
    pub fn value(&self) -> Vec<u8> {
        self.0.clone().finalize().to_vec()
    }
}

/// Writes a backup file: the magic line, then chunks as they come.
pub struct BackupWriter<W: Write> {
    out: W,
}

impl<W: Write> BackupWriter<W> {
    /// Starts a file on `out`.
    pub fn new(mut out: W) -> io::Result<BackupWriter<W>> {
        out.write_all(MAGIC)?;
        Ok(BackupWriter { out })
    }

    /// Appends one chunk.
    pub fn write(&mut self, chunk: &proto::BackupChunk) -> io::Result<()> {
        self.out.write_all(&chunk.encode_length_delimited_to_vec())
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// What a reader hands on, in file order.
pub trait Visitor {
    /// Consecutive records, the first at `first`.
    fn records(&mut self, first: u64, records: Vec<Bytes>) -> Result<(), String>;
    /// A named subscription in the store's encoding.
    fn subscription(&mut self, name: &str, state: &[u8]) -> Result<(), String>;
}

/// A visitor that keeps nothing: for verifying a file.
pub struct Discard;

impl Visitor for Discard {
    fn records(&mut self, _first: u64, _records: Vec<Bytes>) -> Result<(), String> {
        Ok(())
    }

    fn subscription(&mut self, _name: &str, _state: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// What a complete, verified backup holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Its header.
    pub header: proto::BackupHeader,
    /// Its vocabulary.
    pub vocabulary: Vec<proto::RelationType>,
    /// Its trailer.
    pub trailer: proto::BackupTrailer,
    /// Chunks in the file, trailer included.
    pub chunks: u64,
    /// Bytes in the file.
    pub bytes: u64,
}

/// Where a reader is in the sections of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Header,
    Vocabulary,
    Records,
    Subscriptions,
}

/// Reads and checks a whole backup from `input`, handing its records and subscriptions to
/// `visitor` as they come. Any damage, gap or truncation is an error that says where; a
/// visitor's error stops the read at the chunk that caused it.
pub fn read(input: impl Read, visitor: &mut impl Visitor) -> Result<Summary, BackupError> {
    let mut input = Counting {
        inner: input,
        read: 0,
    };
    let mut magic = vec![0_u8; MAGIC.len()];
    input.read_exact(&mut magic).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => BackupError::NotABackup,
        _ => BackupError::Io(e),
    })?;
    if magic != MAGIC {
        return Err(BackupError::NotABackup);
    }
    let mut digest = RunningDigest::default();
    let mut stage = Stage::Header;
    let mut header: Option<proto::BackupHeader> = None;
    let mut vocabulary = Vec::new();
    let mut next_position = 1_u64;
    let mut subscriptions = 0_u64;
    let mut kinds = KindCounts::default();
    for sequence in 0.. {
        let offset = input.read;
        let damaged = |reason: String| BackupError::Damaged {
            chunk: sequence,
            offset,
            reason,
        };
        let Some(length) =
            read_varint(&mut input).map_err(|e| truncated_or(e, sequence, &input))?
        else {
            return Err(BackupError::Truncated {
                chunk: sequence,
                offset,
            });
        };
        if length > MAX_CHUNK_BYTES {
            return Err(damaged(format!(
                "a chunk of {length} bytes is larger than any backup holds"
            )));
        }
        let mut bytes = vec![0_u8; length as usize];
        input
            .read_exact(&mut bytes)
            .map_err(|e| truncated_or(e, sequence, &input))?;
        let chunk = proto::BackupChunk::decode(&bytes[..])
            .map_err(|e| damaged(format!("the chunk does not decode ({e})")))?;
        if chunk.sequence != sequence {
            return Err(damaged(format!(
                "its sequence number is {}: chunks are missing or out of order",
                chunk.sequence
            )));
        }
        if Sha256::digest(&chunk.body)[..] != chunk.sha256[..] {
            return Err(damaged("its checksum does not match its content".into()));
        }
        let section = proto::BackupSection::decode(&chunk.body[..])
            .map_err(|e| damaged(format!("its content does not decode ({e})")))?
            .section
            .ok_or_else(|| damaged("it holds no section".into()))?;
        let order = |want: Stage, stage: &mut Stage, what: &str| {
            if *stage > want {
                return Err(damaged(format!("{what} after the sections that follow it")));
            }
            *stage = want;
            Ok(())
        };
        match section {
            Section::Header(h) => {
                if sequence != 0 {
                    return Err(damaged("a second header".into()));
                }
                if h.format_version != FORMAT_VERSION {
                    return Err(damaged(format!(
                        "backup format {} is unknown to this version of eventlog (it reads {FORMAT_VERSION})",
                        h.format_version
                    )));
                }
                header = Some(h);
                stage = Stage::Vocabulary;
            }
            _ if header.is_none() => {
                return Err(damaged("the file does not start with a header".into()))
            }
            Section::Vocabulary(v) => {
                order(Stage::Vocabulary, &mut stage, "the vocabulary")?;
                vocabulary.extend(v.relations);
            }
            Section::Records(r) => {
                order(Stage::Records, &mut stage, "records")?;
                if r.first_position != next_position {
                    return Err(damaged(format!(
                        "records resume at position {} where {next_position} was expected",
                        r.first_position
                    )));
                }
                for (i, record) in r.records.iter().enumerate() {
                    // Each record's own checksum, as the store verifies it on every read.
                    let position = Position(next_position + i as u64);
                    let view =
                        RecordView::parse(position, record).map_err(|e| damaged(e.to_string()))?;
                    kinds.add(view.kind());
                }
                next_position += r.records.len() as u64;
                visitor
                    .records(r.first_position, r.records)
                    .map_err(damaged)?;
            }
            Section::Subscriptions(s) => {
                order(Stage::Subscriptions, &mut stage, "subscriptions")?;
                for subscription in s.subscriptions {
                    subscriptions += 1;
                    visitor
                        .subscription(&subscription.name, &subscription.state)
                        .map_err(damaged)?;
                }
            }
            Section::Trailer(trailer) => {
                let header = header.unwrap_or_default();
                let entries = next_position - 1;
                let mismatch = |what: &str, said: u64, found: u64| {
                    damaged(format!(
                        "the trailer says {said} {what}, the file holds {found}"
                    ))
                };
                if trailer.digest != digest.value() {
                    return Err(damaged(
                        "the digest of the chunks before the trailer does not match".into(),
                    ));
                }
                if entries != header.position || trailer.entries != entries {
                    return Err(mismatch("entries", header.position, entries));
                }
                if trailer.subscriptions != subscriptions {
                    return Err(mismatch(
                        "subscriptions",
                        trailer.subscriptions,
                        subscriptions,
                    ));
                }
                let said = KindCounts::of(&trailer);
                if said != kinds {
                    return Err(damaged(format!(
                        "the trailer counts {said:?} entries by kind, the file holds {kinds:?}"
                    )));
                }
                let mut rest = [0_u8; 1];
                if input.read(&mut rest)? != 0 {
                    return Err(damaged("bytes follow the trailer".into()));
                }
                return Ok(Summary {
                    header,
                    vocabulary,
                    trailer,
                    chunks: sequence + 1,
                    bytes: input.read,
                });
            }
        }
        digest.add(&chunk);
    }
    unreachable!("the chunk loop only ends by returning")
}

fn truncated_or(error: io::Error, chunk: u64, input: &Counting<impl Read>) -> BackupError {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        BackupError::Truncated {
            chunk,
            offset: input.read,
        }
    } else {
        BackupError::Io(error)
    }
}

/// A protobuf varint, or `None` at a clean end of input (no byte of it read).
fn read_varint(input: &mut impl Read) -> io::Result<Option<u64>> {
    let mut value = 0_u64;
    for i in 0..10 {
        let mut byte = [0_u8; 1];
        if input.read(&mut byte)? == 0 {
            return if i == 0 {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        value |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            return Ok(Some(value));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "a length longer than 10 bytes",
    ))
}

/// A reader that counts the bytes it has read, to say where in the file a problem is.
struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}
