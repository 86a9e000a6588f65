//! Consumer group state through the store, across reopens: what a group wrote is what it reads
//! back, parked entries move to the replay set and out, and deleting leaves nothing behind.

use std::time::{Duration, SystemTime};

use super::groups::{GroupWrite, Selection};
use super::*;
use crate::domain::group::{
    GroupConfig, GroupName, GroupRejection, GroupSettings, Progress, Source,
};
use crate::domain::EntryFilter;

fn open(dir: &std::path::Path) -> Store {
    Store::open(&StoreConfig {
        path: dir.to_path_buf(),
        cache_capacity_bytes: 8 * 1024 * 1024,
        symmetric: Arc::new(crate::domain::Vocabulary::builtin().symmetric_keys()),
        min_free_disk_bytes: 0,
        cluster_stream: None,
    })
    .expect("store opens")
}

fn config() -> GroupConfig {
    GroupConfig {
        filter: EntryFilter::default(),
        start: Position(1),
        settings: GroupSettings {
            ack_wait: Duration::from_millis(300),
            ..GroupSettings::default()
        },
        created_at: SystemTime::UNIX_EPOCH,
    }
}

#[test]
fn group_state_survives_reopen_and_parked_entries_replay_and_drop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let name = GroupName::parse("g").expect("name");
    let longer = GroupName::parse("g2").expect("name");
    {
        let store = open(dir.path());
        assert_eq!(store.create_group(&name, &config()).expect("io"), Ok(()));
        assert_eq!(
            store.create_group(&name, &config()).expect("io"),
            Err(GroupRejection::Exists("g".to_string()))
        );
        store
            .create_group(&longer, &config())
            .expect("io")
            .expect("created");
        let mut beyond = config();
        beyond.start = Position(5);
        assert!(matches!(
            store.create_group(&GroupName::parse("g3").expect("name"), &beyond),
            Ok(Err(GroupRejection::StartBeyondHead { .. }))
        ));
        let write = GroupWrite {
            progress: Some(Progress {
                cursor: Position(10),
                outstanding: vec![(Position(4), 2)],
            }),
            parked: vec![(Position(2), 5, Source::Log), (Position(3), 5, Source::Log)],
            replays_acked: vec![],
        };
        store.write_group(&name, write).expect("write");
    }
    let store = open(dir.path());
    assert_eq!(store.groups().expect("groups").len(), 2);
    assert_eq!(store.group(&name).expect("io"), Some(config()));
    assert_eq!(
        store.group_progress(&name).expect("io"),
        Some(Progress {
            cursor: Position(10),
            outstanding: vec![(Position(4), 2)],
        })
    );
    let parked = store.parked(&name, Position::ZERO, 10).expect("parked");
    assert_eq!(
        parked.iter().map(|p| p.position.0).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(parked[0].attempts, 5);
    assert_eq!(
        store.parked(&name, Position(2), 10).expect("after").len(),
        1
    );
    assert_eq!(store.parked_counts(&longer).expect("counts"), (0, 0));
    assert_eq!(
        store
            .replay_parked(&name, Selection::Only(&[Position(3), Position(99)]))
            .expect("io"),
        Ok(1)
    );
    assert_eq!(store.parked_counts(&name).expect("counts"), (1, 1));
    assert_eq!(
        store.replays(&name, Position::ZERO, 10).expect("r"),
        [Position(3)]
    );
    // The replayed entry fails again: parked anew, out of the replay set.
    let write = GroupWrite {
        parked: vec![(Position(3), 5, Source::Replay)],
        ..GroupWrite::default()
    };
    store.write_group(&name, write).expect("write");
    assert_eq!(store.parked_counts(&name).expect("counts"), (2, 0));
    assert_eq!(store.drop_parked(&name, Selection::All).expect("io"), Ok(2));
    assert_eq!(store.parked_counts(&name).expect("counts"), (0, 0));
    assert!(store.delete_group(&name).expect("delete"));
    assert!(!store.delete_group(&name).expect("delete"));
    assert_eq!(store.group_progress(&name).expect("io"), None);
    assert_eq!(store.groups().expect("groups").len(), 1, "g2 stays");
    assert_eq!(
        store.replay_parked(&name, Selection::All).expect("io"),
        Err(GroupRejection::Unknown("g".to_string()))
    );
}

