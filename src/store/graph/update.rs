//! The indexer side: the writes that indexing a batch of entries causes, and the same
//! operations run backwards over an [`Overlay`] to see the graph as it was at an earlier
//! position. Every change goes through the overlay, so a batch reads its own writes and writes
//! each key once.

use std::collections::{BTreeSet, HashMap};

use super::keys::{
    bucket_row_prefix, certainty_byte, decode_month_key, month_key, months_from, row_key,
    row_prefix, view_key, year_key, Month, MonthBucket, View, YearBucket, CERTAINTIES, FIRST,
    HIDDEN, ROW, TOTAL, YEAR,
};
use crate::domain::relations::MAX_EVIDENCE_IDS;
use crate::domain::{ActorId, Certainty, EntryBody, EntryId, Position, RelationKey};
use crate::store::StoreError;

use super::aggregate::Aggregate;
use super::first_ids::{FirstIds, FullLists, LearnedLists};
use super::overlay::Overlay;
use super::row::{rows_of, superseded_by, Row};
use super::{prefix_scan, GraphLog, GraphStore, GraphWrites};

/// The writes that indexing `entries` (consecutive, in position order) causes: their evidence
/// rows and aggregates, and the hiding of the evidence they supersede for the first time. It
/// reads the current graph through `store` and the superseded entries through `log` (or the
/// batch itself), and returns every changed key once, so a batch of 10k entries about one busy
/// edge rewrites that edge's aggregates once, not 10k times. `symmetric` must be the set the
/// graph was built with (the vocabulary's): a different set means a rebuild.
pub fn graph_writes(
    store: &impl GraphStore,
    log: &impl GraphLog,
    entries: &[(Position, &EntryBody)],
    symmetric: &BTreeSet<RelationKey>,
    full_lists: &FullLists,
) -> Result<GraphWrites, StoreError> {
    let in_batch: HashMap<&EntryId, (Position, &EntryBody)> = entries
        .iter()
        .map(|(position, body)| (body.id(), (*position, *body)))
        .collect();
    let mut updater = Updater::new(store, symmetric, None);
    updater.full_lists = Some(full_lists);
    for (position, body) in entries {
        updater.add(*position, body)?;
        for id in superseded_by(body) {
            let target = match in_batch.get(id) {
                Some((at, target)) => Some((*at, (*target).clone())),
                None => log.entry_by_id(id)?,
            };
            if let Some((at, target)) = target {
                if at < *position {
                    updater.hide(at, &target, *position)?;
                }
            }
        }
    }
    let (overlay, lists) = updater.finish()?;
    Ok(GraphWrites {
        changes: overlay.into_changes(),
        lists,
    })
}

/// Applies entries' evidence to the graph through an overlay.
pub(crate) struct Updater<'s, S: GraphStore + ?Sized> {
    overlay: Overlay<'s, S>,
    symmetric: &'s BTreeSet<RelationKey>,
    /// Only views of this actor are touched (a query undoing the suffix needs no others).
    centre: Option<&'s ActorId>,
    /// Aggregates whose span a subtraction may have narrowed: recomputed from their parts at
    /// the end, once however many subtractions touched them.
    dirty_months: BTreeSet<(View, MonthBucket)>,
    dirty_years: BTreeSet<(View, YearBucket)>,
    dirty_totals: BTreeSet<View>,
    /// The id lists of the views touched so far, and whether each changed: written once, at
    /// the end. Hashed: every row looks its view up, and views compare by three strings.
    firsts: HashMap<View, (FirstIds, bool)>,
    /// Levels (`certainty_byte`) of id lists that lost an id while full: refilled from the
    /// rows at the end, once however many ids they lost.
    dirty_firsts: BTreeSet<(View, u8)>,
    /// What the indexer knows of the stored lists' full levels, so rows sorting after them
    /// do not read their view's list (`None` for an updater that reads the past).
    full_lists: Option<&'s FullLists>,
}

