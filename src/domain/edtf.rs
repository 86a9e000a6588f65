//! EDTF dates (Extended Date/Time Format, ISO 8601-2): the fuzzy dates analysts write.
//!
//! Supported, at day resolution: `2022`, `2022-09`, `2022-09-24`; unspecified trailing digits
//! `201X`, `20XX`, `2022-XX`, `2022-09-XX`, `2022-XX-XX`; qualifiers on the whole date `?`
//! (uncertain), `~` (approximate), `%` (both); seasons, quarters, quadrimesters and semesters
//! `2022-21` to `2022-41`; intervals `2015/2023` with open (`..`) or unknown (empty) ends.
//!
//! Every date is normalised to the span of days it may cover, [`DateSpan`], and to a canonical
//! spelling that is echoed back to clients. A qualified date widens by one unit of its precision
//! on each side (`2022-03~` may be any day from February to April 2022), because "about March"
//! must match a query for late February. Times of day and EDTF level 2 forms that analysts rarely
//! need (sets, exponents, significant digits, qualifiers on single components) are refused with a
//! message that says so, rather than being half-understood.

use std::fmt;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::calendar::{days_in_month, Day, MAX_YEAR, MIN_YEAR};
use super::quote::quoted;

/// The days a date may fall on, both ends inclusive. Open ends use [`Day::OPEN_START`] and
/// [`Day::OPEN_END`], so that overlap and containment are plain integer comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateSpan {
    /// The first day the date may fall on.
    pub earliest: Day,
    /// The last day the date may fall on.
    pub latest: Day,
}

impl DateSpan {
    /// The span that says nothing: any day at all.
    pub const UNBOUNDED: DateSpan = DateSpan {
        earliest: Day::OPEN_START,
        latest: Day::OPEN_END,
    };
}

/// A parsed EDTF date: its canonical spelling and the days it may cover.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Edtf {
    canonical: String,
    span: DateSpan,
}

impl Edtf {
    /// Parses an EDTF string, refusing anything outside the supported subset.
    pub fn parse(input: &str) -> Result<Edtf, EdtfError> {
        let fail = |reason: String| EdtfError {
            input: input.to_string(),
            reason,
        };
        if input.is_empty() {
            return Err(fail("the date is empty".into()));
        }
        if input.len() > 64 {
            return Err(fail("a date is at most 64 characters".into()));
        }
        let form = parse_form(input).map_err(fail)?;
        let span = form.span();
        let mut canonical = String::with_capacity(input.len());
        write!(canonical, "{form}").map_err(|_| fail("the date cannot be spelled".into()))?;
        Ok(Edtf { canonical, span })
    }

    /// A date the store validated when it was appended, read back with the span computed
    /// then, so that reads never parse dates. Only for values the store validated on append
    /// (`canonical` is what [`Edtf::as_str`] returned and `span` what [`Edtf::span`] returned);
    /// never for wire input, which goes through [`Edtf::parse`].
    pub fn from_stored(canonical: String, span: DateSpan) -> Edtf {
        Edtf { canonical, span }
    }

    /// The canonical spelling, e.g. `2022%` for an input of `2022?~`.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The days this date may cover.
    pub fn span(&self) -> DateSpan {
        self.span
    }
}

impl fmt::Display for Edtf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl TryFrom<String> for Edtf {
    type Error = EdtfError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Edtf::parse(&value)
    }
}

impl From<Edtf> for String {
    fn from(value: Edtf) -> Self {
        value.canonical
    }
}

/// Why a string is not a date the log accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid EDTF date {}: {reason}", quoted(.input))]
pub struct EdtfError {
    /// The string as given.
    pub input: String,
    /// What is wrong with it, in words a person can act on.
    pub reason: String,
}

/// A whole EDTF expression.
#[derive(Debug, Clone, PartialEq)]
enum Form {
    Single(Point),
    Interval(End, End),
}

/// One end of an interval.
#[derive(Debug, Clone, PartialEq)]
enum End {
    /// `..`: the interval goes on without bound.
    Open,
    /// Empty: the end exists but is not known.
    Unknown,
    Point(Point),
}

/// A single date with its qualifier.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    /// The year with its unspecified digits set to zero (`201X` -> 2010).
    year: i32,
    /// How many trailing digits of the year are unspecified (`X`), 0 to 2.
    unspecified_year_digits: u32,
    rest: AfterYear,
    qualifier: Qualifier,
}

