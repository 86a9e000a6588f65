//! Key encodings of the relation graph's keyspace (see `store::graph` for what the keys hold
//! and why). Every graph key is built and parsed here, nowhere else.
//!
//! A key starts with a tag naming its kind, then the *view* it belongs to: the centre actor,
//! the relation, the other actor and the side the centre is on. Ids and relation keys never
//! contain 0x00, so each is followed by a 0x00 separator and a prefix `centre\0` never matches
//! a longer id. Numbers are big-endian, signed ones with the sign bit flipped, so byte order is
//! numeric order: the keys of a view sort by bucket, then certainty, then earliest day, then
//! position, which is the order the graph's queries read them in.
//!
//! ```text
//! T view                          -> aggregate of the view (all its visible evidence)
//! F view                          -> earliest evidence ids of the view, per certainty
//! Y view  year_e  year_l          -> aggregate of a year bucket
//! M view  month_e month_l         -> aggregate of a month bucket
//! R view  month_e month_l c day p -> a visible evidence row
//! H view  month_e month_l c day p -> a hidden (superseded) evidence row
//! view = centre \0 relation \0 other \0 side
//! ```
//!
//! Month buckets are keyed by their months alone (not under their year bucket) so that the
//! month keys of a view, like its rows, sort by the month of the earliest day: the evidence ids
//! of an edge are read in that order.

use crate::domain::{ActorId, Certainty, Day, EntryId, Position, RelationKey};
use crate::store::StoreError;

/// `T` + view -> the aggregate over all of the view's visible evidence.
pub const TOTAL: u8 = b'T';
/// `F` + view -> the view's earliest visible evidence ids per certainty level.
pub const FIRST: u8 = b'F';
/// `Y` + view + year bucket -> the aggregate of the bucket.
pub const YEAR: u8 = b'Y';
/// `M` + view + month bucket -> the aggregate of the bucket.
pub const MONTH: u8 = b'M';
/// `R` + view + month bucket + certainty + earliest day + position -> the row of visible evidence.
pub const ROW: u8 = b'R';
/// `H` + the same as `R` -> the row of evidence a later entry superseded.
pub const HIDDEN: u8 = b'H';

const SEPARATOR: u8 = 0;

/// Which end of an edge the centre actor of a view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The centre is the subject of a directed relation.
    Out,
    /// The centre is the object of a directed relation.
    In,
    /// The relation is symmetric; the centre is reported as the subject.
    Symmetric,
}

impl Side {
    fn byte(self) -> u8 {
        match self {
            Side::Out => b'o',
            Side::In => b'i',
            Side::Symmetric => b's',
        }
    }

    fn from_byte(byte: u8) -> Option<Side> {
        match byte {
            b'o' => Some(Side::Out),
            b'i' => Some(Side::In),
            b's' => Some(Side::Symmetric),
            _ => None,
        }
    }
}

/// One edge seen from one of its ends: what a `ListRelations` answer has one edge for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct View {
    /// The actor whose relations these are.
    pub centre: ActorId,
    /// The relation.
    pub relation: RelationKey,
    /// The actor at the other end.
    pub other: ActorId,
    /// The end the centre is.
    pub side: Side,
}

/// A month as a sortable number: `year * 12 + month - 1`, with the open sentinels of
/// [`Day`] below and above every real month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub i32);

impl Month {
    /// The month a day falls in.
    pub fn of(day: Day) -> Month {
        match day {
            Day::OPEN_START => Month(i32::MIN),
            Day::OPEN_END => Month(i32::MAX),
            _ => {
                let (year, month, _) = day.to_ymd();
                Month(year * 12 + month as i32 - 1)
            }
        }
    }

    /// The year this month is in (the open months are in the open years).
    pub fn year(self) -> Year {
        match self.0 {
            i32::MIN => Year(i32::MIN),
            i32::MAX => Year(i32::MAX),
            n => Year(n.div_euclid(12)),
        }
    }

    /// The first and last day of the month; one sentinel day for the open months.
    pub fn days(self) -> (Day, Day) {
        match self.0 {
            i32::MIN => (Day::OPEN_START, Day::OPEN_START),
            i32::MAX => (Day::OPEN_END, Day::OPEN_END),
            n => {
                let (year, month) = (n.div_euclid(12), n.rem_euclid(12) + 1);
                (
                    Day::first_of_month(year, month),
                    Day::last_of_month(year, month),
                )
            }
        }
    }
}

