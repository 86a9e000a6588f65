//! Properties of the record format: random bodies round-trip; the public part is what the
//! service would send; any damaged byte or cut is reported as corruption at the position; format
//! 1 still reads.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::domain::Checked;
use crate::domain::{
    Actor, ActorKind, Affiliation, Certainty, Claim, CountryCode, Edtf, Entry, EntryId, EntryKind,
    Event, Location, Participant, RelationKey, Role, Source,
};
use crate::proto;

/// The service's own conversion to responses, compiled here from its file: the service keeps
/// the module private, and the property below must hold against the very code that answers
/// clients, not a restatement of it.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../../service/to_proto.rs"]
mod to_proto;

const POSITION: Position = Position(4242);

fn id() -> BoxedStrategy<EntryId> {
    "[a-z0-9:_.-]{1,24}".prop_map(EntryId::from_stored).boxed()
}

fn relation() -> BoxedStrategy<RelationKey> {
    "[a-z_]{1,16}".prop_map(RelationKey::from_stored).boxed()
}

fn country() -> BoxedStrategy<Option<CountryCode>> {
    proptest::option::of("[A-Z]{3}".prop_map(CountryCode::from_stored)).boxed()
}

fn text() -> BoxedStrategy<String> {
    "\\PC{0,24}".boxed()
}

/// Dates of every supported form: precisions, unspecified digits, qualifiers, seasons and
/// intervals with open and unknown ends.
fn edtf() -> BoxedStrategy<Edtf> {
    let point = (
        1000_i32..2999,
        prop_oneof![
            Just(String::new()),
            (1_u32..=12).prop_map(|m| format!("-{m:02}")),
            (1_u32..=12, 1_u32..=28).prop_map(|(m, d)| format!("-{m:02}-{d:02}")),
            (21_u32..=41).prop_map(|s| format!("-{s}")),
            Just("-XX".to_string()),
            (1_u32..=12).prop_map(|m| format!("-{m:02}-XX")),
        ],
        prop_oneof![Just(""), Just("?"), Just("~"), Just("%")],
    )
        .prop_map(|(y, rest, q)| format!("{y:04}{rest}{q}"));
    let decade = (100_i32..299).prop_map(|d| format!("{d}X"));
    let single = prop_oneof![4 => point, 1 => decade];
    let end = prop_oneof![
        3 => single.clone(),
        1 => Just("..".to_string()),
        1 => Just(String::new()),
    ];
    prop_oneof![3 => single, 2 => (end.clone(), end).prop_map(|(a, b)| format!("{a}/{b}"))]
        .prop_filter_map("a date the log accepts", |text| Edtf::parse(&text).ok())
        .boxed()
}

fn source() -> BoxedStrategy<Source> {
    (text(), text(), proptest::option::of(edtf()))
        .prop_map(|(name, url, published)| Source {
            name,
            url,
            published,
        })
        .boxed()
}

fn certainty() -> BoxedStrategy<Certainty> {
    prop_oneof![
        Just(Certainty::Confirmed),
        Just(Certainty::Reported),
        Just(Certainty::Alleged),
        Just(Certainty::Speculated),
        Just(Certainty::Disputed),
    ]
    .boxed()
}

fn actor() -> BoxedStrategy<Actor> {
    let kind = prop_oneof![
        Just(ActorKind::State),
        Just(ActorKind::GovernmentBody),
        Just(ActorKind::Military),
        Just(ActorKind::ArmedGroup),
        Just(ActorKind::PrivateMilitaryCompany),
        Just(ActorKind::PoliticalParty),
        Just(ActorKind::Person),
        Just(ActorKind::Organization),
    ];
    let affiliation =
        (id(), relation(), proptest::option::of(edtf())).prop_map(|(actor_id, relation, valid)| {
            Affiliation {
                actor_id,
                relation,
                valid,
            }
        });
    (
        id(),
        text(),
        proptest::collection::vec(text(), 0..3),
        kind,
        country(),
        proptest::collection::vec(affiliation, 0..4),
        text(),
    )
        .prop_map(
            |(id, name, aliases, kind, country, affiliations, description)| Actor {
                id,
                name,
                aliases,
                kind,
                country,
                affiliations,
                same_as: Vec::new(),
                description,
            },
        )
        .boxed()
}

