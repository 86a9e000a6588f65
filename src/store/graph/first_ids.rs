//! The earliest evidence ids of a view, kept per certainty level beside its aggregates, so an
//! answer without a date bound names every edge's evidence with one key per edge.
//!
//! Why it exists: without a date bound an edge's ids used to come from a scan of its rows
//! (a seek per edge). A seek costs a look into every table of the index, so at 10M GDELT rows
//! the busiest actor's 184 edges took 17 ms against 2.9 ms at 10k, nearly all of it in those
//! seeks. The list changes only when evidence earlier than its last id arrives or leaves, so
//! on a log that grows roughly in date order it is rewritten rarely.
//!
//! What it holds: for each certainty level, the [`MAX_EVIDENCE_IDS`] smallest date keys
//! (earliest day, then position) among the view's visible rows of that level, with their ids;
//! fewer only when the level has fewer rows. A query with a certainty floor merges the levels
//! at or above it, which gives exactly the earliest ids of the rows it counts.

use std::collections::HashMap;

use super::aggregate::{push_varint, take_day, take_varint};
use super::keys::{certainty_byte, corrupt, View, CERTAINTIES};
use crate::domain::ids::MAX_ID_LEN;
use crate::domain::relations::{EdgeTally, MAX_EVIDENCE_IDS};
use crate::domain::{Certainty, DateKey, EntryId, Position};
use crate::store::StoreError;

/// Per certainty level (indexed by `certainty_byte`), the earliest ids, in date-key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FirstIds {
    levels: [Vec<(DateKey, EntryId)>; 5],
}

impl FirstIds {
    /// Offers a visible row's id; returns true if the list changed.
    pub(crate) fn offer(&mut self, certainty: Certainty, key: DateKey, id: &EntryId) -> bool {
        let level = &mut self.levels[usize::from(certainty_byte(certainty))];
        let at = level.partition_point(|(k, _)| *k < key);
        if at >= MAX_EVIDENCE_IDS || level.get(at).is_some_and(|(k, _)| *k == key) {
            return false;
        }
        level.insert(at, (key, id.clone()));
        level.truncate(MAX_EVIDENCE_IDS);
        true
    }

