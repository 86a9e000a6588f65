//! `eventlog restore`: a data directory built offline from a backup file.
//!
//! The file is read once, checked as it goes (chunk checksums, sequence, record checksums),
//! and written into a new store; the trailer's counts and digest are checked at the end. A
//! damaged or truncated file leaves no directory behind: a half-restored log must never be
//! mistaken for a whole one. The derived indexes are built by the first `eventlog serve` on the
//! directory, from the log, as after any crash.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{BackupError, Summary, Visitor};
use crate::domain::Position;
use crate::store::restore::LogRestorer;

/// Page cache used while restoring: writes in order need little.
const RESTORE_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Why a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The backup file could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The target directory is not new and empty.
    #[error("{} already exists and is not empty: restore into a new directory", .0.display())]
    NotEmpty(PathBuf),
    /// The file is not a complete, undamaged backup.
    #[error("{}: {source}; nothing was restored", path.display())]
    Backup {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: BackupError,
    },
    /// Writing the store failed.
    #[error("cannot write the store in {}: {reason}; nothing was restored", dir.display())]
    Store {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Restores the backup in `file` into the new directory `dir`.
pub fn restore(file: &Path, dir: &Path) -> Result<Summary, RestoreError> {
    let input = File::open(file).map_err(|source| RestoreError::Open {
        path: file.to_path_buf(),
        source,
    })?;
    let existed = dir.exists();
    if existed
        && std::fs::read_dir(dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true)
    {
        return Err(RestoreError::NotEmpty(dir.to_path_buf()));
    }
    let result = write(BufReader::new(input), file, dir);
    if result.is_err() {
        // Nothing half-restored stays behind (the directory was new or empty).
        let _ = std::fs::remove_dir_all(dir);
        if existed {
            let _ = std::fs::create_dir_all(dir);
        }
    }
    result
}

fn write(input: BufReader<File>, file: &Path, dir: &Path) -> Result<Summary, RestoreError> {
    let store_error = |reason: String| RestoreError::Store {
        dir: dir.to_path_buf(),
        reason,
    };
    let restorer =
        LogRestorer::create(dir, RESTORE_CACHE_BYTES).map_err(|e| store_error(e.to_string()))?;
    let mut writer = Writer {
        restorer,
        failed: None,
    };
    let summary = super::read(input, &mut writer).map_err(|source| {
        match writer.failed.take() {
            // The store refused what the file held: say it as the store said it.
            Some(reason) => store_error(reason),
            None => RestoreError::Backup {
                path: file.to_path_buf(),
                source,
            },
        }
    })?;
    writer
        .restorer
        .finish()
        .map_err(|e| store_error(e.to_string()))?;
    Ok(summary)
}

/// Hands what the reader verified to the store.
struct Writer {
    restorer: LogRestorer,
    /// A store failure (not the file's fault), kept to report as such.
    failed: Option<String>,
}

impl Visitor for Writer {
    fn records(&mut self, first: u64, records: Vec<Bytes>) -> Result<(), String> {
        self.restorer
            .append(Position(first), records)
            .map_err(|e| self.note(e))
    }

    fn subscription(&mut self, name: &str, state: &[u8]) -> Result<(), String> {
        self.restorer
            .put_subscription(name, state)
            .map_err(|e| self.note(e))
    }
}

impl Writer {
    /// A store error: damage found in the content (reported against the file) or a failure
    /// to write (reported against the store).
    fn note(&mut self, error: crate::store::StoreError) -> String {
        let reason = error.to_string();
        if !matches!(error, crate::store::StoreError::Corrupt { .. }) {
            self.failed = Some(reason.clone());
        }
        reason
    }
}
