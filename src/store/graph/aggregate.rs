//! The aggregate of a set of evidence rows (a bucket, or a whole view): per certainty level
//! the counts of events, assertions and denials and the span of the dated ones. Counts add and
//! subtract; a span only widens, so a subtraction that may have narrowed it says so and the
//! caller recomputes the span from the bucket's parts.

use super::keys::{certainty_byte, corrupt, CERTAINTIES};
use crate::domain::relations::{hull, EdgeTally, EvidenceKind};
use crate::domain::{Certainty, DateSpan, Day};
use crate::store::StoreError;

use super::row::Row;

/// The evidence of one certainty level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Level {
    events: u64,
    assertions: u64,
    denials: u64,
    /// The span of the dated rows; `None` when none is dated.
    dated: Option<DateSpan>,
}

impl Level {
    fn count(&self) -> u64 {
        self.events + self.assertions + self.denials
    }

    fn slot(&mut self, kind: EvidenceKind) -> &mut u64 {
        match kind {
            EvidenceKind::Event => &mut self.events,
            EvidenceKind::Assertion => &mut self.assertions,
            EvidenceKind::Denial => &mut self.denials,
        }
    }
}

/// Counts and spans per certainty level, indexed by `certainty_byte`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Aggregate {
    levels: [Level; 5],
}

impl Aggregate {
    /// Counts a row in.
    pub(crate) fn add(&mut self, row: &Row) {
        let level = &mut self.levels[usize::from(certainty_byte(row.key.certainty))];
        *level.slot(row.kind) += 1;
        level.dated = hull(level.dated, row.dated());
    }

    /// Adds every count and span of `other`.
    pub(crate) fn merge(&mut self, other: &Aggregate) {
        for (mine, theirs) in self.levels.iter_mut().zip(&other.levels) {
            mine.events += theirs.events;
            mine.assertions += theirs.assertions;
            mine.denials += theirs.denials;
            mine.dated = hull(mine.dated, theirs.dated);
        }
    }

    /// Counts a row out. Returns true when the row was on the edge of its level's span, which
    /// may now be narrower than stored: the caller must recompute the span from the parts.
    /// A row that was never counted is corruption (`key` names the aggregate).
    pub(crate) fn subtract(&mut self, row: &Row, key: &[u8]) -> Result<bool, StoreError> {
        let level = &mut self.levels[usize::from(certainty_byte(row.key.certainty))];
        let slot = level.slot(row.kind);
        *slot = slot
            .checked_sub(1)
            .ok_or_else(|| corrupt(key, "evidence counted out of an aggregate that lacks it"))?;
        Ok(match (level.dated, row.dated()) {
            (Some(span), Some(gone)) => {
                span.earliest == gone.earliest || span.latest == gone.latest
            }
            _ => false,
        })
    }

    /// True when no evidence is counted: the key can be deleted.
    pub(crate) fn is_empty(&self) -> bool {
        self.levels.iter().all(|l| l.count() == 0)
    }

    /// Evidence at least as certain as `min` (all of it for `None`).
    pub(crate) fn count(&self, min: Option<Certainty>) -> u64 {
        self.levels_up_to(min).map(|(_, l)| l.count()).sum()
    }

    /// Evidence of exactly this certainty.
    pub(crate) fn count_of(&self, certainty: Certainty) -> u64 {
        self.levels[usize::from(certainty_byte(certainty))].count()
    }

    /// Adds the evidence at least as certain as `min` to an edge's tally.
    pub(crate) fn tally_into(&self, tally: &mut EdgeTally, min: Option<Certainty>) {
        for (certainty, level) in self.levels_up_to(min) {
            tally.count(EvidenceKind::Event, certainty, None, level.events);
            tally.count(EvidenceKind::Assertion, certainty, None, level.assertions);
            tally.count(EvidenceKind::Denial, certainty, None, level.denials);
            tally.widen(level.dated);
        }
    }

    fn levels_up_to(&self, min: Option<Certainty>) -> impl Iterator<Item = (Certainty, &Level)> {
        CERTAINTIES
            .into_iter()
            .zip(&self.levels)
            .filter(move |(c, _)| min.is_none_or(|min| *c <= min))
    }

    /// The stored form: a byte with one bit per non-empty level, then for each of those the
    /// three counts as LEB128 varints, a byte saying whether a span follows, and the span as
    /// two big-endian days. Small (a bucket with one level is about 12 bytes) because most
    /// buckets hold a few rows of one certainty.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![0];
        for (bit, level) in self.levels.iter().enumerate() {
            if level.count() == 0 {
                continue;
            }
            out[0] |= 1 << bit;
            for n in [level.events, level.assertions, level.denials] {
                push_varint(&mut out, n);
            }
            match level.dated {
                None => out.push(0),
                Some(span) => {
                    out.push(1);
                    out.extend_from_slice(&span.earliest.0.to_be_bytes());
                    out.extend_from_slice(&span.latest.0.to_be_bytes());
                }
            }
        }
        out
    }

    /// Parses [`Aggregate::encode`]'s form; `key` names the aggregate in errors.
    pub(crate) fn decode(key: &[u8], value: &[u8]) -> Result<Aggregate, StoreError> {
        let bad = |reason: &str| corrupt(key, reason);
        let (mask, mut rest) = value.split_first().ok_or_else(|| bad("empty aggregate"))?;
        if mask >> CERTAINTIES.len() != 0 {
            return Err(bad("aggregate names an unknown certainty"));
        }
        let mut aggregate = Aggregate::default();
        for (bit, level) in aggregate.levels.iter_mut().enumerate() {
            if mask & (1 << bit) == 0 {
                continue;
            }
            level.events = take_varint(&mut rest).ok_or_else(|| bad("truncated count"))?;
            level.assertions = take_varint(&mut rest).ok_or_else(|| bad("truncated count"))?;
            level.denials = take_varint(&mut rest).ok_or_else(|| bad("truncated count"))?;
            let (flag, tail) = rest.split_first().ok_or_else(|| bad("truncated span"))?;
            rest = tail;
            level.dated = match flag {
                0 => None,
                1 => {
                    let earliest = take_day(&mut rest).ok_or_else(|| bad("truncated span"))?;
                    let latest = take_day(&mut rest).ok_or_else(|| bad("truncated span"))?;
                    Some(DateSpan { earliest, latest })
                }
                _ => return Err(bad("unknown span flag")),
            };
            if level.count() == 0 {
                return Err(bad("aggregate stores an empty level"));
            }
        }
        if !rest.is_empty() {
            return Err(bad("bytes after the aggregate"));
        }
        Ok(aggregate)
    }
}

pub(super) fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(super) fn take_varint(rest: &mut &[u8]) -> Option<u64> {
    let mut n: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (byte, tail) = rest.split_first()?;
        *rest = tail;
        n |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

pub(super) fn take_day(rest: &mut &[u8]) -> Option<Day> {
    let (head, tail) = rest.split_first_chunk::<4>()?;
    *rest = tail;
    Some(Day(i32::from_be_bytes(*head)))
}
