//! A cluster node's store (`StoreConfig::cluster_stream`): it takes only the stream's batches,
//! in order, decides them as an embedded store would, records them at the stream's time, and
//! remembers how far it applied across a reopen.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::domain::{AppendRejection, Checked};

fn config(dir: &std::path::Path, cluster: Option<&str>) -> StoreConfig {
    StoreConfig {
        path: dir.to_path_buf(),
        cache_capacity_bytes: 8 * 1024 * 1024,
        symmetric: Arc::new(crate::domain::Vocabulary::builtin().symmetric_keys()),
        min_free_disk_bytes: 0,
        cluster_stream: cluster.map(str::to_string),
    }
}

fn actor(n: u32) -> EntryBody {
    EntryBody::Actor(Checked::from_log(Actor {
        id: EntryId::parse(&format!("a{n}")).expect("valid"),
        name: format!("Actor {n}"),
        aliases: vec![],
        kind: ActorKind::ArmedGroup,
        country: None,
        affiliations: vec![],
        same_as: Vec::new(),
        description: String::new(),
    }))
}

fn origin(sequence: u64, after: u64, seconds: u64) -> StreamOrigin {
    StreamOrigin {
        sequence,
        after,
        published: UNIX_EPOCH + Duration::from_secs(seconds),
    }
}

async fn apply(
    store: &Store,
    entries: Vec<EntryBody>,
    expected_head: Option<Position>,
    origin: StreamOrigin,
) -> Result<AppendReceipt, AppendError> {
    let records = Store::seal_for_replication(&entries).expect("seal");
    let opened = Store::open_replicated(&records).expect("sealed records open");
    assert_eq!(opened, entries, "a sealed batch reads back as it was");
    store
        .enqueue_replicated(opened, records, expected_head, origin)
        .await?
        .decided()
        .await
}

#[tokio::test]
async fn a_cluster_store_applies_the_stream_in_order_at_the_streams_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&config(dir.path(), Some("eventlog"))).expect("open");
    let receipt = apply(&store, vec![actor(1), actor(2)], None, origin(1, 0, 1_000))
        .await
        .expect("applied");
    assert_eq!(receipt.head, Position(2));
    assert_eq!(store.applied_sequence(), 1);
    let entry = store.entry_at(Position(1)).expect("read").expect("entry");
    assert_eq!(entry.recorded_at, UNIX_EPOCH + Duration::from_secs(1_000));

    // A local append is refused: only the stream writes this log.
    let local = store.append(vec![actor(3)], None).await;
    assert!(
        matches!(
            local,
            Err(AppendError::Store(StoreError::Replicated { .. }))
        ),
        "{local:?}"
    );
    // A message that does not follow the last one applied is refused unread.
    let skipped = apply(&store, vec![actor(3)], None, origin(3, 2, 1_001)).await;
    assert!(
        matches!(
            skipped,
            Err(AppendError::Store(StoreError::OutOfOrder {
                applied: 1,
                after: 2
            }))
        ),
        "{skipped:?}"
    );
    assert_eq!(store.head(), Position(2));

    // A rule's refusal is decided like any other, and the stream moves past it.
    let refused = apply(
        &store,
        vec![actor(3)],
        Some(Position(9)),
        origin(2, 1, 1_002),
    )
    .await;
    assert!(
        matches!(
            refused,
            Err(AppendError::Rejected(AppendRejection::HeadMismatch { .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(store.applied_sequence(), 2);
    // A duplicate writes nothing but is applied; a message with nothing to apply is passed over.
    let again = apply(&store, vec![actor(1)], None, origin(3, 2, 1_003))
        .await
        .expect("dup");
    assert!(again.entries[0].duplicate);
    store
        .enqueue_pass_over(origin(4, 3, 1_004))
        .await
        .expect("queued")
        .decided()
        .await
        .expect("passed over");
    assert_eq!(store.applied_sequence(), 4);

    // Recording times never go back, whatever the stream's clock says.
    apply(&store, vec![actor(5)], None, origin(5, 4, 10))
        .await
        .expect("applied");
    let late = store.entry_at(Position(3)).expect("read").expect("entry");
    assert_eq!(late.recorded_at, UNIX_EPOCH + Duration::from_secs(1_000));
    drop(store);

    // Reopened, it resumes after the last message that wrote entries: replaying the ones after
    // it decides them the same way.
    let store = Store::open(&config(dir.path(), Some("eventlog"))).expect("reopen");
    assert_eq!(store.applied_sequence(), 5);
    assert_eq!(store.head(), Position(3));
}

#[tokio::test]
async fn a_data_directory_is_an_embedded_nodes_or_a_cluster_nodes_for_good() {
    let embedded = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&config(embedded.path(), None)).expect("open");
    store.append(vec![actor(1)], None).await.expect("append");
    let replicated = apply(&store, vec![actor(2)], None, origin(1, 0, 1)).await;
    assert!(matches!(
        replicated,
        Err(AppendError::Store(StoreError::WrongMode(_)))
    ));
    drop(store);
    let refused = Store::open(&config(embedded.path(), Some("eventlog")));
    assert!(
        matches!(&refused, Err(StoreError::WrongMode(m)) if m.contains("embedded node's log")),
        "{:?}",
        refused.err()
    );

    // A node's directory with nothing in it yet is still anyone's.
    let unused = tempfile::tempdir().expect("temp dir");
    drop(Store::open(&config(unused.path(), Some("eventlog"))).expect("a new node"));
    drop(Store::open(&config(unused.path(), None)).expect("taken back, being empty"));

    let node = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&config(node.path(), Some("eventlog"))).expect("a new node");
    apply(&store, vec![actor(1)], None, origin(1, 0, 1))
        .await
        .expect("applied");
    drop(store);
    let other_stream = Store::open(&config(node.path(), Some("other")));
    assert!(matches!(&other_stream, Err(StoreError::WrongMode(m)) if m.contains("not \"other\"")));
    let alone = Store::open(&config(node.path(), None));
    assert!(
        matches!(&alone, Err(StoreError::WrongMode(m)) if m.contains("belongs to a cluster node"))
    );
}

#[test]
fn a_damaged_replicated_record_is_refused_never_applied() {
    let mut records = Store::seal_for_replication(&[actor(1)]).expect("seal");
    let last = records[0].len() - 1;
    records[0][last] ^= 0x40;
    assert!(matches!(
        Store::open_replicated(&records),
        Err(StoreError::Corrupt { .. })
    ));
}
