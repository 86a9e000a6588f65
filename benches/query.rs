//! Query benchmarks: the same five queries against a 10k-entry and a 1M-entry synthetic log,
//! p50 and p99 latency of the first page of 50 through gRPC, and the ratio 1M / 10k; then the
//! same first pages through the HTTP/JSON API (`GET /v1/events`, `/v1/claims`) beside gRPC in
//! the same run, and their ratio.
//!
//! The generator makes logs shaped like real event data: a few thousand actors whose popularity
//! follows a Zipf law (a handful of states and groups are in most events), relations with
//! CAMEO-like frequencies (statements and meetings common, violence rarer), dates over fifteen
//! years weighted towards recent ones at the precisions sources give (mostly days, some months,
//! seasons, years, intervals and open intervals), and one claim for every four events.
//!
//! `cargo bench --bench query` runs it; `EVENTLOG_BENCH_SIZES=10000,1000000` sets the sizes.
//! Under `cargo test` a small smoke run checks that it still works.

use std::time::{Duration, Instant};

use eventlog::domain::{
    ActorKind, Certainty, Checked, Claim, CountryCode, Edtf, EntryBody, EntryId, Event, Location,
    Participant, RelationKey, Role, Vocabulary,
};
use eventlog::proto;
use eventlog::proto::event_log_client::EventLogClient;
use eventlog::server::{self, RunningServer, Settings};
use eventlog::store::{Store, StoreConfig};
use tonic::transport::Channel;

/// The same allocator as the server binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ACTORS: usize = 3_000;
const BATCH: usize = 1_000;
const PAGE: u32 = 50;
const COUNTRIES: [&str; 12] = [
    "SYR", "IRQ", "IRN", "RUS", "LBN", "YEM", "AFG", "TUR", "ISR", "UKR", "LBY", "MLI",
];
/// Relations with weights like CAMEO root-code frequencies in GDELT.
const RELATIONS: [(&str, u32); 21] = [
    ("announces", 15),
    ("meets_with", 10),
    ("cooperates_with", 8),
    ("criticizes", 8),
    ("attacks", 8),
    ("clashes_with", 7),
    ("backs", 5),
    ("coordinates_with", 4),
    ("demands", 4),
    ("threatens", 4),
    ("praises", 3),
    ("warns", 3),
    ("protests", 3),
    ("assaults", 3),
    ("negotiates_with", 3),
    ("trains", 2),
    ("arms", 2),
    ("funds", 2),
    ("recruits", 2),
    ("deploys_to", 2),
    ("mobilizes", 2),
];

/// SplitMix64: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn weighted<'a, T>(&mut self, choices: &'a [(T, u32)]) -> &'a T {
        let total: u32 = choices.iter().map(|(_, w)| w).sum();
        let mut pick = self.below(u64::from(total)) as u32;
        for (choice, weight) in choices {
            if pick < *weight {
                return choice;
            }
            pick -= weight;
        }
        &choices[choices.len() - 1].0
    }
}

/// Synthetic entries, deterministic for a seed.
struct Generator {
    rng: Rng,
    /// Cumulative Zipf weights of the actors by rank.
    popularity: Vec<f64>,
    relations: Vec<(RelationKey, u32)>,
    made: u64,
}

fn actor_id(rank: usize) -> EntryId {
    EntryId::parse(&format!("actor-{rank:04}")).expect("valid id")
}

impl Generator {
    fn new(seed: u64) -> Generator {
        let mut total = 0.0;
        let popularity = (1..=ACTORS)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        let vocabulary = Vocabulary::builtin();
        Generator {
            rng: Rng(seed),
            popularity,
            relations: RELATIONS
                .iter()
                .map(|(key, weight)| (vocabulary.relation(key).expect("known relation"), *weight))
                .collect(),
            made: 0,
        }
    }

    fn actors(&self) -> Vec<EntryBody> {
        (1..=ACTORS)
            .map(|rank| {
                let kind = match rank {
                    1..=60 => ActorKind::State,
                    61..=300 => ActorKind::Military,
                    _ if rank % 7 == 0 => ActorKind::Person,
                    _ if rank % 11 == 0 => ActorKind::PrivateMilitaryCompany,
                    _ => ActorKind::ArmedGroup,
                };
                EntryBody::Actor(
                    Checked::new(eventlog::domain::Actor {
                        id: actor_id(rank),
                        name: format!("Actor {rank}"),
                        aliases: vec![format!("A{rank}")],
                        kind,
                        country: CountryCode::parse(COUNTRIES[rank % COUNTRIES.len()]).ok(),
                        affiliations: vec![],
                        same_as: vec![],
                        description: String::new(),
                    })
                    .expect("the generator builds valid entries"),
                )
            })
            .collect()
    }

