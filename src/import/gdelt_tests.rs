//! The GDELT importer on a hand-written fixture (`tests/fixtures/gdelt/sample.export.CSV`, six
//! rows in the 61-column format) and on single rows broken one field at a time.

use std::collections::HashSet;
use std::io::Cursor;

use super::gdelt::{GdeltReader, COLUMNS};
use super::test_support::{actors, assert_appendable, events};
use super::{ActorBook, ImportError, RowProblem, SkipReason};
use crate::proto::{self, ActorKind, Certainty, Role};

const SAMPLE: &str = include_str!("../../tests/fixtures/gdelt/sample.export.CSV");

/// What a reader yielded: the rows read, the errors, and the reader (for its stats).
type Yielded = (
    Vec<Vec<proto::Entry>>,
    Vec<ImportError>,
    GdeltReader<Cursor<Vec<u8>>>,
);

fn read_all(input: &str) -> Yielded {
    let mut reader = GdeltReader::new(Cursor::new(input.as_bytes().to_vec()));
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for item in reader.by_ref() {
        match item {
            Ok(entries) => rows.push(entries),
            Err(e) => errors.push(e),
        }
    }
    (rows, errors, reader)
}

fn sample_line(n: usize) -> Vec<String> {
    SAMPLE
        .lines()
        .nth(n)
        .unwrap()
        .split('\t')
        .map(String::from)
        .collect()
}