/// What follows the year.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AfterYear {
    Nothing,
    Month(u32),
    UnspecifiedMonth,
    Day(u32, u32),
    UnspecifiedDay(u32),
    UnspecifiedMonthAndDay,
    /// A season or other sub-year division, EDTF codes 21 to 41.
    Season(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    None,
    Uncertain,
    Approximate,
    UncertainAndApproximate,
}

/// How far a qualified date widens on each side.
enum Unit {
    Months(i32),
    Days(i32),
}

fn parse_form(input: &str) -> Result<Form, String> {
    if input.contains(['[', '{']) {
        return Err("sets of dates ([..] and {..}) are not supported; use an interval".into());
    }
    if looks_like_a_time(input) {
        return Err("times of day are not supported; give the day only".into());
    }
    if let Some(bad) = input
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, 'X' | '-' | '/' | '.' | '?' | '~' | '%')))
    {
        return Err(format!(
            "{bad:?} is not part of an EDTF date; write YYYY, YYYY-MM or YYYY-MM-DD (X for an \
             unspecified digit), then ?, ~ or %, and start/end for an interval"
        ));
    }
    let mut parts = input.split('/');
    let first = parts.next().unwrap_or_default();
    let Some(second) = parts.next() else {
        return parse_point(first).map(Form::Single);
    };
    if parts.next().is_some() {
        return Err("an interval has exactly one '/'".into());
    }
    let start = parse_end(first)?;
    let end = parse_end(second)?;
    match (&start, &end) {
        (End::Point(s), End::Point(e)) => {
            let (s, e) = (s.bare_span(), e.bare_span());
            if s.earliest > e.latest {
                return Err(format!(
                    "the interval ends ({second}) before it starts ({first})"
                ));
            }
        }
        (End::Point(_), _) | (_, End::Point(_)) => {}
        _ => return Err("an interval needs at least one dated end".into()),
    }
    Ok(Form::Interval(start, end))
}

/// A time of day as ISO 8601 writes one (`2022-03-01T10:00`): a `T` or a `:` between digits.
/// Only that is called a time; any other letter is just not part of a date.
fn looks_like_a_time(input: &str) -> bool {
    input.as_bytes().windows(3).any(|w| {
        w[0].is_ascii_digit() && matches!(w[1], b'T' | b't' | b':') && w[2].is_ascii_digit()
    })
}

fn parse_end(text: &str) -> Result<End, String> {
    match text {
        "" => Ok(End::Unknown),
        ".." => Ok(End::Open),
        _ => parse_point(text).map(End::Point),
    }
}

fn parse_point(text: &str) -> Result<Point, String> {
    let body = text.trim_end_matches(['?', '~', '%']);
    let qualifier = parse_qualifier(&text[body.len()..])?;
    if body.contains(['?', '~', '%']) {
        return Err("qualifiers (?, ~, %) go at the end of the whole date, e.g. 2022-03~".into());
    }
    let mut fields = body.split('-');
    let year_text = fields.next().unwrap_or_default();
    let (year, unspecified_year_digits) = parse_year(year_text)?;
    let month_text = fields.next();
    let day_text = fields.next();
    if fields.next().is_some() {
        return Err("expected YYYY, YYYY-MM or YYYY-MM-DD".into());
    }
    if unspecified_year_digits > 0 && month_text.is_some() {
        return Err("a year with unspecified digits (X) cannot have a month".into());
    }
    let rest = match (month_text, day_text) {
        (None, _) => AfterYear::Nothing,
        (Some(m), None) => parse_month_or_season(m)?,
        (Some(m), Some(d)) => parse_month_and_day(year, m, d)?,
    };
    Ok(Point {
        year,
        unspecified_year_digits,
        rest,
        qualifier,
    })
}

fn parse_qualifier(suffix: &str) -> Result<Qualifier, String> {
    let uncertain = suffix.matches('?').count();
    let approximate = suffix.matches('~').count();
    let both = suffix.matches('%').count();
    match (uncertain, approximate, both) {
        (0, 0, 0) => Ok(Qualifier::None),
        (1, 0, 0) => Ok(Qualifier::Uncertain),
        (0, 1, 0) => Ok(Qualifier::Approximate),
        (1, 1, 0) | (0, 0, 1) => Ok(Qualifier::UncertainAndApproximate),
        _ => Err(format!(
            "qualifier {} repeats itself; use one of ?, ~ or %",
            quoted(suffix)
        )),
    }
}