    /// An actor rank drawn by popularity: rank 1 is in about an eighth of all events.
    fn popular_actor(&mut self) -> usize {
        let total = self.popularity[ACTORS - 1];
        let x = (self.rng.next() >> 11) as f64 / (1_u64 << 53) as f64 * total;
        self.popularity.partition_point(|c| *c < x) + 1
    }

    fn relation(&mut self) -> RelationKey {
        self.rng.weighted(&self.relations).clone()
    }

    /// A date between 2010 and 2024, more recent more often, at a source's precision.
    fn date(&mut self) -> Edtf {
        let year = *self.rng.weighted(&[
            (2010, 1),
            (2011, 2),
            (2012, 3),
            (2013, 4),
            (2014, 5),
            (2015, 6),
            (2016, 7),
            (2017, 8),
            (2018, 9),
            (2019, 10),
            (2020, 11),
            (2021, 12),
            (2022, 13),
            (2023, 14),
            (2024, 15),
        ]);
        let month = 1 + self.rng.below(12);
        let day = 1 + self.rng.below(28);
        let text = match self.rng.below(1000) {
            0..750 => format!("{year}-{month:02}-{day:02}"),
            750..870 => format!("{year}-{month:02}"),
            870..920 => format!("{year}"),
            920..960 => format!("{year}-{month:02}~"),
            960..980 => format!("{year}-{}", 21 + self.rng.below(4)),
            980..995 => format!("{year}/{}", year + 1 + self.rng.below(4) as i32),
            _ => format!("{year}/.."),
        };
        Edtf::parse(&text).expect("valid date")
    }

    fn certainty(&mut self, weights: [u32; 5]) -> Certainty {
        *self.rng.weighted(&[
            (Certainty::Confirmed, weights[0]),
            (Certainty::Reported, weights[1]),
            (Certainty::Alleged, weights[2]),
            (Certainty::Speculated, weights[3]),
            (Certainty::Disputed, weights[4]),
        ])
    }

    fn two_actors(&mut self) -> (EntryId, EntryId) {
        let first = self.popular_actor();
        let mut second = self.popular_actor();
        while second == first {
            second = self.popular_actor();
        }
        (actor_id(first), actor_id(second))
    }

    /// The next entry: four events for every claim.
    fn entry(&mut self) -> EntryBody {
        self.made += 1;
        let n = self.made;
        let (a, b) = self.two_actors();
        if n.is_multiple_of(5) {
            let valid = (self.rng.chance(60)).then(|| self.date());
            return EntryBody::Claim(
                Checked::new(Claim {
                    id: EntryId::parse(&format!("claim-{n}")).expect("valid id"),
                    subject: Some(a),
                    relation: Some(self.relation()),
                    object: Some(b),
                    event_id: None,
                    valid,
                    claimant: self.rng.chance(40).then(|| actor_id(self.popular_actor())),
                    sources: vec![],
                    certainty: self.certainty([10, 30, 30, 20, 10]),
                    negated: self.rng.chance(5),
                    statement: "Sources say so.".into(),
                    supersedes: vec![],
                })
                .expect("the generator builds valid entries"),
            );
        }
        let mut participants = vec![
            Participant {
                actor_id: a,
                role: Role::Initiator,
            },
            Participant {
                actor_id: b,
                role: Role::Target,
            },
        ];
        if self.rng.chance(15) {
            let supporter = actor_id(self.popular_actor());
            if participants.iter().all(|p| p.actor_id != supporter) {
                participants.push(Participant {
                    actor_id: supporter,
                    role: Role::Supporter,
                });
            }
        }
        let country = COUNTRIES[self.rng.below(COUNTRIES.len() as u64) as usize];
        EntryBody::Event(
            Checked::new(Event {
                id: EntryId::parse(&format!("event-{n}")).expect("valid id"),
                relation: self.relation(),
                participants,
                date: self.date(),
                location: Some(Location {
                    name: "Somewhere".into(),
                    country: CountryCode::parse(country).ok(),
                    admin1: String::new(),
                    coordinates: None,
                }),
                summary: "Something happened between two actors, as a wire reported it.".into(),
                sources: vec![],
                certainty: self.certainty([25, 50, 12, 8, 5]),
                attributes: Default::default(),
                supersedes: vec![],
            })
            .expect("the generator builds valid entries"),
        )
    }
}

