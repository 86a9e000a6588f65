//! Reading through the real gRPC interface: entries, the log stream, actors, the vocabulary and
//! the log's description.

use crate::common;

use common::*;
use eventlog::proto::{self, entry::Body, get_entry_request::Selector};
use tonic::Code;

async fn get(
    client: &mut eventlog::proto::event_log_client::EventLogClient<tonic::transport::Channel>,
    selector: Selector,
) -> Result<proto::Entry, tonic::Status> {
    client
        .get_entry(proto::GetEntryRequest {
            selector: Some(selector),
        })
        .await
        .map(|r| r.into_inner().entry.expect("entry"))
}

#[tokio::test]
async fn entries_come_back_canonical_with_their_date_spans() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let mut body = event_body("e1", "backs", "russia", "liwa-al-quds", "2022-03?~");
    body.attributes.insert("fatalities".into(), "0".into());
    body.location = Some(proto::Location {
        name: "Aleppo".into(),
        country: "SYR".into(),
        admin1: "Aleppo".into(),
        latitude: Some(36.2),
        longitude: Some(37.16),
    });
    append(&mut client, vec![entry(Body::Event(body))])
        .await
        .expect("event");

    let by_id = get(&mut client, Selector::Id("e1".into()))
        .await
        .expect("by id");
    let by_position = get(&mut client, Selector::Position(4))
        .await
        .expect("by position");
    assert_eq!(by_id, by_position);
    assert_eq!(by_id.position, 4);
    assert!(by_id.recorded_at.is_some());
    let Some(Body::Event(event)) = by_id.body else {
        panic!("an event")
    };
    assert_eq!(event.date, "2022-03%");
    let span = event.date_span.expect("span");
    assert_eq!(
        (span.earliest.as_str(), span.latest.as_str()),
        ("2022-02-01", "2022-04-30")
    );
    assert_eq!(
        event.attributes.get("fatalities").map(String::as_str),
        Some("0")
    );
    assert_eq!(event.location.expect("location").latitude, Some(36.2));
    assert_eq!(event.sources[0].published, "2022-03");

    assert_status(
        get(&mut client, Selector::Id("nope".into())).await,
        Code::NotFound,
        &["\"nope\""],
    );
    assert_status(
        get(&mut client, Selector::Position(99)).await,
        Code::NotFound,
        &["99", "head is 4"],
    );
    assert_status(
        get(&mut client, Selector::Position(0)).await,
        Code::InvalidArgument,
        &["positions start at 1"],
    );
    assert_status(
        get(&mut client, Selector::Id("bad id".into())).await,
        Code::InvalidArgument,
        &["id"],
    );
    assert_status(
        client
            .get_entry(proto::GetEntryRequest { selector: None })
            .await,
        Code::InvalidArgument,
        &["selector"],
    );
    server.stop().await;
}

#[tokio::test]
async fn open_ended_claims_have_open_spans() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let mut c = claim(
        "c1",
        "iran",
        "backs",
        "liwa-al-quds",
        proto::Certainty::Confirmed,
    );
    if let Some(Body::Claim(claim)) = &mut c.body {
        claim.valid = "2013/..".into();
    }
    append(&mut client, vec![c]).await.expect("claim");
    let got = get(&mut client, Selector::Id("c1".into()))
        .await
        .expect("claim");
    let Some(Body::Claim(claim)) = got.body else {
        panic!("a claim")
    };
    let span = claim.valid_span.expect("span");
    assert_eq!(
        (span.earliest.as_str(), span.latest.as_str()),
        ("2013-01-01", "")
    );
    server.stop().await;
}

#[tokio::test]
async fn read_log_streams_in_order_from_any_position() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    append_attacks(&mut client, 3, 300, "2022-09-24").await;
    let all = read_all(&mut client).await;
    assert_eq!(
        all.iter().map(|e| e.position).collect::<Vec<_>>(),
        (1..=903).collect::<Vec<_>>()
    );

    let positions: Vec<u64> = read_log(&mut client, 500, 10)
        .await
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(positions, (500..510).collect::<Vec<_>>());

    let mut beyond = client
        .read_log(proto::ReadLogRequest {
            from_position: 10_000,
            max_entries: 0,
        })
        .await
        .expect("ReadLog")
        .into_inner();
    assert!(beyond.message().await.expect("end").is_none());
    server.stop().await;
}

