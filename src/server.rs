//! The server's lifecycle: open the store, bind, serve, and shut down without losing anything.
//!
//! Shutdown order matters for durability: stop accepting, let in-flight requests finish, then
//! drop the service so the store's writer answers its last group and sled flushes on close.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;

use crate::domain::limits::MAX_BATCH_BYTES;
use crate::domain::{Vocabulary, VocabularyError};
use crate::proto::event_log_server::EventLogServer;
use crate::service::EventLogService;
use crate::shutdown;
use crate::store::{Store, StoreConfig, StoreError};

/// Largest gRPC message the server decodes: a full batch plus framing headroom.
const MAX_MESSAGE_BYTES: usize = MAX_BATCH_BYTES * 2;
/// How long `stop` waits for the store to close after the last request.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// The gRPC transport failed.
    #[error("gRPC transport failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The serving task panicked or was cancelled.
    #[error("server task failed: {0}")]
    Task(String),
}

/// A server running in the background.
pub struct RunningServer {
    /// The address it listens on (with the real port when 0 was asked for).
    pub local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
    /// Lets `stop` wait until the store is really closed (its lock released).
    store: Weak<Store>,
}

impl RunningServer {
    /// Stops accepting, waits for in-flight requests, and closes the store.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.wait().await
    }

    /// Waits until the server stops (after `stop` or a transport failure).
    pub async fn wait(self) -> Result<(), ServerError> {
        let result = self
            .task
            .await
            .map_err(|e| ServerError::Task(e.to_string()))?;
        // Streams still draining may hold the store for a moment after the transport is done.
        let deadline = tokio::time::Instant::now() + CLOSE_TIMEOUT;
        while self.store.strong_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        result
    }
}

/// Opens the store, binds the listen address and serves in the background.
pub async fn start(settings: &Settings) -> Result<RunningServer, ServerError> {
    let vocabulary = match &settings.vocabulary_file {
        Some(path) => Vocabulary::with_extensions(path)?,
        None => Vocabulary::builtin(),
    };
    let store_config = StoreConfig {
        path: settings.data_dir.clone(),
        cache_capacity_bytes: settings.cache_capacity_bytes,
    };
    let store = tokio::task::spawn_blocking(move || Store::open(&store_config))
        .await
        .map_err(|e| ServerError::Task(e.to_string()))?
        .map_err(|source| ServerError::Store {
            path: settings.data_dir.display().to_string(),
            source,
        })?;
    let store = Arc::new(store);
    let listener =
        TcpListener::bind(settings.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: settings.listen,
                source,
            })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: settings.listen,
        source,
    })?;
    tracing::info!(
        %local_addr,
        data_dir = %settings.data_dir.display(),
        head = store.head().0,
        relation_types = vocabulary.len(),
        "eventlog serving"
    );
    let weak_store = Arc::downgrade(&store);
    let (streams_trigger, streams_shutdown) = shutdown::channel();
    let service = EventLogServer::new(EventLogService::new(
        store,
        Arc::new(vocabulary),
        streams_shutdown,
    ))
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);
    // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms to small responses.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
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
        shutdown: Some(shutdown_tx),
        task,
        store: weak_store,
    })
}