fn parse_year(text: &str) -> Result<(i32, u32), String> {
    if text.is_empty() {
        return Err("the year is missing (negative years are not supported)".into());
    }
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit() || b == b'X') {
        return Err(format!(
            "the year {} must be four digits, 0001 to 9999 (X for an unspecified trailing digit)",
            quoted(text)
        ));
    }
    let specified = text.trim_end_matches('X');
    let unspecified = (text.len() - specified.len()) as u32;
    if specified.contains('X') {
        return Err(format!(
            "only the last digits of a year may be unspecified (X), not {text:?}"
        ));
    }
    if unspecified > 2 {
        return Err(format!(
            "at most the last two digits of a year may be unspecified, not {text:?}"
        ));
    }
    let base: i32 = specified
        .parse()
        .map_err(|_| format!("the year {text:?} is not a number"))?;
    let year = base * 10_i32.pow(unspecified);
    if unspecified == 0 && !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(format!("year {text} is out of range (0001 to 9999)"));
    }
    Ok((year, unspecified))
}

fn parse_two_digits(text: &str, what: &str) -> Result<Option<u32>, String> {
    if text == "XX" {
        return Ok(None);
    }
    if text.len() != 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the {what} {} must be two digits (or XX when unspecified)",
            quoted(text)
        ));
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("the {what} {text:?} is not a number"))
}

fn parse_month_or_season(text: &str) -> Result<AfterYear, String> {
    match parse_two_digits(text, "month")? {
        None => Ok(AfterYear::UnspecifiedMonth),
        Some(m @ 1..=12) => Ok(AfterYear::Month(m)),
        Some(s @ 21..=41) => Ok(AfterYear::Season(s)),
        Some(m) => Err(format!(
            "month {m:02} does not exist (use 01-12, or 21-41 for seasons, quarters and semesters)"
        )),
    }
}

fn parse_month_and_day(year: i32, month: &str, day: &str) -> Result<AfterYear, String> {
    let month = parse_two_digits(month, "month")?;
    let day = parse_two_digits(day, "day")?;
    match (month, day) {
        (None, None) => Ok(AfterYear::UnspecifiedMonthAndDay),
        (None, Some(_)) => Err("a day cannot be given when the month is unspecified (XX)".into()),
        (Some(m @ 21..=41), _) => Err(format!("season {m} cannot have a day")),
        (Some(m), _) if !(1..=12).contains(&m) => {
            Err(format!("month {m:02} does not exist (use 01-12)"))
        }
        (Some(m), None) => Ok(AfterYear::UnspecifiedDay(m)),
        (Some(m), Some(d)) => {
            let last = days_in_month(year, m);
            if d == 0 || d > last {
                Err(format!(
                    "day {d:02} does not exist in {year:04}-{m:02} (it has {last} days)"
                ))
            } else {
                Ok(AfterYear::Day(m, d))
            }
        }
    }
}

/// First and last month of a season code, relative to its year (13 = January of the next).
fn season_months(code: u32) -> (i32, i32) {
    match code {
        // Seasons (21-24), Northern Hemisphere seasons (25-28): meteorological, winter runs
        // from December into the next year.
        21 | 25 => (3, 5),
        22 | 26 => (6, 8),
        23 | 27 => (9, 11),
        24 | 28 => (12, 14),
        // Southern Hemisphere seasons.
        29 => (9, 11),
        30 => (12, 14),
        31 => (3, 5),
        32 => (6, 8),
        // Quarters, quadrimesters, semesters.
        33..=36 => {
            let q = (code - 33) as i32;
            (3 * q + 1, 3 * q + 3)
        }
        37..=39 => {
            let q = (code - 37) as i32;
            (4 * q + 1, 4 * q + 4)
        }
        _ => {
            let s = (code.saturating_sub(40)) as i32;
            (6 * s + 1, 6 * s + 6)
        }
    }
}

