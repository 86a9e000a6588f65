//! The JSON endpoints: each one is one read RPC (or `Append`), its request taken from the query
//! string (or the body), its answer the RPC's response in the proto3 JSON mapping, the shape
//! `eventlog export` writes. The handlers do nothing but translate: the RPCs behind them decide
//! everything (see `gateway`).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
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

    fn client(&self) -> Gateway {
        self.gateway.clone()
    }
}

/// `GET /v1/events`: `QueryEvents`.
pub async fn events(
    State(api): State<Api>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let message: proto::QueryEventsRequest =
        api.params("eventlog.v1.QueryEventsRequest", query.as_deref(), None)?;
    let answer = api
        .client()
        .query_events(gateway::request(message, &headers, peer))
        .await?;
    Ok(json(&answer.into_inner()))
}

/// `GET /v1/claims`: `QueryClaims`.
pub async fn claims(
    State(api): State<Api>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let message: proto::QueryClaimsRequest =
        api.params("eventlog.v1.QueryClaimsRequest", query.as_deref(), None)?;
    let answer = api
        .client()
        .query_claims(gateway::request(message, &headers, peer))
        .await?;
    Ok(json(&answer.into_inner()))
}

/// `GET /v1/relations`: `ListRelations`.
pub async fn relations(
    State(api): State<Api>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let message: proto::ListRelationsRequest =
        api.params("eventlog.v1.ListRelationsRequest", query.as_deref(), None)?;
    let answer = api
        .client()
        .list_relations(gateway::request(message, &headers, peer))
        .await?;
    Ok(json(&answer.into_inner()))
}

/// `GET /v1/actors?name=…`: `ResolveActor`; without `name`, `ListActors`.
pub async fn actors(
    State(api): State<Api>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let resolves = pairs(query.as_deref()).iter().any(|(k, _)| k == "name");
    if resolves {
        let message: proto::ResolveActorRequest =
            api.params("eventlog.v1.ResolveActorRequest", query.as_deref(), None)?;
        let answer = api
            .client()
            .resolve_actor(gateway::request(message, &headers, peer))
            .await?;
        Ok(json(&answer.into_inner()))
    } else {
        let message: proto::ListActorsRequest =
            api.params("eventlog.v1.ListActorsRequest", query.as_deref(), None)?;
        let answer = api
            .client()
            .list_actors(gateway::request(message, &headers, peer))
            .await?;
        Ok(json(&answer.into_inner()))
    }
}

/// `GET /v1/actors/{id}`: `GetActor`.
pub async fn actor(
    State(api): State<Api>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let message = proto::GetActorRequest { id };
    let answer = api
        .client()
        .get_actor(gateway::request(message, &headers, peer))
        .await?;
    Ok(json(&answer.into_inner()))
}

/// `GET /v1/entries/{id}`: `GetEntry` by id.
pub async fn entry(
    State(api): State<Api>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let message = proto::GetEntryRequest {
        selector: Some(proto::get_entry_request::Selector::Id(id)),
    };
    let answer = api
        .client()
        .get_entry(gateway::request(message, &headers, peer))
        .await?;
    Ok(json(&answer.into_inner()))
}

/// `GET /v1/log?from_position=…&max_entries=…`: one page of `ReadLog`, as one
/// `ReadLogResponse` (100 entries unless `max_entries` says otherwise).
pub async fn log(
    State(api): State<Api>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut message: proto::ReadLogRequest =
        api.params("eventlog.v1.ReadLogRequest", query.as_deref(), None)?;
    if message.max_entries == 0 {
        message.max_entries = DEFAULT_LOG_PAGE;
    }
    let mut stream = api
        .client()
        .read_log(gateway::request(message, &headers, peer))
        .await?
        .into_inner();
    let mut page = proto::ReadLogResponse::default();
    while let Some(chunk) = stream.next().await {
        page.entries.extend(chunk?.entries);
    }
    Ok(json(&page))
}

/// `GET /v1/relation-types`: `ListRelationTypes`.
pub async fn relation_types(
    State(api): State<Api>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let answer = api
        .client()
        .list_relation_types(gateway::request(
            proto::ListRelationTypesRequest::default(),
            &headers,
            peer,
        ))
        .await?;
    Ok(json(&answer.into_inner()))
}

/// `GET /v1/info`: `GetLogInfo`.
pub async fn info(
    State(api): State<Api>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let answer = api
        .client()
        .get_log_info(gateway::request(
            proto::GetLogInfoRequest::default(),
            &headers,
            peer,
        ))
        .await?;
    Ok(json(&answer.into_inner()))
}

/// `POST /v1/entries`: `Append`, the body an `AppendRequest` in JSON.
///
/// The body must say it is JSON. Besides being honest, that stops cross-site request forgery
/// against a server without tokens: a page elsewhere can make a browser POST `text/plain` to
/// loopback without asking, but not `application/json`, which needs a CORS preflight this
/// server never grants.
pub async fn append(
    State(api): State<Api>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let says_json = headers
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
    let answer = api
        .client()
        .append(gateway::request(message, &headers, peer))
        .await?;
    Ok(json(&answer.into_inner()))
}
