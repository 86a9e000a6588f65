//! `eventlog groups ...` against a real server: create with flags, list, describe, the parked
//! entries listed, replayed and dropped, delete, and a refusal's message and exit code.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use crate::common::groups::{
    append_actors, describe, groups_cli, groups_client, run_member, Action, TestMember,
};
use crate::common::TestServer;

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
