//! The standard `grpc.health.v1.Health` service: `SERVING` while the server is up,
//! `NOT_SERVING` from the moment shutdown begins.
//!
//! `Health.Watch` streams would otherwise never end (tonic-health ends them only when its
//! reporter is dropped, after the server stopped, which waits for them): [`EndWatchesLayer`]
//! ends them with `UNAVAILABLE` at shutdown, right after they delivered `NOT_SERVING`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use tonic::server::NamedService;
use tonic::Status;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tower_layer::Layer;
use tower_service::Service;

use crate::proto::event_log_server::EventLogServer;
use crate::service::EventLogService;
use crate::shutdown::Shutdown;

const WATCH: &str = "/grpc.health.v1.Health/Watch";

/// Sets what the health service reports.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
}

/// The health service to add to the server, and the handle that sets its statuses. Both the
/// server as a whole (`""`) and `eventlog.v1.EventLog` are reported.
pub async fn service() -> (
    Health,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    let (reporter, server) = tonic_health::server::health_reporter();
    let health = Health { reporter };
    health.set(ServingStatus::Serving).await;
    (health, server)
}

impl Health {
    /// Reports `NOT_SERVING`: the server is stopping.
    pub async fn shutting_down(&self) {
        self.set(ServingStatus::NotServing).await;
    }

    async fn set(&self, status: ServingStatus) {
        for name in ["", <EventLogServer<EventLogService> as NamedService>::NAME] {
            self.reporter.set_service_status(name, status).await;
        }
    }
}

/// Ends `Health.Watch` streams when `shutdown` triggers.
#[derive(Clone)]
pub struct EndWatchesLayer {
    shutdown: Shutdown,
}

impl EndWatchesLayer {
    /// Ends watches when `shutdown` triggers.
    pub fn new(shutdown: Shutdown) -> EndWatchesLayer {
        EndWatchesLayer { shutdown }
    }
}

impl<S> Layer<S> for EndWatchesLayer {
    type Service = EndWatches<S>;

    fn layer(&self, inner: S) -> EndWatches<S> {
        EndWatches {
            inner,
            shutdown: self.shutdown.clone(),
        }
    }
}

/// See [`EndWatchesLayer`].
#[derive(Clone)]
pub struct EndWatches<S> {
    inner: S,
    shutdown: Shutdown,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for EndWatches<S>
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
        let watch = request.uri().path() == WATCH;
        let future = self.inner.call(request);
        if !watch {
            return Box::pin(future);
        }
        let mut shutdown = self.shutdown.clone();
        Box::pin(async move {
            let (parts, body) = future.await?.into_parts();
            let body = EndsAtShutdown {
                inner: body,
                stop: Box::pin(async move { shutdown.triggered().await }),
                ended: false,
            };
            Ok(http::Response::from_parts(
                parts,
                tonic::body::Body::new(body),
            ))
        })
    }
}

pin_project_lite::pin_project! {
    /// A stream body that ends with `UNAVAILABLE` once `stop` resolves and nothing else is
    /// ready to send.
    struct EndsAtShutdown {
        #[pin]
        inner: tonic::body::Body,
        stop: Pin<Box<dyn Future<Output = ()> + Send>>,
        ended: bool,
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
        let status = Status::unavailable("the server is shutting down");
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
