//! `eventlog import`: files in, batched `Append` calls out, and a summary a person can act on.
//!
//! The reader thread ([`super::import_source`]) parses; this side sends one batch at a time, in
//! order, because a batch may refer to actors the previous one introduced. Each batch is
//! atomic on the server. Ids come from the source (`gdelt:<id>`, `acled:<id>`, or the NDJSON
//! entry's own), and the server answers an identical re-append with `duplicate`, so re-running
//! an import appends nothing new.
//!
//! GDELT and ACLED imports also reconcile actors with the log (see
//! [`crate::import::actors::grow_names`]): an actor the log already holds is only revised when
//! the input adds a name. NDJSON entries are appended as they are, so export then import
//! reproduces the log.
//!
//! A dry run sends each batch with `validate_only`, so the server checks every rule without
//! writing. Since nothing is written, a later batch's references to actors (and, for NDJSON,
//! events) of an earlier batch are satisfied by sending those entries along again; the dry run
//! keeps them in memory for that, which the real import does not need to.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tonic::Code;

use super::args::{ImportArgs, ImportFormat};
use super::connect::{connect, Client};
use super::error::{code_name, ClientError};
use super::import_source::{self, Batch, BytesRead, Origin, SourceEvent, SourceSettings};
use crate::import::actors::grow_names;
use crate::import::ImportStats;
use crate::proto::{self, entry::Body};

/// Attempts of a batch the server could not take for now (UNAVAILABLE, RESOURCE_EXHAUSTED).
/// Re-sending is safe: an append that did land is answered as duplicates.
const ATTEMPTS: u32 = 6;

/// Most entries of a dry-run batch: each may bring up to four earlier actors along.
const DRY_RUN_BATCH: usize = 200;

/// Rejected lines listed in the summary; the rest are counted.
const REJECTIONS_SHOWN: usize = 20;

/// Runs an import; the summary goes to stderr.
pub async fn run(args: ImportArgs) -> Result<ExitCode, ClientError> {
    let mut client = connect(&args.connection).await?;
    let bytes_read = BytesRead::default();
    let settings = SourceSettings {
        format: args.format,
        files: args.files.clone(),
        batch_size: if args.dry_run {
            // A dry-run batch travels with the earlier entries it refers to; smaller batches
            // keep both together under the server's limit of 1000 entries a call.
            usize::from(args.batch_size).min(DRY_RUN_BATCH)
        } else {
            usize::from(args.batch_size)
        },
        skip_invalid: args.skip_invalid,
    };
    let total_bytes = total_size(&args.files);
    let mut events = import_source::start(settings, bytes_read.clone())
        .map_err(|e| ClientError::Import(format!("cannot start reading: {e}")))?;
    let progress = Progress::new(!args.quiet && std::io::stderr().is_terminal(), total_bytes);
    let mut run = ImportRun {
        client: &mut client,
        args: &args,
        tally: Tally::default(),
        dry_run: args.dry_run.then(DryRunContext::default),
    };
    let started = Instant::now();
    let outcome = loop {
        let Some(event) = events.recv().await else {
            break Err("the reader stopped unexpectedly".to_string());
        };
        match event {
            SourceEvent::Batch(batch) => {
                if let Err(stop) = run.send(batch).await {
                    break Err(stop);
                }
                progress.update(&bytes_read, &run.tally, started);
            }
            SourceEvent::Malformed { origin, reason } => {
                let place = run.place(origin);
                run.tally
                    .rejected
                    .push((origin, format!("{place}: {reason}")));
                if !args.skip_invalid {
                    break Err(format!(
                        "{place}: {reason}; nothing of its batch was written (fix the line, or \
                         pass --skip-invalid to import the rest)"
                    ));
                }
            }
            SourceEvent::Failed(reason) => break Err(reason),
            SourceEvent::Finished(stats) => break Ok(stats),
        }
    };
    // Dropping the receiver stops the reader if it is still going.
    drop(events);
    progress.finish();
    let tally = run.tally;
    let elapsed = started.elapsed();
    eprintln!("{}", summary(&args, &tally, outcome.as_ref().ok(), elapsed));
    match outcome {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(reason) => Err(ClientError::Import(format!(
            "import stopped: {reason}\n(entries appended before this are durable; re-running \
             the import skips them as duplicates)"
        ))),
    }
}

/// What the import did, for the summary.
#[derive(Debug, Default)]
struct Tally {
    /// Entries appended (or, in a dry run, that would be).
    appended: u64,
    /// Entries the log already held, identical.
    duplicates: u64,
    /// Actor entries not sent because the log's revision already has every name.
    unchanged_actors: u64,
    /// Each line refused, by the reader or by the server, as `place: reason`.
    rejected: Vec<(Origin, String)>,
}

