//! Eventlog cluster nodes for the cluster-mode tests: the real binary in cluster mode
//! (`serve --nats-url ... --node-name ...`), each with its own data directory, which can be
//! killed with SIGKILL and restarted on the same directory.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use eventlog::proto::event_log_client::EventLogClient;
use eventlog::proto::{self, Entry};
use sha2::{Digest, Sha256};
use tonic::transport::Channel;

use super::ops::{spawn_binary, Binary};

/// One eventlog node of a cluster, as a child process.
pub struct ClusterNode {
    pub name: String,
    pub data_dir: PathBuf,
    nats_urls: String,
    replicas: u8,
    /// Flags beyond the cluster's.
    extra: Vec<String>,
    log: PathBuf,
    binary: Option<Binary>,
}

impl ClusterNode {
    /// Starts node `name` on a data directory under `dir`, over the NATS servers `nats_urls`,
    /// creating the stream with `replicas` replicas if it is missing.
    pub async fn start(
        dir: &std::path::Path,
        name: &str,
        nats_urls: &str,
        replicas: u8,
    ) -> ClusterNode {
        ClusterNode::start_with(dir, name, nats_urls, replicas, &[]).await
    }

    /// The same, with `extra` flags (`--metrics-listen 127.0.0.1:0`, say).
    pub async fn start_with(
        dir: &std::path::Path,
        name: &str,
        nats_urls: &str,
        replicas: u8,
        extra: &[&str],
    ) -> ClusterNode {
        let mut node = ClusterNode {
            name: name.to_string(),
            data_dir: dir.join(name),
            nats_urls: nats_urls.to_string(),
            replicas,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            log: dir.join(format!("{name}.log")),
            binary: None,
        };
        node.spawn().await;
        node
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("node log file");
        let data_dir = self.data_dir.display().to_string();
        let replicas = self.replicas.to_string();
        let mut args = vec![
            "--data-dir",
            &data_dir,
            "--nats-url",
            &self.nats_urls,
            "--node-name",
            &self.name,
            "--nats-replicas",
            &replicas,
            "--cache-mb",
            "32",
            "--log-level",
            "info",
        ];
        args.extend(self.extra.iter().map(String::as_str));
        self.binary = Some(spawn_binary(&args, Stdio::from(log)).await);
    }

    /// The node's metrics address, if it was started with `--metrics-listen`.
    pub fn metrics(&self) -> Option<std::net::SocketAddr> {
        self.binary.as_ref().and_then(|b| b.metrics)
    }

    /// The node's gRPC address.
    pub fn url(&self) -> String {
        self.binary.as_ref().expect("node is running").url.clone()
    }

    /// A new client of the node.
    pub async fn client(&self) -> EventLogClient<Channel> {
        EventLogClient::connect(self.url())
            .await
            .expect("connect to node")
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    /// SIGKILL, and wait until the process is gone.
    pub async fn kill(&mut self) {
        if let Some(mut binary) = self.binary.take() {
            binary.child.start_kill().expect("SIGKILL");
            let _ = binary.child.wait().await;
        }
    }

    /// Starts the node again on its data directory.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }

    /// The node's log so far (for a failing test's message).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The node's cluster section of `GetLogInfo`.
pub async fn cluster_info(client: &mut EventLogClient<Channel>) -> (u64, proto::ClusterInfo) {
    let info = client
        .get_log_info(proto::GetLogInfoRequest {})
        .await
        .expect("GetLogInfo")
        .into_inner();
    (
        info.head,
        info.cluster.expect("a cluster node reports its cluster"),
    )
}

/// Waits (at most `patience`) until every node's head is `head`.
pub async fn wait_for_head(nodes: &[&ClusterNode], head: u64, patience: Duration) {
    let deadline = Instant::now() + patience;
    for node in nodes {
        let mut client = node.client().await;
        loop {
            let (at, _) = cluster_info(&mut client).await;
            if at >= head {
                assert_eq!(at, head, "node {} went past the expected head", node.name);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {} reached only {at} of {head}; its log:\n{}",
                node.name,
                node.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A digest of a node's whole log: every position, recording time and entry, as ReadLog gives
/// them. Two nodes with the same digest hold the same log.
pub fn digest(entries: &[Entry]) -> String {
    use prost::Message;
    let mut hash = Sha256::new();
    for entry in entries {
        hash.update(entry.encode_to_vec());
    }
    format!("{:x}", hash.finalize())
}

/// Runs `eventlog serve --listen 127.0.0.1:0 <args>`, which must refuse to start: asserts that
/// it exits unsuccessfully within 30 s, and returns what it said on stderr.
pub async fn refused_start(args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("exits in time")
        .expect("runs");
    assert!(!output.status.success(), "the server started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}
