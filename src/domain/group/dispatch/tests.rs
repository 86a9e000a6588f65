//! The dispatcher's rules, one at a time, then a randomised run checked against a plain model:
//! every admitted entry ends acked or parked exactly once, and the bounds always hold.

use super::*;
use crate::domain::EntryId;

fn settings(dispatch: Dispatch, max_ack_pending: u32) -> GroupSettings {
    GroupSettings {
        dispatch,
        ack_wait: Duration::from_millis(300),
        max_deliver: 3,
        backoff: Vec::new(),
        max_ack_pending,
    }
}

fn actor(name: &str) -> Option<ActorId> {
    Some(EntryId::parse(name).expect("id"))
}

fn filled(dispatcher: &mut Dispatcher, positions: std::ops::RangeInclusive<u64>, now: Instant) {
    for p in positions {
        dispatcher.admit(Position(p), None, Source::Log, 0, now);
        dispatcher.advance(Position(p + 1));
    }
}

#[test]
fn round_robin_takes_turns_and_respects_each_members_room() {
    let now = Instant::now();
    let mut d = Dispatcher::new(settings(Dispatch::RoundRobin, 100), Position(1));
    let a = d.join(2);
    let b = d.join(0);
    filled(&mut d, 1..=6, now);
    let sent = d.dispatch(now);
    let to_a: Vec<u64> = sent
        .iter()
        .filter(|s| s.member == a)
        .map(|s| s.position.0)
        .collect();
    assert_eq!(to_a, [1, 3], "a takes turns until its room is full");
    assert_eq!(sent.iter().filter(|s| s.member == b).count(), 4);
    assert!(sent.iter().all(|s| s.attempt == 1));
    assert!(d.dispatch(now).is_empty(), "everything is in flight");
}

#[test]
fn the_window_is_bounded_by_max_ack_pending() {
    let now = Instant::now();
    let mut d = Dispatcher::new(settings(Dispatch::RoundRobin, 3), Position(1));
    assert_eq!(d.room(), 3);
    filled(&mut d, 1..=3, now);
    assert_eq!(d.room(), 0);
    let m = d.join(0);
    let sent = d.dispatch(now);
    assert_eq!(sent.len(), 3);
    assert_eq!(
        d.ack(m, sent[0].delivery),
        AckOutcome::Acked {
            position: Position(1),
            source: Source::Log
        }
    );
    assert_eq!(d.room(), 1);
}

#[test]
fn acks_are_told_apart_late_from_never_sent() {
    let now = Instant::now();
    let mut d = Dispatcher::new(settings(Dispatch::RoundRobin, 10), Position(1));
    let a = d.join(0);
    let b = d.join(0);
    filled(&mut d, 1..=1, now);
    let sent = d.dispatch(now);
    let delivery = sent[0].delivery;
    assert_eq!(d.ack(sent[0].member, DeliveryId(99)), AckOutcome::Unknown);
    assert_eq!(d.ack(sent[0].member, DeliveryId(0)), AckOutcome::Unknown);
    let other = if sent[0].member == a { b } else { a };
    assert_eq!(
        d.ack(other, delivery),
        AckOutcome::Unknown,
        "not sent to it"
    );
    assert!(matches!(
        d.ack(sent[0].member, delivery),
        AckOutcome::Acked { .. }
    ));
    assert_eq!(d.ack(sent[0].member, delivery), AckOutcome::Late);
}

#[test]
fn an_expired_delivery_goes_to_another_member_then_parks_after_max_deliver() {
    let start = Instant::now();
    let mut d = Dispatcher::new(settings(Dispatch::RoundRobin, 10), Position(1));
    let a = d.join(0);
    let b = d.join(0);
    filled(&mut d, 1..=1, start);
    let first = d.dispatch(start);
    assert_eq!(first[0].member, a);
    assert_eq!(d.expire(start + Duration::from_millis(299)), (0, vec![]));
    assert_eq!(d.next_due(start), Some(start + Duration::from_millis(300)));
    let later = start + Duration::from_millis(300);
    assert_eq!(d.expire(later), (1, vec![]));
    let second = d.dispatch(later);
    assert_eq!(second[0].member, b, "another member");
    assert_eq!(second[0].attempt, 2);
    assert_eq!(d.ack(a, first[0].delivery), AckOutcome::Late);
    let later = later + Duration::from_millis(300);
    d.expire(later);
    let third = d.dispatch(later);
    assert_eq!(third[0].attempt, 3);
    let (requeued, parked) = d.expire(later + Duration::from_millis(300));
    assert_eq!(requeued, 0);
    assert_eq!(
        parked,
        [Parked {
            position: Position(1),
            attempts: 3,
            source: Source::Log
        }]
    );
    assert_eq!(d.room(), 10);
    assert_eq!(d.acked_through(), Position(1), "parked counts as done");
}

