//! Real `nats-server` processes for the cluster-mode tests (issue 16): a JetStream cluster of N
//! servers on free loopback ports, or one server without a cluster, each with its own store
//! directory and log file in a temporary directory. Servers can be killed (`kill -9`), stopped
//! gracefully and restarted on the same ports, store and configuration. Every process the
//! harness started is killed when it is dropped, a panicking test included; a panicking test
//! also gets the tail of every server's log on stderr.
//!
//! The binary is `EVENTLOG_NATS_SERVER`, else `nats-server` on `PATH`; `scripts/nats-deps.sh`
//! installs the pinned one. Without either a test skips (see [`skip_without_nats`]), unless
//! `CI=true`, where a missing server is a failure.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a start or restart may take before the harness gives up.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a graceful stop may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// JetStream's `sync_interval`: when a server fsyncs its stream files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// JetStream's default (every two minutes): an acknowledged publish may be in the page
    /// cache only.
    Default,
    /// `sync_interval: always`: each write is fsynced before it is acknowledged, as
    /// docs/nats/eventlog-nats.conf recommends.
    Always,
}

/// The nats-server binary: `EVENTLOG_NATS_SERVER` if set, else `nats-server` on `PATH`.
pub fn nats_server_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("EVENTLOG_NATS_SERVER").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "EVENTLOG_NATS_SERVER={} is not a file (run scripts/nats-deps.sh)",
            path.display()
        );
        return Some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

/// True, after saying so on stderr, when there is no nats-server: the caller returns, and the
/// test passes without running. With `CI=true` a missing server panics instead.
///
/// ```ignore
/// if skip_without_nats() {
///     return;
/// }
/// ```
pub fn skip_without_nats() -> bool {
    if nats_server_binary().is_some() {
        return false;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "no nats-server: set EVENTLOG_NATS_SERVER or put nats-server on PATH \
             (export EVENTLOG_NATS_SERVER=\"$(bash scripts/nats-deps.sh)\")"
        );
    }
    eprintln!("skipping: no nats-server (run scripts/nats-deps.sh)");
    true
}

/// One server of a [`NatsCluster`].
struct Node {
    name: String,
    client_port: u16,
    cluster_port: Option<u16>,
    http_port: u16,
    config: PathBuf,
    log: PathBuf,
    store: PathBuf,
    child: Option<Child>,
}

/// N nats-server processes with JetStream: a cluster (`start`, `start_with`) or one server
/// without a cluster (`start_single`, `start_single_with`).
pub struct NatsCluster {
    binary: PathBuf,
    nodes: Vec<Node>,
    clustered: bool,
    _temp: tempfile::TempDir,
}

impl NatsCluster {
    /// A JetStream cluster of `n` servers with JetStream's default sync, ready (a meta leader
    /// elected and every server's peers known) when it returns.
    pub async fn start(n: usize) -> NatsCluster {
        NatsCluster::start_with(n, Sync::Default).await
    }

    /// A JetStream cluster of `n` servers with `sync`.
    pub async fn start_with(n: usize, sync: Sync) -> NatsCluster {
        assert!(n >= 1, "a cluster has at least one server");
        NatsCluster::launch_ready(n, true, sync, None).await
    }

    /// One server with JetStream and no cluster (R1 streams only).
    pub async fn start_single() -> NatsCluster {
        NatsCluster::start_single_with(Sync::Default).await
    }

    /// One server with JetStream, no cluster, and `sync`.
    pub async fn start_single_with(sync: Sync) -> NatsCluster {
        NatsCluster::launch_ready(1, false, sync, None).await
    }

    /// One server with JetStream that offers TLS with `cert` and `key` (PEM). It also takes
    /// plain connections (`allow_non_tls`), which the harness's own readiness checks use; a
    /// client that requires TLS gets it.
    pub async fn start_single_tls(cert: &Path, key: &Path) -> NatsCluster {
        let tls = (cert.to_path_buf(), key.to_path_buf());
        NatsCluster::launch_ready(1, false, Sync::Default, Some(tls)).await
    }

