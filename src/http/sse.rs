//! `GET /v1/subscribe`: `Subscribe` as server-sent events, for browsers and `curl -N`.
//!
//! Each entry is one `entry` event whose `id` is its position and whose data is the entry in
//! JSON; `caught_up`, `checkpoint` and `fell_behind` come as events of those names. A client
//! that reconnects with `Last-Event-ID: N` (browsers' `EventSource` does it by itself) resumes
//! at position N + 1: nothing missed, nothing twice, as with gRPC. A refusal before the stream
//! starts is an ordinary JSON error with its HTTP status; one after it (the server stopping, a
//! stalled reader) is an `error` event with the same JSON, and the end of the stream.
//!
//! Nothing is buffered here: an event is produced when hyper can write the one before, so a
//! slow reader slows its own subscription, which the subscription's own limits bound.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use http::HeaderMap;
use tonic::Code;

use crate::ops::grpc::refusal;
use crate::ops::reason::Reason;
use crate::proto::subscribe_request::Start;
use crate::proto::{self, subscribe_response::Message};

use super::api::Call;
use super::error::ApiError;

/// How often an idle stream carries a comment, so proxies and browsers keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /v1/subscribe?from_position=…&actor=…&relation=…`.
pub async fn subscribe(call: Call) -> Result<Response, ApiError> {
    let mut message: proto::SubscribeRequest =
        call.params("eventlog.v1.SubscribeRequest", Some("filter"))?;
    if let Some(last) = last_event_id(call.headers())? {
        message.start = Some(Start::FromPosition(last.saturating_add(1)));
    }
    let answers = call
        .client()
        .subscribe(call.request(message))
        .await?
        .into_inner();
    let events = answers
        .map(|answer| match answer {
            Ok(answer) => stream::iter(events_of(answer)),
            Err(status) => stream::iter(vec![error_event(&ApiError(status))]),
        })
        .flatten()
        // After an error event the gRPC stream has ended; nothing follows it.
        .map(Ok::<Event, Infallible>);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// The position a reconnecting client last received, from `Last-Event-ID`.
fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u64>().map(Some).map_err(|_| {
        ApiError(refusal(
            Code::InvalidArgument,
            "Last-Event-ID is not a position (a whole number): send back the id of the last \
             event received, or leave the header out to start where the query says",
            Reason::InvalidParameter,
            [],
        ))
    })
}

/// The events one `SubscribeResponse` makes.
fn events_of(answer: proto::SubscribeResponse) -> Vec<Event> {
    match answer.message {
        Some(Message::Entry(entry)) => vec![entry_event(&entry)],
        Some(Message::Entries(batch)) => batch.entries.iter().map(entry_event).collect(),
        Some(Message::CaughtUp(caught_up)) => vec![named("caught_up", &caught_up)],
        Some(Message::Checkpoint(checkpoint)) => vec![named("checkpoint", &checkpoint)],
        Some(Message::FellBehind(behind)) => vec![named("fell_behind", &behind)],
        None => Vec::new(),
    }
}

fn entry_event(entry: &proto::Entry) -> Event {
    named("entry", entry).id(entry.position.to_string())
}

fn named(name: &str, value: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(value).unwrap_or_else(|_| "{}".into()))
}

fn error_event(error: &ApiError) -> Event {
    Event::default()
        .event("error")
        .data(error.body().to_string())
}
