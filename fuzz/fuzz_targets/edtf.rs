//! EDTF dates, as every date field of the API and the importers takes them. A date that parses
//! covers a non-empty span of days, and its canonical spelling (what clients are echoed) parses
//! back to the same date: same spelling, same span.
#![no_main]

use eventlog::domain::Edtf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(date) = Edtf::parse(text) else {
        return;
    };
    let span = date.span();
    assert!(
        span.earliest <= span.latest,
        "{text:?} spans {span:?}, which ends before it starts"
    );
    let canonical = date.to_string();
    let again = Edtf::parse(&canonical)
        .unwrap_or_else(|e| panic!("{text:?} is canonically {canonical:?}, which is refused: {e}"));
    assert_eq!(again, date, "{text:?} and its canonical spelling differ");
});
