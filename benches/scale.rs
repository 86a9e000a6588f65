//! The scale run of issue 11: one run that prints every target beside its reference.
//!
//! It starts the real `eventlog serve` as a separate process on fresh data directories, drives
//! it only through the public gRPC interface, measures raw sled doing the same work on the same
//! disk in the same run, and prints one Markdown table `what | eventlog | reference | ratio |
//! target | pass?`. Nothing here reads the store's files except to count their bytes, so the
//! same run measures today's store and the next one.
//!
//! ```sh
//! cargo bench --bench scale -- --events 1000000      # or scripts/scale.sh 1000000
//! cargo bench --bench scale -- --events 100000 --gdelt
//! ```
//!
//! `--help` lists every setting. Under `cargo test` (no `--bench`) it runs at a few thousand
//! events as a smoke test of the run itself. Its parts live in `benches/scale/`: `process.rs`
//! (child processes), `raw.rs` (the raw sled reference), `workload.rs` (the gRPC load),
//! `counting.rs` (a catch-up reader that counts frames without decoding them),
//! `fanout.rs` (the subscriber process), `queries.rs` (latencies), `gdelt_run.rs` (`--gdelt`)
//! and `report.rs` (the table).

#[path = "scale/counting.rs"]
mod counting;
#[path = "scale/fanout.rs"]
mod fanout;
#[path = "support/gdelt.rs"]
mod gdelt;
#[path = "scale/gdelt_run.rs"]
mod gdelt_run;
#[path = "support/load.rs"]
mod load;
#[path = "scale/process.rs"]
mod process;
#[path = "scale/queries.rs"]
mod queries;
#[path = "scale/raw.rs"]
mod raw;
#[path = "scale/report.rs"]
mod report;
#[path = "scale/workload.rs"]
mod workload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;

use process::{disk_usage, ServeConfig, ServerProcess};
use report::{count, kb, mib, ms, rate, Row};
use workload::Indexed;

/// The same allocator as the server binary, so the client side costs what a real client would.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events per `Append` of the batched load, and per raw sled batch (the issue's 100 × ~500 B).
const BATCH: u64 = 100;
/// One claim for this many events, so the claim queries have something to find.
const EVENTS_PER_CLAIM: u64 = 50;
/// Concurrent clients of the single-event load.
const SINGLE_CLIENTS: u64 = 64;
/// The fan-out latency target.
const FAN_OUT_P99: Duration = Duration::from_millis(10);
/// Rates tried, highest first, until one holds the fan-out target.
const FAN_OUT_STEPS: [u64; 10] = [
    10_000, 7_000, 5_000, 3_500, 2_500, 1_700, 1_200, 800, 500, 250,
];

/// Settings of the run.
#[derive(Parser)]
#[command(about = "eventlog scale run: every target of issue 11 beside its reference")]
struct Args {
    /// Events in the large log (N).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events in the small log the query latencies are compared with.
    #[arg(long, default_value_t = 10_000)]
    small_events: u64,
    /// The server's `--cache-mb` (and raw sled's cache); the RSS target is this + 150 MiB.
    #[arg(long, default_value_t = 256)]
    cache_mb: u64,
    /// Where the run's temporary directory is made (a real disk: fsync on tmpfs is free).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the temporary directory (data dirs, server logs) instead of deleting it.
    #[arg(long)]
    keep: bool,
    /// The `eventlog` binary. [default: the one cargo built with this benchmark]
    #[arg(long)]
    bin: Option<PathBuf>,
    /// The number of the first generated event: events are a pure function of their number, so
    /// a run is the same bytes every time, and a different seed gives fresh ids.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Calls per query (after a tenth as many untimed ones).
    #[arg(long, default_value_t = 200)]
    query_rounds: usize,
    /// Appends each of the 64 single-event clients makes (and the batched burst beside them
    /// appends as many events in all).
    #[arg(long, default_value_t = 50)]
    single_per_client: u64,
    /// `GetEntry` calls at random positions in the random-read phase.
    #[arg(long, default_value_t = 50_000)]
    random_reads: u64,
    /// Subscribers of the fan-out.
    #[arg(long, default_value_t = 100)]
    subscribers: u64,
    /// Seconds of paced appends per fan-out rate.
    #[arg(long, default_value_t = 5)]
    fan_out_seconds: u64,
    /// Import N GDELT-shaped rows with `eventlog import` instead of the synthetic load.
    #[arg(long)]
    gdelt: bool,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
    /// Internal: be the fan-out's subscriber process.
    #[arg(long, hide = true)]
    subscriber_mode: bool,
    /// Internal (subscriber mode): the server.
    #[arg(long, hide = true, default_value = "")]
    url: String,
    /// Internal (subscriber mode): stop after this position.
    #[arg(long, hide = true, default_value_t = 0)]
    until: u64,
    /// Internal (subscriber mode): give up after this many seconds.
    #[arg(long, hide = true, default_value_t = 60)]
    deadline_secs: u64,
}

