//! A deliberately slow subscriber during a bulk append of 100k entries gets every entry, in
//! order, without being dropped, and the server's memory stays bounded while it lags.

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use eventlog::proto::{self, subscribe_request::Start};

const ENTRIES: u64 = 100_000;
const BATCH: u64 = 500;
/// How much the process may grow during the second half of the bulk append, while the
/// subscriber lags ever further behind. By then sled's page cache (64 MiB in tests) and the
/// page table of the indexes have mostly grown (measured: about 200 MiB in the first half, then
/// about 110 MiB), and the live feed holds at most 64 group commits (here 32k entries). A
/// follower that buffered its backlog would instead grow with every entry appended.
const MAX_SECOND_HALF_GROWTH_MIB: u64 = 192;

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
    let halfway = Arc::new(AtomicU64::new(0));
    let bulk_halfway = Arc::clone(&halfway);
    let bulk_peak = Arc::clone(&peak);
    let bulk = tokio::spawn(async move {
        for b in 0..ENTRIES / BATCH {
            if b == ENTRIES / BATCH / 2 {
                let now = rss_kib();
                bulk_halfway.store(now, Ordering::Relaxed);
                // From here on the peak is the second half's.
                bulk_peak.store(now, Ordering::Relaxed);
            }
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
    let first_half_mib = halfway.load(Ordering::Relaxed).saturating_sub(baseline) / 1024;
    let growth_mib = peak
        .load(Ordering::Relaxed)
        .saturating_sub(halfway.load(Ordering::Relaxed))
        / 1024;
    eprintln!(
        "slow subscriber: {} entries, fell behind {fell_behind} times, {slow_messages} slow reads, RSS growth {first_half_mib} MiB in the first half, {growth_mib} MiB in the second",
        next_expected - 1
    );
    assert!(
        fell_behind > 0,
        "the subscriber was never left behind: the test did not test anything"
    );
    assert!(
        growth_mib < MAX_SECOND_HALF_GROWTH_MIB,
        "RSS grew by {growth_mib} MiB in the second half, more than {MAX_SECOND_HALF_GROWTH_MIB} MiB"
    );
    server.stop().await;
}
