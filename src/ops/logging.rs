//! Where logs go and how they look: `tracing` to stderr, human-readable or one JSON object a
//! line, filtered by `RUST_LOG` or else `--log-level`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: one line an event, colours on a terminal.
    #[default]
    Pretty,
    /// For log pipelines: one JSON object a line with `timestamp`, `level`, `target`, the
    /// event's fields and the RPC span's fields under `span`.
    Json,
}

/// Installs the global subscriber. `RUST_LOG`, when set and valid, wins over `level`.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}
