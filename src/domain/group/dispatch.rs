//! The rules of a consumer group's delivery: which member gets which entry, what an ack, a
//! nack, an expired ack_wait and a departing member do, and when an entry is parked.
//!
//! A [`Dispatcher`] holds the group's *window*: the entries read from the log (or given back
//! from the parked ones) and not yet acked, at most `max_ack_pending` of them, each either
//! waiting for a member or in flight at one. The caller feeds it entries while it has
//! [`room`](Dispatcher::room), tells it what members say and what time it is, and carries out
//! the [`Assignment`]s it hands back. Everything the group must remember across a restart is
//! its [`Progress`]: the cursor into the log and the window's log positions, so what is
//! durable is bounded by `max_ack_pending`, never by the log or by a member that never acks.
//!
//! Pure code: time is a parameter, nothing here blocks, sends or stores.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

pub use super::delivery::{
    AckOutcome, Assignment, DeliveryId, MemberId, NackOutcome, Parked, Progress, Source,
};
use super::{Dispatch, GroupSettings};
use crate::domain::ids::{ActorId, Position};

#[derive(Debug, Clone)]
struct Pending {
    /// The actor it is pinned by, if the group pins and the entry names one.
    key: Option<ActorId>,
    source: Source,
    /// Deliveries made so far.
    attempts: u32,
    state: State,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Deliverable from `not_before`, preferably not to `avoid` (the member that failed it).
    Waiting {
        not_before: Instant,
        avoid: Option<MemberId>,
    },
    /// At `member` until `deadline`.
    InFlight {
        member: MemberId,
        delivery: DeliveryId,
        deadline: Instant,
    },
}

#[derive(Debug, Clone)]
struct Member {
    max_in_flight: usize,
    /// Delivery ids sent so far: the last one.
    issued: u64,
    in_flight: BTreeMap<DeliveryId, Position>,
}

impl Member {
    fn has_room(&self) -> bool {
        self.in_flight.len() < self.max_in_flight
    }
}

/// A group's delivery state. See the module docs.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    settings: GroupSettings,
    cursor: Position,
    window: BTreeMap<Position, Pending>,
    members: BTreeMap<MemberId, Member>,
    last_member: u64,
    /// The member round robin served last.
    turn: Option<MemberId>,
}

