//! Machine-readable refusals: every refusal the append path can give carries
//! `google.rpc.ErrorInfo` with its stable reason and the entry's index, and `BadRequest` or
//! `PreconditionFailure` with the field's path, read back as any client reads them
//! (`tonic-types`); the head is unchanged after each.

use crate::common;

use common::*;
use eventlog::proto::{self, entry::Body};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// What a refusal must say to a program: its code, its reason, and the path of the field
/// (in `BadRequest`, or as the subject of a `PreconditionFailure`).
struct Expected {
    code: Code,
    reason: &'static str,
    path: &'static str,
}

fn expect(code: Code, reason: &'static str, path: &'static str) -> Expected {
    Expected { code, reason, path }
}

/// Checks `status` against `expected`, and that `entry_index` names entry 1 when the path is
/// inside a batch's entry.
fn assert_details(status: &Status, expected: &Expected) {
    assert_eq!(status.code(), expected.code, "{status:?}");
    let details = status
        .check_error_details()
        .unwrap_or_else(|e| panic!("undecodable details in {status:?}: {e}"));
    let info = details
        .error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo: {status:?}"));
    assert_eq!(info.reason, expected.reason, "{status:?}");
    assert_eq!(info.domain, "eventlog");
    let paths: Vec<&str> = details
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|v| v.field.as_str())
                .collect()
        })
        .or_else(|| {
            details
                .precondition_failure()
                .map(|p| p.violations.iter().map(|v| v.subject.as_str()).collect())
        })
        .unwrap_or_default();
    if !expected.path.is_empty() {
        assert_eq!(paths, vec![expected.path], "{status:?}");
    }
    if expected.path.starts_with("entries[1]") {
        assert_eq!(
            info.metadata.get("entry_index").map(String::as_str),
            Some("1"),
            "{status:?}"
        );
    }
    // People still get prose that names the entry's field.
    if expected.path.starts_with("entries") {
        assert!(status.message().contains(expected.path), "{status:?}");
    }
}

/// A batch of a valid event and then `second`.
fn batch_with(second: proto::Entry) -> Vec<proto::Entry> {
    vec![
        event("ok-first", "attacks", "russia", "iran", "2022"),
        second,
    ]
}

fn tweaked(tweak: impl FnOnce(&mut proto::Event)) -> proto::Entry {
    let mut body = event_body("ev-bad", "attacks", "russia", "iran", "2022");
    tweak(&mut body);
    entry(Body::Event(body))
}

