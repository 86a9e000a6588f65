//! Consumer groups through gRPC: members share a stream with acks, redelivery and parking;
//! group state survives `kill -9`; the window bounds what is in flight; every invalid request
//! is refused with its status and changes nothing.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use eventlog::proto::{self, join_group_request, DispatchMode};
use tonic::Code;

use crate::common::groups::{
    append_actors, append_events, create, describe, groups_client, join_message, run_member,
    settings, Action, Seen, TestMember, Told,
};
use crate::common::{ops::spawn_binary, reason_of, TestServer};

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
async fn bad_requests_are_refused_with_their_status_and_change_nothing() {
    let server = TestServer::start().await;
    let url = server.url();
    let mut log = server.client().await;
    let mut groups = groups_client(&url).await;
    append_actors(&mut log).await;
    create(
        &mut groups,
        "real",
        settings(DispatchMode::RoundRobin, 300, 3, 10),
    )
    .await;
    let request = |name: &str, settings: proto::GroupSettings| proto::CreateGroupRequest {
        name: name.into(),
        filter: None,
        start: None,
        settings: Some(settings),
    };
    let refused = groups
        .create_group(request(
            "real",
            settings(DispatchMode::RoundRobin, 300, 3, 10),
        ))
        .await;
    assert_eq!(
        refused.as_ref().map_err(|s| s.code()).err(),
        Some(Code::AlreadyExists)
    );
    assert_eq!(reason_of(&refused), "GROUP_EXISTS");
    for (settings, field) in [
        (
            settings(DispatchMode::RoundRobin, 10, 3, 10),
            "settings.ack_wait",
        ),
        (
            settings(DispatchMode::RoundRobin, 300, 101, 10),
            "settings.max_deliver",
        ),
        (
            settings(DispatchMode::RoundRobin, 300, 3, 20_000),
            "settings.max_ack_pending",
        ),
        (
            proto::GroupSettings {
                dispatch: 9,
                ..Default::default()
            },
            "settings.dispatch",
        ),
        (
            proto::GroupSettings {
                backoff: vec![pbjson_types::Duration {
                    seconds: -1,
                    nanos: 0,
                }],
                ..Default::default()
            },
            "settings.backoff[0]",
        ),
    ] {
        let refused = groups.create_group(request("other", settings)).await;
        let status = refused.as_ref().expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(
            status.message().contains(field),
            "{field}: {}",
            status.message()
        );
    }
    let bad_name = groups
        .create_group(request(
            "no spaces",
            settings(DispatchMode::RoundRobin, 300, 3, 10),
        ))
        .await;
    assert_eq!(
        bad_name.map_err(|s| s.code()).err(),
        Some(Code::InvalidArgument)
    );
    let beyond = groups
        .create_group(proto::CreateGroupRequest {
            start: Some(proto::create_group_request::Start::FromPosition(1_000)),
            ..request("later", settings(DispatchMode::RoundRobin, 300, 3, 10))
        })
        .await;
    assert_eq!(
        beyond.as_ref().map_err(|s| s.code()).err(),
        Some(Code::FailedPrecondition)
    );
    assert_eq!(reason_of(&beyond), "START_BEYOND_HEAD");
    let listed = groups
        .list_groups(proto::ListGroupsRequest {})
        .await
        .expect("ListGroups")
        .into_inner()
        .groups;
    assert_eq!(listed.len(), 1, "nothing refused was created");

    // Unknown groups, everywhere.
    let unknown = groups
        .describe_group(proto::DescribeGroupRequest {
            name: "ghost".into(),
        })
        .await;
    assert_eq!(
        unknown.as_ref().map_err(|s| s.code()).err(),
        Some(Code::NotFound)
    );
    assert_eq!(reason_of(&unknown), "UNKNOWN_GROUP");
    let unknown = groups
        .delete_group(proto::DeleteGroupRequest {
            name: "ghost".into(),
        })
        .await;
    assert_eq!(reason_of(&unknown), "UNKNOWN_GROUP");
    let unknown = groups
        .replay_parked(proto::ReplayParkedRequest {
            name: "ghost".into(),
            positions: vec![],
        })
        .await;
    assert_eq!(reason_of(&unknown), "UNKNOWN_GROUP");
    let unknown = groups
        .update_group(proto::UpdateGroupRequest {
            name: "ghost".into(),
            settings: None,
        })
        .await;
    assert_eq!(reason_of(&unknown), "UNKNOWN_GROUP");
    let joined = TestMember::join(&url, "ghost", 0).await;
    assert_eq!(
        joined.as_ref().map_err(|s| s.code()).err(),
        Some(Code::NotFound)
    );

    // A stream that does not start with join.
    let (tx, requests) = tokio::sync::mpsc::channel(4);
    tx.send(proto::JoinGroupRequest {
        message: Some(join_group_request::Message::Ack(proto::Ack {
            delivery_ids: vec![1],
        })),
    })
    .await
    .expect("queue");
    let refused = groups
        .join_group(tokio_stream::wrappers::ReceiverStream::new(requests))
        .await;
    assert_eq!(reason_of(&refused), "MEMBER_PROTOCOL");
    let _ = join_message; // the helper is what TestMember sends first

    // An ack of a delivery this stream never sent ends it, and nothing is acked.
    let mut member = TestMember::join(&url, "real", 0).await.expect("join");
    let mut first = None;
    while first.is_none() {
        if let Some(Told::Delivery(d)) = member.next(5_000).await.expect("stream") {
            first = Some(d);
        }
    }
    member.ack(vec![9_999]).await;
    let ended = loop {
        match member.next(5_000).await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream should end"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), Code::InvalidArgument, "{ended:?}");
    assert!(ended.message().contains("9999"), "{}", ended.message());
    let state = describe(&mut groups, "real").await;
    assert_eq!(state.acked_through, 0, "nothing was acked");

    // Update changes the settings; delete ends members' streams and removes the group.
    let updated = groups
        .update_group(proto::UpdateGroupRequest {
            name: "real".into(),
            settings: Some(settings(DispatchMode::PinnedByActor, 1_000, 2, 20)),
        })
        .await
        .expect("UpdateGroup")
        .into_inner()
        .group
        .expect("group");
    assert_eq!(updated.settings.expect("settings").max_ack_pending, 20);
    let mut member = TestMember::join(&url, "real", 0).await.expect("join");
    groups
        .delete_group(proto::DeleteGroupRequest {
            name: "real".into(),
        })
        .await
        .expect("DeleteGroup");
    let ended = loop {
        match member.next(5_000).await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream should end"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), Code::NotFound, "{ended:?}");
    let listed = groups
        .list_groups(proto::ListGroupsRequest {})
        .await
        .expect("ListGroups")
        .into_inner()
        .groups;
    assert!(listed.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_can_start_at_a_recorded_time_or_at_the_end() {
    let server = TestServer::start().await;
    let url = server.url();
    let mut log = server.client().await;
    let mut groups = groups_client(&url).await;
    let actors = append_actors(&mut log).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let now = eventlog::proto::timestamp(std::time::SystemTime::now());
    append_events(&mut log, 0, 5, 5).await;
    let created = |name: &str, start| proto::CreateGroupRequest {
        name: name.into(),
        filter: None,
        start: Some(start),
        settings: None,
    };
    let at_time = groups
        .create_group(created(
            "at-time",
            proto::create_group_request::Start::FromTime(now),
        ))
        .await
        .expect("CreateGroup")
        .into_inner()
        .group
        .expect("group");
    assert_eq!(at_time.start_position, actors + 1);
    let at_end = groups
        .create_group(created(
            "at-end",
            proto::create_group_request::Start::FromEnd(true),
        ))
        .await
        .expect("CreateGroup")
        .into_inner()
        .group
        .expect("group");
    assert_eq!(at_end.start_position, actors + 6);
    let settings = at_end.settings.expect("defaults filled in");
    assert_eq!(settings.max_deliver, 5);
    assert_eq!(settings.max_ack_pending, 1000);
    let member = TestMember::join(&url, "at-time", 0).await.expect("join");
    let seen = run_member(
        member,
        Arc::new(AtomicUsize::new(0)),
        5,
        |_| Action::Ack,
        Duration::from_secs(10),
    )
    .await;
    let mut got = seen.confirmed.clone();
    got.sort_unstable();
    assert_eq!(got, ((actors + 1)..=(actors + 5)).collect::<Vec<_>>());
    server.stop().await;
}
