//! The outermost layer: one `tracing` span per RPC, the request id, and the RPC metrics.
//!
//! Each RPC gets a span `rpc` with its method, the peer's address, a request id (the client's
//! `x-request-id` metadata when it sent a usable one, else a fresh UUID, and sent back in the
//! response metadata either way) and, once known, the caller's token name, the status code and
//! the latency. Everything the handler logs happens inside that span. An RPC is finished when
//! its response body ends (for streams, when the stream ends), so its code and latency are the
//! ones the client saw; a body dropped before its status was sent counts as `CANCELLED`, and so
//! does a call whose request body broke off (the client reset the stream or cut the connection
//! while sending), whatever tonic then answered to nobody.
//!
//! It never logs metadata: the `authorization` token stays out of every line.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderValue;
use http_body::Frame;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Code, Status};
use tower_layer::Layer;
use tower_service::Service;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use super::grpc::{code_in, code_name};
use super::methods::{self, MethodKind, UNKNOWN_METHOD};
use super::metrics::Metrics;

/// The metadata key of the request id, in requests and responses.
pub const REQUEST_ID: &str = "x-request-id";
/// Longest client-chosen request id kept; longer ones are replaced by a generated one.
const MAX_REQUEST_ID: usize = 128;

/// Adds the per-RPC span, request id and metrics to every request.
#[derive(Clone)]
pub struct RequestLogLayer {
    metrics: Metrics,
}

impl RequestLogLayer {
    /// Records RPCs into `metrics`.
    pub fn new(metrics: Metrics) -> RequestLogLayer {
        RequestLogLayer { metrics }
    }
}

impl<S> Layer<S> for RequestLogLayer {
    type Service = RequestLog<S>;

    fn layer(&self, inner: S) -> RequestLog<S> {
        RequestLog {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// See [`RequestLogLayer`].
#[derive(Clone)]
pub struct RequestLog<S> {
    inner: S,
    metrics: Metrics,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for RequestLog<S>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let method = methods::lookup(request.uri().path());
        let name = method.map_or(UNKNOWN_METHOD, |m| m.name);
        let kind = method.map(|m| m.kind);
        let request_id = request_id(&request);
        let peer = peer(&request).map_or_else(|| "unknown".to_string(), |p| p.to_string());
        let span = if kind == Some(MethodKind::Health) {
            tracing::debug_span!("rpc", method = name, peer = %peer, request_id = %request_id, caller = Empty, code = Empty, latency_ms = Empty)
        } else {
            tracing::info_span!("rpc", method = name, peer = %peer, request_id = %request_id, caller = Empty, code = Empty, latency_ms = Empty)
        };
        let client_gone = Arc::new(AtomicBool::new(false));
        let request = request.map(|inner| {
            tonic::body::Body::new(Watched {
                inner,
                client_gone: Arc::clone(&client_gone),
            })
        });
        // Entered while the inner layers decide, so they can record into it (`caller`).
        let future = span.in_scope(|| self.inner.call(request));
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let mut finish = Finish {
                span: span.clone(),
                started,
                metrics,
                method: name,
                code: None,
                client_gone,
                // Counted only once the stream is open: a call cancelled before must not
                // uncount a subscriber it never counted.
                subscription: false,
                quiet: kind == Some(MethodKind::Health),
            };
            let mut response = future.instrument(span).await?;
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID, value);
            }
            finish.code = code_in(response.headers());
            if kind == Some(MethodKind::Subscription) && finish.code.is_none() {
                finish.metrics.subscriber_started();
                finish.subscription = true;
            }
            let (parts, body) = response.into_parts();
            let body = Observed {
                inner: body,
                finish: Some(finish),
            };
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(body),
            ))
        })
    }
}

/// The client's request id if it is usable (1 to 128 visible ASCII characters), else a new one.
fn request_id<B>(request: &http::Request<B>) -> String {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty() && id.len() <= MAX_REQUEST_ID && id.bytes().all(|b| b.is_ascii_graphic())
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string)
}

/// The peer's address, over plain TCP or TLS.
fn peer<B>(request: &http::Request<B>) -> Option<SocketAddr> {
    let extensions = request.extensions();
    extensions
        .get::<TcpConnectInfo>()
        .and_then(|info| info.remote_addr())
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|info| info.get_ref().remote_addr())
        })
}

/// What to record when an RPC ends; recorded on drop, so every path records exactly once.
struct Finish {
    span: Span,
    started: Instant,
    metrics: Metrics,
    method: &'static str,
    /// The status once seen (in the response headers or the trailers).
    code: Option<Code>,
    /// Set when the request body broke off: the client left, whatever the status says.
    client_gone: Arc<AtomicBool>,
    /// A subscription counted in `eventlog_subscribers_active`, to uncount at the end.
    subscription: bool,
    /// Logged at debug rather than info (health checks, which probes send every few seconds).
    quiet: bool,
}

impl Drop for Finish {
    fn drop(&mut self) {
        if self.client_gone.load(Ordering::Relaxed) {
            self.code = None;
        }
        let code = self.code.unwrap_or(Code::Cancelled);
        let elapsed = self.started.elapsed();
        self.metrics.rpc_finished(self.method, code, elapsed);
        if self.subscription {
            self.metrics.subscriber_ended();
        }
        let latency_ms = round_ms(elapsed);
        self.span.record("code", code_name(code));
        self.span.record("latency_ms", latency_ms);
        let code = code_name(code);
        let _entered = self.span.enter();
        match self.code {
            Some(Code::Internal | Code::Unknown | Code::DataLoss) => {
                tracing::warn!(code, latency_ms, "rpc finished")
            }
            _ if self.quiet => tracing::debug!(code, latency_ms, "rpc finished"),
            _ => tracing::info!(code, latency_ms, "rpc finished"),
        }
    }
}

fn round_ms(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 1e6).round() / 1e3
}

pin_project_lite::pin_project! {
    /// A request body that notes when it broke off (a reset stream or a cut connection: hyper's
    /// error), so the call is recorded as the client's cancellation rather than as the
    /// `UNKNOWN` or `INVALID_ARGUMENT` tonic derives from a body that ended too soon.
    struct Watched<B> {
        #[pin]
        inner: B,
        client_gone: Arc<AtomicBool>,
    }
}

impl<B: http_body::Body> http_body::Body for Watched<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            this.client_gone.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// A response body that reports the RPC's end to its [`Finish`].
    struct Observed {
        #[pin]
        inner: tonic::body::Body,
        finish: Option<Finish>,
    }
}

impl http_body::Body for Observed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        let span = this.finish.as_ref().map(|f| f.span.clone());
        let _entered = span.as_ref().map(Span::enter);
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(trailers), Some(finish)) = (frame.trailers_ref(), this.finish.as_mut())
                {
                    finish.code = code_in(trailers).or(finish.code);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                if let Some(finish) = this.finish.as_mut() {
                    finish.code = Some(status.code());
                }
                this.finish.take();
            }
            Poll::Ready(None) => {
                this.finish.take();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
