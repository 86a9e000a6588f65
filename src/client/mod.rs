//! The client subcommands of the `eventlog` binary: `import`, `export`, `query`, `tail`,
//! `actors resolve`, `info`, `backup` and `groups`. They talk to a server over gRPC, exactly as any other client
//! would through the `.proto`; nothing here touches the store.
//!
//! - [`args`]: their flags (connection, filters, output).
//! - [`connect`]: the channel, TLS and the bearer token.
//! - [`import`] and [`import_source`]: batched, resumable imports with a summary.
//! - [`follow`]: `export` and `tail`, both following a `Subscribe` stream.
//! - [`query`]: the query RPCs, actor lookup and log info, as tables or JSON.
//! - [`render`]: tables and one-line descriptions of entries.
//! - [`backup`]: the `Backup` stream into a verified file.
//! - [`groups`]: consumer groups: create, list, describe, delete, and parked entries.

pub mod args;
pub mod backup;
pub mod connect;
pub mod error;
pub mod follow;
pub mod groups;
pub mod import;
pub mod import_source;
pub mod query;
pub mod render;

use std::process::ExitCode;

use clap::Subcommand;

pub use error::ClientError;

use args::{ActorsCommand, BackupArgs, ExportArgs, ImportArgs, InfoArgs, QueryCommand, TailArgs};

/// The client subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum ClientCommand {
    /// Append entries from NDJSON, GDELT 2.0 event exports or ACLED CSV files, in batches.
    /// Re-running an import appends nothing new.
    Import(ImportArgs),
    /// Write the log (or the entries matching filters) as NDJSON, one entry a line.
    Export(ExportArgs),
    /// Ask the query RPCs: events, claims or the relation graph around an actor.
    #[command(subcommand)]
    Query(QueryCommand),
    /// Follow the log and print entries as they are appended.
    Tail(TailArgs),
    /// Look up actors.
    #[command(subcommand)]
    Actors(ActorsCommand),
    /// Describe the log: head, counts, size, server version.
    Info(InfoArgs),
    /// Write a consistent copy of the running server's log to a file (admin): every entry up
    /// to the head when it starts, the named subscriptions and the vocabulary, checksummed.
    /// Appends go on meanwhile. `eventlog verify` checks the file, `eventlog restore` uses it.
    Backup(BackupArgs),
    /// Consumer groups: create, list, describe and delete them; list, replay or drop their
    /// parked entries.
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
}

/// Runs a client subcommand to completion; errors are printed on stderr.
pub fn run(command: ClientCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("eventlog: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            ClientCommand::Import(args) => import::run(args).await,
            ClientCommand::Export(args) => follow::export(args).await,
            ClientCommand::Query(command) => query::run(command).await,
            ClientCommand::Tail(args) => follow::tail(args).await,
            ClientCommand::Actors(ActorsCommand::Resolve(args)) => query::resolve(args).await,
            ClientCommand::Info(args) => query::info(args).await,
            ClientCommand::Backup(args) => backup::run(args).await,
            ClientCommand::Groups(command) => groups::run(command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("eventlog: {error}");
            ExitCode::FAILURE
        }
    }
}
