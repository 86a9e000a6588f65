//! The JSON endpoints: each one is one read RPC (or `Append`), its request taken from the query
//! string (or the body), its answer the RPC's response in the proto3 JSON mapping, the shape
//! `eventlog export` writes. The handlers do nothing but translate: the RPCs behind them decide
//! everything (see `gateway`).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::Code;

use crate::ops::grpc::refusal;
use crate::ops::reason::Reason;
use crate::proto;

use super::error::ApiError;
use super::gateway::{self, Gateway, Peer};
use super::params::{pairs, Schema};

/// Entries `GET /v1/log` returns when `max_entries` is not given; larger pages are the RPC's own
/// limit's business.
const DEFAULT_LOG_PAGE: u64 = 100;

/// What every handler shares.
#[derive(Clone)]
pub struct Api {
    /// The in-process gRPC client every request goes through.
    pub gateway: Gateway,
    /// The request messages' fields, for query parameters.
    pub schema: Arc<Schema>,
    /// Largest JSON body accepted: the JSON of the largest protobuf request.
    pub max_body_bytes: usize,
    /// How long a client may take to send a body (`--request-body-timeout`, as for gRPC).
    pub body_timeout: std::time::Duration,
}

/// The JSON of `value` with status 200.
pub fn json(value: &impl Serialize) -> Response {
    json_with(StatusCode::OK, value)
}

/// The JSON of `value` with `status`.
pub fn json_with(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        // Serialising the API's own messages fails only on a bug; say so rather than panic.
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the answer as JSON: {error}\n"),
        )
            .into_response(),
    }
}

impl Api {
    /// The request message `T` (full name `message`) the query string describes.
    pub fn params<T: DeserializeOwned>(
        &self,
        message: &str,
        query: Option<&str>,
        flatten: Option<&str>,
    ) -> Result<T, ApiError> {
        let value = self.schema.request(message, &pairs(query), flatten)?;
        serde_json::from_value(value).map_err(|error| {
            ApiError(refusal(
                Code::InvalidArgument,
                format!("the query parameters do not make a {message}: {error}"),
                Reason::InvalidParameter,
                [],
            ))
        })
    }
}

/// What every endpoint starts from: the shared state, and the parts of the HTTP request that
/// make its gRPC call (who sent it, its token and request id, its query string).
pub struct Call {
    /// The shared state.
    pub api: Api,
    peer: Peer,
    headers: HeaderMap,
    query: Option<String>,
}

impl FromRequestParts<Api> for Call {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        api: &Api,
    ) -> Result<Self, Self::Rejection> {
        Ok(Call {
            api: api.clone(),
            // `http::serve` records the connection on every request.
            peer: parts.extensions.get::<Peer>().copied().unwrap_or(Peer {
                local: None,
                remote: None,
            }),
            headers: parts.headers.clone(),
            query: parts.uri.query().map(str::to_string),
        })
    }
}

impl Call {
    /// The request message `T` (full name `message`) of the query string; `flatten` as for
    /// [`Schema::request`].
    pub fn params<T: DeserializeOwned>(
        &self,
        message: &str,
        flatten: Option<&str>,
    ) -> Result<T, ApiError> {
        self.api.params(message, self.query.as_deref(), flatten)
    }

    /// Whether the query string sets `name`.
    fn has(&self, name: &str) -> bool {
        pairs(self.query.as_deref()).iter().any(|(k, _)| k == name)
    }

    /// `message` as this request's gRPC call.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        gateway::request(message, &self.headers, self.peer)
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A client for the call.
    pub fn client(&self) -> Gateway {
        self.api.gateway.clone()
    }
}

/// A unary RPC's answer as JSON, or its refusal.
fn answer<T: Serialize>(
    result: Result<tonic::Response<T>, tonic::Status>,
) -> Result<Response, ApiError> {
    Ok(json(&result?.into_inner()))
}

/// `GET /v1/events`: `QueryEvents`.
pub async fn events(call: Call) -> Result<Response, ApiError> {
    let message: proto::QueryEventsRequest = call.params("eventlog.v1.QueryEventsRequest", None)?;
    answer(call.client().query_events(call.request(message)).await)
}

/// `GET /v1/claims`: `QueryClaims`.
pub async fn claims(call: Call) -> Result<Response, ApiError> {
    let message: proto::QueryClaimsRequest = call.params("eventlog.v1.QueryClaimsRequest", None)?;
    answer(call.client().query_claims(call.request(message)).await)
}