    /// Takes a row that left the visible evidence out. Returns `(changed, incomplete)`:
    /// whether it was listed, and whether the level may now miss a row that sorts after the
    /// ones left (it was full, so rows beyond it may exist): then the level must be refilled
    /// from the rows.
    pub(crate) fn remove(&mut self, certainty: Certainty, key: DateKey) -> (bool, bool) {
        let level = &mut self.levels[usize::from(certainty_byte(certainty))];
        match level.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(at) => {
                let was_full = level.len() == MAX_EVIDENCE_IDS;
                level.remove(at);
                (true, was_full)
            }
            Err(_) => (false, false),
        }
    }

    /// Empties a level, to be refilled by offers.
    pub(crate) fn clear(&mut self, certainty: Certainty) {
        self.levels[usize::from(certainty_byte(certainty))].clear();
    }

    /// True once the level lists as many ids as an edge reports.
    pub(crate) fn is_full(&self, certainty: Certainty) -> bool {
        self.levels[usize::from(certainty_byte(certainty))].len() == MAX_EVIDENCE_IDS
    }

    /// Per level, the last listed key of a full list (`None` for a level not full).
    pub(crate) fn last_of_full_levels(&self) -> FullUpTo {
        FullUpTo(self.levels.each_ref().map(|level| {
            (level.len() == MAX_EVIDENCE_IDS)
                .then(|| level.last().map(|(key, _)| *key))
                .flatten()
        }))
    }

    /// True when no level lists an id: the key can be deleted.
    pub(crate) fn is_empty(&self) -> bool {
        self.levels.iter().all(Vec::is_empty)
    }

    /// Offers the ids of the levels at least as certain as `min` (all for `None`) to a tally.
    pub(crate) fn offer_into(self, tally: &mut EdgeTally, min: Option<Certainty>) {
        for (certainty, level) in CERTAINTIES.into_iter().zip(self.levels) {
            if min.is_none_or(|min| certainty <= min) {
                for (key, id) in level {
                    tally.offer_owned(key, id);
                }
            }
        }
    }

    /// The stored form: a byte with one bit per non-empty level, then for each of those the
    /// number of ids and each as earliest day (i32 BE), position (varint), id length (varint)
    /// and id.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![0];
        for (bit, level) in self.levels.iter().enumerate() {
            if level.is_empty() {
                continue;
            }
            out[0] |= 1 << bit;
            push_varint(&mut out, level.len() as u64);
            for (key, id) in level {
                out.extend_from_slice(&key.earliest.0.to_be_bytes());
                push_varint(&mut out, key.position.0);
                push_varint(&mut out, id.as_str().len() as u64);
                out.extend_from_slice(id.as_str().as_bytes());
            }
        }
        out
    }

    /// Parses [`FirstIds::encode`]'s form; `key` names the list in errors.
    pub(crate) fn decode(key: &[u8], value: &[u8]) -> Result<FirstIds, StoreError> {
        let bad = |reason: &str| corrupt(key, reason);
        let (mask, mut rest) = value.split_first().ok_or_else(|| bad("empty id list"))?;
        if mask >> CERTAINTIES.len() != 0 {
            return Err(bad("id list names an unknown certainty"));
        }
        let mut first = FirstIds::default();
        for (bit, level) in first.levels.iter_mut().enumerate() {
            if mask & (1 << bit) == 0 {
                continue;
            }
            let n = take_varint(&mut rest).ok_or_else(|| bad("truncated id count"))?;
            if n == 0 || n > MAX_EVIDENCE_IDS as u64 {
                return Err(bad("id list level of an impossible length"));
            }
            for _ in 0..n {
                let truncated = || bad("truncated id");
                let earliest = take_day(&mut rest).ok_or_else(truncated)?;
                let position = Position(take_varint(&mut rest).ok_or_else(truncated)?);
                let len = take_varint(&mut rest).ok_or_else(truncated)?;
                let len = usize::try_from(len).map_err(|_| truncated())?;
                if rest.len() < len {
                    return Err(truncated());
                }
                let (text, tail) = rest.split_at(len);
                rest = tail;
                // The id was checked when its entry was appended, and the index's blocks carry
                // checksums: only what a damaged list could make of it is checked again.
                if text.is_empty() || text.len() > MAX_ID_LEN {
                    return Err(bad("listed id of an impossible length"));
                }
                let text = std::str::from_utf8(text).map_err(|_| bad("listed id is not UTF-8"))?;
                let id = EntryId::from_stored(text.to_string());
                let key = DateKey { earliest, position };
                if level.last().is_some_and(|(last, _)| *last >= key) {
                    return Err(bad("listed ids out of order"));
                }
                level.push((key, id));
            }
        }
        if !rest.is_empty() {
            return Err(bad("bytes after the id list"));
        }
        Ok(first)
    }
}

/// What a batch learned of id lists: per view it read or wrote, where its full levels end.
pub(crate) type LearnedLists = Vec<(View, FullUpTo)>;

/// Per certainty level, the last key of the view's id list when that list is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FullUpTo([Option<DateKey>; 5]);

impl FullUpTo {
    /// True when a row of `certainty` sorting at `key` cannot be in, or enter, the list: the
    /// list is full and the row sorts after its last id.
    fn passes_over(&self, certainty: Certainty, key: DateKey) -> bool {
        self.0[usize::from(certainty_byte(certainty))].is_some_and(|last| key > last)
    }
}

