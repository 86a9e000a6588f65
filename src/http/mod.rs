//! The HTTP face of the server: a JSON API over the read RPCs and `Append`, server-sent events
//! for `Subscribe`, and the analyst's console (a web page built into the binary), all on
//! `--http-listen`, off unless set.
//!
//! It owns no rules. Every JSON request becomes the gRPC call it stands for and is made, in
//! process, through the same middleware as a call from the network (`gateway`): the same
//! tokens and roles, the same limits and per-caller shares, the same request log and metrics,
//! the same answers and refusals. The listener shares the gRPC listener's connection limits
//! (`ops::connections`) and TLS material.
//!
//! - `params`: query parameters to request messages, read off the API's descriptors.
//! - `api`: the JSON endpoints; `sse`: `GET /v1/subscribe`.
//! - `error`: refusals as JSON, with the HTTP status of their gRPC code.
//! - `console`: the web page and its assets.

mod api;
mod console;
mod error;
pub mod gateway;
pub mod params;
mod sse;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::transport::server::Connected;

use crate::ops::connections::Admitted;

pub use api::Api;
use error::ApiError;
use gateway::Peer;

/// How long a client may take to send a request's headers. HTTP/1.1 has no pings: this is
/// what closes a connection that opens a request and stalls, and, since hyper starts the clock
/// whenever it waits for a next request, a keep-alive connection left idle (measured: closed
/// after 10 s idle, while an event stream stayed open past 20 s).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The routes of the API and the console. `open` (no access tokens) adds the check of
/// [`local_host_only`].
pub fn router(api: Api, open: bool) -> Router {
    let router = Router::new()
        .route("/v1/events", get(api::events))
        .route("/v1/claims", get(api::claims))
        .route("/v1/relations", get(api::relations))
        .route("/v1/actors", get(api::actors))
        .route("/v1/actors/{id}", get(api::actor))
        .route("/v1/entries", axum::routing::post(api::append))
        .route("/v1/entries/{id}", get(api::entry))
        .route("/v1/log", get(api::log))
        .route("/v1/relation-types", get(api::relation_types))
        .route("/v1/info", get(api::info))
        .route("/v1/subscribe", get(sse::subscribe))
        .merge(console::routes())
        .fallback(no_such_endpoint)
        .method_not_allowed_fallback(wrong_method)
        .with_state(api);
    if open {
        router.layer(axum::middleware::from_fn(local_host_only))
    } else {
        router
    }
}

/// Without tokens the server listens only on loopback, and anything that reaches it may read.
/// A page on another site can still reach it through the analyst's browser by DNS rebinding
/// (its own name made to resolve to 127.0.0.1), and would then read answers as same-origin.
/// Such requests carry the other site's name in `Host`; so an open server answers only
/// requests addressed to an IP address or `localhost`. With tokens the browser has none to send
/// for that page, and the check is not needed; nor with `--insecure`, whose operator says that
/// something in front of the server guards it (and requests then name that front).
async fn local_host_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if is_local_host(host) {
        next.run(request).await
    } else {
        ApiError::foreign_host().into_response()
    }
}

/// `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080` (or without the port).
fn is_local_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

async fn no_such_endpoint(method: http::Method, uri: http::Uri) -> Response {
    ApiError::no_such_endpoint(&method, uri.path()).into_response()
}

async fn wrong_method(method: http::Method, uri: http::Uri) -> Response {
    ApiError::wrong_method(&method, uri.path()).into_response()
}

/// Serves `router` on the connections `incoming` admits, over TLS when `tls` is set, until
/// `shutdown` resolves; then each connection finishes the request it is answering (streams end
/// by themselves: the subscriptions behind them end at shutdown) and closes.
pub async fn serve(
    mut incoming: ReceiverStream<io::Result<Admitted>>,
    router: Router,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    handshake_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let admitted = tokio::select! {
            admitted = incoming.next() => admitted,
            () = &mut shutdown => break,
        };
        let stream = match admitted {
            Some(Ok(stream)) => stream,
            // The accept loop reports no errors today; one would concern that connection only.
            Some(Err(_)) => continue,
            None => break,
        };
        let info = stream.connect_info();
        let peer = Peer {
            local: info.local_addr(),
            remote: info.remote_addr(),
        };
        let router = router.clone();
        let acceptor = acceptor.clone();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            match acceptor {
                Some(acceptor) => {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => connection(tls, router, peer, stop).await,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, remote = ?peer.remote, "HTTP: TLS handshake failed")
                        }
                        Err(_) => {
                            tracing::debug!(remote = ?peer.remote, "HTTP: TLS handshake timed out")
                        }
                    }
                }
                None => connection(stream, router, peer, stop).await,
            }
        });
        // Reap the connections that have ended, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
    }
    drop(router);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
}

/// One HTTP/1.1 connection, until it closes or the server stops.
async fn connection<IO>(
    io: IO,
    router: Router,
    peer: Peer,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(peer);
            let mut router = router.clone();
            async move { tower_service::Service::call(&mut router, request).await }
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let served = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    tokio::select! {
        result = served.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, remote = ?peer.remote, "HTTP connection ended with an error");
            }
        }
        () = async { let _ = stop.wait_for(|stopping| *stopping).await; } => {
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_local_host;

    #[test]
    fn only_loopback_names_and_addresses_are_local() {
        for host in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:8080",
            "10.0.0.2",
        ] {
            assert!(is_local_host(host), "{host}");
        }
        for host in [
            "evil.example:8080",
            "",
            "127.0.0.1.evil.example",
            "[evil]:1",
        ] {
            assert!(!is_local_host(host), "{host}");
        }
    }
}
