//! The server's lifecycle: open the store, bind, serve, and shut down without losing anything.
//!
//! Shutdown order matters for durability: report `NOT_SERVING`, stop accepting, end the
//! streams that never end by themselves, let in-flight requests finish, then drop the service
//! so the store's writer answers its last group and sled flushes on close. All of it within
//! the shutdown deadline.
//!
//! The middleware is assembled here, in one place (see `crate::ops`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{AbortHandle, JoinHandle};

use crate::cluster::{ClusterError, ClusterNode, ClusterSettings};
use crate::domain::limits::MAX_BATCH_BYTES;
use crate::domain::{Vocabulary, VocabularyError};
use crate::groups::Groups;
use crate::http::{self, gateway::Middleware};
use crate::ops::auth::{AccessPolicy, AuthLayer};
use crate::ops::connections;
use crate::ops::end_streams::EndStreamsLayer;
use crate::ops::health::{self, Health};
use crate::ops::limits::{Limits, LimitsLayer};
use crate::ops::metrics::{self, Metrics};
use crate::ops::request_errors::RequestErrorsLayer;
use crate::ops::request_log::RequestLogLayer;
use crate::ops::tls::{self, TlsSettings};
use crate::proto::consumer_groups_server::ConsumerGroupsServer;
use crate::proto::event_log_server::EventLogServer;
use crate::service::{EventLogService, GroupsService};
use crate::shutdown;
use crate::store::{Store, StoreConfig, StoreError};

/// How much larger than its protobuf encoding the JSON of a request may be: field names,
/// quotes and decimal digits make JSON two to three times the size; four leaves headroom.
const JSON_BYTES_PER_PROTOBUF_BYTE: usize = 4;

/// Largest gRPC message the server encodes: a full batch plus framing headroom.
const MAX_ENCODED_MESSAGE_BYTES: usize = MAX_BATCH_BYTES * 2;

/// How often an idle connection is pinged (HTTP/2 keep-alive).
const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered before the connection is closed.
const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest header block a client may send: far more than any real call's metadata (a token,
/// a request id, a deadline), far less than hyper's default of 16 MiB.
const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// Free space kept on the data directory's disk by default, in MiB: room for the indexes to
/// catch up with what was acknowledged and for the engines to compact, with a margin.
pub const DEFAULT_MIN_FREE_DISK_MB: u64 = 256;

/// What the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Directory of the embedded store.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Extra relation types, if any.
    pub vocabulary_file: Option<PathBuf>,
    /// Upper bound of the store's page cache.
    pub cache_capacity_bytes: u64,
    /// Free space the store keeps on the data directory's disk: writes that would leave less
    /// are refused (RESOURCE_EXHAUSTED) until there is room again. 0 turns the check off.
    pub min_free_disk_bytes: u64,
    /// Who may call what. With no tokens, everything is open and only loopback is allowed.
    pub access: AccessPolicy,
    /// TLS, if the server terminates it.
    pub tls: Option<TlsSettings>,
    /// Overload limits.
    pub limits: Limits,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Where to serve the HTTP/JSON API and the console, if anywhere.
    pub http_listen: Option<SocketAddr>,
    /// Allows a non-loopback `listen` without TLS and tokens.
    pub insecure: bool,
    /// How long a graceful stop may take.
    pub shutdown_timeout: Duration,
    /// Cluster mode: the NATS JetStream cluster whose stream is the log of record.
    pub cluster: Option<ClusterSettings>,
}

