//! The binary's command line: help that documents every setting, clear start-up errors, and
//! the operator's vocabulary extension.

mod common;

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