#[test]
fn a_nack_waits_for_its_delay_or_the_backoff_whichever_is_longer() {
    let now = Instant::now();
    let mut s = settings(Dispatch::RoundRobin, 10);
    s.backoff = vec![Duration::from_millis(100)];
    let mut d = Dispatcher::new(s, Position(1));
    let m = d.join(0);
    filled(&mut d, 1..=1, now);
    let sent = d.dispatch(now);
    assert_eq!(
        d.nack(m, sent[0].delivery, Duration::from_millis(10), now),
        NackOutcome::Requeued(Position(1))
    );
    assert!(d.dispatch(now + Duration::from_millis(99)).is_empty());
    assert_eq!(d.next_due(now), Some(now + Duration::from_millis(100)));
    let again = d.dispatch(now + Duration::from_millis(100));
    assert_eq!(again[0].member, m, "the only member, even if it failed it");
    let sent = again[0].delivery;
    assert_eq!(
        d.nack(m, sent, Duration::from_millis(500), now),
        NackOutcome::Requeued(Position(1))
    );
    assert!(d.dispatch(now + Duration::from_millis(499)).is_empty());
    assert_eq!(d.dispatch(now + Duration::from_millis(500)).len(), 1);
}

#[test]
fn a_member_that_leaves_gives_up_its_entries_at_once() {
    let now = Instant::now();
    let mut d = Dispatcher::new(settings(Dispatch::RoundRobin, 10), Position(1));
    let a = d.join(2);
    filled(&mut d, 1..=2, now);
    assert_eq!(d.dispatch(now).len(), 2);
    let b = d.join(0);
    assert!(d.leave(a, now).is_empty());
    let sent = d.dispatch(now);
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s.member == b && s.attempt == 2));
    assert_eq!(d.members().len(), 1);
}

#[test]
fn pinned_keeps_an_actor_with_its_member_and_in_order() {
    let now = Instant::now();
    let mut d = Dispatcher::new(settings(Dispatch::PinnedByActor, 100), Position(1));
    let a = d.join(0);
    let b = d.join(0);
    for p in 1..=40 {
        let key = actor(&format!("actor-{}", p % 4));
        d.admit(Position(p), key, Source::Log, 0, now);
    }
    let sent = d.dispatch(now);
    assert_eq!(sent.len(), 40);
    let mut member_of = HashMap::new();
    for s in &sent {
        let key = s.position.0 % 4;
        assert_eq!(*member_of.entry(key).or_insert(s.member), s.member);
    }
    let used: HashSet<MemberId> = member_of.values().copied().collect();
    assert!(used.contains(&a) || used.contains(&b));
    // Actor 1's first entry fails: its later entries wait for it, the others flow on.
    let first_of_1 = sent.iter().find(|s| s.position == Position(1)).expect("1");
    d.nack(
        first_of_1.member,
        first_of_1.delivery,
        Duration::from_millis(50),
        now,
    );
    d.admit(Position(41), actor("actor-1"), Source::Log, 0, now);
    d.admit(Position(42), actor("actor-2"), Source::Log, 0, now);
    let sent = d.dispatch(now);
    assert_eq!(
        sent.iter().map(|s| s.position.0).collect::<Vec<_>>(),
        [42],
        "41 waits behind 1"
    );
    let sent = d.dispatch(now + Duration::from_millis(50));
    assert_eq!(
        sent.iter().map(|s| s.position.0).collect::<Vec<_>>(),
        [1, 41]
    );
    assert_eq!(sent[0].member, sent[1].member);
}

#[test]
fn entries_without_an_actor_go_round_robin_when_pinned() {
    let now = Instant::now();
    let mut d = Dispatcher::new(settings(Dispatch::PinnedByActor, 100), Position(1));
    d.join(0);
    d.join(0);
    filled(&mut d, 1..=4, now);
    let sent = d.dispatch(now);
    let members: HashSet<MemberId> = sent.iter().map(|s| s.member).collect();
    assert_eq!(members.len(), 2);
}

