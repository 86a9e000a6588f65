//! The GDELT importer on a hand-written fixture (`tests/fixtures/gdelt/sample.export.CSV`, six
//! rows in the 61-column format) and on single rows broken one field at a time.

use std::collections::HashSet;
use std::io::Cursor;

use super::gdelt::{GdeltReader, COLUMNS};
use super::test_support::{actors, assert_appendable, events};
use super::{ActorBook, ImportError, RowProblem, SkipReason, MAX_LINE_BYTES};
use crate::domain::limits::MAX_MEDIUM_TEXT;
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
        (57, "", "ActionGeo_Long"),
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

/// The first fixture row with some fields replaced, as one line.
fn row_with(changes: &[(usize, &str)]) -> String {
    let mut fields = sample_line(0);
    for (column, value) in changes {
        fields[*column] = (*value).to_string();
    }
    fields.join("\t")
}

/// The entries of one row that must be accepted, checked as `Append` would check them.
fn accepted(line: &str) -> Vec<proto::Entry> {
    let (mut rows, errors, _) = read_all(line);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(rows.len(), 1, "the row was skipped");
    let entries = rows.remove(0);
    assert_appendable(&entries, &mut HashSet::new());
    entries
}

/// The event of one row that must be accepted.
fn accepted_event(line: &str) -> proto::Event {
    events(&accepted(line))[0].clone()
}

/// A good row, then the first fixture row with some fields replaced: the second must be refused
/// on line 2, and the first still read.
fn refused_on_line_2(changes: &[(usize, &str)]) -> RowProblem {
    let input = format!(
        "{}\n{}\n",
        SAMPLE.lines().next().unwrap(),
        row_with(changes)
    );
    let (rows, mut errors, reader) = read_all(&input);
    assert_eq!(
        rows.len(),
        1,
        "{changes:?}: the good row was not read alone"
    );
    assert_eq!(errors.len(), 1, "{changes:?} was accepted");
    assert_eq!(reader.stats().errors, 1);
    match errors.pop() {
        Some(ImportError::Row(e)) => {
            assert_eq!(e.line, 2, "{changes:?}");
            e.reason
        }
        other => panic!("expected a row error, got {other:?}"),
    }
}

#[test]
fn an_empty_sqldate_is_refused_with_its_line() {
    assert_eq!(
        refused_on_line_2(&[(1, "")]),
        RowProblem::Missing { field: "SQLDATE" }
    );
}

#[test]
fn a_globaleventid_of_more_than_40_digits_is_refused_and_one_of_40_is_kept() {
    let long = "1".repeat(41);
    let problem = refused_on_line_2(&[(0, long.as_str())]);
    assert!(
        matches!(&problem, RowProblem::Invalid { field: "GLOBALEVENTID", value, .. } if *value == long),
        "{problem:?}"
    );
    let forty = "9".repeat(40);
    assert_eq!(
        accepted_event(&row_with(&[(0, forty.as_str())])).id,
        format!("gdelt:{forty}")
    );
}

#[test]
fn an_actor_code_longer_than_100_characters_is_refused() {
    let problem = refused_on_line_2(&[(15, "A".repeat(101).as_str())]);
    assert!(
        matches!(
            problem,
            RowProblem::Invalid {
                field: "Actor2Code",
                ..
            }
        ),
        "{problem:?}"
    );
    let entries = accepted(&row_with(&[(15, "A".repeat(100).as_str())]));
    let ids: Vec<&str> = actors(&entries).iter().map(|a| a.id.as_str()).collect();
    assert!(
        ids.contains(&format!("cameo-{}", "a".repeat(100)).as_str()),
        "{ids:?}"
    );
}

#[test]
fn empty_measures_are_refused_as_missing() {
    for (column, field) in [
        (29, "QuadClass"),
        (30, "GoldsteinScale"),
        (31, "NumMentions"),
        (34, "AvgTone"),
    ] {
        assert_eq!(
            refused_on_line_2(&[(column, " ")]),
            RowProblem::Missing { field },
            "column {column}"
        );
    }
}

