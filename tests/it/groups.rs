//! Consumer groups through gRPC: members share a stream with acks, redelivery and parking;
//! group state survives `kill -9`; the window bounds what is in flight. What a group accepts
//! and refuses is in `groups_settings`.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use eventlog::proto::{self, DispatchMode};

use crate::common::groups::{
    append_actors, append_events, create, describe, groups_client, run_member, settings, Action,
    Seen, TestMember, Told,
};
use crate::common::{ops::spawn_binary, TestServer};

/// A count of acks no test reaches: the member runs until the test stops it.
const FOREVER: usize = 1 << 40;

/// Describes `name` until `ready` holds (10 s at most), and returns that state.
async fn wait_for(
    groups: &mut eventlog::proto::consumer_groups_client::ConsumerGroupsClient<
        tonic::transport::Channel,
    >,
    name: &str,
    ready: impl Fn(&proto::GroupState) -> bool,
) -> proto::GroupState {
    let mut state = describe(groups, name).await;
    for _ in 0..200 {
        if ready(&state) {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        state = describe(groups, name).await;
    }
    panic!("{name} never got there: {state:?}");
}

/// Checks that every position in `1..=total` was confirmed exactly once over all members.
fn assert_acked_once(seen: &[Seen], total: u64) {
    let mut count: HashMap<u64, usize> = HashMap::new();
    for s in seen {
        for p in &s.confirmed {
            *count.entry(*p).or_default() += 1;
        }
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "acked twice: {twice:?}");
    let missing: Vec<u64> = (1..=total).filter(|p| !count.contains_key(p)).collect();
    assert!(
        missing.is_empty(),
        "never acked: {} of them, first {:?}",
        missing.len(),
        missing.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_pinned_by_actor_share_10k_entries_appended_while_they_read() {
    let server = TestServer::start().await;
    let url = server.url();
    let mut log = server.client().await;
    let mut groups = groups_client(&url).await;
    let actors = append_actors(&mut log).await;
    create(
        &mut groups,
        "enrich",
        settings(DispatchMode::PinnedByActor, 30_000, 5, 1000),
    )
    .await;
    let total = actors as usize + 10_000;
    let done = Arc::new(AtomicUsize::new(0));
    let mut members = Vec::new();
    for _ in 0..3 {
        let member = TestMember::join(&url, "enrich", 100).await.expect("join");
        let done = Arc::clone(&done);
        members.push(tokio::spawn(run_member(
            member,
            done,
            total,
            |_| Action::Ack,
            Duration::from_secs(120),
        )));
    }
    assert_eq!(describe(&mut groups, "enrich").await.members.len(), 3);
    append_events(&mut log, 0, 10_000, 500).await;
    let mut seen = Vec::new();
    for member in members {
        seen.push(member.await.expect("member task"));
    }
    assert_acked_once(&seen, total as u64);
    let busy = seen.iter().filter(|s| !s.deliveries.is_empty()).count();
    assert!(busy >= 2, "the actors spread over the members");
    for s in &seen {
        assert!(s.ended.is_none(), "{:?}", s.ended);
        let mut last: HashMap<&str, u64> = HashMap::new();
        for (position, _, key) in &s.deliveries {
            if let Some(before) = last.insert(key, *position) {
                assert!(before < *position, "actor {key}: {position} after {before}");
            }
        }
    }
    let state = describe(&mut groups, "enrich").await;
    assert_eq!(state.acked_through, total as u64);
    assert_eq!(state.lag, 0);
    assert!(
        state.members.is_empty(),
        "the members left with their streams"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_entries_over_every_member_each_acked_once() {
    let server = TestServer::start().await;
    let url = server.url();
    let mut log = server.client().await;
    let mut groups = groups_client(&url).await;
    let actors = append_actors(&mut log).await;
    append_events(&mut log, 0, 1_500, 500).await;
    create(
        &mut groups,
        "rr",
        settings(DispatchMode::RoundRobin, 30_000, 5, 64),
    )
    .await;
    let total = actors as usize + 1_500;
    let done = Arc::new(AtomicUsize::new(0));
    let mut members = Vec::new();
    for _ in 0..3 {
        let member = TestMember::join(&url, "rr", 8).await.expect("join");
        members.push(tokio::spawn(run_member(
            member,
            Arc::clone(&done),
            total,
            |_| Action::Ack,
            Duration::from_secs(60),
        )));
    }
    let mut seen = Vec::new();
    for member in members {
        seen.push(member.await.expect("member task"));
    }
    assert_acked_once(&seen, total as u64);
    assert!(
        seen.iter().all(|s| s.deliveries.len() > 100),
        "each member takes its turn"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_goes_away_gives_its_unacked_entries_to_the_others_at_once() {
    let server = TestServer::start().await;
    let url = server.url();
    let mut log = server.client().await;
    let mut groups = groups_client(&url).await;
    let actors = append_actors(&mut log).await;
    append_events(&mut log, 0, 100, 100).await;
    // A long ack_wait: what comes back within a second came back because the member left.
    create(
        &mut groups,
        "handover",
        settings(DispatchMode::RoundRobin, 20_000, 5, 1000),
    )
    .await;
    let mut quitter = TestMember::join(&url, "handover", 20).await.expect("join");
    let mut held = HashSet::new();
    while held.len() < 20 {
        match quitter.next(5_000).await.expect("stream") {
            Some(Told::Delivery(d)) => {
                held.insert(d.entry.expect("entry").position);
            }
            other => panic!("expected deliveries, got {other:?}"),
        }
    }
    let total = actors as usize + 100;
    let stayer = TestMember::join(&url, "handover", 0).await.expect("join");
    let done = Arc::new(AtomicUsize::new(0));
    let stayer = tokio::spawn(run_member(
        stayer,
        Arc::clone(&done),
        total,
        |_| Action::Ack,
        Duration::from_secs(5),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(quitter); // the member's process dies: its stream ends
    let seen = stayer.await.expect("member task");
    assert_acked_once(std::slice::from_ref(&seen), total as u64);
    let redelivered: HashSet<u64> = seen
        .deliveries
        .iter()
        .filter(|(_, attempt, _)| *attempt == 2)
        .map(|(p, _, _)| *p)
        .collect();
    assert_eq!(
        redelivered, held,
        "what the member held came again, to the other"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_that_keep_failing_are_parked_the_rest_flows_and_replay_delivers_them_again() {
    let server = TestServer::start().await;
    let url = server.url();
    let mut log = server.client().await;
    let mut groups = groups_client(&url).await;
    let actors = append_actors(&mut log).await;
    append_events(&mut log, 0, 30, 30).await;
    create(
        &mut groups,
        "poison",
        settings(DispatchMode::RoundRobin, 300, 3, 1000),
    )
    .await;
    let total = actors as usize + 30;
    // Position 10 is always nacked, position 12 never answered (its ack_wait runs out). The
    // member runs until the group says both are parked.
    let member = TestMember::join(&url, "poison", 0).await.expect("join");
    let done = Arc::new(AtomicUsize::new(0));
    let running = tokio::spawn(run_member(
        member,
        Arc::clone(&done),
        FOREVER,
        |d| match d.entry.as_ref().map(|e| e.position) {
            Some(10) => Action::Nack,
            Some(12) => Action::Ignore,
            _ => Action::Ack,
        },
        Duration::from_secs(20),
    ));
    let state = wait_for(&mut groups, "poison", |s| s.parked == 2).await;
    done.store(FOREVER, std::sync::atomic::Ordering::SeqCst);
    let seen = running.await.expect("member task");
    assert_eq!(seen.confirmed.len(), total - 2, "the rest flowed on");
    assert_eq!(state.acked_through, total as u64, "parked counts as done");
    let attempts = |p: u64| seen.deliveries.iter().filter(|d| d.0 == p).count();
    assert_eq!((attempts(10), attempts(12)), (3, 3));
    let parked = groups
        .list_parked(proto::ListParkedRequest {
            name: "poison".into(),
            after_position: 0,
            limit: 0,
        })
        .await
        .expect("ListParked")
        .into_inner();
    assert_eq!(parked.total, 2);
    let listed: Vec<(u64, u32)> = parked
        .parked
        .iter()
        .map(|p| (p.position, p.attempts))
        .collect();
    assert_eq!(listed, [(10, 3), (12, 3)]);
    // The consumer is fixed: 10 is replayed and acked, 12 dropped.
    let replayed = groups
        .replay_parked(proto::ReplayParkedRequest {
            name: "poison".into(),
            positions: vec![10],
        })
        .await
        .expect("ReplayParked")
        .into_inner();
    assert_eq!(replayed.replayed, 1);
    let dropped = groups
        .drop_parked(proto::DropParkedRequest {
            name: "poison".into(),
            positions: vec![12, 999],
        })
        .await
        .expect("DropParked")
        .into_inner();
    assert_eq!(dropped.dropped, 1);
    let fixed = TestMember::join(&url, "poison", 0).await.expect("join");
    let again = run_member(
        fixed,
        Arc::new(AtomicUsize::new(0)),
        1,
        |_| Action::Ack,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(again.deliveries.len(), 1);
    assert_eq!(
        (again.deliveries[0].0, again.deliveries[0].1),
        (10, 1),
        "a fresh count"
    );
    assert_eq!(again.confirmed, [10]);
    let state = wait_for(&mut groups, "poison", |s| s.replaying == 0).await;
    assert_eq!((state.parked, state.replaying), (0, 0), "{state:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_ack_pending_bounds_what_a_member_that_never_acks_holds() {
    let server = TestServer::start().await;
    let url = server.url();
    let mut log = server.client().await;
    let mut groups = groups_client(&url).await;
    let actors = append_actors(&mut log).await;
    append_events(&mut log, 0, 200, 200).await;
    create(
        &mut groups,
        "bounded",
        settings(DispatchMode::RoundRobin, 300, 100, 10),
    )
    .await;
    let mut hog = TestMember::join(&url, "bounded", 0).await.expect("join");
    let mut distinct = HashSet::new();
    let mut deliveries = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(1_500);
    while tokio::time::Instant::now() < until {
        if let Some(Told::Delivery(d)) = hog.next(50).await.expect("stream") {
            distinct.insert(d.entry.expect("entry").position);
            deliveries += 1;
        }
        let state = describe(&mut groups, "bounded").await;
        assert!(state.in_flight + state.waiting <= 10, "{state:?}");
    }
    assert_eq!(
        distinct.len(),
        10,
        "only the window's entries, again and again"
    );
    assert!(deliveries > 10, "redelivered after each ack_wait");
    let state = describe(&mut groups, "bounded").await;
    assert_eq!(state.next_position, 11, "the group read no further");
    drop(hog);
    let total = actors as usize + 200;
    let worker = TestMember::join(&url, "bounded", 0).await.expect("join");
    let seen = run_member(
        worker,
        Arc::new(AtomicUsize::new(0)),
        total,
        |_| Action::Ack,
        Duration::from_secs(20),
    )
    .await;
    assert_acked_once(std::slice::from_ref(&seen), total as u64);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_no_ack_and_redelivers_only_what_was_in_flight() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path").to_string();
    let args = ["--data-dir", &data_arg, "--log-level", "warn"];
    let mut binary = spawn_binary(&args, Stdio::inherit()).await;
    let mut log = proto::event_log_client::EventLogClient::connect(binary.url.clone())
        .await
        .expect("connect");
    let mut groups = groups_client(&binary.url).await;
    let actors = append_actors(&mut log).await;
    append_events(&mut log, 0, 3_000, 500).await;
    create(
        &mut groups,
        "crash",
        settings(DispatchMode::RoundRobin, 30_000, 5, 200),
    )
    .await;
    let total = actors as usize + 3_000;
    let member = TestMember::join(&binary.url, "crash", 50)
        .await
        .expect("join");
    let done = Arc::new(AtomicUsize::new(0));
    let running = tokio::spawn(run_member(
        member,
        Arc::clone(&done),
        total,
        |_| Action::Ack,
        Duration::from_secs(60),
    ));
    while done.load(std::sync::atomic::Ordering::SeqCst) < 1_500 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    binary.child.start_kill().expect("SIGKILL");
    binary.child.wait().await.expect("killed");
    let before = running.await.expect("member task");
    assert!(before.ended.is_some(), "the stream ended with the server");
    let confirmed: HashSet<u64> = before.confirmed.iter().copied().collect();
    let delivered: HashSet<u64> = before.deliveries.iter().map(|d| d.0).collect();

    let binary = spawn_binary(&args, Stdio::inherit()).await;
    let mut groups = groups_client(&binary.url).await;
    let member = TestMember::join(&binary.url, "crash", 50)
        .await
        .expect("join");
    let done = Arc::new(AtomicUsize::new(0));
    let running = tokio::spawn(run_member(
        member,
        Arc::clone(&done),
        FOREVER,
        |_| Action::Ack,
        Duration::from_secs(60),
    ));
    let state = wait_for(&mut groups, "crash", |s| s.acked_through == total as u64).await;
    assert_eq!(state.parked, 0, "none lost");
    done.store(FOREVER, std::sync::atomic::Ordering::SeqCst);
    let after = running.await.expect("member task");
    let again: Vec<u64> = after
        .deliveries
        .iter()
        .map(|d| d.0)
        .filter(|p| confirmed.contains(p))
        .collect();
    assert!(
        again.is_empty(),
        "confirmed acks delivered again: {again:?}"
    );
    let redelivered: HashSet<u64> = after
        .deliveries
        .iter()
        .map(|d| d.0)
        .filter(|p| delivered.contains(p))
        .collect();
    assert!(
        redelivered.len() <= 200,
        "only what was in flight (max_ack_pending): {}",
        redelivered.len()
    );
    // An ack stored just before the kill may not have been confirmed: such an entry is
    // neither confirmed nor delivered again, but it was delivered before.
    let confirmed_after: HashSet<u64> = after.confirmed.iter().copied().collect();
    let unaccounted: Vec<u64> = (1..=total as u64)
        .filter(|p| !confirmed.contains(p) && !confirmed_after.contains(p))
        .collect();
    assert!(
        unaccounted.iter().all(|p| delivered.contains(p)) && unaccounted.len() <= 200,
        "lost: {unaccounted:?}"
    );
    assert_eq!(
        confirmed.len() + after.confirmed.len() + unaccounted.len(),
        total,
        "no ack confirmed twice"
    );
    drop(binary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_member_leaves_unanswered_goes_to_another_member_after_ack_wait() {
    let server = TestServer::start().await;
    let url = server.url();
    let mut log = server.client().await;
    let mut groups = groups_client(&url).await;
    let actors = append_actors(&mut log).await;
    append_events(&mut log, 0, 50, 50).await;
    create(
        &mut groups,
        "stuck",
        settings(DispatchMode::RoundRobin, 300, 5, 1000),
    )
    .await;
    let total = actors as usize + 50;
    let done = Arc::new(AtomicUsize::new(0));
    // A hung worker: it stays joined and answers nothing.
    let hung = TestMember::join(&url, "stuck", 5).await.expect("join");
    let worker = TestMember::join(&url, "stuck", 0).await.expect("join");
    let hung = tokio::spawn(run_member(
        hung,
        Arc::clone(&done),
        total,
        |_| Action::Ignore,
        Duration::from_secs(30),
    ));
    let worker = run_member(
        worker,
        Arc::clone(&done),
        total,
        |_| Action::Ack,
        Duration::from_secs(30),
    )
    .await;
    let hung = hung.await.expect("member task");
    assert_acked_once(std::slice::from_ref(&worker), total as u64);
    let held: HashSet<u64> = hung.deliveries.iter().map(|d| d.0).collect();
    assert!(!held.is_empty(), "the hung member was given entries");
    let came_again: HashSet<u64> = worker
        .deliveries
        .iter()
        .filter(|(_, attempt, _)| *attempt > 1)
        .map(|(p, _, _)| *p)
        .collect();
    assert_eq!(
        came_again, held,
        "each went to the other member once its ack_wait ran out"
    );
    server.stop().await;
}