/// A year as a number, with the open sentinels of [`Day`] below and above every real year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Year(pub i32);

impl Year {
    /// The first and last day of the year; one sentinel day for the open years.
    pub fn days(self) -> (Day, Day) {
        match self.0 {
            i32::MIN => (Day::OPEN_START, Day::OPEN_START),
            i32::MAX => (Day::OPEN_END, Day::OPEN_END),
            n => (Day::first_of_month(n, 1), Day::last_of_month(n, 12)),
        }
    }

    /// The first month of the year.
    pub fn first_month(self) -> Month {
        match self.0 {
            i32::MIN | i32::MAX => Month(self.0),
            n => Month(n * 12),
        }
    }

    /// The last month of the year.
    pub fn last_month(self) -> Month {
        match self.0 {
            i32::MIN | i32::MAX => Month(self.0),
            n => Month(n * 12 + 11),
        }
    }
}

/// Where in a view's aggregates a piece of evidence is counted: the months (and years) of its
/// earliest and latest day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthBucket {
    /// Month of the earliest day.
    pub earliest: Month,
    /// Month of the latest day.
    pub latest: Month,
}

/// The year bucket above month buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearBucket {
    /// Year of the earliest day.
    pub earliest: Year,
    /// Year of the latest day.
    pub latest: Year,
}

impl MonthBucket {
    /// The bucket of evidence dated from `earliest` to `latest`.
    pub fn of(earliest: Day, latest: Day) -> MonthBucket {
        MonthBucket {
            earliest: Month::of(earliest),
            latest: Month::of(latest),
        }
    }

    /// The year bucket this month bucket is part of.
    pub fn year(self) -> YearBucket {
        YearBucket {
            earliest: self.earliest.year(),
            latest: self.latest.year(),
        }
    }
}

/// The key of one evidence row, visible (`R`) or hidden (`H`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    /// The view the row belongs to.
    pub view: View,
    /// Its month bucket.
    pub bucket: MonthBucket,
    /// The evidence's certainty.
    pub certainty: Certainty,
    /// The evidence's earliest day.
    pub earliest: Day,
    /// The evidence's position in the log.
    pub position: Position,
}

/// `tag centre \0`: the prefix of every key of `tag` whose view has this centre.
pub fn centre_prefix(tag: u8, centre: &ActorId) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + centre.as_str().len());
    key.push(tag);
    push_text(&mut key, centre.as_str());
    key
}

/// `tag centre \0 relation \0`: the prefix of the keys of `tag` of one centre and relation.
pub fn relation_prefix(tag: u8, centre: &ActorId, relation: &RelationKey) -> Vec<u8> {
    let mut key = centre_prefix(tag, centre);
    push_text(&mut key, relation.as_str());
    key
}

/// `tag view`: the prefix of every key of `tag` of the view (for `T`, the whole key).
pub fn view_key(tag: u8, view: &View) -> Vec<u8> {
    let mut key = relation_prefix(tag, &view.centre, &view.relation);
    push_text(&mut key, view.other.as_str());
    key.push(view.side.byte());
    key
}

/// The key of a year bucket's aggregate.
pub fn year_key(view: &View, bucket: YearBucket) -> Vec<u8> {
    let mut key = view_key(YEAR, view);
    push_i32(&mut key, bucket.earliest.0);
    push_i32(&mut key, bucket.latest.0);
    key
}

/// The key of a month bucket's aggregate.
pub fn month_key(view: &View, bucket: MonthBucket) -> Vec<u8> {
    let mut key = view_key(MONTH, view);
    push_month_bucket(&mut key, bucket);
    key
}

/// `M view month_e`: the smallest month-bucket key whose earliest month is `month`.
pub fn months_from(view: &View, month: Month) -> Vec<u8> {
    let mut key = view_key(MONTH, view);
    push_i32(&mut key, month.0);
    key
}