fn main() {
    let mut args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built");
    if args.subscriber_mode {
        runtime.block_on(fanout::subscriber_main(fanout::SubscriberArgs {
            url: args.url,
            subscribers: args.subscribers,
            until: args.until,
            deadline: Duration::from_secs(args.deadline_secs),
        }));
        return;
    }
    if !args.bench {
        // `cargo test --all-targets`: a smoke run of every part, small enough for CI.
        eprintln!("scale: smoke run (use `cargo bench --bench scale` for the real one)");
        args.events = 3_000;
        args.small_events = 1_000;
        args.query_rounds = 10;
        args.subscribers = 4;
        args.fan_out_seconds = 1;
        args.single_per_client = 5;
        args.random_reads = 400;
    }
    let temp = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).expect("the work dir can be created");
            tempfile::Builder::new().prefix("scale-").tempdir_in(dir)
        }
        None => tempfile::Builder::new().prefix("eventlog-scale-").tempdir(),
    }
    .expect("a temporary directory can be made");
    let serve = ServeConfig {
        bin: args
            .bin
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_eventlog"))),
        cache_mb: args.cache_mb,
        log_dir: temp.path().to_path_buf(),
    };
    let started = Instant::now();
    let (header, rows) = runtime.block_on(async {
        if args.gdelt {
            gdelt_run::run(&args_for_gdelt(&args), &serve, temp.path()).await
        } else {
            synthetic(&args, &serve, temp.path()).await
        }
    });
    println!("{header}");
    println!("{}", report::render(&rows));
    println!("(run took {:.0} s)", started.elapsed().as_secs_f64());
    if args.keep {
        let kept = temp.keep();
        eprintln!("scale: kept {}", kept.display());
    }
}

fn args_for_gdelt(args: &Args) -> gdelt_run::GdeltArgs {
    gdelt_run::GdeltArgs {
        rows: args.events,
        small_rows: args.small_events,
        query_rounds: args.query_rounds,
    }
}

/// Prints a progress line on stderr (the table goes to stdout).
fn progress(started: Instant, what: &str) {
    eprintln!("[{:>6.1} s] {what}", started.elapsed().as_secs_f64());
}

/// Bytes per event, in KB (1000 bytes, as the issue's targets are written).
fn kb_per_event(bytes: u64, events: u64) -> f64 {
    bytes as f64 / events.max(1) as f64 / 1000.0
}

