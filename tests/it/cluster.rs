//! Cluster mode (issue 16) through the real binary and real NATS servers: three NATS servers
//! (R3) and several eventlog nodes on loopback, killed and restarted while they work. Every
//! node must end with the same log, nothing acknowledged lost or doubled, no gaps and no half
//! batches; decisions that depend on the log (`expected_head`, duplicates) hold across nodes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventlog::proto;
use tonic::Code;

use crate::common::cluster::{cluster_info, digest, refused_start, wait_for_head, ClusterNode};
use crate::common::nats::{skip_without_nats, NatsCluster};
use crate::common::ops::{parse_samples, scrape, Pki};
use crate::common::{
    append, entry_id, event, from_position, next_said, read_all, reason_of, seed_actors, subscribe,
    Said, Subscription,
};

/// The positions a subscription delivers until it reaches `last`.
async fn read_until(stream: &mut Subscription, last: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    while seen.last().copied().unwrap_or(0) < last {
        for said in next_said(stream, 30).await.expect("entries") {
            if let Said::Entry(e) = said {
                seen.push(e.position);
            }
        }
    }
    seen
}

/// Commits `position` as the checkpoint of the subscription "analysts".
async fn commit(
    client: &mut proto::event_log_client::EventLogClient<tonic::transport::Channel>,
    position: u64,
) {
    client
        .commit_checkpoint(proto::CommitCheckpointRequest {
            name: "analysts".into(),
            position,
        })
        .await
        .expect("checkpoint");
}

/// Events per batch the writers append.
const PER_BATCH: usize = 10;

/// A batch of `PER_BATCH` events with ids `<writer>-<batch>-<i>`.
fn batch(writer: &str, number: usize) -> Vec<proto::Entry> {
    (0..PER_BATCH)
        .map(|i| {
            event(
                &format!("{writer}-{number}-{i}"),
                "attacks",
                "russia",
                "liwa-al-quds",
                "2022-03",
            )
        })
        .collect()
}

/// What one writer learnt: the positions each acknowledged batch got, and the batches whose
/// fate it never heard (an error after which it moved on to the next batch).
#[derive(Default)]
struct Acknowledged {
    batches: BTreeMap<String, Vec<u64>>,
    unknown: Vec<String>,
    /// Refusals seen, by message, for the test's report.
    refusals: BTreeMap<String, usize>,
}

