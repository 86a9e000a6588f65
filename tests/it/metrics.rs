//! Metrics: scraped after known traffic and parsed; the counters moved by exactly that.

use crate::common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::ops::*;
use common::*;
use eventlog::proto;
use eventlog::server::{self, Settings};
use tonic::Code;

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

async fn samples(addr: SocketAddr) -> HashMap<String, f64> {
    parse_samples(&scrape(addr).await)
}

#[tokio::test]
async fn counters_move_by_the_traffic_sent() {
    let temp = tempfile::tempdir().expect("temp dir");
    let running = server::start(&Settings {
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

    let before = samples(metrics).await;
    append(&mut client, seed_actors()).await.expect("actors");
    append_attacks(&mut client, 2, 5, "2022").await;
    append(&mut client, seed_actors())
        .await
        .expect("duplicates: nothing new");
    let bad = append(
        &mut client,
        vec![event("x", "attacks", "nobody", "russia", "2022")],
    )
    .await;
    assert_status(bad, Code::FailedPrecondition, &[]);
    for _ in 0..3 {
        head(&mut client).await;
    }
    let mut subscription = subscribe(&mut client, from_position(1))
        .await
        .expect("subscribe");
    read_through(&mut subscription, 13).await;

    let during = samples(metrics).await;
    let delta = |series: &str| value(&during, series) - value(&before, series);
    assert_eq!(
        delta(&series(
            "eventlog_rpc_requests_total",
            &[("method", "Append"), ("code", "OK")]
        )),
        4.0
    );
    assert_eq!(
        delta(&series(
            "eventlog_rpc_requests_total",
            &[("method", "Append"), ("code", "FAILED_PRECONDITION")]
        )),
        1.0
    );
    assert_eq!(
        delta(&series(
            "eventlog_rpc_requests_total",
            &[("method", "GetLogInfo"), ("code", "OK")]
        )),
        3.0
    );
    assert_eq!(
        delta(&series(
            "eventlog_rpc_duration_seconds_count",
            &[("method", "Append"), ("code", "OK")]
        )),
        4.0
    );
    assert_eq!(
        value(
            &during,
            &series(
                "eventlog_rpc_duration_seconds_bucket",
                &[("method", "GetLogInfo"), ("code", "OK"), ("le", "+Inf")]
            )
        ),
        3.0
    );
    assert_eq!(
        delta(&series(
            "eventlog_entries_appended_total",
            &[("kind", "actor")]
        )),
        3.0
    );
    assert_eq!(
        delta(&series(
            "eventlog_entries_appended_total",
            &[("kind", "event")]
        )),
        10.0
    );
    assert_eq!(
        delta(&series(
            "eventlog_entries_appended_total",
            &[("kind", "claim")]
        )),
        0.0
    );
    assert_eq!(value(&during, "eventlog_log_head_position"), 13.0);
    assert_eq!(value(&during, "eventlog_subscribers_active"), 1.0);
    assert!(value(&during, "eventlog_subscriber_lag_entries_count") >= 1.0);
    // Four appends were accepted (one of them all duplicates), each waited for its flush.
    assert_eq!(delta("eventlog_flush_duration_seconds_count"), 4.0);
    assert!(value(&during, "eventlog_store_size_bytes") > 0.0);

    // The indexes catch up with the head; the writer handed the indexer what it committed.
    let mut indexed = during.clone();
    for _ in 0..100 {
        if value(&indexed, "eventlog_index_position") == 13.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        indexed = samples(metrics).await;
    }
    assert_eq!(value(&indexed, "eventlog_index_position"), 13.0);
    let from = |source: &str| {
        value(
            &indexed,
            &series("eventlog_indexed_entries_total", &[("source", source)]),
        )
    };
    assert_eq!(from("feed") + from("log"), 13.0);
    assert!(from("feed") > 0.0, "nothing came from the writer's feed");

    // The subscription ends when its client goes away: counted as CANCELLED, no longer active.
    drop(subscription);
    let mut after = samples(metrics).await;
    for _ in 0..50 {
        if value(&after, "eventlog_subscribers_active") == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = samples(metrics).await;
    }
    assert_eq!(value(&after, "eventlog_subscribers_active"), 0.0);
    assert_eq!(
        value(
            &after,
            &series(
                "eventlog_rpc_requests_total",
                &[("method", "Subscribe"), ("code", "CANCELLED")]
            )
        ),
        1.0
    );
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn refusals_are_counted_with_their_codes_and_labels_stay_bounded() {
    let temp = tempfile::tempdir().expect("temp dir");
    let running = server::start(&Settings {
        metrics_listen: Some("127.0.0.1:0".parse().expect("address")),
        ..with_tokens(settings(&temp.path().join("data")), false)
    })
    .await
    .expect("server starts");
    let metrics = running.metrics_addr.expect("a metrics address");
    let url = format!("http://{}", running.local_addr);
    let mut anonymous = authed(&url, None).await;
    for _ in 0..2 {
        let _ = anonymous.get_log_info(proto::GetLogInfoRequest {}).await;
    }
    // A method no one knows: counted under one fixed label, whatever its path.
    let mut grpc = tonic::client::Grpc::new(channel(&url).await);
    grpc.ready().await.expect("ready");
    let unknown: Result<tonic::Response<()>, _> = grpc
        .unary(
            tonic::Request::new(()),
            "/eventlog.v1.EventLog/NoSuchMethod".parse().expect("path"),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert!(unknown.is_err());
    let after = samples(metrics).await;
    assert_eq!(
        value(
            &after,
            &series(
                "eventlog_rpc_requests_total",
                &[("method", "GetLogInfo"), ("code", "UNAUTHENTICATED")]
            )
        ),
        2.0
    );
    assert_eq!(
        value(
            &after,
            &series(
                "eventlog_rpc_requests_total",
                &[("method", "unknown"), ("code", "UNAUTHENTICATED")]
            )
        ),
        1.0
    );
    assert!(after.keys().all(|series| !series.contains("NoSuchMethod")));
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn with_tokens_a_scrape_needs_one_and_off_loopback_metrics_need_tokens() {
    use eventlog::ops::methods::Role;
    let temp = tempfile::tempdir().expect("temp dir");
    let running = server::start(&with_tokens(
        Settings {
            metrics_listen: Some("127.0.0.1:0".parse().expect("address")),
            ..settings(&temp.path().join("data"))
        },
        false,
    ))
    .await
    .expect("server starts");
    let metrics = running.metrics_addr.expect("a metrics address");
    let (head, body) = scrape_with(metrics, None).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{head}"
    );
    assert!(body.contains("authorization"), "{body}");
    let (head, _) = scrape_with(metrics, Some("not-a-token")).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, body) = scrape_with(metrics, Some(token(Role::Read))).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("eventlog_connections_open"), "{body}");
    running.stop().await.expect("stops");

    let refused = server::start(&Settings {
        metrics_listen: Some("0.0.0.0:0".parse().expect("address")),
        ..settings(&temp.path().join("other"))
    })
    .await
    .err()
    .expect("metrics on every interface without tokens is refused");
    let message = refused.to_string();
    assert!(message.contains("refusing to serve metrics"), "{message}");
    assert!(message.contains("[[auth.tokens]]"), "{message}");
}
