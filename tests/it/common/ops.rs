//! Helpers of the operations tests: clients with bearer tokens, a server with tokens, test
//! certificates, metrics scraping and the real binary.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use eventlog::ops::auth::{hash_token, AccessPolicy, TokenConfig};
use eventlog::ops::methods::Role;
use eventlog::proto::event_log_client::EventLogClient;
use eventlog::server::Settings;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// The tokens of [`with_tokens`]: `(name, token, role)`.
pub const TOKENS: &[(&str, &str, Role)] = &[
    ("reader", "read-token-0123456789", Role::Read),
    ("writer", "append-token-0123456789", Role::Append),
    ("boss", "admin-token-0123456789", Role::Admin),
];

/// The token of the role `role` in [`TOKENS`].
pub fn token(role: Role) -> &'static str {
    TOKENS
        .iter()
        .find(|(_, _, r)| *r == role)
        .map(|(_, t, _)| *t)
        .expect("a token per role")
}

/// The `[[auth.tokens]]` of [`TOKENS`].
pub fn token_configs() -> Vec<TokenConfig> {
    TOKENS
        .iter()
        .map(|(name, token, role)| TokenConfig {
            name: name.to_string(),
            sha256: hash_token(token),
            role: *role,
        })
        .collect()
}

/// `settings` with the tokens of [`TOKENS`] configured.
pub fn with_tokens(settings: Settings, open_reflection: bool) -> Settings {
    Settings {
        access: AccessPolicy::new(&token_configs(), open_reflection).expect("valid tokens"),
        ..settings
    }
}

/// Adds `authorization: Bearer <token>` to every request, when it has a token.
#[derive(Clone)]
pub struct Bearer(pub Option<String>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.0 {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| Status::internal("bad token in test"))?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// A client that presents `token`.
pub type AuthedClient = EventLogClient<InterceptedService<Channel, Bearer>>;

/// A channel to `url`.
pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

/// A client of `url` presenting `token`.
pub async fn authed(url: &str, token: Option<&str>) -> AuthedClient {
    EventLogClient::with_interceptor(channel(url).await, Bearer(token.map(str::to_string)))
}

/// Certificates made for one test: a CA, a server certificate for `localhost` and a client
/// certificate, all signed by the CA, written as PEM files.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    pub ca_pem: String,
}

impl Pki {
    /// Generates everything into `dir`.
    pub fn generate(dir: &Path) -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "eventlog test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
        let leaf = |names: Vec<String>, cn: &str| {
            let mut params = CertificateParams::new(names).expect("params");
            params.distinguished_name.push(DnType::CommonName, cn);
            let key = KeyPair::generate().expect("key");
            let cert = params.signed_by(&key, &ca).expect("signed");
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key_pem) =
            leaf(vec!["localhost".into(), "127.0.0.1".into()], "localhost");
        let (client_cert_pem, client_key_pem) = leaf(vec!["client.test".into()], "client");
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write pem");
            path
        };
        Pki {
            ca: write("ca.pem", &ca.pem()),
            server_cert: write("server.pem", &server_pem),
            server_key: write("server.key", &server_key_pem),
            client_cert_pem,
            client_key_pem,
            ca_pem: ca.pem(),
        }
    }
}

/// `GET /metrics` from `addr`: the body.
pub async fn scrape(addr: SocketAddr) -> String {
    // A token is ignored by a server without tokens and needed by one with them.
    let (head, body) = scrape_with(addr, Some(token(Role::Admin))).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: application/openmetrics-text"));
    body
}

/// `GET /metrics`, with `token` as a bearer token if given: the response's head and body.
pub async fn scrape_with(addr: SocketAddr, token: Option<&str>) -> (String, String) {
    let mut stream = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    .expect("connect in time")
    .expect("connect to metrics");
    let authorization = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\n{authorization}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("metrics in time")
    .expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (head.to_string(), body.to_string())
}

/// The samples of a text exposition, keyed as [`series`] writes them.
pub fn parse_samples(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (written, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let key = match written.split_once('{') {
            None => written.to_string(),
            Some((name, labels)) => {
                let labels: Vec<(&str, &str)> = labels
                    .trim_end_matches('}')
                    .split("\",")
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').expect("label=value");
                        (k, v.trim_matches('"'))
                    })
                    .collect();
                series(name, &labels)
            }
        };
        assert!(samples.insert(key, value).is_none(), "{written} twice");
    }
    samples
}

/// A series' key: its name and its labels in name order, `name{a="1",b="2"}`.
pub fn series(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let mut labels = labels.to_vec();
    labels.sort();
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// The real binary, running.
pub struct Binary {
    pub child: Child,
    pub url: String,
    pub metrics: Option<SocketAddr>,
}

/// Starts the real binary with `args` (plus `--listen 127.0.0.1:0` unless given), stderr to
/// `stderr`, and reads its address (and metrics address) from stdout.
pub async fn spawn_binary(args: &[&str], stderr: Stdio) -> Binary {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eventlog"));
    command.arg("serve");
    if !args.contains(&"--listen") {
        command.args(["--listen", "127.0.0.1:0"]);
    }
    let mut child = command
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn eventlog");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = next_line(&mut lines).await;
    let addr = line
        .strip_prefix("eventlog listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let metrics = if args.contains(&"--metrics-listen") {
        let line = next_line(&mut lines).await;
        let url = line
            .strip_prefix("eventlog metrics on http://")
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("unexpected second line {line:?}"));
        Some(url.parse().expect("metrics address"))
    } else {
        None
    };
    Binary {
        child,
        url: format!("http://{addr}"),
        metrics,
    }
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the server prints within 30 s")
        .expect("read stdout")
        .expect("a line")
}

/// Sends SIGTERM to `child`.
pub fn sigterm(child: &Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(status.success());
}