/// Builds a log of `entries` events and claims (plus the actors) in `dir`.
async fn build(dir: &std::path::Path, entries: u64) {
    let store = Store::open(&StoreConfig {
        path: dir.to_path_buf(),
        cache_capacity_bytes: 256 * 1024 * 1024,
        symmetric: std::sync::Arc::new(eventlog::domain::Vocabulary::builtin().symmetric_keys()),
        min_free_disk_bytes: 0,
        cluster_stream: None,
    })
    .expect("store opens");
    let mut generator = Generator::new(7);
    store
        .append(generator.actors(), None)
        .await
        .expect("actors append");
    let started = Instant::now();
    let mut made = 0;
    while made < entries {
        let size = BATCH.min((entries - made) as usize);
        let batch = (0..size).map(|_| generator.entry()).collect();
        store.append(batch, None).await.expect("batch appends");
        made += size as u64;
    }
    println!(
        "built {entries} entries in {:.1} s ({:.0} entries/s, query indexes included)",
        started.elapsed().as_secs_f64(),
        entries as f64 / started.elapsed().as_secs_f64()
    );
}

/// The five representative queries.
fn queries() -> Vec<(&'static str, Query)> {
    vec![
        (
            "actor only",
            Query::Events(proto::QueryEventsRequest {
                actor: "actor-0003".into(),
                ..Default::default()
            }),
        ),
        (
            "actor + relation",
            Query::Events(proto::QueryEventsRequest {
                actor: "actor-0003".into(),
                relations: vec!["attacks".into()],
                ..Default::default()
            }),
        ),
        (
            "date range of a month",
            Query::Events(proto::QueryEventsRequest {
                date_from: "2020-06".into(),
                date_to: "2020-06".into(),
                ..Default::default()
            }),
        ),
        (
            "actor + counterpart + date",
            Query::Events(proto::QueryEventsRequest {
                actor: "actor-0001".into(),
                counterpart: "actor-0002".into(),
                date_from: "2018".into(),
                date_to: "2024".into(),
                ..Default::default()
            }),
        ),
        (
            "claims by max certainty",
            Query::Claims(proto::QueryClaimsRequest {
                max_certainty: proto::Certainty::Alleged as i32,
                ..Default::default()
            }),
        ),
    ]
}

#[derive(Clone)]
enum Query {
    Events(proto::QueryEventsRequest),
    Claims(proto::QueryClaimsRequest),
}

impl Query {
    /// The same request as an HTTP API path and query.
    fn http_path(&self) -> String {
        let pairs = match self {
            Query::Events(r) => {
                let mut pairs = vec![
                    ("actor", r.actor.clone()),
                    ("counterpart", r.counterpart.clone()),
                ];
                pairs.extend(r.relations.iter().map(|x| ("relation", x.clone())));
                pairs.push(("from", r.date_from.clone()));
                pairs.push(("to", r.date_to.clone()));
                pairs
            }
            Query::Claims(r) => vec![(
                "max_certainty",
                proto::Certainty::try_from(r.max_certainty)
                    .map(|c| c.as_str_name().to_string())
                    .unwrap_or_default(),
            )],
        };
        let endpoint = match self {
            Query::Events(_) => "/v1/events",
            Query::Claims(_) => "/v1/claims",
        };
        let query: Vec<String> = pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{endpoint}?page_size={PAGE}&{}", query.join("&"))
    }

