//! Accepting connections: a cap on how many are open, a deadline for a new one to speak, and an
//! accept loop that backs off when the process runs out of file descriptors.
//!
//! Every connection costs a file descriptor and buffers whether or not it ever sends a request,
//! and it costs them before any token is checked. So:
//!
//! - **At most `max_connections` are open.** One past it is accepted and closed at once: the
//!   client sees a closed connection (and retries, or goes elsewhere) rather than a connect that
//!   hangs in the backlog, and the descriptors that calls on open connections need (the store's
//!   files) stay available.
//! - **A new connection must send its first bytes (the HTTP/2 preface, or a TLS hello) within
//!   the handshake timeout**, or it is closed: idle sockets cannot hold slots forever.
//! - **Accept errors never spin.** When `accept` fails for want of descriptors or memory
//!   (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`), the loop pauses before trying again; the pending
//!   connections wait in the backlog instead of burning a core.
//!
//! Dead peers on open connections are found by HTTP/2 keep-alive pings and TCP keep-alive,
//! configured with the server (`server::start`); streams per connection are capped there too.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use super::metrics::Metrics;

/// How long the loop pauses after `accept` failed for want of resources.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Bytes a new connection must send within the handshake timeout: the length of the HTTP/2
/// client preface (a TLS hello is longer).
const HANDSHAKE_BYTES: usize = 24;
/// TCP keep-alive idle time: the kernel probes a silent peer after this long.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// The connection limits, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a new connection may stay silent.
    pub handshake_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// The connections `listener` accepts within `limits`, for tonic's `serve_with_incoming`. The
/// accept loop runs as a task that ends when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
    metrics: Metrics,
) -> ReceiverStream<io::Result<Admitted>> {
    // Accepted connections wait here only until the server picks them up.
    let (tx, rx) = mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = tx.closed() => return,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) if lacks_resources(&error) => {
                    tracing::warn!(%error, "cannot accept connections: out of file descriptors or memory; pausing");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
                // A connection reset before it was accepted, and the like: that one only.
                Err(_) => continue,
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                metrics.connection_refused("limit");
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection refused: the server has as many open as it allows (--max-connections)"
                );
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
            let admitted = Admitted {
                stream,
                handshake: Some(Box::pin(tokio::time::sleep(limits.handshake_timeout))),
                received: 0,
                metrics: metrics.clone(),
                _slot: slot,
            };
            metrics.connection_opened();
            if tx.send(Ok(admitted)).await.is_err() {
                return;
            }
        }
    });
    ReceiverStream::new(rx)
}

/// Errors of `accept` that say the process is out of descriptors or memory.
fn lacks_resources(error: &io::Error) -> bool {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const ENOBUFS: i32 = 105;
    const ENOMEM: i32 = 12;
    matches!(
        error.raw_os_error(),
        Some(EMFILE | ENFILE | ENOBUFS | ENOMEM)
    )
}

pin_project_lite::pin_project! {
    /// An accepted connection: holds its slot until it closes, and is closed if it sends
    /// nothing within the handshake timeout.
    pub struct Admitted {
        #[pin]
        stream: TcpStream,
        handshake: Option<Pin<Box<tokio::time::Sleep>>>,
        received: usize,
        metrics: Metrics,
        _slot: OwnedSemaphorePermit,
    }

    impl PinnedDrop for Admitted {
        fn drop(this: Pin<&mut Self>) {
            this.metrics.connection_closed();
        }
    }
}

impl Connected for Admitted {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Admitted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.stream.poll_read(cx, buf);
        if let Some(deadline) = this.handshake.as_mut() {
            *this.received += buf.filled().len() - before;
            if *this.received >= HANDSHAKE_BYTES {
                *this.handshake = None;
            } else if polled.is_pending() && deadline.as_mut().poll(cx).is_ready() {
                this.metrics.connection_refused("handshake_timeout");
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent no HTTP/2 preface or TLS hello within the handshake timeout",
                )));
            }
        }
        polled
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().stream.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().stream.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