/// The first fixture row with one field replaced, read alone.
fn broken(column: usize, value: &str) -> RowProblem {
    let mut fields = sample_line(0);
    fields[column] = value.to_string();
    let (rows, mut errors, _) = read_all(&fields.join("\t"));
    assert!(rows.is_empty(), "column {column} = {value:?} was accepted");
    match errors.pop() {
        Some(ImportError::Row(e)) => {
            assert_eq!(e.line, 1);
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
        assert_eq!(
            events(entries).len(),
            1,
            "one event per row, after its actors"
        );
        assert!(matches!(
            entries.last().unwrap().body,
            Some(proto::entry::Body::Event(_))
        ));
    }
    let stats = reader.stats();
    assert_eq!(stats.rows, 6);
    assert_eq!(stats.events, 5);
    assert_eq!(stats.skipped.get(&SkipReason::NoActor), Some(&1));
    assert_eq!(stats.errors, 0);
    let emitted: usize = rows.iter().map(|r| actors(r).len()).sum();
    assert_eq!(stats.actors, emitted as u64);
}

#[test]
fn a_row_maps_ids_date_relation_roles_location_source_and_attributes() {
    let (rows, _, _) = read_all(SAMPLE);
    let first = &rows[0];
    let ids: Vec<&str> = actors(first).iter().map(|a| a.id.as_str()).collect();
    // The country before the actor that is part of it, then the target.
    assert_eq!(ids, ["cameo-usa", "cameo-usagov", "cameo-rus"]);
    let event = events(first)[0];
    assert_eq!(event.id, "gdelt:1000000001");
    assert_eq!(event.date, "2019-10-24");
    assert_eq!(event.relation, "criticizes");
    assert_eq!(event.certainty, Certainty::Reported as i32);
    let roles: Vec<(&str, i32)> = event
        .participants
        .iter()
        .map(|p| (p.actor_id.as_str(), p.role))
        .collect();
    assert_eq!(
        roles,
        [
            ("cameo-usagov", Role::Initiator as i32),
            ("cameo-rus", Role::Target as i32)
        ]
    );
    let location = event.location.as_ref().unwrap();
    assert_eq!(location.name, "Moscow, Moscow City, Russia");
    assert_eq!(location.country, "RUS", "FIPS RS is Russia");
    assert_eq!(location.admin1, "Moscow City");
    assert_eq!(
        (location.latitude, location.longitude),
        (Some(55.7522), Some(37.6156))
    );
    assert_eq!(event.sources[0].url, "https://news.example.org/world/1");
    assert_eq!(event.sources[0].name, "news.example.org");
    let attr = |k: &str| event.attributes.get(k).map(String::as_str);
    assert_eq!(attr("cameo_event_code"), Some("112"));
    assert_eq!(attr("cameo_root"), Some("11"));
    assert_eq!(attr("quad_class"), Some("3"));
    assert_eq!(attr("goldstein_scale"), Some("-2.0"));
    assert_eq!(attr("num_mentions"), Some("6"));
    assert_eq!(attr("avg_tone"), Some("-3.25"));
    assert_eq!(attr("action_geo_country_fips"), Some("RS"));
    assert_eq!(attr("action_geo_adm1_code"), Some("RS48"));
    assert_eq!(event.summary, "UNITED STATES criticizes RUSSIA (CAMEO 112)");
}

#[test]
fn actors_carry_code_alias_kind_country_and_part_of() {
    let (rows, _, _) = read_all(SAMPLE);
    let all: Vec<proto::Actor> = rows
        .iter()
        .flat_map(|r| actors(r).into_iter().cloned())
        .collect();
    let get = |id: &str| {
        all.iter()
            .find(|a| a.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let usagov = get("cameo-usagov");
    assert_eq!(usagov.name, "UNITED STATES");
    assert_eq!(usagov.aliases, ["USAGOV"]);
    assert_eq!(usagov.kind, ActorKind::GovernmentBody as i32);
    assert_eq!(usagov.country, "USA");
    assert_eq!(usagov.affiliations[0].actor_id, "cameo-usa");
    assert_eq!(usagov.affiliations[0].relation, "part_of");
    // The country stub, named by its code until a row names it.
    let usa = get("cameo-usa");
    assert_eq!(
        (usa.name.as_str(), usa.kind),
        ("USA", ActorKind::State as i32)
    );
    assert!(usa.affiliations.is_empty());
    assert_eq!(get("cameo-rus").kind, ActorKind::State as i32);
    assert_eq!(get("cameo-syrreb").kind, ActorKind::ArmedGroup as i32);
    assert_eq!(get("cameo-syrmil").kind, ActorKind::Military as i32);
    let un = get("cameo-igouno");
    assert_eq!(
        (un.kind, un.country.as_str()),
        (ActorKind::Organization as i32, "")
    );
    assert!(un.affiliations.is_empty());
    // A CAMEO region is neither a country nor a state.
    let europe = get("cameo-eur");
    assert_eq!(
        (europe.kind, europe.country.as_str()),
        (ActorKind::Organization as i32, "")
    );
    assert!(all.iter().all(|a| a.id != "cameo-syr" || a.name == "SYR"));
}

#[test]
fn each_actor_is_emitted_once_and_later_names_become_a_revision() {
    let (rows, _, reader) = read_all(SAMPLE);
    let mut ids: Vec<String> = rows
        .iter()
        .flat_map(|r| actors(r).into_iter().map(|a| a.id.clone()))
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "an actor was emitted twice");
    let grown = reader.into_book().grown_actors();
    let names: Vec<(&str, &[String])> = grown
        .iter()
        .map(|a| (a.id.as_str(), a.aliases.as_slice()))
        .collect();
    assert_eq!(
        names,
        [
            ("cameo-usa", &["UNITED STATES".to_string()][..]),
            (
                "cameo-usagov",
                &["USAGOV".to_string(), "WHITE HOUSE".to_string()][..]
            ),
        ]
    );
}

#[test]
fn actors_the_log_holds_are_referred_to_but_not_emitted() {
    let mut book = ActorBook::new();
    book.mark_known("cameo-usa");
    book.mark_known("cameo-usagov");
    let reader = GdeltReader::with_book(Cursor::new(SAMPLE.as_bytes()), book);
    let first = reader.into_iter().next().unwrap().unwrap();
    let ids: Vec<&str> = actors(&first).iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["cameo-rus"]);
}

#[test]
fn refined_codes_single_actors_and_missing_places() {
    let (rows, _, _) = read_all(SAMPLE);
    let event = |i: usize| events(&rows[i])[0].clone();
    assert_eq!(event(1).relation, "attacks");
    assert_eq!(event(1).location.as_ref().unwrap().admin1, "Halab");
    // Only Actor2: it alone, as the target; no place, no source.
    let un = event(2);
    assert_eq!(un.relation, "requests");
    assert_eq!(un.participants.len(), 1);
    assert_eq!(un.participants[0].role, Role::Target as i32);
    assert!(un.location.is_none());
    assert!(un.sources.is_empty());
    assert_eq!(event(3).relation, "arms", "072 is military aid");
    assert_eq!(event(3).location.as_ref().unwrap().admin1, "Texas");
    let funds = event(4);
    assert_eq!(funds.relation, "funds", "071 is economic aid");
    let place = funds.location.as_ref().unwrap();
    assert_eq!(
        place.country, "",
        "an unknown FIPS code leaves the country empty"
    );
    assert_eq!(funds.attributes["action_geo_country_fips"], "XX");
}

#[test]
fn malformed_fields_are_row_errors_naming_the_column() {
    let cases: &[(usize, &str, &str)] = &[
        (0, "", "GLOBALEVENTID"),
        (0, "12a", "GLOBALEVENTID"),
        (1, "2019102", "SQLDATE"),
        (1, "20191324", "SQLDATE"),
        (1, "20190230", "SQLDATE"),
        (5, "usa gov", "Actor1Code"),
        (15, "RUS-1", "Actor2Code"),
        (26, "", "EventCode"),
        (26, "999", "EventCode"),
        (26, "21", "EventCode"),
        (28, "12", "EventRootCode"),
        (29, "5", "QuadClass"),
        (29, "", "QuadClass"),
        (30, "-11", "GoldsteinScale"),
        (30, "high", "GoldsteinScale"),
        (31, "-1", "NumMentions"),
        (34, "NaN?", "AvgTone"),
        (56, "95.0", "ActionGeo_Lat"),
        (57, "east", "ActionGeo_Long"),
        (57, "", "ActionGeo_Lat"),
    ];
    for (column, value, name) in cases {
        let problem = broken(*column, value);
        let message = problem.to_string();
        assert!(message.starts_with(name), "{column}={value:?}: {message}");
    }
}

#[test]
fn wrong_field_counts_and_bad_bytes_are_errors_and_the_reader_goes_on() {
    let mut input = b"a\tb\tc\n".to_vec();
    input.extend_from_slice(b"\xff\xfe\t\n");
    input.extend_from_slice(b"\n  \n");
    input.extend_from_slice(SAMPLE.lines().next().unwrap().as_bytes());
    input.extend_from_slice(b"\r\n");
    let mut reader = GdeltReader::new(Cursor::new(input));
    let items: Vec<_> = reader.by_ref().collect();
    assert_eq!(items.len(), 3);
    match &items[0] {
        Err(ImportError::Row(e)) => {
            assert_eq!(e.line, 1);
            assert_eq!(
                e.reason,
                RowProblem::FieldCount {
                    found: 3,
                    expected: COLUMNS
                }
            );
            assert!(e
                .to_string()
                .starts_with("line 1: has 3 fields; expected 61"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&items[1], Err(ImportError::Row(e)) if e.line == 2 && e.reason == RowProblem::NotUtf8)
    );
    assert!(
        items[2].is_ok(),
        "a CRLF line after blank lines still reads"
    );
    assert_eq!(reader.stats().errors, 2);
    assert_eq!(reader.stats().rows, 3);
}

#[test]
fn a_read_failure_is_reported_once_and_ends_the_import() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk gone"))
        }
    }
    let mut reader = GdeltReader::new(std::io::BufReader::new(Failing));
    assert!(matches!(reader.next(), Some(Err(ImportError::Io(_)))));
    assert!(reader.next().is_none());
}