impl<'s, S: GraphStore + ?Sized> Updater<'s, S> {
    /// An updater reading `store`, writing nothing yet.
    pub(crate) fn new(
        store: &'s S,
        symmetric: &'s BTreeSet<RelationKey>,
        centre: Option<&'s ActorId>,
    ) -> Updater<'s, S> {
        Updater {
            overlay: Overlay::new(store),
            symmetric,
            centre,
            dirty_months: BTreeSet::new(),
            dirty_years: BTreeSet::new(),
            dirty_totals: BTreeSet::new(),
            firsts: HashMap::new(),
            dirty_firsts: BTreeSet::new(),
            full_lists: None,
        }
    }

    fn rows(&self, position: Position, body: &EntryBody) -> Vec<Row> {
        rows_of(position, body, self.symmetric, self.centre)
    }

    /// The entry at `position` is indexed: its evidence becomes visible.
    pub(crate) fn add(&mut self, position: Position, body: &EntryBody) -> Result<(), StoreError> {
        for row in self.rows(position, body) {
            self.overlay.put(row_key(ROW, &row.key), row.encode_value());
            self.count_in(&row)?;
        }
        Ok(())
    }

    /// The entry at `by` supersedes the one at `position`: its evidence is hidden, unless an
    /// earlier entry hid it already (`hidden_at` is the first).
    pub(crate) fn hide(
        &mut self,
        position: Position,
        body: &EntryBody,
        by: Position,
    ) -> Result<(), StoreError> {
        for mut row in self.rows(position, body) {
            let visible = row_key(ROW, &row.key);
            if self.overlay.get(&visible)?.is_none() {
                continue;
            }
            self.overlay.delete(visible);
            row.hidden_at = Some(by);
            self.overlay
                .put(row_key(HIDDEN, &row.key), row.encode_value());
            self.count_out(&row)?;
        }
        Ok(())
    }

    /// Going back in time: the entry at `position` is not in the log yet, so its visible
    /// evidence leaves (evidence of it already hidden is in no aggregate).
    pub(crate) fn forget(
        &mut self,
        position: Position,
        body: &EntryBody,
    ) -> Result<(), StoreError> {
        for row in self.rows(position, body) {
            let visible = row_key(ROW, &row.key);
            if self.overlay.get(&visible)?.is_some() {
                self.overlay.delete(visible);
                self.count_out(&row)?;
            }
        }
        Ok(())
    }

    /// Going back in time to `as_of`: evidence of the entry at `position` that was hidden after
    /// `as_of` is visible again.
    pub(crate) fn unhide(
        &mut self,
        position: Position,
        body: &EntryBody,
        as_of: Position,
    ) -> Result<(), StoreError> {
        for row in self.rows(position, body) {
            let hidden = row_key(HIDDEN, &row.key);
            let Some(value) = self.overlay.get(&hidden)? else {
                continue;
            };
            let stored = Row::decode(HIDDEN, &hidden, &value)?;
            if stored.hidden_at.is_some_and(|at| at > as_of) {
                self.overlay.delete(hidden);
                self.overlay.put(row_key(ROW, &row.key), row.encode_value());
                self.count_in(&row)?;
            }
        }
        Ok(())
    }

    /// Recomputes what subtractions left uncertain and returns the overlay holding every change,
    /// with where the full levels of the id lists it read or wrote now end.
    pub(crate) fn finish(mut self) -> Result<(Overlay<'s, S>, LearnedLists), StoreError> {
        for (view, bucket) in std::mem::take(&mut self.dirty_months) {
            let mut sum = Aggregate::default();
            for item in prefix_scan(&self.overlay, bucket_row_prefix(ROW, &view, bucket)) {
                let (key, value) = item?;
                sum.add(&Row::decode(ROW, &key, &value)?);
            }
            self.store(month_key(&view, bucket), &sum);
        }
        for (view, bucket) in std::mem::take(&mut self.dirty_years) {
            let sum = year_from_months(&self.overlay, &view, bucket)?;
            self.store(year_key(&view, bucket), &sum);
        }
        for view in std::mem::take(&mut self.dirty_totals) {
            let mut sum = Aggregate::default();
            for item in prefix_scan(&self.overlay, view_key(YEAR, &view)) {
                let (key, value) = item?;
                sum.merge(&Aggregate::decode(&key, &value)?);
            }
            self.store(view_key(TOTAL, &view), &sum);
        }
        for (view, level) in std::mem::take(&mut self.dirty_firsts) {
            let certainty = CERTAINTIES[usize::from(level)];
            let mut first = self
                .firsts
                .remove(&view)
                .map_or_else(FirstIds::default, |(first, _)| first);
            first.clear(certainty);
            earliest_rows(
                &self.overlay,
                &view,
                |c| c == certainty,
                |row| {
                    first.offer(certainty, row.date_key(), &row.id);
                    first.is_full(certainty)
                },
            )?;
            self.firsts.insert(view, (first, true));
        }
        let mut lists = Vec::with_capacity(self.firsts.len());
        for (view, (first, changed)) in std::mem::take(&mut self.firsts) {
            if changed {
                let key = view_key(FIRST, &view);
                if first.is_empty() {
                    self.overlay.delete(key);
                } else {
                    self.overlay.put(key, first.encode());
                }
            }
            lists.push((view, first.last_of_full_levels()));
        }
        Ok((self.overlay, lists))
    }

    /// The id list a row of its view must be checked against, read once per updater; `None`
    /// when that is known without reading it: no row of this batch read the list yet, and the
    /// indexer knows it full up to a key the row sorts after, so the row cannot be in it or
    /// enter it.
    fn list_for(&mut self, row: &Row) -> Result<Option<&mut (FirstIds, bool)>, StoreError> {
        let view = &row.key.view;
        if !self.firsts.contains_key(view) {
            let known_full = self
                .full_lists
                .is_some_and(|full| full.passes_over(view, row.key.certainty, row.date_key()));
            if known_full {
                return Ok(None);
            }
            let key = view_key(FIRST, view);
            let first = match self.overlay.get(&key)? {
                Some(value) => FirstIds::decode(&key, &value)?,
                None => FirstIds::default(),
            };
            self.firsts.insert(view.clone(), (first, false));
        }
        Ok(self.firsts.get_mut(view))
    }

    /// The three aggregates a row is counted in, finest first.
    fn aggregate_keys(row: &Row) -> [Vec<u8>; 3] {
        let view = &row.key.view;
        [
            month_key(view, row.key.bucket),
            year_key(view, row.key.bucket.year()),
            view_key(TOTAL, view),
        ]
    }

    fn count_in(&mut self, row: &Row) -> Result<(), StoreError> {
        for key in Self::aggregate_keys(row) {
            let mut aggregate = self.load(&key)?;
            aggregate.add(row);
            self.store(key, &aggregate);
        }
        if let Some((first, changed)) = self.list_for(row)? {
            *changed |= first.offer(row.key.certainty, row.date_key(), &row.id);
        }
        Ok(())
    }

    fn count_out(&mut self, row: &Row) -> Result<(), StoreError> {
        let [month, year, total] = Self::aggregate_keys(row);
        let view = &row.key.view;
        for (level, key) in [month, year, total].into_iter().enumerate() {
            let mut aggregate = self.load(&key)?;
            if aggregate.subtract(row, &key)? {
                match level {
                    0 => self.dirty_months.insert((view.clone(), row.key.bucket)),
                    1 => self
                        .dirty_years
                        .insert((view.clone(), row.key.bucket.year())),
                    _ => self.dirty_totals.insert(view.clone()),
                };
            }
            self.store(key, &aggregate);
        }
        let Some((first, changed)) = self.list_for(row)? else {
            return Ok(());
        };
        let (listed, incomplete) = first.remove(row.key.certainty, row.date_key());
        *changed |= listed;
        if incomplete {
            let level = certainty_byte(row.key.certainty);
            self.dirty_firsts.insert((view.clone(), level));
        }
        Ok(())
    }

    fn load(&self, key: &[u8]) -> Result<Aggregate, StoreError> {
        match self.overlay.get(key)? {
            Some(value) => Aggregate::decode(key, &value),
            None => Ok(Aggregate::default()),
        }
    }

    fn store(&mut self, key: Vec<u8>, aggregate: &Aggregate) {
        if aggregate.is_empty() {
            self.overlay.delete(key);
        } else {
            self.overlay.put(key, aggregate.encode());
        }
    }
}

