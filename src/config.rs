//! Command-line and environment configuration of `eventlog`.
//!
//! Every setting of `serve` is a flag with an `EVENTLOG_*` environment variable behind it, and
//! `--help` documents each with its default, so an operator never has to read the code.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::server::Settings;

/// An append-only, durable log of structured events and claims about actors, served over gRPC.
#[derive(Debug, Parser)]
#[command(name = "eventlog", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC service on an embedded sled store.
    Serve(ServeArgs),
}

/// Settings of `eventlog serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Directory of the embedded store; created if missing. Only one server may use it at a time.
    #[arg(long, env = "EVENTLOG_DATA_DIR", default_value = "./eventlog-data")]
    pub data_dir: PathBuf,

    /// Address to listen on for gRPC (port 0 picks a free port and prints it).
    #[arg(long, env = "EVENTLOG_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// TOML file of extra relation types, added to the built-in vocabulary
    /// (`[[relation]]` tables with key, description, symmetric, inverse, cameo_root).
    #[arg(long, env = "EVENTLOG_VOCABULARY")]
    pub vocabulary: Option<PathBuf>,

    /// Upper bound of the store's page cache, in MiB.
    #[arg(long, env = "EVENTLOG_CACHE_MB", default_value_t = 256)]
    pub cache_mb: u64,

    /// Log level (error, warn, info, debug, trace) or a tracing filter such as
    /// `eventlog=debug`; RUST_LOG takes precedence when set.
    #[arg(long, env = "EVENTLOG_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

impl ServeArgs {
    /// The server settings these arguments describe.
    pub fn settings(&self) -> Settings {
        Settings {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            vocabulary_file: self.vocabulary.clone(),
            cache_capacity_bytes: self.cache_mb.saturating_mul(1024 * 1024),
        }
    }
}
