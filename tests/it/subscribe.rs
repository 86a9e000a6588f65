//! Subscriptions through the real gRPC interface: exactly once and in order under concurrent
//! appends, filters, the hand-over from history to live, slow subscribers, checkpoints, named
//! subscriptions across disconnects and restarts, and shutdown.

use crate::common;

use common::*;
use eventlog::proto::{self, entry::Body, subscribe_request::Start};
use tonic::Code;

fn from(position: u64) -> proto::SubscribeRequest {
    proto::SubscribeRequest {
        start: Some(Start::FromPosition(position)),
        ..Default::default()
    }
}

fn involves(entry: &proto::Entry, actor: &str) -> bool {
    match &entry.body {
        Some(Body::Event(e)) => e.participants.iter().any(|p| p.actor_id == actor),
        Some(Body::Actor(a)) => a.id == actor,
        Some(Body::Claim(c)) => [&c.subject, &c.object, &c.claimant]
            .iter()
            .any(|x| *x == actor),
        None => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_subscriber_gets_each_entry_once_in_order_while_writers_append() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    // Some history before anyone subscribes.
    let history: Vec<_> = (0..300)
        .map(|i| {
            event(
                &format!("h{i}"),
                "attacks",
                if i % 3 == 0 { "iran" } else { "russia" },
                "liwa-al-quds",
                "2022",
            )
        })
        .collect();
    append(&mut client, history).await.expect("history");

    let filtered = proto::SubscribeRequest {
        start: Some(Start::FromPosition(1)),
        filter: Some(proto::SubscriptionFilter {
            actors: vec!["Tehran".into()],
            kinds: vec![proto::EntryKind::Event as i32],
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut starts: Vec<(&str, proto::SubscribeRequest)> = vec![
        ("beginning", from(0)),
        ("middle", from(150)),
        (
            "end",
            proto::SubscribeRequest {
                start: Some(Start::FromEnd(true)),
                ..Default::default()
            },
        ),
        ("beyond the head", from(1_000)),
        ("filtered", filtered.clone()),
        (
            "filtered from the middle",
            proto::SubscribeRequest {
                start: Some(Start::FromPosition(200)),
                ..filtered
            },
        ),
    ];
    let mut streams = Vec::new();
    for (label, request) in starts.drain(..) {
        let mut c = server.client().await;
        streams.push((
            label,
            request.clone(),
            subscribe(&mut c, request).await.expect("subscribe"),
            c,
        ));
    }

    // Four writers append concurrently while the subscribers catch up.
    let mut writers = Vec::new();
    for w in 0..4 {
        let mut c = server.client().await;
        writers.push(tokio::spawn(async move {
            for b in 0..40 {
                let batch = (0..5)
                    .map(|j| {
                        let actor = if (w + b + j) % 4 == 0 {
                            "iran"
                        } else {
                            "russia"
                        };
                        event(
                            &format!("w{w}-b{b}-{j}"),
                            "attacks",
                            actor,
                            "liwa-al-quds",
                            "2022",
                        )
                    })
                    .collect();
                append(&mut c, batch).await.expect("append");
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let log = read_all(&mut client).await;
    let last = log.last().expect("entries").position;
    assert_eq!(last, 3 + 300 + 4 * 40 * 5);

    for (label, request, mut stream, _client) in streams {
        let matches = |e: &proto::Entry| {
            request.filter.is_none()
                || (involves(e, "iran") && matches!(e.body, Some(Body::Event(_))))
        };
        let last_match = log
            .iter()
            .rev()
            .find(|e| matches(e))
            .expect("a match")
            .position;
        let said = read_through(&mut stream, last_match).await;
        let got = positions(&said);
        let start = match request.start {
            Some(Start::FromPosition(p)) => p.max(1),
            _ => *got.first().expect("entries"),
        };
        let expected: Vec<u64> = log
            .iter()
            .filter(|e| e.position >= start && matches(e))
            .map(|e| e.position)
            .collect();
        assert_eq!(got, expected, "subscriber starting at the {label}");
        let caught_up = said
            .iter()
            .filter(|s| matches!(s, Said::CaughtUp(_)))
            .count();
        assert!(caught_up <= 1, "{label}: CaughtUp at most once");
    }
    server.stop().await;
}

#[tokio::test]
async fn history_comes_first_then_caught_up_then_live_entries() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let mut stream = subscribe(&mut client, from(1)).await.expect("subscribe");
    let mut said = Vec::new();
    while !said.iter().any(|s| matches!(s, Said::CaughtUp(_))) {
        said.extend(next_said(&mut stream, 10).await.expect("message"));
    }
    assert_eq!(positions(&said), vec![1, 2, 3]);
    assert_eq!(said.last(), Some(&Said::CaughtUp(3)));
    let mut writer = server.client().await;
    append(
        &mut writer,
        vec![event("live-1", "backs", "iran", "liwa-al-quds", "2015")],
    )
    .await
    .expect("append");
    let live = next_said(&mut stream, 10).await.expect("live entry");
    assert_eq!(positions(&live), vec![4]);
    server.stop().await;
}

#[tokio::test]
async fn filters_select_by_kind_actor_relation_date_and_certainty() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut batch = seed_actors();
    batch.push(event("e-2015", "backs", "iran", "liwa-al-quds", "2015"));
    batch.push(event(
        "e-2022",
        "clashes_with",
        "russia",
        "liwa-al-quds",
        "2022-09-24",
    ));
    let mut alleged = event_body(
        "e-alleged",
        "recruits",
        "russia",
        "liwa-al-quds",
        "2022-03~",
    );
    alleged.certainty = proto::Certainty::Alleged as i32;
    batch.push(entry(Body::Event(alleged)));
    batch.push(claim(
        "c-1",
        "russia",
        "backs",
        "liwa-al-quds",
        proto::Certainty::Speculated,
    ));
    append(&mut client, batch).await.expect("append");

    let events_and_claims = vec![
        proto::EntryKind::Event as i32,
        proto::EntryKind::Claim as i32,
    ];
    let cases: Vec<(proto::SubscriptionFilter, Vec<&str>)> = vec![
        (
            proto::SubscriptionFilter {
                kinds: vec![proto::EntryKind::Claim as i32],
                ..Default::default()
            },
            vec!["c-1"],
        ),
        (
            proto::SubscriptionFilter {
                actors: vec!["Moscow".into()],
                ..Default::default()
            },
            vec!["russia", "e-2022", "e-alleged", "c-1"],
        ),
        (
            proto::SubscriptionFilter {
                relations: vec!["backs".into()],
                kinds: events_and_claims.clone(),
                ..Default::default()
            },
            vec!["e-2015", "c-1"],
        ),
        (
            proto::SubscriptionFilter {
                date_from: "2022-02".into(),
                date_to: "2022-12".into(),
                kinds: vec![proto::EntryKind::Event as i32],
                ..Default::default()
            },
            vec!["e-2022", "e-alleged"],
        ),
        (
            proto::SubscriptionFilter {
                min_certainty: proto::Certainty::Reported as i32,
                kinds: events_and_claims,
                ..Default::default()
            },
            vec!["e-2015", "e-2022"],
        ),
    ];
    for (filter, expected) in cases {
        let request = proto::SubscribeRequest {
            filter: Some(filter.clone()),
            ..Default::default()
        };
        let mut stream = subscribe(&mut client, request).await.expect("subscribe");
        let mut ids = Vec::new();
        loop {
            let said = next_said(&mut stream, 10).await.expect("message");
            let caught_up = said.iter().any(|s| matches!(s, Said::CaughtUp(_)));
            for s in said {
                if let Said::Entry(e) = s {
                    ids.push(entry_id(&e));
                }
            }
            if caught_up {
                break;
            }
        }
        assert_eq!(ids, expected, "filter {filter:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_filters_are_refused_with_the_field_named() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let with = |filter: proto::SubscriptionFilter| proto::SubscribeRequest {
        filter: Some(filter),
        ..Default::default()
    };
    assert_status(
        subscribe(
            &mut client,
            with(proto::SubscriptionFilter {
                actors: vec!["Hezbollah".into()],
                ..Default::default()
            }),
        )
        .await,
        Code::NotFound,
        &["filter.actors[0]", "Hezbollah"],
    );
    assert_status(
        subscribe(
            &mut client,
            with(proto::SubscriptionFilter {
                kinds: vec![0],
                ..Default::default()
            }),
        )
        .await,
        Code::InvalidArgument,
        &["filter.kinds[0]"],
    );
    assert_status(
        subscribe(
            &mut client,
            with(proto::SubscriptionFilter {
                relations: vec!["bakcs".into()],
                ..Default::default()
            }),
        )
        .await,
        Code::InvalidArgument,
        &["filter.relations[0]", "backs"],
    );
    assert_status(
        subscribe(
            &mut client,
            with(proto::SubscriptionFilter {
                date_from: "2022-13".into(),
                ..Default::default()
            }),
        )
        .await,
        Code::InvalidArgument,
        &["filter.date_from", "month 13"],
    );
    assert_status(
        subscribe(
            &mut client,
            proto::SubscribeRequest {
                name: "bad name".into(),
                ..Default::default()
            },
        )
        .await,
        Code::InvalidArgument,
        &["name"],
    );
    server.stop().await;
}

#[tokio::test]
async fn filtered_streams_report_progress_while_nothing_matches() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    append_attacks(&mut client, 5, 1000, "2022").await;
    let request = proto::SubscribeRequest {
        filter: Some(proto::SubscriptionFilter {
            relations: vec!["negotiates_with".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut stream = subscribe(&mut client, request).await.expect("subscribe");
    let mut checkpoints = Vec::new();
    loop {
        let said = next_said(&mut stream, 10).await.expect("message");
        if said.iter().any(|s| matches!(s, Said::CaughtUp(_))) {
            break;
        }
        for s in said {
            match s {
                Said::Checkpoint(p) => checkpoints.push(p),
                other => panic!("nothing should match, got {other:?}"),
            }
        }
    }
    assert!(checkpoints.len() >= 2, "checkpoints: {checkpoints:?}");
    assert!(checkpoints.windows(2).all(|w| w[0] < w[1]));
    assert!(*checkpoints.last().expect("one") <= 5003);
    server.stop().await;
}

#[tokio::test]
async fn a_named_subscription_resumes_after_its_checkpoint_across_disconnects_and_restarts() {
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let request = proto::SubscribeRequest {
        name: "analytics".into(),
        filter: Some(proto::SubscriptionFilter {
            kinds: vec![proto::EntryKind::Event as i32],
            ..Default::default()
        }),
        ..Default::default()
    };
    let events = |range: std::ops::Range<u32>| {
        range
            .map(|i| {
                event(
                    &format!("e{i}"),
                    "attacks",
                    "russia",
                    "liwa-al-quds",
                    "2022",
                )
            })
            .collect::<Vec<_>>()
    };
    append(&mut client, events(0..10)).await.expect("append");
    let mut stream = subscribe(&mut client, request.clone())
        .await
        .expect("subscribe");
    let said = read_through(&mut stream, 8).await;
    assert_eq!(positions(&said)[..6], [4, 5, 6, 7, 8, 9][..6]);
    let committed = client
        .commit_checkpoint(proto::CommitCheckpointRequest {
            name: "analytics".into(),
            position: 8,
        })
        .await
        .expect("commit")
        .into_inner();
    assert_eq!(committed.subscription.expect("info").checkpoint, 8);
    drop(stream);

    // Reconnect: resumes at 9, with the stored filter (no actors in the stream).
    append(&mut client, events(10..12)).await.expect("append");
    let mut stream = subscribe(&mut client, request.clone())
        .await
        .expect("resubscribe");
    let said = read_through(&mut stream, 15).await;
    assert_eq!(positions(&said), (9..=15).collect::<Vec<_>>());
    client
        .commit_checkpoint(proto::CommitCheckpointRequest {
            name: "analytics".into(),
            position: 14,
        })
        .await
        .expect("commit");
    drop(stream);

    // Restart: the checkpoint is durable.
    server.restart().await;
    let mut client = server.client().await;
    append(&mut client, events(12..13)).await.expect("append");
    let mut stream = subscribe(
        &mut client,
        proto::SubscribeRequest {
            name: "analytics".into(),
            ..Default::default()
        },
    )
    .await
    .expect("resubscribe after restart");
    let said = read_through(&mut stream, 16).await;
    assert_eq!(positions(&said), vec![15, 16]);

    let listed = client
        .list_subscriptions(proto::ListSubscriptionsRequest {})
        .await
        .expect("list")
        .into_inner()
        .subscriptions;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].checkpoint),
        ("analytics", 14)
    );
    assert_eq!(
        listed[0].filter.as_ref().expect("filter").kinds,
        vec![proto::EntryKind::Event as i32]
    );

    // A different filter under the same name is refused; a checkpoint past the head too.
    let mut other = request.clone();
    other.filter = Some(proto::SubscriptionFilter {
        kinds: vec![proto::EntryKind::Claim as i32],
        ..Default::default()
    });
    assert_status(
        subscribe(&mut client, other).await,
        Code::FailedPrecondition,
        &["analytics", "different filter"],
    );
    assert_status(
        client
            .commit_checkpoint(proto::CommitCheckpointRequest {
                name: "analytics".into(),
                position: 99,
            })
            .await,
        Code::FailedPrecondition,
        &["99", "beyond the head"],
    );
    assert_status(
        client
            .commit_checkpoint(proto::CommitCheckpointRequest {
                name: "nobody".into(),
                position: 1,
            })
            .await,
        Code::NotFound,
        &["nobody"],
    );
    client
        .delete_subscription(proto::DeleteSubscriptionRequest {
            name: "analytics".into(),
        })
        .await
        .expect("delete");
    assert_status(
        client
            .delete_subscription(proto::DeleteSubscriptionRequest {
                name: "analytics".into(),
            })
            .await,
        Code::NotFound,
        &["analytics"],
    );
    server.stop().await;
}

#[tokio::test]
async fn a_new_named_subscription_can_start_at_the_end() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let request = proto::SubscribeRequest {
        name: "tail".into(),
        start: Some(Start::FromEnd(true)),
        ..Default::default()
    };
    let mut stream = subscribe(&mut client, request).await.expect("subscribe");
    assert_eq!(
        next_said(&mut stream, 10).await.expect("caught up"),
        vec![Said::CaughtUp(3)]
    );
    let listed = client
        .list_subscriptions(proto::ListSubscriptionsRequest {})
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.subscriptions[0].checkpoint, 3);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_ends_streams_with_unavailable_and_a_resume_position() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let mut stream = subscribe(&mut client, from(1)).await.expect("subscribe");
    read_through(&mut stream, 3).await;
    let stopping = tokio::spawn(server.stop());
    let status = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
            .await
            .expect("in time")
        {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("resume from position 4"),
        "{status:?}"
    );
    tokio::time::timeout(std::time::Duration::from_secs(10), stopping)
        .await
        .expect("stops in time")
        .expect("stop");
}

fn from_time(at: Option<pbjson_types::Timestamp>) -> proto::SubscribeRequest {
    proto::SubscribeRequest {
        start: at.map(proto::subscribe_request::Start::FromTime),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_stream_starts_at_the_first_entry_recorded_at_or_after_a_time() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    // Two more groups, each recorded after the one before.
    let mut starts = Vec::new();
    for group in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let batch = (0..3)
            .map(|i| {
                event(
                    &format!("g{group}-{i}"),
                    "attacks",
                    "russia",
                    "iran",
                    "2022",
                )
            })
            .collect();
        let appended = append(&mut client, batch).await.expect("append");
        starts.push(appended.results[0].position);
    }
    let reader = client.clone();
    let recorded = |position: u64| {
        let mut client = reader.clone();
        async move {
            client
                .get_entry(proto::GetEntryRequest {
                    selector: Some(proto::get_entry_request::Selector::Position(position)),
                })
                .await
                .expect("entry")
                .into_inner()
                .entry
                .and_then(|entry| entry.recorded_at)
                .expect("recorded_at")
        }
    };
    // At the second group's own time: from its first entry, not a moment earlier.
    let second = recorded(starts[1]).await;
    let mut stream = subscribe(&mut client, from_time(Some(second)))
        .await
        .expect("subscribe");
    assert_eq!(
        positions(&read_through(&mut stream, 9).await),
        vec![7, 8, 9]
    );
    // A nanosecond after the first group: the second group.
    let mut just_after = recorded(starts[0]).await;
    just_after.nanos += 1;
    if just_after.nanos == 1_000_000_000 {
        just_after.nanos = 0;
        just_after.seconds += 1;
    }
    let mut stream = subscribe(&mut client, from_time(Some(just_after)))
        .await
        .expect("subscribe");
    assert_eq!(positions(&read_through(&mut stream, 9).await)[0], 7);
    // Before everything (even before 1970): from the beginning.
    let early = pbjson_types::Timestamp {
        seconds: -5,
        nanos: 0,
    };
    let mut stream = subscribe(&mut client, from_time(Some(early)))
        .await
        .expect("subscribe");
    assert_eq!(positions(&read_through(&mut stream, 1).await)[0], 1);
    // After everything: the next entry appended.
    let late = pbjson_types::Timestamp {
        seconds: second.seconds + 3600,
        nanos: 0,
    };
    let mut stream = subscribe(&mut client, from_time(Some(late)))
        .await
        .expect("subscribe");
    append(
        &mut client,
        vec![event("after", "attacks", "russia", "iran", "2023")],
    )
    .await
    .expect("append");
    assert_eq!(positions(&read_through(&mut stream, 10).await), vec![10]);
    // A time that is not one.
    let bad = pbjson_types::Timestamp {
        seconds: 0,
        nanos: -1,
    };
    let refused = subscribe(&mut client, from_time(Some(bad))).await;
    assert_eq!(reason_of(&refused), "INVALID_VALUE");
    assert_status(refused, tonic::Code::InvalidArgument, &["from_time.nanos"]);
    server.stop().await;
}
