//! The ACLED importer on a hand-written fixture (`tests/fixtures/acled/sample.csv`: invented
//! rows in the current column set, no ACLED data) and on rows broken one field at a time.

use std::collections::HashSet;

use super::acled::AcledReader;
use super::acled_types;
use super::test_support::{actors, assert_appendable, events};
use super::{ActorBook, ImportError, RowProblem, SkipReason};
use crate::domain::limits::{MAX_PARTICIPANTS, MAX_SOURCES};
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
        ("longitude", "", "longitude"),
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

/// The sample's header and data rows, as fields.
fn sample_records() -> (Vec<String>, Vec<Vec<String>>) {
    let mut records = csv::Reader::from_reader(SAMPLE.as_bytes());
    let header = records
        .headers()
        .unwrap()
        .iter()
        .map(String::from)
        .collect();
    let rows = records
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// A header and rows written as CSV (quoted where needed, LF line ends).
fn to_csv(header: &[String], rows: &[Vec<String>]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer.write_record(header).unwrap();
    for row in rows {
        writer.write_record(row).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

/// Sample row `n` (0-based, after the header) with some columns replaced.
fn sample_row_with(n: usize, changes: &[(&str, &str)]) -> Vec<String> {
    let (header, mut rows) = sample_records();
    let mut row = rows.remove(n);
    for (column, value) in changes {
        let index = header.iter().position(|h| h == column).unwrap();
        row[index] = (*value).to_string();
    }
    row
}

/// The header and the given rows as CSV.
fn csv_of(rows: &[Vec<String>]) -> String {
    to_csv(&sample_records().0, rows)
}

/// The entries of the first sample row with some columns replaced, which must be accepted and
/// appendable.
fn accepted(changes: &[(&str, &str)]) -> Vec<proto::Entry> {
    let (mut rows, errors, _) = read_all(&csv_of(&[sample_row_with(0, changes)]));
    assert!(errors.is_empty(), "{changes:?}: {errors:?}");
    assert_eq!(rows.len(), 1, "{changes:?}: the row was skipped");
    let entries = rows.remove(0);
    assert_appendable(&entries, &mut HashSet::new());
    entries
}

/// The event of the first sample row with some columns replaced.
fn accepted_event(changes: &[(&str, &str)]) -> proto::Event {
    events(&accepted(changes))[0].clone()
}

/// Each participant's actor id and role.
fn roles(event: &proto::Event) -> Vec<(&str, i32)> {
    event
        .participants
        .iter()
        .map(|p| (p.actor_id.as_str(), p.role))
        .collect()
}

/// A reader that fails every read.
struct Failing;

impl std::io::Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk gone"))
    }
}

#[test]
fn columns_are_found_by_name_in_any_order() {
    let (header, rows) = sample_records();
    let reversed = |fields: &Vec<String>| fields.iter().rev().cloned().collect::<Vec<_>>();
    let shuffled = to_csv(
        &reversed(&header),
        &rows.iter().map(reversed).collect::<Vec<_>>(),
    );
    let (expected, _, _) = read_all(SAMPLE);
    let (got, errors, _) = read_all(&shuffled);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(got, expected);
}

#[test]
fn a_byte_order_mark_before_the_header_is_ignored() {
    let (expected, _, _) = read_all(SAMPLE);
    let (got, errors, _) = read_all(&format!("\u{feff}{SAMPLE}"));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(got, expected);
}

#[test]
fn crlf_line_endings_read_like_lf_even_inside_quoted_notes() {
    let (expected, _, _) = read_all(SAMPLE);
    let input = SAMPLE.replace('\n', "\r\n");
    let (got, errors, _) = read_all(&input);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(got, expected);
    assert_eq!(
        events(&got[1])[0].summary,
        "Invented for tests.\nA second line of notes."
    );
}

#[test]
fn a_row_after_a_quoted_line_break_is_reported_on_the_line_it_starts() {
    // The header is line 1, the second sample row lines 2 and 3 (its notes hold a line break).
    let input = csv_of(&[
        sample_row_with(1, &[]),
        sample_row_with(0, &[("fatalities", "many")]),
    ]);
    let (rows, errors, reader) = read_all(&input);
    assert_eq!(rows.len(), 1);
    match errors.as_slice() {
        [ImportError::Row(e)] => {
            assert_eq!(e.line, 4);
            assert!(
                e.to_string().starts_with("line 4: fatalities is \"many\""),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(reader.line(), 4);
}

#[test]
fn an_unclosed_quote_takes_the_rest_of_the_file_into_one_refused_row() {
    // Header on line 1, a good row on line 2, the unclosed quote in notes on line 3; the row on
    // line 4 (which has no quote to close it) becomes part of that note.
    let (_, rows) = sample_records();
    let mut input = csv_of(&rows[..1]);
    input.push_str(
        "SYR90007,2022-09-24,2022,1,,Battles,Armed clash,A,,1,B,,1,11,,760,,Syria,Aleppo,,,\
         Aleppo,36.2,37.1,,Example News,,\"never closed,0,,1\n",
    );
    input.push_str(SAMPLE.lines().nth(5).unwrap());
    input.push('\n');
    let (read, errors, reader) = read_all(&input);
    assert_eq!(read.len(), 1, "only the row before the quote");
    match errors.as_slice() {
        [ImportError::Row(e)] => {
            assert_eq!(e.line, 3);
            assert_eq!(
                e.reason,
                RowProblem::FieldCount {
                    found: 28,
                    expected: 31
                }
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(reader.stats().rows, 2);
}

#[test]
fn a_row_of_empty_fields_is_not_a_row() {
    let blank = vec![" ".to_string(); 31];
    let input = csv_of(&[blank, sample_row_with(0, &[])]);
    let (rows, errors, reader) = read_all(&input);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(rows.len(), 1);
    assert_eq!(reader.stats().rows, 1);
    assert_eq!(reader.stats().skipped_total(), 0);
}

#[test]
fn trailing_empty_columns_on_every_line_do_not_refuse_the_rows() {
    // Spreadsheets pad lines with commas; the header then has two columns named "".
    let (mut header, rows) = sample_records();
    header.extend([String::new(), String::new()]);
    let padded: Vec<Vec<String>> = rows
        .into_iter()
        .map(|mut r| {
            r.extend([String::new(), String::new()]);
            r
        })
        .collect();
    let (got, errors, _) = read_all(&to_csv(&header, &padded));
    assert!(errors.is_empty(), "{errors:?}");
    let (expected, _, _) = read_all(SAMPLE);
    assert_eq!(got, expected);
}

#[test]
fn actor2_alone_is_the_target_with_its_supporters() {
    let event = accepted_event(&[("actor1", ""), ("inter1", "")]);
    let (t, s) = (Role::Target as i32, Role::Supporter as i32);
    assert_eq!(
        roles(&event),
        [
            ("acled-actor-example-brigade", t),
            ("acled-actor-example-tribal-militia", s),
            ("acled-actor-local-defence-group", s),
        ]
    );
}

#[test]
fn associated_actors_without_actor1_or_actor2_make_no_event() {
    let row = sample_row_with(
        0,
        &[
            ("actor1", ""),
            ("actor2", ""),
            ("assoc_actor_1", "Example Supporters"),
        ],
    );
    let input = csv_of(&[row]);
    let (rows, errors, reader) = read_all(&input);
    assert!(rows.is_empty() && errors.is_empty(), "{errors:?}");
    assert_eq!(
        reader.stats().skipped.get(&SkipReason::NoAcledActor),
        Some(&1)
    );
    assert_eq!(reader.stats().actors, 0);
}

#[test]
fn supporters_of_actor1_are_read_from_a_list_split_on_semicolons() {
    let entries = accepted(&[(
        "assoc_actor_1",
        "Police Forces of Syria (2000-);Example Guard ;; ",
    )]);
    let event = events(&entries)[0];
    let (i, t, s) = (
        Role::Initiator as i32,
        Role::Target as i32,
        Role::Supporter as i32,
    );
    let got = roles(event);
    assert_eq!(got.len(), 6, "{got:?}");
    assert!(got.contains(&("acled-actor-military-forces-of-syria-2000", i)));
    assert!(got.contains(&("acled-actor-example-brigade", t)));
    assert!(got.contains(&("acled-actor-police-forces-of-syria-2000", s)));
    assert!(got.contains(&("acled-actor-example-guard", s)));
    let guard = actors(&entries)
        .into_iter()
        .find(|a| a.id == "acled-actor-example-guard");
    assert_eq!(
        guard.map(|a| (a.name.as_str(), a.kind)),
        Some(("Example Guard", ActorKind::Military as i32)),
        "actor1's supporters take inter1's kind"
    );
}

#[test]
fn a_supporter_named_twice_on_a_side_is_one_participant() {
    let event = accepted_event(&[(
        "assoc_actor_2",
        "Example Tribal Militia; Example Tribal Militia; EXAMPLE TRIBAL MILITIA",
    )]);
    assert_eq!(event.participants.len(), 3, "{:?}", roles(&event));
}

#[test]
fn the_same_actor_on_both_sides_is_emitted_once_and_takes_both_roles() {
    let entries = accepted(&[
        ("actor2", "Military Forces of Syria (2000-)"),
        ("inter2", "1"),
        ("assoc_actor_2", ""),
    ]);
    let ids: Vec<&str> = actors(&entries).iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["acled-actor-military-forces-of-syria-2000"]);
    let id = ids[0];
    assert_eq!(
        roles(events(&entries)[0]),
        [(id, Role::Initiator as i32), (id, Role::Target as i32)]
    );
}

#[test]
fn the_target_is_kept_when_supporters_exceed_the_participant_limit() {
    let many: Vec<String> = (1..=40).map(|i| format!("Example Unit {i}")).collect();
    let event = accepted_event(&[("assoc_actor_1", many.join("; ").as_str())]);
    assert_eq!(event.participants.len(), MAX_PARTICIPANTS);
    let got = roles(&event);
    assert!(
        got.contains(&(
            "acled-actor-military-forces-of-syria-2000",
            Role::Initiator as i32
        )),
        "{got:?}"
    );
    assert!(
        got.contains(&("acled-actor-example-brigade", Role::Target as i32)),
        "{got:?}"
    );
}

#[test]
fn sources_beyond_the_limit_are_cut_and_empty_ones_dropped() {
    let many: Vec<String> = (1..=40).map(|i| format!("Example Paper {i}")).collect();
    let event = accepted_event(&[("source", format!(" ; {}", many.join(";")).as_str())]);
    assert_eq!(event.sources.len(), MAX_SOURCES);
    assert_eq!(event.sources[0].name, "Example Paper 1");
    assert!(event.sources.iter().all(|s| s.url.is_empty()));
}

#[test]
fn a_row_without_any_place_has_no_location() {
    let event = accepted_event(&[
        ("iso", ""),
        ("admin1", ""),
        ("location", ""),
        ("latitude", ""),
        ("longitude", ""),
    ]);
    assert_eq!(event.location, None);
    assert_eq!(
        event.attributes.get("country").map(String::as_str),
        Some("Syria")
    );
}

#[test]
fn an_empty_iso_code_leaves_the_country_empty() {
    let event = accepted_event(&[("iso", "")]);
    let place = event
        .location
        .as_ref()
        .map(|l| (l.name.as_str(), l.country.as_str()));
    assert_eq!(place, Some(("Aleppo", "")));
    assert!(!event.attributes.contains_key("iso"));
}

#[test]
fn iso_numeric_codes_become_iso3_countries() {
    for (numeric, iso3) in [("804", "UKR"), ("4", "AFG"), ("0", ""), (" 566 ", "NGA")] {
        let event = accepted_event(&[("iso", numeric)]);
        let country = event.location.as_ref().map(|l| l.country.as_str());
        assert_eq!(country, Some(iso3), "iso {numeric:?}");
    }
}

#[test]
fn coordinates_off_the_globe_or_alone_are_refused() {
    let cases: &[(&str, &str, &str)] = &[
        ("latitude", "-90.01", "latitude"),
        ("latitude", "NaN", "latitude"),
        ("longitude", "180.5", "longitude"),
        ("longitude", "east", "longitude"),
        ("latitude", "", "latitude"),
    ];
    for (column, value, named) in cases {
        let problem = broken(column, value);
        assert!(
            matches!(problem, RowProblem::Invalid { field, .. } if field == *named),
            "{column}={value:?}: {problem:?}"
        );
    }
}

#[test]
fn an_empty_event_type_is_refused_naming_the_types_it_knows() {
    match broken("event_type", "") {
        RowProblem::Invalid {
            field, expected, ..
        } => {
            assert_eq!(field, "event_type");
            assert!(expected.contains("Strategic developments"), "{expected}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn event_types_are_matched_whatever_their_case_and_spacing() {
    let event = accepted_event(&[
        ("event_type", " BATTLES "),
        ("sub_event_type", "non-state ACTOR overtakes territory"),
    ]);
    assert_eq!(event.relation, "attacks");
    assert_eq!(event.attributes["event_type"], "BATTLES");
}

#[test]
fn an_unknown_sub_event_type_falls_back_to_its_event_types_relation() {
    for (event_type, relation) in [
        ("Battles", "clashes_with"),
        ("Explosions/Remote violence", "attacks"),
        ("Violence against civilians", "assaults"),
        ("Riots", "protests"),
        ("Strategic developments", "announces"),
    ] {
        let event = accepted_event(&[
            ("event_type", event_type),
            ("sub_event_type", "A sub-event type ACLED adds later"),
        ]);
        assert_eq!(event.relation, relation, "{event_type}");
    }
}

#[test]
fn every_interaction_code_and_name_gives_a_kind() {
    let (military, armed, organisation) = (
        ActorKind::Military,
        ActorKind::ArmedGroup,
        ActorKind::Organization,
    );
    let cases = [
        ("1", military),
        ("2", armed),
        ("3", armed),
        ("4", armed),
        ("5", organisation),
        ("6", organisation),
        ("7", organisation),
        ("8", military),
        ("State forces", military),
        ("Rebel group", armed),
        ("Rebel groups", armed),
        ("Political militia", armed),
        ("Political militias", armed),
        ("Identity militia", armed),
        ("Identity militias", armed),
        ("Rioters", organisation),
        ("Protesters", organisation),
        ("Civilians", organisation),
        ("External/Other forces", military),
        (" state FORCES ", military),
    ];
    for (inter, kind) in cases {
        assert_eq!(acled_types::actor_kind(inter), Ok(kind), "{inter:?}");
    }
    for bad in ["0", "9", "10", "Soldiers", ""] {
        assert!(acled_types::actor_kind(bad).is_err(), "{bad:?}");
    }
    // Through the reader: the actor takes its side's code.
    let entries = accepted(&[("inter2", "Political militia")]);
    let brigade = actors(&entries)
        .into_iter()
        .find(|a| a.id == "acled-actor-example-brigade")
        .map(|a| a.kind);
    assert_eq!(brigade, Some(ActorKind::ArmedGroup as i32));
}

#[test]
fn dates_written_with_a_month_name_and_dashes_or_any_case_read_too() {
    for written in ["24-September-2022", "24 SEPTEMBER 2022", "4 September 2022"] {
        let event = accepted_event(&[("event_date", written)]);
        let day = if written.starts_with("24") {
            "2022-09-24"
        } else {
            "2022-09-04"
        };
        assert_eq!(event.date, day, "{written}");
    }
    assert_eq!(
        accepted_event(&[("time_precision", " 3 ")]).date,
        "2022-09",
        "precision is trimmed"
    );
}

#[test]
fn a_second_spelling_of_an_actor_becomes_an_alias_revision() {
    let first = sample_row_with(0, &[]);
    let second = sample_row_with(
        0,
        &[("event_id_cnty", "SYR90099"), ("actor2", "EXAMPLE BRIGADE")],
    );
    let input = csv_of(&[first, second]);
    let (rows, errors, reader) = read_all(&input);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        actors(&rows[1]).is_empty(),
        "every actor was emitted by row 1"
    );
    let grown = reader.into_book().grown_actors();
    let names: Vec<(&str, &str, &[String])> = grown
        .iter()
        .map(|a| (a.id.as_str(), a.name.as_str(), a.aliases.as_slice()))
        .collect();
    assert_eq!(
        names,
        [(
            "acled-actor-example-brigade",
            "Example Brigade",
            &["EXAMPLE BRIGADE".to_string()][..]
        )]
    );
}

#[test]
fn an_empty_file_is_refused_for_its_missing_columns() {
    match AcledReader::new("".as_bytes()) {
        Err(ImportError::MissingColumn("event_id_cnty")) => {}
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("an empty file was accepted"),
    }
}

#[test]
fn a_read_failure_before_the_header_is_an_io_error() {
    assert!(matches!(AcledReader::new(Failing), Err(ImportError::Io(_))));
}

#[test]
fn a_read_failure_is_reported_once_and_ends_the_import() {
    let (_, rows) = sample_records();
    let input = csv_of(&rows[..1]);
    let mut reader = AcledReader::new(std::io::Read::chain(input.as_bytes(), Failing)).unwrap();
    let items: Vec<_> = reader.by_ref().collect();
    match items.as_slice() {
        [Ok(entries), Err(ImportError::Io(_))] => assert_eq!(events(entries).len(), 1),
        other => panic!("{other:?}"),
    }
    assert!(reader.next().is_none());
}

#[test]
fn in_a_crlf_file_a_bad_row_is_reported_on_its_own_line() {
    let input = csv_of(&[
        sample_row_with(0, &[]),
        sample_row_with(0, &[("fatalities", "many")]),
    ])
    .replace('\n', "\r\n");
    let (rows, errors, _) = read_all(&input);
    assert_eq!(rows.len(), 1);
    match errors.as_slice() {
        [ImportError::Row(e)] => assert_eq!(e.line, 3, "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_required_column_missing_from_the_header_stops_the_import() {
    let required = [
        "event_id_cnty",
        "event_date",
        "time_precision",
        "event_type",
        "sub_event_type",
        "actor1",
        "assoc_actor_1",
        "inter1",
        "actor2",
        "assoc_actor_2",
        "inter2",
        "iso",
        "admin1",
        "location",
        "latitude",
        "longitude",
        "source",
        "notes",
        "fatalities",
    ];
    let (header, rows) = sample_records();
    for column in required {
        let renamed: Vec<String> = header
            .iter()
            .map(|h| {
                if h == column {
                    format!("old_{h}")
                } else {
                    h.clone()
                }
            })
            .collect();
        let input = to_csv(&renamed, &rows);
        match AcledReader::new(input.as_bytes()) {
            Err(ImportError::MissingColumn(missing)) => assert_eq!(missing, column),
            Err(other) => panic!("{column}: {other}"),
            Ok(_) => panic!("a header without {column} was accepted"),
        }
    }
}

#[test]
fn columns_the_importer_can_do_without_may_be_missing() {
    let (header, rows) = sample_records();
    let dropped = [
        "year",
        "disorder_type",
        "region",
        "tags",
        "timestamp",
        "admin3",
    ];
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !dropped.contains(&header[i].as_str()))
        .collect();
    let pick = |fields: &Vec<String>| keep.iter().map(|&i| fields[i].clone()).collect();
    let rows: Vec<Vec<String>> = rows.iter().map(pick).collect();
    let input = to_csv(&pick(&header), &rows);
    let (read, errors, _) = read_all(&input);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(read.len(), 5);
    let event = events(&read[0])[0];
    assert_eq!(event.id, "acled:SYR90001");
    assert!(!event.attributes.contains_key("year"));
    assert_eq!(event.attributes["admin2"], "Jebel Saman");
}
