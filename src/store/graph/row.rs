//! Evidence rows: one per piece of evidence and view, what the graph keeps of the entry so a
//! bucket can be resolved exactly (and its aggregate recomputed) without reading the log.

use std::collections::BTreeSet;

use super::keys::{corrupt, decode_row_key, MonthBucket, RowKey, Side, View, HIDDEN};
use crate::domain::relations::{evidence_of, EvidenceKind};
use crate::domain::{ActorId, DateKey, DateSpan, Day, EntryBody, EntryId, Position, RelationKey};
use crate::store::StoreError;

/// One piece of evidence as one view sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// Where it is stored (view, bucket, certainty, earliest day, position).
    pub(crate) key: RowKey,
    /// The latest day of its span.
    pub(crate) latest: Day,
    /// Event, assertion or denial.
    pub(crate) kind: EvidenceKind,
    /// False for a claim without `valid` (its span is then unbounded).
    pub(crate) is_dated: bool,
    /// The entry's id, reported among an edge's evidence.
    pub(crate) id: EntryId,
    /// The position of the first entry that superseded it, once one did.
    pub(crate) hidden_at: Option<Position>,
}

impl Row {
    /// The days date filters compare.
    pub(crate) fn span(&self) -> DateSpan {
        DateSpan {
            earliest: self.key.earliest,
            latest: self.latest,
        }
    }

    /// Where its evidence id sorts among an edge's: earliest day, then position.
    pub(crate) fn date_key(&self) -> DateKey {
        DateKey {
            earliest: self.key.earliest,
            position: self.key.position,
        }
    }

    /// The span that widens its edge's dates, if dated.
    pub(crate) fn dated(&self) -> Option<DateSpan> {
        self.is_dated.then(|| self.span())
    }

    /// The stored value: `[hidden_at u64 BE, hidden rows only][latest i32 BE][flags][id]`,
    /// flags = kind (0 event, 1 assertion, 2 denial) | 4 if dated.
    pub(crate) fn encode_value(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(13 + self.id.as_str().len());
        if let Some(at) = self.hidden_at {
            out.extend_from_slice(&at.0.to_be_bytes());
        }
        out.extend_from_slice(&self.latest.0.to_be_bytes());
        let kind = match self.kind {
            EvidenceKind::Event => 0,
            EvidenceKind::Assertion => 1,
            EvidenceKind::Denial => 2,
        };
        out.push(kind | if self.is_dated { 4 } else { 0 });
        out.extend_from_slice(self.id.as_str().as_bytes());
        out
    }

    /// Parses a row stored under `tag` (`R` or `H`).
    pub(crate) fn decode(tag: u8, key: &[u8], value: &[u8]) -> Result<Row, StoreError> {
        let bad = |reason: &str| corrupt(key, reason);
        let row_key = decode_row_key(tag, key)?;
        let mut rest = value;
        let hidden_at = if tag == HIDDEN {
            let (at, tail) = rest
                .split_first_chunk::<8>()
                .ok_or_else(|| bad("hidden row without its position"))?;
            rest = tail;
            Some(Position(u64::from_be_bytes(*at)))
        } else {
            None
        };
        let (latest, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("row without its latest day"))?;
        let (flags, id) = rest.split_first().ok_or_else(|| bad("row without flags"))?;
        let kind = match flags & 3 {
            0 => EvidenceKind::Event,
            1 => EvidenceKind::Assertion,
            2 => EvidenceKind::Denial,
            _ => return Err(bad("unknown evidence kind")),
        };
        if flags >> 3 != 0 {
            return Err(bad("unknown row flags"));
        }
        let id = std::str::from_utf8(id)
            .map_err(|_| bad("row id is not UTF-8"))
            .and_then(|text| EntryId::parse(text).map_err(|reason| bad(&reason)))?;
        Ok(Row {
            key: row_key,
            latest: Day(i32::from_be_bytes(*latest)),
            kind,
            is_dated: flags & 4 != 0,
            id,
            hidden_at,
        })
    }
}

/// The rows an entry at `position` stores, one per view of each edge it is evidence for:
/// a directed edge is seen from its subject (`Out`) and its object (`In`), a symmetric one from
/// both ends. With `centre`, only the views of that actor (a query needs no others).
pub(crate) fn rows_of(
    position: Position,
    body: &EntryBody,
    symmetric: &BTreeSet<RelationKey>,
    centre: Option<&ActorId>,
) -> Vec<Row> {
    let Some(evidence) = evidence_of(body, symmetric) else {
        return Vec::new();
    };
    let is_symmetric = symmetric.contains(evidence.relation);
    let (forward, backward) = if is_symmetric {
        (Side::Symmetric, Side::Symmetric)
    } else {
        (Side::Out, Side::In)
    };
    let span = evidence.span;
    let mut rows = Vec::with_capacity(evidence.pairs.len() * 2);
    for (subject, object) in &evidence.pairs {
        for (centre_actor, other, side) in [(subject, object, forward), (object, subject, backward)]
        {
            if centre.is_some_and(|c| c != *centre_actor) {
                continue;
            }
            rows.push(Row {
                key: RowKey {
                    view: View {
                        centre: (*centre_actor).clone(),
                        relation: evidence.relation.clone(),
                        other: (*other).clone(),
                        side,
                    },
                    bucket: MonthBucket::of(span.earliest, span.latest),
                    certainty: evidence.certainty,
                    earliest: span.earliest,
                    position,
                },
                latest: span.latest,
                kind: evidence.kind,
                is_dated: evidence.is_dated,
                id: evidence.id.clone(),
                hidden_at: None,
            });
        }
    }
    rows
}

/// The ids an entry supersedes (none for actors, whose revisions replace each other instead).
pub(crate) fn superseded_by(body: &EntryBody) -> &[EntryId] {
    match body {
        EntryBody::Actor(_) => &[],
        EntryBody::Event(event) => &event.supersedes,
        EntryBody::Claim(claim) => &claim.supersedes,
    }
}
