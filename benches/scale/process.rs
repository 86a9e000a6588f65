//! The server under test as a separate process: the real `eventlog serve` binary, so the figures
//! include everything a deployment pays (its own allocator, runtime and page cache) and its
//! memory can be read from `/proc` without the benchmark's own allocations in it.
//!
//! Every child is owned by a guard that kills it when dropped, so a failed assertion or a panic
//! anywhere in the run never leaves a server or a subscriber process behind.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use eventlog::proto::event_log_client::EventLogClient;
use tonic::transport::Channel;

/// Longest wait for a server to print its address: opening a 10M-entry store today takes well
/// over a minute, and a hung server must still end the run.
const START_DEADLINE: Duration = Duration::from_secs(600);
/// Longest wait for a graceful stop before the server is killed: its own shutdown deadline is
/// 10 s, so past this something is wrong.
const STOP_DEADLINE: Duration = Duration::from_secs(60);

/// A child process that is killed (and reaped) when this guard is dropped.
pub struct ChildGuard {
    /// `None` once the child has exited and been reaped.
    child: Option<Child>,
}

impl ChildGuard {
    /// Takes ownership of a spawned child.
    pub fn new(child: Child) -> ChildGuard {
        ChildGuard { child: Some(child) }
    }

    /// The child's process id (0 once it is gone).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The child itself, for its pipes.
    pub fn child_mut(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }

    /// Waits for the child to exit on its own, up to `deadline`; kills it past that. Returns
    /// whether it exited successfully by itself.
    pub fn wait(&mut self, deadline: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if started.elapsed() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An `eventlog serve` process on a data directory of the run's.
pub struct ServerProcess {
    child: ChildGuard,
    /// Where it listens (port 0 was asked, so it is learned from its stdout).
    pub addr: SocketAddr,
    /// The data directory, measured for disk use.
    pub data_dir: PathBuf,
}

/// How a server is started.
#[derive(Clone)]
pub struct ServeConfig {
    /// The `eventlog` binary.
    pub bin: PathBuf,
    /// `--cache-mb`, also the cache the RSS target is measured against.
    pub cache_mb: u64,
    /// The server's stderr goes here (appended), so its warnings survive the run's temp dir
    /// only when the run keeps it, and never mix with the table.
    pub log_dir: PathBuf,
}

impl ServerProcess {
    /// Starts a server on `data_dir` and waits until it prints the address it listens on.
    pub fn spawn(config: &ServeConfig, data_dir: &Path) -> Result<ServerProcess, String> {
        let name = data_dir
            .file_name()
            .map_or("server".into(), |n| n.to_string_lossy().into_owned());
        let log_path = config.log_dir.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let child = Command::new(&config.bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0", "--log-level", "warn"])
            .args(["--cache-mb", &config.cache_mb.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", config.bin.display()))?;
        let mut child = ChildGuard::new(child);
        let stdout = child
            .child_mut()
            .and_then(|c| c.stdout.take())
            .ok_or("the server's stdout was not piped")?;
        let (found, address) = mpsc::channel();
        // The reader keeps draining stdout after the address line, so a later line can never
        // block the server on a full pipe; it ends when the server closes its stdout.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("eventlog listening on ") {
                    let _ = found.send(addr.trim().to_string());
                }
            }
        });
        let addr = address.recv_timeout(START_DEADLINE).map_err(|_| {
            format!(
                "the server on {} did not start listening; see {}",
                data_dir.display(),
                log_path.display()
            )
        })?;
        let addr = addr
            .parse()
            .map_err(|e| format!("the server printed an odd address {addr:?}: {e}"))?;
        Ok(ServerProcess {
            child,
            addr,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// A client on a connection of its own.
    pub async fn client(&self) -> EventLogClient<Channel> {
        connect(&self.url()).await
    }

    /// `http://ADDR`, for clients in other processes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's resident memory now and at its peak, in bytes (VmRSS, VmHWM).
    pub fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.pid()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// The server's peak resident memory since the last call (or its start), in bytes; resets
    /// the peak to what is resident now, so each phase of a run gets its own (Linux's
    /// `clear_refs` 5). Without the reset (another kernel) it is the peak so far.
    pub fn take_peak(&self) -> u64 {
        let (_, peak) = self.memory();
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.pid()), "5");
        peak
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it to exit; returns how
    /// long that took. A server that does not exit in time is killed and the run fails, since
    /// every later figure would be measured against a server in an unknown state.
    pub fn stop(mut self) -> Duration {
        let started = Instant::now();
        let pid = self.child.pid().to_string();
        // `kill` rather than a libc binding: one signal per run does not justify `unsafe`.
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "cannot send SIGTERM to the server (pid {pid})");
        let clean = self.child.wait(STOP_DEADLINE);
        assert!(
            clean,
            "the server (pid {pid}) did not stop cleanly on SIGTERM"
        );
        started.elapsed()
    }
}

/// Connects a client to `url`, allowing large catch-up messages.
pub async fn connect(url: &str) -> EventLogClient<Channel> {
    EventLogClient::new(channel(url).await).max_decoding_message_size(64 * 1024 * 1024)
}

/// A connection of its own to the server at `url`.
pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .unwrap_or_else(|e| panic!("bad server url {url}: {e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// Bytes a directory takes on disk (allocated blocks, as `du` counts them), every file included.
pub fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}
