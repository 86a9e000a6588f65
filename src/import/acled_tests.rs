//! The ACLED importer on a hand-written fixture (`tests/fixtures/acled/sample.csv`: invented
//! rows in the current column set, no ACLED data) and on rows broken one field at a time.

use std::collections::HashSet;

use super::acled::AcledReader;
use super::test_support::{actors, assert_appendable, events};
use super::{ActorBook, ImportError, RowProblem, SkipReason};
use crate::proto::{self, ActorKind, Certainty, Role};

const SAMPLE: &str = include_str!("../../tests/fixtures/acled/sample.csv");

fn read_all(input: &str) -> (Vec<Vec<proto::Entry>>, Vec<ImportError>, AcledReader<&[u8]>) {
    let mut reader = AcledReader::new(input.as_bytes()).unwrap();
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for item in reader.by_ref() {
        match item {
            Ok(entries) => rows.push(entries),
            Err(e) => errors.push(e),
        }
    }
    (rows, errors, reader)
}

/// The header and the first data row with one column replaced, read alone.
fn broken(column: &str, value: &str) -> RowProblem {
    let mut records = csv::Reader::from_reader(SAMPLE.as_bytes());
    let header = records.headers().unwrap().clone();
    let mut row: Vec<String> = records
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(String::from)
        .collect();
    let index = header.iter().position(|h| h == column).unwrap();
    row[index] = value.to_string();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).unwrap();
    writer.write_record(&row).unwrap();
    let input = String::from_utf8(writer.into_inner().unwrap()).unwrap();
    let (rows, mut errors, _) = read_all(&input);
    assert!(rows.is_empty(), "{column} = {value:?} was accepted");
    match errors.pop() {
        Some(ImportError::Row(e)) => {
            assert_eq!(e.line, 2);
            e.reason
        }
        other => panic!("expected a row error, got {other:?}"),
    }
}

#[test]
fn every_entry_of_the_sample_is_appendable_in_order() {
    let (rows, errors, reader) = read_all(SAMPLE);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(rows.len(), 5);
    let mut known = HashSet::new();
    for entries in &rows {
        assert_appendable(entries, &mut known);
        assert_eq!(events(entries).len(), 1);
    }
    let stats = reader.stats();
    assert_eq!((stats.rows, stats.events, stats.errors), (6, 5, 0));
    assert_eq!(stats.skipped.get(&SkipReason::NoAcledActor), Some(&1));
}

#[test]
fn a_battle_maps_id_date_relation_roles_place_sources_and_attributes() {
    let (rows, _, _) = read_all(SAMPLE);
    let first = &rows[0];
    let ids: Vec<&str> = actors(first).iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "acled-actor-military-forces-of-syria-2000",
            "acled-actor-example-brigade",
            "acled-actor-example-tribal-militia",
            "acled-actor-local-defence-group",
        ]
    );
    let event = events(first)[0];
    assert_eq!(event.id, "acled:SYR90001");
    assert_eq!(event.date, "2022-09-24");
    assert_eq!(event.relation, "clashes_with");
    assert_eq!(event.certainty, Certainty::Reported as i32);
    let roles: Vec<i32> = event.participants.iter().map(|p| p.role).collect();
    let (i, t, s) = (
        Role::Initiator as i32,
        Role::Target as i32,
        Role::Supporter as i32,
    );
    assert_eq!(roles, [i, t, s, s]);
    let place = event.location.as_ref().unwrap();
    assert_eq!(
        (place.name.as_str(), place.admin1.as_str()),
        ("Aleppo", "Aleppo")
    );
    assert_eq!(place.country, "SYR", "ISO numeric 760");
    assert_eq!(
        (place.latitude, place.longitude),
        (Some(36.2021), Some(37.1343))
    );
    let sources: Vec<&str> = event.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(sources, ["Example News", "Example Observatory"]);
    assert!(event.summary.contains("\"quoted\" word, and a comma"));
    let attr = |k: &str| event.attributes.get(k).map(String::as_str);
    assert_eq!(attr("fatalities"), Some("3"));
    assert_eq!(attr("event_type"), Some("Battles"));
    assert_eq!(attr("sub_event_type"), Some("Armed clash"));
    assert_eq!(attr("interaction"), Some("13"));
    assert_eq!(attr("admin2"), Some("Jebel Saman"));
    assert_eq!(
        attr("assoc_actor_2"),
        Some("Example Tribal Militia; Local Defence Group")
    );
    assert_eq!(attr("admin3"), None, "empty columns are left out");
    let kinds: Vec<i32> = actors(first).iter().map(|a| a.kind).collect();
    let (m, g) = (ActorKind::Military as i32, ActorKind::ArmedGroup as i32);
    assert_eq!(
        kinds,
        [m, g, g, g],
        "supporters take their side's interaction code"
    );
}

#[test]
fn time_precision_gives_day_approximate_day_or_month() {
    let (rows, _, _) = read_all(SAMPLE);
    let dates: Vec<String> = rows.iter().map(|r| events(r)[0].date.clone()).collect();
    assert_eq!(
        dates[1], "2022-09-24~",
        "precision 2, written 24 September 2022"
    );
    assert_eq!(dates[2], "2022-09", "precision 3");
}