#[test]
fn measures_outside_their_range_are_refused_saying_the_range() {
    let cases: &[(usize, &str, &str, &str)] = &[
        (29, "0", "QuadClass", "expected 1 to 4"),
        (29, "2.5", "QuadClass", "expected 1 to 4"),
        (30, "10.01", "GoldsteinScale", "from -10 to 10"),
        (30, "NaN", "GoldsteinScale", "from -10 to 10"),
        (31, "1.5", "NumMentions", "a whole number"),
        (34, "-100.5", "AvgTone", "from -100 to 100"),
        (34, "inf", "AvgTone", "from -100 to 100"),
    ];
    for (column, given, name, range) in cases {
        match refused_on_line_2(&[(*column, *given)]) {
            RowProblem::Invalid {
                field,
                value,
                expected,
            } => {
                assert_eq!((field, value.as_str()), (*name, *given));
                assert!(expected.contains(range), "{name}={given:?}: {expected}");
            }
            other => panic!("{name}={given:?}: {other:?}"),
        }
    }
}

#[test]
fn measures_at_the_ends_of_their_range_are_kept_as_written() {
    for (quad, goldstein, mentions, tone) in [("1", "-10", "0", "-100"), ("4", "10.0", "7", "100")]
    {
        let event = accepted_event(&row_with(&[
            (29, quad),
            (30, goldstein),
            (31, mentions),
            (34, tone),
        ]));
        let attr = |k: &str| event.attributes.get(k).map(String::as_str);
        assert_eq!(attr("quad_class"), Some(quad));
        assert_eq!(attr("goldstein_scale"), Some(goldstein));
        assert_eq!(attr("num_mentions"), Some(mentions));
        assert_eq!(attr("avg_tone"), Some(tone));
    }
}

#[test]
fn a_number_too_long_for_an_attribute_is_refused() {
    // It parses as 1.0, but kept as written it would exceed the attribute limit and make
    // `Append` refuse the event.
    let long = format!("1.{}", "0".repeat(MAX_MEDIUM_TEXT));
    let problem = refused_on_line_2(&[(30, long.as_str())]);
    assert!(
        matches!(&problem, RowProblem::Invalid { field: "GoldsteinScale", value, .. } if value.len() == 80),
        "{problem:?}"
    );
}

#[test]
fn every_cameo_root_code_becomes_its_relation_and_keeps_the_raw_code() {
    let relations = [
        "announces",
        "requests",
        "pledges_support_to",
        "meets_with",
        "cooperates_with",
        "coordinates_with",
        "backs",
        "yields_to",
        "investigates",
        "demands",
        "criticizes",
        "rejects",
        "threatens",
        "protests",
        "mobilizes",
        "reduces_relations_with",
        "coerces",
        "assaults",
        "attacks",
        "uses_mass_violence_against",
    ];
    for (i, relation) in relations.iter().enumerate() {
        let root = format!("{:02}", i + 1);
        let code = format!("{root}0");
        let event = accepted_event(&row_with(&[
            (26, code.as_str()),
            (27, code.as_str()),
            (28, root.as_str()),
        ]));
        assert_eq!(event.relation, *relation, "CAMEO {code}");
        assert_eq!(event.attributes["cameo_event_code"], code);
        assert_eq!(event.attributes["cameo_root"], root);
    }
}

#[test]
fn refined_base_codes_and_their_four_digit_children_get_the_precise_relation() {
    for (code, relation) in [
        ("045", "negotiates_with"),
        ("0461", "negotiates_with"),
        ("051", "praises"),
        ("0741", "protects"),
        ("075", "protects"),
        ("073", "backs"),
        ("1951", "attacks"),
    ] {
        let event = accepted_event(&row_with(&[(26, code), (27, code), (28, &code[..2])]));
        assert_eq!(event.relation, relation, "CAMEO {code}");
        assert_eq!(event.attributes["cameo_event_code"], code);
    }
}

#[test]
fn an_empty_event_root_code_is_taken_from_the_event_code() {
    let event = accepted_event(&row_with(&[(28, "")]));
    assert_eq!(event.attributes["cameo_root"], "11");
}

