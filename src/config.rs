//! Command-line, environment and config-file configuration of `eventlog`.
//!
//! Every setting of `serve` is a flag with an `EVENTLOG_*` environment variable behind it and a
//! key of the same name (with `_` for `-`) in the optional TOML file given by `--config`. A
//! flag wins over the environment, which wins over the file, which wins over the default.
//! Access tokens live only in the file (`[[auth.tokens]]`), where their hashes are kept out of
//! shell history and process listings. `--help` documents each setting with its default.

mod file;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand};

use crate::client::ClientCommand;
use crate::cluster::ClusterSettings;
use crate::ops::auth::{AccessPolicy, AuthConfigError};
use crate::ops::limits::Limits;
use crate::ops::logging::LogFormat;
use crate::ops::tls::TlsSettings;
use crate::server::{Settings, DEFAULT_MIN_FREE_DISK_MB};

pub use file::{ConfigFile, FileError};

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
#[allow(clippy::large_enum_variant)] // parsed once at start; boxing would buy nothing
pub enum Command {
    /// Run the gRPC service on an embedded sled store.
    Serve(ServeArgs),
    /// Manage access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Build a new data directory from a backup file, offline (no server runs on it), checking
    /// every checksum; a damaged or truncated file is refused, saying where, and leaves nothing.
    Restore(RestoreArgs),
    /// Check a backup file (every chunk and record checksum, the sequence, the trailer's counts
    /// and digest) without restoring it.
    Verify(VerifyArgs),
    /// Client subcommands, talking gRPC to a server (see --addr).
    #[command(flatten)]
    Client(ClientCommand),
}

/// `eventlog restore`
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The backup file (from `eventlog backup`).
    pub file: PathBuf,
    /// The new data directory (it must not exist, or be empty); then run
    /// `eventlog serve --data-dir DIR`.
    #[arg(long)]
    pub data_dir: PathBuf,
}

/// `eventlog verify`
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The backup file.
    pub file: PathBuf,
}

/// `eventlog token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Read a token from stdin and print its SHA-256 hash (lowercase hex), the form
    /// `[[auth.tokens]]` in the config file takes. Surrounding whitespace is ignored.
    Hash,
}

