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
//!
//! Health checks are exempt from all of this, so an overloaded server still says it is alive.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tower_layer::Layer;
use tower_service::Service;

use super::grpc::refuse;
use super::methods::{self, MethodKind};

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
}

impl Limits {
    /// The pace of subscription streams under these limits.
    pub fn subscriber_pace(&self) -> crate::subscription::Pace {
        crate::subscription::Pace {
            buffer_bytes: self.subscriber_buffer_bytes,
            stall_timeout: self.subscriber_stall_timeout,
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
        }
    }
}

/// Applies [`Limits`] to every request.
#[derive(Debug, Clone)]
pub struct LimitsLayer {
    limits: Limits,
    requests: Arc<Semaphore>,
    streams: Arc<Semaphore>,
    subscribers: Arc<Semaphore>,
}

impl LimitsLayer {
    /// Enforces `limits`; every service made by this layer shares the same pools.
    pub fn new(limits: Limits) -> LimitsLayer {
        LimitsLayer {
            limits,
            requests: Arc::new(Semaphore::new(limits.max_concurrent_requests)),
            streams: Arc::new(Semaphore::new(limits.max_streams)),
            subscribers: Arc::new(Semaphore::new(limits.max_subscribers)),
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

impl<S, B> Service<http::Request<B>> for LimitService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
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
        let limits = self.layer.limits;
        let kind = methods::lookup(request.uri().path()).map_or(MethodKind::Unary, |m| m.kind);
        let permit = match kind {
            MethodKind::Health => None,
            MethodKind::Subscription => {
                match Arc::clone(&self.layer.subscribers).try_acquire_owned() {
                    Ok(permit) => Some(permit),
                    Err(_) => {
                        return refused(Status::resource_exhausted(format!(
                            "the server already serves {} subscriptions, its limit \
                             (--max-subscribers); retry later",
                            limits.max_subscribers
                        )))
                    }
                }
            }
            MethodKind::Stream => match Arc::clone(&self.layer.streams).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    return refused(Status::resource_exhausted(format!(
                        "the server already serves {} streams (ReadLog, queries, reflection), its \
                         limit (--max-streams); retry with backoff",
                        limits.max_streams
                    )))
                }
            },
            MethodKind::Unary => match Arc::clone(&self.layer.requests).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    return refused(Status::resource_exhausted(format!(
                        "the server is handling {} requests, its limit \
                             (--max-concurrent-requests); retry with backoff",
                        limits.max_concurrent_requests
                    )))
                }
            },
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = if kind == MethodKind::Unary {
                match tokio::time::timeout(limits.request_timeout, future).await {
                    Ok(response) => response?,
                    Err(_) => {
                        return Ok(refuse(Status::unavailable(format!(
                            "the server did not answer within {} ms (--request-timeout): it is \
                             overloaded; retry with backoff (retrying an Append is safe: entries \
                             are idempotent by id)",
                            limits.request_timeout.as_millis()
                        ))))
                    }
                }
            } else {
                future.await?
            };
            let Some(permit) = permit else {
                return Ok(response);
            };
            let (parts, body) = response.into_parts();
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(Holding {
                    inner: body,
                    _permit: permit,
                }),
            ))
        })
    }
}

fn refused<E: Send + 'static>(status: Status) -> BoxFuture<http::Response<tonic::body::Body>, E> {
    Box::pin(std::future::ready(Ok(refuse(status))))
}

pin_project_lite::pin_project! {
    /// A response body that holds its request's slot until it ends or is dropped.
    struct Holding {
        #[pin]
        inner: tonic::body::Body,
        _permit: OwnedSemaphorePermit,
    }
}

impl http_body::Body for Holding {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
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

    impl Service<http::Request<()>> for Slow {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = BoxFuture<Self::Response, Infallible>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: http::Request<()>) -> Self::Future {
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
            .body(())
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
                .body(())
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
