//! Consumer groups' durable state: configuration, progress, parked and replayed entries (keys
//! in `keys::groups`, values in `group_records`). The delivery rules are the domain's
//! (`domain::group::dispatch`) and the running groups `crate::groups`'; this only keeps what
//! they decided, each change in one atomic, flushed batch.

use std::time::SystemTime;

use crate::domain::group::{
    GroupConfig, GroupName, GroupRejection, GroupSettings, Progress, Source,
};
use crate::domain::Position;

use super::engine::sled_log::groups::KeyChange;
use super::group_records::{self as records, ParkedRecord};
use super::keys::groups as keys;
use super::{Store, StoreError};

/// Keys changed per batch when parked entries are replayed, dropped or deleted in bulk, so a
/// large parked set never makes one huge batch.
const BULK_CHUNK: usize = 1_000;

/// What a running group stores after a round of acks, nacks and expiries.
#[derive(Debug, Clone, Default)]
pub struct GroupWrite {
    /// Its progress, if it changed.
    pub progress: Option<Progress>,
    /// Entries that had their last attempt (a replayed one leaves the replay set too).
    pub parked: Vec<(Position, u32, Source)>,
    /// Replayed entries acked: they leave the replay set.
    pub replays_acked: Vec<Position>,
}

impl GroupWrite {
    /// True if there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.progress.is_none() && self.parked.is_empty() && self.replays_acked.is_empty()
    }
}

/// Which parked entries an admin acts on.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'a> {
    /// Every one.
    All,
    /// These positions (those not parked are ignored).
    Only(&'a [Position]),
}

impl Store {
    /// Creates a group that starts at `config.start`, unless the name is taken or the server
    /// has [`MAX_GROUPS`](crate::domain::group::MAX_GROUPS).
    pub fn create_group(
        &self,
        name: &GroupName,
        config: &GroupConfig,
    ) -> Result<Result<(), GroupRejection>, StoreError> {
        let _guard = self.lock_subscriptions();
        if self.log.get_group_key(&keys::config_key(name))?.is_some() {
            return Ok(Err(GroupRejection::Exists(name.to_string())));
        }
        let head = self.head();
        if config.start > head.next() {
            return Ok(Err(GroupRejection::StartBeyondHead {
                start: config.start,
                head,
            }));
        }
        if self.groups()?.len() >= crate::domain::group::MAX_GROUPS {
            return Ok(Err(GroupRejection::TooMany(
                crate::domain::group::MAX_GROUPS,
            )));
        }
        let progress = Progress {
            cursor: config.start,
            outstanding: Vec::new(),
        };
        self.disk.check(0)?;
        self.log.apply_group_changes(vec![
            (
                keys::config_key(name),
                Some(records::encode_config(config)?),
            ),
            (
                keys::progress_key(name),
                Some(records::encode_progress(&progress)),
            ),
        ])?;
        Ok(Ok(()))
    }

    /// A group's configuration.
    pub fn group(&self, name: &GroupName) -> Result<Option<GroupConfig>, StoreError> {
        let key = keys::config_key(name);
        match self.log.get_group_key(&key)? {
            None => Ok(None),
            Some(bytes) => records::decode_config(&describe(&key), &bytes).map(Some),
        }
    }

    /// Every group, in name order. One short scan per group: each jumps past the group's
    /// parked and replayed entries rather than reading them.
    pub fn groups(&self) -> Result<Vec<(GroupName, GroupConfig)>, StoreError> {
        let prefix = [keys::GROUP];
        let mut found = Vec::new();
        let mut from = prefix.to_vec();
        loop {
            let page = self.log.scan_group_keys(&prefix, &from, 1)?;
            let Some((key, bytes)) = page.into_iter().next() else {
                return Ok(found);
            };
            match keys::group_of_config_key(&key) {
                Some(name) => {
                    from = keys::after_group(&name);
                    found.push((name, records::decode_config(&describe(&key), &bytes)?));
                }
                // A group's other keys sort after its configuration, so this is one left by
                // a deletion a crash cut short: step over it.
                None => {
                    from = key;
                    from.push(0);
                }
            }
        }
    }

