//! The reference every rate is judged against: raw sled 0.34.7 doing the same work in the same
//! run, on the same disk, with the server's own sled settings (page cache, high-throughput mode).
//!
//! It writes the very records the server is sent (`load::event_at`, protobuf-encoded), keyed by
//! position, in batches of the same size with one flush per batch: the cheapest durable log
//! sled can be. It then scans them back, which is the floor of a catch-up read.

use std::path::Path;
use std::time::{Duration, Instant};

use prost::Message;

use crate::load::event_at;

/// What raw sled achieved.
pub struct RawSled {
    /// Records per second, insert + flush per batch, over all `events`.
    pub append_rate: f64,
    /// Records per second of a full scan (the second of two, so the page cache is warm as it is
    /// for the server's timed catch-up).
    pub scan_rate: f64,
    /// Bytes on disk after the writes, flushed.
    pub disk_bytes: u64,
}

/// Writes events `first..first + events` into a new sled database in `dir`, then scans them.
pub fn measure(dir: &Path, first: u64, events: u64, batch: u64, cache_mb: u64) -> RawSled {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(cache_mb * 1024 * 1024)
        .mode(sled::Mode::HighThroughput)
        .open()
        .expect("raw sled opens in the run's work dir");
    let tree = db.open_tree("raw").expect("raw sled opens a tree");
    let mut written = 0;
    let mut encode_time = Duration::ZERO;
    let started = Instant::now();
    while written < events {
        let size = batch.min(events - written);
        // Encoding is the client's work, not the store's: kept out of the rate, as the server's
        // rate excludes the client's encoding too (it runs in another process).
        let encoding = Instant::now();
        let mut sled_batch = sled::Batch::default();
        for n in written..written + size {
            let mut key = [0_u8; 9];
            key[0] = b'L';
            key[1..].copy_from_slice(&(n + 1).to_be_bytes());
            sled_batch.insert(&key, event_at(first + n).encode_to_vec());
        }
        encode_time += encoding.elapsed();
        tree.apply_batch(sled_batch)
            .expect("raw sled applies a batch");
        db.flush().expect("raw sled flushes");
        written += size;
    }
    let append_rate = events as f64 / (started.elapsed() - encode_time).as_secs_f64();
    let mut scan_rate = 0.0;
    for _ in 0..2 {
        let started = Instant::now();
        let mut count = 0_u64;
        let mut bytes = 0_usize;
        for item in tree.iter() {
            let (_, value) = item.expect("raw sled scans");
            bytes += value.len();
            count += 1;
        }
        std::hint::black_box(bytes);
        assert_eq!(count, events, "raw sled lost records");
        scan_rate = count as f64 / started.elapsed().as_secs_f64();
    }
    db.flush().expect("raw sled flushes");
    drop(tree);
    drop(db);
    RawSled {
        append_rate,
        scan_rate,
        disk_bytes: crate::process::disk_usage(dir),
    }
}