/// The month aggregates of a year bucket: the months that start in its first year and end in
/// its last. Month keys sort by starting month, so this reads the months starting in that
/// year and keeps those ending in the right one.
pub(crate) fn months_of_year(
    store: &(impl GraphStore + ?Sized),
    view: &View,
    bucket: YearBucket,
) -> Result<Vec<(MonthBucket, Aggregate)>, StoreError> {
    let lower = months_from(view, bucket.earliest.first_month());
    let last = MonthBucket {
        earliest: bucket.earliest.last_month(),
        latest: Month(i32::MAX),
    };
    let mut months = Vec::new();
    let scan = store.scan(
        std::ops::Bound::Included(lower),
        std::ops::Bound::Included(month_key(view, last)),
    );
    for item in scan {
        let (key, value) = item?;
        let (_, month) = decode_month_key(&key)?;
        if month.year() == bucket {
            months.push((month, Aggregate::decode(&key, &value)?));
        }
    }
    Ok(months)
}

fn year_from_months(
    store: &(impl GraphStore + ?Sized),
    view: &View,
    bucket: YearBucket,
) -> Result<Aggregate, StoreError> {
    let mut sum = Aggregate::default();
    for (_, month) in months_of_year(store, view, bucket)? {
        sum.merge(&month);
    }
    Ok(sum)
}

