//! QueryEvents, QueryClaims and ListRelations through gRPC: every filter, the fuzzy-date
//! semantics, aliases, symmetric relations, corrections, snapshots, paging and bad input.

use crate::common;

use common::*;
use eventlog::proto;
use eventlog::proto::entry::Body;
use eventlog::proto::event_log_client::EventLogClient;
use tonic::transport::Channel;
use tonic::Code;

type Client = EventLogClient<Channel>;

/// An event with a certainty and a location country.
fn dated(
    id: &str,
    relation: &str,
    initiator: &str,
    target: &str,
    date: &str,
    certainty: proto::Certainty,
    country: &str,
) -> proto::Entry {
    let mut event = event_body(id, relation, initiator, target, date);
    event.certainty = certainty as i32;
    event.location = Some(proto::Location {
        name: "somewhere".into(),
        country: country.into(),
        ..Default::default()
    });
    entry(Body::Event(event))
}

/// The actors and events of the article, coded by hand. Dates in comments are the spans.
async fn seed(client: &mut Client) {
    use proto::ActorKind::*;
    use proto::Certainty::*;
    let mut entries = seed_actors();
    entries.push(actor_with(
        "hezbollah",
        "Hezbollah",
        ArmedGroup,
        &["Hizballah"],
        "LBN",
    ));
    entries.push(actor_with(
        "fatemiyoun",
        "Fatemiyoun Division",
        ArmedGroup,
        &["Liwa Fatemiyoun"],
        "AFG",
    ));
    entries.push(actor_with(
        "wagner",
        "Wagner Group",
        PrivateMilitaryCompany,
        &["PMC Wagner"],
        "RUS",
    ));
    entries.extend([
        // 2015-09-01..2015-09-30
        dated(
            "e1",
            "backs",
            "russia",
            "liwa-al-quds",
            "2015-09",
            Confirmed,
            "SYR",
        ),
        // 2019-01-01..2019-12-31
        dated(
            "e2",
            "trains",
            "iran",
            "fatemiyoun",
            "2019",
            Reported,
            "SYR",
        ),
        // mid-March 2022, approximate: 2022-02-01..2022-04-30
        dated(
            "e3",
            "clashes_with",
            "liwa-al-quds",
            "fatemiyoun",
            "2022-03~",
            Reported,
            "SYR",
        ),
        // "later in 2022": 2022-01-01..2022-12-31
        dated(
            "e4",
            "clashes_with",
            "fatemiyoun",
            "liwa-al-quds",
            "2022",
            Alleged,
            "SYR",
        ),
        dated(
            "e5",
            "clashes_with",
            "liwa-al-quds",
            "hezbollah",
            "2022-09-24",
            Confirmed,
            "SYR",
        ),
        dated(
            "e6",
            "attacks",
            "hezbollah",
            "liwa-al-quds",
            "2023-01-15",
            Reported,
            "LBN",
        ),
        // spring 2022: 2022-03-01..2022-05-31
        dated(
            "e7",
            "recruits",
            "wagner",
            "liwa-al-quds",
            "2022-21",
            Alleged,
            "SYR",
        ),
        dated(
            "e8",
            "backs",
            "iran",
            "hezbollah",
            "2015/2023",
            Confirmed,
            "LBN",
        ),
        dated(
            "e9",
            "backs",
            "iran",
            "fatemiyoun",
            "2014/..",
            Reported,
            "SYR",
        ),
    ]);
    append(client, entries).await.expect("seed appends");
}

fn events_request() -> proto::QueryEventsRequest {
    proto::QueryEventsRequest::default()
}

/// Every page of a QueryEvents answer; returns the ids in order.
async fn query_events(client: &mut Client, request: proto::QueryEventsRequest) -> Vec<String> {
    let mut ids = Vec::new();
    let mut request = request;
    for _ in 0..100 {
        let page = client
            .query_events(request.clone())
            .await
            .expect("query succeeds")
            .into_inner();
        ids.extend(page.entries.into_iter().map(|e| entry_id(&e)));
        if page.next_page_token.is_empty() {
            return ids;
        }
        request.page_token = page.next_page_token;
    }
    panic!("paging did not end");
}

/// Every page of a QueryClaims answer; returns the ids in order.
async fn query_claims(client: &mut Client, request: proto::QueryClaimsRequest) -> Vec<String> {
    let mut ids = Vec::new();
    let mut request = request;
    for _ in 0..100 {
        let page = client
            .query_claims(request.clone())
            .await
            .expect("query succeeds")
            .into_inner();
        ids.extend(page.entries.into_iter().map(|e| entry_id(&e)));
        if page.next_page_token.is_empty() {
            return ids;
        }
        request.page_token = page.next_page_token;
    }
    panic!("paging did not end");
}

