//! GDELT-shaped input of any size, shared by the import benchmark and the scale run so that
//! both import exactly the same kind of file.
//!
//! A large file is made by repeating a sample export with fresh GLOBALEVENTIDs: the rows stay
//! real GDELT rows (actor codes, CAMEO codes, geography), only the ids are new, so every row is
//! a new event and none is a duplicate.

#![allow(dead_code)] // each benchmark uses its own part

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Event ids of the generated file start here, far above GDELT's own.
pub const FIRST_ID: u64 = 9_000_000_000;

/// The sample to repeat: the file named by `EVENTLOG_BENCH_GDELT`, else the first real export in
/// `../shared/data/gdelt/`, else the test fixture (which is always there).
pub fn sample_file() -> PathBuf {
    if let Ok(path) = std::env::var("EVENTLOG_BENCH_GDELT") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/data/gdelt");
    if let Ok(dir) = std::fs::read_dir(&shared) {
        let mut found: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".export.CSV"))
            .collect();
        found.sort();
        if let Some(first) = found.into_iter().next() {
            return first;
        }
    }
    root.join("tests/fixtures/gdelt/sample.export.CSV")
}

/// Writes `rows` rows to `out`: the sample's rows in turn, each with the next fresh
/// GLOBALEVENTID from `FIRST_ID` on.
pub fn write_large_file(sample: &Path, out: &Path, rows: usize) -> std::io::Result<()> {
    let text = std::fs::read_to_string(sample)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return Err(std::io::Error::other(format!(
            "{} has no rows",
            sample.display()
        )));
    }
    let mut writer = BufWriter::new(std::fs::File::create(out)?);
    for n in 0..rows {
        let line = lines[n % lines.len()];
        let rest = line.split_once('\t').map_or("", |(_, rest)| rest);
        writeln!(writer, "{}\t{rest}", FIRST_ID + n as u64)?;
    }
    writer.flush()
}