mod model {
    //! Random group writes, replays, drops and reopens applied to the store and to plain
    //! collections, compared after every step.

    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// Progress (cursor, outstanding), parkings (position, attempts, from the replay
        /// set), replayed entries acked.
        Write(Option<(u64, Vec<u64>)>, Vec<(u64, u32, bool)>, Vec<u64>),
        /// Replay these positions (None = every parked entry).
        Replay(Option<Vec<u64>>),
        /// Drop these positions (None = every parked entry).
        Drop(Option<Vec<u64>>),
        Reopen,
    }

    fn positions() -> impl Strategy<Value = Vec<u64>> {
        prop::collection::vec(1_u64..20, 0..5)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (
                prop::option::of((1_u64..100, positions())),
                prop::collection::vec((1_u64..20, 1_u32..6, any::<bool>()), 0..4),
                positions(),
            )
                .prop_map(|(p, k, r)| Op::Write(p, k, r)),
            2 => prop::option::of(positions()).prop_map(Op::Replay),
            1 => prop::option::of(positions()).prop_map(Op::Drop),
            1 => Just(Op::Reopen),
        ]
    }

    #[derive(Default)]
    struct Model {
        progress: Option<Progress>,
        parked: BTreeMap<u64, u32>,
        replay: BTreeSet<u64>,
    }

    fn selected(model: &Model, only: &Option<Vec<u64>>) -> Vec<u64> {
        model
            .parked
            .keys()
            .copied()
            .filter(|p| only.as_ref().is_none_or(|o| o.contains(p)))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn the_stores_group_state_is_the_models_across_reopens(ops in prop::collection::vec(op(), 1..25)) {
            let dir = tempfile::tempdir().expect("temp dir");
            let name = GroupName::parse("m").expect("name");
            let mut store = open(dir.path());
            store.create_group(&name, &config()).expect("io").expect("created");
            let mut model = Model {
                progress: Some(Progress { cursor: Position(1), outstanding: vec![] }),
                ..Model::default()
            };
            for op in ops {
                match op {
                    Op::Write(progress, parked, acked) => {
                        let progress = progress.map(|(cursor, mut outstanding)| {
                            outstanding.sort_unstable();
                            outstanding.dedup();
                            Progress {
                                cursor: Position(cursor),
                                outstanding: outstanding.into_iter().map(|p| (Position(p), 1)).collect(),
                            }
                        });
                        let write = GroupWrite {
                            progress: progress.clone(),
                            parked: parked
                                .iter()
                                .map(|(p, a, r)| {
                                    (Position(*p), *a, if *r { Source::Replay } else { Source::Log })
                                })
                                .collect(),
                            replays_acked: acked.iter().copied().map(Position).collect(),
                        };
                        store.write_group(&name, write).expect("write");
                        if progress.is_some() {
                            model.progress = progress;
                        }
                        for (p, a, r) in parked {
                            if r {
                                model.replay.remove(&p);
                            }
                            model.parked.insert(p, a);
                        }
                        for p in acked {
                            model.replay.remove(&p);
                        }
                    }
                    Op::Replay(only) => {
                        let chosen = selected(&model, &only);
                        let selection: Vec<Position> = only.iter().flatten().copied().map(Position).collect();
                        let sel = if only.is_some() { Selection::Only(&selection) } else { Selection::All };
                        let moved = store.replay_parked(&name, sel).expect("io").expect("group");
                        prop_assert_eq!(moved, chosen.len() as u64);
                        for p in chosen {
                            model.parked.remove(&p);
                            model.replay.insert(p);
                        }
                    }
                    Op::Drop(only) => {
                        let chosen = selected(&model, &only);
                        let selection: Vec<Position> = only.iter().flatten().copied().map(Position).collect();
                        let sel = if only.is_some() { Selection::Only(&selection) } else { Selection::All };
                        let dropped = store.drop_parked(&name, sel).expect("io").expect("group");
                        prop_assert_eq!(dropped, chosen.len() as u64);
                        for p in chosen {
                            model.parked.remove(&p);
                        }
                    }
                    Op::Reopen => {
                        drop(store);
                        store = open(dir.path());
                    }
                }
                let parked: BTreeMap<u64, u32> = store
                    .parked(&name, Position::ZERO, 100)
                    .expect("parked")
                    .into_iter()
                    .map(|r| (r.position.0, r.attempts))
                    .collect();
                prop_assert_eq!(&parked, &model.parked);
                let replay: BTreeSet<u64> = store
                    .replays(&name, Position::ZERO, 100)
                    .expect("replays")
                    .into_iter()
                    .map(|p| p.0)
                    .collect();
                prop_assert_eq!(&replay, &model.replay);
                prop_assert_eq!(store.group_progress(&name).expect("io"), model.progress.clone());
                prop_assert_eq!(
                    store.parked_counts(&name).expect("counts"),
                    (model.parked.len() as u64, model.replay.len() as u64)
                );
            }
        }
    }
}
