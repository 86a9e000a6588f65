//! Every field of the entry messages is mapped both ways. A sample of each body kind sets every
//! field the proto declares (checked against the served descriptor set, field by field and
//! message by message, so a field added to the proto fails here until the sample sets it), and
//! the sample survives wire -> domain -> wire unchanged (so a field the converters drop fails
//! here too).

use std::collections::{BTreeMap, BTreeSet};
use std::time::UNIX_EPOCH;

use prost::bytes::Buf;
use prost::encoding::{decode_key, decode_varint, WireType};
use prost::Message;
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};

use super::{to_domain, to_proto};
use crate::domain::{Entry, Position, Vocabulary};
use crate::proto;

/// The messages of the API by full name (`.eventlog.v1.Event`).
fn messages() -> BTreeMap<String, DescriptorProto> {
    let set = FileDescriptorSet::decode(proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let mut found = BTreeMap::new();
    for file in set.file {
        let package = file.package().to_string();
        for message in file.message_type {
            collect(&format!(".{package}"), message, &mut found);
        }
    }
    found
}

fn collect(scope: &str, message: DescriptorProto, found: &mut BTreeMap<String, DescriptorProto>) {
    let name = format!("{scope}.{}", message.name());
    for nested in message.nested_type.clone() {
        collect(&name, nested, found);
    }
    found.insert(name, message);
}

/// Records, per message type, the field numbers `bytes` (a `type_name` message) sets, walking
/// into nested messages.
fn fields_set(
    bytes: &[u8],
    type_name: &str,
    messages: &BTreeMap<String, DescriptorProto>,
    seen: &mut BTreeMap<String, BTreeSet<i32>>,
) {
    let descriptor = &messages[type_name];
    let mut buf = bytes;
    while buf.has_remaining() {
        let (number, wire_type) = decode_key(&mut buf).expect("a field key");
        let number = number as i32;
        seen.entry(type_name.to_string())
            .or_default()
            .insert(number);
        let field = descriptor.field.iter().find(|f| f.number() == number);
        match wire_type {
            WireType::Varint => {
                decode_varint(&mut buf).expect("a varint");
            }
            WireType::SixtyFourBit => buf.advance(8),
            WireType::ThirtyTwoBit => buf.advance(4),
            WireType::LengthDelimited => {
                let len = decode_varint(&mut buf).expect("a length") as usize;
                let (inner, rest) = buf.split_at(len);
                if let Some(field) = field.filter(|f| f.r#type() == Type::Message) {
                    let nested = &messages[field.type_name()];
                    let is_map = nested.options.as_ref().is_some_and(|o| o.map_entry());
                    if !is_map {
                        fields_set(inner, field.type_name(), messages, seen);
                    }
                }
                buf = rest;
            }
            other => panic!("unexpected wire type {other:?}"),
        }
    }
}

/// The field names a message declares and the samples leave unset.
fn unset_fields(
    samples: &[(&str, Vec<u8>)],
    messages: &BTreeMap<String, DescriptorProto>,
) -> Vec<String> {
    let mut seen = BTreeMap::new();
    for (type_name, bytes) in samples {
        fields_set(bytes, type_name, messages, &mut seen);
    }
    let mut unset = Vec::new();
    for (type_name, numbers) in &seen {
        for field in &messages[type_name].field {
            if !numbers.contains(&field.number()) {
                unset.push(format!("{type_name}.{}", field.name()));
            }
        }
    }
    unset
}

fn span(earliest: &str, latest: &str) -> Option<proto::DateSpan> {
    Some(proto::DateSpan {
        earliest: earliest.into(),
        latest: latest.into(),
    })
}

fn source() -> proto::Source {
    proto::Source {
        name: "SOHR".into(),
        url: "https://example.org/sohr/1".into(),
        published: "2022-03-15".into(),
    }
}

fn actor() -> proto::Actor {
    proto::Actor {
        id: "liwa-al-quds".into(),
        name: "Liwa' al-Quds".into(),
        aliases: vec!["Jerusalem Brigade".into()],
        kind: proto::ActorKind::ArmedGroup as i32,
        country: "SYR".into(),
        affiliations: vec![proto::Affiliation {
            actor_id: "syrian-army".into(),
            relation: "part_of".into(),
            valid: "2013/..".into(),
            valid_span: span("2013-01-01", ""),
        }],
        description: "Palestinian militia in Syria.".into(),
        same_as: vec!["cameo-quds".into()],
    }
}

fn event() -> proto::Event {
    proto::Event {
        id: "ev-palmyra".into(),
        relation: "attacks".into(),
        participants: vec![proto::Participant {
            actor_id: "liwa-al-quds".into(),
            role: proto::Role::Initiator as i32,
        }],
        date: "2022".into(),
        location: Some(proto::Location {
            name: "Palmyra".into(),
            country: "SYR".into(),
            admin1: "Homs".into(),
            latitude: Some(34.56),
            longitude: Some(38.28),
        }),
        summary: "A clash near Palmyra.".into(),
        sources: vec![source()],
        certainty: proto::Certainty::Reported as i32,
        attributes: [("cameo".to_string(), "190".to_string())].into(),
        supersedes: vec!["ev-palmyra-draft".into()],
        date_span: span("2022-01-01", "2022-12-31"),
    }
}

fn claim() -> proto::Claim {
    proto::Claim {
        id: "cl-backs".into(),
        subject: "russia".into(),
        relation: "backs".into(),
        object: "liwa-al-quds".into(),
        event_id: "ev-palmyra".into(),
        valid: "2016/2019".into(),
        claimant: "sohr".into(),
        sources: vec![source()],
        certainty: proto::Certainty::Alleged as i32,
        negated: true,
        statement: "Russia backs Liwa' al-Quds.".into(),
        supersedes: vec!["cl-backs-draft".into()],
        valid_span: span("2016-01-01", "2019-12-31"),
    }
}

fn round_trip(body: proto::entry::Body) -> Option<proto::entry::Body> {
    let vocabulary = Vocabulary::builtin();
    let wire = proto::Entry {
        body: Some(body),
        ..Default::default()
    };
    let domain = to_domain::entry_body(wire, &vocabulary).expect("a valid sample");
    let entry = Entry {
        position: Position(1),
        recorded_at: UNIX_EPOCH,
        body: domain,
    };
    to_proto::entry(entry).body
}

#[test]
fn the_samples_set_every_field_the_proto_declares() {
    let messages = messages();
    let samples = [
        (".eventlog.v1.Actor", actor().encode_to_vec()),
        (".eventlog.v1.Event", event().encode_to_vec()),
        (".eventlog.v1.Claim", claim().encode_to_vec()),
    ];
    let unset = unset_fields(&samples, &messages);
    assert!(
        unset.is_empty(),
        "fields the samples leave unset (set them here, and map them in to_domain and \
         to_proto): {unset:?}"
    );
}

#[test]
fn every_field_survives_wire_to_domain_to_wire() {
    use proto::entry::Body;
    for body in [
        Body::Actor(actor()),
        Body::Event(event()),
        Body::Claim(claim()),
    ] {
        assert_eq!(round_trip(body.clone()), Some(body));
    }
}

#[test]
fn a_field_left_unset_is_found() {
    let messages = messages();
    let mut event = event();
    event.location.as_mut().expect("a location").admin1.clear();
    let samples = [(".eventlog.v1.Event", event.encode_to_vec())];
    assert_eq!(
        unset_fields(&samples, &messages),
        vec![".eventlog.v1.Location.admin1".to_string()]
    );
}

#[test]
fn a_stored_record_streams_as_the_entry_it_holds() {
    use crate::store::record::{encode_record, set_recorded_at};
    use crate::store::RecordView;
    use proto::entry::Body;
    let vocabulary = Vocabulary::builtin();
    let recorded_at = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_000);
    for (position, body) in [
        (1, Body::Actor(actor())),
        (300, Body::Event(event())),
        (u64::MAX >> 1, Body::Claim(claim())),
    ] {
        let wire = proto::Entry {
            body: Some(body),
            ..Default::default()
        };
        let domain = to_domain::entry_body(wire, &vocabulary).expect("a valid sample");
        let mut record = encode_record(&domain).expect("the sample encodes");
        set_recorded_at(&mut record, recorded_at);
        let view = RecordView::parse(Position(position), &record).expect("a verified record");
        let frame = super::wire::entry_frame(&view, None).expect("a frame");
        let expected = to_proto::entry(Entry {
            position: Position(position),
            recorded_at,
            body: domain,
        });
        let streamed = proto::SubscribeResponse::decode(&frame[..]).expect("a SubscribeResponse");
        assert_eq!(
            streamed.message,
            Some(proto::subscribe_response::Message::Entry(expected.clone()))
        );
        let read = proto::ReadLogResponse::decode(&frame[..]).expect("a ReadLogResponse");
        assert_eq!(read.entries, vec![expected]);
    }
}