impl Default for Settings {
    /// The defaults `eventlog serve --help` documents.
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("./eventlog-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            vocabulary_file: None,
            cache_capacity_bytes: 256 * 1024 * 1024,
            min_free_disk_bytes: DEFAULT_MIN_FREE_DISK_MB * 1024 * 1024,
            access: AccessPolicy::default(),
            tls: None,
            limits: Limits::default(),
            metrics_listen: None,
            http_listen: None,
            insecure: false,
            shutdown_timeout: Duration::from_secs(10),
            cluster: None,
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The vocabulary file is unusable.
    #[error(transparent)]
    Vocabulary(#[from] VocabularyError),
    /// The store could not be opened.
    #[error("cannot open the store in {path}: {source}")]
    Store {
        /// The data directory.
        path: String,
        /// Why.
        source: StoreError,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A non-loopback address without TLS and tokens, and no `--insecure`.
    #[error(
        "refusing to listen on {addr} without {missing}: anyone who can reach it could read \
         and append. Listen on a loopback address (127.0.0.1, ::1), or configure TLS \
         (--tls-cert, --tls-key) and access tokens ([[auth.tokens]] in --config), or pass \
         --insecure if something in front of this server already provides them"
    )]
    Insecure {
        /// The address.
        addr: SocketAddr,
        /// What is missing: TLS, tokens or both.
        missing: &'static str,
    },
    /// A non-loopback metrics address without tokens, and no `--insecure`.
    #[error(
        "refusing to serve metrics on {addr} without access tokens: anyone who can reach it \
         could read the server's figures. Use a loopback --metrics-listen, or configure access \
         tokens ([[auth.tokens]] in --config; scrapes then send `Authorization: Bearer <token>`), \
         or pass --insecure if something in front of this server already guards it"
    )]
    InsecureMetrics {
        /// The address.
        addr: SocketAddr,
    },
    /// Cluster mode could not start.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The TLS material is unreadable or invalid.
    #[error("TLS: {0}")]
    Tls(String),
    /// The gRPC transport failed.
    #[error("gRPC transport failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The serving task panicked or was cancelled.
    #[error("server task failed: {0}")]
    Task(String),
    /// A graceful stop took longer than the deadline and was cut short.
    #[error("the server did not stop within {0:?} (--shutdown-timeout); stopped it anyway (acknowledged appends were already durable)")]
    ShutdownDeadline(Duration),
}

/// A server running in the background.
pub struct RunningServer {
    /// The address it listens on (with the real port when 0 was asked for).
    pub local_addr: SocketAddr,
    /// The metrics endpoint's address, if it has one.
    pub metrics_addr: Option<SocketAddr>,
    /// The HTTP API's address, if it has one.
    pub http_addr: Option<SocketAddr>,
    /// The HTTP API's accept loop: it ends at shutdown, once its connections have.
    http_task: Option<JoinHandle<()>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
    /// Lets `stop` wait until the store is really closed (its lock released).
    store: Weak<Store>,
    /// Reports NOT_SERVING as soon as a stop begins.
    health: Health,
    shutdown_timeout: Duration,
}

impl RunningServer {
    /// Stops gracefully within the shutdown deadline: reports NOT_SERVING, stops accepting,
    /// ends subscriptions with UNAVAILABLE, waits for in-flight requests and closes the store.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        self.health.shutting_down().await;
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let deadline = self.shutdown_timeout;
        let abort: AbortHandle = self.task.abort_handle();
        match tokio::time::timeout(deadline, self.wait()).await {
            Ok(result) => result,
            Err(_) => {
                abort.abort();
                Err(ServerError::ShutdownDeadline(deadline))
            }
        }
    }

    /// Waits until the server stops (after `stop` or a transport failure) and its store is
    /// closed.
    pub async fn wait(self) -> Result<(), ServerError> {
        let result = self
            .task
            .await
            .map_err(|e| ServerError::Task(e.to_string()))
            .and_then(|served| served);
        // The HTTP listener stops with the gRPC one (the same shutdown signal); its gateway
        // holds the store until it has.
        if let Some(http) = self.http_task {
            if result.is_err() {
                http.abort();
            }
            let _ = http.await;
        }
        // Streams still draining may hold the store for a moment after the transport is done.
        while self.store.strong_count() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        result
    }
}

