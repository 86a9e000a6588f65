//! Calendar arithmetic on proleptic Gregorian days, for the EDTF parser and for date indexes.
//!
//! A [`Day`] is a count of days since 1970-01-01, so spans compare and sort as plain integers
//! (which is what date indexes need). This module only does arithmetic; it never parses text.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The smallest year the log accepts. EDTF allows more; conflict data does not need it.
pub const MIN_YEAR: i32 = 1;
/// The largest year the log accepts (four digits).
pub const MAX_YEAR: i32 = 9999;

/// A calendar day, counted from 1970-01-01 (day 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Day(pub i32);

impl Day {
    /// Stands for "no bound" at the start of an open span (`../2020`).
    pub const OPEN_START: Day = Day(i32::MIN);
    /// Stands for "no bound" at the end of an open span (`2020/..`).
    pub const OPEN_END: Day = Day(i32::MAX);

    /// The day of a valid calendar date. Callers check `month` and `day` first.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Day {
        // Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar.
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = month as i32;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Day(era * 146_097 + doe - 719_468)
    }

    /// The first day of a month, carrying months outside 1..=12 into neighbouring years.
    pub fn first_of_month(year: i32, month: i32) -> Day {
        let (y, m) = normalise_month(year, month);
        Day::from_ymd(y, m, 1)
    }

    /// The last day of a month, carrying months outside 1..=12 into neighbouring years.
    pub fn last_of_month(year: i32, month: i32) -> Day {
        let (y, m) = normalise_month(year, month);
        Day::from_ymd(y, m, days_in_month(y, m))
    }

    /// The calendar date of this day as (year, month, day).
    pub fn to_ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
        (y, m, d)
    }

    /// True for the two sentinels of open spans.
    pub fn is_open(self) -> bool {
        self == Day::OPEN_START || self == Day::OPEN_END
    }

    /// The ISO 8601 calendar date (`2022-09-24`); an open end is the empty string.
    ///
    /// Why not `to_string()`: every stored record carries its dates' spans as this text, and
    /// the formatting machinery took a few percent of an append's time; so years 0–9999 are
    /// written digit by digit, and only others go through `format!`.
    pub fn iso(self) -> String {
        if self.is_open() {
            return String::new();
        }
        let (y, m, d) = self.to_ymd();
        if !(0..=9999).contains(&y) {
            return format!("{y:04}-{m:02}-{d:02}");
        }
        let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
        let y = y as u32;
        let mut text = String::with_capacity(10);
        text.extend([y / 1000, y / 100, y / 10, y].map(digit));
        text.push('-');
        text.extend([m / 10, m].map(digit));
        text.push('-');
        text.extend([d / 10, d].map(digit));
        text
    }

    /// This day moved by `days`, saturating at the open sentinels.
    pub fn add_days(self, days: i32) -> Day {
        if self.is_open() {
            return self;
        }
        Day(self.0.saturating_add(days))
    }
}

impl fmt::Display for Day {
    /// ISO 8601 calendar date (`2022-09-24`); open ends print as an empty string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}

/// True in Gregorian leap years.
pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1..=12) of `year`.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        _ => 28,
    }
}

fn normalise_month(year: i32, month: i32) -> (i32, u32) {
    let zero_based = month - 1;
    (
        year + zero_based.div_euclid(12),
        (zero_based.rem_euclid(12) + 1) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_days() {
        assert_eq!(Day::from_ymd(1970, 1, 1), Day(0));
        assert_eq!(Day::from_ymd(2000, 3, 1).to_ymd(), (2000, 3, 1));
        assert_eq!(Day::from_ymd(2022, 9, 24).to_string(), "2022-09-24");
        assert_eq!(Day::from_ymd(1, 1, 1).to_string(), "0001-01-01");
    }

    #[test]
    fn months_carry_into_neighbouring_years() {
        assert_eq!(Day::first_of_month(2022, 0).to_string(), "2021-12-01");
        assert_eq!(Day::last_of_month(2022, 13).to_string(), "2023-01-31");
        assert_eq!(Day::last_of_month(2024, 2).to_string(), "2024-02-29");
    }

    #[test]
    fn every_day_round_trips_over_four_centuries() {
        let start = Day::from_ymd(1900, 1, 1).0;
        for n in start..start + 146_097 {
            let (y, m, d) = Day(n).to_ymd();
            assert!(d >= 1 && d <= days_in_month(y, m));
            assert_eq!(Day::from_ymd(y, m, d), Day(n));
        }
    }

    #[test]
    fn iso_text_is_the_formatted_date_in_and_outside_the_fast_years() {
        let formatted = |day: Day| {
            let (y, m, d) = day.to_ymd();
            format!("{y:04}-{m:02}-{d:02}")
        };
        let spots = [
            Day::from_ymd(0, 1, 1),
            Day::from_ymd(9999, 12, 31),
            Day::from_ymd(10_000, 1, 1),
            Day::from_ymd(-1, 12, 31),
            Day::from_ymd(-44, 3, 15),
            Day::from_ymd(2022, 9, 24),
        ];
        let every_day_of_four_centuries = (Day::from_ymd(1800, 1, 1).0..).take(146_097).map(Day);
        for day in spots.into_iter().chain(every_day_of_four_centuries) {
            assert_eq!(day.iso(), formatted(day), "{day:?}");
            assert_eq!(day.to_string(), day.iso());
        }
        assert_eq!(Day::from_ymd(2022, 9, 24).iso(), "2022-09-24");
        assert_eq!(Day::OPEN_START.iso(), "");
        assert_eq!(Day::OPEN_END.to_string(), "");
    }
}