#[tokio::test]
async fn every_append_refusal_names_its_reason_and_field_and_changes_nothing() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    append(
        &mut client,
        vec![event("ev-taken", "attacks", "russia", "iran", "2021")],
    )
    .await
    .expect("event");
    let head_before = head(&mut client).await;

    use Code::{AlreadyExists, FailedPrecondition, InvalidArgument};
    let cases: Vec<(&str, Vec<proto::Entry>, Expected)> = vec![
        (
            "a month that does not exist",
            batch_with(tweaked(|e| e.date = "2022-13".into())),
            expect(InvalidArgument, "INVALID_DATE", "entries[1].event.date"),
        ),
        (
            "no date",
            batch_with(tweaked(|e| e.date.clear())),
            expect(InvalidArgument, "MISSING_FIELD", "entries[1].event.date"),
        ),
        (
            "a malformed id",
            batch_with(tweaked(|e| e.id = "not an id!".into())),
            expect(InvalidArgument, "INVALID_ID", "entries[1].event.id"),
        ),
        (
            "a relation the vocabulary lacks",
            batch_with(tweaked(|e| e.relation = "bakcs".into())),
            expect(
                InvalidArgument,
                "UNKNOWN_RELATION",
                "entries[1].event.relation",
            ),
        ),
        (
            "a summary past its limit",
            batch_with(tweaked(|e| e.summary = "x".repeat(20_000))),
            expect(InvalidArgument, "TOO_LARGE", "entries[1].event.summary"),
        ),
        (
            "a latitude off the globe",
            batch_with(tweaked(|e| {
                e.location = Some(proto::Location {
                    latitude: Some(91.0),
                    longitude: Some(10.0),
                    ..Default::default()
                })
            })),
            expect(
                InvalidArgument,
                "INVALID_VALUE",
                "entries[1].event.location.latitude",
            ),
        ),
        (
            "no participants",
            batch_with(tweaked(|e| e.participants.clear())),
            expect(
                InvalidArgument,
                "MISSING_FIELD",
                "entries[1].event.participants",
            ),
        ),
        (
            "a position set by the client",
            batch_with(proto::Entry {
                position: 7,
                ..tweaked(|_| {})
            }),
            expect(
                InvalidArgument,
                "SERVER_ASSIGNED_FIELD",
                "entries[1].position",
            ),
        ),
        (
            "no body",
            batch_with(proto::Entry::default()),
            expect(InvalidArgument, "MISSING_FIELD", "entries[1].body"),
        ),
        (
            "a participant not in the log",
            batch_with(tweaked(|e| e.participants[0].actor_id = "wagner".into())),
            expect(
                FailedPrecondition,
                "UNKNOWN_ACTOR",
                "entries[1].event.participants[0].actor_id",
            ),
        ),
        (
            "a correction of an entry not in the log",
            batch_with(tweaked(|e| e.supersedes = vec!["ev-nowhere".into()])),
            expect(
                FailedPrecondition,
                "UNKNOWN_ENTRY",
                "entries[1].event.supersedes[0]",
            ),
        ),
        (
            "a correction of an actor",
            batch_with(tweaked(|e| e.supersedes = vec!["russia".into()])),
            expect(
                FailedPrecondition,
                "WRONG_REFERENCE_KIND",
                "entries[1].event.supersedes[0]",
            ),
        ),
        (
            "an id taken by other content",
            batch_with(tweaked(|e| e.id = "ev-taken".into())),
            expect(AlreadyExists, "ID_TAKEN", ""),
        ),
        (
            "an id twice in the batch",
            batch_with(tweaked(|e| {
                e.id = "ok-first".into();
                e.date = "2021".into();
            })),
            expect(InvalidArgument, "ID_TWICE_IN_BATCH", "entries[1]"),
        ),
        (
            "an empty batch",
            Vec::new(),
            expect(InvalidArgument, "MISSING_FIELD", "entries"),
        ),
    ];
    for (what, entries, expected) in cases {
        let status = append(&mut client, entries).await.expect_err(what);
        assert_details(&status, &expected);
        assert_eq!(
            head(&mut client).await,
            head_before,
            "{what} changed the log"
        );
    }

    // ID_TAKEN says where the id is, ID_TWICE_IN_BATCH which entry had it first.
    let taken = append(
        &mut client,
        batch_with(tweaked(|e| e.id = "ev-taken".into())),
    )
    .await
    .expect_err("taken");
    let info = taken.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["id"], "ev-taken");
    assert_eq!(info.metadata["entry_index"], "1");
    assert_eq!(info.metadata["position"], "4");
    let twice = append(
        &mut client,
        batch_with(tweaked(|e| {
            e.id = "ok-first".into();
            e.date = "2021".into();
        })),
    )
    .await
    .expect_err("twice");
    assert_eq!(
        twice.get_details_error_info().expect("info").metadata["earlier_index"],
        "0"
    );

    // A stale expected_head: ABORTED with the current head, for a retry without a read.
    let stale = client
        .append(proto::AppendRequest {
            entries: vec![event("ev-late", "attacks", "russia", "iran", "2022")],
            expected_head: Some(1),
            validate_only: false,
        })
        .await
        .expect_err("stale head");
    assert_details(
        &stale,
        &expect(Code::Aborted, "HEAD_MISMATCH", "expected_head"),
    );
    let info = stale.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["head"], head_before.to_string());
    assert_eq!(info.metadata["expected_head"], "1");
    assert_eq!(head(&mut client).await, head_before);
    server.stop().await;
}

#[tokio::test]
async fn actor_names_that_cannot_be_taken_say_why_to_programs() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    append(
        &mut client,
        vec![
            actor_with(
                "hezbollah",
                "Hezbollah",
                proto::ActorKind::ArmedGroup,
                &[],
                "LBN",
            ),
            actor_with(
                "mahdi-army",
                "Mahdi Army",
                proto::ActorKind::ArmedGroup,
                &["Jaysh al-Mahdi"],
                "IRQ",
            ),
            actor_with(
                "jam",
                "Jaysh al-Mahdi",
                proto::ActorKind::ArmedGroup,
                &[],
                "IRQ",
            ),
        ],
    )
    .await
    .expect("actors");
    let query = |actor: &str| proto::QueryEventsRequest {
        actor: actor.into(),
        ..Default::default()
    };

    let ambiguous = client
        .query_events(query("jaysh al-mahdi"))
        .await
        .expect_err("ambiguous");
    assert_details(
        &ambiguous,
        &expect(Code::InvalidArgument, "AMBIGUOUS_ACTOR", "actor"),
    );
    let info = ambiguous.get_details_error_info().expect("ErrorInfo");
    let mut candidates: Vec<&str> = info.metadata["candidates"].split(',').collect();
    candidates.sort_unstable();
    assert_eq!(candidates, vec!["jam", "mahdi-army"]);

    let near = client
        .query_events(query("Hezbolah"))
        .await
        .expect_err("near only");
    assert_eq!(near.code(), Code::NotFound, "{near:?}");
    let info = near.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "UNKNOWN_ACTOR");
    assert_eq!(info.metadata["field"], "actor");
    assert_eq!(info.metadata["suggestions"], "hezbollah");
    server.stop().await;
}

#[test]
fn the_readme_lists_every_reason() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let table = &readme[readme
        .find("| reason | status | when |")
        .expect("the reasons table")..];
    let table = &table[..table.find("\n\n").unwrap_or(table.len())];
    for reason in eventlog::ops::reason::Reason::ALL {
        assert!(
            table.contains(&format!("`{}`", reason.as_str())),
            "the README's table of reasons lacks {}",
            reason.as_str()
        );
    }
}