/// The whole synthetic run; returns the header and the table's rows.
async fn synthetic(args: &Args, serve: &ServeConfig, work: &Path) -> (String, Vec<Row>) {
    let t = Instant::now();
    let (n, first) = (args.events, args.seed);
    let mut rows = Vec::new();

    progress(
        t,
        &format!("raw sled: {} records, insert + flush per {BATCH}", count(n)),
    );
    let raw_dir = work.join("raw-sled");
    let raw = raw::measure(&raw_dir, first, n, BATCH, args.cache_mb);
    // Freed before the server starts, so both see the same free page cache.
    std::fs::remove_dir_all(&raw_dir).expect("the raw sled dir can be removed");

    progress(
        t,
        &format!("eventlog: {} events, batches of {BATCH}", count(n)),
    );
    let server = ServerProcess::spawn(serve, &work.join("log-large")).expect("the server starts");
    let url = server.url();
    let mut client = server.client().await;
    workload::seed_actors(&mut client).await;
    let load_started = Instant::now();
    let append_time = workload::append_events(&mut client, first, n, BATCH, true).await;
    let deadline = (append_time * 4).max(Duration::from_secs(120));
    let indexed =
        workload::wait_indexed(&mut client, first, first + n - 1, load_started, deadline).await;
    let disk = disk_usage(&server.data_dir);
    let (rss_loaded, _) = server.memory();
    let mut peaks = vec![("the load", server.take_peak())];
    let append_rate = n as f64 / append_time.as_secs_f64();
    rows.push(Row::new(
        format!(
            "durable batched Append ({BATCH} × ~500 B), {} events",
            count(n)
        ),
        rate(append_rate),
        format!("raw sled insert + flush: {}", rate(raw.append_rate)),
        Some(append_rate / raw.append_rate),
        "≥ 0.5 × raw sled",
        Some(append_rate >= 0.5 * raw.append_rate),
    ));
    let (indexed_figure, indexed_rate) = match indexed {
        Indexed::After(elapsed) => {
            let r = n as f64 / elapsed.as_secs_f64();
            (
                format!("{} ({:.1} s)", rate(r), elapsed.as_secs_f64()),
                Some(r),
            )
        }
        Indexed::Truncated => ("never: ListRelations truncated".into(), None),
        Indexed::TimedOut => (format!("not within {} s", deadline.as_secs()), None),
    };
    rows.push(Row::new(
        "fully indexed: last event found by QueryEvents and counted by ListRelations",
        indexed_figure,
        format!("raw sled: {}", rate(raw.append_rate)),
        indexed_rate.map(|r| r / raw.append_rate),
        "≥ 0.3 × raw sled",
        Some(indexed_rate.is_some_and(|r| r >= 0.3 * raw.append_rate)),
    ));
    let per_event = kb_per_event(disk, n);
    let raw_per_event = kb_per_event(raw.disk_bytes, n);
    rows.push(Row::new(
        format!("disk per event at {} (whole data dir)", count(n)),
        format!("{per_event:.2} KB ({})", mib(disk)),
        format!("raw sled: {raw_per_event:.2} KB"),
        Some(per_event / raw_per_event),
        "≤ 2 KB",
        Some(per_event <= 2.0),
    ));

    progress(t, "claims for the claim queries (untimed)");
    workload::append_claims(&mut client, first, n / EVENTS_PER_CLAIM).await;
    let mut next = first + n;

    progress(t, "64 single-event clients vs batched, same log");
    let per_client = args.single_per_client;
    let burst = SINGLE_CLIENTS * per_client;
    let batched_time = workload::append_events(&mut client, next, burst, BATCH, false).await;
    let batched_rate = burst as f64 / batched_time.as_secs_f64();
    next += burst;
    let single_rate = workload::single_clients(&url, SINGLE_CLIENTS, per_client, next).await;
    next += burst;
    rows.push(Row::new(
        format!("{SINGLE_CLIENTS} clients, one event per Append"),
        rate(single_rate),
        format!("batched, same log: {}", rate(batched_rate)),
        Some(single_rate / batched_rate),
        "≥ 0.5 × batched",
        Some(single_rate >= 0.5 * batched_rate),
    ));

    peaks.push(("claims, 64 clients and batched", server.take_peak()));

    progress(
        t,
        "catch-up Subscribe from 1 (one warm-up pass, then timed passes)",
    );
    let _ = workload::catch_up(&mut client).await;
    let (entries, elapsed) = counting::catch_up_counting(process::channel(&url).await).await;
    let catch_up_rate = entries as f64 / elapsed.as_secs_f64();
    rows.push(Row::new(
        format!(
            "catch-up Subscribe from 1, {} entries (frames counted, as the scan counts records)",
            count(entries)
        ),
        rate(catch_up_rate),
        format!("raw sled scan: {}", rate(raw.scan_rate)),
        Some(catch_up_rate / raw.scan_rate),
        "≥ 0.33 × raw sled scan",
        Some(catch_up_rate >= 0.33 * raw.scan_rate),
    ));
    let (entries, elapsed) = workload::catch_up(&mut client).await;
    let decoded_rate = entries as f64 / elapsed.as_secs_f64();
    rows.push(Row::new(
        "the same, every entry decoded into Rust structs by the client",
        rate(decoded_rate),
        format!("raw sled scan: {}", rate(raw.scan_rate)),
        Some(decoded_rate / raw.scan_rate),
        "(client-bound: for information)",
        None,
    ));

    peaks.push(("the catch-ups", server.take_peak()));

    progress(
        t,
        &format!("small log: {} events", count(args.small_events)),
    );
    let small = ServerProcess::spawn(serve, &work.join("log-small")).expect("the server starts");
    let mut small_client = small.client().await;
    workload::seed_actors(&mut small_client).await;
    workload::append_events(&mut small_client, first, args.small_events, BATCH, true).await;
    workload::append_claims(
        &mut small_client,
        first,
        args.small_events / EVENTS_PER_CLAIM,
    )
    .await;
    progress(
        t,
        &format!("queries, {} calls each on both logs", args.query_rounds),
    );
    let queries = queries::synthetic();
    let mut clients = [client.clone(), small_client];
    let latencies = queries::measure(&mut clients, &queries, args.query_rounds).await;
    small.stop();
    for ((name, query), by_log) in queries.iter().zip(&latencies) {
        let (large, small) = (by_log[0], by_log[1]);
        let ratio = large.p50.as_secs_f64() / small.p50.as_secs_f64();
        let relations = matches!(query, queries::Query::Relations(_));
        let (target, pass) = if relations {
            (
                "complete, p99 ≤ 20 ms",
                !large.truncated && large.p99 <= Duration::from_millis(20),
            )
        } else {
            (
                "p99 ≤ 5 ms, p50 ratio ≤ 1.5",
                large.p99 <= Duration::from_millis(5) && ratio <= 1.5,
            )
        };
        let shape = if relations {
            let complete = if large.truncated {
                "truncated"
            } else {
                "complete"
            };
            format!("{} edges, {complete}", large.results)
        } else {
            format!("{} results", large.results)
        };
        rows.push(Row::new(
            *name,
            format!(
                "p50 {} / p99 {} ({shape}, {})",
                ms(large.p50),
                ms(large.p99),
                kb(large.bytes)
            ),
            format!(
                "at {}: p50 {} / p99 {} ({} results, {})",
                count(args.small_events),
                ms(small.p50),
                ms(small.p99),
                small.results,
                kb(small.bytes)
            ),
            Some(ratio),
            target,
            Some(pass),
        ));
    }

    peaks.push(("the queries", server.take_peak()));

    let reads = args.random_reads;
    progress(
        t,
        &format!("random reads: {} GetEntry from 8 clients", count(reads)),
    );
    let head = workload::head(&mut client).await;
    let read_rate = workload::random_reads(&url, 8, reads, head).await;
    rows.push(Row::new(
        format!(
            "GetEntry at random positions of {} (8 clients)",
            count(head)
        ),
        rate(read_rate),
        "–",
        None,
        "(for information; its RSS peak is below)",
        None,
    ));
    peaks.push(("the random reads", server.take_peak()));

    rows.extend(fan_out(args, &mut client, &url, &mut next, t).await);
    peaks.push(("the fan-out", server.take_peak()));

    let (rss, _) = server.memory();
    let budget = (args.cache_mb + 150) * 1024 * 1024;
    let mut memory = vec![
        ("server RSS after the load (VmRSS)".to_string(), rss_loaded),
        ("server RSS at the end (VmRSS)".to_string(), rss),
    ];
    memory.extend(
        peaks
            .iter()
            .map(|(phase, peak)| (format!("server peak RSS during {phase} (VmHWM)"), *peak)),
    );
    for (what, bytes) in memory {
        rows.push(Row::new(
            what,
            mib(bytes),
            format!("cache + 150 MiB: {}", mib(budget)),
            Some(bytes as f64 / budget as f64),
            "≤ cache + 150 MiB",
            Some(bytes <= budget),
        ));
    }

    progress(
        t,
        "restart: SIGTERM, then a new server until it answers gRPC",
    );
    let expected_head = workload::head(&mut client).await;
    drop(clients);
    drop(client);
    let data_dir = server.data_dir.clone();
    let stopped_in = server.stop();
    let restarted = Instant::now();
    let server = ServerProcess::spawn(serve, &data_dir).expect("the server restarts");
    let mut client = server.client().await;
    let head = workload::head(&mut client).await;
    let restart = restarted.elapsed();
    assert_eq!(head, expected_head, "the restarted server lost entries");
    rows.push(Row::new(
        format!(
            "restart with {} entries: until it answers GetLogInfo",
            count(head)
        ),
        format!(
            "{:.2} s (stopping took {:.2} s)",
            restart.as_secs_f64(),
            stopped_in.as_secs_f64()
        ),
        "–",
        None,
        "≤ 3 s",
        Some(restart <= Duration::from_secs(3)),
    ));
    drop(client);
    server.stop();

    let header = format!(
        "eventlog scale run: N = {} events of ~{} B in batches of {BATCH} (1 claim per {EVENTS_PER_CLAIM}), \
         small log {} events, cache {} MiB, {} CPUs, server {}",
        count(n),
        load::TARGET_EVENT_BYTES,
        count(args.small_events),
        args.cache_mb,
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        serve.bin.display(),
    );
    (header, rows)
}