#[test]
fn types_and_kinds_of_the_other_rows() {
    let (rows, _, reader) = read_all(SAMPLE);
    let event = |i: usize| events(&rows[i])[0].clone();
    assert_eq!(event(1).relation, "assaults");
    assert_eq!(
        event(1).summary,
        "Invented for tests.\nA second line of notes."
    );
    assert_eq!(event(2).relation, "protests");
    assert_eq!(event(2).participants.len(), 1);
    assert_eq!(event(3).relation, "coerces");
    assert_eq!(event(4).relation, "attacks");
    let unknown_country = event(4);
    assert_eq!(unknown_country.location.as_ref().unwrap().country, "");
    assert_eq!(unknown_country.location.as_ref().unwrap().latitude, None);
    assert_eq!(unknown_country.attributes["iso"], "999");
    assert!(unknown_country.sources.is_empty());
    assert!(!unknown_country.attributes.contains_key("fatalities"));
    let all: Vec<proto::Actor> = rows
        .iter()
        .flat_map(|r| actors(r).into_iter().cloned())
        .collect();
    let kind = |id: &str| all.iter().find(|a| a.id == id).map(|a| a.kind);
    let org = Some(ActorKind::Organization as i32);
    assert_eq!(kind("acled-actor-civilians-syria"), org);
    assert_eq!(kind("acled-actor-protesters-ukraine"), org);
    assert_eq!(kind("acled-actor-protesters-syria"), org);
    assert_eq!(
        kind("acled-actor-military-forces-of-ruritania"),
        Some(ActorKind::Military as i32)
    );
    assert_eq!(
        kind("acled-actor-ruritanian-rebels"),
        Some(ActorKind::ArmedGroup as i32)
    );
    // Row 5 names the Syrian forces again (with a trailing space): not emitted twice.
    assert_eq!(
        all.iter()
            .filter(|a| a.id == "acled-actor-military-forces-of-syria-2000")
            .count(),
        1
    );
    assert!(reader.into_book().grown_actors().is_empty());
}

#[test]
fn actors_the_log_holds_are_not_emitted() {
    let mut book = ActorBook::new();
    book.mark_known("acled-actor-military-forces-of-syria-2000");
    let mut reader = AcledReader::with_book(SAMPLE.as_bytes(), book).unwrap();
    let first = reader.next().unwrap().unwrap();
    assert_eq!(actors(&first).len(), 3);
}

#[test]
fn malformed_fields_are_row_errors_naming_the_column() {
    let cases: &[(&str, &str, &str)] = &[
        ("event_id_cnty", "", "event_id_cnty"),
        ("event_id_cnty", "SYR 1", "event_id_cnty"),
        ("event_date", "", "event_date"),
        ("event_date", "2022-13-01", "event_date"),
        ("event_date", "31 February 2022", "event_date"),
        ("event_date", "yesterday", "event_date"),
        ("time_precision", "4", "time_precision"),
        ("time_precision", "", "time_precision"),
        ("event_type", "Parades", "event_type"),
        ("inter1", "", "inter1"),
        ("inter1", "9", "inter1"),
        ("inter2", "Aliens", "inter2"),
        ("actor1", "؟؟", "actor1"),
        ("assoc_actor_2", "Good Name; ---", "assoc_actor_2"),
        ("latitude", "91", "latitude"),
        ("longitude", "", "latitude"),
        ("iso", "SYR", "iso"),
        ("fatalities", "three", "fatalities"),
        ("fatalities", "-1", "fatalities"),
    ];
    for (column, value, named) in cases {
        let message = broken(column, value).to_string();
        assert!(message.starts_with(named), "{column}={value:?}: {message}");
    }
}

#[test]
fn a_missing_column_stops_the_import_before_any_row() {
    let input = SAMPLE.replacen("inter1", "interaction_one", 1);
    match AcledReader::new(input.as_bytes()) {
        Err(ImportError::MissingColumn("inter1")) => {}
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("accepted a header without inter1"),
    }
}

#[test]
fn short_rows_and_bad_bytes_are_errors_and_the_reader_goes_on() {
    let header = SAMPLE.lines().next().unwrap();
    let good = SAMPLE.lines().nth(1).unwrap();
    let mut input = format!("{header}\nSYR1,2022-09-24,2022\n").into_bytes();
    input.extend_from_slice(b"\xff\xfe,");
    input.extend_from_slice(
        good.replacen("SYR90001", "SYR90009", 1)
            .split_once(',')
            .unwrap()
            .1
            .as_bytes(),
    );
    input.extend_from_slice(format!("\n{good}\n").as_bytes());
    let mut reader = AcledReader::new(input.as_slice()).unwrap();
    let items: Vec<_> = reader.by_ref().collect();
    assert_eq!(items.len(), 3, "{items:?}");
    match &items[0] {
        Err(ImportError::Row(e)) => {
            assert_eq!(e.line, 2);
            assert_eq!(
                e.reason,
                RowProblem::FieldCount {
                    found: 3,
                    expected: 31
                }
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&items[1], Err(ImportError::Row(e)) if e.line == 3 && e.reason == RowProblem::NotUtf8)
    );
    assert!(items[2].is_ok());
    assert_eq!(reader.stats().errors, 2);
}

#[test]
fn a_header_that_is_not_csv_is_refused() {
    let input = b"event_id_cnty,\xff\n".as_slice();
    assert!(matches!(
        AcledReader::new(input),
        Err(ImportError::Header(_))
    ));
}
