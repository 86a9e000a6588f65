//! gRPC over HTTP/2, as the tower layers see it: statuses in headers or trailers, and responses
//! a layer answers itself.

use http::HeaderMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::reason::Reason;

/// The `domain` of every `google.rpc.ErrorInfo` this server sends: reasons are unique within it.
pub const ERROR_DOMAIN: &str = "eventlog";

/// A refusal a program can act on without reading the prose: `message` for people, and
/// `google.rpc.ErrorInfo` details with a stable [`Reason`] and `metadata` (ids, positions, limits) for programs. `extra` adds other standard
/// details (`BadRequest`, `PreconditionFailure`) to the same status.
pub fn refusal_with(
    code: Code,
    message: impl Into<String>,
    reason: Reason,
    metadata: impl IntoIterator<Item = (&'static str, String)>,
    mut extra: ErrorDetails,
) -> Status {
    let metadata: std::collections::HashMap<String, String> = metadata
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect();
    extra.set_error_info(reason.as_str(), ERROR_DOMAIN, metadata);
    Status::with_error_details(code, message, extra)
}

/// [`refusal_with`] without other details.
pub fn refusal(
    code: Code,
    message: impl Into<String>,
    reason: Reason,
    metadata: impl IntoIterator<Item = (&'static str, String)>,
) -> Status {
    refusal_with(code, message, reason, metadata, ErrorDetails::new())
}

/// A complete gRPC response carrying only `status` (a "trailers-only" response), for a layer
/// that refuses a request before it reaches a handler.
pub fn refuse(status: Status) -> http::Response<tonic::body::Body> {
    status.into_http()
}

/// The status a response or its trailers carry, if any.
pub fn code_in(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    let number: i32 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Code::from_i32(number))
}

/// The canonical name of a code, as gRPC specifies and every client library prints it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_from_headers() {
        let response = refuse(Status::resource_exhausted("full"));
        assert_eq!(code_in(response.headers()), Some(Code::ResourceExhausted));
        assert_eq!(code_in(&HeaderMap::new()), None);
        assert_eq!(code_name(Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
    }
}
