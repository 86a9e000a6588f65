//! Examples from the analyst's point of view, and property tests over generated dates.

use proptest::prelude::*;

use super::*;

fn span(input: &str) -> (String, String) {
    let date = Edtf::parse(input).unwrap_or_else(|e| panic!("{input} should parse: {e}"));
    let s = date.span();
    (s.earliest.to_string(), s.latest.to_string())
}

fn canonical(input: &str) -> String {
    Edtf::parse(input)
        .unwrap_or_else(|e| panic!("{input} should parse: {e}"))
        .as_str()
        .to_string()
}

fn reason(input: &str) -> String {
    Edtf::parse(input)
        .expect_err(&format!("{input} should be refused"))
        .reason
}

#[test]
fn plain_precisions() {
    assert_eq!(span("2022"), ("2022-01-01".into(), "2022-12-31".into()));
    assert_eq!(span("2022-02"), ("2022-02-01".into(), "2022-02-28".into()));
    assert_eq!(span("2024-02"), ("2024-02-01".into(), "2024-02-29".into()));
    assert_eq!(
        span("2022-09-24"),
        ("2022-09-24".into(), "2022-09-24".into())
    );
}

#[test]
fn qualifiers_widen_by_one_unit_of_precision() {
    assert_eq!(span("2022-03~"), ("2022-02-01".into(), "2022-04-30".into()));
    assert_eq!(span("2019?"), ("2018-01-01".into(), "2020-12-31".into()));
    assert_eq!(
        span("2022-01-01%"),
        ("2021-12-31".into(), "2022-01-02".into())
    );
    assert_eq!(span("2022-12~"), ("2022-11-01".into(), "2023-01-31".into()));
    assert_eq!(span("201X~"), ("2000-01-01".into(), "2029-12-31".into()));
}

#[test]
fn qualifier_spellings_are_canonicalised() {
    assert_eq!(canonical("2022?~"), "2022%");
    assert_eq!(canonical("2022~?"), "2022%");
    assert_eq!(canonical("2022-03~"), "2022-03~");
}

#[test]
fn unspecified_digits() {
    assert_eq!(span("201X"), ("2010-01-01".into(), "2019-12-31".into()));
    assert_eq!(span("19XX"), ("1900-01-01".into(), "1999-12-31".into()));
    assert_eq!(span("2022-XX"), ("2022-01-01".into(), "2022-12-31".into()));
    assert_eq!(
        span("2022-09-XX"),
        ("2022-09-01".into(), "2022-09-30".into())
    );
    assert_eq!(
        span("2022-XX-XX"),
        ("2022-01-01".into(), "2022-12-31".into())
    );
}

#[test]
fn seasons_quarters_and_semesters() {
    assert_eq!(span("2022-21"), ("2022-03-01".into(), "2022-05-31".into()));
    assert_eq!(span("2022-24"), ("2022-12-01".into(), "2023-02-28".into()));
    assert_eq!(span("2022-33"), ("2022-01-01".into(), "2022-03-31".into()));
    assert_eq!(span("2022-36"), ("2022-10-01".into(), "2022-12-31".into()));
    assert_eq!(span("2022-39"), ("2022-09-01".into(), "2022-12-31".into()));
    assert_eq!(span("2022-41"), ("2022-07-01".into(), "2022-12-31".into()));
    assert_eq!(span("2022-21~"), ("2021-12-01".into(), "2022-08-31".into()));
}

#[test]
fn intervals_and_open_ends() {
    assert_eq!(
        span("2015/2023"),
        ("2015-01-01".into(), "2023-12-31".into())
    );
    assert_eq!(span("2015/.."), ("2015-01-01".into(), "".into()));
    assert_eq!(span("../2015-06"), ("".into(), "2015-06-30".into()));
    assert_eq!(span("2015-09-30/"), ("2015-09-30".into(), "".into()));
    assert_eq!(
        span("2015~/2016-03"),
        ("2014-01-01".into(), "2016-03-31".into())
    );
    assert_eq!(canonical("2015/.."), "2015/..");
    assert_eq!(canonical("/2015"), "/2015");
}

