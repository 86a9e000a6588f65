//! The HTTP face's way into the API: a gRPC client of this very server, in process.
//!
//! Every JSON request becomes the gRPC request it stands for and goes through the same tower
//! stack as a call from the network: the request log and its metrics, the access tokens and
//! roles, the overload limits and each caller's share of them, the message size limits, the end
//! of streams at shutdown. So the HTTP API cannot drift from gRPC in what it allows, refuses or
//! answers: there is one implementation, reached two ways. The cost is an encode and a decode
//! of each protobuf message in memory, no network hop.

use std::net::SocketAddr;

use http::HeaderMap;
use tonic::service::Routes;
use tonic::transport::server::TcpConnectInfo;
use tower_layer::Layer;

use crate::ops::auth::{Auth, AuthLayer};
use crate::ops::end_streams::{EndStreams, EndStreamsLayer};
use crate::ops::limits::{LimitService, LimitsLayer};
use crate::ops::request_errors::{RequestErrors, RequestErrorsLayer};
use crate::ops::request_log::{RequestLog, RequestLogLayer, REQUEST_ID};
use crate::proto::event_log_client::EventLogClient;

/// The middleware every call goes through, from the outside in; cloned, it shares its state
/// (limit pools, metrics, the shutdown signal) with the original.
#[derive(Clone)]
pub struct Middleware {
    /// The request's span and metrics: outermost, so they see every refusal below.
    pub log: RequestLogLayer,
    /// Tokens and roles.
    pub auth: AuthLayer,
    /// Overload limits and caller shares.
    pub limits: LimitsLayer,
    /// Undecodable and oversized bodies.
    pub errors: RequestErrorsLayer,
    /// Streams that end at shutdown.
    pub end_streams: EndStreamsLayer,
}

/// The API's services wrapped in the [`Middleware`].
pub type Stack = RequestLog<Auth<LimitService<RequestErrors<EndStreams<Routes>>>>>;

impl Middleware {
    /// `routes` behind every layer, in the order the gRPC server applies them.
    pub fn wrap(&self, routes: Routes) -> Stack {
        self.log.layer(
            self.auth.layer(
                self.limits
                    .layer(self.errors.layer(self.end_streams.layer(routes.prepare()))),
            ),
        )
    }
}

/// A client of the in-process API.
pub type Gateway = EventLogClient<Stack>;

/// A gateway over `routes`, with message limits matching the server's.
pub fn gateway(
    middleware: &Middleware,
    routes: Routes,
    max_request_bytes: usize,
    max_response_bytes: usize,
) -> Gateway {
    EventLogClient::new(middleware.wrap(routes))
        .max_encoding_message_size(max_request_bytes)
        .max_decoding_message_size(max_response_bytes)
}

/// Who sent an HTTP request: its connection's addresses, as the gRPC server records them.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The listener's address.
    pub local: Option<SocketAddr>,
    /// The client's address.
    pub remote: Option<SocketAddr>,
}

/// `message` as the gRPC request an HTTP request stands for: its bearer token and request id
/// carried over, and its connection recorded, so that auth, per-caller limits and the request
/// log treat it as they treat a gRPC call from that connection.
pub fn request<T>(message: T, headers: &HeaderMap, peer: Peer) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for name in [http::header::AUTHORIZATION.as_str(), REQUEST_ID] {
        if let Some(value) = headers.get(name) {
            if let Ok(value) = tonic::metadata::MetadataValue::try_from(value.as_bytes()) {
                request.metadata_mut().insert(name, value);
            }
        }
    }
    request.extensions_mut().insert(TcpConnectInfo {
        local_addr: peer.local,
        remote_addr: peer.remote,
    });
    request
}
