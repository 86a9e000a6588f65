//! What a hostile or careless client gets: bounded error messages that still carry the right
//! code, `INVALID_ARGUMENT` for bodies that are not protobuf, and a store left as it was.

use crate::common;

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
        (
            "participant",
            with(&|e| e.participants[0].actor_id = huge.clone()),
        ),
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
            vec![actor_with(
                "a-1",
                "A",
                proto::ActorKind::ArmedGroup,
                &[],
                &huge,
            )],
        ),
    ];
    for (what, entries) in bad_batches {
        assert_bounded(
            what,
            append(&mut client, entries).await,
            Code::InvalidArgument,
        );
    }

    let query = |tweak: &dyn Fn(&mut proto::QueryEventsRequest)| {
        let mut request = proto::QueryEventsRequest::default();
        tweak(&mut request);
        request
    };
    let bad_queries: Vec<(&str, proto::QueryEventsRequest, Code)> = vec![
        (
            "query actor",
            query(&|q| q.actor = huge.clone()),
            Code::NotFound,
        ),
        (
            "query date",
            query(&|q| q.date_from = huge.clone()),
            Code::InvalidArgument,
        ),
        (
            "query relation",
            query(&|q| q.relations = vec![huge.clone()]),
            Code::InvalidArgument,
        ),
        (
            "query country",
            query(&|q| q.country = huge.clone()),
            Code::InvalidArgument,
        ),
        (
            "query page token",
            query(&|q| q.page_token = huge.clone()),
            Code::InvalidArgument,
        ),
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
    assert_eq!(
        common::head(&mut client).await,
        head,
        "nothing was appended"
    );
    server.stop().await;
}

/// A raw HTTP/2 gRPC call on a connection of its own, kept open while the value lives (the
/// connection is cut when it is dropped). Its body is sent exactly as given, framing included,
/// so that it can be anything a broken client sends.
struct RawCall {
    client: h2::client::SendRequest<Bytes>,
    send: h2::SendStream<Bytes>,
    connection: tokio::task::JoinHandle<()>,
    response: h2::client::ResponseFuture,
}

