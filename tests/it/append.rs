//! Append semantics through the real gRPC interface: positions, atomic batches, idempotency,
//! revisions, references, optimistic concurrency, EDTF dates, the vocabulary and limits.

use crate::common;

use common::*;
use eventlog::proto::{self, entry::Body};
use tonic::Code;

#[tokio::test]
async fn positions_start_at_one_and_are_contiguous() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    assert_eq!(head(&mut client).await, 0);
    let first = append(&mut client, seed_actors()).await.expect("append");
    let positions: Vec<u64> = first.results.iter().map(|r| r.position).collect();
    assert_eq!(positions, vec![1, 2, 3]);
    assert_eq!(first.head, 3);
    assert_eq!(first.results[2].id, "liwa-al-quds");
    assert!(first.results.iter().all(|r| !r.duplicate));
    let second = append(
        &mut client,
        vec![event("e1", "backs", "iran", "liwa-al-quds", "2015/..")],
    )
    .await
    .expect("append");
    assert_eq!(second.results[0].position, 4);
    assert_eq!(second.head, 4);
    server.stop().await;
}

#[tokio::test]
async fn concurrent_appends_get_unique_contiguous_positions() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let mut tasks = Vec::new();
    for writer in 0..16 {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            let mut positions = Vec::new();
            for i in 0..10 {
                let id = format!("w{writer}-e{i}");
                let batch = vec![
                    event(
                        &format!("{id}-a"),
                        "attacks",
                        "russia",
                        "liwa-al-quds",
                        "2022",
                    ),
                    event(&format!("{id}-b"), "attacks", "iran", "russia", "2022"),
                ];
                let response = append(&mut client, batch).await.expect("append");
                // A batch's entries are adjacent: no other writer's entry lands between them.
                assert_eq!(
                    response.results[1].position,
                    response.results[0].position + 1
                );
                positions.extend(response.results.iter().map(|r| r.position));
            }
            positions
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("writer task"));
    }
    all.sort_unstable();
    let expected: Vec<u64> = (4..4 + 320).collect();
    assert_eq!(all, expected);
    assert_eq!(head(&mut client).await, 323);
    server.stop().await;
}

#[tokio::test]
async fn one_bad_entry_refuses_the_whole_batch() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let batch = vec![
        event("ok-1", "backs", "russia", "liwa-al-quds", "2015"),
        event("bad", "backs", "russia", "liwa-al-quds", "2022-13"),
    ];
    assert_status(
        append(&mut client, batch).await,
        Code::InvalidArgument,
        &["entries[1].event.date", "month 13 does not exist"],
    );
    assert_eq!(head(&mut client).await, 3);
    assert_status(
        client
            .get_entry(proto::GetEntryRequest {
                selector: Some(proto::get_entry_request::Selector::Id("ok-1".into())),
            })
            .await,
        Code::NotFound,
        &["ok-1"],
    );
    server.stop().await;
}

#[tokio::test]
async fn identical_entries_are_idempotent_and_changed_ones_refused() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut batch = seed_actors();
    batch.push(event("e1", "backs", "russia", "liwa-al-quds", "2015-09"));
    append(&mut client, batch.clone()).await.expect("append");
    let again = append(&mut client, batch).await.expect("re-append");
    assert!(again.results.iter().all(|r| r.duplicate));
    assert_eq!(
        again.results.iter().map(|r| r.position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(again.head, 4);

    let mut changed = event_body("e1", "backs", "russia", "liwa-al-quds", "2015-09");
    changed.summary = "something else".into();
    assert_status(
        append(&mut client, vec![entry(Body::Event(changed))]).await,
        Code::AlreadyExists,
        &["entries[0]", "\"e1\"", "position 4", "supersedes"],
    );
    // A mixed batch with a new entry and a conflicting one writes nothing.
    let mut conflicting = event_body("e1", "backs", "russia", "liwa-al-quds", "2015-09");
    conflicting.certainty = proto::Certainty::Confirmed as i32;
    assert_status(
        append(
            &mut client,
            vec![
                event("e2", "trains", "russia", "liwa-al-quds", "2016"),
                entry(Body::Event(conflicting)),
            ],
        )
        .await,
        Code::AlreadyExists,
        &["entries[1]"],
    );
    assert_eq!(head(&mut client).await, 4);
    server.stop().await;
}

#[tokio::test]
async fn canonical_dates_make_spellings_of_one_entry_identical() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let first = append(
        &mut client,
        vec![event("e1", "backs", "iran", "russia", "2022?~")],
    )
    .await
    .expect("append");
    let second = append(
        &mut client,
        vec![event("e1", "backs", "iran", "russia", "2022%")],
    )
    .await
    .expect("append");
    assert!(second.results[0].duplicate);
    assert_eq!(second.results[0].position, first.results[0].position);
    server.stop().await;
}

