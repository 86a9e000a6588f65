//! Requests that never reach a handler because tonic could not decode them, answered in this
//! API's terms.
//!
//! tonic answers a body that is not the method's protobuf message (a string that is not UTF-8, a
//! wrong wire type, a truncated frame) with `INTERNAL` and its decoder's wording, and an oversized
//! one with `OUT_OF_RANGE`. Both are the client's doing: `INTERNAL` would send it to an operator
//! for nothing and tell a retrying client the server is broken. Here they become
//! `INVALID_ARGUMENT` (fix the request) and `RESOURCE_EXHAUSTED` (the conventional code for a
//! message over the limit, with the flag that raises it), with a message that says what to do
//! and quotes at most a short part of the decoder's reason.
//!
//! Only the status tonic put in the response headers is read; requests are never looked into.
//! Handlers never answer `INTERNAL` with these texts, so nothing else is rewritten.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::{Code, Status};
use tower_layer::Layer;
use tower_service::Service;

use super::grpc::{refusal, refuse};
use super::methods;
use super::reason::Reason;

/// Characters of tonic's decoding reason kept in the message (it names the message and field).
const REASON_CHARS: usize = 160;

/// Rewrites tonic's decoding failures; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct RequestErrorsLayer {
    max_message_bytes: usize,
}

impl RequestErrorsLayer {
    /// `max_message_bytes` is the decoding limit, quoted to clients whose message exceeds it.
    pub fn new(max_message_bytes: usize) -> RequestErrorsLayer {
        RequestErrorsLayer { max_message_bytes }
    }
}

impl<S> Layer<S> for RequestErrorsLayer {
    type Service = RequestErrors<S>;

    fn layer(&self, inner: S) -> RequestErrors<S> {
        RequestErrors {
            inner,
            max_message_bytes: self.max_message_bytes,
        }
    }
}

/// See [`RequestErrorsLayer`].
#[derive(Debug, Clone)]
pub struct RequestErrors<S> {
    inner: S,
    max_message_bytes: usize,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for RequestErrors<S>
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
        let method = methods::lookup(request.uri().path()).map_or("this method", |m| m.name);
        let max_message_bytes = self.max_message_bytes;
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let Some(status) = Status::from_header_map(response.headers()) else {
                return Ok(response);
            };
            Ok(match restated(&status, method, max_message_bytes) {
                Some(status) => refuse(status),
                None => response,
            })
        })
    }
}

/// A request larger than `--max-message-bytes`, refused whether the limits layer or tonic's
/// decoder saw it first.
pub fn message_too_large(max_message_bytes: usize) -> Status {
    refusal(
        Code::ResourceExhausted,
        format!(
            "the request message is larger than the server accepts ({max_message_bytes} bytes, \
             --max-message-bytes); split it into smaller requests"
        ),
        Reason::MessageTooLarge,
        [],
    )
}

/// The status a client should see instead of `status`, if tonic raised it while decoding.
fn restated(status: &Status, method: &str, max_message_bytes: usize) -> Option<Status> {
    let message = status.message();
    match status.code() {
        Code::OutOfRange if message.contains("too large") => {
            Some(message_too_large(max_message_bytes))
        }
        Code::Internal => {
            let what =
                if let Some(reason) = message.strip_prefix("failed to decode Protobuf message: ") {
                    format!("is not a valid {method} request: {}", short(reason))
                } else if message.starts_with("Unexpected EOF decoding stream") {
                    "ended inside a gRPC message (the body is truncated)".to_string()
                } else if message.starts_with("Missing request message") {
                    "carries no request message".to_string()
                } else if message.starts_with("protocol error: received message with") {
                    "has a gRPC message frame with an invalid compression flag".to_string()
                } else {
                    return None;
                };
            Some(refusal(
                Code::InvalidArgument,
                format!(
                    "the request body {what}; build the client from the .proto files in proto/ \
                     (fields of the declared types, strings in UTF-8)"
                ),
                Reason::InvalidProtobuf,
                [],
            ))
        }
        _ => None,
    }
}

/// At most [`REASON_CHARS`] characters of `reason`.
fn short(reason: &str) -> &str {
    reason
        .char_indices()
        .nth(REASON_CHARS)
        .map_or(reason, |(at, _)| &reason[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_failures_become_invalid_argument_naming_the_method() {
        let status = Status::internal(
            "failed to decode Protobuf message: GetActorRequest.id: invalid string value: data \
             is not UTF-8 encoded",
        );
        let restated = restated(&status, "GetActor", 8).expect("restated");
        assert_eq!(restated.code(), Code::InvalidArgument);
        assert!(restated.message().contains("not a valid GetActor request"));
        assert!(restated.message().contains("not UTF-8"));
        let truncated = restated_code("Unexpected EOF decoding stream.");
        assert_eq!(truncated, Some(Code::InvalidArgument));
    }

    fn restated_code(message: &str) -> Option<Code> {
        restated(&Status::internal(message), "Append", 8).map(|s| s.code())
    }

    #[test]
    fn other_internal_errors_and_codes_are_left_alone() {
        assert_eq!(restated_code("storage engine error: IO error"), None);
        assert!(restated(&Status::not_found("x"), "Append", 8).is_none());
        assert!(restated(&Status::out_of_range("beyond the head"), "Append", 8).is_none());
    }

    #[test]
    fn a_long_reason_is_cut() {
        let status = Status::internal(format!(
            "failed to decode Protobuf message: {}",
            "x".repeat(10_000)
        ));
        let restated = restated(&status, "Append", 8).expect("restated");
        assert!(restated.message().len() < 400);
    }

    #[test]
    fn oversized_messages_are_resource_exhausted_with_the_flag() {
        let status = Status::out_of_range(
            "Error, decoded message length too large: found 9 bytes, the limit is: 8 bytes",
        );
        let restated = restated(&status, "Append", 8).expect("restated");
        assert_eq!(restated.code(), Code::ResourceExhausted);
        assert!(restated.message().contains("--max-message-bytes"));
    }
}