#[tokio::test]
async fn resolve_actor_ignores_case_diacritics_apostrophes_and_punctuation() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut actors = seed_actors();
    actors.push(actor_with(
        "quds-force",
        "Quds Force",
        proto::ActorKind::Military,
        &["IRGC-QF"],
        "IRN",
    ));
    append(&mut client, actors).await.expect("actors");
    let resolve = |name: &str| proto::ResolveActorRequest {
        name: name.into(),
        limit: 0,
        min_position: 0,
    };
    for name in [
        "liwa al quds",
        "Jerusalem Brigade",
        "LIWA' AL-QUDS",
        "Liwā’ al-Quds",
        "liwa-al-quds",
    ] {
        let found = client
            .resolve_actor(resolve(name))
            .await
            .expect("resolve")
            .into_inner();
        assert_eq!(
            found.matches.first().map(|a| a.id.as_str()),
            Some("liwa-al-quds"),
            "{name}"
        );
    }
    let moscow = client
        .resolve_actor(resolve("moscow"))
        .await
        .expect("resolve")
        .into_inner();
    assert_eq!(
        moscow
            .matches
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        vec!["russia"]
    );

    // "quds": no exact name; Quds Force starts with it, Liwa' al-Quds only contains it.
    let quds = client
        .resolve_actor(resolve("Quds"))
        .await
        .expect("resolve")
        .into_inner();
    let ids: Vec<&str> = quds.matches.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["liwa-al-quds", "quds-force"],
        "Quds Brigade alias starts with quds too"
    );
    let brigade = client
        .resolve_actor(resolve("brigade quds"))
        .await
        .expect("resolve")
        .into_inner();
    assert_eq!(brigade.matches[0].id, "liwa-al-quds");

    let none = client
        .resolve_actor(resolve("Hezbollah"))
        .await
        .expect("resolve")
        .into_inner();
    assert!(none.matches.is_empty());
    assert_status(
        client.resolve_actor(resolve(" -' ")).await,
        Code::InvalidArgument,
        &["name"],
    );
    assert_status(
        client
            .resolve_actor(proto::ResolveActorRequest {
                name: "x".into(),
                limit: 101,
                min_position: 0,
            })
            .await,
        Code::InvalidArgument,
        &["limit", "maximum is 100"],
    );
    server.stop().await;
}

