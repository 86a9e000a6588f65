//! The HTTP/JSON API through a real HTTP client: every endpoint, paging, errors (status and
//! body, the same as gRPC's), tokens and roles, server-sent events with resume, TLS.

use std::time::Duration;

use eventlog::ops::methods::Role;
use eventlog::proto;
use eventlog::server::{self, RunningServer, ServerError, Settings};
use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::ops::{token, with_tokens, Pki};
use crate::common::web::Http;
use crate::common::*;

/// A server with the HTTP API on a free port, and its gRPC and HTTP clients.
struct Both {
    running: Option<RunningServer>,
    http: Http,
    _temp: tempfile::TempDir,
}

impl Both {
    async fn start(adjust: impl FnOnce(Settings) -> Settings) -> Both {
        let temp = tempfile::tempdir().expect("temp dir");
        let settings = adjust(Settings {
            http_listen: Some("127.0.0.1:0".parse().expect("address")),
            ..settings(&temp.path().join("data"))
        });
        let running = server::start(&settings).await.expect("server starts");
        let http = Http::new(running.http_addr.expect("an HTTP address"));
        Both {
            running: Some(running),
            http,
            _temp: temp,
        }
    }

    async fn grpc(
        &self,
    ) -> eventlog::proto::event_log_client::EventLogClient<tonic::transport::Channel> {
        let addr = self.running.as_ref().expect("running").local_addr;
        eventlog::proto::event_log_client::EventLogClient::connect(format!("http://{addr}"))
            .await
            .expect("connect")
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("clean stop");
        }
    }
}

/// The seed actors, two events and two claims; returns the head.
async fn seed(both: &Both) -> u64 {
    let mut client = both.grpc().await;
    let mut entries = seed_actors();
    entries.push(event("ev-1", "attacks", "russia", "iran", "2022"));
    entries.push(event("ev-2", "backs", "iran", "liwa-al-quds", "2016-03~"));
    entries.push(claim(
        "cl-1",
        "russia",
        "backs",
        "liwa-al-quds",
        proto::Certainty::Reported,
    ));
    entries.push(claim(
        "cl-2",
        "iran",
        "backs",
        "liwa-al-quds",
        proto::Certainty::Alleged,
    ));
    append(&mut client, entries).await.expect("seeded").head
}

