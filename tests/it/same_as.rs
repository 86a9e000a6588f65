//! Actors that turn out to be the same (`Actor.same_as`) through gRPC: a link makes queries,
//! the relation graph and subscription filters that name either actor cover both and say so;
//! a later revision without it undoes it; `as_of_position` answers as the links stood then;
//! bad links are refused with the head unchanged.

use crate::common;

use common::*;
use eventlog::proto;
use eventlog::proto::entry::Body;
use eventlog::proto::event_log_client::EventLogClient;
use tonic::transport::Channel;
use tonic::Code;

type Client = EventLogClient<Channel>;

/// The GDELT-coded Hezbollah, as a revision declaring `same_as` (and a description, so that
/// the undoing revision differs from the first).
fn cameo(same_as: &[&str], description: &str) -> proto::Entry {
    entry(Body::Actor(proto::Actor {
        id: "cameo-lbnreb".into(),
        name: "Lebanon rebels (CAMEO LBNREB)".into(),
        kind: proto::ActorKind::ArmedGroup as i32,
        same_as: same_as.iter().map(|s| s.to_string()).collect(),
        description: description.into(),
        ..Default::default()
    }))
}

/// Hezbollah twice over, Israel and Iran, with events and claims on each Hezbollah. Returns the
/// head.
async fn seed(client: &mut Client) -> u64 {
    use proto::ActorKind::*;
    let entries = vec![
        actor("hezbollah", "Hezbollah", ArmedGroup),
        cameo(&[], "coded by GDELT"),
        actor("israel", "Israel", State),
        actor("iran", "Iran", State),
        event("e-h1", "attacks", "hezbollah", "israel", "2020-05"),
        event("e-c1", "attacks", "cameo-lbnreb", "israel", "2021-05"),
        event("e-c2", "attacks", "israel", "cameo-lbnreb", "2022-05"),
        claim(
            "cl-h",
            "iran",
            "backs",
            "hezbollah",
            proto::Certainty::Reported,
        ),
        claim(
            "cl-c",
            "iran",
            "backs",
            "cameo-lbnreb",
            proto::Certainty::Alleged,
        ),
    ];
    append(client, entries).await.expect("seed").head
}

/// Event ids and what the answer covered, for `actor` as of `as_of` (0 = the head).
async fn events_of(client: &mut Client, actor: &str, as_of: u64) -> (Vec<String>, Vec<String>) {
    let response = client
        .query_events(proto::QueryEventsRequest {
            actor: actor.into(),
            as_of_position: as_of,
            ..Default::default()
        })
        .await
        .expect("QueryEvents")
        .into_inner();
    let ids = response.entries.iter().map(entry_id).collect();
    (ids, covered(&response.covered, "actor"))
}

/// The ids a response covered for `field`.
fn covered(covered: &[proto::ActorsCovered], field: &str) -> Vec<String> {
    covered
        .iter()
        .find(|c| c.field == field)
        .map(|c| c.actor_ids.clone())
        .unwrap_or_default()
}

/// Edges ("subject relation object") and covered ids of ListRelations for `actor`.
async fn relations_of(client: &mut Client, actor: &str, as_of: u64) -> (Vec<String>, Vec<String>) {
    let response = client
        .list_relations(proto::ListRelationsRequest {
            actor: actor.into(),
            as_of_position: as_of,
            ..Default::default()
        })
        .await
        .expect("ListRelations")
        .into_inner();
    let mut edges: Vec<String> = response
        .edges
        .iter()
        .map(|e| format!("{} {} {}", e.subject, e.relation, e.object))
        .collect();
    edges.sort();
    (edges, covered(&response.covered, "actor"))
}

/// Claim ids about `object` and what that field covered.
async fn claims_about(client: &mut Client, object: &str) -> (Vec<String>, Vec<String>) {
    let response = client
        .query_claims(proto::QueryClaimsRequest {
            object: object.into(),
            ..Default::default()
        })
        .await
        .expect("QueryClaims")
        .into_inner();
    let ids = response.entries.iter().map(entry_id).collect();
    (ids, covered(&response.covered, "object"))
}

