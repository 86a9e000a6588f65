//! Live fan-out: many subscribers in another process while this one appends at a paced rate.
//!
//! The subscribers run in a child process (this same binary, `--subscriber-mode`) so their
//! work does not compete with the appender's runtime, and so that the server streams over
//! real sockets to a separate client as it would in production. They read entries with the
//! light reader (`counting.rs`: position and `recorded_at`, body skipped): a hundred clients
//! decoding every entry into structs would saturate this machine's cores by themselves. Latency is the time a
//! subscriber receives an entry minus the entry's `recorded_at`: what a live consumer waits
//! from the moment the server recorded the entry (both clocks are this machine's).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use eventlog::proto::{self, subscribe_request::Start};

use crate::counting;
use crate::process::ChildGuard;
use crate::queries::percentile;
use crate::workload::{append, events, head, Client};

/// Events per paced append: ten every millisecond make 10k/s.
const BATCH: u64 = 10;
/// Appends in flight at once, as independent producers would have, so one append waiting for a
/// flush does not stall the pace.
const MAX_IN_FLIGHT: usize = 32;
/// Extra time the subscribers get, beyond the appends, to receive the last entry.
const GRACE: Duration = Duration::from_secs(60);

/// One paced run.
pub struct FanOut {
    /// Events per second asked for.
    pub asked: u64,
    /// Events per second the appends achieved.
    pub achieved: f64,
    /// Entries received over all subscribers, and how many were due.
    pub deliveries: u64,
    /// Subscribers × events appended.
    pub expected: u64,
    /// Latency quantiles.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

impl FanOut {
    /// Whether this rate holds: every delivery arrived, the pace held, and p99 <= `limit`.
    pub fn holds(&self, limit: Duration) -> bool {
        self.deliveries == self.expected
            && self.achieved >= self.asked as f64 * 0.95
            && self.p99 <= limit
    }
}

/// Appends `seconds` worth of events at `rate` (events numbered from `first`) while
/// `subscribers` subscribers in a child process receive them.
pub async fn run(
    client: &mut Client,
    url: &str,
    rate: u64,
    seconds: u64,
    subscribers: u64,
    first: u64,
) -> FanOut {
    let total = (rate * seconds).div_ceil(BATCH) * BATCH;
    let until = head(client).await + total;
    let exe = std::env::current_exe().expect("the benchmark knows its own executable");
    let deadline = Duration::from_secs(seconds) + GRACE;
    let mut child = ChildGuard::new(
        Command::new(exe)
            .args(["--subscriber-mode", "--url", url])
            .args(["--subscribers", &subscribers.to_string()])
            .args(["--until", &until.to_string()])
            .args(["--deadline-secs", &deadline.as_secs().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the subscriber process starts"),
    );
    let stdout = child
        .child_mut()
        .and_then(|c| c.stdout.take())
        .expect("the subscriber's stdout is piped");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = lines.recv_timeout(GRACE);
    assert_eq!(
        ready.as_deref(),
        Ok("ready"),
        "the subscriber process did not get ready"
    );
    // Subscriptions answered their headers; give the server a moment to put them all live.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 * BATCH / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut n = first;
    while n < first + total {
        ticker.tick().await;
        let permit = Arc::clone(&in_flight)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let mut client = client.clone();
        let batch = events(n, n + BATCH);
        tasks.push(tokio::spawn(async move {
            append(&mut client, batch).await;
            drop(permit);
        }));
        n += BATCH;
    }
    for task in tasks {
        task.await.expect("a paced append panicked");
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();

    let report = tokio::task::spawn_blocking(move || lines.recv_timeout(deadline + GRACE))
        .await
        .expect("the reader joins");
    let report = report.expect("the subscriber process reports");
    child.wait(GRACE);
    let field = |name: &str| -> u64 {
        report
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("the subscriber report lacks {name}: {report}"))
    };
    FanOut {
        asked: rate,
        achieved,
        deliveries: field("deliveries"),
        expected: total * subscribers,
        p50: Duration::from_micros(field("p50_us")),
        p99: Duration::from_micros(field("p99_us")),
    }
}

/// Arguments of `--subscriber-mode`.
pub struct SubscriberArgs {
    /// The server.
    pub url: String,
    /// How many subscriptions to open.
    pub subscribers: u64,
    /// Each stops once it has received this position.
    pub until: u64,
    /// And gives up after this long.
    pub deadline: Duration,
}

/// The child's side: opens the subscriptions, prints `ready`, receives until `until` (or the
/// deadline), then prints one line `deliveries=… p50_us=… p99_us=… max_us=…`.
pub async fn subscriber_main(args: SubscriberArgs) {
    let mut streams = Vec::new();
    for _ in 0..args.subscribers {
        // One connection each, as separate consumers would have.
        let channel = crate::process::channel(&args.url).await;
        let request = proto::SubscribeRequest {
            start: Some(Start::FromEnd(true)),
            ..Default::default()
        };
        streams.push(counting::subscribe(channel, request).await);
    }
    println!("ready");
    let until = args.until;
    let deadline = tokio::time::Instant::now() + args.deadline;
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let message = tokio::time::timeout_at(deadline, stream.message()).await;
                    let Ok(Ok(Some(frame))) = message else {
                        break;
                    };
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_micros() as i64;
                    let mut done = false;
                    for entry in frame.entries {
                        let waited = (now - entry.recorded_us).max(0) as u64;
                        latencies.push(Duration::from_micros(waited));
                        done |= entry.position >= until;
                    }
                    if done {
                        break;
                    }
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("a subscriber task panicked"));
    }
    all.sort();
    println!(
        "deliveries={} p50_us={} p99_us={} max_us={}",
        all.len(),
        percentile(&all, 0.50).as_micros(),
        percentile(&all, 0.99).as_micros(),
        all.last().copied().unwrap_or_default().as_micros()
    );
}