    /// Replaces a group's settings.
    pub fn update_group(
        &self,
        name: &GroupName,
        settings: GroupSettings,
    ) -> Result<Result<GroupConfig, GroupRejection>, StoreError> {
        let _guard = self.lock_subscriptions();
        let Some(mut config) = self.group(name)? else {
            return Ok(Err(GroupRejection::Unknown(name.to_string())));
        };
        config.settings = settings;
        self.disk.check(0)?;
        self.log.apply_group_changes(vec![(
            keys::config_key(name),
            Some(records::encode_config(&config)?),
        )])?;
        Ok(Ok(config))
    }

    /// Deletes a group and everything it stored; false if there was none.
    pub fn delete_group(&self, name: &GroupName) -> Result<bool, StoreError> {
        let _guard = self.lock_subscriptions();
        if self.log.get_group_key(&keys::config_key(name))?.is_none() {
            return Ok(false);
        }
        let prefix = keys::group_prefix(name);
        // Every key but the configuration first (it sorts first, so the scan starts after
        // it): a crash midway leaves a group that still exists and can be deleted again,
        // never keys without their group.
        let mut after_config = keys::config_key(name);
        after_config.push(0);
        loop {
            let page = self
                .log
                .scan_group_keys(&prefix, &after_config, BULK_CHUNK)?;
            if page.is_empty() {
                break;
            }
            let changes = page.into_iter().map(|(key, _)| (key, None)).collect();
            self.log.apply_group_changes(changes)?;
        }
        self.log
            .apply_group_changes(vec![(keys::config_key(name), None)])?;
        Ok(true)
    }

    /// A group's progress.
    pub fn group_progress(&self, name: &GroupName) -> Result<Option<Progress>, StoreError> {
        let key = keys::progress_key(name);
        match self.log.get_group_key(&key)? {
            None => Ok(None),
            Some(bytes) => records::decode_progress(&describe(&key), &bytes).map(Some),
        }
    }

    /// Stores what a running group decided, in one batch.
    pub fn write_group(&self, name: &GroupName, write: GroupWrite) -> Result<(), StoreError> {
        if write.is_empty() {
            return Ok(());
        }
        let mut changes: Vec<KeyChange> = Vec::new();
        if let Some(progress) = &write.progress {
            changes.push((
                keys::progress_key(name),
                Some(records::encode_progress(progress)),
            ));
        }
        let now = SystemTime::now();
        for (position, attempts, source) in write.parked {
            if source == Source::Replay {
                changes.push((keys::replay_key(name, position), None));
            }
            let record = ParkedRecord {
                position,
                attempts,
                parked_at: now,
            };
            changes.push((
                keys::parked_key(name, position),
                Some(records::encode_parked(&record)),
            ));
        }
        for position in write.replays_acked {
            changes.push((keys::replay_key(name, position), None));
        }
        // No disk check: refusing to record acks would only make the group deliver again.
        self.log.apply_group_changes(changes)
    }

    /// Up to `limit` parked entries after `after`, in position order.
    pub fn parked(
        &self,
        name: &GroupName,
        after: Position,
        limit: usize,
    ) -> Result<Vec<ParkedRecord>, StoreError> {
        let prefix = keys::parked_prefix(name);
        let from = keys::parked_key(name, Position(after.0.saturating_add(1)));
        let page = self.log.scan_group_keys(&prefix, &from, limit)?;
        page.iter()
            .map(|(key, bytes)| {
                let position =
                    keys::position_under(&prefix, key).ok_or_else(|| corrupt_key(key))?;
                records::decode_parked(&describe(key), position, bytes)
            })
            .collect()
    }

