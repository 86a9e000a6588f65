//! What a hostile or careless client gets: bounded error messages that still carry the right
//! code, `INVALID_ARGUMENT` for bodies that are not protobuf, and a store left as it was.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::*;
use eventlog::proto::{self, entry::Body};
use tonic::Code;

/// Longest message any refusal below may carry: far below the 16 KB of metadata stock gRPC
/// clients accept, so they see the real code.
const MAX_MESSAGE: usize = 600;

fn long(len: usize) -> String {
    "ä\u{1}x".repeat(len / 3)
}

fn assert_bounded<T: std::fmt::Debug>(what: &str, result: Result<T, tonic::Status>, code: Code) {
    let status = result.expect_err(what);
    assert_eq!(status.code(), code, "{what}: {status:?}");
    assert!(
        status.message().len() <= MAX_MESSAGE,
        "{what}: a message of {} bytes: {:.200}",
        status.message().len(),
        status.message()
    );
    assert!(
        !status.message().contains('\u{1}'),
        "{what}: control characters are escaped"
    );
}

#[tokio::test]
async fn refusals_of_huge_values_quote_a_short_escaped_prefix_with_the_right_code() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("seed");
    let head = common::head(&mut client).await;
    let huge = long(20_000);

    let with = |tweak: &dyn Fn(&mut proto::Event)| {
        let mut body = event_body("e-1", "backs", "russia", "wagner", "2022-03");
        tweak(&mut body);
        vec![entry(Body::Event(body))]
    };
    let bad_batches: Vec<(&str, Vec<proto::Entry>)> = vec![
        ("date", with(&|e| e.date = huge.clone())),
        ("relation", with(&|e| e.relation = huge.clone())),
        ("id", with(&|e| e.id = huge.clone())),
        ("participant", with(&|e| e.participants[0].actor_id = huge.clone())),
        (
            "country",
            with(&|e| {
                e.location = Some(proto::Location {
                    country: huge.clone(),
                    ..Default::default()
                })
            }),
        ),
        (
            "attribute key",
            with(&|e| {
                e.attributes.insert(huge.clone(), "v".into());
            }),
        ),
        (
            "actor country",
            vec![actor_with("a-1", "A", proto::ActorKind::ArmedGroup, &[], &huge)],
        ),
    ];
    for (what, entries) in bad_batches {
        assert_bounded(what, append(&mut client, entries).await, Code::InvalidArgument);
    }

    let query = |tweak: &dyn Fn(&mut proto::QueryEventsRequest)| {
        let mut request = proto::QueryEventsRequest::default();
        tweak(&mut request);
        request
    };
    let bad_queries: Vec<(&str, proto::QueryEventsRequest, Code)> = vec![
        ("query actor", query(&|q| q.actor = huge.clone()), Code::NotFound),
        ("query date", query(&|q| q.date_from = huge.clone()), Code::InvalidArgument),
        ("query relation", query(&|q| q.relations = vec![huge.clone()]), Code::InvalidArgument),
        ("query country", query(&|q| q.country = huge.clone()), Code::InvalidArgument),
        ("query page token", query(&|q| q.page_token = huge.clone()), Code::InvalidArgument),
    ];
    for (what, request, code) in bad_queries {
        assert_bounded(what, client.query_events(request).await, code);
    }
    assert_bounded(
        "GetActor",
        client
            .get_actor(proto::GetActorRequest { id: huge.clone() })
            .await,
        Code::InvalidArgument,
    );
    assert_bounded(
        "GetEntry",
        client
            .get_entry(proto::GetEntryRequest {
                selector: Some(proto::get_entry_request::Selector::Id(huge.clone())),
            })
            .await,
        Code::InvalidArgument,
    );
    assert_bounded(
        "ListRelations",
        client
            .list_relations(proto::ListRelationsRequest {
                actor: huge.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    let filter = proto::SubscriptionFilter {
        actors: vec![huge.clone()],
        ..Default::default()
    };
    assert_bounded(
        "Subscribe filter",
        client
            .subscribe(proto::SubscribeRequest {
                filter: Some(filter),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    assert_eq!(common::head(&mut client).await, head, "nothing was appended");
    server.stop().await;
}

/// A raw HTTP/2 gRPC call: `body` as the request's DATA, exactly as given (framing included),
/// so that it can be anything a broken client sends. Returns the status code and message.
async fn raw_call(url: &str, path: &str, body: Bytes) -> (Code, String) {
    let addr = url.trim_start_matches("http://");
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.expect("ready");
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("{url}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("request");
    let (response, mut send) = client.send_request(request, false).expect("send");
    send.send_data(body, true).expect("send body");
    let response = response.await.expect("response");
    let (parts, mut body) = response.into_parts();
    let mut headers = parts.headers;
    if headers.get("grpc-status").is_none() {
        while let Some(chunk) = body.data().await {
            let _ = chunk.expect("response body");
        }
        headers = body.trailers().await.expect("trailers").expect("trailers");
    }
    let status = tonic::Status::from_header_map(&headers).expect("a gRPC status");
    (status.code(), status.message().to_string())
}

/// `message` in a gRPC frame whose length prefix says `declared` bytes.
fn frame(message: &[u8], declared: u32) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(0);
    buf.put_u32(declared);
    buf.put_slice(message);
    buf.freeze()
}

#[tokio::test]
async fn bodies_that_are_not_protobuf_are_invalid_argument_and_change_nothing() {
    let server = TestServer::start().await;
    let url = server.url();
    // Field 1 (a string) holding bytes that are not UTF-8.
    let not_utf8 = [0x0a, 0x02, 0xff, 0xfe];
    // Field 1 of AppendRequest (repeated Entry) sent as a varint.
    let wrong_type = [0x08, 0x01];
    let cases: Vec<(&str, &str, Bytes, &str)> = vec![
        (
            "a string that is not UTF-8",
            "/eventlog.v1.EventLog/GetActor",
            frame(&not_utf8, 4),
            "not a valid GetActor request",
        ),
        (
            "a wrong wire type",
            "/eventlog.v1.EventLog/Append",
            frame(&wrong_type, 2),
            "not a valid Append request",
        ),
        (
            "a truncated frame",
            "/eventlog.v1.EventLog/Append",
            frame(&[0x0a, 0x00], 100),
            "truncated",
        ),
        (
            "no message at all",
            "/eventlog.v1.EventLog/Append",
            Bytes::new(),
            "no request message",
        ),
    ];
    for (what, path, body, says) in cases {
        let (code, message) = raw_call(&url, path, body).await;
        assert_eq!(code, Code::InvalidArgument, "{what}: {message}");
        assert!(message.contains(says), "{what}: {message}");
        assert!(message.contains("proto"), "{what} says what to do: {message}");
        assert!(message.len() <= MAX_MESSAGE, "{what}: {message}");
    }
    let mut client = server.client().await;
    assert_eq!(common::head(&mut client).await, 0, "nothing was appended");
    server.stop().await;
}
