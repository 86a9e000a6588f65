//! Overload limits: past them a request is refused at once, never queued.
//!
//! - **Concurrent requests**: unary calls each hold a slot until their response ends. With every
//!   slot taken, a new one gets `RESOURCE_EXHAUSTED` immediately: waiting requests would hold
//!   memory and time out anyway.
//! - **Streams and subscribers**: finite streams (`ReadLog`, queries, reflection) last as long
//!   as their client takes to read them, and `Subscribe` streams as long as their client wants,
//!   so each kind has a pool of its own: slow readers and idle subscribers can never starve
//!   unary calls, nor each other.
//! - **Request timeout**: a unary call that has not answered in time gets `UNAVAILABLE` (the
//!   server is too busy; retry). Streams are not timed out: they end when read to the end.
//! - **Message size**: a request larger than the decoding limit is refused by tonic (and
//!   restated by [`super::request_errors`]).
//! - **Request bodies first**: a request of one message is read whole, within the body timeout,
//!   *before* it takes a slot. A client that sends headers and never the body (or trickles it)
//!   holds no slot that well-behaved callers need, only its own HTTP/2 stream (capped per
//!   connection), and is answered `DEADLINE_EXCEEDED` when the body timeout passes.
//! - **Health watches** are open to callers without a token, so they have a pool of their own:
//!   unauthenticated watches cannot take the stream slots of authenticated callers.
//! - **Shares**: within each pool one caller (a token, or a connection without one) holds at
//!   most a share of the slots (see [`super::shares`]), so one caller cannot deny the others.
//!
//! Health checks are exempt from all of this, so an overloaded server still says it is alive.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Code, Status};
use tower_layer::Layer;
use tower_service::Service;

use super::auth::Caller;
use super::grpc::{refusal, refuse};
use super::methods::{self, MethodKind, RequestShape};
use super::reason::Reason;
use super::request_errors::message_too_large;
use super::shares::{CallerKey, Share, Shares};

/// The limits, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Unary calls in progress at once.
    pub max_concurrent_requests: usize,
    /// Finite streams (`ReadLog`, queries, reflection) open at once.
    pub max_streams: usize,
    /// `Subscribe` streams open at once.
    pub max_subscribers: usize,
    /// Longest a unary call may take.
    pub request_timeout: Duration,
    /// Largest request message decoded, in bytes.
    pub max_message_bytes: usize,
    /// Bytes of entries a subscriber may have outstanding (delivered, not yet read).
    pub subscriber_buffer_bytes: usize,
    /// How long a subscriber may read nothing while entries wait before its stream ends.
    pub subscriber_stall_timeout: Duration,
    /// How long a client may take to send a request's body, before it takes a slot.
    pub request_body_timeout: Duration,
    /// `Health.Watch` streams open at once.
    pub max_health_watches: usize,
    /// Named subscriptions one token (or all callers without a token) may own.
    pub max_subscriptions_per_caller: usize,
    /// Client connections open at once.
    pub max_connections: usize,
    /// Streams one connection may have open at once (HTTP/2 `MAX_CONCURRENT_STREAMS`).
    pub max_streams_per_connection: u32,
    /// How long a new connection may stay silent before it is closed.
    pub handshake_timeout: Duration,
    /// Age at which a connection is asked to go (HTTP/2 GOAWAY): it takes no new calls, its
    /// open calls (subscriptions too) go on, and it closes when they end. Idle ones close at once.
    pub max_connection_age: Duration,
    /// Percent of each pool one caller (a token, or a connection without one) may hold.
    pub caller_share_percent: u8,
}

impl Limits {
    /// What connections are admitted under these limits.
    pub fn connections(&self) -> crate::ops::connections::ConnectionLimits {
        crate::ops::connections::ConnectionLimits {
            max_connections: self.max_connections,
            handshake_timeout: self.handshake_timeout,
        }
    }