#[tokio::test]
async fn an_actor_appended_with_new_content_is_a_new_revision() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let revised = actor_with(
        "liwa-al-quds",
        "Liwa al-Quds",
        proto::ActorKind::ArmedGroup,
        &["Al-Quds Brigade"],
        "SYR",
    );
    let response = append(&mut client, vec![revised.clone()])
        .await
        .expect("revision");
    assert_eq!(response.results[0].position, 4);
    assert!(!response.results[0].duplicate);
    let again = append(&mut client, vec![revised])
        .await
        .expect("same revision");
    assert!(again.results[0].duplicate);
    assert_eq!(again.results[0].position, 4);

    let got = client
        .get_actor(proto::GetActorRequest {
            id: "liwa-al-quds".into(),
        })
        .await
        .expect("GetActor")
        .into_inner();
    assert_eq!(got.position, 4);
    assert_eq!(got.actor.expect("actor").aliases, vec!["Al-Quds Brigade"]);
    // The old alias no longer resolves; the new one does.
    let old = resolve_ids(&mut client, "Jerusalem Brigade").await;
    assert!(old.is_empty(), "{old:?}");
    let new = resolve_ids(&mut client, "al quds brigade").await;
    assert_eq!(new[0], "liwa-al-quds");
    let info = client
        .get_log_info(proto::GetLogInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!((info.actor_entries, info.actors), (4, 3));
    server.stop().await;
}

#[tokio::test]
async fn references_must_exist_before_or_earlier_in_the_batch() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    assert_status(
        append(
            &mut client,
            vec![event("e1", "backs", "russia", "wagner", "2017")],
        )
        .await,
        Code::FailedPrecondition,
        &[
            "entries[0].event.participants[0].actor_id",
            "\"russia\"",
            "not in the log",
        ],
    );
    // Same batch: actor first, then the event that refers to it.
    let mut batch = seed_actors();
    batch.push(actor(
        "wagner",
        "Wagner Group",
        proto::ActorKind::PrivateMilitaryCompany,
    ));
    batch.push(event("e1", "backs", "russia", "wagner", "2017"));
    append(&mut client, batch).await.expect("append");

    let mut about_event = proto::Claim {
        id: "c1".into(),
        event_id: "missing-event".into(),
        certainty: proto::Certainty::Alleged as i32,
        ..Default::default()
    };
    assert_status(
        append(&mut client, vec![entry(Body::Claim(about_event.clone()))]).await,
        Code::FailedPrecondition,
        &["entries[0].claim.event_id", "missing-event"],
    );
    about_event.event_id = "russia".into();
    assert_status(
        append(&mut client, vec![entry(Body::Claim(about_event.clone()))]).await,
        Code::FailedPrecondition,
        &["is an actor, not an event"],
    );
    about_event.event_id = "e1".into();
    append(&mut client, vec![entry(Body::Claim(about_event))])
        .await
        .expect("claim about e1");

    let mut affiliated = actor("unit-1", "Unit 1", proto::ActorKind::Military);
    if let Some(Body::Actor(a)) = &mut affiliated.body {
        a.affiliations.push(proto::Affiliation {
            actor_id: "nowhere".into(),
            relation: "part_of".into(),
            valid: "2015/..".into(),
            valid_span: None,
        });
    }
    assert_status(
        append(&mut client, vec![affiliated]).await,
        Code::FailedPrecondition,
        &["entries[0].actor.affiliations[0].actor_id", "nowhere"],
    );
    assert_eq!(head(&mut client).await, 6);
    server.stop().await;
}

