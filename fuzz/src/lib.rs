//! Checks shared by the fuzz targets: what must hold of every entry the server accepts, and of
//! every entry an importer yields. A check that fails panics, which libFuzzer reports as a crash
//! with the input that caused it.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eventlog::domain::{EntryBody, Position, Vocabulary};
use eventlog::fuzzing::entry_body;
use eventlog::import::ndjson;
use eventlog::proto::{self, entry::Body};
use eventlog::service::wire::entry_frame;
use eventlog::store::record::{decode_record, encode_record, set_recorded_at, RecordView};
use prost::Message;

/// The built-in vocabulary, parsed once: parsing it for every input would cost more than most
/// inputs do.
pub fn vocabulary() -> &'static Vocabulary {
    static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
    VOCABULARY.get_or_init(Vocabulary::builtin)
}

/// A recording time with microseconds, so a lossy time encoding would show.
fn recorded_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(1_664_400_000_123_456)
}

/// An accepted entry survives every path back to a client and back in:
///
/// - stored and read back (format 2), it is the same domain value;
/// - the public part of its record, which streams splice into responses undecoded, is a valid
///   `eventlog.v1` message, framed as the entry it is, that `Append` accepts again as the same
///   value;
/// - exported as an NDJSON line and imported again, it is the same value too.
pub fn check_accepted(body: &EntryBody, vocabulary: &Vocabulary) {
    let mut record = encode_record(body).expect("an accepted entry encodes");
    set_recorded_at(&mut record, recorded_at());
    let (at, stored) = decode_record(Position(1), &record).expect("a fresh record decodes");
    assert_eq!(at, recorded_at(), "the recording time survives the record");
    assert_eq!(&stored, body, "the record decodes to the entry encoded");

    let view = RecordView::parse(Position(1), &record).expect("a fresh record verifies");
    let wire = view.wire_body().expect("format 2 has a public part");
    let served = match body {
        EntryBody::Actor(_) => Body::Actor(proto::Actor::decode(wire).expect("public actor")),
        EntryBody::Event(_) => Body::Event(proto::Event::decode(wire).expect("public event")),
        EntryBody::Claim(_) => Body::Claim(proto::Claim::decode(wire).expect("public claim")),
    };
    let served = proto::Entry {
        position: 0,
        recorded_at: None,
        body: Some(served),
    };
    let frame = entry_frame(&view, None).expect("a fresh record frames");
    // A frame is the entry as field 1: a whole `SubscribeResponse` carrying one entry.
    let framed = match proto::SubscribeResponse::decode(frame)
        .expect("a frame is an encoded SubscribeResponse")
        .message
    {
        Some(proto::subscribe_response::Message::Entry(entry)) => entry,
        other => panic!("a frame carries one entry, not {other:?}"),
    };
    assert_eq!(
        framed.position, 1,
        "the frame carries the record's position"
    );
    assert_eq!(
        framed.body, served.body,
        "the frame carries the record's public part"
    );

    let again = entry_body(served.clone(), vocabulary).expect("a served entry is accepted back");
    assert_eq!(&again, body, "a served entry sent back is the same entry");

    let line = ndjson::entry_line(&served).expect("an accepted entry has a JSON form");
    assert!(!line.contains('\n'), "an NDJSON line is one line: {line:?}");
    let imported = ndjson::parse_entry(&line).expect("an exported line imports");
    let again = entry_body(imported, vocabulary).expect("an exported entry is accepted back");
    assert_eq!(&again, body, "export then import gives the same entry");
}

/// Every entry an importer yields is one `Append` accepts, and refers only to actors yielded
/// before it (or, for revisions grown at the end, to any actor the import emitted). `known`
/// collects the ids of the actors yielded so far.
pub fn check_imported(
    entries: &[proto::Entry],
    known: &mut HashSet<String>,
    vocabulary: &Vocabulary,
) {
    for entry in entries {
        let body = match entry_body(entry.clone(), vocabulary) {
            Ok(body) => body,
            Err(e) => panic!("an imported entry is refused: {e}: {entry:?}"),
        };
        match &body {
            EntryBody::Actor(actor) => {
                for affiliation in &actor.affiliations {
                    let id = affiliation.actor_id.as_str();
                    assert!(
                        known.contains(id),
                        "{} refers to {id} before it",
                        actor.id.as_str()
                    );
                }
                known.insert(actor.id.as_str().to_string());
            }
            EntryBody::Event(event) => {
                for participant in &event.participants {
                    let id = participant.actor_id.as_str();
                    assert!(
                        known.contains(id),
                        "{} refers to {id} before it",
                        event.id.as_str()
                    );
                }
            }
            EntryBody::Claim(_) => panic!("importers of datasets yield no claims"),
        }
        check_accepted(&body, vocabulary);
    }
}

/// The actor revisions an import offers at its end, as entries.
pub fn grown(actors: Vec<proto::Actor>) -> Vec<proto::Entry> {
    actors
        .into_iter()
        .map(|actor| proto::Entry {
            position: 0,
            recorded_at: None,
            body: Some(Body::Actor(actor)),
        })
        .collect()
}
