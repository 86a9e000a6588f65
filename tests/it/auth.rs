//! Access control: every RPC against every kind of caller, health open to all, reflection
//! behind the read role unless opened, and secure-by-default listening.

use crate::common;

use std::collections::BTreeSet;

use common::ops::*;
use common::*;
use eventlog::ops::methods::Role;
use eventlog::proto;
use eventlog::server::{self, ServerError, Settings};
use prost::Message;
use tonic::Code;

/// Who calls, in the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    NoToken,
    UnknownToken,
    Token(Role),
}

const CALLERS: [Caller; 5] = [
    Caller::NoToken,
    Caller::UnknownToken,
    Caller::Token(Role::Read),
    Caller::Token(Role::Append),
    Caller::Token(Role::Admin),
];

/// Every RPC of `eventlog.v1.EventLog`: its name, the role it needs, and the code it returns
/// in this test's setup when the caller may call it.
const RPCS: &[(&str, Role, Code)] = &[
    ("Append", Role::Append, Code::Ok),
    ("GetEntry", Role::Read, Code::Ok),
    ("ReadLog", Role::Read, Code::Ok),
    ("GetActor", Role::Read, Code::Ok),
    ("ResolveActor", Role::Read, Code::Ok),
    ("ListActors", Role::Read, Code::Ok),
    ("ListRelationTypes", Role::Read, Code::Ok),
    ("GetLogInfo", Role::Read, Code::Ok),
    ("Subscribe", Role::Read, Code::Ok),
    ("CommitCheckpoint", Role::Read, Code::Ok),
    ("ListSubscriptions", Role::Admin, Code::Ok),
    // Deletes a subscription that does not exist, so the others' setup stays.
    ("DeleteSubscription", Role::Admin, Code::NotFound),
    ("QueryEvents", Role::Read, Code::Ok),
    ("QueryClaims", Role::Read, Code::Ok),
    ("ListRelations", Role::Read, Code::Ok),
    ("Backup", Role::Admin, Code::Ok),
];

fn expected(caller: Caller, needed: Role, allowed: Code) -> Code {
    match caller {
        Caller::NoToken | Caller::UnknownToken => Code::Unauthenticated,
        Caller::Token(role) if role < needed => Code::PermissionDenied,
        Caller::Token(_) => allowed,
    }
}

fn code<T>(result: Result<T, tonic::Status>) -> Code {
    result.map_or_else(|s| s.code(), |_| Code::Ok)
}

/// Calls `rpc` with a valid request; the status it ended with.
async fn call(client: &mut AuthedClient, rpc: &str, n: usize) -> Code {
    match rpc {
        "Append" => code(
            client
                .append(proto::AppendRequest {
                    entries: vec![actor(
                        &format!("a-{n}"),
                        "Someone",
                        proto::ActorKind::Person,
                    )],
                    expected_head: None,
                    validate_only: false,
                })
                .await,
        ),
        "GetEntry" => code(
            client
                .get_entry(proto::GetEntryRequest {
                    selector: Some(proto::get_entry_request::Selector::Position(1)),
                })
                .await,
        ),
        "ReadLog" => match client
            .read_log(proto::ReadLogRequest {
                from_position: 1,
                max_entries: 1,
            })
            .await
        {
            Ok(stream) => code(stream.into_inner().message().await),
            Err(status) => status.code(),
        },
        "GetActor" => code(
            client
                .get_actor(proto::GetActorRequest {
                    id: "russia".into(),
                })
                .await,
        ),
        "ResolveActor" => code(
            client
                .resolve_actor(proto::ResolveActorRequest {
                    name: "Moscow".into(),
                    limit: 1,
                    min_position: 0,
                })
                .await,
        ),
        "ListActors" => code(
            client
                .list_actors(proto::ListActorsRequest::default())
                .await,
        ),
        "ListRelationTypes" => code(
            client
                .list_relation_types(proto::ListRelationTypesRequest {})
                .await,
        ),
        "GetLogInfo" => code(client.get_log_info(proto::GetLogInfoRequest {}).await),
        "Subscribe" => match client.subscribe(from_position(1)).await {
            Ok(stream) => code(stream.into_inner().message().await),
            Err(status) => status.code(),
        },
        "CommitCheckpoint" => {
            // A subscription of the caller's own: another token's is not its to move.
            let name = format!("consumer-{n}");
            let _ = client
                .subscribe(proto::SubscribeRequest {
                    name: name.clone(),
                    ..Default::default()
                })
                .await;
            code(
                client
                    .commit_checkpoint(proto::CommitCheckpointRequest { name, position: 1 })
                    .await,
            )
        }
        "ListSubscriptions" => code(
            client
                .list_subscriptions(proto::ListSubscriptionsRequest {})
                .await,
        ),
        "Backup" => match client.backup(proto::BackupRequest {}).await {
            Ok(stream) => {
                let mut stream = stream.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(_)) => {}
                        Ok(None) => break Code::Ok,
                        Err(status) => break status.code(),
                    }
                }
            }
            Err(status) => status.code(),
        },
        "DeleteSubscription" => code(
            client
                .delete_subscription(proto::DeleteSubscriptionRequest {
                    name: "nobody".into(),
                })
                .await,
        ),
        "QueryEvents" => code(
            client
                .query_events(proto::QueryEventsRequest {
                    actor: "Moscow".into(),
                    ..Default::default()
                })
                .await,
        ),
        "QueryClaims" => code(
            client
                .query_claims(proto::QueryClaimsRequest {
                    relations: vec!["backs".into()],
                    ..Default::default()
                })
                .await,
        ),
        "ListRelations" => code(
            client
                .list_relations(proto::ListRelationsRequest {
                    actor: "Tehran".into(),
                    ..Default::default()
                })
                .await,
        ),
        other => panic!("no call for {other}"),
    }
}