/// The key of a row: `tag` is [`ROW`] or [`HIDDEN`].
pub fn row_key(tag: u8, row: &RowKey) -> Vec<u8> {
    let mut key = row_prefix(tag, &row.view, row.bucket, row.certainty);
    push_i32(&mut key, row.earliest.0);
    key.extend_from_slice(&row.position.0.to_be_bytes());
    key
}

/// `tag view bucket certainty`: the prefix of the rows of one bucket and certainty, which
/// sort by earliest day, then position.
pub fn row_prefix(tag: u8, view: &View, bucket: MonthBucket, certainty: Certainty) -> Vec<u8> {
    let mut key = bucket_row_prefix(tag, view, bucket);
    key.push(certainty_byte(certainty));
    key
}

/// `tag view bucket`: the prefix of every row of one bucket.
pub fn bucket_row_prefix(tag: u8, view: &View, bucket: MonthBucket) -> Vec<u8> {
    let mut key = view_key(tag, view);
    push_month_bucket(&mut key, bucket);
    key
}

/// The view of a `T` key.
pub fn decode_total_key(key: &[u8]) -> Result<View, StoreError> {
    decode_view_key(TOTAL, key)
}

/// The view of an `F` key.
pub fn decode_first_key(key: &[u8]) -> Result<View, StoreError> {
    decode_view_key(FIRST, key)
}

/// The view of a key that is `tag view` and nothing more.
fn decode_view_key(tag: u8, key: &[u8]) -> Result<View, StoreError> {
    let (view, rest) = decode_view(tag, key)?;
    if !rest.is_empty() {
        return Err(corrupt(key, "a view key has bytes after its view"));
    }
    Ok(view)
}

/// The view and bucket of a `Y` key.
pub fn decode_year_key(key: &[u8]) -> Result<(View, YearBucket), StoreError> {
    let (view, rest) = decode_view(YEAR, key)?;
    let [e0, e1, e2, e3, l0, l1, l2, l3] = rest else {
        return Err(corrupt(key, "a year key ends in 8 bytes of years"));
    };
    let bucket = YearBucket {
        earliest: Year(i32_from([*e0, *e1, *e2, *e3])),
        latest: Year(i32_from([*l0, *l1, *l2, *l3])),
    };
    Ok((view, bucket))
}

/// The view and bucket of an `M` key.
pub fn decode_month_key(key: &[u8]) -> Result<(View, MonthBucket), StoreError> {
    let (view, rest) = decode_view(MONTH, key)?;
    if rest.len() != 8 {
        return Err(corrupt(key, "a month key ends in 8 bytes of months"));
    }
    Ok((view, month_bucket_from(rest)))
}

/// The parts of an `R` or `H` key.
pub fn decode_row_key(tag: u8, key: &[u8]) -> Result<RowKey, StoreError> {
    let (view, rest) = decode_view(tag, key)?;
    if rest.len() != 8 + 1 + 4 + 8 {
        return Err(corrupt(
            key,
            "a row key ends in 21 bytes of bucket, certainty, day, position",
        ));
    }
    let certainty = certainty_from(rest[8]).ok_or_else(|| corrupt(key, "unknown certainty"))?;
    let mut day = [0; 4];
    day.copy_from_slice(&rest[9..13]);
    let mut position = [0; 8];
    position.copy_from_slice(&rest[13..]);
    Ok(RowKey {
        view,
        bucket: month_bucket_from(&rest[..8]),
        certainty,
        earliest: Day(i32_from(day)),
        position: Position(u64::from_be_bytes(position)),
    })
}

/// The byte a certainty is stored as: its rank, strongest (`Confirmed`) first.
pub fn certainty_byte(certainty: Certainty) -> u8 {
    match certainty {
        Certainty::Confirmed => 0,
        Certainty::Reported => 1,
        Certainty::Alleged => 2,
        Certainty::Speculated => 3,
        Certainty::Disputed => 4,
    }
}

/// The certainty stored as `byte`, if it is one.
pub fn certainty_from(byte: u8) -> Option<Certainty> {
    CERTAINTIES.get(usize::from(byte)).copied()
}

/// Every certainty, strongest first, indexed by [`certainty_byte`].
pub const CERTAINTIES: [Certainty; 5] = [
    Certainty::Confirmed,
    Certainty::Reported,
    Certainty::Alleged,
    Certainty::Speculated,
    Certainty::Disputed,
];