#[tokio::test]
async fn corrections_supersede_earlier_entries_of_the_same_kind() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    append(
        &mut client,
        vec![event("e1", "attacks", "russia", "liwa-al-quds", "2022-03")],
    )
    .await
    .expect("event");
    let mut correction = event_body(
        "e1-fix",
        "clashes_with",
        "russia",
        "liwa-al-quds",
        "2022-03-15",
    );
    correction.supersedes = vec!["e1".into()];
    append(&mut client, vec![entry(Body::Event(correction.clone()))])
        .await
        .expect("correction");
    correction.id = "e1-fix-2".into();
    correction.supersedes = vec!["nope".into()];
    assert_status(
        append(&mut client, vec![entry(Body::Event(correction.clone()))]).await,
        Code::FailedPrecondition,
        &["entries[0].event.supersedes[0]", "\"nope\""],
    );
    correction.supersedes = vec!["e1-fix-2".into()];
    assert_status(
        append(&mut client, vec![entry(Body::Event(correction))]).await,
        Code::InvalidArgument,
        &["entries[0].event.supersedes[0]", "the entry itself"],
    );
    assert_eq!(head(&mut client).await, 5);
    server.stop().await;
}

#[tokio::test]
async fn expected_head_gives_optimistic_concurrency() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let response = client
        .append(proto::AppendRequest {
            entries: seed_actors(),
            expected_head: Some(0),
            validate_only: false,
        })
        .await
        .expect("append at head 0")
        .into_inner();
    assert_eq!(response.head, 3);
    assert_status(
        client
            .append(proto::AppendRequest {
                entries: vec![event("e1", "backs", "iran", "liwa-al-quds", "2015")],
                expected_head: Some(2),
                validate_only: false,
            })
            .await,
        Code::Aborted,
        &["expected the log's head to be 2 but it is 3"],
    );
    assert_eq!(head(&mut client).await, 3);
    client
        .append(proto::AppendRequest {
            entries: vec![event("e1", "backs", "iran", "liwa-al-quds", "2015")],
            expected_head: Some(3),
            validate_only: false,
        })
        .await
        .expect("append at the right head");
    server.stop().await;
}

#[tokio::test]
async fn unknown_relations_suggest_the_nearest_known_ones() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    assert_status(
        append(
            &mut client,
            vec![event("e1", "back", "iran", "liwa-al-quds", "2015")],
        )
        .await,
        Code::InvalidArgument,
        &[
            "entries[0].event.relation",
            "unknown relation \"back\"",
            "did you mean backs",
        ],
    );
    assert_eq!(head(&mut client).await, 3);
    server.stop().await;
}