fn dates(from: &str, to: &str, date_match: proto::DateMatch) -> proto::QueryEventsRequest {
    proto::QueryEventsRequest {
        date_from: from.into(),
        date_to: to.into(),
        date_match: date_match as i32,
        ..events_request()
    }
}

#[tokio::test]
async fn fuzzy_dates_overlap_or_lie_within_at_every_precision() {
    use proto::DateMatch::{Overlaps, Unspecified, Within};
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    let cases: &[(&str, &str, proto::DateMatch, &[&str])] = &[
        // A month: a year-dated event may have happened in it, a day-dated one did.
        ("2022-09", "2022-09", Overlaps, &["e9", "e8", "e4", "e5"]),
        ("2022-09", "2022-09", Unspecified, &["e9", "e8", "e4", "e5"]),
        ("2022-09", "2022-09", Within, &["e5"]),
        // A year.
        ("2022", "2022", Within, &["e4", "e3", "e7", "e5"]),
        (
            "2022",
            "2022",
            Overlaps,
            &["e9", "e8", "e4", "e3", "e7", "e5"],
        ),
        // A day.
        (
            "2022-09-24",
            "2022-09-24",
            Overlaps,
            &["e9", "e8", "e4", "e5"],
        ),
        ("2022-09-24", "2022-09-24", Within, &["e5"]),
        // An interval of years, and intervals open on one side.
        ("2015", "2016", Overlaps, &["e9", "e8", "e1"]),
        ("2015", "2016", Within, &["e1"]),
        ("2023", "", Overlaps, &["e9", "e8", "e6"]),
        ("2023", "", Within, &["e6"]),
        ("", "2015", Within, &["e1"]),
        ("", "2014-06", Overlaps, &["e9"]),
        // Approximate March 2022 reaches into February.
        ("2022-02", "2022-02", Overlaps, &["e9", "e8", "e4", "e3"]),
    ];
    for (from, to, date_match, want) in cases {
        let got = query_events(&mut client, dates(from, to, *date_match)).await;
        assert_eq!(&got, want, "{from}..{to} {date_match:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_name_two_actors_share_is_refused_listing_both_and_a_partial_one_suggests() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    // A GDELT-style actor with the curated one's name.
    append(
        &mut client,
        vec![
            actor_with(
                "cameo-lbnreb",
                "Hezbollah",
                proto::ActorKind::ArmedGroup,
                &[],
                "LBN",
            ),
            event("g1", "attacks", "cameo-lbnreb", "liwa-al-quds", "2016"),
        ],
    )
    .await
    .expect("append");
    let events_of = |actor: &str| proto::QueryEventsRequest {
        actor: actor.into(),
        ..events_request()
    };
    assert_status(
        client.query_events(events_of("Hezbollah")).await,
        Code::InvalidArgument,
        &[
            "actor: \"Hezbollah\" names 2 actors",
            "hezbollah",
            "cameo-lbnreb",
            "ids",
        ],
    );
    // Ids always work, and so does a name only one of them has.
    assert_eq!(
        query_events(&mut client, events_of("cameo-lbnreb")).await,
        ["g1"]
    );
    assert_eq!(
        query_events(&mut client, events_of("hezbollah")).await,
        query_events(&mut client, events_of("Hizballah")).await
    );
    assert!(!query_events(&mut client, events_of("hezbollah"))
        .await
        .contains(&"g1".to_string()));
    assert_status(
        client
            .query_events(proto::QueryEventsRequest {
                actor: "russia".into(),
                counterpart: "Hezbollah".into(),
                ..events_request()
            })
            .await,
        Code::InvalidArgument,
        &["counterpart:", "names 2 actors"],
    );
    assert_status(
        client
            .query_claims(proto::QueryClaimsRequest {
                subject: "Hezbollah".into(),
                ..claims_request()
            })
            .await,
        Code::InvalidArgument,
        &["subject:", "names 2 actors"],
    );
    assert_status(
        client
            .list_relations(proto::ListRelationsRequest {
                actor: "Hezbollah".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        &["actor:", "names 2 actors"],
    );
    let filtered = client
        .subscribe(proto::SubscribeRequest {
            start: Some(proto::subscribe_request::Start::FromPosition(1)),
            filter: Some(proto::SubscriptionFilter {
                actors: vec!["russia".into(), "Hezbollah".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert_status(
        filtered,
        Code::InvalidArgument,
        &["filter.actors[1]:", "names 2 actors"],
    );
    // A name that only starts one actor's name is not taken for it, but suggested.
    assert_status(
        client.query_events(events_of("Fatemiyoun Div")).await,
        Code::NotFound,
        &["did you mean fatemiyoun (\"Fatemiyoun Division\")?"],
    );
    assert_status(
        client.query_events(events_of("Group Wagner")).await,
        Code::NotFound,
        &["did you mean wagner (\"Wagner Group\")?"],
    );
    // Spellings analysts use: a typo, another transliteration. Suggested, never taken.
    assert_status(
        client.query_events(events_of("Hezbolah")).await,
        Code::NotFound,
        &[
            "no actor is called \"Hezbolah\"",
            "did you mean",
            "hezbollah (\"Hezbollah\")",
        ],
    );
    assert_status(
        client.query_events(events_of("Hizbullah")).await,
        Code::NotFound,
        &["did you mean", "hezbollah (\"Hezbollah\")"],
    );
    assert_status(
        client.query_events(events_of("Fatimiyoun")).await,
        Code::NotFound,
        &["did you mean fatemiyoun"],
    );
    // ResolveActor lists near spellings after every better kind of match.
    assert_eq!(resolve_ids(&mut client, "Hizbullah").await, ["hezbollah"]);
    assert_status(
        client.query_events(events_of("Atlantis")).await,
        Code::NotFound,
        &["ResolveActor and ListActors show the actors"],
    );
    server.stop().await;
}

/// The ranked matches `ResolveActor` gives for `name`.
async fn ranked(client: &mut Client, name: &str) -> Vec<proto::ActorMatch> {
    client
        .resolve_actor(proto::ResolveActorRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .expect("ResolveActor")
        .into_inner()
        .ranked
}

#[tokio::test]
async fn resolve_actor_says_which_name_matched_how_and_how_closely() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    let typo = ranked(&mut client, "Hezbolah").await;
    let first = typo.first().expect("a near match");
    assert_eq!(
        first.actor.as_ref().map(|a| a.id.as_str()),
        Some("hezbollah")
    );
    assert_eq!(first.kind, proto::MatchKind::Near as i32);
    assert_eq!(first.matched_name, "Hezbollah");
    assert!(first.score < 1.0 && first.score > 0.8, "{first:?}");

    let alias = ranked(&mut client, "hizballah").await;
    let first = alias.first().expect("an alias match");
    assert_eq!(
        first.actor.as_ref().map(|a| a.id.as_str()),
        Some("hezbollah")
    );
    assert_eq!(first.kind, proto::MatchKind::Alias as i32);
    assert_eq!(first.matched_name, "Hizballah");
    assert_eq!(first.score, 1.0);

    let by_id = ranked(&mut client, "liwa-al-quds").await;
    let first = by_id.first().expect("an id match");
    assert_eq!(
        first.actor.as_ref().map(|a| a.id.as_str()),
        Some("liwa-al-quds")
    );
    assert_eq!(first.score, 1.0);
    assert!(
        [proto::MatchKind::Id as i32, proto::MatchKind::Name as i32].contains(&first.kind),
        "liwa-al-quds folds like its name: {first:?}"
    );
    let wagner = ranked(&mut client, "wagner").await;
    let id_match = wagner
        .iter()
        .find(|m| m.kind == proto::MatchKind::Id as i32)
        .expect("the id matches");
    assert_eq!(
        (id_match.matched_name.as_str(), id_match.score),
        ("wagner", 1.0)
    );

    let prefix = ranked(&mut client, "Fatemiyoun Div").await;
    let first = prefix.first().expect("a prefix match");
    assert_eq!(first.kind, proto::MatchKind::Prefix as i32);
    assert_eq!(first.matched_name, "Fatemiyoun Division");
    assert!(first.score < 1.0, "{first:?}");
    // `matches` keeps listing the same actors, in the same order, for older clients.
    assert_eq!(
        resolve_ids(&mut client, "Hezbolah").await,
        typo.iter()
            .filter_map(|m| m.actor.as_ref().map(|a| a.id.clone()))
            .collect::<Vec<_>>()
    );
    server.stop().await;
}

#[tokio::test]
async fn actors_are_found_by_alias_with_role_and_counterpart() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    let by = |actor: &str, role: proto::Role, counterpart: &str| proto::QueryEventsRequest {
        actor: actor.into(),
        role: role as i32,
        counterpart: counterpart.into(),
        ..events_request()
    };
    use proto::Role::{Initiator, Target, Unspecified};
    // "Moscow" is Russia, "Tehran" is Iran, the Jerusalem Brigade is Liwa' al-Quds.
    assert_eq!(
        query_events(&mut client, by("Moscow", Unspecified, "")).await,
        ["e1"]
    );
    assert_eq!(
        query_events(&mut client, by("tehran", Initiator, "")).await,
        ["e9", "e8", "e2"]
    );
    assert_eq!(
        query_events(&mut client, by("Jerusalem Brigade", Target, "")).await,
        // clashes_with is symmetric: being its target is being its initiator.
        ["e1", "e4", "e3", "e7", "e5", "e6"]
    );
    assert_eq!(
        query_events(&mut client, by("liwa-al-quds", Initiator, "")).await,
        ["e4", "e3", "e5"]
    );
    assert_eq!(
        query_events(&mut client, by("Liwa al Quds", Unspecified, "Fatemiyoun")).await,
        ["e4", "e3"]
    );
    assert_eq!(
        query_events(&mut client, by("", Unspecified, "Hizballah")).await,
        ["e8", "e5", "e6"]
    );
    let unknown = client.query_events(by("Atlantis", Unspecified, "")).await;
    assert_status(unknown, Code::NotFound, &["actor", "Atlantis"]);
    let unknown = client
        .query_events(by("russia", Unspecified, "Atlantis"))
        .await;
    assert_status(unknown, Code::NotFound, &["counterpart"]);
    server.stop().await;
}

#[tokio::test]
async fn relations_country_certainty_and_order_filter_and_sort() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    let relations = |keys: &[&str]| proto::QueryEventsRequest {
        relations: keys.iter().map(|k| k.to_string()).collect(),
        ..events_request()
    };
    assert_eq!(
        query_events(&mut client, relations(&["backs"])).await,
        ["e9", "e8", "e1"]
    );
    assert_eq!(
        query_events(&mut client, relations(&["recruits", "attacks"])).await,
        ["e7", "e6"]
    );
    // "Which clashes between Russia-backed and Iran-backed groups happened in 2022?"
    let clashes = proto::QueryEventsRequest {
        actor: "Liwa' al-Quds".into(),
        counterpart: "Fatemiyoun".into(),
        relations: vec!["clashes_with".into()],
        date_from: "2022".into(),
        date_to: "2022".into(),
        ..events_request()
    };
    assert_eq!(query_events(&mut client, clashes).await, ["e4", "e3"]);
    let lebanon = proto::QueryEventsRequest {
        country: "LBN".into(),
        ..events_request()
    };
    assert_eq!(query_events(&mut client, lebanon).await, ["e8", "e6"]);
    let confirmed = proto::QueryEventsRequest {
        min_certainty: proto::Certainty::Confirmed as i32,
        ..events_request()
    };
    assert_eq!(
        query_events(&mut client, confirmed).await,
        ["e8", "e1", "e5"]
    );
    let reported = proto::QueryEventsRequest {
        min_certainty: proto::Certainty::Reported as i32,
        relations: vec!["clashes_with".into()],
        ..events_request()
    };
    assert_eq!(query_events(&mut client, reported).await, ["e3", "e5"]);
    let newest_first = proto::QueryEventsRequest {
        order: proto::QueryOrder::DateDescending as i32,
        ..events_request()
    };
    assert_eq!(
        query_events(&mut client, newest_first).await,
        ["e6", "e5", "e7", "e3", "e4", "e2", "e1", "e8", "e9"]
    );
    let by_position = proto::QueryEventsRequest {
        order: proto::QueryOrder::Position as i32,
        actor: "iran".into(),
        ..events_request()
    };
    assert_eq!(
        query_events(&mut client, by_position).await,
        ["e2", "e8", "e9"]
    );
    server.stop().await;
}

/// Claims of the article's kind: who backs whom, who recruits, how sure anyone is.
async fn seed_claims(client: &mut Client) {
    use proto::Certainty::*;
    let mut claims = vec![
        claim("c1", "russia", "backs", "liwa-al-quds", Confirmed),
        claim("c2", "wagner", "recruits", "liwa-al-quds", Alleged),
        claim("c3", "iran", "recruits", "fatemiyoun", Speculated),
        claim("c4", "russia", "recruits", "fatemiyoun", Disputed),
        claim("c5", "fatemiyoun", "clashes_with", "liwa-al-quds", Reported),
        claim("c6", "iran", "backs", "liwa-al-quds", Reported),
    ];
    let valid = |entry: &mut proto::Entry, valid: &str| {
        if let Some(Body::Claim(c)) = &mut entry.body {
            c.valid = valid.into();
        }
    };
    valid(&mut claims[0], "2015/..");
    valid(&mut claims[1], "2022-21");
    valid(&mut claims[2], "2019");
    valid(&mut claims[4], "2022");
    if let Some(Body::Claim(c)) = &mut claims[5].body {
        c.negated = true;
        c.claimant = "iran".into();
        c.statement = "Tehran denies backing the Jerusalem Brigade".into();
    }
    if let Some(Body::Claim(c)) = &mut claims[1].body {
        c.claimant = "liwa-al-quds".into();
        c.event_id = "e7".into();
    }
    append(client, claims).await.expect("claims append");
}

fn claims_request() -> proto::QueryClaimsRequest {
    proto::QueryClaimsRequest::default()
}

#[tokio::test]
async fn claims_filter_by_every_field() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    seed_claims(&mut client).await;
    // Undated claims hold at an unknown time: they sort first and overlap every range.
    assert_eq!(
        query_claims(&mut client, claims_request()).await,
        ["c4", "c6", "c1", "c3", "c5", "c2"]
    );
    // "Which claims about recruitment are unconfirmed?"
    let unconfirmed = proto::QueryClaimsRequest {
        relations: vec!["recruits".into()],
        max_certainty: proto::Certainty::Alleged as i32,
        ..claims_request()
    };
    assert_eq!(
        query_claims(&mut client, unconfirmed).await,
        ["c4", "c3", "c2"]
    );
    let cases: Vec<(proto::QueryClaimsRequest, &[&str])> = vec![
        (
            proto::QueryClaimsRequest {
                subject: "Moscow".into(),
                ..claims_request()
            },
            &["c4", "c1"],
        ),
        (
            proto::QueryClaimsRequest {
                object: "Jerusalem Brigade".into(),
                ..claims_request()
            },
            &["c6", "c1", "c5", "c2"],
        ),
        // clashes_with is symmetric: Liwa' al-Quds is also its subject.
        (
            proto::QueryClaimsRequest {
                subject: "liwa-al-quds".into(),
                ..claims_request()
            },
            &["c5"],
        ),
        (
            proto::QueryClaimsRequest {
                subject: "liwa-al-quds".into(),
                object: "fatemiyoun".into(),
                ..claims_request()
            },
            &["c5"],
        ),
        (
            proto::QueryClaimsRequest {
                claimant: "Tehran".into(),
                ..claims_request()
            },
            &["c6"],
        ),
        (
            proto::QueryClaimsRequest {
                actor: "liwa-al-quds".into(),
                ..claims_request()
            },
            &["c6", "c1", "c5", "c2"],
        ),
        (
            proto::QueryClaimsRequest {
                event_id: "e7".into(),
                ..claims_request()
            },
            &["c2"],
        ),
        (
            proto::QueryClaimsRequest {
                negated: Some(true),
                ..claims_request()
            },
            &["c6"],
        ),
        // A band of certainty: reported or alleged.
        (
            proto::QueryClaimsRequest {
                min_certainty: proto::Certainty::Alleged as i32,
                max_certainty: proto::Certainty::Reported as i32,
                ..claims_request()
            },
            &["c6", "c5", "c2"],
        ),
        // A relation listed twice is asked once.
        (
            proto::QueryClaimsRequest {
                relations: vec!["backs".into(), "backs".into()],
                ..claims_request()
            },
            &["c6", "c1"],
        ),
        (
            proto::QueryClaimsRequest {
                negated: Some(false),
                min_certainty: proto::Certainty::Reported as i32,
                ..claims_request()
            },
            &["c1", "c5"],
        ),
        (
            proto::QueryClaimsRequest {
                date_from: "2022".into(),
                date_to: "2022".into(),
                date_match: proto::DateMatch::Within as i32,
                ..claims_request()
            },
            &["c5", "c2"],
        ),
        (
            proto::QueryClaimsRequest {
                date_from: "2022-04".into(),
                date_to: "2022-04".into(),
                ..claims_request()
            },
            &["c4", "c6", "c1", "c5", "c2"],
        ),
        (
            proto::QueryClaimsRequest {
                order: proto::QueryOrder::Position as i32,
                relations: vec!["backs".into()],
                ..claims_request()
            },
            &["c1", "c6"],
        ),
    ];
    for (request, want) in cases {
        let got = query_claims(&mut client, request.clone()).await;
        assert_eq!(got, want, "{request:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn corrections_are_hidden_unless_asked_for_or_asked_before_them() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    let before = head(&mut client).await;
    // A correction of e4: the clash was in October 2022, and certain.
    let mut fixed = event_body(
        "e4-fixed",
        "clashes_with",
        "fatemiyoun",
        "liwa-al-quds",
        "2022-10",
    );
    fixed.supersedes = vec!["e4".into()];
    append(&mut client, vec![entry(Body::Event(fixed))])
        .await
        .expect("correction appends");
    let clashes = |as_of: u64, include: bool| proto::QueryEventsRequest {
        relations: vec!["clashes_with".into()],
        as_of_position: as_of,
        include_superseded: include,
        ..events_request()
    };
    assert_eq!(
        query_events(&mut client, clashes(0, false)).await,
        ["e3", "e5", "e4-fixed"]
    );
    assert_eq!(
        query_events(&mut client, clashes(0, true)).await,
        ["e4", "e3", "e5", "e4-fixed"]
    );
    // What was known before the correction.
    assert_eq!(
        query_events(&mut client, clashes(before, false)).await,
        ["e4", "e3", "e5"]
    );
    let response = client
        .query_events(clashes(before, false))
        .await
        .expect("query")
        .into_inner();
    assert_eq!(response.as_of_position, before);
    let future = client.query_events(clashes(before + 100, false)).await;
    assert_status(
        future,
        Code::OutOfRange,
        &["as_of_position", "beyond the head"],
    );
    server.stop().await;
}

#[tokio::test]
async fn pages_are_stable_while_entries_are_appended() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let batch = |from: usize, to: usize| {
        (from..to)
            .map(|i| {
                event(
                    &format!("a{i:03}"),
                    "attacks",
                    "liwa-al-quds",
                    "iran",
                    &format!("2022-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
                )
            })
            .collect::<Vec<_>>()
    };
    append(&mut client, batch(0, 120)).await.expect("appends");
    let request = proto::QueryEventsRequest {
        actor: "liwa-al-quds".into(),
        page_size: 25,
        order: proto::QueryOrder::DateDescending as i32,
        ..events_request()
    };
    let everything = query_events(&mut client, request.clone()).await;
    assert_eq!(everything.len(), 120);
    let mut paged = Vec::new();
    let mut request = request;
    let mut pages = 0;
    loop {
        let page = client
            .query_events(request.clone())
            .await
            .expect("page")
            .into_inner();
        assert!(page.entries.len() <= request.page_size as usize);
        paged.extend(page.entries.iter().map(entry_id));
        pages += 1;
        // New entries, some dated inside the range already paged, appear in no page.
        append(&mut client, batch(1000 + pages * 10, 1010 + pages * 10))
            .await
            .expect("appends meanwhile");
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
        // The page size may change between pages.
        request.page_size = 40;
    }
    assert_eq!(paged, everything);
    assert!(pages >= 4);
    server.stop().await;
}

#[tokio::test]
async fn tampered_and_foreign_page_tokens_are_refused() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    seed_claims(&mut client).await;
    let request = proto::QueryEventsRequest {
        page_size: 2,
        ..events_request()
    };
    let first = client
        .query_events(request.clone())
        .await
        .expect("first page")
        .into_inner();
    let token = first.next_page_token;
    assert!(!token.is_empty());
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'a' { b'b' } else { b'a' };
    let cases = [
        String::from_utf8(tampered).expect("ascii"),
        "not-a-token".to_string(),
        token[..token.len() - 4].to_string(),
    ];
    for bad in cases {
        let result = client
            .query_events(proto::QueryEventsRequest {
                page_token: bad.clone(),
                ..request.clone()
            })
            .await;
        assert_status(
            result,
            Code::InvalidArgument,
            &["page_token", "not a token this server issued"],
        );
    }
    // A token of another query, or of the other RPC.
    let other_filters = client
        .query_events(proto::QueryEventsRequest {
            page_token: token.clone(),
            actor: "iran".into(),
            ..request.clone()
        })
        .await;
    assert_status(
        other_filters,
        Code::InvalidArgument,
        &["page_token", "different query"],
    );
    let other_rpc = client
        .query_claims(proto::QueryClaimsRequest {
            page_token: token,
            page_size: 2,
            ..claims_request()
        })
        .await;
    assert_status(other_rpc, Code::InvalidArgument, &["page_token"]);
    server.stop().await;
}

#[tokio::test]
async fn bad_query_input_names_the_field() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    let cases: Vec<(proto::QueryEventsRequest, &[&str])> = vec![
        (
            proto::QueryEventsRequest {
                page_size: 1001,
                ..events_request()
            },
            &["page_size", "1000"],
        ),
        (
            proto::QueryEventsRequest {
                date_from: "2022-13".into(),
                ..events_request()
            },
            &["date_from", "month"],
        ),
        (
            proto::QueryEventsRequest {
                date_from: "2023".into(),
                date_to: "2022".into(),
                ..events_request()
            },
            &["date_from", "after date_to"],
        ),
        (
            proto::QueryEventsRequest {
                relations: vec!["backz".into()],
                ..events_request()
            },
            &["relations[0]", "did you mean", "backs"],
        ),
        (
            proto::QueryEventsRequest {
                role: proto::Role::Initiator as i32,
                ..events_request()
            },
            &["role", "needs `actor`"],
        ),
        (
            proto::QueryEventsRequest {
                country: "Syria".into(),
                ..events_request()
            },
            &["country"],
        ),
        (
            proto::QueryEventsRequest {
                order: 9,
                ..events_request()
            },
            &["order", "QueryOrder"],
        ),
        (
            proto::QueryEventsRequest {
                date_match: 7,
                ..events_request()
            },
            &["date_match", "DateMatch"],
        ),
        (
            proto::QueryEventsRequest {
                actor: "!!!".into(),
                ..events_request()
            },
            &["actor", "no letters or digits"],
        ),
    ];
    for (request, parts) in cases {
        let result = client.query_events(request).await;
        assert_status(result, Code::InvalidArgument, parts);
    }
    let reversed = client
        .query_claims(proto::QueryClaimsRequest {
            min_certainty: proto::Certainty::Confirmed as i32,
            max_certainty: proto::Certainty::Alleged as i32,
            ..claims_request()
        })
        .await;
    assert_status(reversed, Code::InvalidArgument, &["max_certainty"]);
    let repeated = client
        .query_events(proto::QueryEventsRequest {
            relations: ["backs"; 100].iter().map(|r| r.to_string()).collect(),
            ..events_request()
        })
        .await;
    assert_status(
        repeated,
        Code::InvalidArgument,
        &["relations", "vocabulary"],
    );
    let no_event = client
        .query_claims(proto::QueryClaimsRequest {
            event_id: "e404".into(),
            ..claims_request()
        })
        .await;
    assert_status(no_event, Code::NotFound, &["event_id", "e404"]);
    let not_an_event = client
        .query_claims(proto::QueryClaimsRequest {
            event_id: "russia".into(),
            ..claims_request()
        })
        .await;
    assert_status(not_an_event, Code::NotFound, &["event_id"]);
    let no_actor = client
        .list_relations(proto::ListRelationsRequest::default())
        .await;
    assert_status(no_actor, Code::InvalidArgument, &["actor", "required"]);
    let bad_direction = client
        .list_relations(proto::ListRelationsRequest {
            actor: "russia".into(),
            direction: 5,
            ..Default::default()
        })
        .await;
    assert_status(bad_direction, Code::InvalidArgument, &["direction"]);
    server.stop().await;
}

fn edge_summary(edge: &proto::RelationEdge) -> String {
    format!(
        "{} {} {} [{}..{}] events={} claims={} {:?}{}",
        edge.subject,
        edge.relation,
        edge.object,
        edge.earliest,
        edge.latest,
        edge.event_count,
        edge.claim_count,
        proto::Certainty::try_from(edge.certainty).unwrap_or(proto::Certainty::Unspecified),
        if edge.denied { " denied" } else { "" },
    )
}

async fn relations(client: &mut Client, request: proto::ListRelationsRequest) -> Vec<String> {
    let response = client
        .list_relations(request)
        .await
        .expect("list relations")
        .into_inner();
    assert!(!response.truncated);
    response.edges.iter().map(edge_summary).collect()
}

#[tokio::test]
async fn the_relation_graph_aggregates_events_and_claims() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    seed_claims(&mut client).await;
    // "Who did Moscow back, and when?"
    let moscow = proto::ListRelationsRequest {
        actor: "Moscow".into(),
        direction: proto::Direction::Outgoing as i32,
        ..Default::default()
    };
    assert_eq!(
        relations(&mut client, moscow).await,
        [
            "russia backs liwa-al-quds [2015-01-01..] events=1 claims=1 Confirmed",
            "russia recruits fatemiyoun [..] events=0 claims=1 Disputed",
        ]
    );
    // "Who backs Liwa' al-Quds?" One claim denies that Tehran does.
    let backers = proto::ListRelationsRequest {
        actor: "Jerusalem Brigade".into(),
        direction: proto::Direction::Incoming as i32,
        relations: vec!["backs".into()],
        ..Default::default()
    };
    assert_eq!(
        relations(&mut client, backers).await,
        [
            "russia backs liwa-al-quds [2015-01-01..] events=1 claims=1 Confirmed",
            "iran backs liwa-al-quds [..] events=0 claims=1 Reported denied",
        ]
    );
    // Clashes are symmetric: reported with the asked actor as subject, in every direction.
    let clashes = proto::ListRelationsRequest {
        actor: "fatemiyoun".into(),
        relations: vec!["clashes_with".into()],
        direction: proto::Direction::Outgoing as i32,
        ..Default::default()
    };
    assert_eq!(
        relations(&mut client, clashes).await,
        ["fatemiyoun clashes_with liwa-al-quds [2022-01-01..2022-12-31] events=2 claims=1 Reported"]
    );
    let response = client
        .list_relations(proto::ListRelationsRequest {
            actor: "liwa-al-quds".into(),
            counterpart: "Hezbollah".into(),
            date_from: "2022".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    let edges: Vec<String> = response.edges.iter().map(edge_summary).collect();
    assert_eq!(
        edges,
        [
            "liwa-al-quds clashes_with hezbollah [2022-09-24..2022-09-24] events=1 claims=0 Confirmed",
            "hezbollah attacks liwa-al-quds [2023-01-15..2023-01-15] events=1 claims=0 Reported",
        ]
    );
    assert_eq!(response.edges[0].evidence_ids, ["e5"]);
    let certain_only = proto::ListRelationsRequest {
        actor: "iran".into(),
        min_certainty: proto::Certainty::Confirmed as i32,
        ..Default::default()
    };
    assert_eq!(
        relations(&mut client, certain_only).await,
        ["iran backs hezbollah [2015-01-01..2023-12-31] events=1 claims=0 Confirmed"]
    );
    server.stop().await;
}

#[tokio::test]
async fn queries_answer_the_same_after_a_restart() {
    let mut server = TestServer::start().await;
    let mut client = server.client().await;
    seed(&mut client).await;
    seed_claims(&mut client).await;
    let request = proto::QueryEventsRequest {
        actor: "liwa-al-quds".into(),
        date_from: "2022".into(),
        ..events_request()
    };
    let before = query_events(&mut client, request.clone()).await;
    server.restart().await;
    let mut client = server.client().await;
    assert_eq!(query_events(&mut client, request).await, before);
    server.stop().await;
}

#[tokio::test]
async fn a_page_of_large_entries_is_cut_to_fit_a_response() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let large: Vec<proto::Entry> = (0..100)
        .map(|i| {
            let mut e = event_body(
                &format!("big-{i:03}"),
                "attacks",
                "liwa-al-quds",
                "iran",
                "2022-09-24",
            );
            e.summary = "x".repeat(16_000);
            entry(Body::Event(e))
        })
        .collect();
    append(&mut client, large).await.expect("large entries");
    let request = proto::QueryEventsRequest {
        page_size: 100,
        ..events_request()
    };
    let first = client
        .query_events(request.clone())
        .await
        .expect("first page")
        .into_inner();
    assert!(
        first.entries.len() < 100 && !first.next_page_token.is_empty(),
        "1.6 MB of entries is cut into pages of about 1 MiB"
    );
    let all = query_events(&mut client, request).await;
    let want: Vec<String> = (0..100).map(|i| format!("big-{i:03}")).collect();
    assert_eq!(all, want);
    server.stop().await;
}

#[tokio::test]
async fn a_query_sees_the_writes_it_names_and_waits_for_one_not_yet_made() {
    let server = TestServer::start().await;
    let mut writer = server.client().await;
    let mut reader = server.client().await;
    append(&mut writer, seed_actors()).await.expect("actors");
    let first = append(
        &mut writer,
        vec![event("e1", "attacks", "russia", "liwa-al-quds", "2022")],
    )
    .await
    .expect("e1");
    // Another client names the head the append returned: the answer includes it.
    let seen = query_events(
        &mut reader,
        proto::QueryEventsRequest {
            actor: "russia".into(),
            min_position: first.head,
            ..events_request()
        },
    )
    .await;
    assert_eq!(seen, vec!["e1"]);
    // A position the log has not reached yet: the query waits for it, then answers with it.
    let waiting = tokio::spawn(async move {
        query_events(
            &mut reader,
            proto::QueryEventsRequest {
                actor: "russia".into(),
                min_position: first.head + 1,
                ..events_request()
            },
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the query waits for position {}",
        first.head + 1
    );
    append(
        &mut writer,
        vec![event("e2", "attacks", "russia", "liwa-al-quds", "2023")],
    )
    .await
    .expect("e2");
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
        .await
        .expect("answers once the position is reached")
        .expect("query task");
    assert_eq!(seen, vec!["e1", "e2"]);
    let info = writer
        .get_log_info(proto::GetLogInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.indexed_position, info.head, "the indexes caught up");
    server.stop().await;
}