/// Opens the store, binds the listen address and serves in the background.
pub async fn start(settings: &Settings) -> Result<RunningServer, ServerError> {
    check_exposure(settings)?;
    let tls = match &settings.tls {
        Some(tls) => Some(tls::server_config(tls).map_err(|e| ServerError::Tls(e.to_string()))?),
        None => None,
    };
    let vocabulary = match &settings.vocabulary_file {
        Some(path) => Vocabulary::with_extensions(path)?,
        None => Vocabulary::builtin(),
    };
    let store_config = StoreConfig {
        path: settings.data_dir.clone(),
        cache_capacity_bytes: settings.cache_capacity_bytes,
        symmetric: Arc::new(vocabulary.symmetric_keys()),
        min_free_disk_bytes: settings.min_free_disk_bytes,
        cluster_stream: settings.cluster.as_ref().map(|c| c.stream.clone()),
    };
    let store = tokio::task::spawn_blocking(move || Store::open(&store_config))
        .await
        .map_err(|e| ServerError::Task(e.to_string()))?
        .map_err(|source| ServerError::Store {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
    let store = Arc::new(store);
    let (listener, local_addr) = bind(settings.listen).await?;
    let metrics_listener = match settings.metrics_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let http_listener = match settings.http_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    tracing::info!(
        %local_addr,
        metrics = %metrics_listener
            .as_ref()
            .map_or_else(|| "off".to_string(), |(_, addr)| addr.to_string()),
        http = %http_listener
            .as_ref()
            .map_or_else(|| "off".to_string(), |(_, addr)| addr.to_string()),
        tls = settings.tls.is_some(),
        mutual_tls = settings.tls.as_ref().is_some_and(|t| t.client_ca.is_some()),
        access_tokens = settings.access.enforced(),
        data_dir = %settings.data_dir.display(),
        head = store.head().0,
        relation_types = vocabulary.len(),
        "eventlog serving"
    );
    if settings.insecure && !settings.listen.ip().is_loopback() {
        tracing::warn!(%local_addr, "--insecure: serving a non-loopback address without the TLS and tokens checks");
    }
    let weak_store = Arc::downgrade(&store);
    let (streams_trigger, streams_shutdown) = shutdown::channel();
    let metrics = Metrics::new();
    let vocabulary = Arc::new(vocabulary);
    let cluster = match &settings.cluster {
        Some(cluster) => Some(Arc::new(
            ClusterNode::start(
                cluster.clone(),
                &vocabulary.fingerprint(),
                Arc::clone(&store),
                streams_shutdown.clone(),
                metrics.cluster().clone(),
            )
            .await?,
        )),
        None => None,
    };
    let groups = groups_service(&store, &vocabulary, &streams_shutdown, &metrics, settings);
    let service = EventLogServer::new(
        EventLogService::new(
            Arc::clone(&store),
            Arc::clone(&vocabulary),
            streams_shutdown.clone(),
        )
        .with_metrics(metrics.clone())
        .with_subscriber_limits(settings.limits.subscribers())
        .with_cluster(cluster),
    )
    .max_decoding_message_size(settings.limits.max_message_bytes)
    .max_encoding_message_size(MAX_ENCODED_MESSAGE_BYTES);
    drop(store);
    let (health, health_service) = health::service().await;
    let reflection = reflection()?;
    let reflection_alpha = reflection_v1alpha()?;

    let metrics_addr = match metrics_listener {
        Some((listener, addr)) => {
            let mut stop = streams_shutdown.clone();
            let served = metrics::serve(
                listener,
                metrics.clone(),
                weak_store.clone(),
                settings.access.clone(),
                async move { stop.triggered().await },
            );
            tokio::spawn(async move {
                if let Err(error) = served.await {
                    tracing::error!(%error, "the metrics endpoint failed");
                }
            });
            Some(addr)
        }
        None => None,
    };

    let mut builder = tonic::transport::Server::builder()
        .max_concurrent_streams(settings.limits.max_streams_per_connection)
        // Idle connections, and ones a hostile client keeps open with nothing on them, go
        // when they reach this age; clients reconnect transparently (no grace period: calls
        // still open, such as subscriptions, are never cut by it).
        .max_connection_age(settings.limits.max_connection_age)
        // Dead peers: a ping every 30 s, the connection closed if one goes unanswered for 20 s
        // (TCP keep-alive on the socket covers peers that vanish between pings).
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES);
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).map_err(|e| {
            ServerError::Tls(format!(
                "invalid certificate, key or client CA (--tls-cert, --tls-key, --tls-client-ca): {}",
                error_chain(&e)
            ))
        })?;
    }
    let middleware = Middleware {
        log: RequestLogLayer::new(metrics.clone()),
        auth: AuthLayer::new(settings.access.clone()),
        limits: LimitsLayer::new(settings.limits),
        errors: RequestErrorsLayer::new(settings.limits.max_message_bytes),
        end_streams: EndStreamsLayer::new(streams_shutdown.clone()),
    };
    let (http_addr, http_task) = match http_listener {
        Some((listener, addr)) => {
            let task = serve_http(
                settings,
                listener,
                &middleware,
                service.clone(),
                &metrics,
                &streams_shutdown,
            )?;
            (Some(addr), Some(task))
        }
        None => (None, None),
    };
    let router = builder
        // From the outside in: the request's span and metrics see every refusal below. The
        // HTTP API's gateway applies the same layers, in the same order, sharing their state.
        .layer(middleware.log)
        .layer(middleware.auth)
        .layer(middleware.limits)
        .layer(middleware.errors)
        .layer(middleware.end_streams)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(service)
        .add_service(groups);
    // TCP_NODELAY is set on each connection: without it, Nagle's algorithm and delayed ACKs
    // add ~40 ms to small responses.
    let incoming = connections::incoming(listener, settings.limits.connections(), metrics.clone());
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(incoming, async {
                let _ = shutdown_rx.await;
                // Streams never end by themselves: end them now, or the graceful shutdown
                // would wait for them forever.
                streams_trigger.trigger();
            })
            .await?;
        tracing::info!("eventlog stopped accepting requests");
        Ok(())
    });
    Ok(RunningServer {
        local_addr,
        metrics_addr,
        http_addr,
        http_task,
        shutdown: Some(shutdown_tx),
        task,
        store: weak_store,
        health,
        shutdown_timeout: settings.shutdown_timeout,
    })
}