impl Dispatcher {
    /// A dispatcher whose next log position is `cursor`, with an empty window: restore the
    /// outstanding entries of a [`Progress`] with [`admit`](Dispatcher::admit).
    pub fn new(settings: GroupSettings, cursor: Position) -> Dispatcher {
        Dispatcher {
            settings,
            cursor: cursor.max(Position(1)),
            window: BTreeMap::new(),
            members: BTreeMap::new(),
            last_member: 0,
            turn: None,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &GroupSettings {
        &self.settings
    }

    /// New settings, for deliveries from now on (a window over a lowered `max_ack_pending`
    /// drains before it takes more).
    pub fn set_settings(&mut self, settings: GroupSettings) {
        self.settings = settings;
    }

    /// The next log position to read.
    pub fn cursor(&self) -> Position {
        self.cursor
    }

    /// The log was read up to `next` (exclusive): entries not admitted before it did not match.
    pub fn advance(&mut self, next: Position) {
        self.cursor = self.cursor.max(next);
    }

    /// How many more entries the window takes.
    pub fn room(&self) -> usize {
        (self.settings.max_ack_pending as usize).saturating_sub(self.window.len())
    }

    /// True if the entry at `position` is in the window.
    pub fn holds(&self, position: Position) -> bool {
        self.window.contains_key(&position)
    }

    /// Takes an entry into the window, deliverable now. `attempts` is what it had before (a
    /// restored one keeps its count); `key` is the actor it is pinned by, if it names one.
    pub fn admit(
        &mut self,
        position: Position,
        key: Option<ActorId>,
        source: Source,
        attempts: u32,
        now: Instant,
    ) {
        let key = key.filter(|_| self.settings.dispatch == Dispatch::PinnedByActor);
        self.window.entry(position).or_insert(Pending {
            key,
            source,
            attempts,
            state: State::Waiting {
                not_before: now,
                avoid: None,
            },
        });
    }

    /// A new member that holds at most `max_in_flight` deliveries (0, or more than the
    /// window, = `max_ack_pending`: no member can hold more than the window anyway).
    pub fn join(&mut self, max_in_flight: usize) -> MemberId {
        self.last_member += 1;
        let id = MemberId(self.last_member);
        let window = self.settings.max_ack_pending as usize;
        let max_in_flight = match max_in_flight {
            0 => window,
            n => n.min(window),
        };
        self.members.insert(
            id,
            Member {
                max_in_flight,
                issued: 0,
                in_flight: BTreeMap::new(),
            },
        );
        id
    }

    /// A member left: what it held is deliverable again at once, or parked if that was its
    /// last attempt.
    pub fn leave(&mut self, member: MemberId, now: Instant) -> Vec<Parked> {
        let Some(gone) = self.members.remove(&member) else {
            return Vec::new();
        };
        gone.in_flight
            .into_values()
            .filter_map(|position| self.fail(position, now, None))
            .collect()
    }

    /// Deliveries to make now: each waiting entry whose time has come goes to a member with
    /// room, by the group's dispatch.
    pub fn dispatch(&mut self, now: Instant) -> Vec<Assignment> {
        let mut assignments = Vec::new();
        if !self.members.values().any(Member::has_room) {
            return assignments;
        }
        let pinned = self.settings.dispatch == Dispatch::PinnedByActor;
        // Pinned: the member holding each actor's entries, and the actors whose next entry
        // must wait (so that a later one does not overtake it).
        let mut holder: HashMap<ActorId, MemberId> = HashMap::new();
        let mut blocked: HashSet<ActorId> = HashSet::new();
        if pinned {
            for pending in self.window.values() {
                if let (Some(key), State::InFlight { member, .. }) = (&pending.key, pending.state) {
                    holder.insert(key.clone(), member);
                }
            }
        }
        let positions: Vec<Position> = self.window.keys().copied().collect();
        for position in positions {
            let Some(pending) = self.window.get(&position) else {
                continue;
            };
            let State::Waiting { not_before, avoid } = pending.state else {
                continue;
            };
            let key = if pinned { pending.key.clone() } else { None };
            let target = match key {
                Some(key) => {
                    if blocked.contains(&key) {
                        continue;
                    }
                    let target = holder.get(&key).copied().or_else(|| self.chosen_by(&key));
                    match target {
                        Some(member) if not_before <= now && self.has_room(member) => {
                            holder.insert(key, member);
                            Some(member)
                        }
                        _ => {
                            blocked.insert(key);
                            None
                        }
                    }
                }
                None if not_before > now => None,
                None => self.next_in_turn(avoid),
            };
            if let Some(member) = target {
                assignments.push(self.assign(position, member, now));
                if !self.members.values().any(Member::has_room) {
                    break;
                }
            }
        }
        assignments
    }

    /// Undoes an assignment its member could not be sent (it went away meanwhile): the entry
    /// waits again, the attempt not counted.
    pub fn unassign(&mut self, assignment: &Assignment, now: Instant) {
        if let Some(member) = self.members.get_mut(&assignment.member) {
            member.in_flight.remove(&assignment.delivery);
        }
        if let Some(pending) = self.window.get_mut(&assignment.position) {
            pending.attempts = pending.attempts.saturating_sub(1);
            pending.state = State::Waiting {
                not_before: now,
                avoid: None,
            };
        }
    }

    /// A member acked a delivery.
    pub fn ack(&mut self, member: MemberId, delivery: DeliveryId) -> AckOutcome {
        let Some(m) = self.members.get_mut(&member) else {
            return AckOutcome::Unknown;
        };
        if delivery.0 == 0 || delivery.0 > m.issued {
            return AckOutcome::Unknown;
        }
        let Some(position) = m.in_flight.remove(&delivery) else {
            return AckOutcome::Late;
        };
        match self.window.remove(&position) {
            Some(pending) => AckOutcome::Acked {
                position,
                source: pending.source,
            },
            None => AckOutcome::Late,
        }
    }

    /// A member nacked a delivery, asking for at least `delay` before the next one.
    pub fn nack(
        &mut self,
        member: MemberId,
        delivery: DeliveryId,
        delay: Duration,
        now: Instant,
    ) -> NackOutcome {
        let Some(m) = self.members.get_mut(&member) else {
            return NackOutcome::Unknown;
        };
        if delivery.0 == 0 || delivery.0 > m.issued {
            return NackOutcome::Unknown;
        }
        let Some(position) = m.in_flight.remove(&delivery) else {
            return NackOutcome::Late;
        };
        let attempts = self.window.get(&position).map_or(0, |p| p.attempts);
        let wait = delay.max(self.settings.backoff_after(attempts));
        match self.fail(position, now + wait, Some(member)) {
            Some(parked) => NackOutcome::Parked(parked),
            None => NackOutcome::Requeued(position),
        }
    }

    /// Deliveries whose ack_wait ran out by `now` go back to waiting (after the back-off,
    /// preferably for another member), or are parked if that was their last attempt.
    pub fn expire(&mut self, now: Instant) -> (usize, Vec<Parked>) {
        let expired: Vec<(Position, MemberId, DeliveryId, u32)> = self
            .window
            .iter()
            .filter_map(|(position, pending)| match pending.state {
                State::InFlight {
                    member,
                    delivery,
                    deadline,
                } if deadline <= now => Some((*position, member, delivery, pending.attempts)),
                _ => None,
            })
            .collect();
        let mut parked = Vec::new();
        for (position, member, delivery, attempts) in &expired {
            if let Some(m) = self.members.get_mut(member) {
                m.in_flight.remove(delivery);
            }
            let not_before = now + self.settings.backoff_after(*attempts);
            parked.extend(self.fail(*position, not_before, Some(*member)));
        }
        (expired.len() - parked.len(), parked)
    }

    /// When something is next due: an ack_wait running out or a wait ending.
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        self.window
            .values()
            .filter_map(|pending| match pending.state {
                State::InFlight { deadline, .. } => Some(deadline),
                State::Waiting { not_before, .. } if not_before > now => Some(not_before),
                State::Waiting { .. } => None,
            })
            .min()
    }

    /// What must survive a restart.
    pub fn progress(&self) -> Progress {
        Progress {
            cursor: self.cursor,
            outstanding: self
                .window
                .iter()
                .filter(|(_, p)| p.source == Source::Log)
                .map(|(position, p)| (*position, p.attempts))
                .collect(),
        }
    }

    /// Every matching log entry at or below this position is acked or parked.
    pub fn acked_through(&self) -> Position {
        let first_outstanding = self
            .window
            .iter()
            .find(|(_, p)| p.source == Source::Log)
            .map_or(self.cursor, |(position, _)| *position);
        Position(first_outstanding.0.saturating_sub(1))
    }

    /// Entries in flight at members.
    pub fn in_flight(&self) -> usize {
        self.members.values().map(|m| m.in_flight.len()).sum()
    }

    /// Entries in the window from each source: (log, replay).
    pub fn outstanding(&self) -> (usize, usize) {
        let replay = self
            .window
            .values()
            .filter(|p| p.source == Source::Replay)
            .count();
        (self.window.len() - replay, replay)
    }

    /// Each member with what it holds and may hold.
    pub fn members(&self) -> Vec<(MemberId, usize, usize)> {
        self.members
            .iter()
            .map(|(id, m)| (*id, m.in_flight.len(), m.max_in_flight))
            .collect()
    }

    fn has_room(&self, member: MemberId) -> bool {
        self.members.get(&member).is_some_and(Member::has_room)
    }

    /// Rendezvous hashing: the member an actor with nothing outstanding goes to. Stable while
    /// the members stay the same; a member joining takes over only the actors it wins.
    fn chosen_by(&self, key: &ActorId) -> Option<MemberId> {
        self.members.keys().copied().max_by_key(|member| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut hasher);
            member.hash(&mut hasher);
            hasher.finish()
        })
    }

    /// Round robin: the first member with room after the one served last, `avoid` only if
    /// no other has room.
    fn next_in_turn(&mut self, avoid: Option<MemberId>) -> Option<MemberId> {
        let after = self.turn.map_or(0, |m| m.0);
        let in_turn = self
            .members
            .range(MemberId(after + 1)..)
            .chain(self.members.range(..=MemberId(after)));
        let mut fallback = None;
        for (id, member) in in_turn {
            if !member.has_room() {
                continue;
            }
            if Some(*id) == avoid {
                fallback = Some(*id);
                continue;
            }
            self.turn = Some(*id);
            return Some(*id);
        }
        if fallback.is_some() {
            self.turn = fallback;
        }
        fallback
    }

    fn assign(&mut self, position: Position, member: MemberId, now: Instant) -> Assignment {
        let deadline = now + self.settings.ack_wait;
        let m = self
            .members
            .get_mut(&member)
            .expect("assign is only called with a member that has room");
        m.issued += 1;
        let delivery = DeliveryId(m.issued);
        m.in_flight.insert(delivery, position);
        let pending = self
            .window
            .get_mut(&position)
            .expect("assign is only called with a position of the window");
        pending.attempts += 1;
        pending.state = State::InFlight {
            member,
            delivery,
            deadline,
        };
        Assignment {
            member,
            delivery,
            position,
            attempt: pending.attempts,
        }
    }

    /// A delivery failed (its member nacked, timed out or left): the entry waits until
    /// `not_before`, or leaves the window parked if it had its last attempt.
    fn fail(
        &mut self,
        position: Position,
        not_before: Instant,
        avoid: Option<MemberId>,
    ) -> Option<Parked> {
        let pending = self.window.get_mut(&position)?;
        if pending.attempts >= self.settings.max_deliver {
            let pending = self.window.remove(&position)?;
            return Some(Parked {
                position,
                attempts: pending.attempts,
                source: pending.source,
            });
        }
        pending.state = State::Waiting { not_before, avoid };
        None
    }
}

#[cfg(test)]
mod tests;
