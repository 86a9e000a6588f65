//! `eventlog export` and `eventlog tail`: both follow a `Subscribe` stream. Export stops when
//! the stream says it has caught up with the head as of the call, so it writes a consistent
//! prefix of the log even while others append; tail goes on with live entries.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use tonic::Streaming;

use super::args::{Connection, ExportArgs, LogFilterArgs, TailArgs};
use super::connect::connect;
use super::error::ClientError;
use super::render;
use crate::import::ndjson::entry_line;
use crate::proto::{self, subscribe_request::Start, subscribe_response::Message};

/// Writes the log (or the entries matching the filter) as NDJSON.
pub async fn export(args: ExportArgs) -> Result<ExitCode, ClientError> {
    if args.from_position == 0 {
        return Err(ClientError::Usage(
            "--from-position starts at 1, the first entry".into(),
        ));
    }
    let start = Start::FromPosition(args.from_position);
    let mut stream = follow(&args.connection, start, &args.filter).await?;
    let mut out = output(args.output.as_deref())?;
    let mut written = 0u64;
    loop {
        let Some(message) = stream
            .message()
            .await
            .map_err(ClientError::rpc("Subscribe"))?
        else {
            return Err(ClientError::Stopped(
                "the server ended the stream before the export was complete; what was written is a \
                 prefix of the log: re-run the export, or continue with --from-position"
                    .into(),
            ));
        };
        match message.message {
            Some(Message::Entry(entry)) => {
                write_line(&mut out, &entry_line(&entry).map_err(ClientError::Encode)?)?;
                written += 1;
            }
            Some(Message::Entries(batch)) => {
                for entry in &batch.entries {
                    write_line(&mut out, &entry_line(entry).map_err(ClientError::Encode)?)?;
                }
                written += batch.entries.len() as u64;
            }
            Some(Message::CaughtUp(caught_up)) => {
                out.flush().map_err(ClientError::Output)?;
                eprintln!("exported {written} entries (log head {})", caught_up.head);
                return Ok(ExitCode::SUCCESS);
            }
            Some(Message::FellBehind(_)) | Some(Message::Checkpoint(_)) | None => {}
        }
    }
}

/// Prints entries as they come, history first when --from-position is given.
pub async fn tail(args: TailArgs) -> Result<ExitCode, ClientError> {
    if args.from_position == Some(0) {
        return Err(ClientError::Usage(
            "--from-position starts at 1, the first entry".into(),
        ));
    }
    let start = match args.from_position {
        Some(position) => Start::FromPosition(position),
        None => Start::FromEnd(true),
    };
    let mut stream = follow(&args.connection, start, &args.filter).await?;
    let stdout = std::io::stdout();
    let interactive = stdout.is_terminal();
    let mut out = stdout.lock();
    let limit = args.limit.unwrap_or(u64::MAX);
    let mut printed = 0u64;
    while printed < limit {
        let message = tokio::select! {
            message = stream.message() => message.map_err(ClientError::rpc("Subscribe"))?,
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        };
        let Some(message) = message else {
            return Ok(ExitCode::SUCCESS);
        };
        let entries = match message.message {
            Some(Message::Entry(entry)) => vec![entry],
            Some(Message::Entries(batch)) => batch.entries,
            Some(Message::CaughtUp(caught_up)) if interactive => {
                eprintln!("-- caught up at position {}; following --", caught_up.head);
                continue;
            }
            Some(Message::FellBehind(behind)) => {
                eprintln!(
                    "-- fell behind at position {} (head {}); catching up --",
                    behind.position, behind.head
                );
                continue;
            }
            _ => continue,
        };
        for entry in entries {
            if printed >= limit {
                break;
            }
            let line = if args.json {
                entry_line(&entry).map_err(ClientError::Encode)?
            } else {
                render::entry_line(&entry)
            };
            write_line(&mut out, &line)?;
            printed += 1;
        }
        // Flushed at each message: a reader of the pipe wants entries as they come.
        out.flush().map_err(ClientError::Output)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// An unnamed subscription from `start`, filtered by the flags.
async fn follow(
    connection: &Connection,
    start: Start,
    filter_args: &LogFilterArgs,
) -> Result<Streaming<proto::SubscribeResponse>, ClientError> {
    let mut client = connect(connection).await?;
    let request = proto::SubscribeRequest {
        start: Some(start),
        name: String::new(),
        filter: filter(filter_args),
    };
    Ok(client
        .subscribe(request)
        .await
        .map_err(ClientError::rpc("Subscribe"))?
        .into_inner())
}

/// The API's filter from the flags; `None` when no flag narrows it.
pub(super) fn filter(args: &LogFilterArgs) -> Option<proto::SubscriptionFilter> {
    let filter = proto::SubscriptionFilter {
        kinds: args
            .kinds
            .iter()
            .map(|k| proto::EntryKind::from(*k) as i32)
            .collect(),
        actors: args.actors.clone(),
        relations: args.relations.clone(),
        date_from: args.date_from.clone().unwrap_or_default(),
        date_to: args.date_to.clone().unwrap_or_default(),
        min_certainty: args
            .min_certainty
            .map_or(0, |c| proto::Certainty::from(c) as i32),
    };
    (filter != proto::SubscriptionFilter::default()).then_some(filter)
}

fn output(path: Option<&Path>) -> Result<Box<dyn Write>, ClientError> {
    Ok(match path {
        None => Box::new(BufWriter::new(std::io::stdout())),
        Some(path) => Box::new(BufWriter::new(File::create(path).map_err(|source| {
            ClientError::File {
                path: path.to_path_buf(),
                source,
            }
        })?)),
    })
}

fn write_line(out: &mut dyn Write, line: &str) -> Result<(), ClientError> {
    out.write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .map_err(ClientError::Output)
}