#[tokio::test]
async fn a_link_covers_both_actors_until_undone_and_as_of_answers_as_links_stood() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let before = seed(&mut client).await;
    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // Separate actors: separate answers, each covering itself.
    assert_eq!(
        events_of(&mut client, "hezbollah", 0).await,
        (ids(&["e-h1"]), ids(&["hezbollah"]))
    );
    assert_eq!(
        relations_of(&mut client, "hezbollah", 0).await.0,
        ids(&["hezbollah attacks israel", "iran backs hezbollah"])
    );

    // The curated actor and the GDELT one are found to be the same.
    let linked = append(&mut client, vec![cameo(&["hezbollah"], "coded by GDELT")])
        .await
        .expect("the link appends")
        .head;
    let both = (
        ids(&["e-h1", "e-c1", "e-c2"]),
        ids(&["hezbollah", "cameo-lbnreb"]),
    );
    assert_eq!(events_of(&mut client, "hezbollah", 0).await, both);
    assert_eq!(
        events_of(&mut client, "Hezbollah", 0).await,
        both,
        "by name too"
    );
    assert_eq!(
        events_of(&mut client, "cameo-lbnreb", 0).await,
        (
            ids(&["e-h1", "e-c1", "e-c2"]),
            ids(&["cameo-lbnreb", "hezbollah"])
        ),
        "the link counts from the side that did not declare it"
    );
    let graph = ids(&[
        "cameo-lbnreb attacks israel",
        "hezbollah attacks israel",
        "iran backs cameo-lbnreb",
        "iran backs hezbollah",
        "israel attacks cameo-lbnreb",
    ]);
    assert_eq!(
        relations_of(&mut client, "hezbollah", 0).await,
        (graph.clone(), ids(&["hezbollah", "cameo-lbnreb"]))
    );
    assert_eq!(relations_of(&mut client, "cameo-lbnreb", 0).await.0, graph);
    assert_eq!(
        claims_about(&mut client, "hezbollah").await,
        (ids(&["cl-h", "cl-c"]), ids(&["hezbollah", "cameo-lbnreb"]))
    );
    // A counterpart in the class of the actor: every event of the class involves it.
    let pair = client
        .query_events(proto::QueryEventsRequest {
            actor: "israel".into(),
            counterpart: "hezbollah".into(),
            ..Default::default()
        })
        .await
        .expect("QueryEvents")
        .into_inner();
    assert_eq!(
        pair.entries.iter().map(entry_id).collect::<Vec<_>>(),
        ids(&["e-h1", "e-c1", "e-c2"])
    );
    assert_eq!(covered(&pair.covered, "actor"), ids(&["israel"]));
    assert_eq!(
        covered(&pair.covered, "counterpart"),
        ids(&["hezbollah", "cameo-lbnreb"])
    );

    // Undone by a later revision without the link: separate answers again.
    append(
        &mut client,
        vec![cameo(&[], "coded by GDELT; not the same after all")],
    )
    .await
    .expect("the undoing revision appends");
    assert_eq!(
        events_of(&mut client, "hezbollah", 0).await,
        (ids(&["e-h1"]), ids(&["hezbollah"]))
    );
    assert_eq!(
        events_of(&mut client, "cameo-lbnreb", 0).await,
        (ids(&["e-c1", "e-c2"]), ids(&["cameo-lbnreb"]))
    );
    assert_eq!(
        relations_of(&mut client, "hezbollah", 0).await.0,
        ids(&["hezbollah attacks israel", "iran backs hezbollah"])
    );
    assert_eq!(
        claims_about(&mut client, "hezbollah").await.0,
        ids(&["cl-h"])
    );

    // As the links stood: linked between the link and the undo, separate before the link.
    assert_eq!(events_of(&mut client, "hezbollah", linked).await, both);
    assert_eq!(
        relations_of(&mut client, "hezbollah", linked).await.0,
        graph
    );
    assert_eq!(
        events_of(&mut client, "hezbollah", before).await,
        (ids(&["e-h1"]), ids(&["hezbollah"]))
    );

    // The link history is an index like the others: it survives a restart.
    let mut server = server;
    server.restart().await;
    let mut client = server.client().await;
    assert_eq!(events_of(&mut client, "hezbollah", linked).await, both);
    assert_eq!(
        events_of(&mut client, "hezbollah", 0).await.0,
        ids(&["e-h1"])
    );
    server.stop().await;
}