/// The RPCs the compiled API declares, so the matrix cannot miss one.
fn declared_rpcs() -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(eventlog::proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    set.file
        .iter()
        .flat_map(|f| f.service.iter())
        .filter(|s| s.name() == "EventLog")
        .flat_map(|s| s.method.iter().map(|m| m.name().to_string()))
        .collect()
}

#[tokio::test]
async fn every_rpc_for_every_caller() {
    let covered: BTreeSet<String> = RPCS.iter().map(|(n, _, _)| n.to_string()).collect();
    assert_eq!(
        covered,
        declared_rpcs(),
        "the matrix must cover exactly the service's RPCs: add new ones to RPCS"
    );
    let temp = tempfile::tempdir().expect("temp dir");
    let running = server::start(&with_tokens(settings(&temp.path().join("data")), false))
        .await
        .expect("server starts");
    let url = format!("http://{}", running.local_addr);
    let mut admin = authed(&url, Some(token(Role::Admin))).await;
    admin
        .append(proto::AppendRequest {
            entries: seed_actors(),
            expected_head: None,
            validate_only: false,
        })
        .await
        .expect("seed");
    let mut named = admin
        .subscribe(proto::SubscribeRequest {
            name: "consumer".into(),
            ..Default::default()
        })
        .await
        .expect("named subscription")
        .into_inner();
    named.message().await.expect("first message");
    drop(named);

    let mut n = 0;
    let mut failures = Vec::new();
    for caller in CALLERS {
        let presented = match caller {
            Caller::NoToken => None,
            Caller::UnknownToken => Some("not-a-configured-token"),
            Caller::Token(role) => Some(token(role)),
        };
        let mut client = authed(&url, presented).await;
        for (rpc, needed, allowed) in RPCS {
            n += 1;
            let got = call(&mut client, rpc, n).await;
            let want = expected(caller, *needed, *allowed);
            if got != want {
                failures.push(format!(
                    "{rpc} as {caller:?}: got {got:?}, expected {want:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn refusals_say_what_to_do() {
    let temp = tempfile::tempdir().expect("temp dir");
    let running = server::start(&with_tokens(settings(&temp.path().join("data")), false))
        .await
        .expect("server starts");
    let url = format!("http://{}", running.local_addr);
    let info = proto::GetLogInfoRequest {};
    let missing = authed(&url, None).await.get_log_info(info).await;
    assert_eq!(reason_of(&missing), "MISSING_TOKEN");
    assert_status(
        missing,
        Code::Unauthenticated,
        &["authorization: Bearer <token>"],
    );
    let unknown = authed(&url, Some("guess")).await.get_log_info(info).await;
    assert_eq!(reason_of(&unknown), "UNKNOWN_TOKEN");
    assert_status(unknown, Code::Unauthenticated, &["unknown token"]);
    let mut raw = eventlog::proto::event_log_client::EventLogClient::with_interceptor(
        channel(&url).await,
        |mut request: tonic::Request<()>| {
            request.metadata_mut().insert(
                "authorization",
                "Basic dXNlcjpwdw==".parse().expect("ascii"),
            );
            Ok(request)
        },
    );
    let malformed = raw.get_log_info(info).await;
    assert_eq!(reason_of(&malformed), "MALFORMED_AUTHORIZATION");
    assert_status(malformed, Code::Unauthenticated, &["Bearer <token>"]);
    let denied = authed(&url, Some(token(Role::Read)))
        .await
        .append(proto::AppendRequest {
            entries: seed_actors(),
            expected_head: None,
            validate_only: false,
        })
        .await;
    assert_eq!(reason_of(&denied), "ROLE_TOO_LOW");
    assert_status(
        denied,
        Code::PermissionDenied,
        &["\"reader\"", "read", "Append needs append"],
    );
    running.stop().await.expect("stop");
}

async fn reflection_code(url: &str, token: Option<&str>) -> Code {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut client = ServerReflectionClient::with_interceptor(
        channel(url).await,
        Bearer(token.map(str::to_string)),
    );
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    match client
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
    {
        Ok(response) => code(response.into_inner().message().await),
        Err(status) => status.code(),
    }
}

async fn health_status(url: &str) -> i32 {
    use tonic_health::pb::health_client::HealthClient;
    HealthClient::new(channel(url).await)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "eventlog.v1.EventLog".into(),
        })
        .await
        .expect("health check without a token")
        .into_inner()
        .status
}

#[tokio::test]
async fn health_is_open_and_reflection_needs_read_unless_opened() {
    let temp = tempfile::tempdir().expect("temp dir");
    let running = server::start(&with_tokens(settings(&temp.path().join("data")), false))
        .await
        .expect("server starts");
    let url = format!("http://{}", running.local_addr);
    assert_eq!(
        health_status(&url).await,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    assert_eq!(reflection_code(&url, None).await, Code::Unauthenticated);
    assert_eq!(
        reflection_code(&url, Some("guess")).await,
        Code::Unauthenticated
    );
    assert_eq!(
        reflection_code(&url, Some(token(Role::Read))).await,
        Code::Ok
    );
    running.stop().await.expect("stop");

    let running = server::start(&with_tokens(settings(&temp.path().join("data")), true))
        .await
        .expect("server starts");
    let url = format!("http://{}", running.local_addr);
    assert_eq!(reflection_code(&url, None).await, Code::Ok);
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn non_loopback_addresses_need_tls_and_tokens_or_insecure() {
    let temp = tempfile::tempdir().expect("temp dir");
    let exposed = Settings {
        listen: "0.0.0.0:0".parse().expect("address"),
        ..settings(&temp.path().join("data"))
    };
    let error = server::start(&exposed).await.err().expect("refused");
    assert!(
        matches!(
            error,
            ServerError::Insecure {
                missing: "TLS and access tokens",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("--insecure"), "{error}");
    let tokens_only = with_tokens(exposed.clone(), false);
    let error = server::start(&tokens_only).await.err().expect("refused");
    assert!(
        matches!(error, ServerError::Insecure { missing: "TLS", .. }),
        "{error}"
    );
    let running = server::start(&Settings {
        insecure: true,
        ..exposed
    })
    .await
    .expect("--insecure allows it");
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn named_subscriptions_belong_to_their_token_are_capped_and_never_start_past_the_head() {
    let temp = tempfile::tempdir().expect("temp dir");
    let running = eventlog::server::start(&with_tokens(
        eventlog::server::Settings {
            limits: eventlog::ops::limits::Limits {
                max_subscriptions_per_caller: 2,
                ..Default::default()
            },
            ..settings(&temp.path().join("data"))
        },
        false,
    ))
    .await
    .expect("server starts");
    let url = format!("http://{}", running.local_addr);
    let mut reader = authed(&url, Some(token(Role::Read))).await;
    let mut writer = authed(&url, Some(token(Role::Append))).await;
    let mut admin = authed(&url, Some(token(Role::Admin))).await;
    let named = |name: &str, from: u64| proto::SubscribeRequest {
        name: name.into(),
        start: Some(proto::subscribe_request::Start::FromPosition(from)),
        ..Default::default()
    };
    let commit = |name: &str| proto::CommitCheckpointRequest {
        name: name.into(),
        position: 0,
    };
    reader
        .subscribe(named("feed", 1))
        .await
        .expect("the reader creates feed");
    assert_status(
        writer.subscribe(named("feed", 1)).await,
        Code::PermissionDenied,
        &["\"feed\" belongs to the token \"reader\""],
    );
    assert_status(
        writer.commit_checkpoint(commit("feed")).await,
        Code::PermissionDenied,
        &["belongs to the token \"reader\""],
    );
    reader
        .subscribe(named("feed", 1))
        .await
        .expect("its owner resumes it");
    admin
        .commit_checkpoint(commit("feed"))
        .await
        .expect("an admin acts on every subscription");

    // A checkpoint beyond the head is never stored, however the subscription is created.
    assert_status(
        reader.subscribe(named("far", u64::MAX - 1)).await,
        Code::FailedPrecondition,
        &["beyond the head"],
    );
    // Two per token: the reader's third is refused, the writer's first is not.
    reader.subscribe(named("second", 1)).await.expect("second");
    assert_status(
        reader.subscribe(named("third", 1)).await,
        Code::ResourceExhausted,
        &["reader already owns 2", "--max-subscriptions-per-caller"],
    );
    writer
        .subscribe(named("writers", 1))
        .await
        .expect("another token's own");
    let listed = admin
        .list_subscriptions(proto::ListSubscriptionsRequest {})
        .await
        .expect("list")
        .into_inner()
        .subscriptions;
    let owners: Vec<(String, String)> = listed.into_iter().map(|s| (s.name, s.owner)).collect();
    assert_eq!(
        owners,
        vec![
            ("feed".to_string(), "reader".to_string()),
            ("second".to_string(), "reader".to_string()),
            ("writers".to_string(), "writer".to_string()),
        ]
    );
    running.stop().await.expect("stops");
}