/// Settings of `eventlog serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TOML config file: any setting below (key = flag name with `_` for `-`), plus access
    /// tokens as `[[auth.tokens]]` tables with `name`, `sha256` (see `eventlog token hash`)
    /// and `role` (read, append or admin). Flags and environment variables override the file.
    /// [default: none]
    #[arg(long, env = "EVENTLOG_CONFIG")]
    pub config: Option<PathBuf>,

    /// Directory of the embedded store; created if missing. Only one server may use it at a time.
    #[arg(long, env = "EVENTLOG_DATA_DIR", default_value = "./eventlog-data")]
    pub data_dir: PathBuf,

    /// Address to listen on for gRPC (port 0 picks a free port and prints it). Without access
    /// tokens and TLS, only loopback addresses are allowed (see --insecure).
    #[arg(long, env = "EVENTLOG_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// TOML file of extra relation types, added to the built-in vocabulary
    /// (`[[relation]]` tables with key, description, symmetric, inverse, cameo_root).
    /// [default: none]
    #[arg(long, env = "EVENTLOG_VOCABULARY")]
    pub vocabulary: Option<PathBuf>,

    /// Upper bound of the store's page cache, in MiB.
    #[arg(long, env = "EVENTLOG_CACHE_MB", default_value_t = 256)]
    pub cache_mb: u64,

    /// MiB that must stay free on the data directory's disk. An append (or checkpoint) that
    /// would leave less is refused with RESOURCE_EXHAUSTED, writing nothing, while reads go
    /// on; writes resume by themselves once space is freed. 0 turns the check off.
    #[arg(long, env = "EVENTLOG_MIN_FREE_DISK_MB", default_value_t = DEFAULT_MIN_FREE_DISK_MB)]
    pub min_free_disk_mb: u64,

    /// Log level (error, warn, info, debug, trace) or a tracing filter such as
    /// `eventlog=debug`; RUST_LOG takes precedence when set.
    #[arg(long, env = "EVENTLOG_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log output on stderr: `pretty` for people, `json` for one JSON object a line.
    #[arg(long, env = "EVENTLOG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Serve Prometheus metrics at http://ADDR/metrics. [default: none, no metrics endpoint]
    #[arg(long, env = "EVENTLOG_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Serve the HTTP/JSON API and the analyst's web console at http://ADDR/ (https:// with
    /// --tls-cert), from the same store, with the same tokens, roles and limits as gRPC.
    /// [default: none, no HTTP listener]
    #[arg(long, env = "EVENTLOG_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,

    /// The server's TLS certificate chain (PEM); with --tls-key, serves gRPC over TLS.
    /// [default: none, plaintext]
    #[arg(long, env = "EVENTLOG_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM). [default: none]
    #[arg(long, env = "EVENTLOG_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// CA certificate (PEM) that client certificates must be signed by: mutual TLS; clients
    /// without such a certificate are refused. Needs --tls-cert. [default: none]
    #[arg(long, env = "EVENTLOG_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,

    /// Let clients without a token use server reflection (by default it needs the read role
    /// when tokens are configured). [default: off]
    #[arg(long, env = "EVENTLOG_OPEN_REFLECTION")]
    pub open_reflection: bool,

    /// Allow listening on a non-loopback address without TLS and access tokens, e.g. behind a
    /// proxy or mesh that provides them. [default: off]
    #[arg(long, env = "EVENTLOG_INSECURE")]
    pub insecure: bool,

    /// Most unary calls handled at once; past it, RESOURCE_EXHAUSTED.
    #[arg(long, env = "EVENTLOG_MAX_CONCURRENT_REQUESTS", default_value_t = Limits::default().max_concurrent_requests)]
    pub max_concurrent_requests: usize,

    /// Most finite streams (ReadLog, queries, reflection) open at once; past it,
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "EVENTLOG_MAX_STREAMS", default_value_t = Limits::default().max_streams)]
    pub max_streams: usize,

    /// Most Subscribe streams open at once; past it, RESOURCE_EXHAUSTED.
    #[arg(long, env = "EVENTLOG_MAX_SUBSCRIBERS", default_value_t = Limits::default().max_subscribers)]
    pub max_subscribers: usize,

    /// Percent of each of the pools above (unary calls, streams, subscribers) that one caller
    /// may hold at once: a caller is its access token, or its connection without one. Past
    /// it, that caller's next call is RESOURCE_EXHAUSTED while others are still served.
    #[arg(long, env = "EVENTLOG_CALLER_SHARE_PERCENT", default_value_t = Limits::default().caller_share_percent,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub caller_share_percent: u8,

    /// Most client connections open at once; one past it is closed at once.
    #[arg(long, env = "EVENTLOG_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections)]
    pub max_connections: usize,

    /// Most streams (calls) one connection may have open at once, advertised to clients as
    /// HTTP/2 MAX_CONCURRENT_STREAMS.
    #[arg(long, env = "EVENTLOG_MAX_STREAMS_PER_CONNECTION", default_value_t = Limits::default().max_streams_per_connection)]
    pub max_streams_per_connection: u32,

    /// Seconds a new connection may stay silent (no HTTP/2 preface or TLS hello) before it is
    /// closed.
    #[arg(long, env = "EVENTLOG_HANDSHAKE_TIMEOUT", default_value = "10", value_parser = seconds)]
    pub handshake_timeout: Duration,

    /// Seconds after which a connection is asked to go (HTTP/2 GOAWAY): clients open a new one
    /// for their next call, calls still open (subscriptions too) go on to their end, and an idle
    /// connection closes at once. Bounds how long an idle or hostile connection stays open.
    #[arg(long, env = "EVENTLOG_MAX_CONNECTION_AGE", default_value = "1800", value_parser = seconds)]
    pub max_connection_age: Duration,

    /// Seconds a unary call may take before it is answered UNAVAILABLE (streams are exempt).
    #[arg(long, env = "EVENTLOG_REQUEST_TIMEOUT", default_value = "30", value_parser = seconds)]
    pub request_timeout: Duration,

    /// Seconds a client may take to send a request's body; the request takes no slot until it
    /// has arrived, and past it gets DEADLINE_EXCEEDED.
    #[arg(long, env = "EVENTLOG_REQUEST_BODY_TIMEOUT", default_value = "10", value_parser = seconds)]
    pub request_body_timeout: Duration,

    /// Largest request message accepted, in bytes; past it, RESOURCE_EXHAUSTED.
    #[arg(long, env = "EVENTLOG_MAX_MESSAGE_BYTES", default_value_t = Limits::default().max_message_bytes)]
    pub max_message_bytes: usize,

    /// Most named (durable) subscriptions one access token may own (callers without a token
    /// count as one); past it, creating another is RESOURCE_EXHAUSTED.
    #[arg(long, env = "EVENTLOG_MAX_SUBSCRIPTIONS_PER_CALLER", default_value_t = Limits::default().max_subscriptions_per_caller)]
    pub max_subscriptions_per_caller: usize,

    /// Bytes of entries a subscriber may have delivered but not yet read; beyond it the server
    /// waits for the client (and, once the live feed moves on, reads from the log again).
    #[arg(long, env = "EVENTLOG_SUBSCRIBER_BUFFER_BYTES", default_value_t = Limits::default().subscriber_buffer_bytes)]
    pub subscriber_buffer_bytes: usize,

    /// Seconds a subscriber may read nothing while entries wait for it; then its stream ends
    /// with RESOURCE_EXHAUSTED naming the position to resume from.
    #[arg(long, env = "EVENTLOG_SUBSCRIBER_STALL_TIMEOUT", default_value = "60", value_parser = seconds)]
    pub subscriber_stall_timeout: Duration,

    /// Cluster mode: NATS servers (comma-separated `nats://host:port`, or `tls://`) whose
    /// JetStream stream is the log of record. Every node applies it into its own data
    /// directory; appends on any node go through it. Needs --node-name. [default: none, an
    /// embedded node that needs nothing else]
    #[arg(long, env = "EVENTLOG_NATS_URL")]
    pub nats_url: Option<String>,

    /// Cluster mode: this node's name, unique in the cluster and the same across restarts.
    /// [default: none]
    #[arg(long, env = "EVENTLOG_NODE_NAME")]
    pub node_name: Option<String>,

    /// Cluster mode: the JetStream stream that is the log of record (created if missing; its
    /// subject is `<stream>.batches`).
    #[arg(long, env = "EVENTLOG_NATS_STREAM", default_value = "eventlog")]
    pub nats_stream: String,

    /// Cluster mode: replicas of the stream when this node creates it (3 survives one dead
    /// NATS server; an existing stream keeps its own).
    #[arg(long, env = "EVENTLOG_NATS_REPLICAS", default_value_t = 3,
          value_parser = clap::value_parser!(u8).range(1..=5))]
    pub nats_replicas: u8,

    /// Cluster mode: NATS credentials file (`.creds`: user JWT and nkey seed). [default: none]
    #[arg(long, env = "EVENTLOG_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,

    /// Cluster mode: CA certificate (PEM) to trust for the NATS servers' TLS; TLS is then
    /// required. [default: none, the system's roots when a `tls://` URL asks for TLS]
    #[arg(long, env = "EVENTLOG_NATS_TLS_CA")]
    pub nats_tls_ca: Option<PathBuf>,

    /// Cluster mode: client certificate (PEM) for NATS servers that verify clients; with
    /// --nats-tls-key. [default: none]
    #[arg(long, env = "EVENTLOG_NATS_TLS_CERT")]
    pub nats_tls_cert: Option<PathBuf>,

    /// Cluster mode: the private key of --nats-tls-cert (PEM). [default: none]
    #[arg(long, env = "EVENTLOG_NATS_TLS_KEY")]
    pub nats_tls_key: Option<PathBuf>,

    /// Seconds a graceful shutdown (SIGTERM, SIGINT) may take: stop accepting, finish
    /// in-flight calls, end subscriptions with UNAVAILABLE, flush. Past it the server exits
    /// anyway, with status 1 (every acknowledged append is already durable).
    #[arg(long, env = "EVENTLOG_SHUTDOWN_TIMEOUT", default_value = "10", value_parser = seconds)]
    pub shutdown_timeout: Duration,
}

