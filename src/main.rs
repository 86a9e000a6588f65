//! The `eventlog` binary: parses the command line and runs the chosen subcommand.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};

use eventlog::config::{Cli, Command, Serve, TokenCommand};
use eventlog::ops::{auth, logging};
use eventlog::server::{self, ServerError};

/// mimalloc rather than the system allocator: the server's hot paths (decoding records,
/// building messages) allocate many small strings, and glibc's malloc spent a third of the
/// catch-up time in allocation and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3's `mi_option_purge_delay` (its index in `mi_option_t`; the Rust bindings name only
/// older options). The test below checks that this index holds that option's default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the OS at once rather than after mimalloc's default second. The
/// server frees in bursts (a group commit's records, a catch-up chunk, a fan-out's messages), and
/// what it kept for that second counted in its RSS: in the scale run at 300k events, RSS after
/// the load fell from 379–395 MiB to 322–329 and every phase's peak by 60–90 MiB, with the same
/// rates (two alternating pairs of runs, docs/benchmarks.md). `MIMALLOC_PURGE_DELAY` in the
/// environment still wins.
fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set takes two integers and only stores the value; mimalloc reads
        // the option each time it decides whether to purge.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

fn main() -> ExitCode {
    return_freed_memory_at_once();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match cli.command {
        Command::Serve(args) => match args.resolve(matches.subcommand_matches("serve")) {
            Ok(serve) => run(serve),
            Err(error) => {
                eprintln!("eventlog: {error}");
                ExitCode::FAILURE
            }
        },
        Command::Token(TokenCommand::Hash) => hash_token(),
        Command::Restore(args) => restore(&args.file, &args.data_dir),
        Command::Verify(args) => verify(&args.file),
        Command::Client(command) => eventlog::client::run(command),
    }
}

/// `eventlog restore FILE --data-dir DIR`.
fn restore(file: &std::path::Path, dir: &std::path::Path) -> ExitCode {
    match eventlog::backup::restore::restore(file, dir) {
        Ok(summary) => {
            println!(
                "restored positions 1-{} and {} named subscriptions into {}; start it with `eventlog serve --data-dir {}` (indexes are built on first start)",
                summary.header.position,
                summary.trailer.subscriptions,
                dir.display(),
                dir.display()
            );
            let extra: Vec<&str> = summary
                .vocabulary
                .iter()
                .map(|r| r.key.as_str())
                .filter(|key| {
                    eventlog::domain::Vocabulary::builtin()
                        .relation(key)
                        .is_err()
                })
                .collect();
            if !extra.is_empty() {
                println!(
                    "the backed-up server also knew these relations, which need its --vocabulary file: {}",
                    extra.join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("eventlog: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `eventlog verify FILE`.
fn verify(file: &std::path::Path) -> ExitCode {
    let input = match std::fs::File::open(file) {
        Ok(input) => input,
        Err(error) => {
            eprintln!("eventlog: cannot open {}: {error}", file.display());
            return ExitCode::FAILURE;
        }
    };
    match eventlog::backup::read(
        std::io::BufReader::new(input),
        &mut eventlog::backup::Discard,
    ) {
        Ok(summary) => {
            let t = &summary.trailer;
            println!(
                "{}: a complete backup of positions 1-{} ({} actor, {} event, {} claim entries; {} named subscriptions; {} chunks, {} bytes), every checksum verified",
                file.display(),
                summary.header.position,
                t.actor_entries,
                t.event_entries,
                t.claim_entries,
                t.subscriptions,
                summary.chunks,
                summary.bytes
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("eventlog: {}: {error}", file.display());
            ExitCode::FAILURE
        }
    }
}

/// `eventlog token hash`: the token on stdin, its hash on stdout. The token itself is never
/// echoed.
fn hash_token() -> ExitCode {
    let mut token = String::new();
    if let Err(error) = std::io::stdin().read_to_string(&mut token) {
        eprintln!("eventlog: cannot read the token from stdin: {error}");
        return ExitCode::FAILURE;
    }
    if token.trim().is_empty() {
        eprintln!("eventlog: no token on stdin; e.g. `printf %s \"$TOKEN\" | eventlog token hash`");
        return ExitCode::FAILURE;
    }
    println!("{}", auth::hash_token(&token));
    ExitCode::SUCCESS
}

fn run(serve: Serve) -> ExitCode {
    logging::init(serve.log_format, &serve.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("eventlog: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let running = match server::start(&serve.settings).await {
            Ok(running) => running,
            Err(error) => {
                eprintln!("eventlog: {error}");
                return ExitCode::FAILURE;
            }
        };
        // Stable lines on stdout, so scripts and tests can learn the ports when 0 was asked.
        println!("eventlog listening on {}", running.local_addr);
        if let Some(addr) = running.metrics_addr {
            println!("eventlog metrics on http://{addr}/metrics");
        }
        if let Some(addr) = running.http_addr {
            let scheme = if serve.settings.tls.is_some() {
                "https"
            } else {
                "http"
            };
            println!("eventlog console on {scheme}://{addr}/");
        }
        let signal = wait_for_signal().await;
        tracing::info!(
            signal,
            deadline_ms = serve.settings.shutdown_timeout.as_millis() as u64,
            "shutting down"
        );
        match running.stop().await {
            Ok(()) => {
                tracing::info!("stopped cleanly");
                ExitCode::SUCCESS
            }
            Err(error @ ServerError::ShutdownDeadline(_)) => {
                tracing::error!(%error, "shutdown cut short");
                eprintln!("eventlog: {error}");
                ExitCode::FAILURE
            }
            Err(error) => {
                eprintln!("eventlog: {error}");
                ExitCode::FAILURE
            }
        }
    });
    // Blocking tasks still running (a read cut short by the deadline) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(500));
    code
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, naming which.
async fn wait_for_signal() -> &'static str {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
        "SIGINT"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_index_names_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // The environment chose a value: the default cannot be checked.
        }
        // SAFETY: reading an option takes and returns integers.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        // 1000 ms is mimalloc 3's default purge delay; the options beside it default to 1
        // (eager commit delay) and 0 (NUMA nodes). A mimalloc that renumbers its options
        // fails here instead of having another option set to 0.
        assert_eq!(default, 1000);
        return_freed_memory_at_once();
        // SAFETY: as above.
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
            0
        );
    }
}