impl Point {
    /// The days covered before the qualifier widens them.
    fn bare_span(&self) -> DateSpan {
        let y = self.year;
        let (earliest, latest) = match self.rest {
            AfterYear::Nothing => {
                let years = 10_i32.pow(self.unspecified_year_digits);
                (Day::from_ymd(y, 1, 1), Day::from_ymd(y + years - 1, 12, 31))
            }
            AfterYear::UnspecifiedMonth | AfterYear::UnspecifiedMonthAndDay => {
                (Day::from_ymd(y, 1, 1), Day::from_ymd(y, 12, 31))
            }
            AfterYear::Month(m) | AfterYear::UnspecifiedDay(m) => (
                Day::first_of_month(y, m as i32),
                Day::last_of_month(y, m as i32),
            ),
            AfterYear::Day(m, d) => {
                let day = Day::from_ymd(y, m, d);
                (day, day)
            }
            AfterYear::Season(code) => {
                let (first, last) = season_months(code);
                (Day::first_of_month(y, first), Day::last_of_month(y, last))
            }
        };
        DateSpan { earliest, latest }
    }

    /// One unit of this date's precision.
    fn unit(&self) -> Unit {
        match self.rest {
            AfterYear::Nothing => Unit::Months(12 * 10_i32.pow(self.unspecified_year_digits)),
            AfterYear::Month(_) | AfterYear::UnspecifiedMonth => Unit::Months(1),
            AfterYear::Day(..)
            | AfterYear::UnspecifiedDay(_)
            | AfterYear::UnspecifiedMonthAndDay => Unit::Days(1),
            AfterYear::Season(code) => {
                let (first, last) = season_months(code);
                Unit::Months(last - first + 1)
            }
        }
    }

    fn span(&self) -> DateSpan {
        let bare = self.bare_span();
        if self.qualifier == Qualifier::None {
            return bare;
        }
        match self.unit() {
            Unit::Days(n) => DateSpan {
                earliest: bare.earliest.add_days(-n),
                latest: bare.latest.add_days(n),
            },
            Unit::Months(n) => {
                let (ey, em, _) = bare.earliest.to_ymd();
                let (ly, lm, _) = bare.latest.to_ymd();
                DateSpan {
                    earliest: Day::first_of_month(ey, em as i32 - n),
                    latest: Day::last_of_month(ly, lm as i32 + n),
                }
            }
        }
    }
}

impl Form {
    fn span(&self) -> DateSpan {
        match self {
            Form::Single(p) => p.span(),
            Form::Interval(start, end) => DateSpan {
                earliest: match start {
                    End::Point(p) => p.span().earliest,
                    End::Open | End::Unknown => Day::OPEN_START,
                },
                latest: match end {
                    End::Point(p) => p.span().latest,
                    End::Open | End::Unknown => Day::OPEN_END,
                },
            },
        }
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keep = 4 - self.unspecified_year_digits as usize;
        if (0..=9999).contains(&self.year) {
            // Digit by digit: every appended date is spelled out here once (its canonical
            // text), and a `format!` per point was a measurable part of an append.
            let year = self.year as u32;
            let mut digits = [b'X'; 4];
            for (i, digit) in digits.iter_mut().enumerate().take(keep) {
                *digit = b'0' + (year / 10u32.pow(3 - i as u32) % 10) as u8;
            }
            f.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)?;
        } else {
            let digits = format!("{:04}", self.year);
            f.write_str(&digits[..keep])?;
            for _ in keep..4 {
                f.write_str("X")?;
            }
        }
        match self.rest {
            AfterYear::Nothing => Ok(()),
            AfterYear::Month(m) | AfterYear::Season(m) => write!(f, "-{m:02}"),
            AfterYear::UnspecifiedMonth => f.write_str("-XX"),
            AfterYear::Day(m, d) => write!(f, "-{m:02}-{d:02}"),
            AfterYear::UnspecifiedDay(m) => write!(f, "-{m:02}-XX"),
            AfterYear::UnspecifiedMonthAndDay => f.write_str("-XX-XX"),
        }?;
        f.write_str(match self.qualifier {
            Qualifier::None => "",
            Qualifier::Uncertain => "?",
            Qualifier::Approximate => "~",
            Qualifier::UncertainAndApproximate => "%",
        })
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Open => f.write_str(".."),
            End::Unknown => Ok(()),
            End::Point(p) => p.fmt(f),
        }
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Form::Single(p) => p.fmt(f),
            Form::Interval(s, e) => write!(f, "{s}/{e}"),
        }
    }
}

#[cfg(test)]
mod tests;