    /// [`NatsCluster::launch`], ready. The ports are free when chosen but released before the
    /// servers bind them, so another process can take one in between (seen in CI: `bind:
    /// address already in use`): then the whole set starts again on new ports, a few times.
    async fn launch_ready(
        n: usize,
        clustered: bool,
        sync: Sync,
        tls: Option<(PathBuf, PathBuf)>,
    ) -> NatsCluster {
        const ATTEMPTS: usize = 3;
        for _ in 1..ATTEMPTS {
            let mut cluster = NatsCluster::launch(n, clustered, sync, tls.clone());
            if !cluster.lost_a_port().await {
                cluster.wait_ready().await;
                return cluster;
            }
        }
        let mut cluster = NatsCluster::launch(n, clustered, sync, tls);
        cluster.wait_ready().await;
        cluster
    }

    /// Waits until every server answers `/healthz` or one exits; true if one exited because
    /// its port was taken. Anything else is left to `wait_ready` to report.
    async fn lost_a_port(&mut self) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            let mut healthy = 0;
            for i in 0..self.len() {
                if !self.is_running(i) {
                    return self.logs(i).contains("address already in use");
                }
                if self.healthz(i).await {
                    healthy += 1;
                }
            }
            if healthy == self.len() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn launch(
        n: usize,
        clustered: bool,
        sync: Sync,
        tls: Option<(PathBuf, PathBuf)>,
    ) -> NatsCluster {
        let binary = nats_server_binary()
            .expect("no nats-server (run scripts/nats-deps.sh); call skip_without_nats first");
        let temp = tempfile::Builder::new()
            .prefix("eventlog-nats-")
            .tempdir()
            .expect("temp dir");
        let per_node = if clustered { 3 } else { 2 };
        let mut ports = free_ports(n * per_node).into_iter();
        let mut nodes: Vec<Node> = (1..=n)
            .map(|i| {
                let dir = temp.path().join(format!("n{i}"));
                fs::create_dir_all(&dir).expect("node dir");
                Node {
                    name: format!("n{i}"),
                    client_port: ports.next().expect("port"),
                    cluster_port: clustered.then(|| ports.next().expect("port")),
                    http_port: ports.next().expect("port"),
                    config: dir.join("nats.conf"),
                    log: dir.join("server.log"),
                    store: dir.join("store"),
                    child: None,
                }
            })
            .collect();
        let routes: Vec<String> = nodes
            .iter()
            .filter_map(|node| node.cluster_port)
            .map(|port| format!("nats-route://127.0.0.1:{port}"))
            .collect();
        for node in &nodes {
            fs::write(&node.config, config_text(node, &routes, sync, tls.as_ref()))
                .expect("write config");
        }
        let mut cluster = NatsCluster {
            binary,
            nodes: Vec::new(),
            clustered,
            _temp: temp,
        };
        for node in &mut nodes {
            node.child = Some(spawn(&cluster.binary, node));
        }
        cluster.nodes = nodes;
        cluster
    }

    /// How many servers there are.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The client URLs, comma-separated, as `--nats-url` takes them.
    pub fn urls(&self) -> String {
        self.url_list().join(",")
    }