fn ids(answer: &Value) -> Vec<String> {
    answer["entries"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    e["event"]["id"]
                        .as_str()
                        .or(e["claim"]["id"].as_str())
                        .unwrap_or("")
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_read_endpoint_answers_its_rpc_in_proto3_json() {
    let both = Both::start(|s| s).await;
    let head = seed(&both).await;
    let http = &both.http;

    let events = http.get("/v1/events?actor=Moscow&from=2022&to=2022").await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    assert_eq!(events.headers["content-type"], "application/json");
    assert_eq!(ids(&events.json), ["ev-1"]);
    assert_eq!(
        events.json["entries"][0]["event"]["dateSpan"]["earliest"],
        "2022-01-01"
    );

    let claims = http
        .get("/v1/claims?object=liwa-al-quds&max_certainty=alleged")
        .await;
    assert_eq!(ids(&claims.json), ["cl-2"], "{}", claims.text);

    let relations = http
        .get("/v1/relations?actor=liwa-al-quds&relation=backs&direction=incoming")
        .await;
    let edges = relations.json["edges"].as_array().expect("edges").clone();
    let subjects: Vec<&str> = edges.iter().filter_map(|e| e["subject"].as_str()).collect();
    assert_eq!(subjects, ["iran", "russia"], "{}", relations.text);
    assert_eq!(edges[0]["eventCount"], "1");

    let resolved = http.get("/v1/actors?name=Jerusalem%20Brigade").await;
    assert_eq!(resolved.json["ranked"][0]["actor"]["id"], "liwa-al-quds");
    assert_eq!(resolved.json["ranked"][0]["kind"], "MATCH_KIND_ALIAS");

    let listed = http.get("/v1/actors?kind=state").await;
    let listed: Vec<&str> = listed.json["actors"]
        .as_array()
        .expect("actors")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(listed, ["iran", "russia"]);

    let actor = http.get("/v1/actors/russia").await;
    assert_eq!(
        actor.json["actor"]["aliases"],
        json!(["Moscow", "Russian Federation"])
    );
    assert_eq!(actor.json["position"], "1");

    let entry = http.get("/v1/entries/cl-1").await;
    assert_eq!(
        entry.json["entry"]["claim"]["certainty"],
        "CERTAINTY_REPORTED"
    );
    assert_eq!(entry.json["entry"]["position"], "6");

    let log = http.get("/v1/log?from_position=5&max_entries=2").await;
    let positions: Vec<&str> = log.json["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["position"].as_str())
        .collect();
    assert_eq!(positions, ["5", "6"]);

    let info = http.get("/v1/info").await;
    assert_eq!(info.json["head"], head.to_string());
    assert_eq!(info.json["claimEntries"], "2");

    let types = http.get("/v1/relation-types").await;
    assert!(types.json["relationTypes"]
        .as_array()
        .expect("types")
        .iter()
        .any(|t| t["key"] == "backs"));
    both.stop().await;
}

#[tokio::test]
async fn pages_follow_next_page_token_and_as_of_reads_an_earlier_log() {
    let both = Both::start(|s| s).await;
    let mut client = both.grpc().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let events: Vec<_> = (1..=7)
        .map(|i| {
            event(
                &format!("ev-{i}"),
                "attacks",
                "russia",
                "iran",
                &format!("201{i}"),
            )
        })
        .collect();
    append(&mut client, events).await.expect("events");
    let mut seen = Vec::new();
    let mut token = String::new();
    for _ in 0..5 {
        let page = both
            .http
            .get(&format!(
                "/v1/events?actor=russia&order=date_ascending&page_size=3&page_token={token}"
            ))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        seen.extend(ids(&page.json));
        token = page.json["nextPageToken"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if token.is_empty() {
            break;
        }
    }
    let wanted: Vec<String> = (1..=7).map(|i| format!("ev-{i}")).collect();
    assert_eq!(seen, wanted);

    // As of position 5 (three actors, two events), the later events are not there yet.
    let early = both
        .http
        .get("/v1/events?actor=russia&as_of_position=5")
        .await;
    assert_eq!(ids(&early.json).len(), 2, "{}", early.text);
    assert_eq!(early.json["asOfPosition"], "5");
    both.stop().await;
}

#[tokio::test]
async fn refusals_are_json_with_the_grpc_code_its_http_status_and_the_same_message() {
    let both = Both::start(|s| s).await;
    let seeded_head = seed(&both).await;
    let http = &both.http;
    let mut client = both.grpc().await;

    // The same refusal as over gRPC: code, message and reason.
    let grpc = client
        .query_events(proto::QueryEventsRequest {
            actor: "Nobody At All".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown actor");
    let unknown = http.get("/v1/events?actor=Nobody%20At%20All").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json["error"]["status"], "NOT_FOUND");
    assert_eq!(unknown.json["error"]["code"], 404);
    assert_eq!(unknown.json["error"]["message"], grpc.message());
    assert_eq!(unknown.reason(), "UNKNOWN_ACTOR");

    let cases = [
        (
            "/v1/events?actr=russia",
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            "actr",
        ),
        (
            "/v1/events?page_size=lots",
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            "whole number",
        ),
        (
            "/v1/events?min_certainty=sure",
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            "reported",
        ),
        (
            "/v1/events?from=2022-13",
            StatusCode::BAD_REQUEST,
            "INVALID_DATE",
            "date_from",
        ),
        (
            "/v1/events?actor=russia&as_of_position=999",
            StatusCode::BAD_REQUEST,
            "AS_OF_BEYOND_HEAD",
            "head",
        ),
        (
            "/v1/entries/no-such-entry",
            StatusCode::NOT_FOUND,
            "UNKNOWN_ENTRY",
            "no entry has id",
        ),
        (
            "/v1/nowhere",
            StatusCode::NOT_FOUND,
            "UNKNOWN_ENDPOINT",
            "/v1/events",
        ),
    ];
    for (path, status, reason, part) in cases {
        let answer = http.get(path).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
        assert_eq!(answer.reason(), reason, "{path}: {}", answer.text);
        let message = answer.json["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(part), "{path}: {message}");
    }
    let wrong_method = http.send(Method::DELETE, "/v1/events", &[], None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.json["error"]["status"], "UNIMPLEMENTED");
    assert_eq!(wrong_method.reason(), "UNKNOWN_ENDPOINT");
    assert!(wrong_method.json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("use GET")));

    // Bad bodies, and an entry Append refuses: the same message gRPC gives, and the log as it was.
    let plain = http
        .send(
            Method::POST,
            "/v1/entries",
            &[("content-type", "text/plain")],
            Some("{\"entries\": []}".into()),
        )
        .await;
    assert_eq!(
        plain.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        plain.text
    );
    assert_eq!(plain.reason(), "NOT_JSON");
    let not_json = http.post("/v1/entries", "{entries: [").await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.reason(), "INVALID_JSON");
    let bad_date = json!({"entries": [{"event": {
        "id": "ev-bad", "relation": "attacks", "date": "2022-02-30",
        "participants": [{"actorId": "russia", "role": "ROLE_INITIATOR"}],
        "sources": [{"name": "Wire"}], "certainty": "CERTAINTY_REPORTED"}}]});
    let refused = http.post("/v1/entries", &bad_date.to_string()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(refused.reason(), "INVALID_DATE");
    assert_eq!(
        refused.json["error"]["details"][0]["metadata"]["entry_index"],
        "0"
    );
    assert_eq!(
        refused.json["error"]["details"][1]["fieldViolations"][0]["field"],
        "entries[0].event.date"
    );
    let request: proto::AppendRequest = serde_json::from_value(bad_date).expect("decodes");
    let grpc = client
        .append(request)
        .await
        .expect_err("refused over gRPC too");
    assert_eq!(refused.json["error"]["message"], grpc.message());
    // The JSON limit is four times the protobuf one (JSON spells field names and numbers out).
    let limit = eventlog::ops::limits::Limits::default().max_message_bytes * 4;
    let oversized = "x".repeat(limit + 1);
    let too_large = http.post("/v1/entries", &oversized).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.reason(), "MESSAGE_TOO_LARGE");
    assert_eq!(
        head(&mut client).await,
        seeded_head,
        "nothing refused was appended"
    );
    both.stop().await;
}

#[tokio::test]
async fn post_entries_appends_idempotently_and_honours_expected_head() {
    let both = Both::start(|s| s).await;
    let head = seed(&both).await;
    let http = &both.http;
    let batch = json!({"entries": [{"claim": {
        "id": "cl-http", "subject": "iran", "relation": "arms", "object": "liwa-al-quds",
        "sources": [{"name": "Wire"}], "certainty": "CERTAINTY_CONFIRMED"}}],
        "expectedHead": head.to_string()});
    let appended = http.post("/v1/entries", &batch.to_string()).await;
    assert_eq!(appended.status, StatusCode::OK, "{}", appended.text);
    assert_eq!(appended.json["head"], (head + 1).to_string());
    let read = http.get("/v1/entries/cl-http").await;
    assert_eq!(read.json["entry"]["claim"]["relation"], "arms");

    // The same batch again: the head moved on, so expected_head no longer holds.
    let stale = http.post("/v1/entries", &batch.to_string()).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text);
    assert_eq!(stale.json["error"]["status"], "ABORTED");
    assert_eq!(stale.reason(), "HEAD_MISMATCH");
    // Without it, the id makes the retry a no-op.
    let mut retry = batch.clone();
    retry
        .as_object_mut()
        .expect("object")
        .remove("expectedHead");
    let again = http.post("/v1/entries", &retry.to_string()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json["head"], (head + 1).to_string());
    both.stop().await;
}

#[tokio::test]
async fn tokens_and_roles_are_the_grpc_ones() {
    let both = Both::start(|s| with_tokens(s, false)).await;
    let http = &both.http;
    let anonymous = http.get("/v1/info").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
    assert_eq!(anonymous.reason(), "MISSING_TOKEN");
    let unknown = http.with_token("not-a-token").get("/v1/info").await;
    assert_eq!(unknown.reason(), "UNKNOWN_TOKEN");

    let reader = http.with_token(token(Role::Read));
    assert_eq!(reader.get("/v1/info").await.status, StatusCode::OK);
    let batch = json!({"entries": [{"actor": {"id": "wagner-group", "name": "Wagner Group",
        "kind": "ACTOR_KIND_PRIVATE_MILITARY_COMPANY"}}]})
    .to_string();
    let forbidden = reader.post("/v1/entries", &batch).await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.text
    );
    assert_eq!(forbidden.reason(), "ROLE_TOO_LOW");
    let writer = http.with_token(token(Role::Append));
    let appended = writer.post("/v1/entries", &batch).await;
    assert_eq!(appended.status, StatusCode::OK, "{}", appended.text);
    assert_eq!(
        reader.get("/v1/actors/wagner-group").await.status,
        StatusCode::OK
    );
    // The console's page itself needs no token: it holds no data, and asks for one.
    assert_eq!(http.get("/").await.status, StatusCode::OK);
    both.stop().await;
}

#[tokio::test]
async fn subscribe_streams_catch_up_then_live_and_resumes_after_last_event_id() {
    let both = Both::start(|s| s).await;
    let head = seed(&both).await;
    let mut events = both
        .http
        .events("/v1/subscribe?from_position=1&kind=event&kind=actor", &[])
        .await;
    let mut caught_up = None;
    let mut positions = Vec::new();
    while caught_up.is_none() {
        let event = events.next().await.expect("the stream goes on");
        match event.name.as_str() {
            "entry" => positions.push(event.id.expect("id").parse::<u64>().expect("position")),
            "caught_up" => caught_up = event.data["head"].as_str().map(str::to_string),
            _ => {}
        }
    }
    assert_eq!(
        positions,
        [1, 2, 3, 4, 5],
        "actors and events only, in order"
    );
    assert_eq!(caught_up.as_deref(), Some(head.to_string().as_str()));

    let mut client = both.grpc().await;
    append(
        &mut client,
        vec![event("ev-live", "attacks", "iran", "russia", "2023")],
    )
    .await
    .expect("live append");
    let live = loop {
        let event = events.next().await.expect("live entry");
        if event.name == "entry" {
            break event;
        }
    };
    assert_eq!(live.data["event"]["id"], "ev-live");
    assert_eq!(live.id.as_deref(), Some((head + 1).to_string().as_str()));
    drop(events);

    // A reconnect naming the last id it saw starts right after it.
    let mut resumed = both
        .http
        .events("/v1/subscribe?from_position=1", &[("last-event-id", "6")])
        .await;
    assert_eq!(resumed.next_entry_position().await, 7);
    let bad = both
        .http
        .send(
            Method::GET,
            "/v1/subscribe",
            &[("last-event-id", "seven")],
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.reason(), "INVALID_PARAMETER");
    drop(resumed);
    // Stopping ends the streams: the server stops within its deadline with one still open.
    let _open = both.http.events("/v1/subscribe?from_end=true", &[]).await;
    tokio::time::timeout(Duration::from_secs(15), both.stop())
        .await
        .expect("the server stops with an event stream open");
}

#[tokio::test]
async fn the_console_is_served_with_a_strict_content_security_policy() {
    let both = Both::start(|s| s).await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/console.js", "text/javascript"),
        ("/console.css", "text/css"),
    ] {
        let answer = both.http.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        let content_type = answer.headers["content-type"].to_str().expect("ascii");
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        let policy = answer.headers["content-security-policy"]
            .to_str()
            .expect("ascii");
        assert!(policy.contains("default-src 'self'"), "{policy}");
    }
    let page = both.http.get("/").await;
    assert!(page.text.contains("/console.js"));
    assert!(
        !page.text.contains("http://") && !page.text.contains("https://"),
        "nothing from elsewhere"
    );
    both.stop().await;
}

/// A server whose HTTP API serves TLS with `pki`'s certificate, asking for client certificates
/// when `mutual`.
async fn tls_server(pki: &Pki, mutual: bool) -> Both {
    Both::start(|s| Settings {
        tls: Some(eventlog::ops::tls::TlsSettings {
            cert: pki.server_cert.clone(),
            key: pki.server_key.clone(),
            client_ca: mutual.then(|| pki.ca.clone()),
        }),
        ..s
    })
    .await
}

/// `GET path` over HTTPS to `addr`, trusting `pki`'s CA and presenting its client certificate
/// when `with_client_cert`: the raw response, or the error that stopped it.
async fn https_get(
    addr: std::net::SocketAddr,
    pki: &Pki,
    with_client_cert: bool,
    path: &str,
) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let certs = |pem: &str| {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("PEM")
    };
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in certs(&pki.ca_pem) {
        roots.add(cert).expect("CA");
    }
    let builder = tokio_rustls::rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let config = if with_client_cert {
        let key = PrivateKeyDer::from_pem_slice(pki.client_key_pem.as_bytes()).expect("key");
        builder
            .with_client_auth_cert(certs(&pki.client_cert_pem), key)
            .expect("client certificate")
    } else {
        builder.with_no_client_auth()
    };
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").expect("name");
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut response = String::new();
        // A TLS 1.3 server refuses a missing client certificate after the handshake, when
        // the client first reads.
        match tls.read_to_string(&mut response).await {
            Ok(_) if !response.is_empty() => Ok(response),
            Ok(_) => Err("closed without an answer".to_string()),
            Err(e) if !response.is_empty() => Ok(format!("{response} ({e})")),
            Err(e) => Err(e.to_string()),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("in time")
}

#[tokio::test]
async fn https_serves_the_api_with_the_grpc_certificate() {
    let temp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::generate(temp.path());
    let both = tls_server(&pki, false).await;
    let addr = both
        .running
        .as_ref()
        .and_then(|r| r.http_addr)
        .expect("address");
    let response = https_get(addr, &pki, false, "/v1/info")
        .await
        .expect("an answer");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"version\""), "{response}");
    // Plain HTTP to the TLS port gets no answer.
    let plain = Http::new(addr);
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        plain.client_request_fails("/v1/info"),
    )
    .await
    .expect("in time");
    assert!(refused, "plain HTTP is not served on the TLS port");
    both.stop().await;
}