fn event() -> BoxedStrategy<Event> {
    let role = prop_oneof![
        Just(Role::Initiator),
        Just(Role::Target),
        Just(Role::Participant),
        Just(Role::Supporter),
    ];
    let participant = (id(), role).prop_map(|(actor_id, role)| Participant { actor_id, role });
    let location = (
        text(),
        country(),
        text(),
        proptest::option::of((-90.0_f64..90.0, -180.0_f64..180.0)),
    )
        .prop_map(|(name, country, admin1, coordinates)| Location {
            name,
            country,
            admin1,
            coordinates,
        });
    (
        (
            id(),
            relation(),
            proptest::collection::vec(participant, 1..4),
            edtf(),
            proptest::option::of(location),
        ),
        (
            text(),
            proptest::collection::vec(source(), 0..3),
            certainty(),
            proptest::collection::btree_map(text(), text(), 0..3),
            proptest::collection::vec(id(), 0..2),
        ),
    )
        .prop_map(
            |(
                (id, relation, participants, date, location),
                (summary, sources, certainty, attributes, supersedes),
            )| Event {
                id,
                relation,
                participants,
                date,
                location,
                summary,
                sources,
                certainty,
                attributes,
                supersedes,
            },
        )
        .boxed()
}

fn claim() -> BoxedStrategy<Claim> {
    (
        (
            id(),
            proptest::option::of(id()),
            proptest::option::of(relation()),
            proptest::option::of(id()),
            proptest::option::of(id()),
            proptest::option::of(edtf()),
        ),
        (
            proptest::option::of(id()),
            proptest::collection::vec(source(), 0..3),
            certainty(),
            any::<bool>(),
            text(),
            proptest::collection::vec(id(), 0..2),
        ),
    )
        .prop_map(
            |(
                (id, subject, relation, object, event_id, valid),
                (claimant, sources, certainty, negated, statement, supersedes),
            )| Claim {
                id,
                subject,
                relation,
                object,
                event_id,
                valid,
                claimant,
                sources,
                certainty,
                negated,
                statement,
                supersedes,
            },
        )
        .boxed()
}

fn body() -> BoxedStrategy<EntryBody> {
    prop_oneof![
        actor().prop_map(|v| EntryBody::Actor(Checked::from_log(v))),
        event().prop_map(|v| EntryBody::Event(Checked::from_log(v))),
        claim().prop_map(|v| EntryBody::Claim(Checked::from_log(v))),
    ]
    .boxed()
}

/// Commit times with microsecond precision, the precision a record keeps.
fn recorded_at() -> BoxedStrategy<SystemTime> {
    (0_u64..4_000_000_000_000_000)
        .prop_map(|micros| UNIX_EPOCH + Duration::from_micros(micros))
        .boxed()
}

fn sealed(body: &EntryBody, at: SystemTime) -> Vec<u8> {
    let mut record = encode_record(body).expect("every domain body encodes");
    set_recorded_at(&mut record, at);
    record
}

/// A format-1 record, as the first releases wrote it.
fn format_1(body: &EntryBody, at: SystemTime) -> Vec<u8> {
    let mut record = vec![1_u8; 9];
    serde_json::to_writer(&mut record, body).expect("JSON");
    set_recorded_at(&mut record, at);
    record
}