impl Drop for RawCall {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// Opens `path` with `token` (if any) and sends `body` (if any, ending the request with it).
async fn raw_open(url: &str, path: &str, token: Option<&str>, body: Option<Bytes>) -> RawCall {
    let addr = url.trim_start_matches("http://");
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.expect("ready");
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("{url}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let (response, mut send) = client
        .send_request(request.body(()).expect("request"), false)
        .expect("send");
    if let Some(body) = body {
        send.send_data(body, true).expect("body");
    }
    RawCall {
        client,
        send,
        connection,
        response,
    }
}

/// A raw HTTP/2 gRPC call of `path` with `body`: the status code and message it got.
async fn raw_call(url: &str, path: &str, body: Bytes) -> (Code, String) {
    let mut call = raw_open(url, path, None, Some(body)).await;
    let response = (&mut call.response).await.expect("response");
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
        assert!(
            message.contains("proto"),
            "{what} says what to do: {message}"
        );
        assert!(message.len() <= MAX_MESSAGE, "{what}: {message}");
    }
    let mut client = server.client().await;
    assert_eq!(common::head(&mut client).await, 0, "nothing was appended");
    server.stop().await;
}

#[tokio::test]
async fn calls_the_client_gave_up_on_are_counted_cancelled() {
    let temp = tempfile::tempdir().expect("temp dir");
    let running = eventlog::server::start(&eventlog::server::Settings {
        metrics_listen: Some("127.0.0.1:0".parse().expect("address")),
        ..settings(&temp.path().join("data"))
    })
    .await
    .expect("server starts");
    let metrics = running.metrics_addr.expect("a metrics address");
    let url = format!("http://{}", running.local_addr);
    let mut client = eventlog::proto::event_log_client::EventLogClient::connect(url)
        .await
        .expect("connect");
    // A query that waits for a position the log has not reached, given up by the client's
    // deadline (grpc-timeout) ...
    let mut request = tonic::Request::new(proto::QueryEventsRequest {
        min_position: 1_000,
        ..Default::default()
    });
    request.set_timeout(std::time::Duration::from_millis(200));
    let gave_up = client.query_events(request).await;
    // The server's side of the deadline may answer first (tonic says CANCELLED then).
    let code = gave_up.expect_err("deadline").code();
    assert!(
        matches!(code, Code::DeadlineExceeded | Code::Cancelled),
        "{code:?}"
    );
    // ... and one whose caller went away.
    let mut other = client.clone();
    let call = tokio::spawn(async move {
        other
            .query_events(proto::QueryEventsRequest {
                min_position: 1_000,
                ..Default::default()
            })
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    call.abort();
    // An Append whose client went away halfway through sending it, on a connection it cut.
    let mut half = raw_open(
        &format!("http://{}", running.local_addr),
        "/eventlog.v1.EventLog/Append",
        None,
        None,
    )
    .await;
    half.send
        .send_data(frame(&[0x0a, 0x10, 0x0a], 100), false)
        .expect("half a body");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(half);
    let append_series = |code: &str| {
        common::ops::series(
            "eventlog_rpc_requests_total",
            &[("method", "Append"), ("code", code)],
        )
    };
    // A subscription dropped by its client.
    let stream = client
        .subscribe(proto::SubscribeRequest::default())
        .await
        .expect("subscribe");
    drop(stream);
    let series = |code: &str| {
        common::ops::series(
            "eventlog_rpc_requests_total",
            &[("method", "QueryEvents"), ("code", code)],
        )
    };
    let mut samples = std::collections::HashMap::new();
    for _ in 0..100 {
        samples = common::ops::parse_samples(&common::ops::scrape(metrics).await);
        if samples.get(&series("CANCELLED")).copied().unwrap_or(0.0) >= 2.0
            && samples.keys().any(|k| k.contains("\"Append\""))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let codes: Vec<_> = samples
        .iter()
        .filter(|(k, _)| k.starts_with("eventlog_rpc_requests_total"))
        .collect();
    assert_eq!(
        samples.get(&series("CANCELLED")).copied(),
        Some(2.0),
        "{codes:?}"
    );
    assert_eq!(
        samples.get(&append_series("CANCELLED")).copied(),
        Some(1.0),
        "{codes:?}"
    );
    running.stop().await.expect("stops");
}

/// FNV-1a, the page tokens' (public, unkeyed) checksum: what a forger recomputes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn page_tokens_and_filters_are_held_to_their_own_query() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("seed");
    append_attacks(&mut client, 1, 3, "2022").await;
    let head = common::head(&mut client).await;

    // A query token whose snapshot was moved past the head, checksum recomputed.
    let first = client
        .query_events(proto::QueryEventsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("first page")
        .into_inner();
    let token = first.next_page_token;
    let mut bytes = hex_decode(token.strip_prefix("q1.").expect("a query token"));
    let payload_len = bytes.len() - 8;
    bytes[1..9].copy_from_slice(&1_000_000_u64.to_be_bytes());
    let checksum = fnv1a(&bytes[..payload_len]);
    bytes[payload_len..].copy_from_slice(&checksum.to_be_bytes());
    let forged = format!("q1.{}", hex_encode(&bytes));
    assert_status(
        client
            .query_events(proto::QueryEventsRequest {
                page_size: 1,
                page_token: forged,
                ..Default::default()
            })
            .await,
        Code::OutOfRange,
        &["page_token", "beyond the head", "first page"],
    );

    // A ListActors token is bound to the filters it was issued for.
    let states = proto::ListActorsRequest {
        page_size: 1,
        kind: proto::ActorKind::State as i32,
        ..Default::default()
    };
    let page = client
        .list_actors(states.clone())
        .await
        .expect("first page")
        .into_inner();
    assert!(
        !page.next_page_token.is_empty(),
        "two states: a second page"
    );
    let second = client
        .list_actors(proto::ListActorsRequest {
            page_token: page.next_page_token.clone(),
            ..states.clone()
        })
        .await
        .expect("the same listing continues")
        .into_inner();
    assert_eq!(second.actors.len(), 1);
    assert_status(
        client
            .list_actors(proto::ListActorsRequest {
                page_token: page.next_page_token,
                kind: proto::ActorKind::ArmedGroup as i32,
                ..states
            })
            .await,
        Code::InvalidArgument,
        &["page_token", "other filters"],
    );

    // A subscription's date range is checked as a query's is.
    assert_status(
        client
            .subscribe(proto::SubscribeRequest {
                filter: Some(proto::SubscriptionFilter {
                    date_from: "2023".into(),
                    date_to: "2022".into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["filter.date_from", "ends before it starts"],
    );

    // One id twice in a batch, with different content: the batch's own contradiction.
    let mut twin = event_body("twin", "attacks", "russia", "iran", "2022");
    let first_twin = entry(Body::Event(twin.clone()));
    twin.summary = "a different account".into();
    assert_status(
        append(&mut client, vec![first_twin, entry(Body::Event(twin))]).await,
        Code::InvalidArgument,
        &["entries[1]", "entries[0]", "this batch"],
    );
    // A date with letters in it is not "a time of day".
    assert_status(
        append(
            &mut client,
            vec![event(
                "snow",
                "attacks",
                "russia",
                "iran",
                "☃ nächstes Jahr ☃",
            )],
        )
        .await,
        Code::InvalidArgument,
        &["not part of an EDTF date"],
    );
    assert_eq!(
        common::head(&mut client).await,
        head,
        "nothing was appended"
    );
    server.stop().await;
}

/// Batch `chunk` of 250 events of about 8 KB each (a long summary).
fn large_events(chunk: u32) -> Vec<proto::Entry> {
    let summary = "An account of the clash, as the wire reported it. ".repeat(160);
    (0..250)
        .map(|i| {
            let mut body = event_body(
                &format!("big-{chunk}-{i}"),
                "attacks",
                "russia",
                "liwa-al-quds",
                "2022",
            );
            body.summary = summary.clone();
            entry(Body::Event(body))
        })
        .collect()
}

/// Appends `count` events of [`large_events`], in batches of 250.
async fn append_large_events(
    client: &mut eventlog::proto::event_log_client::EventLogClient<tonic::transport::Channel>,
    count: u32,
) {
    for chunk in 0..count / 250 {
        append(client, large_events(chunk))
            .await
            .expect("append large events");
    }
}

/// Asserts that the 99th percentile of `latencies` is under 100 ms.
fn assert_p99_under_100_ms(mut latencies: Vec<std::time::Duration>) {
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    assert!(p99 < std::time::Duration::from_millis(100), "p99 {p99:?}");
}

fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// A raw HTTP/2 `Subscribe` from position 1 that never reads a byte of its response.
async fn silent_subscriber(url: &str) -> Box<dyn std::any::Any + Send> {
    // SubscribeRequest { from_position: 1 }
    let body = frame(&[0x08, 0x01], 2);
    let mut call = raw_open(url, "/eventlog.v1.EventLog/Subscribe", None, Some(body)).await;
    let response = (&mut call.response).await.expect("response headers");
    Box::new((call, response))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_that_never_read_cost_a_bounded_amount_each() {
    const SILENT: usize = 100;
    const ENTRIES: u32 = 2_000;
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let server = common::ops::spawn_binary(
        &[
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--cache-mb",
            "32",
        ],
        std::process::Stdio::null(),
    )
    .await;
    let pid = server.child.id().expect("running");
    let mut client = eventlog::proto::event_log_client::EventLogClient::connect(server.url.clone())
        .await
        .expect("connect");
    append(&mut client, seed_actors()).await.expect("seed");
    append_large_events(&mut client, ENTRIES).await;
    // Every subscriber reads the log once before it is counted, so the page cache is warm.
    let mut reader = client.clone();
    let all = read_all(&mut reader).await;
    assert_eq!(all.len() as u32, ENTRIES + 3);
    let before = rss_mib(pid);

    let mut silent = Vec::new();
    for _ in 0..SILENT {
        silent.push(silent_subscriber(&server.url).await);
    }
    // A well-behaved subscriber and unary calls go on meanwhile.
    let mut follower = client.clone();
    let mut stream = subscribe(&mut follower, from_position(1))
        .await
        .expect("subscribe");
    let said = read_through(&mut stream, u64::from(ENTRIES) + 3).await;
    assert_eq!(
        positions(&said),
        (1..=u64::from(ENTRIES) + 3).collect::<Vec<_>>()
    );
    let mut latencies = Vec::new();
    for _ in 0..50 {
        let started = std::time::Instant::now();
        common::head(&mut client).await;
        latencies.push(started.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_p99_under_100_ms(latencies);
    // Give the silent streams time to fill whatever buffers they may.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let after = rss_mib(pid);
    // Each silent stream may hold its byte budget (256 KiB), one catch-up chunk (256 KiB), its
    // HTTP/2 window (64 KiB) and its connection's buffers: measured about 1 MiB. Without the
    // byte bounds each held its 8 deliveries of up to 512 entries, here the whole 16 MB log.
    let per_stream = (after.saturating_sub(before)) as f64 / SILENT as f64;
    println!("{before} MiB before, {after} MiB with {SILENT} silent subscribers: {per_stream:.2} MiB each");
    assert!(
        per_stream < 1.5,
        "{before} MiB before, {after} MiB with {SILENT} silent subscribers: {per_stream:.2} MiB each"
    );
    drop(silent);
}

#[tokio::test]
async fn a_stalled_subscriber_is_ended_with_the_position_to_resume_from() {
    let temp = tempfile::tempdir().expect("temp dir");
    let limits = eventlog::ops::limits::Limits {
        subscriber_stall_timeout: std::time::Duration::from_millis(500),
        ..Default::default()
    };
    let running = eventlog::server::start(&eventlog::server::Settings {
        limits,
        ..settings(&temp.path().join("data"))
    })
    .await
    .expect("server starts");
    let url = format!("http://{}", running.local_addr);
    let mut client = eventlog::proto::event_log_client::EventLogClient::connect(url.clone())
        .await
        .expect("connect");
    append(&mut client, seed_actors()).await.expect("seed");
    append_large_events(&mut client, 1_000).await;
    let head = common::head(&mut client).await;
    // A client whose HTTP/2 window is small and which reads nothing for a while.
    let channel = tonic::transport::Endpoint::from_shared(url)
        .expect("url")
        .initial_stream_window_size(64 * 1024)
        .initial_connection_window_size(64 * 1024)
        .connect()
        .await
        .expect("connect");
    let mut slow = eventlog::proto::event_log_client::EventLogClient::new(channel);
    let mut stream = subscribe(&mut slow, from_position(1))
        .await
        .expect("subscribe");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    // What was buffered arrives, in order from 1, then the end says where to resume.
    let mut got = Vec::new();
    let status = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), stream.message()).await {
            Ok(Ok(Some(response))) => match response.message {
                Some(proto::subscribe_response::Message::Entry(entry)) => got.push(entry.position),
                Some(proto::subscribe_response::Message::Entries(batch)) => {
                    got.extend(batch.entries.iter().map(|e| e.position))
                }
                _ => {}
            },
            Ok(Ok(None)) => panic!("the stream ended without a status"),
            Ok(Err(status)) => break status,
            Err(_) => panic!("no end within 10 s"),
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("read nothing"), "{status:?}");
    assert_eq!(
        reason_of(&Err::<(), _>(status.clone())),
        "SUBSCRIBER_STALLED"
    );
    let resume: u64 = status
        .message()
        .rsplit("resume from position ")
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no position in {:?}", status.message()));
    assert_eq!(
        got,
        (1..resume).collect::<Vec<_>>(),
        "delivered up to the resume point, no gap"
    );
    assert!(
        resume <= head,
        "it stalled before the end: {resume} of {head}"
    );
    running.stop().await.expect("stops");
}

fn grpc_code(headers: &http::HeaderMap) -> Option<Code> {
    tonic::Status::from_header_map(headers).map(|s| s.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_that_never_send_a_body_or_watch_health_take_no_slot_from_others() {
    use common::ops::{authed, token, with_tokens};
    use eventlog::ops::methods::Role;
    const STALLED: usize = 40;
    let temp = tempfile::tempdir().expect("temp dir");
    let limits = eventlog::ops::limits::Limits {
        max_concurrent_requests: 8,
        max_streams: 8,
        request_body_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let running = eventlog::server::start(&with_tokens(
        eventlog::server::Settings {
            limits,
            ..settings(&temp.path().join("data"))
        },
        false,
    ))
    .await
    .expect("server starts");
    let url = format!("http://{}", running.local_addr);
    let reader = token(Role::Read);

    let mut stalled = Vec::new();
    for _ in 0..STALLED {
        stalled.push(raw_open(&url, "/eventlog.v1.EventLog/GetLogInfo", Some(reader), None).await);
        stalled.push(raw_open(&url, "/eventlog.v1.EventLog/ReadLog", Some(reader), None).await);
    }
    // More unauthenticated health watches than their pool holds: the extra ones are refused.
    let mut watches = Vec::new();
    for _ in 0..80 {
        watches.push(
            raw_open(
                &url,
                "/grpc.health.v1.Health/Watch",
                None,
                Some(frame(&[], 0)),
            )
            .await,
        );
    }
    let mut watch_codes = Vec::new();
    for watch in &mut watches {
        let response = (&mut watch.response).await.expect("watch response");
        watch_codes.push(grpc_code(response.headers()));
    }
    let refused = watch_codes
        .iter()
        .filter(|c| **c == Some(Code::ResourceExhausted))
        .count();
    assert_eq!(refused, 80 - 64, "the watch pool holds 64: {watch_codes:?}");

    // Meanwhile an authenticated client is served promptly, unary calls and streams alike.
    let mut client = authed(&url, Some(token(Role::Admin))).await;
    client
        .append(proto::AppendRequest {
            entries: seed_actors(),
            ..Default::default()
        })
        .await
        .expect("append while others stall");
    let mut latencies = Vec::new();
    for _ in 0..50 {
        let started = std::time::Instant::now();
        client
            .get_log_info(proto::GetLogInfoRequest {})
            .await
            .expect("GetLogInfo while others stall");
        let mut stream = client
            .read_log(proto::ReadLogRequest {
                from_position: 1,
                max_entries: 0,
            })
            .await
            .expect("ReadLog while others stall")
            .into_inner();
        while stream.message().await.expect("ReadLog message").is_some() {}
        latencies.push(started.elapsed());
    }
    assert_p99_under_100_ms(latencies);

    // The stalled calls are answered once their body timeout passes.
    for call in &mut stalled {
        let response = tokio::time::timeout(std::time::Duration::from_secs(10), &mut call.response)
            .await
            .expect("answered within 10 s")
            .expect("response");
        assert_eq!(grpc_code(response.headers()), Some(Code::DeadlineExceeded));
    }
    drop((stalled, watches));
    running.stop().await.expect("stops");
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|t| t.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / 100.0
}

/// Reads until the server closes `stream` (EOF or reset), up to `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0_u8; 256];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_silent_ones_closed_and_streams_per_connection_advertised() {
    let temp = tempfile::tempdir().expect("temp dir");
    let limits = eventlog::ops::limits::Limits {
        max_connections: 50,
        max_streams_per_connection: 16,
        handshake_timeout: std::time::Duration::from_secs(3),
        ..Default::default()
    };
    let running = eventlog::server::start(&eventlog::server::Settings {
        limits,
        metrics_listen: Some("127.0.0.1:0".parse().expect("address")),
        ..settings(&temp.path().join("data"))
    })
    .await
    .expect("server starts");
    let url = format!("http://{}", running.local_addr);
    // A client connected before the flood keeps being served through it.
    let mut client = eventlog::proto::event_log_client::EventLogClient::connect(url.clone())
        .await
        .expect("connect");
    common::head(&mut client).await;

    // HTTP/2 tells every client how many streams it may open; the server's SETTINGS arrive
    // with the first exchange.
    let body = frame(&[], 0);
    let mut probe = raw_open(&url, "/grpc.health.v1.Health/Check", None, Some(body)).await;
    let _ = (&mut probe.response).await;
    assert_eq!(probe.client.current_max_send_streams(), 16);
    drop(probe);

    // Twice as many silent connections as allowed: those past the cap close at once, the rest
    // once the handshake timeout passes.
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(
            tokio::net::TcpStream::connect(running.local_addr)
                .await
                .expect("connect"),
        );
    }
    let mut latencies = Vec::new();
    for _ in 0..30 {
        let started = std::time::Instant::now();
        common::head(&mut client).await;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    assert!(
        latencies[latencies.len() * 99 / 100] < std::time::Duration::from_millis(100),
        "{latencies:?}"
    );
    // Well before the handshake timeout: only the connections past the cap are closed.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut closed_at_once = 0;
    for stream in &mut silent {
        if closed_within(stream, std::time::Duration::from_millis(5)).await {
            closed_at_once += 1;
        }
    }
    // 48 or 49 slots were free: the first client holds one, and the probe's connection may
    // not have closed yet.
    assert!(
        (50..=52).contains(&closed_at_once),
        "{closed_at_once} of 100 closed at once"
    );
    for stream in &mut silent {
        assert!(
            closed_within(stream, std::time::Duration::from_secs(5)).await,
            "a silent connection is closed after the handshake timeout"
        );
    }
    // With the silent ones gone, new clients connect again.
    let mut late = eventlog::proto::event_log_client::EventLogClient::connect(url)
        .await
        .expect("connect after the flood");
    common::head(&mut late).await;
    let metrics = running.metrics_addr.expect("metrics");
    let samples = common::ops::parse_samples(&common::ops::scrape(metrics).await);
    let refused = |reason: &str| {
        samples
            .get(&common::ops::series(
                "eventlog_connections_refused_total",
                &[("reason", reason)],
            ))
            .copied()
            .unwrap_or(0.0)
    };
    assert!(refused("limit") >= 50.0, "{samples:?}");
    assert!(refused("handshake_timeout") >= 48.0, "{samples:?}");
    running.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_the_accept_loop_waits_instead_of_spinning() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    // A descriptor limit low enough to reach with a few connections.
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(
            "ulimit -n 96 && exec \"$0\" serve --listen 127.0.0.1:0 --data-dir \"$1\" \
             --max-connections 10000",
        )
        .arg(env!("CARGO_BIN_EXE_eventlog"))
        .arg(&data)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn eventlog");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("listening within 30 s")
        .expect("stdout")
        .expect("a line");
    let addr = line
        .strip_prefix("eventlog listening on ")
        .unwrap_or_else(|| panic!("unexpected {line:?}"))
        .to_string();
    let pid = child.id().expect("running");
    let mut flood = Vec::new();
    for _ in 0..150 {
        if let Ok(stream) = tokio::net::TcpStream::connect(&addr).await {
            flood.push(stream);
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = cpu_seconds(pid);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let spent = cpu_seconds(pid) - before;
    assert!(
        spent < 0.5,
        "{spent:.2} s of CPU in 2 s while out of descriptors"
    );
    // Once descriptors are free again, clients are served.
    drop(flood);
    let mut served = false;
    for _ in 0..100 {
        if let Ok(mut client) =
            eventlog::proto::event_log_client::EventLogClient::connect(format!("http://{addr}"))
                .await
        {
            if client
                .get_log_info(proto::GetLogInfoRequest {})
                .await
                .is_ok()
            {
                served = true;
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(served, "served again once descriptors are free");
    let _ = child.kill().await;
}

/// What a raw call got when its response headers came: its gRPC code if it was refused at
/// once (`None`: it is streaming its answer), and the message.
async fn answered_at_once(
    call: &mut RawCall,
) -> (Option<Code>, String, http::Response<h2::RecvStream>) {
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), &mut call.response)
        .await
        .expect("response headers within 10 s")
        .expect("response");
    let status = tonic::Status::from_header_map(response.headers());
    (
        status.as_ref().map(|s| s.code()),
        status.map(|s| s.message().to_string()).unwrap_or_default(),
        response,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_holds_at_most_its_share_of_each_pool_and_others_are_served() {
    use common::ops::{authed, token, with_tokens};
    use eventlog::ops::methods::Role;
    use prost::Message;
    let temp = tempfile::tempdir().expect("temp dir");
    let limits = eventlog::ops::limits::Limits {
        max_concurrent_requests: 8,
        max_streams: 8,
        ..Default::default()
    };
    let running = eventlog::server::start(&with_tokens(
        eventlog::server::Settings {
            limits,
            ..settings(&temp.path().join("data"))
        },
        false,
    ))
    .await
    .expect("server starts");
    let url = format!("http://{}", running.local_addr);
    let mut admin = authed(&url, Some(token(Role::Admin))).await;
    admin
        .append(proto::AppendRequest {
            entries: seed_actors(),
            ..Default::default()
        })
        .await
        .expect("actors");
    // Answers far larger than an HTTP/2 window: a caller that does not read them holds its
    // slot until it does.
    for chunk in 0..2 {
        admin
            .append(proto::AppendRequest {
                entries: large_events(chunk),
                ..Default::default()
            })
            .await
            .expect("large events");
    }
    let big_query = proto::QueryEventsRequest {
        actor: "liwa-al-quds".into(),
        page_size: 200,
        ..Default::default()
    }
    .encode_to_vec();
    let greedy = token(Role::Read);

    let mut held = Vec::new();
    let mut refusals = Vec::new();
    for (path, body) in [
        ("/eventlog.v1.EventLog/ReadLog", vec![0x08, 0x01]),
        ("/eventlog.v1.EventLog/QueryEvents", big_query.clone()),
    ] {
        for _ in 0..6 {
            let framed = frame(&body, body.len() as u32);
            let mut call = raw_open(&url, path, Some(greedy), Some(framed)).await;
            match answered_at_once(&mut call).await {
                (None | Some(Code::Ok), _, response) => held.push((call, response)),
                (Some(code), message, _) => refusals.push((path, code, message)),
            }
        }
    }
    assert_eq!(
        held.len(),
        8,
        "4 streams and 4 unary calls held: {refusals:?}"
    );
    assert_eq!(refusals.len(), 4, "{refusals:?}");
    for (path, code, message) in &refusals {
        assert_eq!(*code, Code::ResourceExhausted, "{path}: {message}");
        assert!(
            message.contains("the token \"reader\" already holds 4 of the server's 8"),
            "{path}: {message}"
        );
        assert!(message.contains("--caller-share-percent"), "{message}");
    }

    // Another caller gets the other half of both pools, promptly.
    let mut latencies = Vec::new();
    for _ in 0..30 {
        let started = std::time::Instant::now();
        admin
            .query_events(proto::QueryEventsRequest {
                actor: "liwa-al-quds".into(),
                page_size: 5,
                ..Default::default()
            })
            .await
            .expect("QueryEvents beside the greedy caller");
        let mut stream = admin
            .read_log(proto::ReadLogRequest {
                from_position: 1,
                max_entries: 3,
            })
            .await
            .expect("ReadLog beside the greedy caller")
            .into_inner();
        while stream.message().await.expect("ReadLog message").is_some() {}
        latencies.push(started.elapsed());
    }
    assert_p99_under_100_ms(latencies);

    // The greedy caller's slots come back when its calls go.
    drop(held);
    let mut reader = authed(&url, Some(greedy)).await;
    let mut retried = None;
    for _ in 0..50 {
        match reader.get_log_info(proto::GetLogInfoRequest {}).await {
            Ok(_) => {
                retried = Some(());
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    assert!(
        retried.is_some(),
        "the reader is served again once its calls ended"
    );
    running.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_their_age_are_asked_to_go_without_cutting_their_calls() {
    use std::time::{Duration, Instant};
    let temp = tempfile::tempdir().expect("temp dir");
    let limits = eventlog::ops::limits::Limits {
        max_connection_age: Duration::from_secs(1),
        ..Default::default()
    };
    let running = eventlog::server::start(&eventlog::server::Settings {
        limits,
        ..settings(&temp.path().join("data"))
    })
    .await
    .expect("server starts");
    let url = format!("http://{}", running.local_addr);

    // A connection that did the HTTP/2 handshake and then nothing is closed at its age.
    let started = Instant::now();
    let tcp = tokio::net::TcpStream::connect(running.local_addr)
        .await
        .expect("connect");
    let (idle, connection) = h2::client::handshake(tcp).await.expect("handshake");
    let ended = tokio::time::timeout(Duration::from_secs(10), connection).await;
    assert!(ended.is_ok(), "the idle connection was closed");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before its age: {:?}",
        started.elapsed()
    );
    drop(idle);

    // A subscription open across the age goes on, and the same client's next calls are served
    // over a new connection.
    let mut client = eventlog::proto::event_log_client::EventLogClient::connect(url)
        .await
        .expect("connect");
    append(&mut client, seed_actors()).await.expect("actors");
    let first = head(&mut client).await;
    let mut stream = subscribe(&mut client, from_position(1))
        .await
        .expect("subscribe");
    read_through(&mut stream, first).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for round in 0..6 {
        let batch = vec![event(
            &format!("after-age-{round}"),
            "backs",
            "iran",
            "liwa-al-quds",
            "2014",
        )];
        // A call sent just as its connection is asked to go is refused by the server, and
        // tonic (unlike gRPC core, Go and Java, which retry such calls themselves) reports it:
        // the retry any client makes of a CANCELLED or UNAVAILABLE Append goes through.
        let appended = match append(&mut client, batch.clone()).await {
            Ok(appended) => appended,
            Err(status) => {
                assert!(
                    matches!(status.code(), Code::Cancelled | Code::Unavailable),
                    "{status:?}"
                );
                append(&mut client, batch)
                    .await
                    .expect("the retry is served")
            }
        };
        let position = appended.results[0].position;
        let said = read_through(&mut stream, position).await;
        assert!(positions(&said).contains(&position), "{said:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    running.stop().await.expect("stops");
}
