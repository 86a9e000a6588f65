//! What a person sees of an import: the progress bar while it runs, the tally of what happened
//! and the summary at the end.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::super::args::ImportArgs;
use super::super::import_source::{BytesRead, Origin};
use crate::import::ImportStats;

/// Rejected lines listed in the summary; the rest are counted.
const REJECTIONS_SHOWN: usize = 20;
/// What the import did, for the summary.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Entries appended (or, in a dry run, that would be).
    pub(super) appended: u64,
    /// Entries the log already held, identical.
    pub(super) duplicates: u64,
    /// Actor entries not sent because the log's revision already has every name.
    pub(super) unchanged_actors: u64,
    /// Lines refused, by the reader or by the server, as `place: reason`: the first ones in
    /// line order, at most `REJECTIONS_SHOWN` (see [`Tally::reject`]).
    pub(super) rejected: Vec<(Origin, String)>,
    /// Every line refused.
    pub(super) rejected_total: u64,
}

impl Tally {
    /// Counts a refused line and keeps it if it is among the first in line order. The reader
    /// runs ahead of the server, so refusals arrive out of order; the list stays bounded.
    pub(super) fn reject(&mut self, origin: Origin, text: String) {
        self.rejected_total += 1;
        self.rejected.push((origin, text));
        if self.rejected.len() > 2 * REJECTIONS_SHOWN {
            self.sort_rejected();
            self.rejected.truncate(REJECTIONS_SHOWN);
        }
    }

    pub(super) fn sort_rejected(&mut self) {
        self.rejected
            .sort_by_key(|(origin, _)| (origin.file, origin.line == 0, origin.line));
    }
}

pub(super) fn total_size(files: &[PathBuf]) -> Option<u64> {
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                return None;
            }
            std::fs::metadata(path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len())
        })
        .sum()
}

pub(super) fn summary(
    args: &ImportArgs,
    tally: &Tally,
    stats: Option<&ImportStats>,
    elapsed: Duration,
) -> String {
    let mut lines = Vec::new();
    let verb = if args.dry_run {
        "dry run, nothing written: would append"
    } else {
        "appended"
    };
    let rate = tally.appended as f64 / elapsed.as_secs_f64().max(1e-3);
    let mut head = format!(
        "{verb} {} entries in {:.1} s ({rate:.0}/s); {} duplicates already in the log",
        tally.appended,
        elapsed.as_secs_f64(),
        tally.duplicates
    );
    if tally.unchanged_actors > 0 {
        head.push_str(&format!(
            "; {} actors already in the log with every name",
            tally.unchanged_actors
        ));
    }
    lines.push(head);
    if let Some(stats) = stats {
        let mut read = format!(
            "read {} rows from {} file(s): {} events or claims, {} actor entries",
            stats.rows,
            args.files.len(),
            stats.events,
            stats.actors
        );
        for (reason, count) in &stats.skipped {
            read.push_str(&format!("; skipped {count} ({reason})"));
        }
        lines.push(read);
    }
    lines.push(format!("rejected {} line(s)", tally.rejected_total));
    for (_, rejection) in tally.rejected.iter().take(REJECTIONS_SHOWN) {
        lines.push(format!("  {rejection}"));
    }
    let shown = tally.rejected.len().min(REJECTIONS_SHOWN) as u64;
    if tally.rejected_total > shown {
        lines.push(format!("  ... and {} more", tally.rejected_total - shown));
    }
    lines.join("\n")
}

/// The progress bar: drawn on a terminal only, by bytes read when the input size is known.
pub(super) struct Progress(Option<ProgressBar>);

impl Progress {
    pub(super) fn new(visible: bool, total_bytes: Option<u64>) -> Progress {
        if !visible {
            return Progress(None);
        }
        let bar = match total_bytes {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} (ETA {eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {bytes} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        Progress(Some(bar))
    }

    pub(super) fn update(&self, bytes_read: &BytesRead, tally: &Tally, started: Instant) {
        if let Some(bar) = &self.0 {
            bar.set_position(bytes_read.load(std::sync::atomic::Ordering::Relaxed));
            let rate = tally.appended as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} new, {} dup, {rate:.0}/s",
                tally.appended, tally.duplicates
            ));
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