/// `GET /v1/relations`: `ListRelations`.
pub async fn relations(call: Call) -> Result<Response, ApiError> {
    let message: proto::ListRelationsRequest =
        call.params("eventlog.v1.ListRelationsRequest", None)?;
    answer(call.client().list_relations(call.request(message)).await)
}

/// `GET /v1/actors?name=…`: `ResolveActor`; without `name`, `ListActors`.
pub async fn actors(call: Call) -> Result<Response, ApiError> {
    if call.has("name") {
        let message: proto::ResolveActorRequest =
            call.params("eventlog.v1.ResolveActorRequest", None)?;
        answer(call.client().resolve_actor(call.request(message)).await)
    } else {
        let message: proto::ListActorsRequest =
            call.params("eventlog.v1.ListActorsRequest", None)?;
        answer(call.client().list_actors(call.request(message)).await)
    }
}

/// `GET /v1/actors/{id}`: `GetActor`.
pub async fn actor(call: Call, Path(id): Path<String>) -> Result<Response, ApiError> {
    let message = proto::GetActorRequest { id };
    answer(call.client().get_actor(call.request(message)).await)
}

/// `GET /v1/entries/{id}`: `GetEntry` by id.
pub async fn entry(call: Call, Path(id): Path<String>) -> Result<Response, ApiError> {
    let message = proto::GetEntryRequest {
        selector: Some(proto::get_entry_request::Selector::Id(id)),
    };
    answer(call.client().get_entry(call.request(message)).await)
}

/// `GET /v1/log?from_position=…&max_entries=…`: one page of `ReadLog`, as one
/// `ReadLogResponse` (100 entries unless `max_entries` says otherwise).
pub async fn log(call: Call) -> Result<Response, ApiError> {
    let mut message: proto::ReadLogRequest = call.params("eventlog.v1.ReadLogRequest", None)?;
    if message.max_entries == 0 {
        message.max_entries = DEFAULT_LOG_PAGE;
    }
    let mut stream = call
        .client()
        .read_log(call.request(message))
        .await?
        .into_inner();
    let mut page = proto::ReadLogResponse::default();
    while let Some(chunk) = stream.next().await {
        page.entries.extend(chunk?.entries);
    }
    Ok(json(&page))
}

/// `GET /v1/relation-types`: `ListRelationTypes`.
pub async fn relation_types(call: Call) -> Result<Response, ApiError> {
    let message = proto::ListRelationTypesRequest::default();
    answer(
        call.client()
            .list_relation_types(call.request(message))
            .await,
    )
}

/// `GET /v1/info`: `GetLogInfo`.
pub async fn info(call: Call) -> Result<Response, ApiError> {
    let message = proto::GetLogInfoRequest::default();
    answer(call.client().get_log_info(call.request(message)).await)
}

/// `POST /v1/entries`: `Append`, the body an `AppendRequest` in JSON.
///
/// The body must say it is JSON. Besides being honest, that stops cross-site request forgery
/// against a server without tokens: a page elsewhere can make a browser POST `text/plain` to
/// loopback without asking, but not `application/json`, which needs a CORS preflight this
/// server never grants.
pub async fn append(call: Call, body: axum::body::Body) -> Result<Response, ApiError> {
    let api = &call.api;
    let says_json = call
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !says_json {
        return Err(ApiError(refusal(
            Code::InvalidArgument,
            "POST /v1/entries takes a JSON body: send it with Content-Type: application/json",
            Reason::NotJson,
            [],
        )));
    }
    let read = tokio::time::timeout(
        api.body_timeout,
        axum::body::to_bytes(body, api.max_body_bytes),
    )
    .await
    .map_err(|_| {
        ApiError(refusal(
            Code::DeadlineExceeded,
            format!(
                "the body did not arrive within {} ms (--request-body-timeout): send it at once",
                api.body_timeout.as_millis()
            ),
            Reason::RequestBodyTimeout,
            [],
        ))
    })?;
    let bytes = read.map_err(|_| {
        ApiError(refusal(
            Code::ResourceExhausted,
            format!(
                "the body is over {} bytes, the most this server reads as JSON: send the \
                     entries in smaller batches",
                api.max_body_bytes
            ),
            Reason::MessageTooLarge,
            [("limit", api.max_body_bytes.to_string())],
        ))
    })?;
    let message: proto::AppendRequest = serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::invalid_json("eventlog.v1.AppendRequest", &error))?;
    answer(call.client().append(call.request(message)).await)
}
