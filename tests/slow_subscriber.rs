//! A deliberately slow subscriber during a bulk append of 100k entries gets every entry, in
//! order, without being dropped, and the server's memory stays bounded while it lags.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use eventlog::proto::{self, subscribe_request::Start};

const ENTRIES: u64 = 100_000;
const BATCH: u64 = 500;
/// The bound this test holds the process to while the subscriber lags: sled's page cache (64 MiB
/// in tests), the live feed (at most 64 group commits) and one chunk per follower, with room for
/// the allocator. Without the bound the lagging subscriber's backlog would hold the whole bulk
/// append in memory.
const MAX_RSS_GROWTH_MIB: u64 = 256;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_gets_everything_in_order_with_bounded_memory() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let baseline = rss_kib();
    let peak = Arc::new(AtomicU64::new(baseline));
    let sampler = {
        let peak = Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let mut reader = server.client().await;
    let mut stream = subscribe(
        &mut reader,
        proto::SubscribeRequest {
            start: Some(Start::FromPosition(1)),
            ..Default::default()
        },
    )
    .await
    .expect("subscribe");

    let mut writer = server.client().await;
    let bulk = tokio::spawn(async move {
        for b in 0..ENTRIES / BATCH {
            let batch = (0..BATCH)
                .map(|i| {
                    event(
                        &format!("bulk-{b}-{i}"),
                        "attacks",
                        "russia",
                        "liwa-al-quds",
                        "2022",
                    )
                })
                .collect();
            append(&mut writer, batch).await.expect("bulk append");
        }
    });

    let last = 3 + ENTRIES;
    let mut next_expected = 1;
    let mut fell_behind = 0;
    let mut slow_messages = 0;
    while next_expected <= last {
        for said in next_said(&mut stream, 60).await.expect("stream error") {
            match said {
                Said::Entry(e) => {
                    assert_eq!(e.position, next_expected, "in order, no gap, no duplicate");
                    next_expected += 1;
                }
                Said::FellBehind(position) => {
                    assert_eq!(position, next_expected);
                    fell_behind += 1;
                }
                Said::CaughtUp(_) | Said::Checkpoint(_) => {}
            }
        }
        // Slow while the bulk append runs: the live feed leaves this subscriber behind.
        if !bulk.is_finished() {
            slow_messages += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    bulk.await.expect("bulk append task");
    sampler.abort();
    let growth_mib = peak.load(Ordering::Relaxed).saturating_sub(baseline) / 1024;
    eprintln!(
        "slow subscriber: {} entries, fell behind {fell_behind} times, {slow_messages} slow reads, peak RSS growth {growth_mib} MiB",
        next_expected - 1
    );
    assert!(
        fell_behind > 0,
        "the subscriber was never left behind: the test did not test anything"
    );
    assert!(
        growth_mib < MAX_RSS_GROWTH_MIB,
        "RSS grew by {growth_mib} MiB, more than {MAX_RSS_GROWTH_MIB} MiB"
    );
    server.stop().await;
}
