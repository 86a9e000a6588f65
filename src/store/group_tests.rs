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
