//! Consumer groups: what a group is (a name, a filter, a start and its delivery settings), the
//! limits of its settings, and why a request about one is refused. The rules of delivery (who
//! gets which entry, acks, redelivery, parking) are in [`dispatch`].
//!
//! No protobuf and no sled here: the service maps the wire onto these types, the store keeps
//! them.

pub mod delivery;
pub mod dispatch;

use std::time::{Duration, SystemTime};

use super::error::InvalidField;
use super::filter::EntryFilter;
use super::ids::{ActorId, EntryId, Position};
use super::model::EntryBody;

pub use dispatch::{
    AckOutcome, Assignment, DeliveryId, Dispatcher, MemberId, NackOutcome, Parked, Progress, Source,
};

/// A group's name. Same alphabet and length as entry ids, so names are safe in keys, logs and
/// URLs; it cannot contain the 0x00 byte that ends a name in the store's keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupName(String);

impl GroupName {
    /// Checks the name's syntax.
    pub fn parse(text: &str) -> Result<GroupName, String> {
        EntryId::parse(text).map(|id| GroupName(id.as_str().to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for GroupName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a group picks the member an entry goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// The next member with room, in turn.
    RoundRobin,
    /// Entries naming an actor stay with one member while it holds that actor's entries, and
    /// an actor's entries go out in position order.
    PinnedByActor,
}

/// How a group delivers, checked by [`GroupSettings::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// Round robin or pinned.
    pub dispatch: Dispatch,
    /// How long a member has to answer for a delivery.
    pub ack_wait: Duration,
    /// Deliveries of one entry before it is parked.
    pub max_deliver: u32,
    /// Waits before redeliveries: item `n - 1` after the `n`th failed attempt, the last one
    /// after every later one.
    pub backoff: Vec<Duration>,
    /// Entries outstanding at most: the bound of the group's memory and of what a member that
    /// never acks can hold up.
    pub max_ack_pending: u32,
}

/// Default `ack_wait`: long enough for real work, short enough to notice a hung worker.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
/// Default `max_deliver`.
pub const DEFAULT_MAX_DELIVER: u32 = 5;
/// Default `max_ack_pending`.
pub const DEFAULT_MAX_ACK_PENDING: u32 = 1000;
/// Shortest `ack_wait`: below it a timer tick and a network round trip are the same size.
pub const MIN_ACK_WAIT: Duration = Duration::from_millis(100);
/// Longest `ack_wait`, back-off item or nack delay.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Largest `max_deliver`.
pub const MAX_MAX_DELIVER: u32 = 100;
/// Largest `max_ack_pending`: each outstanding entry is held in memory.
pub const MAX_MAX_ACK_PENDING: u32 = 10_000;
/// Most back-off items.
pub const MAX_BACKOFF_ITEMS: usize = 16;
/// Groups a server keeps at most: each has a task and durable state.
pub const MAX_GROUPS: usize = 256;

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            dispatch: Dispatch::RoundRobin,
            ack_wait: DEFAULT_ACK_WAIT,
            max_deliver: DEFAULT_MAX_DELIVER,
            backoff: Vec::new(),
            max_ack_pending: DEFAULT_MAX_ACK_PENDING,
        }
    }
}

impl GroupSettings {
    /// Checks every limit; the field paths are under `settings.`.
    pub fn check(&self) -> Result<(), InvalidField> {
        if !(MIN_ACK_WAIT..=MAX_WAIT).contains(&self.ack_wait) {
            return Err(InvalidField::new(
                "settings.ack_wait",
                format!(
                    "is {} ms; give 100 ms to 1 h (unset = 30 s)",
                    self.ack_wait.as_millis()
                ),
            ));
        }
        if !(1..=MAX_MAX_DELIVER).contains(&self.max_deliver) {
            return Err(InvalidField::new(
                "settings.max_deliver",
                format!(
                    "is {}; give 1 to {MAX_MAX_DELIVER} (0 = {DEFAULT_MAX_DELIVER})",
                    self.max_deliver
                ),
            ));
        }
        if !(1..=MAX_MAX_ACK_PENDING).contains(&self.max_ack_pending) {
            return Err(InvalidField::new(
                "settings.max_ack_pending",
                format!(
                    "is {}; give 1 to {MAX_MAX_ACK_PENDING} (0 = {DEFAULT_MAX_ACK_PENDING})",
                    self.max_ack_pending
                ),
            ));
        }
        if self.backoff.len() > MAX_BACKOFF_ITEMS {
            return Err(InvalidField::of(
                super::error::FieldProblem::TooLarge,
                "settings.backoff",
                format!(
                    "has {} items; give at most {MAX_BACKOFF_ITEMS}",
                    self.backoff.len()
                ),
            ));
        }
        if let Some(i) = self.backoff.iter().position(|d| *d > MAX_WAIT) {
            return Err(InvalidField::new(
                format!("settings.backoff[{i}]"),
                "is longer than 1 h; give at most 1 h",
            ));
        }
        Ok(())
    }

