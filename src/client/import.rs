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
use tonic_types::StatusExt;

use super::args::{ImportArgs, ImportFormat};
use super::connect::{connect, Client};
use super::error::{code_name, ClientError};
use super::import_source::{self, Batch, BytesRead, Origin, SourceEvent, SourceSettings};
use prost::Message;

use crate::domain::limits::{MAX_BATCH_BYTES, MAX_ENTRIES_PER_BATCH};
use crate::import::actors::grow_names;
use crate::import::ImportStats;
use crate::proto::{self, entry::Body};

/// Attempts of a batch the server could not take for now (UNAVAILABLE, RESOURCE_EXHAUSTED).
/// Re-sending is safe: an append that did land is answered as duplicates.
const ATTEMPTS: u32 = 6;

/// Most entries of a dry-run batch to start with: each may bring earlier entries along (a
/// GDELT event up to four actors); a batch that still does not fit is halved.
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
        .map_err(|e| ClientError::Stopped(format!("cannot start reading: {e}")))?;
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
                run.tally.reject(origin, format!("{place}: {reason}"));
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
    let mut tally = run.tally;
    tally.sort_rejected();
    let elapsed = started.elapsed();
    eprintln!("{}", summary(&args, &tally, outcome.as_ref().ok(), elapsed));
    match outcome {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(reason) => Err(ClientError::Stopped(format!(
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
    /// Lines refused, by the reader or by the server, as `place: reason`: the first ones in
    /// line order, at most `REJECTIONS_SHOWN` (see [`Tally::reject`]).
    rejected: Vec<(Origin, String)>,
    /// Every line refused.
    rejected_total: u64,
}

impl Tally {
    /// Counts a refused line and keeps it if it is among the first in line order. The reader
    /// runs ahead of the server, so refusals arrive out of order; the list stays bounded.
    fn reject(&mut self, origin: Origin, text: String) {
        self.rejected_total += 1;
        self.rejected.push((origin, text));
        if self.rejected.len() > 2 * REJECTIONS_SHOWN {
            self.sort_rejected();
            self.rejected.truncate(REJECTIONS_SHOWN);
        }
    }

    fn sort_rejected(&mut self) {
        self.rejected
            .sort_by_key(|(origin, _)| (origin.file, origin.line == 0, origin.line));
    }
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
        if self.args.format == ImportFormat::Ndjson {
            self.skip_logged_revisions(&mut batch).await?;
        } else {
            self.reconcile_actors(&mut batch).await?;
        }
        for entry in &mut batch.entries {
            entry.position = 0;
        }
        self.append(batch).await
    }

    /// Appends (or validates) a prepared batch, retrying what the server could not take for
    /// now and dropping refused entries under --skip-invalid.
    async fn append(&mut self, mut batch: Batch) -> Result<(), String> {
        // A dry-run batch travels with what it refers to; halve it until both fit in a call.
        if let Some(context) = &self.dry_run {
            if batch.entries.len() > 1 && !context.fits(&batch.entries) {
                let second = batch.split_off(batch.entries.len() / 2);
                Box::pin(self.append(batch)).await?;
                return Box::pin(self.append(second)).await;
            }
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
                    // CANCELLED here is the transport's (the connection was asked to go just
                    // as the call left, see --max-connection-age): the batch is idempotent.
                    if matches!(
                        code,
                        Code::Unavailable | Code::ResourceExhausted | Code::Cancelled
                    ) && attempt + 1 < ATTEMPTS
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
                    self.tally.reject(origin, format!("{place}: {reason}"));
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

    /// Drops the actor revisions of an export that the log holds at the very position the export
    /// gives. An append is a duplicate only of an actor's latest revision, so without this a
    /// second run of a file with two revisions of an actor would append both again (rolling
    /// the actor back and forth); events and claims need nothing, their ids settle it.
    async fn skip_logged_revisions(&mut self, batch: &mut Batch) -> Result<(), String> {
        let mut index = 0;
        while index < batch.entries.len() {
            let entry = &batch.entries[index];
            let is_actor = matches!(entry.body, Some(Body::Actor(_)));
            if !is_actor || entry.position == 0 {
                index += 1;
                continue;
            }
            let request = proto::GetEntryRequest {
                selector: Some(proto::get_entry_request::Selector::Position(entry.position)),
            };
            let logged = match self.client.get_entry(request).await {
                Ok(response) => response.into_inner().entry.and_then(|e| e.body),
                Err(status) if status.code() == Code::NotFound => None,
                Err(status) => {
                    return Err(format!(
                        "reading position {} failed: {}: {}",
                        entry.position,
                        code_name(status.code()),
                        status.message()
                    ))
                }
            };
            if logged.is_some() && same_actor(logged.as_ref(), entry.body.as_ref()) {
                batch.remove(index);
                self.tally.duplicates += 1;
            } else {
                index += 1;
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

/// True when both are the same actor revision, ignoring what the server adds (the spans of
/// affiliation dates).
fn same_actor(logged: Option<&Body>, incoming: Option<&Body>) -> bool {
    let (Some(Body::Actor(logged)), Some(Body::Actor(incoming))) = (logged, incoming) else {
        return false;
    };
    let strip = |actor: &proto::Actor| {
        let mut actor = actor.clone();
        for affiliation in &mut actor.affiliations {
            affiliation.valid_span = None;
        }
        actor
    };
    strip(logged) == strip(incoming)
}

/// The index of the entry a refusal is about: the `entry_index` of its `google.rpc.ErrorInfo`,
/// which the server sets on every refusal of one entry of a batch (and on nothing else).
fn refused_entry(status: &tonic::Status) -> Option<usize> {
    status
        .get_details_error_info()?
        .metadata
        .get("entry_index")?
        .parse()
        .ok()
}

/// Entries a dry run has "appended", so later batches may refer to them. Only what can be
/// referred to is kept: actors, and for NDJSON (where claims name events) events and claims.
#[derive(Debug, Default)]
struct DryRunContext {
    /// Id -> the entry's latest version in the input.
    entries: HashMap<String, proto::Entry>,
}

impl DryRunContext {
    fn actor(&self, id: &str) -> Option<&proto::Actor> {
        match &self.entries.get(id)?.body {
            Some(Body::Actor(actor)) => Some(actor),
            _ => None,
        }
    }

    /// The batch preceded by the remembered entries it refers to, directly or through each
    /// other (an actor's affiliation names another actor), each after what it refers to; and
    /// how many those are.
    fn with_references(&self, batch: &[proto::Entry]) -> (Vec<proto::Entry>, usize) {
        let mut done: HashSet<&str> = HashSet::new();
        let mut prefix: Vec<proto::Entry> = Vec::new();
        // Depth-first, post-order, without recursion: a long chain of corrections must not
        // exhaust the stack. `(id, expanded)`: an id is emitted once its references are.
        let mut stack: Vec<(&str, bool)> = batch
            .iter()
            .flat_map(references)
            .rev()
            .map(|id| (id, false))
            .collect();
        while let Some((id, expanded)) = stack.pop() {
            let Some(entry) = self.entries.get(id) else {
                continue;
            };
            if done.contains(id) {
                continue;
            }
            if expanded {
                done.insert(id);
                prefix.push(entry.clone());
            } else {
                stack.push((id, true));
                stack.extend(references(entry).into_iter().rev().map(|r| (r, false)));
            }
        }
        let count = prefix.len();
        prefix.extend(batch.iter().cloned());
        (prefix, count)
    }

    /// True when the batch and what it refers to fit in one `Append`.
    fn fits(&self, batch: &[proto::Entry]) -> bool {
        let (entries, _) = self.with_references(batch);
        let bytes: usize = entries.iter().map(|e| e.encoded_len() + 8).sum();
        entries.len() <= MAX_ENTRIES_PER_BATCH && bytes <= MAX_BATCH_BYTES * 3 / 4
    }

    fn remember(&mut self, batch: &[proto::Entry], format: ImportFormat) {
        for entry in batch {
            let keep = matches!(entry.body, Some(Body::Actor(_))) || format == ImportFormat::Ndjson;
            if let (true, Some(id)) = (keep, entry_id(entry)) {
                self.entries.insert(id.to_string(), entry.clone());
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

/// Every id an entry refers to (not its own: a revision needs nothing before it).
fn references(entry: &proto::Entry) -> Vec<&str> {
    let mut ids: Vec<&str> = Vec::new();
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
                "{} new, {} dup, {rate:.0}/s",
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

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    fn actor(id: &str, part_of: Option<&str>) -> proto::Entry {
        proto::Entry {
            body: Some(Body::Actor(proto::Actor {
                id: id.into(),
                affiliations: part_of
                    .map(|p| proto::Affiliation {
                        actor_id: p.into(),
                        relation: "part_of".into(),
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn event(id: &str, actors: &[&str]) -> proto::Entry {
        proto::Entry {
            body: Some(Body::Event(proto::Event {
                id: id.into(),
                participants: actors
                    .iter()
                    .map(|a| proto::Participant {
                        actor_id: (*a).into(),
                        role: proto::Role::Participant as i32,
                    })
                    .collect(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn a_refusal_names_its_entry_by_its_details_not_its_prose() {
        let details = |index: Option<&str>| {
            let metadata: HashMap<String, String> = index
                .map(|i| ("entry_index".to_string(), i.to_string()))
                .into_iter()
                .collect();
            ErrorDetails::with_error_info("UNKNOWN_ACTOR", "eventlog", metadata)
        };
        let status =
            tonic::Status::with_error_details(Code::FailedPrecondition, "x", details(Some("12")));
        assert_eq!(refused_entry(&status), Some(12));
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "entries[3] is empty",
            details(None),
        );
        assert_eq!(refused_entry(&status), None, "the prose is not read");
        let status = tonic::Status::failed_precondition("entries[12].event: no details");
        assert_eq!(refused_entry(&status), None);
    }

    #[test]
    fn a_dry_run_sends_what_a_batch_refers_to_transitively_in_input_order() {
        let mut context = DryRunContext::default();
        context.remember(
            &[
                actor("syr", None),
                actor("unit", Some("syr")),
                actor("other", None),
            ],
            ImportFormat::Gdelt,
        );
        context.remember(&[event("ev-old", &["unit"])], ImportFormat::Gdelt);
        assert!(
            !context.entries.contains_key("ev-old"),
            "GDELT events are never referred to"
        );
        // A later revision of the parent keeps the prefix in dependency order.
        context.remember(&[actor("syr", None)], ImportFormat::Gdelt);
        let batch = [event("ev-new", &["unit"])];
        let (entries, prefix) = context.with_references(&batch);
        assert_eq!(prefix, 2);
        let ids: Vec<&str> = entries.iter().filter_map(entry_id).collect();
        assert_eq!(ids, vec!["syr", "unit", "ev-new"]);
    }

    #[test]
    fn a_dry_run_batch_that_brings_too_much_along_does_not_fit() {
        let mut context = DryRunContext::default();
        let actors: Vec<proto::Entry> = (0..1200).map(|i| actor(&format!("a{i}"), None)).collect();
        context.remember(&actors, ImportFormat::Gdelt);
        let events: Vec<proto::Entry> = (0..600)
            .map(|i| {
                let (a, b) = (format!("a{}", 2 * i), format!("a{}", 2 * i + 1));
                event(&format!("e{i}"), &[a.as_str(), b.as_str()])
            })
            .collect();
        assert!(
            !context.fits(&events),
            "1200 actors and 600 events are over 1000"
        );
        assert!(
            context.fits(&events[..300]),
            "600 actors and 300 events fit"
        );
    }
}