#[tokio::test]
async fn exact_names_rank_before_aliases_and_prefixes() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(
        &mut client,
        vec![
            actor_with(
                "a-alias",
                "Something Else",
                proto::ActorKind::ArmedGroup,
                &["Hamza Division"],
                "",
            ),
            actor(
                "a-prefix",
                "Hamza Division Remnants",
                proto::ActorKind::ArmedGroup,
            ),
            actor("a-name", "Hamza Division", proto::ActorKind::ArmedGroup),
        ],
    )
    .await
    .expect("actors");
    let ids = resolve_ids(&mut client, "hamza division").await;
    assert_eq!(ids, vec!["a-name", "a-alias", "a-prefix"]);
    let limited = client
        .resolve_actor(proto::ResolveActorRequest {
            name: "hamza division".into(),
            limit: 1,
            min_position: 0,
        })
        .await
        .expect("resolve")
        .into_inner();
    assert_eq!(limited.matches.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn get_actor_and_list_actors_page_through_latest_revisions() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut actors = seed_actors();
    for i in 0..7 {
        actors.push(actor_with(
            &format!("group-{i}"),
            &format!("Group {i}"),
            proto::ActorKind::ArmedGroup,
            &[],
            "SYR",
        ));
    }
    append(&mut client, actors).await.expect("actors");

    let got = client
        .get_actor(proto::GetActorRequest { id: "iran".into() })
        .await
        .expect("GetActor")
        .into_inner();
    assert_eq!(got.actor.expect("actor").name, "Iran");
    assert_eq!(got.position, 2);
    assert_status(
        client
            .get_actor(proto::GetActorRequest {
                id: "hezbollah".into(),
            })
            .await,
        Code::NotFound,
        &["hezbollah", "ResolveActor"],
    );

    let mut ids = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    for _ in 0..10 {
        pages += 1;
        let page = client
            .list_actors(proto::ListActorsRequest {
                page_size: 5,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("ListActors")
            .into_inner();
        assert!(page.actors.len() <= 5);
        ids.extend(page.actors.into_iter().map(|a| a.id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    // 10 actors in pages of 5: the second page is full and still says it is the last.
    assert_eq!(pages, 2);
    let mut expected: Vec<String> = ["iran", "liwa-al-quds", "russia"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    expected.extend((0..7).map(|i| format!("group-{i}")));
    expected.sort();
    assert_eq!(ids, expected);

    let states = client
        .list_actors(proto::ListActorsRequest {
            kind: proto::ActorKind::State as i32,
            ..Default::default()
        })
        .await
        .expect("ListActors")
        .into_inner();
    assert_eq!(
        states
            .actors
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        vec!["iran", "russia"]
    );
    let syrian = client
        .list_actors(proto::ListActorsRequest {
            country: "SYR".into(),
            ..Default::default()
        })
        .await
        .expect("ListActors")
        .into_inner();
    assert_eq!(syrian.actors.len(), 8);

    assert_status(
        client
            .list_actors(proto::ListActorsRequest {
                page_token: "tampered".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["page_token", "next_page_token"],
    );
    assert_status(
        client
            .list_actors(proto::ListActorsRequest {
                page_size: 1001,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["page_size"],
    );
    server.stop().await;
}

#[tokio::test]
async fn relation_types_and_log_info_describe_the_server() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let types = client
        .list_relation_types(proto::ListRelationTypesRequest {})
        .await
        .expect("ListRelationTypes")
        .into_inner()
        .relation_types;
    let backs = types.iter().find(|t| t.key == "backs").expect("backs");
    assert!(!backs.symmetric);
    assert_eq!(backs.inverse, "backed by");
    assert_eq!(backs.cameo_root, "07");
    let clashes = types
        .iter()
        .find(|t| t.key == "clashes_with")
        .expect("clashes_with");
    assert!(clashes.symmetric);
    assert!(types.windows(2).all(|w| w[0].key < w[1].key));

    let mut batch = seed_actors();
    batch.push(event("e1", "backs", "iran", "liwa-al-quds", "2013/.."));
    batch.push(claim(
        "c1",
        "russia",
        "coordinates_with",
        "iran",
        proto::Certainty::Speculated,
    ));
    append(&mut client, batch).await.expect("append");
    let info = client
        .get_log_info(proto::GetLogInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.head, 5);
    assert_eq!(
        (
            info.actor_entries,
            info.event_entries,
            info.claim_entries,
            info.actors
        ),
        (3, 1, 1, 3)
    );
    assert!(info.store_size_bytes > 0);
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.relation_types as usize, types.len());
    server.stop().await;
}

#[tokio::test]
async fn large_entries_stream_in_messages_a_default_client_accepts() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let big: Vec<_> = (0..200)
        .map(|i| {
            let mut a = actor(&format!("a{i}"), "A", proto::ActorKind::Person);
            if let Some(Body::Actor(actor)) = &mut a.body {
                actor.description = "d".repeat(16_000);
            }
            a
        })
        .collect();
    append(&mut client, big[..100].to_vec())
        .await
        .expect("append");
    append(&mut client, big[100..].to_vec())
        .await
        .expect("append");
    // A client with the default 4 MiB message limit reads 3.2 MB of entries.
    let mut default_client =
        eventlog::proto::event_log_client::EventLogClient::connect(server.url())
            .await
            .expect("connect");
    let mut stream = default_client
        .read_log(proto::ReadLogRequest {
            from_position: 1,
            max_entries: 0,
        })
        .await
        .expect("ReadLog")
        .into_inner();
    let mut messages = 0;
    let mut count = 0;
    while let Some(chunk) = stream.message().await.expect("chunk within the limit") {
        messages += 1;
        count += chunk.entries.len();
    }
    assert_eq!(count, 200);
    assert!(messages >= 4, "{messages} messages");
    let mut subscription = default_client
        .subscribe(proto::SubscribeRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    let said = read_through(&mut subscription, 200).await;
    assert_eq!(positions(&said), (1..=200).collect::<Vec<_>>());
    server.stop().await;
}
