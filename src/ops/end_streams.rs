//! Ending, at shutdown, the streams the server did not start and cannot end otherwise.
//!
//! A graceful stop waits for every open stream. `Subscribe` ends its own streams (with where to
//! resume); two others would never end: `Health.Watch` (tonic-health ends it only when its
//! reporter is dropped, after the server stopped) and reflection streams a client keeps open.
//! [`EndStreamsLayer`] ends those with `UNAVAILABLE` once shutdown triggers and nothing else is
//! ready to send, so a watcher still receives `NOT_SERVING` first.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use tonic::{Code, Status};
use tower_layer::Layer;
use tower_service::Service;

use super::grpc::refusal;
use super::methods::{self, Access, MethodKind};
use super::reason::Reason;
use crate::shutdown::Shutdown;

/// True for the streams this layer ends: health watches (the only stream open to all) and
/// reflection.
fn ends_at_shutdown(path: &str) -> bool {
    methods::lookup(path)
        .is_some_and(|m| m.kind == MethodKind::Watch || m.access == Access::Reflection)
}

/// Ends health watches and reflection streams when `shutdown` triggers.
#[derive(Clone)]
pub struct EndStreamsLayer {
    shutdown: Shutdown,
}

impl EndStreamsLayer {
    /// Ends the streams when `shutdown` triggers.
    pub fn new(shutdown: Shutdown) -> EndStreamsLayer {
        EndStreamsLayer { shutdown }
    }
}

impl<S> Layer<S> for EndStreamsLayer {
    type Service = EndStreams<S>;

    fn layer(&self, inner: S) -> EndStreams<S> {
        EndStreams {
            inner,
            shutdown: self.shutdown.clone(),
        }
    }
}

/// See [`EndStreamsLayer`].
#[derive(Clone)]
pub struct EndStreams<S> {
    inner: S,
    shutdown: Shutdown,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<http::Request<tonic::body::Body>> for EndStreams<S>
where
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

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if !ends_at_shutdown(request.uri().path()) {
            return Box::pin(self.inner.call(request));
        }
        // The request side too: a handler reading a client stream that never closes (the
        // reflection service) would otherwise keep the HTTP/2 stream, and the stop, waiting.
        let request = request.map(|body| {
            tonic::body::Body::new(EndsAtShutdown::new(body, self.shutdown.clone(), None))
        });
        let future = self.inner.call(request);
        let shutdown = self.shutdown.clone();
        Box::pin(async move {
            let (parts, body) = future.await?.into_parts();
            let body = EndsAtShutdown::new(
                body,
                shutdown,
                Some(refusal(
                    Code::Unavailable,
                    "the server is shutting down",
                    Reason::ShuttingDown,
                    [],
                )),
            );
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(body),
            ))
        })
    }
}

pin_project_lite::pin_project! {
    /// A body that ends once `stop` resolves and nothing else is ready: with `status` in its
    /// trailers (responses), or plainly (requests).
    struct EndsAtShutdown {
        #[pin]
        inner: tonic::body::Body,
        stop: Pin<Box<dyn Future<Output = ()> + Send>>,
        status: Option<Status>,
        ended: bool,
    }
}

impl EndsAtShutdown {
    fn new(inner: tonic::body::Body, mut shutdown: Shutdown, status: Option<Status>) -> Self {
        EndsAtShutdown {
            inner,
            stop: Box::pin(async move { shutdown.triggered().await }),
            status,
            ended: false,
        }
    }
}

impl http_body::Body for EndsAtShutdown {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        // What the stream has ready (NOT_SERVING, set before shutdown) goes out first.
        let polled = this.inner.poll_frame(cx);
        if polled.is_ready() || this.stop.as_mut().poll(cx).is_pending() {
            return polled;
        }
        *this.ended = true;
        let Some(status) = this.status.take() else {
            return Poll::Ready(None);
        };
        let mut trailers = http::HeaderMap::new();
        if status.add_header(&mut trailers).is_err() {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }
}