fn assert_corrupt_at_position(result: Result<impl std::fmt::Debug, StoreError>) {
    match result {
        Err(error @ StoreError::Corrupt { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains(&format!("log position {POSITION}")),
                "{message:?} should name the position"
            );
        }
        other => panic!("expected a corrupt record, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn bodies_round_trip(body in body(), at in recorded_at()) {
        let record = sealed(&body, at);
        let (decoded_at, decoded) = decode_record(POSITION, &record).expect("decodes");
        prop_assert_eq!(decoded_at, at);
        prop_assert_eq!(&decoded, &body);
        let view = RecordView::parse(POSITION, &record).expect("parses");
        prop_assert_eq!(view.kind(), body.kind());
        prop_assert_eq!(view.recorded_at(), at);
        prop_assert_eq!(view.position(), POSITION);
        prop_assert_eq!(view.decode_body().expect("decodes"), body);
    }

    /// The public part is what the service sends for the same entry: it decodes to the
    /// service's message, and is even the same bytes, so splicing it is invisible to clients.
    #[test]
    fn the_public_part_is_the_response_message(body in body(), at in recorded_at()) {
        let record = sealed(&body, at);
        let view = RecordView::parse(POSITION, &record).expect("parses");
        let wire = view.wire_body().expect("format 2 has a public part");
        let entry = Entry { position: POSITION, recorded_at: at, body: body.clone() };
        match to_proto::entry(entry).body.expect("a body") {
            proto::entry::Body::Actor(expected) => {
                prop_assert_eq!(proto::Actor::decode(wire).expect("decodes"), expected.clone());
                prop_assert_eq!(wire.to_vec(), expected.encode_to_vec());
            }
            proto::entry::Body::Event(expected) => {
                prop_assert_eq!(proto::Event::decode(wire).expect("decodes"), expected.clone());
                prop_assert_eq!(wire.to_vec(), expected.encode_to_vec());
            }
            proto::entry::Body::Claim(expected) => {
                prop_assert_eq!(proto::Claim::decode(wire).expect("decodes"), expected.clone());
                prop_assert_eq!(wire.to_vec(), expected.encode_to_vec());
            }
        }
    }

    /// Any changed byte, wherever it is, is caught: CRC-32 detects every error confined to
    /// 32 consecutive bits, and the format byte is checked before the checksum is.
    #[test]
    fn a_changed_byte_is_corruption_at_the_position(
        body in body(),
        at in recorded_at(),
        index in any::<prop::sample::Index>(),
        mask in 1_u8..=255,
    ) {
        let mut record = sealed(&body, at);
        let i = index.index(record.len());
        record[i] ^= mask;
        assert_corrupt_at_position(decode_record(POSITION, &record));
        assert_corrupt_at_position(RecordView::parse(POSITION, &record));
    }

    /// Several damaged bytes: detected unless they happen to collide in the CRC (2^-32).
    #[test]
    fn scattered_damage_is_corruption_at_the_position(
        body in body(),
        at in recorded_at(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1_u8..=255), 2..8),
    ) {
        let mut record = sealed(&body, at);
        let original = record.clone();
        for (index, mask) in flips {
            let i = index.index(record.len());
            record[i] ^= mask;
        }
        prop_assume!(record != original);
        assert_corrupt_at_position(decode_record(POSITION, &record));
    }

    #[test]
    fn a_cut_record_is_corruption_at_the_position(
        body in body(),
        at in recorded_at(),
        index in any::<prop::sample::Index>(),
    ) {
        let record = sealed(&body, at);
        let cut = index.index(record.len());
        assert_corrupt_at_position(decode_record(POSITION, &record[..cut]));
    }

    #[test]
    fn format_1_records_still_read(body in body(), at in recorded_at()) {
        let record = format_1(&body, at);
        // What the first releases read back: serde_json parses some floats to a neighbouring
        // value (format 2 keeps them exactly), and format 1 must keep reading as it always did.
        let body: EntryBody =
            serde_json::from_slice(&record[9..]).expect("format 1 is the domain's JSON");
        prop_assert_eq!(decode_record(POSITION, &record).expect("decodes"), (at, body.clone()));
        let view = RecordView::parse(POSITION, &record).expect("parses");
        prop_assert_eq!(view.kind(), body.kind());
        prop_assert_eq!(view.recorded_at(), at);
        prop_assert!(view.wire_body().is_none());
        prop_assert_eq!(view.decode_body().expect("decodes"), body);
    }

    /// Random bytes never panic and never decode as a format-2 record.
    #[test]
    fn random_bytes_are_refused(mut bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Some(first) = bytes.first_mut() {
            *first = 2;
        }
        assert_corrupt_at_position(decode_record(POSITION, &bytes));
    }
}

