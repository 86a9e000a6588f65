//! Logs: the real binary with `--log-format json`, its stderr parsed line by line. A request id
//! given by the client appears in the log and comes back in the response; tokens never appear.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::ops::*;
use common::*;
use eventlog::ops::methods::Role;
use eventlog::proto::{self, event_log_client::EventLogClient};
use serde_json::Value;

const REQUEST_ID: &str = "client-chosen-id-42";

fn config_with_tokens(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = String::new();
    for token in token_configs() {
        text.push_str(&format!(
            "[[auth.tokens]]\nname = \"{}\"\nsha256 = \"{}\"\nrole = \"{:?}\"\n\n",
            token.name, token.sha256, token.role
        ));
    }
    let text = text
        .replace("role = \"Read\"", "role = \"read\"")
        .replace("role = \"Append\"", "role = \"append\"")
        .replace("role = \"Admin\"", "role = \"admin\"");
    let path = dir.join("eventlog.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

#[tokio::test]
async fn json_logs_carry_request_ids_spans_and_no_secrets() {
    let temp = tempfile::tempdir().expect("temp dir");
    let config = config_with_tokens(temp.path());
    let log_path = temp.path().join("stderr.log");
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let data = temp.path().join("data");
    let mut server = spawn_binary(
        &[
            "--log-format",
            "json",
            "--metrics-listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().expect("utf-8"),
            "--data-dir",
            data.to_str().expect("utf-8"),
        ],
        Stdio::from(log_file),
    )
    .await;

    let admin = token(Role::Admin);
    let mut client = EventLogClient::with_interceptor(
        channel(&server.url).await,
        move |mut request: tonic::Request<()>| {
            let metadata = request.metadata_mut();
            metadata.insert(
                "authorization",
                format!("Bearer {admin}").parse().expect("ascii"),
            );
            metadata.insert("x-request-id", REQUEST_ID.parse().expect("ascii"));
            Ok(request)
        },
    );
    let response = client
        .append(proto::AppendRequest {
            entries: seed_actors(),
            expected_head: None,
            validate_only: false,
        })
        .await
        .expect("append");
    assert_eq!(
        response
            .metadata()
            .get("x-request-id")
            .map(|v| v.to_str().expect("ascii")),
        Some(REQUEST_ID),
        "the client's request id comes back"
    );
    let mut anonymous = authed(&server.url, None).await;
    let refused = anonymous
        .get_log_info(proto::GetLogInfoRequest {})
        .await
        .expect_err("no token");
    let generated = refused
        .metadata()
        .get("x-request-id")
        .expect("a generated request id, even on refusals")
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let mut reader = authed(&server.url, Some(token(Role::Read))).await;
    let mut stream = reader
        .subscribe(proto::SubscribeRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    stream.message().await.expect("history").expect("a message");
    let mut left = reader
        .subscribe(proto::SubscribeRequest::default())
        .await
        .expect("subscribe")
        .into_inner();
    left.message().await.expect("history").expect("a message");
    drop(left);
    // Wait until the server saw it go (one subscriber left), then a moment for its log line.
    let metrics = server.metrics.expect("metrics address");
    for _ in 0..200 {
        let samples = parse_samples(&scrape(metrics).await);
        if samples.get("eventlog_subscribers_active") == Some(&1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    sigterm(&server.child);
    let status = tokio::time::timeout(Duration::from_secs(20), server.child.wait())
        .await
        .expect("exits in time")
        .expect("exit status");
    assert!(status.success(), "{status}");

    let text = std::fs::read_to_string(&log_path).expect("read logs");
    for (_, secret, _) in TOKENS {
        assert!(!text.contains(secret), "a token appears in the logs");
    }
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for line in &lines {
        for key in ["timestamp", "level", "target"] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
    }
    let in_request = |line: &&Value| line["span"]["request_id"] == REQUEST_ID;
    let finished = lines
        .iter()
        .filter(in_request)
        .find(|line| line["message"] == "rpc finished")
        .unwrap_or_else(|| panic!("no finished line for the request id in\n{text}"));
    assert_eq!(finished["span"]["method"], "Append");
    assert_eq!(finished["span"]["caller"], "boss");
    assert_eq!(finished["code"], "OK");
    assert!(finished["latency_ms"].as_f64().is_some(), "{finished}");
    assert!(finished["span"]["peer"]
        .as_str()
        .is_some_and(|p| p.starts_with("127.0.0.1:")));
    let appended = lines
        .iter()
        .filter(in_request)
        .find(|line| line["message"] == "appended")
        .expect("the append logs its positions");
    assert_eq!(
        (
            appended["first_position"].as_u64(),
            appended["last_position"].as_u64()
        ),
        (Some(1), Some(3))
    );
    let refusal = lines
        .iter()
        .find(|line| {
            line["span"]["request_id"] == generated.as_str() && line["message"] == "rpc finished"
        })
        .expect("the refusal is logged under its generated id");
    assert_eq!(refusal["code"], "UNAUTHENTICATED");
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.contains(&"subscription started"), "{messages:?}");
    assert!(
        messages.contains(&"subscription ended: server shutting down"),
        "{messages:?}"
    );
    let gone = lines
        .iter()
        .find(|line| line["message"] == "subscription ended: the client went away")
        .unwrap_or_else(|| panic!("no line for the subscriber that left: {messages:?}"));
    assert_eq!(
        gone["span"]["method"], "Subscribe",
        "in the RPC's span: {gone}"
    );
}