#[tokio::test]
async fn malformed_entries_are_invalid_arguments_naming_the_field() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let valid = || event_body("e1", "backs", "iran", "liwa-al-quds", "2015");
    let mut cases: Vec<(proto::Entry, &[&str])> = Vec::new();

    let mut e = valid();
    e.id = "a".repeat(129);
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.id", "at most 128"],
    ));
    let mut e = valid();
    e.id = "has space".into();
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.id", "contains ' '"],
    ));
    let mut e = valid();
    e.date = "2022/2019".into();
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.date", "before it starts"],
    ));
    let mut e = valid();
    e.date = "20x2".into();
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.date", "'x' is not part of an EDTF date"],
    ));
    let mut e = valid();
    e.date = "202".into();
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.date", "four digits"],
    ));
    let mut e = valid();
    e.date = String::new();
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.date", "is required"],
    ));
    let mut e = valid();
    e.certainty = 0;
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.certainty", "is required"],
    ));
    let mut e = valid();
    e.certainty = 42;
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.certainty", "not a known Certainty"],
    ));
    let mut e = valid();
    e.participants.clear();
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.participants", "at least one"],
    ));
    let mut e = valid();
    e.participants[1].role = 0;
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.participants[1].role", "is required"],
    ));
    let mut e = valid();
    e.participants = (0..33)
        .map(|_| proto::Participant {
            actor_id: "iran".into(),
            role: proto::Role::Participant as i32,
        })
        .collect();
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.participants", "the limit is 32"],
    ));
    let mut e = valid();
    e.location = Some(proto::Location {
        latitude: Some(35.0),
        ..Default::default()
    });
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.location", "only one coordinate"],
    ));
    let mut e = valid();
    e.location = Some(proto::Location {
        latitude: Some(95.0),
        longitude: Some(1.0),
        ..Default::default()
    });
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.location.latitude", "outside -90 to 90"],
    ));
    let mut e = valid();
    e.location = Some(proto::Location {
        country: "Syria".into(),
        ..Default::default()
    });
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.location.country", "alpha-3"],
    ));
    let mut e = valid();
    e.summary = "x".repeat(20_000);
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.summary", "the limit is 16384"],
    ));
    let mut e = valid();
    e.sources = vec![proto::Source::default()];
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.sources[0]", "name or a url"],
    ));
    let mut e = valid();
    e.sources[0].published = "yesterday".into();
    cases.push((
        entry(Body::Event(e)),
        &["entries[0].event.sources[0].published", "invalid EDTF"],
    ));

    let mut a = actor("x", "X", proto::ActorKind::ArmedGroup);
    if let Some(Body::Actor(actor)) = &mut a.body {
        actor.kind = 0;
    }
    cases.push((a, &["entries[0].actor.kind", "is required"]));
    cases.push((
        actor("x", "  ", proto::ActorKind::ArmedGroup),
        &["entries[0].actor.name", "is required"],
    ));
    cases.push((
        actor_with("x", "X", proto::ActorKind::State, &[], "sy"),
        &["entries[0].actor.country", "alpha-3"],
    ));
    let mut a = actor("x", "X", proto::ActorKind::ArmedGroup);
    if let Some(Body::Actor(actor)) = &mut a.body {
        actor.affiliations.push(proto::Affiliation {
            actor_id: "x".into(),
            relation: "part_of".into(),
            ..Default::default()
        });
    }
    cases.push((a, &["entries[0].actor.affiliations[0].actor_id", "itself"]));

    cases.push((
        entry(Body::Claim(proto::Claim {
            id: "c".into(),
            subject: "iran".into(),
            certainty: proto::Certainty::Alleged as i32,
            ..Default::default()
        })),
        &["entries[0].claim", "subject and a relation"],
    ));
    cases.push((
        proto::Entry {
            position: 7,
            recorded_at: None,
            body: valid_body(valid()),
        },
        &["entries[0].position", "assigned by the server"],
    ));
    cases.push((
        proto::Entry {
            position: 0,
            recorded_at: Some(Default::default()),
            body: valid_body(valid()),
        },
        &["entries[0].recorded_at", "assigned by the server"],
    ));
    cases.push((proto::Entry::default(), &["entries[0].body", "is missing"]));

    for (bad, parts) in cases {
        // The bad entry comes second so the index in the message is checked too.
        let batch = vec![event("fine", "backs", "iran", "russia", "2016"), bad];
        let parts: Vec<String> = parts
            .iter()
            .map(|p| p.replace("entries[0]", "entries[1]"))
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        assert_status(
            append(&mut client, batch).await,
            Code::InvalidArgument,
            &parts,
        );
    }
    assert_eq!(head(&mut client).await, 3);
    server.stop().await;
}

fn valid_body(event: proto::Event) -> Option<Body> {
    Some(Body::Event(event))
}

#[tokio::test]
async fn batch_limits_are_enforced_with_clear_errors() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    assert_status(
        append(&mut client, vec![]).await,
        Code::InvalidArgument,
        &["entries", "empty"],
    );
    let too_many: Vec<_> = (0..1001)
        .map(|i| actor(&format!("a{i}"), "A", proto::ActorKind::Person))
        .collect();
    assert_status(
        append(&mut client, too_many).await,
        Code::InvalidArgument,
        &["1001 entries", "at most 1000"],
    );
    let big: Vec<_> = (0..400)
        .map(|i| {
            let mut a = actor(&format!("a{i}"), "A", proto::ActorKind::Person);
            if let Some(Body::Actor(actor)) = &mut a.body {
                actor.description = "d".repeat(16_000);
            }
            a
        })
        .collect();
    assert_status(
        append(&mut client, big).await,
        Code::InvalidArgument,
        &["bytes", "split it"],
    );
    assert_eq!(head(&mut client).await, 0);
    server.stop().await;
}