impl ServeArgs {
    /// The cluster settings, if a NATS URL is set (flag, environment or file).
    fn cluster(
        &self,
        file: &ConfigFile,
        given: &dyn Fn(&str) -> bool,
    ) -> Result<Option<ClusterSettings>, ConfigError> {
        fn pick<T: Clone>(given: bool, arg: &T, file: &Option<T>) -> T {
            match file {
                Some(value) if !given => value.clone(),
                _ => arg.clone(),
            }
        }
        fn pick_option<T: Clone>(given: bool, arg: &Option<T>, file: &Option<T>) -> Option<T> {
            if given {
                arg.clone()
            } else {
                file.clone().or_else(|| arg.clone())
            }
        }
        let Some(urls) = pick_option(given("nats_url"), &self.nats_url, &file.nats_url) else {
            return Ok(None);
        };
        let node_name = pick_option(given("node_name"), &self.node_name, &file.node_name)
            .filter(|name| !name.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::OutOfRange(
                    "--nats-url needs --node-name: a name for this node, unique in the cluster \
                     and the same across restarts"
                        .into(),
                )
            })?;
        if !node_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::OutOfRange(format!(
                "--node-name {node_name:?}: use letters, digits, '-' and '_' only"
            )));
        }
        let stream = pick(given("nats_stream"), &self.nats_stream, &file.nats_stream);
        if stream.is_empty()
            || !stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::OutOfRange(format!(
                "--nats-stream {stream:?}: a JetStream stream name of letters, digits, '-' and '_'"
            )));
        }
        let replicas = pick(
            given("nats_replicas"),
            &self.nats_replicas,
            &file.nats_replicas,
        );
        if !(1..=5).contains(&replicas) {
            return Err(ConfigError::OutOfRange(format!(
                "nats_replicas = {replicas}: JetStream streams have 1 to 5 replicas"
            )));
        }
        let cert = pick_option(
            given("nats_tls_cert"),
            &self.nats_tls_cert,
            &file.nats_tls_cert,
        );
        let key = pick_option(
            given("nats_tls_key"),
            &self.nats_tls_key,
            &file.nats_tls_key,
        );
        let tls_client = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Tls(
                    "--nats-tls-cert and --nats-tls-key go together: give both or neither".into(),
                ))
            }
        };
        Ok(Some(ClusterSettings {
            urls,
            node_name,
            stream,
            replicas: usize::from(replicas),
            creds: pick_option(given("nats_creds"), &self.nats_creds, &file.nats_creds),
            tls_ca: pick_option(given("nats_tls_ca"), &self.nats_tls_ca, &file.nats_tls_ca),
            tls_client,
        }))
    }
}