/// A `Corrupt` error for a graph key.
pub fn corrupt(key: &[u8], reason: &str) -> StoreError {
    StoreError::Corrupt {
        key: format!("graph:{}", String::from_utf8_lossy(key).escape_debug()),
        reason: reason.to_string(),
    }
}

fn decode_view(tag: u8, key: &[u8]) -> Result<(View, &[u8]), StoreError> {
    let Some((first, mut rest)) = key.split_first() else {
        return Err(corrupt(key, "empty key"));
    };
    if *first != tag {
        return Err(corrupt(
            key,
            "a key of another kind where a graph key was expected",
        ));
    }
    let mut text = || -> Result<&str, StoreError> {
        let at = rest
            .iter()
            .position(|b| *b == SEPARATOR)
            .ok_or_else(|| corrupt(key, "missing separator"))?;
        let part = std::str::from_utf8(&rest[..at]).map_err(|_| corrupt(key, "not UTF-8"))?;
        rest = &rest[at + 1..];
        Ok(part)
    };
    let centre = text()?;
    let relation = text()?;
    let other = text()?;
    let id = |text: &str| EntryId::parse(text).map_err(|reason| corrupt(key, &reason));
    let view = View {
        centre: id(centre)?,
        // The graph only ever stores keys the vocabulary made.
        relation: RelationKey(relation.to_string()),
        other: id(other)?,
        side: Side::from_byte(*rest.first().ok_or_else(|| corrupt(key, "missing side"))?)
            .ok_or_else(|| corrupt(key, "unknown side"))?,
    };
    Ok((view, &rest[1..]))
}

fn push_text(key: &mut Vec<u8>, text: &str) {
    key.extend_from_slice(text.as_bytes());
    key.push(SEPARATOR);
}

/// Big-endian with the sign bit flipped, so byte order is numeric order.
fn push_i32(key: &mut Vec<u8>, n: i32) {
    key.extend_from_slice(&((n as u32) ^ 0x8000_0000).to_be_bytes());
}

fn i32_from(bytes: [u8; 4]) -> i32 {
    (u32::from_be_bytes(bytes) ^ 0x8000_0000) as i32
}

fn push_month_bucket(key: &mut Vec<u8>, bucket: MonthBucket) {
    push_i32(key, bucket.earliest.0);
    push_i32(key, bucket.latest.0);
}