/// Offers `offer` the earliest rows (by date key) of `view` whose certainty `admits`, and stops
/// after the month in which `offer` says it is full. Rows sort by month bucket, certainty and
/// day, so it reads them in key order with one seek, takes at most [`MAX_EVIDENCE_IDS`] of one
/// bucket and certainty (the rest of it sorts later) and seeks past the rest, and past the
/// groups of certainties not admitted. Each month is read to its end before stopping, because
/// buckets of one starting month interleave in date order.
pub(crate) fn earliest_rows(
    store: &(impl GraphStore + ?Sized),
    view: &View,
    admits: impl Fn(Certainty) -> bool,
    mut offer: impl FnMut(&Row) -> bool,
) -> Result<(), StoreError> {
    let prefix = view_key(ROW, view);
    let upper = match super::successor(&prefix) {
        Some(next) => std::ops::Bound::Excluded(next),
        None => std::ops::Bound::Unbounded,
    };
    let mut from = std::ops::Bound::Included(prefix);
    let mut current: Option<Month> = None;
    let mut full = false;
    'seek: loop {
        let mut taken = 0;
        let mut group: Option<(MonthBucket, Certainty)> = None;
        for item in store.scan(from.clone(), upper.clone()) {
            let (key, value) = item?;
            let row = Row::decode(ROW, &key, &value)?;
            if current != Some(row.key.bucket.earliest) {
                if full {
                    return Ok(());
                }
                current = Some(row.key.bucket.earliest);
            }
            let this = (row.key.bucket, row.key.certainty);
            if group != Some(this) {
                group = Some(this);
                taken = 0;
            }
            let admitted = admits(row.key.certainty);
            if admitted {
                full = offer(&row);
                taken += 1;
            }
            if !admitted || taken == MAX_EVIDENCE_IDS {
                // The rest of this bucket and certainty sorts later than what was taken, or is
                // not wanted: none of it can be offered.
                match super::successor(&row_prefix(ROW, view, this.0, this.1)) {
                    Some(next) => {
                        from = std::ops::Bound::Included(next);
                        continue 'seek;
                    }
                    None => return Ok(()),
                }
            }
        }
        return Ok(());
    }
}
