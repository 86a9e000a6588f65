//! Refusals as JSON: the gRPC status of the call an HTTP request stood for, in the shape of
//! Google's JSON APIs (`{"error": {"code", "status", "message", "details"}}`), with the HTTP
//! status that gRPC code maps to (google.rpc.Code's own table) and the same message. The
//! details are the ones gRPC clients read (`ErrorInfo`, `BadRequest`, `PreconditionFailure`),
//! so a program branches on `details[0].reason` whichever protocol it speaks.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::ops::grpc::{code_name, refusal, refusal_with};
use crate::ops::reason::Reason;

use super::params::ParamError;

/// Longest parameter name echoed in a field violation.
const MAX_ECHOED_PARAMETER: usize = 64;

/// A refused HTTP request: the status its gRPC call got, or would have got.
#[derive(Debug)]
pub struct ApiError(pub Status);

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        ApiError(status)
    }
}

impl From<ParamError> for ApiError {
    fn from(error: ParamError) -> Self {
        let mut details = ErrorDetails::new();
        let field: String = error.parameter.chars().take(MAX_ECHOED_PARAMETER).collect();
        details.add_bad_request_violation(field, error.problem.clone());
        ApiError(refusal_with(
            Code::InvalidArgument,
            error.to_string(),
            Reason::InvalidParameter,
            [],
            details,
        ))
    }
}

impl ApiError {
    /// A body that is not the JSON of the endpoint's request message.
    pub fn invalid_json(message: &str, problem: &serde_json::Error) -> ApiError {
        ApiError(refusal(
            Code::InvalidArgument,
            format!(
                "the body is not the JSON of a {message} (proto3 JSON mapping, as `eventlog \
                 export` writes entries): {problem}"
            ),
            Reason::InvalidJson,
            [],
        ))
    }

    /// A path or method the API does not have.
    pub fn no_such_endpoint(method: &http::Method, path: &str) -> ApiError {
        let path: String = path.chars().take(200).collect();
        ApiError(refusal(
            Code::NotFound,
            format!(
                "no endpoint {method} {path}: the API has GET /v1/events, /v1/claims, \
                 /v1/relations, /v1/actors, /v1/actors/{{id}}, /v1/entries/{{id}}, \
                 /v1/relation-types, /v1/info and /v1/subscribe, and POST /v1/entries; the \
                 console is at /"
            ),
            Reason::UnknownEndpoint,
            [],
        ))
    }

    /// A path the API has, with a method it does not take there (HTTP 405).
    pub fn wrong_method(method: &http::Method, path: &str) -> ApiError {
        let path: String = path.chars().take(200).collect();
        let allowed = if path == "/v1/entries" { "POST" } else { "GET" };
        ApiError(refusal(
            Code::Unimplemented,
            format!("{path} does not take {method}: use {allowed}"),
            Reason::UnknownEndpoint,
            [],
        ))
    }

    /// The HTTP status of this refusal: its gRPC code's, but where HTTP has a status of its
    /// own for the case (the body keeps the gRPC code name either way).
    pub fn http_status(&self) -> StatusCode {
        let details = self.0.get_error_details();
        let reason = details.error_info().map(|info| info.reason.as_str());
        if reason == Some(Reason::MessageTooLarge.as_str()) {
            StatusCode::PAYLOAD_TOO_LARGE
        } else if reason == Some(Reason::NotJson.as_str()) {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        } else if reason == Some(Reason::UnknownEndpoint.as_str())
            && self.0.code() == Code::Unimplemented
        {
            StatusCode::METHOD_NOT_ALLOWED
        } else {
            http_status(self.0.code())
        }
    }

    /// A request to a server without tokens that names another host (see
    /// `http::local_host_only`).
    pub fn foreign_host() -> ApiError {
        ApiError(refusal(
            Code::PermissionDenied,
            "this server has no access tokens, so it answers only requests addressed to \
             localhost or an IP address (Host header); use one, or configure tokens",
            Reason::ForeignHost,
            [],
        ))
    }

    /// The JSON body of this refusal.
    pub fn body(&self) -> Value {
        let status = &self.0;
        let details = status.get_error_details();
        let mut listed = Vec::new();
        if let Some(info) = details.error_info() {
            let metadata: Map<String, Value> = info
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            listed.push(json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": info.reason,
                "domain": info.domain,
                "metadata": metadata,
            }));
        }
        if let Some(bad) = details.bad_request() {
            let violations: Vec<Value> = bad
                .field_violations
                .iter()
                .map(
                    |FieldViolation {
                         field, description, ..
                     }| { json!({"field": field, "description": description}) },
                )
                .collect();
            listed.push(json!({
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": violations,
            }));
        }
        if let Some(failure) = details.precondition_failure() {
            let violations: Vec<Value> = failure
                .violations
                .iter()
                .map(|v| json!({"type": v.r#type, "subject": v.subject, "description": v.description}))
                .collect();
            listed.push(json!({
                "@type": "type.googleapis.com/google.rpc.PreconditionFailure",
                "violations": violations,
            }));
        }
        json!({
            "error": {
                "code": self.http_status().as_u16(),
                "status": code_name(status.code()),
                "message": status.message(),
                "details": listed,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.http_status();
        let mut response = super::api::json_with(status, &self.body());
        if self.0.code() == Code::Unauthenticated {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The HTTP status of a gRPC code, as google.rpc.Code documents it (and grpc-gateway uses).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        // 499 Client Closed Request: no constant in `http`, valid all the same.
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_http_statuses_google_rpc_documents() {
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            http_status(Code::FailedPrecondition),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(http_status(Code::Aborted), StatusCode::CONFLICT);
        assert_eq!(
            http_status(Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
    }

    #[test]
    fn the_body_carries_code_name_message_and_reason() {
        let error = ApiError::from(ParamError {
            parameter: "actr".into(),
            problem: "not a parameter".into(),
        });
        let body = error.body();
        assert_eq!(body["error"]["code"], 400);
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
        assert_eq!(body["error"]["details"][0]["reason"], "INVALID_PARAMETER");
        assert_eq!(
            body["error"]["details"][1]["fieldViolations"][0]["field"],
            "actr"
        );
    }
}