    /// The client URLs, one per server.
    pub fn url_list(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.url(i)).collect()
    }

    /// The client URL of server `i` (0-based; its server name is `n{i+1}`).
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].client_port)
    }

    /// The server name of server `i`: `n{i+1}`.
    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// The index of the server named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|node| node.name == name)
    }

    /// The store directory (`-sd`) of server `i`.
    pub fn store_dir(&self, i: usize) -> &Path {
        &self.nodes[i].store
    }

    /// The configuration file of server `i`.
    pub fn config_file(&self, i: usize) -> &Path {
        &self.nodes[i].config
    }

    /// The monitoring address (`/healthz`, `/varz`, `/jsz`) of server `i`.
    pub fn monitor_addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.nodes[i].http_port)
    }

    /// Whether server `i` runs.
    pub fn is_running(&mut self, i: usize) -> bool {
        match self.nodes[i].child.as_mut() {
            Some(child) => child.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// The process id of server `i`, if it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    /// A client connected to any of the servers (it reconnects to the others).
    pub async fn client(&self) -> async_nats::Client {
        async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(self.url_list())
            .await
            .expect("connect to nats")
    }

    /// A JetStream context on [`Self::client`] whose requests and acks time out after 5 s.
    pub async fn jetstream(&self) -> jetstream::Context {
        self.jetstream_with_timeout(Duration::from_secs(5)).await
    }

    /// A JetStream context on [`Self::client`] whose requests and acks time out after
    /// `timeout` (short, for a test that retries publishes lost with a killed server).
    pub async fn jetstream_with_timeout(&self, timeout: Duration) -> jetstream::Context {
        jetstream::ContextBuilder::new()
            .timeout(timeout)
            .build(self.client().await)
    }

    /// Kills server `i` with SIGKILL (`kill -9`) and waits for it to exit.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let mut child = node.child.take().expect("the server runs");
        child.kill().expect("kill nats-server");
        let status = child.wait().expect("wait for nats-server");
        note(&node.log, &format!("killed with SIGKILL: {status}"));
    }

    /// Stops server `i` gracefully (SIGTERM) and waits for it to exit; kills it if it has not
    /// after 10 s.
    pub async fn stop(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let mut child = node.child.take().expect("the server runs");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                note(&node.log, &format!("stopped: {status}"));
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not stop within {STOP_TIMEOUT:?} of SIGTERM; its log:\n{}",
                    node.name,
                    fs::read_to_string(&node.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts server `i` again (it must not run) on the same ports, store directory and
    /// configuration, and waits until its `/healthz` is ok: JetStream is up and, in a
    /// cluster, its meta and stream replicas are current again.
    pub async fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].child.is_none(), "{} still runs", self.name(i));
        let child = spawn(&self.binary, &self.nodes[i]);
        self.nodes[i].child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        self.wait_healthy(i, deadline).await;
    }

    /// Starts every server that does not run (after `kill` or `stop` of several, or all) and
    /// waits as `start` does: all healthy and JetStream taking streams again.
    pub async fn restart_all(&mut self) {
        for i in 0..self.len() {
            if self.nodes[i].child.is_none() {
                let child = spawn(&self.binary, &self.nodes[i]);
                self.nodes[i].child = Some(child);
            }
        }
        self.wait_ready().await;
    }

    /// What server `i` wrote to stdout and stderr, over all its runs.
    pub fn logs(&self, i: usize) -> String {
        fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
    }

    /// Every server's log, each under a header line.
    pub fn all_logs(&self) -> String {
        let mut all = String::new();
        for i in 0..self.len() {
            let _ = writeln!(all, "===== {} ({}) =====", self.name(i), self.url(i));
            all.push_str(&self.logs(i));
        }
        all
    }

    /// `GET /healthz` of server `i`: whether it answered 200.
    pub async fn healthz(&self, i: usize) -> bool {
        http_get(&self.monitor_addr(i), "/healthz")
            .await
            .is_some_and(|(status, _)| status == 200)
    }

    /// `GET path` of server `i`'s monitoring port: the body, if it answered 200.
    pub async fn monitor(&self, i: usize, path: &str) -> Option<String> {
        match http_get(&self.monitor_addr(i), path).await {
            Some((200, body)) => Some(body),
            _ => None,
        }
    }

    /// The name of the JetStream meta leader as the first running server that knows one sees
    /// it (from `/jsz`), if any does.
    pub async fn meta_leader(&mut self) -> Option<String> {
        for i in 0..self.len() {
            if !self.is_running(i) {
                continue;
            }
            let Some(body) = self.monitor(i, "/jsz").await else {
                continue;
            };
            let jsz: serde_json::Value = serde_json::from_str(&body).expect("/jsz is JSON");
            if let Some(leader) = jsz["meta_cluster"]["leader"].as_str() {
                if !leader.is_empty() {
                    return Some(leader.to_string());
                }
            }
        }
        None
    }

    /// Waits until server `i` answers `/healthz` with 200, panicking with its log at
    /// `deadline` or if it exits.
    async fn wait_healthy(&mut self, i: usize, deadline: Instant) {
        loop {
            self.assert_alive(i);
            if self.healthz(i).await {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} not healthy within {READY_TIMEOUT:?}; its log:\n{}",
                    self.name(i),
                    self.logs(i)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Panics with its log if server `i` has exited.
    fn assert_alive(&mut self, i: usize) {
        if !self.is_running(i) {
            panic!(
                "{} exited unexpectedly; its log:\n{}",
                self.name(i),
                self.logs(i)
            );
        }
    }

    /// Waits until every server is healthy and, in a cluster, a stream replicated on every
    /// server (up to five) can be created, which needs a meta leader that knows all peers.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        for i in 0..self.len() {
            self.wait_healthy(i, deadline).await;
        }
        // Short tries: a request sent while the routes are still forming can lose its reply,
        // and a create of a stream that exists with the same configuration succeeds.
        let js = self.jetstream_with_timeout(Duration::from_secs(1)).await;
        let probe = stream::Config {
            name: "HARNESS_PROBE".into(),
            subjects: vec!["harness.probe".into()],
            num_replicas: if self.clustered { self.len().min(5) } else { 1 },
            storage: stream::StorageType::Memory,
            ..Default::default()
        };
        loop {
            match js.create_stream(probe.clone()).await {
                Ok(_) => break,
                Err(error) if Instant::now() > deadline => panic!(
                    "JetStream not ready within {READY_TIMEOUT:?} (last error: {error}); \
                     logs:\n{}",
                    self.all_logs()
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        loop {
            match js.delete_stream("HARNESS_PROBE").await {
                Ok(_) => return,
                Err(error) if error.to_string().contains("not found") => return,
                Err(error) if Instant::now() > deadline => {
                    panic!("could not delete the probe stream: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for node in &self.nodes {
                let log = fs::read_to_string(&node.log).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let tail = &lines[lines.len().saturating_sub(40)..];
                eprintln!(
                    "===== last {} lines of {}'s log =====\n{}",
                    tail.len(),
                    node.name,
                    tail.join("\n")
                );
            }
        }
    }
}

/// The configuration file of `node`: its ports, its store, `sync`, and in a cluster the routes
/// to every server (a server skips the route to itself).
fn config_text(
    node: &Node,
    routes: &[String],
    sync: Sync,
    tls: Option<&(PathBuf, PathBuf)>,
) -> String {
    let mut text = format!(
        "server_name: {name}\n\
         listen: \"127.0.0.1:{client}\"\n\
         http: \"127.0.0.1:{http}\"\n\
         jetstream {{\n\
         \x20   store_dir: \"{store}\"\n\
         \x20   max_memory_store: 64MB\n\
         \x20   max_file_store: 4GB\n",
        name = node.name,
        client = node.client_port,
        http = node.http_port,
        store = node.store.display(),
    );
    if sync == Sync::Always {
        text.push_str("    sync_interval: always\n");
    }
    text.push_str("}\n");
    if let Some((cert, key)) = tls {
        let _ = write!(
            text,
            "tls {{\n\
             \x20   cert_file: \"{}\"\n\
             \x20   key_file: \"{}\"\n\
             }}\n\
             allow_non_tls: true\n",
            cert.display(),
            key.display()
        );
    }
    if let Some(port) = node.cluster_port {
        let _ = write!(
            text,
            "cluster {{\n\
             \x20   name: eventlog-test\n\
             \x20   listen: \"127.0.0.1:{port}\"\n\
             \x20   routes: [{}]\n\
             }}\n",
            routes.join(", ")
        );
    }
    text
}

/// Starts `node`'s server, its stdout and stderr appended to its log file.
fn spawn(binary: &Path, node: &Node) -> Child {
    note(&node.log, "starting");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&node.log)
        .expect("open log");
    let log_err = log.try_clone().expect("clone log");
    Command::new(binary)
        .arg("-c")
        .arg(&node.config)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()))
}

/// Appends a harness line to a log file, so a log shows where each run began and ended.
fn note(log: &Path, what: &str) {
    let mut file: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open log");
    let _ = writeln!(file, "----- harness: {what} -----");
}

/// `count` distinct free loopback ports: all bound at once (so none repeats), then released.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// A plain HTTP/1.1 GET: the status code and body, or None if the server did not answer in a
/// second.
async fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_string()))
    };
    tokio::time::timeout(Duration::from_secs(1), exchange)
        .await
        .ok()
        .flatten()
}
