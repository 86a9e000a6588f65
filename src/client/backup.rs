//! `eventlog backup`: the `Backup` stream written to a file, which appears only once it is
//! complete and has been read back and verified.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::args::BackupArgs;
use super::connect::connect;
use super::error::ClientError;
use crate::backup::{self, BackupWriter, Discard};
use crate::proto;

/// Runs `eventlog backup`.
pub async fn run(args: BackupArgs) -> Result<ExitCode, ClientError> {
    if args.output.exists() {
        return Err(ClientError::Usage(format!(
            "{} already exists; choose a new file (a backup never overwrites one)",
            args.output.display()
        )));
    }
    let partial = partial_path(&args.output);
    let file_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ClientError::File { path, source }
    };
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(file_error(&partial))?;
    let written = receive(&args, file, &partial).await;
    let summary = written.and_then(|()| {
        let input = File::open(&partial).map_err(file_error(&partial))?;
        backup::read(BufReader::new(input), &mut Discard).map_err(|e| {
            ClientError::Usage(format!(
                "the backup received does not verify ({e}); it was not kept"
            ))
        })
    });
    let summary = match summary {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, &args.output).map_err(file_error(&args.output))?;
    let t = &summary.trailer;
    println!(
        "backup of positions 1-{} written to {}: {} actor, {} event and {} claim entries, {} named subscriptions, {} bytes",
        summary.header.position,
        args.output.display(),
        t.actor_entries,
        t.event_entries,
        t.claim_entries,
        t.subscriptions,
        summary.bytes
    );
    Ok(ExitCode::SUCCESS)
}

/// Streams the chunks into `file`, flushed and synced to disk.
async fn receive(args: &BackupArgs, file: File, path: &Path) -> Result<(), ClientError> {
    let mut client = connect(&args.connection).await?;
    let mut stream = client
        .backup(proto::BackupRequest {})
        .await
        .map_err(ClientError::rpc("Backup"))?
        .into_inner();
    let io_error = |source| ClientError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut out = BackupWriter::new(BufWriter::new(file)).map_err(io_error)?;
    while let Some(chunk) = stream.message().await.map_err(ClientError::rpc("Backup"))? {
        out.write(&chunk).map_err(io_error)?;
    }
    let mut buffered = out.finish().map_err(io_error)?;
    buffered.flush().map_err(io_error)?;
    let file = buffered
        .into_inner()
        .map_err(|e| io_error(e.into_error()))?;
    file.sync_all().map_err(io_error)?;
    Ok(())
}

fn partial_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}