    /// How many entries are parked, and how many replayed and not yet acked. Counts keys, so
    /// it costs as many as there are.
    pub fn parked_counts(&self, name: &GroupName) -> Result<(u64, u64), StoreError> {
        Ok((
            self.count_under(&keys::parked_prefix(name))?,
            self.count_under(&keys::replay_prefix(name))?,
        ))
    }

    /// Up to `limit` replayed entries from `from` on, in position order.
    pub fn replays(
        &self,
        name: &GroupName,
        from: Position,
        limit: usize,
    ) -> Result<Vec<Position>, StoreError> {
        let prefix = keys::replay_prefix(name);
        let page = self
            .log
            .scan_group_keys(&prefix, &keys::replay_key(name, from), limit)?;
        page.iter()
            .map(|(key, _)| keys::position_under(&prefix, key).ok_or_else(|| corrupt_key(key)))
            .collect()
    }

    /// Gives parked entries back to the group (parked -> replay); returns how many.
    pub fn replay_parked(
        &self,
        name: &GroupName,
        selection: Selection<'_>,
    ) -> Result<Result<u64, GroupRejection>, StoreError> {
        self.move_parked(name, selection, true)
    }

    /// Drops parked entries; returns how many.
    pub fn drop_parked(
        &self,
        name: &GroupName,
        selection: Selection<'_>,
    ) -> Result<Result<u64, GroupRejection>, StoreError> {
        self.move_parked(name, selection, false)
    }

    fn move_parked(
        &self,
        name: &GroupName,
        selection: Selection<'_>,
        replay: bool,
    ) -> Result<Result<u64, GroupRejection>, StoreError> {
        let _guard = self.lock_subscriptions();
        if self.group(name)?.is_none() {
            return Ok(Err(GroupRejection::Unknown(name.to_string())));
        }
        let change = |position: Position| {
            let mut changes = vec![(keys::parked_key(name, position), None)];
            if replay {
                changes.push((
                    keys::replay_key(name, position),
                    Some(records::encode_replay()),
                ));
            }
            changes
        };
        let mut moved = 0_u64;
        match selection {
            Selection::All => loop {
                let page = self.parked(name, Position::ZERO, BULK_CHUNK)?;
                if page.is_empty() {
                    break;
                }
                moved += page.len() as u64;
                let changes = page.iter().flat_map(|r| change(r.position)).collect();
                self.log.apply_group_changes(changes)?;
            },
            Selection::Only(positions) => {
                // A position named twice is moved (and counted) once.
                let positions: std::collections::BTreeSet<Position> =
                    positions.iter().copied().collect();
                let positions: Vec<Position> = positions.into_iter().collect();
                for chunk in positions.chunks(BULK_CHUNK) {
                    let mut changes = Vec::new();
                    for position in chunk {
                        let key = keys::parked_key(name, *position);
                        if self.log.get_group_key(&key)?.is_some() {
                            moved += 1;
                            changes.extend(change(*position));
                        }
                    }
                    if !changes.is_empty() {
                        self.log.apply_group_changes(changes)?;
                    }
                }
            }
        }
        Ok(Ok(moved))
    }

    fn count_under(&self, prefix: &[u8]) -> Result<u64, StoreError> {
        let mut count = 0_u64;
        let mut from = prefix.to_vec();
        loop {
            let page = self.log.scan_group_keys(prefix, &from, BULK_CHUNK)?;
            let Some((last, _)) = page.last() else {
                return Ok(count);
            };
            count += page.len() as u64;
            from = last.clone();
            from.push(0);
        }
    }
}

fn describe(key: &[u8]) -> String {
    format!("key \"{}\"", String::from_utf8_lossy(key).escape_debug())
}

fn corrupt_key(key: &[u8]) -> StoreError {
    StoreError::Corrupt {
        key: describe(key),
        reason: "not a parked or replay key".to_string(),
    }
}
