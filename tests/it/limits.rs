//! Overload: past each limit a prompt RESOURCE_EXHAUSTED, never a queue; subscribers have their
//! own pool; health checks are exempt.

use crate::common;

use std::time::Duration;

use common::ops::*;
use common::*;
use eventlog::ops::limits::Limits;
use eventlog::proto;
use eventlog::server::{self, Settings};
use tonic::Code;

async fn start(limits: Limits) -> (eventlog::server::RunningServer, tempfile::TempDir) {
    let temp = tempfile::tempdir().expect("temp dir");
    let running = server::start(&Settings {
        limits,
        ..settings(&temp.path().join("data"))
    })
    .await
    .expect("server starts");
    (running, temp)
}

#[tokio::test]
async fn subscribers_past_their_limit_are_refused_and_do_not_starve_other_calls() {
    let (running, _temp) = start(Limits {
        max_subscribers: 2,
        max_concurrent_requests: 2,
        // One client takes the whole pool here: this test is about the pool, not shares.
        caller_share_percent: 100,
        ..Limits::default()
    })
    .await;
    let url = format!("http://{}", running.local_addr);
    let mut client = authed(&url, None).await;
    let first = client.subscribe(from_position(1)).await.expect("first");
    let _second = client.subscribe(from_position(1)).await.expect("second");
    let started = std::time::Instant::now();
    let third = client.subscribe(from_position(1)).await;
    assert_status(third, Code::ResourceExhausted, &["--max-subscribers"]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused promptly"
    );
    // Unary calls have their own pool.
    for _ in 0..5 {
        client
            .get_log_info(proto::GetLogInfoRequest {})
            .await
            .expect("unary calls go on");
    }
    drop(first);
    let mut again = None;
    for _ in 0..100 {
        match client.subscribe(from_position(1)).await {
            Ok(stream) => {
                again = Some(stream);
                break;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert!(again.is_some(), "a slot frees when a subscriber leaves");
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn streams_past_their_limit_are_refused_at_once_and_unary_calls_and_health_go_on() {
    let (running, _temp) = start(Limits {
        max_streams: 1,
        max_concurrent_requests: 1,
        max_health_watches: 1,
        ..Limits::default()
    })
    .await;
    let url = format!("http://{}", running.local_addr);
    let mut client = authed(&url, None).await;
    let mut plain = eventlog::proto::event_log_client::EventLogClient::connect(url.clone())
        .await
        .expect("connect");
    append(&mut plain, seed_actors()).await.expect("actors");
    append_attacks(&mut plain, 8, 500, "2022").await;
    let read_all_log = proto::ReadLogRequest {
        from_position: 1,
        max_entries: 0,
    };
    // A ReadLog stream the client does not read holds its slot (flow control stops the server).
    let held = client.read_log(read_all_log).await.expect("read log");
    let started = std::time::Instant::now();
    let refused = client.read_log(read_all_log).await;
    assert_eq!(reason_of(&refused), "OVERLOADED");
    assert_status(refused, Code::ResourceExhausted, &["--max-streams"]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused promptly"
    );
    for _ in 0..3 {
        client
            .get_log_info(proto::GetLogInfoRequest {})
            .await
            .expect("unary calls have their own pool");
    }
    let health = tonic_health::pb::health_client::HealthClient::new(channel(&url).await)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health is exempt");
    assert_eq!(
        health.into_inner().status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    // Watch streams are open to all, so they have a pool of their own: one is served while
    // the stream pool is full, the next is refused.
    let watch = || async {
        tonic_health::pb::health_client::HealthClient::new(channel(&url).await)
            .watch(tonic_health::pb::HealthCheckRequest::default())
            .await
    };
    let _watching = watch().await.expect("watches do not use the stream pool");
    assert_status(watch().await, Code::ResourceExhausted, &["health watches"]);
    drop(held);
    let mut served = false;
    for _ in 0..100 {
        if client.read_log(read_all_log).await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "the slot frees when the stream goes away");
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn messages_past_the_size_limit_are_resource_exhausted() {
    let (running, _temp) = start(Limits {
        max_message_bytes: 64 * 1024,
        ..Limits::default()
    })
    .await;
    let mut client = eventlog::proto::event_log_client::EventLogClient::connect(format!(
        "http://{}",
        running.local_addr
    ))
    .await
    .expect("connect");
    append(&mut client, seed_actors())
        .await
        .expect("small is fine");
    let big: Vec<_> = (0..1000)
        .map(|i| {
            event(
                &format!("big-{i}"),
                "attacks",
                "russia",
                "liwa-al-quds",
                "2022",
            )
        })
        .collect();
    let too_big = append(&mut client, big).await;
    assert_eq!(reason_of(&too_big), "MESSAGE_TOO_LARGE");
    assert_status(
        too_big,
        Code::ResourceExhausted,
        &["--max-message-bytes", "65536"],
    );
    running.stop().await.expect("stop");
}