    async fn first_page(&self, client: &mut EventLogClient<Channel>) -> usize {
        match self.clone() {
            Query::Events(mut request) => {
                request.page_size = PAGE;
                let page = client.query_events(request).await.expect("query");
                page.into_inner().entries.len()
            }
            Query::Claims(mut request) => {
                request.page_size = PAGE;
                let page = client.query_claims(request).await.expect("query");
                page.into_inner().entries.len()
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// A log of `entries` entries served by its own server.
///
/// With `EVENTLOG_BENCH_DIR` set, the logs are kept in `<dir>/<entries>` and reused by later
/// runs, which saves rebuilding a million entries while tuning.
struct Served {
    entries: u64,
    server: RunningServer,
    client: EventLogClient<Channel>,
    http: Http,
    _temp: tempfile::TempDir,
}

async fn serve(entries: u64) -> Served {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = match std::env::var_os("EVENTLOG_BENCH_DIR") {
        Some(kept) => std::path::PathBuf::from(kept).join(entries.to_string()),
        None => temp.path().to_path_buf(),
    };
    if !dir.join("built").exists() {
        build(&dir, entries).await;
        std::fs::write(dir.join("built"), b"").expect("mark the log built");
    }
    let server = server::start(&Settings {
        data_dir: dir.clone(),
        listen: "127.0.0.1:0".parse().expect("address"),
        vocabulary_file: None,
        cache_capacity_bytes: 256 * 1024 * 1024,
        http_listen: Some("127.0.0.1:0".parse().expect("address")),
        ..Settings::default()
    })
    .await
    .expect("server starts");
    let client = EventLogClient::connect(format!("http://{}", server.local_addr))
        .await
        .expect("connect");
    let http = Http::new(server.http_addr.expect("an HTTP address"));
    Served {
        entries,
        server,
        client,
        http,
        _temp: temp,
    }
}

/// p50 and p99 of each query's first page on each log. The logs are queried in turn, round by
/// round, so that whatever else the machine does weighs on all sizes alike.
async fn measure(logs: &mut [Served], rounds: usize) -> Vec<Vec<(Duration, Duration)>> {
    let mut results = vec![Vec::new(); logs.len()];
    for (name, query) in queries() {
        let mut latencies = vec![Vec::with_capacity(rounds); logs.len()];
        let mut found = vec![0; logs.len()];
        for round in 0..rounds + rounds / 10 {
            for (i, log) in logs.iter_mut().enumerate() {
                let started = Instant::now();
                found[i] = query.first_page(&mut log.client).await;
                if round >= rounds / 10 {
                    latencies[i].push(started.elapsed());
                }
            }
        }
        for (i, log) in logs.iter().enumerate() {
            latencies[i].sort();
            let (p50, p99) = (
                percentile(&latencies[i], 0.5),
                percentile(&latencies[i], 0.99),
            );
            println!(
                "{:>9} entries  {name:<28} {:>2} results  p50 {:>7.3} ms  p99 {:>7.3} ms",
                log.entries,
                found[i],
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            );
            results[i].push((p50, p99));
        }
    }
    results
}

/// A keep-alive HTTP/1.1 client, as a script or notebook would hold one.
struct Http {
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Empty<bytes::Bytes>,
    >,
    base: String,
}

impl Http {
    fn new(addr: std::net::SocketAddr) -> Http {
        Http {
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
            base: format!("http://{addr}"),
        }
    }

    /// `GET path`: the number of entries in the answer (the body parsed as JSON, as a client
    /// must to use it).
    async fn entries(&self, path: &str) -> usize {
        use http_body_util::BodyExt;
        let uri: http::Uri = format!("{}{path}", self.base).parse().expect("uri");
        let response = self.client.get(uri).await.expect("HTTP answer");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        json["entries"].as_array().map_or(0, Vec::len)
    }
}

/// p50 and p99 of each query's first page through gRPC and through the JSON API, alternating
/// call by call on one log.
async fn measure_http(log: &mut Served, rounds: usize) {
    println!(
        "first page through gRPC and the HTTP/JSON API, {} entries:",
        log.entries
    );
    for (name, query) in queries() {
        let path = query.http_path();
        let (mut grpc, mut json) = (Vec::new(), Vec::new());
        for round in 0..rounds + rounds / 10 {
            let started = Instant::now();
            let by_grpc = query.first_page(&mut log.client).await;
            let grpc_took = started.elapsed();
            let started = Instant::now();
            let by_http = log.http.entries(&path).await;
            let http_took = started.elapsed();
            assert_eq!(by_grpc, by_http, "{name}: the same page both ways");
            if round >= rounds / 10 {
                grpc.push(grpc_took);
                json.push(http_took);
            }
        }
        grpc.sort();
        json.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (g50, g99, j50, j99) = (
            percentile(&grpc, 0.5),
            percentile(&grpc, 0.99),
            percentile(&json, 0.5),
            percentile(&json, 0.99),
        );
        println!(
            "  {name:<28} gRPC p50 {:>7.3} ms p99 {:>7.3} ms | JSON p50 {:>7.3} ms p99 {:>7.3} ms | JSON/gRPC {:.2} {:.2}",
            ms(g50),
            ms(g99),
            ms(j50),
            ms(j99),
            j50.as_secs_f64() / g50.as_secs_f64(),
            j99.as_secs_f64() / g99.as_secs_f64()
        );
    }
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<u64> = if benchmarking {
        std::env::var("EVENTLOG_BENCH_SIZES")
            .ok()
            .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![10_000, 1_000_000])
    } else {
        vec![2_000, 4_000]
    };
    let rounds = if benchmarking { 500 } else { 20 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut logs = Vec::new();
        for size in &sizes {
            logs.push(serve(*size).await);
        }
        let by_size = measure(&mut logs, rounds).await;
        for log in &mut logs {
            measure_http(log, rounds).await;
        }
        for log in logs {
            log.server.stop().await.expect("server stops");
        }
        if let (Some(small), Some(large)) = (by_size.first(), by_size.last()) {
            println!(
                "ratio {} / {} entries (p50, p99):",
                sizes[sizes.len() - 1],
                sizes[0]
            );
            for ((name, _), ((s50, s99), (l50, l99))) in
                queries().iter().zip(small.iter().zip(large.iter()))
            {
                println!(
                    "  {name:<28} {:.2}  {:.2}",
                    l50.as_secs_f64() / s50.as_secs_f64(),
                    l99.as_secs_f64() / s99.as_secs_f64()
                );
            }
        }
    });
}
