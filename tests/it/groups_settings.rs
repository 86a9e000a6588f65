//! What a consumer group accepts and refuses, through gRPC: every invalid request gets its
//! status and reason and changes nothing; a member that breaks the protocol is ended; update
//! and delete act on joined members; a group starts at a recorded time or at the end.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use eventlog::proto::{self, join_group_request, DispatchMode};
use tonic::Code;

use crate::common::groups::{
    append_actors, append_events, create, describe, groups_client, join_message, run_member,
    settings, Action, TestMember, Told,
};
use crate::common::{reason_of, TestServer};

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