#[test]
fn a_nameless_actor_is_named_by_its_code_and_an_overlong_url_keeps_its_host() {
    let mut fields = sample_line(0);
    fields[6] = String::new();
    fields[60] = format!("https://long.example.net/{}", "x".repeat(3000));
    let (rows, errors, _) = read_all(&fields.join("\t"));
    assert!(errors.is_empty(), "{errors:?}");
    let usagov = actors(&rows[0])
        .into_iter()
        .find(|a| a.id == "cameo-usagov")
        .unwrap();
    assert_eq!(usagov.name, "USAGOV");
    assert!(
        usagov.aliases.is_empty(),
        "the code is the name, not also an alias"
    );
    let event = events(&rows[0])[0];
    assert_eq!(event.sources[0].name, "long.example.net");
    assert_eq!(event.sources[0].url, "");
    assert_appendable(&rows[0], &mut HashSet::new());
}

#[test]
fn the_same_actor_on_both_sides_is_emitted_once() {
    let mut fields = sample_line(0);
    fields[15] = "USAGOV".into();
    fields[16] = "CONGRESS".into();
    let (rows, _, _) = read_all(&fields.join("\t"));
    let ids: Vec<&str> = actors(&rows[0]).iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["cameo-usa", "cameo-usagov"]);
    assert_eq!(events(&rows[0])[0].participants.len(), 2);
}

#[test]
fn lowercase_ethnic_codes_are_actors_too() {
    // CAMEO writes ethnic and religious codes in lowercase ("kur" Kurds) and mixes them in.
    let mut fields = sample_line(0);
    fields[15] = "catSEP".into();
    fields[16] = "CATALAN".into();
    fields[17] = String::new();
    let (rows, errors, _) = read_all(&fields.join("\t"));
    assert!(errors.is_empty(), "{errors:?}");
    let actor = actors(&rows[0])
        .into_iter()
        .find(|a| a.id == "cameo-catsep")
        .unwrap();
    assert_eq!(actor.aliases, ["catSEP"]);
}
