//! The planner against an in-memory view.

use std::collections::HashMap;

use super::*;
use crate::domain::edtf::Edtf;
use crate::domain::ids::EntryId;
use crate::domain::model::{Actor, ActorKind, Certainty, EntryKind, Event, Participant, Role};
use crate::domain::vocabulary::Vocabulary;
use crate::domain::Checked;

struct MemoryView {
    head: Position,
    entries: HashMap<EntryId, (Position, EntryBody)>,
}

impl LogView for MemoryView {
    type Error = std::convert::Infallible;
    fn head(&self) -> Position {
        self.head
    }
    fn latest(&self, id: &EntryId) -> Result<Option<(Position, EntryBody)>, Self::Error> {
        Ok(self.entries.get(id).cloned())
    }
    fn kind_of(&self, id: &EntryId) -> Result<Option<EntryKind>, Self::Error> {
        Ok(self.entries.get(id).map(|(_, b)| b.kind()))
    }
}

fn id(text: &str) -> EntryId {
    EntryId::parse(text).expect("valid id")
}

fn actor(key: &str, name: &str) -> EntryBody {
    EntryBody::Actor(Checked::from_log(Actor {
        id: id(key),
        name: name.into(),
        aliases: vec![],
        kind: ActorKind::State,
        country: None,
        affiliations: vec![],
        same_as: Vec::new(),
        description: String::new(),
    }))
}

fn event(key: &str, actor: &str) -> EntryBody {
    EntryBody::Event(Checked::from_log(Event {
        id: id(key),
        relation: Vocabulary::builtin().relation("attacks").expect("known"),
        participants: vec![Participant {
            actor_id: id(actor),
            role: Role::Initiator,
        }],
        date: Edtf::parse("2022").expect("valid"),
        location: None,
        summary: String::new(),
        sources: vec![],
        certainty: Certainty::Reported,
        attributes: Default::default(),
        supersedes: vec![],
    }))
}

fn empty() -> MemoryView {
    MemoryView {
        head: Position(0),
        entries: HashMap::new(),
    }
}

fn rejection(result: Result<AppendPlan, PlanError<std::convert::Infallible>>) -> AppendRejection {
    match result {
        Err(PlanError::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_batch_can_create_an_actor_and_refer_to_it() {
    let plan = plan_append(
        &empty(),
        vec![actor("ru", "Russia"), event("e1", "ru")],
        None,
    )
    .expect("valid batch");
    assert_eq!(plan.head, Position(2));
    assert!(matches!(
        plan.entries[1],
        PlannedEntry::New {
            position: Position(2),
            ..
        }
    ));
}

#[test]
fn identical_entries_are_duplicates_even_within_a_batch() {
    let plan = plan_append(
        &empty(),
        vec![actor("ru", "Russia"), actor("ru", "Russia")],
        None,
    )
    .expect("valid batch");
    assert_eq!(plan.entries[1].position(), Position(1));
    assert!(matches!(plan.entries[1], PlannedEntry::Duplicate { .. }));
    assert_eq!(plan.head, Position(1));
}

#[test]
fn a_changed_actor_is_a_revision_but_a_changed_event_is_refused() {
    let mut view = empty();
    view.head = Position(2);
    view.entries
        .insert(id("ru"), (Position(1), actor("ru", "Russia")));
    view.entries
        .insert(id("e1"), (Position(2), event("e1", "ru")));
    let plan = plan_append(&view, vec![actor("ru", "Russian Federation")], None).expect("revision");
    assert!(matches!(
        &plan.entries[0],
        PlannedEntry::New {
            position: Position(3),
            replaces: Some(_),
            ..
        }
    ));
    let mut changed = event("e1", "ru");
    if let EntryBody::Event(e) = &mut changed {
        let mut edited = Event::clone(e);
        edited.summary = "different".into();
        *e = Checked::new(edited).expect("valid");
    }
    let r = rejection(plan_append(&view, vec![changed], None));
    assert!(matches!(
        r,
        AppendRejection::IdTaken {
            index: 0,
            position: Position(2),
            ..
        }
    ));
    // An event may not take an actor's id either.
    let r = rejection(plan_append(&view, vec![event("ru", "ru")], None));
    assert!(
        r.to_string().contains("already used by a different actor"),
        "{r}"
    );
}

#[test]
fn one_id_twice_in_a_batch_names_the_earlier_entry_not_a_position() {
    let mut view = empty();
    view.head = Position(11);
    let mut changed = event("e1", "ru");
    if let EntryBody::Event(e) = &mut changed {
        let mut edited = Event::clone(e);
        edited.summary = "different".into();
        *e = Checked::new(edited).expect("valid");
    }
    let r = rejection(plan_append(
        &view_with_ru(view),
        vec![event("e1", "ru"), changed],
        None,
    ));
    assert!(matches!(
        r,
        AppendRejection::IdTwiceInBatch {
            index: 1,
            earlier: 0,
            ..
        }
    ));
    let message = r.to_string();
    assert!(message.contains("entries[0]"), "{message}");
    assert!(!message.contains("position"), "{message}");
}

fn view_with_ru(mut view: MemoryView) -> MemoryView {
    view.entries
        .insert(id("ru"), (Position(1), actor("ru", "Russia")));
    view
}

#[test]
fn references_must_exist_and_have_the_right_kind() {
    let r = rejection(plan_append(&empty(), vec![event("e1", "nobody")], None));
    assert!(
        r.to_string()
            .contains("entries[0].event.participants[0].actor_id: \"nobody\" is not in the log"),
        "{r}"
    );
    let r = rejection(plan_append(
        &empty(),
        vec![actor("ru", "Russia"), event("e1", "ru"), event("e2", "e1")],
        None,
    ));
    assert!(r.to_string().contains("is an event, not an actor"), "{r}");
}

#[test]
fn expected_head_must_match() {
    let r = rejection(plan_append(
        &empty(),
        vec![actor("ru", "Russia")],
        Some(Position(3)),
    ));
    assert_eq!(
        r,
        AppendRejection::HeadMismatch {
            expected: Position(3),
            actual: Position(0)
        }
    );
}