#[test]
fn the_header_is_laid_out_as_documented() {
    let body = EntryBody::Claim(Checked::from_log(Claim {
        id: EntryId::from_stored("c1".into()),
        subject: None,
        relation: None,
        object: None,
        event_id: None,
        valid: Some(Edtf::parse("2015/..").expect("date")),
        claimant: None,
        sources: Vec::new(),
        certainty: Certainty::Alleged,
        negated: false,
        statement: String::new(),
        supersedes: Vec::new(),
    }));
    let at = UNIX_EPOCH + Duration::from_micros(0x0102_0304_0506);
    let record = sealed(&body, at);
    assert_eq!(record[0], 2, "format byte");
    assert_eq!(
        u32::from_be_bytes(record[1..5].try_into().expect("4 bytes")),
        crc32fast::hash(&record[5..]),
        "checksum of everything after it"
    );
    assert_eq!(
        &record[5..13],
        &0x0102_0304_0506_i64.to_be_bytes(),
        "time, µs BE"
    );
    assert_eq!(record[13], 3, "kind: claim");
    let wire_len = u32::from_be_bytes(record[14..18].try_into().expect("4 bytes")) as usize;
    let public = proto::Claim {
        id: "c1".into(),
        valid: "2015/..".into(),
        valid_span: Some(proto::DateSpan {
            earliest: "2015-01-01".into(),
            latest: String::new(),
        }),
        certainty: proto::Certainty::Alleged as i32,
        ..Default::default()
    };
    assert_eq!(
        &record[18..18 + wire_len],
        public.encode_to_vec().as_slice()
    );
    // The storage part: field 100 (the span), as day numbers; the open end is i32::MAX.
    let storage = schema::Claim::decode(&record[18 + wire_len..]).expect("storage part");
    assert_eq!(
        storage.spans,
        vec![schema::DaySpan {
            earliest: 16_436,
            latest: i32::MAX
        }]
    );
}

#[test]
fn unknown_formats_and_kinds_are_corruption() {
    assert_corrupt_at_position(decode_record(POSITION, &[]));
    assert_corrupt_at_position(decode_record(POSITION, &[3, 0, 0]));
    // A kind byte of 9 with a valid checksum: refused, not guessed.
    let mut record = vec![2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0];
    set_recorded_at(&mut record, UNIX_EPOCH);
    assert_corrupt_at_position(decode_record(POSITION, &record));
    // A body that lost a date span but kept a valid checksum (a defect, not damage).
    let mut stored = schema::Event::from(&match sample_event() {
        EntryBody::Event(e) => e.into_inner(),
        _ => unreachable!("an event"),
    });
    stored.spans.clear();
    let mut record = header::unsealed(EntryKind::Event);
    record.extend(stored.encode_to_vec());
    set_recorded_at(&mut record, UNIX_EPOCH);
    assert_corrupt_at_position(decode_record(POSITION, &record));
}

#[test]
fn a_span_beyond_every_date_is_corruption() {
    // Found by fuzzing: a checksum-valid body whose span no date can have (a defect or a forged
    // checksum, not damage) was read, and printing its day overflowed the calendar arithmetic.
    for (earliest, latest) in [(19_000, i32::MAX - 1), (i32::MIN + 1, 19_000)] {
        let mut stored = schema::Event::from(&match sample_event() {
            EntryBody::Event(e) => e.into_inner(),
            _ => unreachable!("an event"),
        });
        stored.spans = vec![schema::DaySpan { earliest, latest }];
        let mut record = header::unsealed(EntryKind::Event);
        record.extend(stored.encode_to_vec());
        set_recorded_at(&mut record, UNIX_EPOCH);
        assert_corrupt_at_position(decode_record(POSITION, &record));
    }
}

#[test]
fn the_earliest_recording_time_is_stored_as_it_reads() {
    // Found by fuzzing: a time of i64::MIN µs was read, but stored again as i64::MIN + 1, because
    // the encoder saturated negative times at -i64::MAX.
    let at = UNIX_EPOCH - Duration::from_micros(1 << 63);
    let record = sealed(&sample_event(), at);
    assert_eq!(&record[5..13], &i64::MIN.to_be_bytes());
    let (read, _) = decode_record(POSITION, &record).expect("decodes");
    assert_eq!(read, at);
}

fn sample_event() -> EntryBody {
    EntryBody::Event(Checked::from_log(Event {
        id: EntryId::from_stored("e1".into()),
        relation: RelationKey::from_stored("attacks".into()),
        participants: vec![Participant {
            actor_id: EntryId::from_stored("a".into()),
            role: Role::Initiator,
        }],
        date: Edtf::parse("2022-03~").expect("date"),
        location: None,
        summary: String::new(),
        sources: Vec::new(),
        certainty: Certainty::Reported,
        attributes: BTreeMap::new(),
        supersedes: Vec::new(),
    }))
}