/// Starts the HTTP API and console on `listener`: a gateway into `service` through the same
/// middleware as gRPC, on connections admitted within the same limits, over the same TLS.
fn serve_http(
    settings: &Settings,
    listener: TcpListener,
    middleware: &Middleware,
    service: EventLogServer<EventLogService>,
    metrics: &Metrics,
    shutdown: &shutdown::Shutdown,
) -> Result<JoinHandle<()>, ServerError> {
    let tls = match &settings.tls {
        Some(tls) => Some(tls::rustls_config(tls).map_err(ServerError::Tls)?),
        None => None,
    };
    let api = http::Api {
        gateway: http::gateway::gateway(
            middleware,
            tonic::service::Routes::new(service),
            settings.limits.max_message_bytes,
            MAX_ENCODED_MESSAGE_BYTES,
        ),
        schema: http::params::Schema::api(),
        max_body_bytes: settings
            .limits
            .max_message_bytes
            .saturating_mul(JSON_BYTES_PER_PROTOBUF_BYTE),
        body_timeout: settings.limits.request_body_timeout,
    };
    let incoming = connections::incoming(listener, settings.limits.connections(), metrics.clone());
    let mut stop = shutdown.clone();
    Ok(tokio::spawn(http::serve(
        incoming,
        // `--insecure` says something in front (a proxy, a mesh) guards the server; requests
        // then name that front, not localhost.
        http::router(api, !settings.access.enforced() && !settings.insecure),
        tls,
        settings.limits.handshake_timeout,
        async move { stop.triggered().await },
    )))
}

/// The consumer groups service, with the same message limits as the log's; its groups' tasks
/// stop when `shutdown` triggers.
fn groups_service(
    store: &Arc<Store>,
    vocabulary: &Arc<Vocabulary>,
    shutdown: &shutdown::Shutdown,
    metrics: &Metrics,
    settings: &Settings,
) -> ConsumerGroupsServer<GroupsService> {
    let groups = Arc::new(Groups::new(
        Arc::clone(store),
        shutdown.clone(),
        metrics.clone(),
    ));
    ConsumerGroupsServer::new(
        GroupsService::new(Arc::clone(store), Arc::clone(vocabulary), groups)
            .replicated(settings.cluster.is_some()),
    )
    .max_decoding_message_size(settings.limits.max_message_bytes)
    .max_encoding_message_size(MAX_ENCODED_MESSAGE_BYTES)
}

/// Secure by default: a non-loopback address needs TLS and tokens, or an explicit `--insecure`.
/// The metrics endpoint (plain HTTP) needs tokens off loopback: scrapes must then present one.
fn check_exposure(settings: &Settings) -> Result<(), ServerError> {
    if settings.insecure {
        return Ok(());
    }
    if let Some(addr) = settings.metrics_listen {
        if !addr.ip().is_loopback() && !settings.access.enforced() {
            return Err(ServerError::InsecureMetrics { addr });
        }
    }
    let exposed = [Some(settings.listen), settings.http_listen]
        .into_iter()
        .flatten()
        .find(|addr| !addr.ip().is_loopback());
    let Some(addr) = exposed else {
        return Ok(());
    };
    let missing = match (settings.tls.is_some(), settings.access.enforced()) {
        (true, true) => return Ok(()),
        (true, false) => "access tokens",
        (false, true) => "TLS",
        (false, false) => "TLS and access tokens",
    };
    Err(ServerError::Insecure { addr, missing })
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServerError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    Ok((listener, local))
}

/// Reflection over the API and the health service, so generic clients see both.
fn reflection() -> Result<
    tonic_reflection::pb::v1::server_reflection_server::ServerReflectionServer<
        impl tonic_reflection::pb::v1::server_reflection_server::ServerReflection,
    >,
    ServerError,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Task(format!("reflection: {e}")))
}

/// The same for clients that only speak the older v1alpha protocol (older grpcurl, Python's
/// `grpcio-reflection`).
fn reflection_v1alpha() -> Result<
    tonic_reflection::pb::v1alpha::server_reflection_server::ServerReflectionServer<
        impl tonic_reflection::pb::v1alpha::server_reflection_server::ServerReflection,
    >,
    ServerError,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServerError::Task(format!("reflection: {e}")))
}

/// An error with its causes, for messages where the top level alone says too little.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