/// The fan-out lines: the asked rate, and if it fails, the highest rate that holds.
async fn fan_out(
    args: &Args,
    client: &mut workload::Client,
    url: &str,
    next: &mut u64,
    t: Instant,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut ceiling = f64::INFINITY;
    for (step, asked) in FAN_OUT_STEPS.iter().copied().enumerate() {
        // A rate above what the appends last achieved cannot hold; skipping it saves minutes
        // at the saturated end (a step appends rate × seconds events, however long it takes).
        if step > 0 && step < FAN_OUT_STEPS.len() - 1 && asked as f64 > ceiling {
            continue;
        }
        progress(
            t,
            &format!(
                "fan-out: {} subscribers in another process, {asked} events/s",
                args.subscribers
            ),
        );
        let run = fanout::run(
            client,
            url,
            asked,
            args.fan_out_seconds,
            args.subscribers,
            *next,
        )
        .await;
        *next += asked * args.fan_out_seconds + 10;
        let holds = run.holds(FAN_OUT_P99);
        ceiling = ceiling.min(run.achieved);
        progress(
            t,
            &format!(
                "  p50 {} p99 {}, {} achieved, {}/{} deliveries: {}",
                ms(run.p50),
                ms(run.p99),
                rate(run.achieved),
                run.deliveries,
                run.expected,
                if holds { "holds" } else { "does not hold" }
            ),
        );
        let figure = format!(
            "p50 {} / p99 {} at {} achieved, {} of {} deliveries",
            ms(run.p50),
            ms(run.p99),
            rate(run.achieved),
            count(run.deliveries),
            count(run.expected)
        );
        if step == 0 {
            rows.push(Row::new(
                format!(
                    "live fan-out, {} subscribers (other process), {} asked",
                    args.subscribers,
                    rate(asked as f64)
                ),
                figure,
                "–",
                None,
                "p99 ≤ 10 ms",
                Some(holds),
            ));
            if holds {
                break;
            }
        } else if holds || step == FAN_OUT_STEPS.len() - 1 {
            rows.push(Row::new(
                "live fan-out: highest rate with p99 ≤ 10 ms (stepping down)",
                if holds {
                    format!("{} ({figure})", rate(asked as f64))
                } else {
                    format!("none down to {}", rate(asked as f64))
                },
                format!("asked: {}", rate(FAN_OUT_STEPS[0] as f64)),
                Some(if holds {
                    asked as f64 / FAN_OUT_STEPS[0] as f64
                } else {
                    0.0
                }),
                "10k/s",
                Some(false),
            ));
            break;
        }
    }
    rows
}