#[test]
fn progress_names_the_outstanding_log_entries_and_the_cursor() {
    let now = Instant::now();
    let mut d = Dispatcher::new(settings(Dispatch::RoundRobin, 100), Position(1));
    let m = d.join(0);
    filled(&mut d, 2..=4, now);
    d.advance(Position(6));
    d.advance(Position(5));
    d.admit(Position(1), None, Source::Replay, 0, now);
    let sent = d.dispatch(now);
    let of = |p: u64| {
        sent.iter()
            .find(|s| s.position == Position(p))
            .expect("sent")
    };
    d.ack(m, of(3).delivery);
    assert_eq!(
        d.progress(),
        Progress {
            cursor: Position(6),
            outstanding: vec![(Position(2), 1), (Position(4), 1)],
        }
    );
    assert_eq!(d.acked_through(), Position(1));
    assert_eq!(d.outstanding(), (2, 1));
    assert_eq!(d.in_flight(), 3);
    // Restored elsewhere, the count of attempts goes on.
    let mut restored = Dispatcher::new(settings(Dispatch::RoundRobin, 100), Position(6));
    for (position, attempts) in d.progress().outstanding {
        restored.admit(position, None, Source::Log, attempts, now);
    }
    restored.join(0);
    assert!(restored.dispatch(now).iter().all(|s| s.attempt == 2));
}

#[test]
fn an_assignment_that_could_not_be_sent_is_not_an_attempt() {
    let now = Instant::now();
    let mut d = Dispatcher::new(settings(Dispatch::RoundRobin, 10), Position(1));
    d.join(0);
    filled(&mut d, 1..=1, now);
    let sent = d.dispatch(now);
    d.unassign(&sent[0], now);
    assert_eq!(d.in_flight(), 0);
    assert_eq!(d.dispatch(now)[0].attempt, 1);
}

/// A small deterministic generator, so the randomised test needs no dependency and replays
/// the same way every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[test]
fn a_random_run_acks_or_parks_every_entry_exactly_once_within_the_bounds() {
    for seed in 1..=20 {
        let mut rng = Lcg(seed);
        let mut now = Instant::now();
        let dispatch = if seed % 2 == 0 {
            Dispatch::PinnedByActor
        } else {
            Dispatch::RoundRobin
        };
        let mut d = Dispatcher::new(settings(dispatch, 8), Position(1));
        let mut members: Vec<MemberId> = vec![d.join(3)];
        let mut sent: Vec<Assignment> = Vec::new();
        let mut done: HashMap<u64, &str> = HashMap::new();
        let total = 200;
        let mut next = 1;
        for _ in 0..5_000 {
            while d.room() > 0 && next <= total {
                let key = actor(&format!("a{}", next % 5));
                d.admit(Position(next), key, Source::Log, 0, now);
                next += 1;
                d.advance(Position(next));
            }
            sent.extend(d.dispatch(now));
            assert!(d.in_flight() <= 8);
            match rng.next(10) {
                0..=4 if !sent.is_empty() => {
                    let s = sent.swap_remove(rng.next(sent.len() as u64) as usize);
                    if let AckOutcome::Acked { position, .. } = d.ack(s.member, s.delivery) {
                        assert!(done.insert(position.0, "acked").is_none());
                    }
                }
                5 if !sent.is_empty() => {
                    let s = sent.swap_remove(rng.next(sent.len() as u64) as usize);
                    if let NackOutcome::Parked(p) =
                        d.nack(s.member, s.delivery, Duration::ZERO, now)
                    {
                        assert!(done.insert(p.position.0, "parked").is_none());
                    }
                }
                6 => members.push(d.join(rng.next(4) as usize)),
                7 if members.len() > 1 => {
                    let m = members.swap_remove(rng.next(members.len() as u64) as usize);
                    for p in d.leave(m, now) {
                        assert!(done.insert(p.position.0, "parked").is_none());
                    }
                }
                _ => {
                    now += Duration::from_millis(100);
                    for p in d.expire(now).1 {
                        assert!(done.insert(p.position.0, "parked").is_none());
                    }
                }
            }
            if done.len() == total as usize {
                break;
            }
        }
        assert_eq!(done.len(), total as usize, "seed {seed}: every entry ended");
        assert_eq!(d.acked_through(), Position(total));
    }
}
