//! Model-based test of the store: random batches and reopens applied to the store and to a plain
//! list, compared after every step.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::domain::Checked;
use crate::domain::{ActorKind, Certainty, Edtf, Event, Participant, Role, Vocabulary};

#[derive(Debug, Clone)]
enum Op {
    /// A batch of (kind, id number, variant, referenced actor number) and an expected head
    /// offset (None = no expectation; Some(0) = correct; Some(n) = wrong by n).
    Append(Vec<(bool, u8, u8, u8)>, Option<u8>),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            prop::collection::vec((any::<bool>(), 0_u8..4, 0_u8..2, 0_u8..5), 1..5),
            prop::option::of(0_u8..2),
        )
            .prop_map(|(b, e)| Op::Append(b, e)),
        1 => Just(Op::Reopen),
    ]
}

fn body(is_actor: bool, n: u8, variant: u8, actor: u8) -> EntryBody {
    if is_actor {
        EntryBody::Actor(Checked::from_log(Actor {
            id: EntryId::parse(&format!("a{n}")).expect("valid"),
            name: format!("Actor {n} v{variant}"),
            aliases: vec![format!("Alias {n}")],
            kind: ActorKind::ArmedGroup,
            country: None,
            affiliations: vec![],
            same_as: Vec::new(),
            description: String::new(),
        }))
    } else {
        EntryBody::Event(Checked::from_log(Event {
            id: EntryId::parse(&format!("e{n}")).expect("valid"),
            relation: Vocabulary::builtin().relation("attacks").expect("known"),
            participants: vec![Participant {
                actor_id: EntryId::parse(&format!("a{actor}")).expect("valid"),
                role: Role::Initiator,
            }],
            date: Edtf::parse("2022").expect("valid"),
            location: None,
            summary: format!("v{variant}"),
            sources: vec![],
            certainty: Certainty::Reported,
            attributes: Default::default(),
            supersedes: vec![],
        }))
    }
}

/// The rules of appending, restated over a plain list. Returns (position, duplicate) per entry.
fn model_append(
    log: &mut Vec<EntryBody>,
    batch: &[EntryBody],
    expected: Option<u64>,
) -> Option<Vec<(u64, bool)>> {
    if expected.is_some_and(|e| e != log.len() as u64) {
        return None;
    }
    let mut next = log.clone();
    let mut results = Vec::new();
    for b in batch {
        let latest = next
            .iter()
            .enumerate()
            .rev()
            .find(|(_, e)| e.id() == b.id());
        match latest {
            Some((i, e)) if e == b => {
                results.push((i as u64 + 1, true));
                continue;
            }
            Some((_, EntryBody::Actor(_))) if matches!(b, EntryBody::Actor(_)) => {}
            Some(_) => return None,
            None => {}
        }
        for (_, actor) in b.actor_references() {
            if !next
                .iter()
                .any(|e| matches!(e, EntryBody::Actor(a) if &a.id == actor))
            {
                return None;
            }
        }
        next.push(b.clone());
        results.push((next.len() as u64, false));
    }
    *log = next;
    Some(results)
}

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        path: dir.to_path_buf(),
        cache_capacity_bytes: 8 * 1024 * 1024,
        symmetric: Arc::new(crate::domain::Vocabulary::builtin().symmetric_keys()),
        min_free_disk_bytes: 0,
        cluster_stream: None,
    }
}

