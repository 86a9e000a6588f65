//! The log's own interchange format: one `Entry` a line in the proto3 JSON mapping
//! (lowerCamelCase field names, enum values by name, 64-bit integers as strings), which is what
//! `eventlog export` writes and what `json_format` (Python), `toJSON` (protobufjs) and
//! `protojson` (Go) read and write.
//!
//! An exported line carries the server-assigned `position`, `recordedAt` and date spans. The
//! recording time is dropped and the spans are ignored by the server; the position is kept as a
//! hint (the importer uses it to recognise actor revisions already in the log, then clears it),
//! so export then import gives the same entries in the same order. Unknown fields are refused rather than dropped: a misspelt field name would
//! otherwise lose data silently.

use std::io::BufRead;

use super::lines::Lines;
use super::{ActorBook, ImportError, ImportStats, RowError, RowProblem, RowSource};
use crate::proto;

/// One line of the export format for `entry`. Fails only for a value the proto3 JSON mapping
/// cannot name, such as an enum number newer than this build (a newer server): the entry must
/// then be reported, never written as an empty line that a later import would skip.
pub fn entry_line(entry: &proto::Entry) -> Result<String, String> {
    serde_json::to_string(entry).map_err(|e| {
        format!(
            "the entry at position {} has no JSON form: {e}",
            entry.position
        )
    })
}

/// Parses one line into an entry; the recording time is cleared, an exported `position` kept
/// (the importer clears it before appending).
pub fn parse_entry(line: &str) -> Result<proto::Entry, RowProblem> {
    let mut entry: proto::Entry = serde_json::from_str(line).map_err(|e| {
        // serde_json reports "at line 1 column N"; the line is ours to report.
        let text = e.to_string();
        let text = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(head, _)| head);
        RowProblem::Json(text.to_string())
    })?;
    if entry.body.is_none() {
        return Err(RowProblem::Json(
            "has no \"actor\", \"event\" or \"claim\" object".into(),
        ));
    }
    entry.recorded_at = None;
    Ok(entry)
}

/// Reads NDJSON entries line by line; blank lines are skipped.
pub struct NdjsonReader<R> {
    lines: Lines<R>,
    stats: ImportStats,
}

impl<R: BufRead> NdjsonReader<R> {
    /// A reader of `input`.
    pub fn new(input: R) -> NdjsonReader<R> {
        NdjsonReader {
            lines: Lines::new(input),
            stats: ImportStats::default(),
        }
    }
}

impl<R: BufRead> Iterator for NdjsonReader<R> {
    type Item = Result<Vec<proto::Entry>, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = match self.lines.next_row(&mut self.stats)? {
            Ok(bytes) => bytes,
            Err(error) => return Some(Err(error)),
        };
        let parsed = std::str::from_utf8(bytes)
            .map_err(|_| RowProblem::NotUtf8)
            .and_then(parse_entry);
        Some(match parsed {
            Ok(entry) => {
                let entries = vec![entry];
                self.stats.emitted(&entries);
                Ok(entries)
            }
            Err(reason) => {
                self.stats.errors += 1;
                Err(ImportError::Row(RowError {
                    line: self.lines.line(),
                    reason,
                }))
            }
        })
    }
}

impl<R: BufRead> RowSource for NdjsonReader<R> {
    fn line(&self) -> u64 {
        self.lines.line()
    }

    fn stats(&self) -> &ImportStats {
        &self.stats
    }

