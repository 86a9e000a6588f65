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

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tonic::Code;
use tonic_types::StatusExt;

use super::args::{ImportArgs, ImportFormat};
use super::connect::{connect, Client};
use super::error::{code_name, ClientError};
use super::import_source::{self, Batch, BytesRead, Origin, SourceEvent, SourceSettings};
use crate::import::actors::grow_names;
use crate::proto::{self, entry::Body};
use dry_run::DryRunContext;
use report::{summary, total_size, Progress, Tally};

mod dry_run;
mod report;

/// Attempts of a batch the server could not take for now (UNAVAILABLE, RESOURCE_EXHAUSTED).
/// Re-sending is safe: an append that did land is answered as duplicates.
const ATTEMPTS: u32 = 6;

/// Most entries of a dry-run batch to start with: each may bring earlier entries along (a
/// GDELT event up to four actors); a batch that still does not fit is halved.
const DRY_RUN_BATCH: usize = 200;

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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use tonic_types::ErrorDetails;

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
}