    /// The wait before the delivery that follows `attempts` failed ones.
    pub fn backoff_after(&self, attempts: u32) -> Duration {
        let index = (attempts.max(1) - 1) as usize;
        self.backoff
            .get(index)
            .or(self.backoff.last())
            .copied()
            .unwrap_or(Duration::ZERO)
    }
}

/// The actor an entry is pinned by: an actor entry's own id, else the first actor it refers
/// to (a participant, a claim's subject); none for an entry that names no actor.
pub fn pin_key(body: &EntryBody) -> Option<ActorId> {
    match body {
        EntryBody::Actor(actor) => Some(actor.id.clone()),
        other => other
            .actor_references()
            .first()
            .map(|(_, id)| (*id).clone()),
    }
}

/// What the store keeps of a group besides its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    /// Which entries it delivers, fixed at creation (actors as ids).
    pub filter: EntryFilter,
    /// The first position it considered.
    pub start: Position,
    /// How it delivers.
    pub settings: GroupSettings,
    /// When it was created.
    pub created_at: SystemTime,
}

/// Why a request about a group was refused. Messages say what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupRejection {
    /// No group has this name.
    #[error(
        "no consumer group is named \"{0}\"; create it first (CreateGroup, eventlog groups create)"
    )]
    Unknown(String),
    /// The name is taken.
    #[error("a consumer group named \"{0}\" exists; choose another name, or delete it first")]
    Exists(String),
    /// The server holds as many groups as it may.
    #[error("the server already has {0} consumer groups, the limit; delete unused ones first")]
    TooMany(usize),
    /// A group would start past the end of the log.
    #[error("from_position {start} is beyond the head of the log ({head}) plus one; start at most at the next position (from_end)")]
    StartBeyondHead {
        /// The position asked for.
        start: Position,
        /// The head.
        head: Position,
    },
    /// An ack or nack of a delivery id this stream never sent.
    #[error("delivery id {0} was never sent on this stream; ack or nack the delivery_id of a Delivery you received")]
    UnknownDelivery(u64),
    /// A member's stream did not start with `join`, or sent it twice.
    #[error("{0}")]
    Protocol(&'static str),
    /// The group was deleted while the member was in it.
    #[error("the consumer group \"{0}\" was deleted")]
    Deleted(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_each_limit_is_checked_with_its_field() {
        assert!(GroupSettings::default().check().is_ok());
        let cases = [
            (
                GroupSettings {
                    ack_wait: Duration::from_millis(10),
                    ..GroupSettings::default()
                },
                "settings.ack_wait",
            ),
            (
                GroupSettings {
                    max_deliver: 0,
                    ..GroupSettings::default()
                },
                "settings.max_deliver",
            ),
            (
                GroupSettings {
                    max_ack_pending: MAX_MAX_ACK_PENDING + 1,
                    ..GroupSettings::default()
                },
                "settings.max_ack_pending",
            ),
            (
                GroupSettings {
                    backoff: vec![Duration::from_secs(1); MAX_BACKOFF_ITEMS + 1],
                    ..GroupSettings::default()
                },
                "settings.backoff",
            ),
            (
                GroupSettings {
                    backoff: vec![Duration::from_secs(1), Duration::from_secs(7200)],
                    ..GroupSettings::default()
                },
                "settings.backoff[1]",
            ),
        ];
        for (settings, field) in cases {
            let error = settings.check().expect_err(field);
            assert_eq!(error.field, field);
        }
    }

    #[test]
    fn backoff_steps_through_its_items_then_keeps_the_last() {
        let settings = GroupSettings {
            backoff: vec![Duration::from_millis(10), Duration::from_millis(50)],
            ..GroupSettings::default()
        };
        assert_eq!(settings.backoff_after(1), Duration::from_millis(10));
        assert_eq!(settings.backoff_after(2), Duration::from_millis(50));
        assert_eq!(settings.backoff_after(9), Duration::from_millis(50));
        assert_eq!(GroupSettings::default().backoff_after(3), Duration::ZERO);
    }

    #[test]
    fn names_take_the_id_alphabet() {
        assert!(GroupName::parse("enrich-1").is_ok());
        assert!(GroupName::parse("").is_err());
        assert!(GroupName::parse("a\0b").is_err());
    }
}
