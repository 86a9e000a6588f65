//! `eventlog import --format gdelt` end to end, against the core's batched appends, in one run.
//!
//! A large GDELT file is made by repeating a sample export with fresh GLOBALEVENTIDs (the real
//! export in `../shared/data/gdelt/` when present, else the test fixture; or the file named by
//! `EVENTLOG_BENCH_GDELT`). Each round then measures, each on a fresh server:
//!
//! - `core_batched_100`: the core's batched-append load (`benches/append.rs`,
//!   `grpc_batched_100`): one client, batches of 100 synthetic ~500-byte events.
//! - `import_gdelt`: the `eventlog` binary importing the file (`--quiet`), timed from start to
//!   exit: reading, parsing, mapping, actor lookups and appends, as a user runs it.
//! - `append_parsed_gdelt_500`: the same GDELT entries, parsed beforehand (untimed), appended in
//!   batches of 500 (the import's default): what the import would reach if parsing were free.
//!
//! Figures are events per second; the rounds alternate, so machine noise falls on all three
//! alike, and the medians are compared. `EVENTLOG_BENCH_IMPORT_ROWS` (default 50,000) and
//! `EVENTLOG_BENCH_ROUNDS` (default 3) size the run.
//!
//! Run with `cargo bench --bench import`. Under `cargo test` it runs once on a small file, as a
//! smoke test.

#[path = "support/gdelt.rs"]
mod gdelt;
#[path = "support/load.rs"]
mod load;

use std::io::BufReader;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use eventlog::import::GdeltReader;
use eventlog::proto::{self, entry::Body};
use gdelt::{sample_file, write_large_file};
use load::{append_request, check, BenchServer};

/// The same allocator as the server binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let rows: usize = env_number(
        "EVENTLOG_BENCH_IMPORT_ROWS",
        if benching { 50_000 } else { 2_000 },
    );
    let rounds: usize = env_number("EVENTLOG_BENCH_ROUNDS", if benching { 3 } else { 1 });
    let temp = tempfile::tempdir().expect("temp dir");
    let sample = sample_file();
    let file = temp.path().join("large.export.CSV");
    write_large_file(&sample, &file, rows).expect("write the large GDELT file");
    let entries = parse(&file);
    let events = entries
        .iter()
        .filter(|e| matches!(e.body, Some(Body::Event(_))))
        .count();
    println!(
        "import bench: {rows} rows from {} ({events} events, {} actor entries), {rounds} round(s)",
        sample.display(),
        entries.len() - events
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut core = Vec::new();
    let mut import = Vec::new();
    let mut parsed = Vec::new();
    for round in 1..=rounds {
        let a = rt.block_on(core_batched(events));
        let b = rt.block_on(import_file(&file, events));
        let c = rt.block_on(append_parsed(&entries, events));
        println!(
            "round {round}: core_batched_100 {:.0}/s, import_gdelt {:.0}/s, append_parsed_gdelt_500 {:.0}/s",
            a, b, c
        );
        core.push(a);
        import.push(b);
        parsed.push(c);
    }
    let (a, b, c) = (median(core), median(import), median(parsed));
    println!("median events/s: core_batched_100 {a:.0}, import_gdelt {b:.0}, append_parsed_gdelt_500 {c:.0}");
    println!(
        "import_gdelt / core_batched_100 = {:.2}; import_gdelt / append_parsed_gdelt_500 = {:.2}",
        b / a,
        b / c
    );
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Every entry the import would send, in order (each actor once).
fn parse(file: &Path) -> Vec<proto::Entry> {
    let input = BufReader::new(std::fs::File::open(file).expect("open"));
    let mut reader = GdeltReader::new(input);
    let mut entries: Vec<proto::Entry> = Vec::new();
    for item in reader.by_ref() {
        entries.extend(item.expect("the generated file is valid"));
    }
    let grown = reader.into_book().grown_actors();
    entries.extend(grown.into_iter().map(|actor| proto::Entry {
        body: Some(Body::Actor(actor)),
        ..Default::default()
    }));
    entries
}

fn rate(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

async fn core_batched(events: usize) -> f64 {
    let server = BenchServer::start().await;
    let mut client = server.client().await;
    let batches = events.div_ceil(100);
    let started = Instant::now();
    for _ in 0..batches {
        check(client.append(append_request(100)).await, 100);
    }
    let elapsed = started.elapsed();
    server.stop().await;
    rate(batches * 100, elapsed)
}

async fn import_file(file: &Path, events: usize) -> f64 {
    let server = BenchServer::start().await;
    let url = format!("http://{}", server.running.local_addr);
    let file = file.to_path_buf();
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_eventlog"))
            .args(["import", "--format", "gdelt", "--quiet", "--addr", &url])
            .arg(&file)
            .output()
    })
    .await
    .expect("join")
    .expect("run eventlog import");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(
        summary
            .lines()
            .next()
            .is_some_and(|l| l.contains(" 0 duplicates")),
        "{summary}"
    );
    server.stop().await;
    rate(events, elapsed)
}

async fn append_parsed(entries: &[proto::Entry], events: usize) -> f64 {
    let server = BenchServer::start().await;
    let mut client = server.client().await;
    let started = Instant::now();
    for batch in entries.chunks(500) {
        let request = proto::AppendRequest {
            entries: batch.to_vec(),
            expected_head: None,
            validate_only: false,
        };
        check(client.append(request).await, batch.len());
    }
    let elapsed = started.elapsed();
    server.stop().await;
    rate(events, elapsed)
}
