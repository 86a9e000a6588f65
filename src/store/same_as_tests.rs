//! Model-based test of the `same_as` link history: random revisions declaring and dropping
//! links, appended in random batches, with the indexes sometimes rebuilt from the log; the class
//! of every actor at every position must be the connected component a plain list of the log
//! gives, over the links of the revisions current at that position.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::domain::Checked;
use crate::domain::{ActorKind, Vocabulary};

const ACTORS: u8 = 5;

fn actor_id(n: u8) -> EntryId {
    EntryId::parse(&format!("a{n}")).expect("valid")
}

/// Revision `rev` of actor `n`, declaring the actors of `links` (itself left out). The
/// description makes every revision differ from the one before, so none is a duplicate.
fn revision(n: u8, links: &[u8], rev: usize) -> EntryBody {
    let same_as: BTreeSet<u8> = links.iter().copied().filter(|l| *l != n).collect();
    EntryBody::Actor(Checked::from_log(Actor {
        id: actor_id(n),
        name: format!("Actor {n}"),
        aliases: vec![],
        kind: ActorKind::ArmedGroup,
        country: None,
        affiliations: vec![],
        same_as: same_as.into_iter().map(actor_id).collect(),
        description: format!("revision {rev}"),
    }))
}

/// The class of `named` in the first `upto` entries of `log`: every actor reachable over the
/// links of the latest revisions there, either way.
fn model_class(log: &[EntryBody], upto: usize, named: &EntryId) -> BTreeSet<EntryId> {
    let mut current: BTreeMap<&EntryId, &Actor> = BTreeMap::new();
    for body in &log[..upto] {
        if let EntryBody::Actor(a) = body {
            current.insert(&a.id, a);
        }
    }
    let mut links: BTreeMap<&EntryId, BTreeSet<&EntryId>> = BTreeMap::new();
    for actor in current.values() {
        for other in &actor.same_as {
            links.entry(&actor.id).or_default().insert(other);
            links.entry(other).or_default().insert(&actor.id);
        }
    }
    let mut class = BTreeSet::from([named.clone()]);
    let mut queue = vec![named];
    while let Some(a) = queue.pop() {
        for other in links.get(a).into_iter().flatten() {
            if class.insert((*other).clone()) {
                queue.push(other);
            }
        }
    }
    class
}

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        path: dir.to_path_buf(),
        cache_capacity_bytes: 8 * 1024 * 1024,
        symmetric: Arc::new(Vocabulary::builtin().symmetric_keys()),
        min_free_disk_bytes: 0,
        cluster_stream: None,
    }
}

fn open(dir: &std::path::Path) -> Store {
    let store = Store::open(&config(dir)).expect("store opens");
    assert!(store.wait_indexed_blocking(store.head(), std::time::Duration::from_secs(30)));
    store
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn classes_are_the_components_of_the_links_current_at_each_position(
        revisions in prop::collection::vec(
            (0..ACTORS, prop::collection::vec(0..ACTORS, 0..3)),
            1..24,
        ),
        batch in 1_usize..6,
        rebuild in prop::option::of(any::<bool>()),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = open(dir.path());
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let mut log: Vec<EntryBody> = (0..ACTORS).map(|n| revision(n, &[], 0)).collect();
        runtime.block_on(store.append(log.clone(), None)).expect("actors append");
        let bodies: Vec<EntryBody> = revisions
            .iter()
            .enumerate()
            .map(|(rev, (n, links))| revision(*n, links, rev + 1))
            .collect();
        for chunk in bodies.chunks(batch) {
            log.extend(chunk.iter().cloned());
            runtime.block_on(store.append(chunk.to_vec(), None)).expect("revisions append");
        }
        if let Some(drop_all) = rebuild {
            // The link history is derived: rebuilt from the log like every other index.
            let behind = if drop_all { None } else { Some(Position(log.len() as u64 / 2)) };
            drop(store);
            indexer::rebuild_only_through(&config(dir.path()), behind).expect("reset index");
            store = open(dir.path());
        }
        prop_assert_eq!(store.head().0, log.len() as u64);
        // As the service does before it reads a class.
        prop_assert!(store.wait_indexed_blocking(store.head(), std::time::Duration::from_secs(30)));
        for upto in 1..=log.len() {
            for n in 0..ACTORS {
                let named = actor_id(n);
                let got: BTreeSet<EntryId> = store
                    .actor_class(named.clone(), Position(upto as u64))
                    .expect("class")
                    .ids()
                    .cloned()
                    .collect();
                prop_assert_eq!(
                    got,
                    model_class(&log, upto, &named),
                    "a{} at position {}",
                    n,
                    upto
                );
            }
        }
    }
}
