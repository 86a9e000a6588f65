//! Graceful shutdown: SIGTERM while appends and live subscriptions run. Every acknowledged
//! append survives, subscriptions end with UNAVAILABLE, the process exits 0 within its
//! deadline; health reports NOT_SERVING as soon as a stop begins.

use crate::common;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::ops::*;
use common::*;
use eventlog::proto::{self, event_log_client::EventLogClient};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

const DEADLINE_S: u64 = 8;

#[tokio::test]
async fn sigterm_during_appends_and_subscriptions_loses_nothing_and_exits_0_in_time() {
    const WRITERS: usize = 6;
    const SUBSCRIBERS: usize = 4;
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let deadline = DEADLINE_S.to_string();
    let mut server = spawn_binary(
        &[
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--log-level",
            "warn",
            "--shutdown-timeout",
            &deadline,
        ],
        Stdio::inherit(),
    )
    .await;
    let mut client = EventLogClient::connect(server.url.clone())
        .await
        .expect("connect");
    append(&mut client, seed_actors()).await.expect("actors");

    let mut subscribers = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut stream = subscribe(&mut client, from_position(1))
            .await
            .expect("subscribe");
        subscribers.push(tokio::spawn(async move {
            let mut received = 0usize;
            loop {
                match stream.message().await {
                    Ok(Some(_)) => received += 1,
                    Ok(None) => return (received, None),
                    Err(status) => return (received, Some(status)),
                }
            }
        }));
    }
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let url = server.url.clone();
        writers.push(tokio::spawn(async move {
            let mut acks: Vec<(String, u64)> = Vec::new();
            let Ok(mut client) = EventLogClient::connect(url).await else {
                return acks;
            };
            for k in 0..100_000 {
                let id = format!("w{writer}-{k}");
                let batch = vec![event(&id, "attacks", "russia", "liwa-al-quds", "2022")];
                match append(&mut client, batch).await {
                    Ok(response) => acks.push((id, response.results[0].position)),
                    Err(_) => break,
                }
            }
            acks
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let signalled = Instant::now();
    sigterm(&server.child);
    let status = tokio::time::timeout(Duration::from_secs(DEADLINE_S + 5), server.child.wait())
        .await
        .expect("the server exits")
        .expect("exit status");
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(DEADLINE_S), "took {took:?}");

    for subscriber in subscribers {
        let (received, end) = subscriber.await.expect("subscriber task");
        assert!(received > 0, "the subscriber got entries before the stop");
        let end = end.expect("the stream ends with a status, not silently");
        assert_eq!(end.code(), Code::Unavailable, "{end:?}");
        assert!(end.message().contains("resume from position"), "{end:?}");
    }
    let mut acknowledged: HashMap<String, u64> = HashMap::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer task"));
    }
    assert!(
        acknowledged.len() > 10,
        "only {} appends acknowledged",
        acknowledged.len()
    );

    let running = start_on(&data).await;
    let mut client = EventLogClient::connect(format!("http://{}", running.local_addr))
        .await
        .expect("connect");
    let log = read_all(&mut client).await;
    let mut found: HashMap<String, u64> = HashMap::new();
    for entry in log {
        if let Some(proto::entry::Body::Event(event)) = entry.body {
            found.insert(event.id, entry.position);
        }
    }
    for (id, position) in &acknowledged {
        assert_eq!(found.get(id), Some(position), "acknowledged append {id}");
    }
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn health_says_not_serving_once_a_stop_begins_and_watches_end() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let server = TestServer::start().await;
    let mut health = HealthClient::new(channel(&server.url()).await);
    for service in ["", "eventlog.v1.EventLog"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("check")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "eventlog.v1.EventLog".into(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("status").expect("a message");
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let stopping = tokio::spawn(server.stop());
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("the watch hears of the stop")
        .expect("a status")
        .expect("a message");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    let end = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("the watch ends");
    assert_eq!(
        end.expect_err("ends with a status").code(),
        Code::Unavailable
    );
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the stop is not held up by the watch")
        .expect("stop task");
}

#[tokio::test]
async fn an_open_reflection_stream_does_not_hold_up_a_stop() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let server = TestServer::start().await;
    let mut client = ServerReflectionClient::new(channel(&server.url()).await);
    let (requests, outgoing) = tokio::sync::mpsc::channel(1);
    requests
        .send(ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        })
        .await
        .expect("queue a request");
    // The client never closes its side: `requests` stays alive.
    let mut responses = client
        .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(outgoing))
        .await
        .expect("reflection")
        .into_inner();
    responses
        .message()
        .await
        .expect("a response")
        .expect("services");
    tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .expect("stops promptly despite the open stream");
    let end = tokio::time::timeout(Duration::from_secs(5), responses.message())
        .await
        .expect("the stream ends");
    // Ended from either side first: the request stream (the service then finishes with OK) or
    // the response stream (UNAVAILABLE). Either way it ended, and the stop did not wait for it.
    match end {
        Ok(None) => {}
        Ok(Some(message)) => panic!("a message after the stop: {message:?}"),
        Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
    }
    drop(requests);
}