/// A duration in seconds, such as `30` or `0.5`.
fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
        return Err(format!(
            "{text} s: give a number of seconds above 0, at most 86400"
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file.
    #[error(transparent)]
    File(#[from] FileError),
    /// The tokens in it.
    #[error("{path}: {source}")]
    Tokens {
        /// The config file.
        path: String,
        /// Why.
        source: AuthConfigError,
    },
    /// TLS settings that do not go together.
    #[error("{0}")]
    Tls(String),
    /// A setting out of its range (flags are checked when parsed; this is for the file).
    #[error("{0}")]
    OutOfRange(String),
}

/// Everything `serve` needs: the server's settings and how to log.
#[derive(Debug, Clone)]
pub struct Serve {
    /// For `server::start`.
    pub settings: Settings,
    /// Log output.
    pub log_format: LogFormat,
    /// Log filter (RUST_LOG wins).
    pub log_level: String,
}

impl ServeArgs {
    /// Merges these arguments with the config file they name. `matches` are the `serve`
    /// subcommand's, which tell which values were given as flags or environment variables
    /// (those win over the file) and which are defaults (the file wins over those).
    pub fn resolve(self, matches: Option<&ArgMatches>) -> Result<Serve, ConfigError> {
        let file = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        let given = |id: &str| {
            matches.is_some_and(|m| {
                matches!(
                    m.value_source(id),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
            })
        };
        fn pick<T>(given: bool, arg: T, file: Option<T>) -> T {
            match file {
                Some(value) if !given => value,
                _ => arg,
            }
        }
        fn pick_option<T>(given: bool, arg: Option<T>, file: Option<T>) -> Option<T> {
            if given {
                arg
            } else {
                file.or(arg)
            }
        }
        let cluster = self.cluster(&file, &given)?;
        let data_dir = pick(given("data_dir"), self.data_dir, file.data_dir);
        let listen = pick(given("listen"), self.listen, file.listen);
        let vocabulary = pick_option(given("vocabulary"), self.vocabulary, file.vocabulary);
        let cache_mb = pick(given("cache_mb"), self.cache_mb, file.cache_mb);
        let min_free_disk_mb = pick(
            given("min_free_disk_mb"),
            self.min_free_disk_mb,
            file.min_free_disk_mb,
        );
        let log_level = pick(given("log_level"), self.log_level, file.log_level);
        let log_format = pick(given("log_format"), self.log_format, file.log_format);
        let metrics_listen = pick_option(
            given("metrics_listen"),
            self.metrics_listen,
            file.metrics_listen,
        );
        let http_listen = pick_option(given("http_listen"), self.http_listen, file.http_listen);
        let tls_cert = pick_option(given("tls_cert"), self.tls_cert, file.tls_cert);
        let tls_key = pick_option(given("tls_key"), self.tls_key, file.tls_key);
        let tls_client_ca = pick_option(
            given("tls_client_ca"),
            self.tls_client_ca,
            file.tls_client_ca,
        );
        let open_reflection = pick(
            given("open_reflection"),
            self.open_reflection,
            file.open_reflection,
        );
        let insecure = pick(given("insecure"), self.insecure, file.insecure);
        let limits = Limits {
            max_concurrent_requests: pick(
                given("max_concurrent_requests"),
                self.max_concurrent_requests,
                file.max_concurrent_requests,
            ),
            max_streams: pick(given("max_streams"), self.max_streams, file.max_streams),
            max_subscribers: pick(
                given("max_subscribers"),
                self.max_subscribers,
                file.max_subscribers,
            ),
            request_timeout: pick(
                given("request_timeout"),
                self.request_timeout,
                file.request_timeout.map(|s| s.0),
            ),
            max_message_bytes: pick(
                given("max_message_bytes"),
                self.max_message_bytes,
                file.max_message_bytes,
            ),
            subscriber_buffer_bytes: pick(
                given("subscriber_buffer_bytes"),
                self.subscriber_buffer_bytes,
                file.subscriber_buffer_bytes,
            ),
            subscriber_stall_timeout: pick(
                given("subscriber_stall_timeout"),
                self.subscriber_stall_timeout,
                file.subscriber_stall_timeout.map(|s| s.0),
            ),
            request_body_timeout: pick(
                given("request_body_timeout"),
                self.request_body_timeout,
                file.request_body_timeout.map(|s| s.0),
            ),
            max_health_watches: Limits::default().max_health_watches,
            caller_share_percent: pick(
                given("caller_share_percent"),
                self.caller_share_percent,
                file.caller_share_percent,
            ),
            max_subscriptions_per_caller: pick(
                given("max_subscriptions_per_caller"),
                self.max_subscriptions_per_caller,
                file.max_subscriptions_per_caller,
            ),
            max_connections: pick(
                given("max_connections"),
                self.max_connections,
                file.max_connections,
            ),
            max_streams_per_connection: pick(
                given("max_streams_per_connection"),
                self.max_streams_per_connection,
                file.max_streams_per_connection,
            ),
            handshake_timeout: pick(
                given("handshake_timeout"),
                self.handshake_timeout,
                file.handshake_timeout.map(|s| s.0),
            ),
            max_connection_age: pick(
                given("max_connection_age"),
                self.max_connection_age,
                file.max_connection_age.map(|s| s.0),
            ),
        };
        if !(1..=100).contains(&limits.caller_share_percent) {
            return Err(ConfigError::OutOfRange(format!(
                "caller_share_percent = {}: give a percentage from 1 to 100",
                limits.caller_share_percent
            )));
        }
        let shutdown_timeout = pick(
            given("shutdown_timeout"),
            self.shutdown_timeout,
            file.shutdown_timeout.map(|s| s.0),
        );
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some(TlsSettings {
                cert,
                key,
                client_ca: tls_client_ca,
            }),
            (None, None) if tls_client_ca.is_some() => {
                return Err(ConfigError::Tls(
                    "--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first"
                        .into(),
                ))
            }
            (None, None) => None,
            _ => {
                return Err(ConfigError::Tls(
                    "--tls-cert and --tls-key go together: give both or neither".into(),
                ))
            }
        };
        let access = AccessPolicy::new(&file.auth.tokens, open_reflection).map_err(|source| {
            ConfigError::Tokens {
                path: self
                    .config
                    .as_ref()
                    .map_or_else(String::new, |p| p.display().to_string()),
                source,
            }
        })?;
        Ok(Serve {
            settings: Settings {
                data_dir,
                listen,
                vocabulary_file: vocabulary,
                cache_capacity_bytes: cache_mb.saturating_mul(1024 * 1024),
                min_free_disk_bytes: min_free_disk_mb.saturating_mul(1024 * 1024),
                access,
                tls,
                limits,
                metrics_listen,
                http_listen,
                insecure,
                shutdown_timeout,
                cluster,
            },
            log_format,
            log_level,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn resolve(args: &[&str]) -> Result<Serve, ConfigError> {
        let matches = Cli::command()
            .try_get_matches_from(args)
            .expect("valid arguments");
        let Command::Serve(serve) = Cli::from_arg_matches(&matches).expect("parsed").command else {
            panic!("serve expected");
        };
        serve.resolve(matches.subcommand_matches("serve"))
    }

    use clap::FromArgMatches;

    #[test]
    fn flags_beat_environment_beats_file_beats_defaults() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("eventlog.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:7001\"\ncache_mb = 1\nmax_subscribers = 2\n\
             max_concurrent_requests = 4\nlog_format = \"json\"\nhttp_listen = \"127.0.0.1:7002\"\n",
        )
        .expect("write");
        // Variables only this test reads.
        std::env::set_var("EVENTLOG_MAX_SUBSCRIBERS", "3");
        std::env::set_var("EVENTLOG_MAX_CONCURRENT_REQUESTS", "5");
        let serve = resolve(&[
            "eventlog",
            "serve",
            "--config",
            file.to_str().expect("utf-8"),
            "--cache-mb",
            "7",
            "--max-concurrent-requests",
            "6",
        ])
        .expect("resolves");
        std::env::remove_var("EVENTLOG_MAX_SUBSCRIBERS");
        std::env::remove_var("EVENTLOG_MAX_CONCURRENT_REQUESTS");
        let settings = serve.settings;
        assert_eq!(
            settings.cache_capacity_bytes,
            7 * 1024 * 1024,
            "flag over file"
        );
        assert_eq!(
            settings.limits.max_concurrent_requests, 6,
            "flag over environment"
        );
        assert_eq!(settings.limits.max_subscribers, 3, "environment over file");
        assert_eq!(
            settings.listen,
            "127.0.0.1:7001".parse().expect("addr"),
            "file"
        );
        assert_eq!(serve.log_format, LogFormat::Json, "file over default");
        assert_eq!(
            settings.http_listen,
            Some("127.0.0.1:7002".parse().expect("addr")),
            "file"
        );
        assert_eq!(
            settings.limits.request_timeout,
            Duration::from_secs(30),
            "default"
        );
    }

    #[test]
    fn cluster_mode_is_set_by_flags_or_the_file_and_refuses_half_a_setting() {
        let embedded = resolve(&["eventlog", "serve"]).expect("resolves");
        assert!(embedded.settings.cluster.is_none(), "embedded by default");
        let cluster = resolve(&[
            "eventlog",
            "serve",
            "--nats-url",
            "nats://127.0.0.1:4222,nats://127.0.0.1:4223",
            "--node-name",
            "node-1",
            "--nats-replicas",
            "1",
        ])
        .expect("resolves")
        .settings
        .cluster
        .expect("cluster mode");
        assert_eq!(cluster.urls, "nats://127.0.0.1:4222,nats://127.0.0.1:4223");
        assert_eq!(cluster.node_name, "node-1");
        assert_eq!((cluster.stream.as_str(), cluster.replicas), ("eventlog", 1));

        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("eventlog.toml");
        std::fs::write(
            &file,
            "nats_url = \"nats://n1:4222\"\nnode_name = \"n1\"\nnats_stream = \"conflict\"\n",
        )
        .expect("write");
        let path = file.to_str().expect("utf-8");
        let from_file = resolve(&["eventlog", "serve", "--config", path])
            .expect("resolves")
            .settings
            .cluster
            .expect("cluster mode from the file");
        assert_eq!(
            (from_file.stream.as_str(), from_file.replicas),
            ("conflict", 3)
        );

        let nameless = resolve(&["eventlog", "serve", "--nats-url", "nats://n1:4222"]);
        assert!(nameless
            .expect_err("refused")
            .to_string()
            .contains("needs --node-name"));
        let spaced = resolve(&[
            "eventlog",
            "serve",
            "--nats-url",
            "nats://n1:4222",
            "--node-name",
            "a b",
        ]);
        assert!(spaced
            .expect_err("refused")
            .to_string()
            .contains("letters, digits"));
        let half_tls = resolve(&[
            "eventlog",
            "serve",
            "--nats-url",
            "nats://n1:4222",
            "--node-name",
            "a",
            "--nats-tls-cert",
            "c.pem",
        ]);
        assert!(half_tls
            .expect_err("refused")
            .to_string()
            .contains("go together"));
    }

    #[test]
    fn a_share_out_of_range_is_refused_from_the_file_as_from_the_flag() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("eventlog.toml");
        std::fs::write(&file, "caller_share_percent = 0\n").expect("write");
        let path = file.to_str().expect("utf-8");
        let error = resolve(&["eventlog", "serve", "--config", path]).expect_err("refused");
        assert!(error.to_string().contains("from 1 to 100"), "{error}");
        let flag = Cli::command().try_get_matches_from([
            "eventlog",
            "serve",
            "--caller-share-percent",
            "101",
        ]);
        assert!(flag.is_err(), "the flag is range-checked when parsed");
        let ok = resolve(&["eventlog", "serve", "--caller-share-percent", "25"]).expect("ok");
        assert_eq!(ok.settings.limits.caller_share_percent, 25);
    }

    #[test]
    fn half_a_tls_configuration_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("eventlog.toml");
        std::fs::write(&file, "tls_cert = \"cert.pem\"\n").expect("write");
        let error = resolve(&[
            "eventlog",
            "serve",
            "--config",
            file.to_str().expect("utf-8"),
        ])
        .expect_err("refused");
        assert!(error.to_string().contains("--tls-key"), "{error}");
    }
}