struct ImportRun<'a> {
    client: &'a mut Client,
    args: &'a ImportArgs,
    tally: Tally,
    dry_run: Option<DryRunContext>,
}

impl ImportRun<'_> {
    /// `file:line`, or `file (end of import)` for actor revisions made at the end.
    fn place(&self, origin: Origin) -> String {
        let file = self
            .args
            .files
            .get(origin.file)
            .map_or_else(|| "?".to_string(), |p| p.display().to_string());
        let file = if file == "-" {
            "<stdin>".to_string()
        } else {
            file
        };
        if origin.line == 0 {
            format!("{file} (actor aliases gathered at the end)")
        } else {
            format!("{file}:{}", origin.line)
        }
    }

    /// Sends one batch, dropping refused entries under --skip-invalid. Err stops the import.
    async fn send(&mut self, mut batch: Batch) -> Result<(), String> {
        if self.args.format != ImportFormat::Ndjson {
            self.reconcile_actors(&mut batch).await?;
        }
        let mut attempt = 0;
        while !batch.entries.is_empty() {
            let (entries, prefix) = match &self.dry_run {
                Some(context) => context.with_references(&batch.entries),
                None => (batch.entries.clone(), 0),
            };
            let request = proto::AppendRequest {
                entries,
                expected_head: None,
                validate_only: self.dry_run.is_some(),
            };
            match self.client.append(request).await {
                Ok(response) => {
                    let results = response.into_inner().results;
                    for result in results.iter().skip(prefix) {
                        if result.duplicate {
                            self.tally.duplicates += 1;
                        } else {
                            self.tally.appended += 1;
                        }
                    }
                    if let Some(context) = &mut self.dry_run {
                        context.remember(&batch.entries, self.args.format);
                    }
                    return Ok(());
                }
                Err(status) => {
                    let code = status.code();
                    if matches!(code, Code::Unavailable | Code::ResourceExhausted)
                        && attempt + 1 < ATTEMPTS
                    {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                        continue;
                    }
                    // A refusal inside the prefix is about an earlier, already reported line.
                    let index = refused_entry(&status).and_then(|i| i.checked_sub(prefix));
                    let Some(index) = index.filter(|&i| i < batch.entries.len()) else {
                        return Err(format!(
                            "the server answered {}: {}",
                            code_name(code),
                            status.message()
                        ));
                    };
                    let place = self.place(batch.origins[index]);
                    let reason = format!("{}: {}", code_name(code), status.message());
                    let origin = batch.origins[index];
                    self.tally
                        .rejected
                        .push((origin, format!("{place}: {reason}")));
                    if !self.args.skip_invalid {
                        return Err(format!(
                            "{place}: refused by the server, {reason}; nothing of its batch was \
                             written (fix the line, or pass --skip-invalid to import the rest)"
                        ));
                    }
                    batch.remove(index);
                }
            }
        }
        Ok(())
    }

    /// Drops actor entries the log already holds with every name, and turns the rest of those
    /// into revisions that only add names.
    async fn reconcile_actors(&mut self, batch: &mut Batch) -> Result<(), String> {
        let mut index = 0;
        while index < batch.entries.len() {
            let Some(Body::Actor(incoming)) = &batch.entries[index].body else {
                index += 1;
                continue;
            };
            let existing = match self.dry_run.as_ref().and_then(|c| c.actor(&incoming.id)) {
                Some(actor) => Some(actor.clone()),
                None => self.logged_actor(&incoming.id).await?,
            };
            match existing.map(|existing| grow_names(&existing, incoming)) {
                None => index += 1,
                Some(Some(grown)) => {
                    batch.entries[index].body = Some(Body::Actor(grown));
                    index += 1;
                }
                Some(None) => {
                    batch.remove(index);
                    self.tally.unchanged_actors += 1;
                }
            }
        }
        Ok(())
    }

    async fn logged_actor(&mut self, id: &str) -> Result<Option<proto::Actor>, String> {
        let request = proto::GetActorRequest { id: id.to_string() };
        match self.client.get_actor(request).await {
            Ok(response) => Ok(response.into_inner().actor),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(format!(
                "looking up actor {id:?} failed: {}: {}",
                code_name(status.code()),
                status.message()
            )),
        }
    }
}

/// The index of the entry a refusal names: every append error message starts with
/// `entries[N]`.
fn refused_entry(status: &tonic::Status) -> Option<usize> {
    if !matches!(
        status.code(),
        Code::InvalidArgument | Code::FailedPrecondition | Code::AlreadyExists
    ) {
        return None;
    }
    let rest = status.message().strip_prefix("entries[")?;
    let (digits, _) = rest.split_once(']')?;
    digits.parse().ok()
}