    fn finish(self: Box<Self>) -> (ImportStats, ActorBook) {
        (self.stats, ActorBook::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::MAX_LINE_BYTES;
    use crate::proto::entry::Body;

    fn read(text: &str) -> Vec<Result<Vec<proto::Entry>, ImportError>> {
        NdjsonReader::new(text.as_bytes()).collect()
    }

    #[test]
    fn exported_coordinates_read_back_to_the_same_bits() {
        // Found by fuzzing: serde_json's default float parser may be one unit in the last place
        // off, so an export imported again moved this longitude.
        let entry = proto::Entry {
            body: Some(Body::Event(proto::Event {
                location: Some(proto::Location {
                    latitude: Some(34.5503),
                    longitude: Some(38.269_099_982_180_116),
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ..Default::default()
        };
        let line = entry_line(&entry).expect("JSON");
        assert_eq!(parse_entry(&line).expect("reads back"), entry, "{line}");
    }

    #[test]
    fn an_exported_line_reads_back_as_the_same_entry_without_server_fields() {
        let entry = proto::Entry {
            position: 42,
            recorded_at: Some(pbjson_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 5,
            }),
            body: Some(Body::Event(proto::Event {
                id: "ev-1".into(),
                relation: "clashes_with".into(),
                participants: vec![proto::Participant {
                    actor_id: "liwa-al-quds".into(),
                    role: proto::Role::Participant as i32,
                }],
                date: "2022-03~".into(),
                certainty: proto::Certainty::Reported as i32,
                attributes: [("fatalities".to_string(), "3".to_string())].into(),
                ..Default::default()
            })),
        };
        let line = entry_line(&entry).expect("JSON");
        assert!(line.contains("\"actorId\":\"liwa-al-quds\""), "{line}");
        assert!(
            line.contains("\"certainty\":\"CERTAINTY_REPORTED\""),
            "{line}"
        );
        assert!(line.contains("\"position\":\"42\""), "{line}");
        let back = parse_entry(&line).expect("parses");
        assert_eq!(back.position, 42, "kept as a hint for the importer");
        assert_eq!(back.recorded_at, None);
        assert_eq!(back.body, entry.body);
    }

    #[test]
    fn snake_case_field_names_are_accepted_too() {
        let line = r#"{"actor": {"id": "russia", "name": "Russia", "kind": "ACTOR_KIND_STATE", "aliases": ["Moscow"]}}"#;
        let entry = parse_entry(line).expect("parses");
        let Some(Body::Actor(actor)) = entry.body else {
            panic!("not an actor")
        };
        assert_eq!(actor.aliases, vec!["Moscow"]);
        assert_eq!(actor.kind, proto::ActorKind::State as i32);
        let event = parse_entry(
            r#"{"event": {"id": "e", "participants": [{"actor_id": "russia", "role": "ROLE_INITIATOR"}]}}"#,
        )
        .expect("parses");
        let Some(Body::Event(event)) = event.body else {
            panic!("not an event")
        };
        assert_eq!(event.participants[0].actor_id, "russia");
    }

    #[test]
    fn malformed_lines_are_reported_with_their_line_number_and_the_reader_goes_on() {
        let text =
            "\n{\"actor\": {\"id\": \"a\", \"name\": \"A\", \"kind\": \"ACTOR_KIND_STATE\"}}\n\
                    {not json\n\
                    {\"actor\": {\"id\": \"b\", \"kind\": \"ACTOR_KIND_KING\"}}\n\
                    {\"actor\": {\"id\": \"c\", \"nmae\": \"C\"}}\n\
                    {}\n\
                    {\"claim\": {\"id\": \"c1\"}}\n";
        let results = read(text);
        let lines: Vec<Result<usize, (u64, String)>> = results
            .into_iter()
            .map(|r| match r {
                Ok(entries) => Ok(entries.len()),
                Err(ImportError::Row(e)) => Err((e.line, e.reason.to_string())),
                Err(other) => panic!("unexpected {other}"),
            })
            .collect();
        assert_eq!(lines[0], Ok(1));
        let errors: Vec<&(u64, String)> = lines.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(errors.len(), 4, "{lines:?}");
        assert_eq!(errors[0].0, 3);
        assert!(
            errors[0].1.starts_with("is not a log entry in JSON"),
            "{}",
            errors[0].1
        );
        assert_eq!(errors[1].0, 4);
        assert!(errors[1].1.contains("ACTOR_KIND_KING"), "{}", errors[1].1);
        assert_eq!(errors[2].0, 5);
        assert!(errors[2].1.contains("nmae"), "{}", errors[2].1);
        assert_eq!(errors[3].0, 6);
        assert!(errors[3].1.contains("no \"actor\""), "{}", errors[3].1);
        assert_eq!(
            lines.last(),
            Some(&Ok(1)),
            "a claim line parses; the server checks it"
        );
    }

    #[test]
    fn a_line_longer_than_any_entry_is_refused_without_reading_it_into_memory() {
        let mut text = "x".repeat(MAX_LINE_BYTES + 10);
        text.push('\n');
        text.push_str(r#"{"actor": {"id": "a", "name": "A", "kind": "ACTOR_KIND_STATE"}}"#);
        let results = read(&text);
        assert!(matches!(
            &results[0],
            Err(ImportError::Row(RowError {
                line: 1,
                reason: RowProblem::TooLong { .. }
            }))
        ));
        assert_eq!(
            results[1].as_ref().map(Vec::len).ok(),
            Some(1),
            "line 2 still reads"
        );
    }

    #[test]
    fn a_read_failure_is_reported_once_and_ends_the_import() {
        struct Failing;
        impl std::io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk gone"))
            }
        }
        let line =
            "{\"actor\": {\"id\": \"a\", \"name\": \"A\", \"kind\": \"ACTOR_KIND_STATE\"}}\n";
        let input = std::io::BufReader::new(std::io::Read::chain(line.as_bytes(), Failing));
        let mut reader = NdjsonReader::new(input);
        assert!(matches!(reader.next(), Some(Ok(entries)) if entries.len() == 1));
        assert!(matches!(reader.next(), Some(Err(ImportError::Io(_)))));
        assert!(reader.next().is_none());
        assert_eq!(reader.line(), 1, "no line was read after the failure");
    }

    #[test]
    fn a_byte_order_mark_before_the_first_line_is_ignored() {
        let text = "\u{feff}{\"actor\": {\"id\": \"a\", \"name\": \"A\", \"kind\": \"ACTOR_KIND_STATE\"}}\n";
        let results = read(text);
        assert_eq!(results.len(), 1);
        assert_eq!(
            results[0].as_ref().map(Vec::len).ok(),
            Some(1),
            "{:?}",
            results[0]
        );
    }

    #[test]
    fn invalid_utf8_is_a_row_error_not_a_panic() {
        let mut bytes = b"{\"actor\": {\"id\": \"\xff\"}}\n".to_vec();
        bytes.extend_from_slice(b"\n");
        let results: Vec<_> = NdjsonReader::new(bytes.as_slice()).collect();
        assert!(matches!(
            &results[0],
            Err(ImportError::Row(RowError {
                line: 1,
                reason: RowProblem::NotUtf8
            }))
        ));
    }
}