/// The bucket in the 8 bytes of `bytes` (the caller checked the length).
fn month_bucket_from(bytes: &[u8]) -> MonthBucket {
    let four = |at: usize| {
        let mut b = [0; 4];
        b.copy_from_slice(&bytes[at..at + 4]);
        i32_from(b)
    };
    MonthBucket {
        earliest: Month(four(0)),
        latest: Month(four(4)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Vocabulary;

    fn view(centre: &str, other: &str, side: Side) -> View {
        View {
            centre: EntryId::parse(centre).expect("valid"),
            relation: Vocabulary::builtin().relation("backs").expect("known"),
            other: EntryId::parse(other).expect("valid"),
            side,
        }
    }

    fn day(y: i32, m: u32, d: u32) -> Day {
        Day::from_ymd(y, m, d)
    }

    #[test]
    fn every_key_round_trips() {
        let v = view("acled:a-1", "b.2", Side::In);
        assert_eq!(decode_total_key(&view_key(TOTAL, &v)).expect("total"), v);
        assert_eq!(decode_first_key(&view_key(FIRST, &v)).expect("first"), v);
        assert!(decode_first_key(&view_key(TOTAL, &v)).is_err());
        let bucket = MonthBucket::of(day(2012, 1, 31), Day::OPEN_END);
        assert_eq!(
            decode_year_key(&year_key(&v, bucket.year())).expect("year"),
            (v.clone(), bucket.year())
        );
        assert_eq!(
            decode_month_key(&month_key(&v, bucket)).expect("month"),
            (v.clone(), bucket)
        );
        let row = RowKey {
            view: v,
            bucket,
            certainty: Certainty::Alleged,
            earliest: day(2012, 1, 31),
            position: Position(u64::MAX - 3),
        };
        assert_eq!(
            decode_row_key(HIDDEN, &row_key(HIDDEN, &row)).expect("row"),
            row
        );
        assert!(decode_row_key(ROW, &row_key(HIDDEN, &row)).is_err());
    }

    #[test]
    fn corrupt_keys_are_errors_not_panics() {
        let v = view("a", "b", Side::Out);
        let good = month_key(&v, MonthBucket::of(day(2020, 5, 5), day(2020, 6, 6)));
        for cut in 0..good.len() {
            assert!(decode_month_key(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_side = view_key(TOTAL, &v);
        *bad_side.last_mut().expect("side") = b'x';
        assert!(matches!(
            decode_total_key(&bad_side),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn rows_sort_by_bucket_certainty_day_position() {
        let v = view("a", "b", Side::Symmetric);
        let row = |e: Day, l: Day, certainty, p| {
            row_key(
                ROW,
                &RowKey {
                    view: v.clone(),
                    bucket: MonthBucket::of(e, l),
                    certainty,
                    earliest: e,
                    position: Position(p),
                },
            )
        };
        let ordered = [
            row(Day::OPEN_START, Day::OPEN_END, Certainty::Disputed, 9),
            row(day(1, 1, 1), day(1, 1, 1), Certainty::Confirmed, 1),
            row(day(1969, 12, 31), day(1970, 1, 1), Certainty::Confirmed, 1),
            row(day(1969, 12, 31), day(1970, 2, 1), Certainty::Confirmed, 1),
            row(day(1969, 12, 31), day(1970, 2, 1), Certainty::Reported, 1),
            row(day(1970, 1, 1), day(1970, 1, 1), Certainty::Confirmed, 1),
            row(day(1970, 1, 2), day(1970, 1, 2), Certainty::Confirmed, 1),
            row(day(1970, 1, 2), day(1970, 1, 2), Certainty::Confirmed, 256),
            row(day(2022, 9, 1), Day::OPEN_END, Certainty::Confirmed, 1),
            row(
                day(9999, 12, 31),
                day(9999, 12, 31),
                Certainty::Confirmed,
                1,
            ),
        ];
        assert!(ordered.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_centre_prefix_does_not_match_a_longer_id() {
        let short = view("a1", "b", Side::Out);
        let long = view("a10", "b", Side::Out);
        let prefix = centre_prefix(TOTAL, &short.centre);
        assert!(view_key(TOTAL, &short).starts_with(&prefix));
        assert!(!view_key(TOTAL, &long).starts_with(&prefix));
    }

    #[test]
    fn months_and_years_at_their_edges() {
        assert_eq!(Month::of(day(2022, 1, 1)), Month(2022 * 12));
        assert_eq!(Month::of(day(2021, 12, 31)), Month(2022 * 12 - 1));
        assert_eq!(
            Month(2022 * 12 + 1).days(),
            (day(2022, 2, 1), day(2022, 2, 28))
        );
        assert_eq!(Month(2024 * 12 + 1).days().1, day(2024, 2, 29));
        assert_eq!(
            Month::of(Day::OPEN_START).days(),
            (Day::OPEN_START, Day::OPEN_START)
        );
        assert_eq!(Month::of(Day::OPEN_END).year(), Year(i32::MAX));
        assert_eq!(Month(12).year(), Year(1));
        assert_eq!(Year(2022).days(), (day(2022, 1, 1), day(2022, 12, 31)));
        assert_eq!(Year(2022).first_month().days().0, day(2022, 1, 1));
        assert_eq!(Year(2022).last_month().days().1, day(2022, 12, 31));
        let open = MonthBucket::of(Day::OPEN_START, day(2021, 12, 31));
        assert_eq!(
            open.year(),
            YearBucket {
                earliest: Year(i32::MIN),
                latest: Year(2021)
            }
        );
    }

    #[test]
    fn months_from_starts_the_months_of_a_view_that_begin_in_a_month() {
        let v = view("a", "b", Side::Out);
        let march = Month::of(day(2020, 3, 15));
        let start = months_from(&v, march);
        let before = month_key(&v, MonthBucket::of(day(2020, 2, 29), day(2030, 1, 1)));
        let within = month_key(&v, MonthBucket::of(day(2020, 3, 1), day(2020, 3, 1)));
        assert!(before < start && start <= within);
    }
}