#[tokio::test]
async fn with_a_client_ca_https_wants_a_client_certificate_as_grpc_does() {
    let temp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::generate(temp.path());
    let both = tls_server(&pki, true).await;
    let addr = both
        .running
        .as_ref()
        .and_then(|r| r.http_addr)
        .expect("address");
    let without = https_get(addr, &pki, false, "/v1/info").await;
    assert!(
        without.is_err(),
        "answered without a client certificate: {without:?}"
    );
    let with = https_get(addr, &pki, true, "/v1/info")
        .await
        .expect("an answer");
    assert!(with.starts_with("HTTP/1.1 200"), "{with}");
    both.stop().await;
}

#[tokio::test]
async fn a_non_loopback_http_listener_needs_tls_and_tokens() {
    let temp = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        http_listen: Some("0.0.0.0:0".parse().expect("address")),
        ..settings(&temp.path().join("data"))
    };
    match server::start(&settings).await {
        Err(ServerError::Insecure { missing, .. }) => {
            assert_eq!(missing, "TLS and access tokens")
        }
        Err(other) => panic!("wrong refusal: {other}"),
        Ok(_) => panic!("an open HTTP listener off loopback was allowed"),
    }
}

#[tokio::test]
async fn http_calls_draw_on_the_same_limits_as_grpc_calls() {
    let both = Both::start(|s| Settings {
        limits: eventlog::ops::limits::Limits {
            max_subscribers: 2,
            caller_share_percent: 100,
            ..Default::default()
        },
        ..s
    })
    .await;
    seed(&both).await;
    // One subscriber over gRPC, one over HTTP: the pool of two is full for both protocols.
    let mut client = both.grpc().await;
    let _grpc_stream = client
        .subscribe(from_position(1))
        .await
        .expect("first subscriber")
        .into_inner();
    let _http_stream = both.http.events("/v1/subscribe?from_end=true", &[]).await;
    let refused = both.http.get("/v1/subscribe?from_end=true").await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text
    );
    assert_eq!(refused.json["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(refused.reason(), "OVERLOADED");
    let grpc_refused = client.subscribe(from_position(1)).await.map(|_| ());
    assert_eq!(reason_of(&grpc_refused), "OVERLOADED");
    both.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_refused_and_appends_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let both = Both::start(|s| Settings {
        limits: eventlog::ops::limits::Limits {
            request_body_timeout: Duration::from_millis(300),
            ..Default::default()
        },
        ..s
    })
    .await;
    let addr = both
        .running
        .as_ref()
        .and_then(|r| r.http_addr)
        .expect("address");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // Headers promising 100 bytes, then only a few of them.
    stream
        .write_all(b"POST /v1/entries HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"entr")
        .await
        .expect("send");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0u8; 4096];
        while !answer.contains("\r\n\r\n{") || !answer.ends_with('}') {
            let read = stream.read(&mut buffer).await.expect("read");
            if read == 0 {
                break;
            }
            answer.push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    })
    .await
    .expect("an answer while the body is still missing");
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert!(answer.contains("REQUEST_BODY_TIMEOUT"), "{answer}");
    let info = both.http.get("/v1/info").await;
    assert!(
        info.json["head"].is_null(),
        "nothing appended: {}",
        info.text
    );
    both.stop().await;
}