    /// What limits subscribers under these limits.
    pub fn subscribers(&self) -> crate::service::SubscriberLimits {
        crate::service::SubscriberLimits {
            pace: crate::subscription::Pace {
                buffer_bytes: self.subscriber_buffer_bytes,
                stall_timeout: self.subscriber_stall_timeout,
            },
            max_named_per_caller: self.max_subscriptions_per_caller,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent_requests: 256,
            max_streams: 256,
            max_subscribers: 1024,
            request_timeout: Duration::from_secs(30),
            // A full batch (4 MiB) plus framing headroom.
            max_message_bytes: 8 * 1024 * 1024,
            subscriber_buffer_bytes: crate::subscription::Pace::default().buffer_bytes,
            subscriber_stall_timeout: crate::subscription::Pace::default().stall_timeout,
            request_body_timeout: Duration::from_secs(10),
            max_health_watches: 64,
            max_subscriptions_per_caller: crate::service::SubscriberLimits::default()
                .max_named_per_caller,
            max_connections: crate::ops::connections::ConnectionLimits::default().max_connections,
            max_streams_per_connection: 128,
            handshake_timeout: crate::ops::connections::ConnectionLimits::default()
                .handshake_timeout,
            caller_share_percent: 50,
            max_connection_age: Duration::from_secs(30 * 60),
        }
    }
}

/// Applies [`Limits`] to every request.
#[derive(Debug, Clone)]
pub struct LimitsLayer {
    limits: Limits,
    requests: Pool,
    streams: Pool,
    subscribers: Pool,
    watches: Pool,
}

/// The slots of one kind of call, and each caller's share of them.
#[derive(Debug, Clone)]
struct Pool {
    size: usize,
    slots: Arc<Semaphore>,
    shares: Arc<Shares>,
}

impl Pool {
    fn new(size: usize, share_percent: u8) -> Pool {
        Pool {
            size,
            slots: Arc::new(Semaphore::new(size)),
            shares: Shares::new(size, share_percent),
        }
    }
}

impl LimitsLayer {
    /// Enforces `limits`; every service made by this layer shares the same pools.
    pub fn new(limits: Limits) -> LimitsLayer {
        let pool = |size| Pool::new(size, limits.caller_share_percent);
        LimitsLayer {
            limits,
            requests: pool(limits.max_concurrent_requests),
            streams: pool(limits.max_streams),
            subscribers: pool(limits.max_subscribers),
            watches: pool(limits.max_health_watches),
        }
    }
}

impl<S> Layer<S> for LimitsLayer {
    type Service = LimitService<S>;

    fn layer(&self, inner: S) -> LimitService<S> {
        LimitService {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`LimitsLayer`].
#[derive(Debug, Clone)]
pub struct LimitService<S> {
    inner: S,
    layer: LimitsLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<http::Request<tonic::body::Body>> for LimitService<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let limits = self.layer.limits;
        let method = methods::lookup(request.uri().path());
        let kind = method.map_or(MethodKind::Unary, |m| m.kind);
        let whole_first = method.is_some_and(|m| m.request == RequestShape::One);
        let caller = caller_key(&request);
        let layer = self.layer.clone();
        // The clone that was made ready goes with the request (tower's rule); the fresh clone
        // stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let request = if whole_first {
                match read_whole(request, &limits).await {
                    Ok(request) => request,
                    Err(status) => return Ok(refuse(status)),
                }
            } else {
                request
            };
            let slot = match take_slot(&layer, kind, caller) {
                Ok(permit) => permit,
                Err(status) => return Ok(refuse(status)),
            };
            let future = inner.call(request);
            let response = if kind == MethodKind::Unary {
                match tokio::time::timeout(limits.request_timeout, future).await {
                    Ok(response) => response?,
                    Err(_) => {
                        return Ok(refuse(refusal(
                            Code::Unavailable,
                            format!(
                                "the server did not answer within {} ms (--request-timeout): it \
                                 is overloaded; retry with backoff (retrying an Append is safe: \
                                 entries are idempotent by id)",
                                limits.request_timeout.as_millis()
                            ),
                            Reason::RequestTimeout,
                            [],
                        )))
                    }
                }
            } else {
                future.await?
            };
            let Some(slot) = slot else {
                return Ok(response);
            };
            let (parts, body) = response.into_parts();
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(Holding::new(body, slot)),
            ))
        })
    }
}

