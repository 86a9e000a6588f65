//! The keys of consumer groups in the log's sled tree: `G` + group name + 0x00 + a tag.
//!
//! - tag `c` -> the group's configuration (filter, start, settings);
//! - tag `p` -> its progress (cursor and outstanding positions);
//! - tag `k` + position (u64 BE) -> a parked entry;
//! - tag `r` + position (u64 BE) -> a parked entry given back to the group, until acked.
//!
//! The 0x00 after the name (which group names never contain) keeps one group's prefix from
//! matching a longer name's keys, and big-endian positions sort parked entries by position.

use crate::domain::group::GroupName;
use crate::domain::Position;

/// sled: `G` + name + 0x00 + tag... -> a consumer group's state.
pub const GROUP: u8 = b'G';
const CONFIG: u8 = b'c';
const PROGRESS: u8 = b'p';
const PARKED: u8 = b'k';
const REPLAY: u8 = b'r';

/// Every key of one group.
pub fn group_prefix(name: &GroupName) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.as_str().len() + 3);
    key.push(GROUP);
    key.extend_from_slice(name.as_str().as_bytes());
    key.push(0);
    key
}

fn tagged(name: &GroupName, tag: u8) -> Vec<u8> {
    let mut key = group_prefix(name);
    key.push(tag);
    key
}

/// The key of a group's configuration.
pub fn config_key(name: &GroupName) -> Vec<u8> {
    tagged(name, CONFIG)
}

/// The key of a group's progress.
pub fn progress_key(name: &GroupName) -> Vec<u8> {
    tagged(name, PROGRESS)
}

/// The prefix of a group's parked entries.
pub fn parked_prefix(name: &GroupName) -> Vec<u8> {
    tagged(name, PARKED)
}

/// The prefix of a group's replayed entries.
pub fn replay_prefix(name: &GroupName) -> Vec<u8> {
    tagged(name, REPLAY)
}

/// The key of a parked entry.
pub fn parked_key(name: &GroupName, position: Position) -> Vec<u8> {
    with_position(parked_prefix(name), position)
}

/// The key of a replayed entry.
pub fn replay_key(name: &GroupName, position: Position) -> Vec<u8> {
    with_position(replay_prefix(name), position)
}

fn with_position(mut key: Vec<u8>, position: Position) -> Vec<u8> {
    key.extend_from_slice(&position.0.to_be_bytes());
    key
}

/// The smallest key after every key of `name`'s group (its tags are all below `s`).
pub fn after_group(name: &GroupName) -> Vec<u8> {
    tagged(name, b's')
}

/// The position a parked or replay key under `prefix` stands for.
pub fn position_under(prefix: &[u8], key: &[u8]) -> Option<Position> {
    let rest: [u8; 8] = key.strip_prefix(prefix)?.try_into().ok()?;
    Some(Position(u64::from_be_bytes(rest)))
}

/// The group a configuration key belongs to, if `key` is one.
pub fn group_of_config_key(key: &[u8]) -> Option<GroupName> {
    let rest = key.strip_prefix(&[GROUP])?;
    let name = rest.strip_suffix(&[0, CONFIG])?;
    GroupName::parse(std::str::from_utf8(name).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> GroupName {
        GroupName::parse(text).expect("name")
    }

    #[test]
    fn parked_keys_sort_by_position_and_round_trip() {
        let g = name("g");
        let positions = [1_u64, 2, 255, 256, 65_536, u64::MAX];
        let keys: Vec<_> = positions
            .iter()
            .map(|p| parked_key(&g, Position(*p)))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for (key, p) in keys.iter().zip(positions) {
            assert_eq!(position_under(&parked_prefix(&g), key), Some(Position(p)));
            assert_eq!(position_under(&replay_prefix(&g), key), None);
        }
    }

    #[test]
    fn one_groups_prefix_never_matches_a_longer_names_keys() {
        let short = name("ab");
        let long = name("abc");
        for key in [
            config_key(&long),
            progress_key(&long),
            parked_key(&long, Position(1)),
        ] {
            assert!(!key.starts_with(&group_prefix(&short)));
            assert!(key.starts_with(&group_prefix(&long)));
        }
        assert_eq!(group_of_config_key(&config_key(&long)), Some(long.clone()));
        for key in [config_key(&short), replay_key(&short, Position(u64::MAX))] {
            assert!(key < after_group(&short));
        }
        assert!(after_group(&short) <= config_key(&long));
        assert_eq!(group_of_config_key(&progress_key(&long)), None);
    }
}