#[test]
fn is_root_event_and_date_added_are_kept_and_empty_ones_left_out() {
    let event = accepted_event(&row_with(&[]));
    assert_eq!(event.attributes["is_root_event"], "1");
    assert_eq!(event.attributes["date_added"], "20191024143000");
    let bare = accepted_event(&row_with(&[(25, ""), (53, ""), (54, ""), (59, "")]));
    for key in [
        "is_root_event",
        "action_geo_country_fips",
        "action_geo_adm1_code",
        "date_added",
    ] {
        assert!(!bare.attributes.contains_key(key), "{key}");
    }
    assert_eq!(bare.location.as_ref().map(|l| l.country.as_str()), Some(""));
}

#[test]
fn admin1_comes_from_the_full_name_as_the_geo_type_lays_it_out() {
    let cases = [
        ("1", "Russia", ""),
        ("2", "Texas, United States", "Texas"),
        ("3", "Austin, Texas, United States", "Texas"),
        ("4", "Moscow, Moscow City, Russia", "Moscow City"),
        ("5", "Moscow City, Russia", "Moscow City"),
        // A name that does not have the type's layout gives no first-level division.
        ("4", "Moscow, Russia", ""),
        ("2", "Austin, Texas, United States", ""),
    ];
    for (geo_type, name, admin1) in cases {
        let event = accepted_event(&row_with(&[(51, geo_type), (52, name)]));
        let Some(place) = &event.location else {
            panic!("type {geo_type}: no location")
        };
        assert_eq!(place.name, name);
        assert_eq!(place.admin1, admin1, "type {geo_type}: {name}");
        assert_eq!(place.country, "RUS");
    }
}

#[test]
fn fips_country_codes_become_iso3_countries() {
    for (fips, iso3) in [("GM", "DEU"), ("UP", "UKR"), ("GZ", "PSE"), ("US", "USA")] {
        let event = accepted_event(&row_with(&[(53, fips)]));
        let country = event.location.as_ref().map(|l| l.country.as_str());
        assert_eq!(country, Some(iso3), "FIPS {fips}");
        assert_eq!(event.attributes["action_geo_country_fips"], fips);
    }
}

#[test]
fn an_event_gdelt_did_not_locate_has_no_location() {
    for geo_type in ["", "0"] {
        let event = accepted_event(&row_with(&[(51, geo_type)]));
        assert_eq!(event.location, None, "ActionGeo_Type {geo_type:?}");
    }
}

#[test]
fn a_located_event_without_coordinates_keeps_its_place() {
    let event = accepted_event(&row_with(&[(56, ""), (57, "")]));
    let Some(place) = &event.location else {
        panic!("a located event lost its place")
    };
    assert_eq!((place.latitude, place.longitude), (None, None));
    assert_eq!(
        (place.name.as_str(), place.country.as_str()),
        ("Moscow, Moscow City, Russia", "RUS")
    );
}

#[test]
fn coordinates_off_the_globe_or_alone_are_refused() {
    let cases: &[(usize, &str, &str)] = &[
        (56, "-90.5", "ActionGeo_Lat"),
        (56, "NaN", "ActionGeo_Lat"),
        (57, "180.5", "ActionGeo_Long"),
        (57, "-inf", "ActionGeo_Long"),
        (56, "", "ActionGeo_Lat"),
    ];
    for (column, value, name) in cases {
        let problem = refused_on_line_2(&[(*column, *value)]);
        assert!(
            matches!(problem, RowProblem::Invalid { field, .. } if field == *name),
            "{column}={value:?}: {problem:?}"
        );
    }
}

#[test]
fn a_one_actor_event_is_summarised_with_that_actor_alone() {
    let (rows, _, _) = read_all(SAMPLE);
    assert_eq!(
        events(&rows[2])[0].summary,
        "UNITED NATIONS: requests (CAMEO 0231)"
    );
    let initiator_only = accepted_event(&row_with(&[(15, ""), (16, ""), (17, "")]));
    assert_eq!(
        initiator_only.summary,
        "UNITED STATES: criticizes (CAMEO 112)"
    );
    let roles: Vec<(&str, i32)> = initiator_only
        .participants
        .iter()
        .map(|p| (p.actor_id.as_str(), p.role))
        .collect();
    assert_eq!(roles, [("cameo-usagov", Role::Initiator as i32)]);
}

