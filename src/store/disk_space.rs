//! Free space on the data directory's filesystem, checked before every write.
//!
//! Why: neither engine survives running into a full disk. sled keeps the first I/O error of
//! a flush and returns it from every later call until the database is reopened, and a failed
//! commit leaves the writer unable to tell what is durable (`StoreError::Poisoned`). So the
//! store never lets them get there: a write first checks that the filesystem keeps a reserve
//! free after it and, if not, is refused with [`StoreError::DiskFull`], writing nothing. Reads
//! need no space and go on. Nothing is latched: the next write checks again, so appends resume
//! by themselves once space is freed. The reserve also leaves the indexer room to index what
//! was acknowledged, and the engines room to compact; the indexer stops only at a quarter of
//! it ([`DiskSpace::check_background`]), so it catches up while appends are refused.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::error::StoreError;

/// What the disk looks like to the store, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskReport {
    /// Bytes free for the server's user, if the filesystem tells.
    pub free: Option<u64>,
    /// True while writes are refused for lack of space.
    pub low: bool,
    /// Writes refused for lack of space since the server started.
    pub refused: u64,
}

/// Who asks: appends and checkpoints, or the indexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    Foreground,
    Background,
}

/// The free-space guard of one data directory.
pub struct DiskSpace {
    path: PathBuf,
    reserve: u64,
    low: AtomicBool,
    refused: AtomicU64,
}

impl DiskSpace {
    /// Guards `path`'s filesystem, keeping `reserve` bytes free (0 turns the guard off).
    pub fn new(path: &Path, reserve: u64) -> DiskSpace {
        DiskSpace {
            path: path.to_path_buf(),
            reserve,
            low: AtomicBool::new(false),
            refused: AtomicU64::new(0),
        }
    }

    /// Admits a write of about `bytes` if the whole reserve stays free after it.
    pub fn check(&self, bytes: u64) -> Result<(), StoreError> {
        self.admit(bytes, self.reserve, Writer::Foreground)
    }

    /// Admits a background write (indexing) while a quarter of the reserve stays free.
    pub fn check_background(&self, bytes: u64) -> Result<(), StoreError> {
        self.admit(bytes, self.reserve / 4, Writer::Background)
    }

    fn admit(&self, bytes: u64, reserve: u64, writer: Writer) -> Result<(), StoreError> {
        if self.reserve == 0 {
            return Ok(());
        }
        // A filesystem that cannot say how full it is does not stop writes: the engines'
        // own errors still stand behind the check.
        let Some(free) = free_bytes(&self.path) else {
            return Ok(());
        };
        let needed = reserve.saturating_add(bytes);
        if free >= needed {
            // Only a foreground write that passes says writes resume: a background one passes
            // a lower bar while appends are still refused.
            if writer == Writer::Foreground && self.low.swap(false, Ordering::Relaxed) {
                tracing::warn!(
                    free_bytes = free,
                    reserve_bytes = self.reserve,
                    path = %self.path.display(),
                    "disk space is back: writes resume"
                );
            }
            return Ok(());
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        if !self.low.swap(true, Ordering::Relaxed) {
            tracing::error!(
                free_bytes = free,
                reserve_bytes = self.reserve,
                path = %self.path.display(),
                "the disk holding the data directory is almost full: writes are refused (reads \
                 go on) until space is freed or --min-free-disk-mb lowered; they resume by themselves"
            );
        }
        Err(StoreError::DiskFull {
            free,
            needed,
            reserve: self.reserve,
        })
    }

    /// The figures for metrics (reads the filesystem now).
    pub fn report(&self) -> DiskReport {
        DiskReport {
            free: free_bytes(&self.path),
            low: self.low.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// Bytes an unprivileged user may still write on `path`'s filesystem (`statvfs`'s `f_bavail`,
/// which leaves out the blocks reserved for root: the server must not live on those either).
#[cfg(target_os = "linux")]
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string that outlives the call, and `stats` points to
    // writable memory of the right type, which statvfs fills in full when it returns 0.
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    #[allow(clippy::unnecessary_cast)] // the field types differ between targets
    Some((stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
}

/// Elsewhere the guard is off: free space is not known.
#[cfg(not(target_os = "linux"))]
pub fn free_bytes(_path: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_disk_refuses_and_a_zero_reserve_admits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let Some(free) = free_bytes(dir.path()) else {
            eprintln!("skipped: free space is not known on this platform");
            return;
        };
        let guard = DiskSpace::new(dir.path(), free.saturating_mul(4).max(1));
        let refused = guard.check(0).expect_err("more than the disk has");
        assert!(matches!(refused, StoreError::DiskFull { .. }), "{refused}");
        assert!(guard.report().low);
        assert_eq!(guard.report().refused, 1);
        assert!(DiskSpace::new(dir.path(), 0).check(u64::MAX).is_ok());
        let roomy = DiskSpace::new(dir.path(), 1);
        assert!(roomy.check(0).is_ok());
        assert!(!roomy.report().low);
    }
}
