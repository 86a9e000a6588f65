//! Online backup, exact restore: `eventlog backup` while appends go on, `eventlog restore`, and a
//! restored server that answers as the original did at the backup's position; damaged and
//! truncated files refused with the place named.

use crate::common;

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use eventlog::proto::{self, event_log_client::EventLogClient};
use tonic::transport::Channel;

fn eventlog(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run eventlog")
}

/// `eventlog backup --addr URL -o FILE`, off the async threads (the server runs on them).
async fn backup(url: String, file: &str) -> Output {
    let file = file.to_string();
    tokio::task::spawn_blocking(move || eventlog(&["backup", "--addr", &url, "-o", &file]))
        .await
        .expect("the command ran")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn all_events(client: &mut EventLogClient<Channel>, as_of: u64) -> Vec<proto::Entry> {
    let mut events = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .query_events(proto::QueryEventsRequest {
                as_of_position: as_of,
                page_size: 200,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("QueryEvents")
            .into_inner();
        events.extend(page.entries);
        if page.next_page_token.is_empty() {
            return events;
        }
        token = page.next_page_token;
    }
}

async fn relations(
    client: &mut EventLogClient<Channel>,
    actor: &str,
    as_of: u64,
) -> proto::ListRelationsResponse {
    let mut response = client
        .list_relations(proto::ListRelationsRequest {
            actor: actor.into(),
            as_of_position: as_of,
            ..Default::default()
        })
        .await
        .expect("ListRelations")
        .into_inner();
    response.as_of_position = 0;
    response
}

fn subscriptions(list: proto::ListSubscriptionsResponse) -> Vec<(String, u64, String)> {
    list.subscriptions
        .into_iter()
        .map(|s| (s.name, s.checkpoint, format!("{:?}", s.filter)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_appends_restores_to_exactly_that_position() {
    let original = TestServer::start().await;
    let mut client = original.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    append_attacks(&mut client, 4, 50, "2022").await;
    append(
        &mut client,
        vec![claim(
            "c-1",
            "russia",
            "backs",
            "liwa-al-quds",
            proto::Certainty::Reported,
        )],
    )
    .await
    .expect("claim");
    let mut named = client
        .subscribe(proto::SubscribeRequest {
            name: "enricher".into(),
            ..Default::default()
        })
        .await
        .expect("named subscription")
        .into_inner();
    named.message().await.expect("first message");
    drop(named);
    client
        .commit_checkpoint(proto::CommitCheckpointRequest {
            name: "enricher".into(),
            position: 40,
        })
        .await
        .expect("checkpoint");

    // Appends go on while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut client = original.client().await;
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 2_000 {
                let batch = (0..10)
                    .map(|i| {
                        event(
                            &format!("live-{n}-{i}"),
                            "attacks",
                            "iran",
                            "russia",
                            "2023",
                        )
                    })
                    .collect();
                append(&mut client, batch)
                    .await
                    .expect("append during backup");
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let temp = tempfile::tempdir().expect("temp dir");
    let file = temp.path().join("log.backup");
    let file_text = file.to_str().expect("utf-8").to_string();
    let backed_up = backup(original.url(), &file_text).await;
    stop.store(true, Ordering::Relaxed);
    let batches = writer.await.expect("writer");
    assert!(backed_up.status.success(), "{}", text(&backed_up));
    assert!(batches > 0, "appends ran during the backup");
    assert!(!Path::new(&format!("{file_text}.partial")).exists());

    let summary = eventlog::backup::read(
        std::fs::File::open(&file).expect("open"),
        &mut eventlog::backup::Discard,
    )
    .expect("the backup verifies");
    let at = summary.header.position;
    assert!(
        at >= 204,
        "the backup holds at least what was there before: {at}"
    );
    let verified = eventlog(&["verify", &file_text]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains(&format!("positions 1-{at}")),
        "{}",
        text(&verified)
    );

    let restored_dir = temp.path().join("restored");
    let restored_out = eventlog(&[
        "restore",
        &file_text,
        "--data-dir",
        restored_dir.to_str().expect("utf-8"),
    ]);
    assert!(restored_out.status.success(), "{}", text(&restored_out));
    let restored = TestServer::start_in(tempfile::tempdir().expect("temp"), restored_dir).await;
    let mut copy = restored.client().await;

    // The restored log is the original's first `at` entries, exactly.
    assert_eq!(common::head(&mut copy).await, at);
    assert_eq!(
        read_log(&mut copy, 1, 0).await,
        read_log(&mut client, 1, at).await
    );
    // Every query answers as the original does as of `at`.
    assert_eq!(
        all_events(&mut copy, 0).await,
        all_events(&mut client, at).await
    );
    for actor in ["russia", "iran", "liwa-al-quds"] {
        assert_eq!(
            relations(&mut copy, actor, 0).await,
            relations(&mut client, actor, at).await,
            "{actor}"
        );
    }
    let claims = |c: &mut EventLogClient<Channel>, as_of: u64| {
        let mut c = c.clone();
        async move {
            c.query_claims(proto::QueryClaimsRequest {
                as_of_position: as_of,
                ..Default::default()
            })
            .await
            .expect("QueryClaims")
            .into_inner()
            .entries
        }
    };
    assert_eq!(claims(&mut copy, 0).await, claims(&mut client, at).await);
    let info = copy
        .get_log_info(proto::GetLogInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(
        (info.actors, info.actor_entries, info.claim_entries),
        (3, 3, 1)
    );
    assert_eq!(info.event_entries, at - 4);
    let listed = |c: &mut EventLogClient<Channel>| {
        let mut c = c.clone();
        async move {
            subscriptions(
                c.list_subscriptions(proto::ListSubscriptionsRequest {})
                    .await
                    .expect("list")
                    .into_inner(),
            )
        }
    };
    assert_eq!(listed(&mut copy).await, listed(&mut client).await);
    assert_eq!(listed(&mut copy).await[0].1, 40);
    restored.stop().await;
    original.stop().await;
}

#[tokio::test]
async fn damaged_and_truncated_backups_are_refused_saying_where_and_restore_nothing() {
    let original = TestServer::start().await;
    let mut client = original.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    append_attacks(&mut client, 3, 200, "2022").await;
    let temp = tempfile::tempdir().expect("temp dir");
    let file = temp.path().join("log.backup");
    let file_text = file.to_str().expect("utf-8").to_string();
    let out = backup(original.url(), &file_text).await;
    assert!(out.status.success(), "{}", text(&out));
    let again = backup(original.url(), &file_text).await;
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );
    original.stop().await;
    let good = std::fs::read(&file).expect("read");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a flipped byte",
            {
                let mut bad = good.clone();
                let at = bad.len() / 2;
                bad[at] ^= 0x20;
                bad
            },
            "damaged at chunk",
        ),
        (
            "a zeroed range",
            {
                let mut bad = good.clone();
                let at = bad.len() / 3;
                bad[at..at + 64].fill(0);
                bad
            },
            "damaged at chunk",
        ),
        ("a cut end", good[..good.len() - 100].to_vec(), "truncated"),
        (
            "only the start",
            good[..good.len() / 4].to_vec(),
            "truncated",
        ),
        ("not a backup", b"hello".to_vec(), "not an eventlog backup"),
    ];
    for (what, bytes, says) in cases {
        let bad_file = temp.path().join("bad.backup");
        std::fs::write(&bad_file, &bytes).expect("write");
        let bad_text = bad_file.to_str().expect("utf-8");
        let verified = eventlog(&["verify", bad_text]);
        assert!(!verified.status.success(), "{what}: verify refuses");
        assert!(
            text(&verified).contains(says),
            "{what}: {}",
            text(&verified)
        );
        if says != "not an eventlog backup" {
            assert!(
                text(&verified).contains("byte "),
                "{what} names the place: {}",
                text(&verified)
            );
        }
        let dir = temp.path().join("restored");
        let restored = eventlog(&[
            "restore",
            bad_text,
            "--data-dir",
            dir.to_str().expect("utf-8"),
        ]);
        assert!(!restored.status.success(), "{what}: restore refuses");
        assert!(
            text(&restored).contains(says),
            "{what}: {}",
            text(&restored)
        );
        assert!(
            text(&restored).contains("nothing was restored"),
            "{}",
            text(&restored)
        );
        assert!(!dir.exists(), "{what}: no half-restored directory is left");
    }
    // And the good file restores; a second restore into the same directory is refused.
    let dir = temp.path().join("restored");
    let dir_text = dir.to_str().expect("utf-8");
    assert!(eventlog(&["restore", &file_text, "--data-dir", dir_text])
        .status
        .success());
    let twice = eventlog(&["restore", &file_text, "--data-dir", dir_text]);
    assert!(!twice.status.success());
    assert!(text(&twice).contains("not empty"), "{}", text(&twice));
}
