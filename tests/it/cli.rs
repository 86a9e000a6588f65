//! The binary's command line: help that documents every setting, clear start-up errors, and
//! the operator's vocabulary extension.

use crate::common;

use std::process::Command;

use common::*;
use eventlog::server::{self, Settings};
use tonic::Code;

fn eventlog(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args(args)
        .output()
        .expect("run eventlog")
}

#[test]
fn serve_help_documents_every_setting_and_its_environment_variable() {
    let output = eventlog(&["serve", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "--data-dir",
        "EVENTLOG_DATA_DIR",
        "./eventlog-data",
        "--listen",
        "EVENTLOG_LISTEN",
        "127.0.0.1:50051",
        "--vocabulary",
        "EVENTLOG_VOCABULARY",
        "--cache-mb",
        "EVENTLOG_CACHE_MB",
        "--log-level",
        "RUST_LOG",
        "--config",
        "EVENTLOG_CONFIG",
        "[[auth.tokens]]",
        "--log-format",
        "--metrics-listen",
        "--tls-cert",
        "--tls-key",
        "--tls-client-ca",
        "--open-reflection",
        "--insecure",
        "--max-concurrent-requests",
        "[default: 256]",
        "--max-streams",
        "EVENTLOG_MAX_STREAMS",
        "--max-subscribers",
        "[default: 1024]",
        "--request-timeout",
        "[default: 30]",
        "--max-message-bytes",
        "[default: 8388608]",
        "--shutdown-timeout",
        "[default: 10]",
    ] {
        assert!(help.contains(expected), "help lacks {expected}:\n{help}");
    }
}

#[test]
fn a_bad_vocabulary_file_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("vocabulary.toml");
    std::fs::write(
        &file,
        "[[relation]]\nkey = \"backs\"\ndescription = \"again\"\ninverse = \"x\"\n",
    )
    .expect("write");
    let data = dir.path().join("data");
    let output = eventlog(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().expect("utf-8 path"),
        "--vocabulary",
        file.to_str().expect("utf-8 path"),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"backs\" is defined twice"), "{stderr}");
}

#[test]
fn a_bad_listen_address_is_refused_with_the_flag_named() {
    let output = eventlog(&["serve", "--listen", "localhost"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--listen"), "{stderr}");
}

#[tokio::test]
async fn an_operator_vocabulary_adds_relations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("vocabulary.toml");
    std::fs::write(
        &file,
        "[[relation]]\nkey = \"smuggles_for\"\ndescription = \"Smuggles goods for the object.\"\ninverse = \"smuggled for by\"\ncameo_root = \"07\"\n",
    )
    .expect("write");
    let running = server::start(&Settings {
        vocabulary_file: Some(file),
        ..settings(&dir.path().join("data"))
    })
    .await
    .expect("server starts");
    let mut client = eventlog::proto::event_log_client::EventLogClient::connect(format!(
        "http://{}",
        running.local_addr
    ))
    .await
    .expect("connect");
    let mut batch = seed_actors();
    batch.push(event("e1", "smuggles_for", "iran", "liwa-al-quds", "2019"));
    append(&mut client, batch)
        .await
        .expect("the new relation is accepted");
    let types = client
        .list_relation_types(eventlog::proto::ListRelationTypesRequest {})
        .await
        .expect("types")
        .into_inner()
        .relation_types;
    assert!(types
        .iter()
        .any(|t| t.key == "smuggles_for" && t.cameo_root == "07"));
    assert!(
        types.iter().any(|t| t.key == "backs"),
        "built-in relations stay"
    );
    assert_status(
        append(
            &mut client,
            vec![event("e2", "smuggle", "iran", "liwa-al-quds", "2019")],
        )
        .await,
        Code::InvalidArgument,
        &["smuggles_for"],
    );
    running.stop().await.expect("stop");
}

#[test]
fn token_hash_prints_the_sha256_of_stdin() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args(["token", "hash"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run eventlog");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"abc\n")
        .expect("write");
    let output = child.wait_with_output().expect("output");
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn a_public_address_without_tls_and_tokens_is_refused_unless_insecure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let output = eventlog(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--data-dir",
        data.to_str().expect("utf-8 path"),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without TLS and access tokens")
            && stderr.contains("--insecure"),
        "{stderr}"
    );
}

#[test]
fn a_bad_config_file_stops_start_up_with_the_key_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("eventlog.toml");
    std::fs::write(
        &file,
        "[[auth.tokens]]\nname = \"ci\"\nsha256 = \"not-a-hash\"\nrole = \"read\"\n",
    )
    .expect("write");
    let output = eventlog(&["serve", "--config", file.to_str().expect("utf-8 path")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sha256 must be 64 lowercase hex digits"),
        "{stderr}"
    );
    std::fs::write(&file, "listne = \"127.0.0.1:1\"\n").expect("write");
    let output = eventlog(&["serve", "--config", file.to_str().expect("utf-8 path")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("listne"), "{stderr}");
}