/// Who a request counts against: its token, else its connection (`None` only for requests
/// that did not come over a connection, as in unit tests).
fn caller_key<B>(request: &http::Request<B>) -> Option<CallerKey> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let extensions = request.extensions();
    if let Some(caller) = extensions.get::<Caller>() {
        return Some(CallerKey::Token(Arc::clone(&caller.name)));
    }
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|info| info.get_ref().remote_addr())
        })
        .map(CallerKey::Connection)
}

/// What a call holds until its response ends: a slot of its pool, counted against its caller.
struct Slot {
    _permit: OwnedSemaphorePermit,
    _share: Option<Share>,
}

/// The slot a call of `kind` holds until its response ends (none for health checks), or the
/// refusal when its pool is full or its caller holds its whole share of it.
fn take_slot(
    layer: &LimitsLayer,
    kind: MethodKind,
    caller: Option<CallerKey>,
) -> Result<Option<Slot>, Status> {
    let limits = layer.limits;
    let (pool, message) = match kind {
        MethodKind::Health => return Ok(None),
        MethodKind::Subscription => (
            &layer.subscribers,
            format!(
                "the server already serves {} subscriptions, its limit (--max-subscribers); \
                 retry later",
                limits.max_subscribers
            ),
        ),
        MethodKind::Watch => (
            &layer.watches,
            format!(
                "the server already serves {} health watches, its limit; use Health.Check, or \
                 retry later",
                limits.max_health_watches
            ),
        ),
        MethodKind::Stream => (
            &layer.streams,
            format!(
                "the server already serves {} streams (ReadLog, reflection), its limit \
                 (--max-streams); retry with backoff",
                limits.max_streams
            ),
        ),
        MethodKind::Unary => (
            &layer.requests,
            format!(
                "the server is handling {} requests, its limit (--max-concurrent-requests); \
                 retry with backoff",
                limits.max_concurrent_requests
            ),
        ),
    };
    // The pool first: when it is full, that is what the caller needs to hear.
    let permit = Arc::clone(&pool.slots)
        .try_acquire_owned()
        .map_err(|_| refusal(Code::ResourceExhausted, message, Reason::Overloaded, []))?;
    let share = match caller {
        Some(caller) => Some(pool.shares.take(caller).map_err(|who| {
            refusal(
                Code::ResourceExhausted,
                format!(
                    "{who} already holds {} of the server's {} slots for these calls, the most \
                     one caller may hold (--caller-share-percent); finish some first, or retry \
                     later",
                    pool.shares.cap(),
                    pool.size,
                ),
                Reason::CallerShareExceeded,
                [("limit", pool.shares.cap().to_string())],
            )
        })?),
        None => None,
    };
    Ok(Some(Slot {
        _permit: permit,
        _share: share,
    }))
}

/// `request` with its body read whole (at most one message of the size limit, plus framing),
/// within the body timeout.
async fn read_whole(
    request: http::Request<tonic::body::Body>,
    limits: &Limits,
) -> Result<http::Request<tonic::body::Body>, Status> {
    // One gRPC frame: a 5-byte header and the message. Anything longer is refused here, as
    // tonic would refuse the message.
    let most = limits.max_message_bytes.saturating_add(5);
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, most);
    let collected = match tokio::time::timeout(limits.request_body_timeout, limited.collect()).await
    {
        Err(_) => {
            return Err(refusal(
                Code::DeadlineExceeded,
                format!(
                    "the request body did not arrive within {} ms (--request-body-timeout)",
                    limits.request_body_timeout.as_millis()
                ),
                Reason::RequestBodyTimeout,
                [],
            ))
        }
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
            return Err(message_too_large(limits.max_message_bytes))
        }
        // The stream was reset or the connection cut: the client is gone, and the request
        // log records the call as cancelled.
        Ok(Err(_)) => return Err(Status::cancelled("the client stopped sending the request")),
        Ok(Ok(collected)) => collected,
    };
    let trailers = collected.trailers().cloned();
    let bytes = collected.to_bytes();
    let body = Whole {
        data: Some(bytes),
        trailers,
    };
    Ok(http::Request::from_parts(
        parts,
        tonic::body::Body::new(body),
    ))
}