/// Opens the store and waits until its indexes cover the log, as a query through the service
/// would.
fn open(dir: &std::path::Path) -> Store {
    let store = Store::open(&config(dir)).expect("store opens");
    assert!(store.wait_indexed_blocking(store.head(), std::time::Duration::from_secs(30)));
    store
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_a_plain_list_across_reopens(ops in prop::collection::vec(op(), 1..25)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = open(dir.path());
        let mut model: Vec<EntryBody> = Vec::new();
        for op in ops {
            match op {
                Op::Reopen => {
                    drop(store);
                    store = open(dir.path());
                }
                Op::Append(batch, expected) => {
                    let bodies: Vec<EntryBody> =
                        batch.iter().map(|(k, n, v, a)| body(*k, *n, *v, *a)).collect();
                    let expected = expected.map(|off| model.len() as u64 + u64::from(off));
                    let want = model_append(&mut model, &bodies, expected);
                    let got = runtime.block_on(store.append(bodies, expected.map(Position)));
                    match (want, got) {
                        (Some(want), Ok(receipt)) => {
                            let got: Vec<(u64, bool)> =
                                receipt.entries.iter().map(|e| (e.position.0, e.duplicate)).collect();
                            prop_assert_eq!(want, got);
                            prop_assert_eq!(receipt.head.0, model.len() as u64);
                        }
                        (None, Err(AppendError::Rejected(_))) => {}
                        (want, got) => prop_assert!(false, "model {:?} but store {:?}", want, got),
                    }
                }
            }
            prop_assert_eq!(store.head().0, model.len() as u64);
        }
        let entries = store.read(Position(1), Position(u64::MAX), usize::MAX).expect("read");
        let bodies: Vec<EntryBody> = entries.into_iter().map(|e| e.body).collect();
        prop_assert_eq!(&bodies, &model);
        let actors = model.iter().filter(|b| matches!(b, EntryBody::Actor(_))).count() as u64;
        prop_assert_eq!(store.stats().expect("stats").counts.actor_entries, actors);
        prop_assert!(store.wait_indexed_blocking(store.head(), std::time::Duration::from_secs(30)));
        // Every actor resolves by its current name, to its latest revision.
        for n in 0..4 {
            let id = EntryId::parse(&format!("a{n}")).expect("valid");
            let latest = model.iter().rev().find_map(|b| match b {
                EntryBody::Actor(a) if a.id == id => Some(Actor::clone(a)),
                _ => None,
            });
            if let Some(latest) = latest {
                let found = store.resolve_actor(&latest.name, 10).expect("resolve");
                prop_assert_eq!(found.first(), Some(&latest));
            }
        }
    }
}

#[test]
fn an_index_directory_of_an_older_layout_is_removed_on_open() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    runtime
        .block_on(store.append(vec![body(true, 1, 0, 0), body(false, 2, 0, 1)], None))
        .expect("appends");
    drop(store);
    // A development build kept every index keyspace in one database under `index-v2`.
    let old = dir.path().join("index-v2");
    std::fs::create_dir_all(old.join("keyspaces")).expect("old dir");
    std::fs::write(old.join("keyspaces").join("0"), b"old").expect("old file");
    let store = open(dir.path());
    assert!(!old.exists(), "the old index directory is removed");
    let found = store.resolve_actor("Actor 1 v0", 10).expect("resolve");
    assert_eq!(found.len(), 1);
    assert_eq!(store.head(), Position(2));
}

#[test]
fn the_indexer_takes_committed_entries_from_the_writer_and_reads_the_log_after_a_restart() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    for n in 0..4 {
        runtime
            .block_on(store.append(vec![body(true, n, 0, 0), body(false, n, 0, n)], None))
            .expect("appends");
    }
    assert!(store.wait_indexed_blocking(store.head(), std::time::Duration::from_secs(30)));
    let fed = store.stats().expect("stats").indexed_from;
    assert!(
        fed.feed > 0,
        "nothing was taken from the writer's feed: {fed:?}"
    );
    assert_eq!(
        fed.feed + fed.log,
        store.head().0,
        "each entry indexed once"
    );
    let before = store.resolve_actor("Actor 3 v0", 10).expect("resolve");
    assert_eq!(before.len(), 1);
    drop(store);

    // Indexes dropped: the feed is empty after a restart, so all of it comes from the log.
    indexer::rebuild_only_through(&config(dir.path()), None).expect("reset index");
    let store = open(dir.path());
    let read = store.stats().expect("stats").indexed_from;
    assert_eq!(read, IndexedFrom { feed: 0, log: 8 });
    assert_eq!(
        store.resolve_actor("Actor 3 v0", 10).expect("resolve"),
        before
    );
}