#[tokio::test]
async fn without_tokens_only_requests_to_localhost_or_an_address_are_answered() {
    let both = Both::start(|s| s).await;
    // hyper's client sends `Host: 127.0.0.1:PORT`: answered.
    assert_eq!(both.http.get("/v1/info").await.status, StatusCode::OK);
    let localhost = both
        .http
        .send(Method::GET, "/v1/info", &[("host", "localhost:1")], None)
        .await;
    assert_eq!(localhost.status, StatusCode::OK);
    // A page that rebound its own name to 127.0.0.1 sends that name.
    let rebound = both
        .http
        .send(Method::GET, "/", &[("host", "attacker.example:8080")], None)
        .await;
    assert_eq!(rebound.status, StatusCode::FORBIDDEN, "{}", rebound.text);
    assert_eq!(rebound.reason(), "FOREIGN_HOST");
    both.stop().await;
    // With tokens the name does not matter: the page has no token to send.
    let guarded = Both::start(|s| with_tokens(s, false)).await;
    let named = guarded
        .http
        .with_token(token(Role::Read))
        .send(
            Method::GET,
            "/v1/info",
            &[("host", "eventlog.internal:443")],
            None,
        )
        .await;
    assert_eq!(named.status, StatusCode::OK, "{}", named.text);
    guarded.stop().await;
    // Nor with --insecure: a proxy in front guards the server, and requests name the proxy.
    let behind = Both::start(|s| Settings {
        insecure: true,
        ..s
    })
    .await;
    let proxied = behind
        .http
        .send(
            Method::GET,
            "/v1/info",
            &[("host", "eventlog.example.org")],
            None,
        )
        .await;
    assert_eq!(proxied.status, StatusCode::OK, "{}", proxied.text);
    behind.stop().await;
}