/// Entries a dry run has "appended", so later batches may refer to them. Only what can be
/// referred to is kept: actors, and for NDJSON (where claims name events) events and claims.
#[derive(Debug, Default)]
struct DryRunContext {
    /// Id -> (input order, entry).
    entries: HashMap<String, (u64, proto::Entry)>,
    remembered: u64,
}

impl DryRunContext {
    fn actor(&self, id: &str) -> Option<&proto::Actor> {
        match &self.entries.get(id)?.1.body {
            Some(Body::Actor(actor)) => Some(actor),
            _ => None,
        }
    }

    /// The batch preceded by the remembered entries it refers to, directly or through each
    /// other (an actor's affiliation names another actor), in input order; and how many.
    fn with_references(&self, batch: &[proto::Entry]) -> (Vec<proto::Entry>, usize) {
        let mut wanted: HashSet<&str> = HashSet::new();
        let mut pending: Vec<&str> = batch.iter().flat_map(references).collect();
        while let Some(id) = pending.pop() {
            if let Some((_, entry)) = self.entries.get(id) {
                if wanted.insert(id) {
                    pending.extend(references(entry));
                }
            }
        }
        let mut prefix: Vec<&(u64, proto::Entry)> = wanted
            .iter()
            .filter_map(|id| self.entries.get(*id))
            .collect();
        prefix.sort_by_key(|(order, _)| *order);
        let count = prefix.len();
        let entries = prefix
            .into_iter()
            .map(|(_, entry)| entry.clone())
            .chain(batch.iter().cloned())
            .collect();
        (entries, count)
    }

    fn remember(&mut self, batch: &[proto::Entry], format: ImportFormat) {
        for entry in batch {
            let keep = matches!(entry.body, Some(Body::Actor(_))) || format == ImportFormat::Ndjson;
            if let (true, Some(id)) = (keep, entry_id(entry)) {
                self.remembered += 1;
                self.entries
                    .insert(id.to_string(), (self.remembered, entry.clone()));
            }
        }
    }
}

fn entry_id(entry: &proto::Entry) -> Option<&str> {
    match entry.body.as_ref()? {
        Body::Actor(a) => Some(&a.id),
        Body::Event(e) => Some(&e.id),
        Body::Claim(c) => Some(&c.id),
    }
}

/// Every id an entry refers to, its own included (an actor revision needs its first revision).
fn references(entry: &proto::Entry) -> Vec<&str> {
    let mut ids: Vec<&str> = entry_id(entry).into_iter().collect();
    match entry.body.as_ref() {
        Some(Body::Actor(a)) => ids.extend(a.affiliations.iter().map(|x| x.actor_id.as_str())),
        Some(Body::Event(e)) => {
            ids.extend(e.participants.iter().map(|p| p.actor_id.as_str()));
            ids.extend(e.supersedes.iter().map(String::as_str));
        }
        Some(Body::Claim(c)) => {
            ids.extend([&c.subject, &c.object, &c.claimant, &c.event_id].map(String::as_str));
            ids.extend(c.supersedes.iter().map(String::as_str));
        }
        None => {}
    }
    ids.retain(|id| !id.is_empty());
    ids
}

fn total_size(files: &[PathBuf]) -> Option<u64> {
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

fn summary(
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
    lines.push(format!("rejected {} line(s)", tally.rejected.len()));
    // The reader runs ahead of the server, so refusals arrive out of line order.
    let mut rejected: Vec<&(Origin, String)> = tally.rejected.iter().collect();
    rejected.sort_by_key(|(origin, _)| (origin.file, origin.line == 0, origin.line));
    for (_, rejection) in rejected.into_iter().take(REJECTIONS_SHOWN) {
        lines.push(format!("  {rejection}"));
    }
    if tally.rejected.len() > REJECTIONS_SHOWN {
        lines.push(format!(
            "  ... and {} more",
            tally.rejected.len() - REJECTIONS_SHOWN
        ));
    }
    lines.join("\n")
}

/// The progress bar: drawn on a terminal only, by bytes read when the input size is known.
struct Progress(Option<ProgressBar>);

impl Progress {
    fn new(visible: bool, total_bytes: Option<u64>) -> Progress {
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

    fn update(&self, bytes_read: &BytesRead, tally: &Tally, started: Instant) {
        if let Some(bar) = &self.0 {
            bar.set_position(bytes_read.load(std::sync::atomic::Ordering::Relaxed));
            let rate = tally.appended as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} appended, {} duplicates, {rate:.0} entries/s",
                tally.appended, tally.duplicates
            ));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