#[test]
fn invalid_dates_say_what_is_wrong() {
    assert!(reason("2022-13").contains("month 13 does not exist"));
    assert!(reason("2022/2019").contains("ends (2019) before it starts (2022)"));
    assert!(reason("20x2").contains("'x' is not part of an EDTF date"));
    assert!(reason("2022 ").contains("' ' is not part of an EDTF date"));
    assert!(reason("2X22").contains("only the last digits"));
    assert!(reason("2022-02-30").contains("day 30 does not exist in 2022-02"));
    assert!(reason("2022-09-24T10:00").contains("times of day"));
    assert!(reason("2022-09-24 10:00").contains("times of day"));
    // A word with a "t" in it is not a time of day.
    let words = reason("☃ nächstes Jahr ☃");
    assert!(words.contains("'☃' is not part of an EDTF date"), "{words}");
    assert!(reason("../..").contains("at least one dated end"));
    assert!(reason("2022/2023/2024").contains("exactly one '/'"));
    assert!(reason("2022??").contains("repeats"));
    assert!(reason("2022?-03").contains("at the end"));
    assert!(reason("0000").contains("out of range"));
    assert!(reason("22").contains("four digits"));
    assert!(reason("-0100").contains("negative"));
    assert!(reason("2022-21-03").contains("cannot have a day"));
    assert!(reason("2022-XX-05").contains("month is unspecified"));
    assert!(reason("201X-05").contains("cannot have a month"));
    assert!(reason("[2020,2021]").contains("sets"));
    assert!(reason("").contains("empty"));
}

#[test]
fn serde_stores_the_canonical_text() {
    let date = Edtf::parse("2022?~").expect("valid");
    let json = serde_json::to_string(&date).expect("serialises");
    assert_eq!(json, "\"2022%\"");
    let back: Edtf = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, date);
}

fn point_strategy() -> impl Strategy<Value = String> {
    let qualifier = prop_oneof![Just(""), Just("?"), Just("~"), Just("%")];
    let body = prop_oneof![
        (1_i32..=9999).prop_map(|y| format!("{y:04}")),
        (1_i32..=999).prop_map(|y| format!("{y:03}X")),
        (1_i32..=99).prop_map(|y| format!("{y:02}XX")),
        (1_i32..=9999, 1_u32..=12).prop_map(|(y, m)| format!("{y:04}-{m:02}")),
        (1_i32..=9999).prop_map(|y| format!("{y:04}-XX")),
        (1_i32..=9999, 21_u32..=41).prop_map(|(y, s)| format!("{y:04}-{s}")),
        (1_i32..=9999, 1_u32..=12, 1_u32..=31).prop_map(|(y, m, d)| {
            let d = d.min(days_in_month(y, m));
            format!("{y:04}-{m:02}-{d:02}")
        }),
        (1_i32..=9999, 1_u32..=12).prop_map(|(y, m)| format!("{y:04}-{m:02}-XX")),
        (1_i32..=9999).prop_map(|y| format!("{y:04}-XX-XX")),
    ];
    (body, qualifier).prop_map(|(b, q)| format!("{b}{q}"))
}

fn edtf_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        point_strategy(),
        (point_strategy(), point_strategy()).prop_map(|(a, b)| format!("{a}/{b}")),
        point_strategy().prop_map(|a| format!("{a}/..")),
        point_strategy().prop_map(|a| format!("../{a}")),
        point_strategy().prop_map(|a| format!("{a}/")),
        point_strategy().prop_map(|a| format!("/{a}")),
    ]
}

proptest! {
    #[test]
    fn canonical_form_round_trips(input in edtf_strategy()) {
        if let Ok(date) = Edtf::parse(&input) {
            let again = Edtf::parse(date.as_str()).expect("a canonical date parses");
            prop_assert_eq!(again.as_str(), date.as_str());
            prop_assert_eq!(again.span(), date.span());
        }
    }

    #[test]
    fn single_dates_always_parse_and_keep_their_spelling(input in point_strategy()) {
        let date = Edtf::parse(&input).expect("generated dates are valid");
        prop_assert_eq!(date.as_str(), input.as_str());
    }

    #[test]
    fn earliest_is_never_after_latest(input in edtf_strategy()) {
        if let Ok(date) = Edtf::parse(&input) {
            prop_assert!(date.span().earliest <= date.span().latest);
        }
    }

    #[test]
    fn qualifying_a_date_only_widens_it(input in point_strategy()) {
        let bare = input.trim_end_matches(['?', '~', '%']);
        let plain = Edtf::parse(bare).expect("valid");
        let fuzzy = Edtf::parse(&format!("{bare}~")).expect("valid");
        prop_assert!(fuzzy.span().earliest < plain.span().earliest);
        prop_assert!(fuzzy.span().latest > plain.span().latest);
    }

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,40}") {
        let _ = Edtf::parse(&input);
    }
}