#[test]
fn a_row_without_any_actor_code_is_skipped_and_counted() {
    let (rows, errors, reader) = read_all(&row_with(&[(5, ""), (6, "NAMELESS"), (15, " ")]));
    assert!(rows.is_empty() && errors.is_empty(), "{errors:?}");
    let stats = reader.stats();
    assert_eq!(
        (stats.rows, stats.events, stats.actors, stats.errors),
        (1, 0, 0, 0)
    );
    assert_eq!(stats.skipped.get(&SkipReason::NoActor), Some(&1));
}

#[test]
fn a_source_url_without_a_scheme_is_named_by_its_host() {
    let event = accepted_event(&row_with(&[(60, "www.example.com/path?q=1")]));
    assert_eq!(event.sources[0].name, "www.example.com");
    assert_eq!(event.sources[0].url, "www.example.com/path?q=1");
    let bare = accepted_event(&row_with(&[(60, "http://example.com?x#y")]));
    assert_eq!(bare.sources[0].name, "example.com");
}

#[test]
fn a_source_url_of_control_characters_names_no_source() {
    // Found by fuzzing: it became a source whose name and url were blanks, which `Append`
    // refuses, stopping the import.
    let event = accepted_event(&row_with(&[(60, "\u{1}\u{2}\u{7f}")]));
    assert!(event.sources.is_empty(), "{:?}", event.sources);
}

#[test]
fn a_code_under_a_regional_prefix_is_part_of_no_country() {
    let entries = accepted(&row_with(&[
        (5, "EURGOV"),
        (6, "EUROPEAN UNION"),
        (7, "EUR"),
    ]));
    let ids: Vec<&str> = actors(&entries).iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        ["cameo-eurgov", "cameo-rus"],
        "no actor for the region"
    );
    let eu = actors(&entries)[0];
    assert_eq!(eu.country, "");
    assert!(eu.affiliations.is_empty());
    assert_eq!(eu.kind, ActorKind::GovernmentBody as i32);
}

#[test]
fn control_characters_in_a_name_become_spaces() {
    let entries = accepted(&row_with(&[(6, "UNITED\u{7}STATES\r")]));
    let names: Vec<(&str, &str)> = actors(&entries)
        .iter()
        .map(|a| (a.id.as_str(), a.name.as_str()))
        .collect();
    assert!(
        names.contains(&("cameo-usagov", "UNITED STATES")),
        "{names:?}"
    );
}

#[test]
fn a_line_longer_than_any_entry_is_refused_and_the_next_line_still_reads() {
    let mut input = "x".repeat(MAX_LINE_BYTES + 10);
    input.push('\n');
    input.push_str(SAMPLE.lines().next().unwrap());
    let mut reader = GdeltReader::new(Cursor::new(input.into_bytes()));
    match reader.next() {
        Some(Err(ImportError::Row(e))) => {
            assert_eq!(e.line, 1);
            assert_eq!(
                e.reason,
                RowProblem::TooLong {
                    max: MAX_LINE_BYTES
                }
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(reader.next(), Some(Ok(_))), "line 2 still reads");
    assert_eq!(reader.line(), 2);
    assert!(reader.next().is_none());
    assert_eq!((reader.stats().rows, reader.stats().errors), (2, 1));
}

#[test]
fn a_byte_order_mark_before_the_first_row_is_ignored() {
    let (plain, plain_errors, _) = read_all(SAMPLE);
    let (marked, marked_errors, _) = read_all(&format!("\u{feff}{SAMPLE}"));
    assert!(
        plain_errors.is_empty() && marked_errors.is_empty(),
        "{marked_errors:?}"
    );
    assert_eq!(marked, plain);
}
