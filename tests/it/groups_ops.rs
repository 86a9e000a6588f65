//! What operators use of consumer groups, against a real server: `eventlog groups ...` (create
//! with flags, list, describe, the parked entries listed, replayed and dropped, delete, and a
//! refusal's message and exit code) and the groups' metrics.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use crate::common::groups::{
    append_actors, create, describe, groups_cli, groups_client, run_member, Action, TestMember,
};
use crate::common::ops::{parse_samples, scrape, series};
use crate::common::{settings, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_describes_replays_drops_and_deletes_groups() {
    let server = TestServer::start().await;
    let url = server.url();
    let mut log = server.client().await;
    let actors = append_actors(&mut log).await;
    let created = groups_cli(
        &url,
        &[
            "create",
            "cli",
            "--dispatch",
            "pinned-by-actor",
            "--ack-wait-ms",
            "300",
            "--max-deliver",
            "1",
            "--backoff-ms",
            "10,20",
            "--max-ack-pending",
            "50",
            "--kind",
            "actor",
        ],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(
        created
            .stdout
            .contains("cli  start 1  pinned_by_actor  ack_wait 300 ms"),
        "{}",
        created.stdout
    );
    let listed = groups_cli(&url, &["list"]).await;
    assert!(
        listed.stdout.contains("max_ack_pending 50"),
        "{}",
        listed.stdout
    );

    // A member that never answers: with max_deliver 1 every entry parks after its ack_wait.
    let member = TestMember::join(&url, "cli", 0).await.expect("join");
    let running = tokio::spawn(run_member(
        member,
        Arc::new(AtomicUsize::new(0)),
        1,
        |_| Action::Ignore,
        Duration::from_secs(30),
    ));
    let mut groups = groups_client(&url).await;
    for _ in 0..100 {
        if describe(&mut groups, "cli").await.parked == actors {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.abort();
    let described = groups_cli(&url, &["describe", "cli"]).await;
    assert!(
        described
            .stdout
            .contains(&format!("parked         {actors}")),
        "{}",
        described.stdout
    );
    let parked = groups_cli(&url, &["parked", "cli"]).await;
    assert_eq!(
        parked.stdout.lines().count() as u64,
        actors,
        "{}",
        parked.stdout
    );
    assert!(
        parked.stdout.starts_with("1  attempts 1"),
        "{}",
        parked.stdout
    );
    let replayed = groups_cli(
        &url,
        &["replay", "cli", "--position", "1", "--position", "2"],
    )
    .await;
    assert_eq!(replayed.stdout.trim(), "replayed 2");
    let dropped = groups_cli(&url, &["drop", "cli"]).await;
    assert_eq!(dropped.stdout.trim(), format!("dropped {}", actors - 2));
    let deleted = groups_cli(&url, &["delete", "cli"]).await;
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let gone = groups_cli(&url, &["describe", "cli"]).await;
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr.contains("no consumer group is named \"cli\""),
        "{}",
        gone.stderr
    );
    let bad = groups_cli(&url, &["create", "x", "--from-time", "yesterday"]).await;
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("RFC 3339"), "{}", bad.stderr);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_groups_metrics_show_its_acks_members_and_lag() {
    let temp = tempfile::tempdir().expect("temp dir");
    let running = eventlog::server::start(&eventlog::server::Settings {
        metrics_listen: Some("127.0.0.1:0".parse().expect("address")),
        ..settings(&temp.path().join("data"))
    })
    .await
    .expect("server starts");
    let metrics = running.metrics_addr.expect("a metrics address");
    let url = format!("http://{}", running.local_addr);
    let mut log = eventlog::proto::event_log_client::EventLogClient::connect(url.clone())
        .await
        .expect("connect");
    let actors = append_actors(&mut log).await;
    let mut groups = groups_client(&url).await;
    create(
        &mut groups,
        "metered",
        crate::common::groups::settings(eventlog::proto::DispatchMode::RoundRobin, 30_000, 5, 100),
    )
    .await;
    let member = TestMember::join(&url, "metered", 0).await.expect("join");
    let seen = run_member(
        member,
        Arc::new(AtomicUsize::new(0)),
        actors as usize,
        |_| Action::Ack,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(seen.confirmed.len() as u64, actors);
    let _second = TestMember::join(&url, "metered", 0).await.expect("join");
    let label = [("group", "metered")];
    let mut samples = parse_samples(&scrape(metrics).await);
    for _ in 0..50 {
        if samples.get(&series("eventlog_group_members", &label)) == Some(&1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        samples = parse_samples(&scrape(metrics).await);
    }
    assert_eq!(
        samples[&series("eventlog_group_acked_total", &label)],
        actors as f64
    );
    assert_eq!(samples[&series("eventlog_group_members", &label)], 1.0);
    assert_eq!(samples[&series("eventlog_group_lag_entries", &label)], 0.0);
    assert_eq!(samples[&series("eventlog_group_in_flight", &label)], 0.0);
    running.stop().await.expect("clean stop");
}