#[tokio::test]
async fn links_chain_and_count_both_ways() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    // hizbullah-acled declares cameo-lbnreb, which declares hezbollah: one class of three.
    append(
        &mut client,
        vec![
            cameo(&["hezbollah"], "coded by GDELT"),
            actor(
                "hizbullah-acled",
                "Hizbullah (ACLED)",
                proto::ActorKind::ArmedGroup,
            ),
        ],
    )
    .await
    .expect("appends");
    append(
        &mut client,
        vec![
            entry(Body::Actor(proto::Actor {
                id: "hizbullah-acled".into(),
                name: "Hizbullah (ACLED)".into(),
                kind: proto::ActorKind::ArmedGroup as i32,
                same_as: vec!["cameo-lbnreb".into()],
                ..Default::default()
            })),
            event("e-a1", "attacks", "hizbullah-acled", "israel", "2023-01"),
        ],
    )
    .await
    .expect("appends");
    let (events, covered) = events_of(&mut client, "hezbollah", 0).await;
    assert_eq!(events, ["e-h1", "e-c1", "e-c2", "e-a1"]);
    assert_eq!(covered, ["hezbollah", "cameo-lbnreb", "hizbullah-acled"]);
    server.stop().await;
}

#[tokio::test]
async fn a_subscription_covers_the_class_as_the_links_stood_when_it_started() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    let filtered = || proto::SubscribeRequest {
        filter: Some(proto::SubscriptionFilter {
            actors: vec!["hezbollah".into()],
            kinds: vec![proto::EntryKind::Event as i32],
            ..Default::default()
        }),
        ..from_position(1)
    };
    let mut started_before = subscribe(&mut client, filtered())
        .await
        .expect("subscribes");
    append(&mut client, vec![cameo(&["hezbollah"], "coded by GDELT")])
        .await
        .expect("the link appends");
    let head = append(
        &mut client,
        vec![
            event("e-c3", "attacks", "cameo-lbnreb", "israel", "2023-05"),
            event("e-h2", "attacks", "hezbollah", "israel", "2023-06"),
        ],
    )
    .await
    .expect("appends")
    .head;
    let delivered = |said: Vec<Said>| -> Vec<String> {
        said.iter()
            .filter_map(|s| match s {
                Said::Entry(e) => Some(entry_id(e)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        delivered(read_through(&mut started_before, head).await),
        ["e-h1", "e-h2"],
        "fixed when it started: the link came later"
    );
    let mut started_after = subscribe(&mut client, filtered())
        .await
        .expect("subscribes");
    assert_eq!(
        delivered(read_through(&mut started_after, head).await),
        ["e-h1", "e-c1", "e-c2", "e-c3", "e-h2"]
    );
    server.stop().await;
}

#[tokio::test]
async fn a_link_to_an_unknown_actor_or_to_itself_is_refused_and_nothing_is_written() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let seeded = seed(&mut client).await;
    assert_status(
        append(&mut client, vec![cameo(&["hezbollah", "nobody"], "")]).await,
        Code::FailedPrecondition,
        &["actor.same_as[1]", "\"nobody\"", "is not in the log"],
    );
    assert_status(
        append(&mut client, vec![cameo(&["cameo-lbnreb"], "")]).await,
        Code::InvalidArgument,
        &["actor.same_as[0]", "the actor itself"],
    );
    assert_status(
        append(&mut client, vec![cameo(&["hezbollah", "hezbollah"], "")]).await,
        Code::InvalidArgument,
        &["actor.same_as[1]", "twice"],
    );
    let too_many: Vec<String> = (0..17).map(|n| format!("a{n}")).collect();
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    assert_status(
        append(&mut client, vec![cameo(&refs, "")]).await,
        Code::InvalidArgument,
        &["actor.same_as", "limit is 16"],
    );
    assert_status(
        append(&mut client, vec![cameo(&["e-h1"], "")]).await,
        Code::FailedPrecondition,
        &["actor.same_as[0]", "is an event, not an actor"],
    );
    assert_eq!(head(&mut client).await, seeded, "nothing was written");
    assert_eq!(
        events_of(&mut client, "hezbollah", 0).await.1,
        ["hezbollah"]
    );
    server.stop().await;
}