/// What the indexer remembers, from one batch to the next, of the id lists it wrote: per view,
/// where its full levels end. Why: most evidence sorts after the twenty earliest of its view
/// (a log grows roughly in date order), and knowing that without reading the view's list
/// saves a point read per view and batch; at 1M GDELT rows those reads, which sink to the
/// LSM's last level because full lists are never rewritten, made the import 20 % slower.
///
/// It must describe the graph as stored: [`FullLists::learn`] is called only after a batch's
/// writes are applied, and the indexer forgets everything when a batch fails. Bounded: past
/// [`FullLists::CAPACITY`] views it starts again empty (a view it does not know costs the read).
#[derive(Debug, Default)]
pub struct FullLists {
    views: HashMap<View, FullUpTo>,
}

impl FullLists {
    /// Views remembered at most (about 250 bytes each).
    pub const CAPACITY: usize = 16_384;

    /// True when a row of `view` cannot be in, or enter, its list (see [`FullUpTo`]).
    pub(crate) fn passes_over(&self, view: &View, certainty: Certainty, key: DateKey) -> bool {
        self.views
            .get(view)
            .is_some_and(|full| full.passes_over(certainty, key))
    }

    /// Takes in the lists a batch wrote (or read), once the batch is applied.
    pub(crate) fn learn(&mut self, lists: LearnedLists) {
        if self.views.len() + lists.len() > Self::CAPACITY {
            self.views.clear();
        }
        for (view, full) in lists.into_iter().take(Self::CAPACITY) {
            if full == FullUpTo::default() {
                self.views.remove(&view);
            } else {
                self.views.insert(view, full);
            }
        }
    }

    /// Forgets every list (after a failed batch, whose writes may or may not be stored).
    pub fn forget(&mut self) {
        self.views.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Day;

    fn key(day: i32, position: u64) -> DateKey {
        DateKey {
            earliest: Day(day),
            position: Position(position),
        }
    }

    fn id(n: u64) -> EntryId {
        EntryId::parse(&format!("ev-{n}")).expect("id")
    }

    #[test]
    fn keeps_the_earliest_per_level_and_round_trips() {
        let mut first = FirstIds::default();
        for n in (0..40).rev() {
            first.offer(Certainty::Reported, key(n as i32, n), &id(n));
        }
        assert!(first.offer(Certainty::Confirmed, key(-5, 99), &id(99)));
        assert!(
            !first.offer(Certainty::Confirmed, key(-5, 99), &id(99)),
            "a key is listed once"
        );
        assert!(first.is_full(Certainty::Reported));
        assert!(
            !first.offer(Certainty::Reported, key(30, 30), &id(30)),
            "later than a full list"
        );
        let encoded = first.encode();
        assert_eq!(FirstIds::decode(b"F", &encoded).expect("decodes"), first);

        let mut tally = EdgeTally::default();
        first
            .clone()
            .offer_into(&mut tally, Some(Certainty::Confirmed));
        assert!(!tally.has_all_ids(), "only the confirmed level was offered");

        assert_eq!(first.remove(Certainty::Reported, key(3, 3)), (true, true));
        assert_eq!(first.remove(Certainty::Reported, key(3, 3)), (false, false));
        assert_eq!(
            first.remove(Certainty::Confirmed, key(-5, 99)),
            (true, false)
        );
        first.clear(Certainty::Reported);
        assert!(first.is_empty());
    }

    #[test]
    fn damaged_lists_are_errors() {
        let mut first = FirstIds::default();
        first.offer(Certainty::Alleged, key(1, 1), &id(1));
        first.offer(Certainty::Alleged, key(2, 2), &id(2));
        let good = first.encode();
        let mut cases = vec![Vec::new(), vec![0x40], good[..good.len() - 1].to_vec()];
        let mut trailing = good.clone();
        trailing.push(0);
        cases.push(trailing);
        // Two ids swapped: out of order.
        let mut swapped = FirstIds::default();
        swapped.levels[2] = vec![(key(2, 2), id(2)), (key(1, 1), id(1))];
        cases.push(swapped.encode());
        for case in cases {
            assert!(
                matches!(
                    FirstIds::decode(b"F", &case),
                    Err(StoreError::Corrupt { .. })
                ),
                "{case:?}"
            );
        }
    }
}