/// A request body read whole: its data, then its trailers if it had any.
struct Whole {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
}

impl http_body::Body for Whole {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(data) = self.data.take().filter(|d| !d.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(|d| d.is_empty()) && self.trailers.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let len = self.data.as_ref().map_or(0, |d| d.len() as u64);
        http_body::SizeHint::with_exact(len)
    }
}

/// The largest piece of a response body handed to hyper at once: HTTP/2's default frame size.
///
/// Why pieces: hyper waits for room in the client's flow-control window before it asks the
/// body for more, but hands whatever it gets to h2, which buffers all of it. Given a 1 MiB
/// answer in one piece, the server buffered it whole and ended the body at once, releasing the
/// call's slot, for a client that never read a byte: a client could pile up such answers
/// without limit. In pieces, an unread answer stays here, and its call keeps its slot (and its
/// caller's share) until the client reads it or goes.
const PIECE_BYTES: usize = 16 * 1024;

pin_project_lite::pin_project! {
    /// A response body that holds its request's slot until it ends or is dropped, and hands
    /// its data over in pieces of at most [`PIECE_BYTES`].
    struct Holding {
        #[pin]
        inner: tonic::body::Body,
        _slot: Slot,
        rest: Bytes,
    }
}

impl Holding {
    fn new(inner: tonic::body::Body, slot: Slot) -> Holding {
        Holding {
            inner,
            _slot: slot,
            rest: Bytes::new(),
        }
    }
}

impl http_body::Body for Holding {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        if this.rest.is_empty() {
            match std::task::ready!(this.inner.poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => *this.rest = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return Poll::Ready(other),
            }
        }
        let piece = this.rest.split_to(this.rest.len().min(PIECE_BYTES));
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let inner = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = http_body::SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(rest));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tonic::Code;

    use super::super::grpc::code_in;
    use super::*;

    /// A handler that answers OK after `0`.
    #[derive(Clone)]
    struct Slow(Duration);

    impl Service<http::Request<tonic::body::Body>> for Slow {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = BoxFuture<Self::Response, Infallible>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: http::Request<tonic::body::Body>) -> Self::Future {
            let delay = self.0;
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                Ok(refuse(Status::ok("")))
            })
        }
    }

    async fn code_of(limits: Limits, handler: Duration, path: &str) -> Option<Code> {
        let mut service = LimitsLayer::new(limits).layer(Slow(handler));
        let request = http::Request::builder()
            .uri(path)
            .body(tonic::body::Body::empty())
            .expect("request");
        let response = service.call(request).await.expect("infallible");
        code_in(response.headers())
    }

    #[tokio::test]
    async fn unary_calls_past_the_limit_are_refused_at_once() {
        let limits = Limits {
            max_concurrent_requests: 1,
            ..Limits::default()
        };
        let layer = LimitsLayer::new(limits);
        let mut busy = layer.layer(Slow(Duration::from_secs(5)));
        let request = || {
            http::Request::builder()
                .uri("/eventlog.v1.EventLog/GetLogInfo")
                .body(tonic::body::Body::empty())
                .expect("request")
        };
        let first = tokio::spawn(busy.call(request()));
        tokio::task::yield_now().await;
        let started = std::time::Instant::now();
        let mut other = layer.layer(Slow(Duration::ZERO));
        let response = other.call(request()).await.expect("infallible");
        assert_eq!(code_in(response.headers()), Some(Code::ResourceExhausted));
        assert!(started.elapsed() < Duration::from_secs(1));
        first.abort();
    }

    #[tokio::test]
    async fn slow_unary_calls_time_out_unavailable_and_streams_do_not() {
        let limits = Limits {
            request_timeout: Duration::from_millis(50),
            ..Limits::default()
        };
        let started = std::time::Instant::now();
        let slow = Duration::from_secs(5);
        assert_eq!(
            code_of(limits, slow, "/eventlog.v1.EventLog/GetLogInfo").await,
            Some(Code::Unavailable)
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let a_bit = Duration::from_millis(200);
        assert_eq!(
            code_of(limits, a_bit, "/eventlog.v1.EventLog/ReadLog").await,
            Some(Code::Ok)
        );
    }
}