/// Appends batches through `urls` (its own node first, the others when that one fails) until
/// `stop`; retries a failed batch unchanged, as a client should, a few times.
async fn writer(
    name: String,
    urls: Arc<Mutex<Vec<String>>>,
    first: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    acknowledged: Arc<Mutex<Acknowledged>>,
) {
    let mut number = 0;
    let mut target = first;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let key = format!("{name}-{number}");
        let mut done = false;
        for attempt in 0..20_u64 {
            if attempt > 0 {
                // As a client should: back off, then try the next node.
                tokio::time::sleep(Duration::from_millis(25 * attempt)).await;
            }
            let url = {
                let urls = urls.lock().expect("urls");
                urls[target % urls.len()].clone()
            };
            let client = tokio::time::timeout(
                Duration::from_secs(2),
                proto::event_log_client::EventLogClient::connect(url),
            )
            .await;
            let Ok(Ok(mut client)) = client else {
                *acknowledged
                    .lock()
                    .expect("acknowledged")
                    .refusals
                    .entry("cannot connect".into())
                    .or_default() += 1;
                target += 1;
                continue;
            };
            let call = tokio::time::timeout(
                Duration::from_secs(40),
                append(&mut client, batch(&name, number)),
            );
            match call.await {
                Ok(Ok(response)) => {
                    let positions = response.results.iter().map(|r| r.position).collect();
                    acknowledged
                        .lock()
                        .expect("acknowledged")
                        .batches
                        .insert(key.clone(), positions);
                    done = true;
                    break;
                }
                Ok(Err(status)) => {
                    *acknowledged
                        .lock()
                        .expect("acknowledged")
                        .refusals
                        .entry(format!("{:?}: {}", status.code(), status.message()))
                        .or_default() += 1;
                    assert!(
                        matches!(
                            status.code(),
                            Code::Unavailable | Code::Cancelled | Code::Unknown
                        ),
                        "writer {name}: unexpected refusal {status:?}"
                    );
                    target += 1;
                }
                Err(_) => target += 1,
            }
        }
        if !done {
            acknowledged.lock().expect("acknowledged").unknown.push(key);
        }
        number += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_keep_one_log_through_a_killed_nats_server_and_a_killed_node() {
    if skip_without_nats() {
        return;
    }
    let mut nats = NatsCluster::start(3).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        nodes.push(ClusterNode::start(dir.path(), name, &nats.urls(), 3).await);
    }
    let mut client = nodes[0].client().await;
    append(&mut client, seed_actors()).await.expect("actors");

    let urls = Arc::new(Mutex::new(
        nodes.iter().map(ClusterNode::url).collect::<Vec<_>>(),
    ));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let writers: Vec<_> = (0..3)
        .map(|i| {
            tokio::spawn(writer(
                format!("w{i}"),
                Arc::clone(&urls),
                i,
                Arc::clone(&stop),
                Arc::clone(&acknowledged),
            ))
        })
        .collect();
    let count = || acknowledged.lock().expect("acknowledged").batches.len();
    let wait_for = |n: usize| {
        let count = &count;
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while count() < n {
                assert!(
                    Instant::now() < deadline,
                    "the writers acknowledged only {} batches",
                    count()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_for(30).await;
    // A NATS server and an eventlog node die mid-load.
    nats.kill(1);
    nodes[2].kill().await;
    let at_kill = count();
    wait_for(at_kill + 30).await;
    nats.restart(1).await;
    nodes[2].restart().await;
    urls.lock().expect("urls")[2] = nodes[2].url();
    let at_restart = count();
    wait_for(at_restart + 30).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer");
    }

    // Every node reaches the same head, with the same log.
    let mut head = 0;
    for node in &nodes {
        head = head.max(cluster_info(&mut node.client().await).await.0);
    }
    let all: Vec<&ClusterNode> = nodes.iter().collect();
    wait_for_head(&all, head, Duration::from_secs(60)).await;
    let mut logs = Vec::new();
    for node in &nodes {
        let mut client = node.client().await;
        logs.push(read_all(&mut client).await);
        let (_, info) = cluster_info(&mut client).await;
        assert_eq!(info.node_name, node.name);
        assert!(info.connected);
    }
    let digests: Vec<String> = logs.iter().map(|log| digest(log)).collect();
    assert!(
        digests.iter().all(|d| d == &digests[0]),
        "the nodes' logs differ: {digests:?}"
    );
    let log = &logs[0];
    assert_eq!(log.len() as u64, head);
    for (i, entry) in log.iter().enumerate() {
        assert_eq!(entry.position, i as u64 + 1, "a gap in the log");
    }
    // Nothing doubled; every acknowledged batch whole, where it was acknowledged.
    let mut at: HashMap<String, u64> = HashMap::new();
    for entry in log {
        assert!(
            at.insert(entry_id(entry), entry.position).is_none(),
            "{} twice",
            entry_id(entry)
        );
    }
    let acknowledged = acknowledged.lock().expect("acknowledged");
    for (key, positions) in &acknowledged.batches {
        for (i, position) in positions.iter().enumerate() {
            assert_eq!(
                at.get(&format!("{key}-{i}")),
                Some(position),
                "acknowledged {key}-{i}"
            );
        }
    }
    // A batch whose writer never heard back is all there or not at all, in one run.
    for key in &acknowledged.unknown {
        let found: Vec<u64> = (0..PER_BATCH)
            .filter_map(|i| at.get(&format!("{key}-{i}")).copied())
            .collect();
        assert!(
            found.is_empty() || found.len() == PER_BATCH,
            "half of {key}: {found:?}"
        );
        assert!(
            found.windows(2).all(|w| w[1] == w[0] + 1),
            "{key} not contiguous"
        );
    }
    for positions in acknowledged.batches.values() {
        assert!(
            positions.windows(2).all(|w| w[1] == w[0] + 1),
            "a batch not contiguous"
        );
    }
    eprintln!(
        "{} acknowledged batches, {} unknown, head {head}, digest {}; refusals: {:#?}",
        acknowledged.batches.len(),
        acknowledged.unknown.len(),
        digests[0],
        acknowledged.refusals
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expected_head_duplicates_and_reads_hold_across_nodes() {
    if skip_without_nats() {
        return;
    }
    let nats = NatsCluster::start_single().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let a = ClusterNode::start(dir.path(), "a", &nats.urls(), 1).await;
    let mut b = ClusterNode::start(dir.path(), "b", &nats.urls(), 1).await;
    let (mut on_a, mut on_b) = (a.client().await, b.client().await);
    let seeded = append(&mut on_a, seed_actors()).await.expect("actors");

    // Two nodes race with the same expected head: exactly one wins, the other is ABORTED.
    for round in 0..5 {
        let head = cluster_info(&mut on_a).await.0.max(seeded.head);
        wait_for_head(&[&a, &b], head, Duration::from_secs(10)).await;
        let ask = |id: String| proto::AppendRequest {
            entries: vec![event(&id, "backs", "russia", "liwa-al-quds", "2016")],
            expected_head: Some(head),
            validate_only: false,
        };
        let (first, second) = tokio::join!(
            on_a.append(ask(format!("race-a-{round}"))),
            on_b.append(ask(format!("race-b-{round}"))),
        );
        let outcomes = [&first, &second];
        let won = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {first:?} / {second:?}");
        let lost = outcomes.iter().find(|o| o.is_err()).expect("a loser");
        assert_eq!(lost.as_ref().err().map(|s| s.code()), Some(Code::Aborted));
        assert_eq!(reason_of(lost), "HEAD_MISMATCH");
    }

    // The same id appended on two nodes at once is stored once, at one position.
    let same = || vec![event("same-id", "backs", "iran", "liwa-al-quds", "2014")];
    let (first, second) = tokio::join!(append(&mut on_a, same()), append(&mut on_b, same()),);
    let (first, second) = (first.expect("a"), second.expect("b"));
    assert_eq!(first.results[0].position, second.results[0].position);
    assert_ne!(
        first.results[0].duplicate, second.results[0].duplicate,
        "exactly one is new"
    );

    // Read your writes on another node: a query naming the position waits for it.
    let written = append(
        &mut on_a,
        vec![event("ryw", "funds", "iran", "liwa-al-quds", "2019")],
    )
    .await
    .expect("append on a");
    let position = written.results[0].position;
    let found = on_b
        .query_events(proto::QueryEventsRequest {
            actor: "iran".into(),
            relations: vec!["funds".into()],
            min_position: position,
            ..Default::default()
        })
        .await
        .expect("query on b")
        .into_inner();
    assert!(
        found.entries.iter().any(|e| e.position == position),
        "{found:?}"
    );

    // Both nodes hold the same log, and say how far they applied the stream.
    let head = cluster_info(&mut on_a).await.0;
    wait_for_head(&[&a, &b], head, Duration::from_secs(10)).await;
    let (log_a, log_b) = (read_all(&mut on_a).await, read_all(&mut on_b).await);
    assert_eq!(digest(&log_a), digest(&log_b));
    let ((_, info_a), (_, info_b)) = (cluster_info(&mut on_a).await, cluster_info(&mut on_b).await);
    assert_eq!(info_a.applied_sequence, info_b.applied_sequence);
    assert_eq!(info_a.stream, "eventlog");
    assert!(info_a.stream_last_sequence >= info_a.applied_sequence);

    // What a cluster node does not serve says so.
    let mut groups = proto::consumer_groups_client::ConsumerGroupsClient::connect(a.url())
        .await
        .expect("connect");
    let refused = groups
        .create_group(proto::CreateGroupRequest {
            name: "workers".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        refused.as_ref().err().map(|s| s.code()),
        Some(Code::FailedPrecondition)
    );
    assert_eq!(reason_of(&refused), "GROUPS_NOT_REPLICATED");

    // A node whose vocabulary is not the cluster's does not start, and says why.
    let vocabulary = dir.path().join("vocabulary.toml");
    std::fs::write(
        &vocabulary,
        "[[relation]]\nkey = \"smuggles_for\"\ndescription = \"Smuggles for the object.\"\ninverse = \"smuggled for by\"\n",
    )
    .expect("write vocabulary");
    let vocabulary = vocabulary.display().to_string();
    let urls = nats.urls();
    let data_dir = dir.path().join("v").display().to_string();
    let stderr = refused_start(&[
        "--node-name",
        "v",
        "--nats-url",
        &urls,
        "--vocabulary",
        &vocabulary,
        "--data-dir",
        &data_dir,
    ])
    .await;
    assert!(stderr.contains("the same --vocabulary"), "{stderr}");

    // A new node from a copy of another node's data directory (the way in once the stream no
    // longer holds its start) resumes after what the copy holds, under a name of its own.
    b.kill().await;
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(&b.data_dir)
        .arg(dir.path().join("d"))
        .status()
        .expect("cp");
    assert!(copied.success());
    let later = append(
        &mut on_a,
        vec![event("later", "funds", "iran", "liwa-al-quds", "2020")],
    )
    .await
    .expect("append on a");
    let d = ClusterNode::start(dir.path(), "d", &nats.urls(), 1).await;
    wait_for_head(&[&d], later.head, Duration::from_secs(10)).await;
    let mut on_d = d.client().await;
    assert_eq!(
        digest(&read_all(&mut on_d).await),
        digest(&read_all(&mut on_a).await)
    );
    assert_eq!(
        cluster_info(&mut on_d).await.1.applied_sequence,
        cluster_info(&mut on_a).await.1.applied_sequence
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_named_subscriber_gets_another_nodes_appends_once_in_order_on_any_node_across_restarts() {
    if skip_without_nats() {
        return;
    }
    let nats = NatsCluster::start_single().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let a = ClusterNode::start(dir.path(), "a", &nats.urls(), 1).await;
    let mut b = ClusterNode::start(dir.path(), "b", &nats.urls(), 1).await;
    let c = ClusterNode::start(dir.path(), "c", &nats.urls(), 1).await;
    let mut on_a = a.client().await;
    append(&mut on_a, seed_actors()).await.expect("actors");
    let named = || proto::SubscribeRequest {
        name: "analysts".into(),
        ..from_position(1)
    };
    // A subscriber on b reads what a appends, and checkpoints on b.
    let mut on_b = b.client().await;
    let mut stream = subscribe(&mut on_b, named()).await.expect("subscribe on b");
    for number in 0..5 {
        append(&mut on_a, batch("x", number))
            .await
            .expect("append on a");
    }
    let seen = read_until(&mut stream, 28).await;
    assert_eq!(
        seen,
        (1..=*seen.last().expect("entries")).collect::<Vec<_>>()
    );
    let checkpoint = *seen.last().expect("entries");
    commit(&mut on_b, checkpoint).await;
    drop(stream);

    // b dies; a goes on appending; the subscriber resumes by name on c.
    b.kill().await;
    for number in 5..10 {
        append(&mut on_a, batch("x", number))
            .await
            .expect("append on a");
    }
    let last = 3 + 10 * PER_BATCH as u64;
    let mut on_c = c.client().await;
    let mut stream = subscribe(&mut on_c, named()).await.expect("resume on c");
    let resumed = read_until(&mut stream, last).await;
    assert_eq!(
        resumed,
        (checkpoint + 1..=last).collect::<Vec<_>>(),
        "exactly once, in order, from the checkpoint on"
    );
    commit(&mut on_c, last).await;
    drop(stream);

    // b comes back, catches up from the stream, and resumes where c left off.
    b.restart().await;
    wait_for_head(&[&b], last, Duration::from_secs(30)).await;
    append(&mut on_a, batch("x", 10))
        .await
        .expect("append on a");
    let mut on_b = b.client().await;
    let mut stream = subscribe(&mut on_b, named()).await.expect("resume on b");
    let after_restart = read_until(&mut stream, last + PER_BATCH as u64).await;
    assert_eq!(
        after_restart,
        (last + 1..=last + PER_BATCH as u64).collect::<Vec<_>>()
    );
    let listed = on_b
        .list_subscriptions(proto::ListSubscriptionsRequest {})
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.subscriptions.len(), 1);
    assert_eq!(listed.subscriptions[0].checkpoint, last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_nats_says_so_and_recovers_when_it_returns() {
    if skip_without_nats() {
        return;
    }
    // NATS unreachable at start: a clear message, and the process exits.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("nats://127.0.0.1:{port}");
    let data_dir = dir.path().join("unreachable").display().to_string();
    let stderr = refused_start(&[
        "--node-name",
        "a",
        "--nats-url",
        &url,
        "--data-dir",
        &data_dir,
    ])
    .await;
    assert!(
        stderr.contains(&format!("cannot connect to NATS at {url}")),
        "{stderr}"
    );

    // NATS goes away under a running node: appends are UNAVAILABLE at once, reads go on, and
    // appends work again once NATS is back, without touching the node.
    let mut nats = NatsCluster::start_single().await;
    let metrics = ["--metrics-listen", "127.0.0.1:0"];
    let mut a = ClusterNode::start_with(dir.path(), "a", &nats.urls(), 1, &metrics).await;
    let mut client = a.client().await;
    append(&mut client, seed_actors()).await.expect("actors");
    let gauges = |text: String| {
        let samples = parse_samples(&text);
        let of = |name: &str| samples.get(name).copied().unwrap_or(-1.0);
        (
            of("eventlog_cluster_connected"),
            of("eventlog_cluster_applied_sequence"),
        )
    };
    let addr = a.metrics().expect("metrics address");
    assert_eq!(
        gauges(scrape(addr).await),
        (1.0, 1.0),
        "connected, one batch applied"
    );
    nats.stop(0).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let refused = loop {
        let started = Instant::now();
        let result = append(&mut client, batch("down", 0)).await;
        match result {
            Err(status) => break (status, started.elapsed()),
            Ok(_) => {
                assert!(
                    Instant::now() < deadline,
                    "appends kept working without NATS"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(refused.0.code(), Code::Unavailable, "{:?}", refused.0);
    assert_eq!(
        reason_of(&Err::<(), _>(refused.0.clone())),
        "CLUSTER_UNAVAILABLE"
    );
    assert!(refused.1 < Duration::from_secs(12), "took {:?}", refused.1);
    assert_eq!(
        read_all(&mut client).await.len(),
        3,
        "reads go on without NATS"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while gauges(scrape(addr).await).0 != 0.0 {
        assert!(
            Instant::now() < deadline,
            "the node never said it lost NATS"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    nats.restart(0).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let appended = loop {
        match append(&mut client, batch("back", 0)).await {
            Ok(response) => break response,
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(
                    Instant::now() < deadline,
                    "the node did not recover: {}",
                    a.logs()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(appended.results.len(), PER_BATCH);

    // The data directory is a cluster node's for good: an embedded server refuses it.
    a.kill().await;
    let data_dir = dir.path().join("a").display().to_string();
    let stderr = refused_start(&["--data-dir", &data_dir]).await;
    assert!(stderr.contains("belongs to a cluster node"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_speaks_tls_to_nats_with_the_ca_it_is_given_and_refuses_another() {
    if skip_without_nats() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = Pki::generate(dir.path());
    let nats = NatsCluster::start_single_tls(&pki.server_cert, &pki.server_key).await;
    let tls_url = nats.url(0).replace("nats://", "tls://");
    let ca = pki.ca.display().to_string();
    let a = ClusterNode::start_with(dir.path(), "a", &tls_url, 1, &["--nats-tls-ca", &ca]).await;
    let mut client = a.client().await;
    let appended = append(&mut client, seed_actors())
        .await
        .expect("append over TLS");
    assert_eq!(appended.head, 3);

    // A CA that did not sign the server's certificate: the node does not start, and says why.
    let other_dir = dir.path().join("other-ca");
    std::fs::create_dir_all(&other_dir).expect("mkdir");
    let other = Pki::generate(&other_dir);
    let ca = other.ca.display().to_string();
    let data_dir = dir.path().join("b").display().to_string();
    let stderr = refused_start(&[
        "--node-name",
        "b",
        "--nats-url",
        &tls_url,
        "--nats-tls-ca",
        &ca,
        "--data-dir",
        &data_dir,
    ])
    .await;
    assert!(
        stderr.contains("cannot connect to NATS at tls://"),
        "{stderr}"
    );
}
