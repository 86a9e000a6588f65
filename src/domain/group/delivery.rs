//! The values the dispatcher takes and hands back: member and delivery ids, assignments,
//! parked entries, the outcomes of acks and nacks, and a group's [`Progress`]. Plain data, kept
//! apart from the rules in `dispatch` that produce them.

use crate::domain::ids::Position;

/// A member of a group, unique while the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(pub u64);

/// A delivery to one member: 1, 2, 3... on each member's stream, so a member can only ack
/// what it was sent, and an id it was never sent is told apart from one that expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(pub u64);

/// Where an outstanding entry came from: the log (its position counts in [`Progress`]) or the
/// parked entries an admin replayed (kept durably apart until acked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Read from the log at the cursor.
    Log,
    /// Given back from the parked entries.
    Replay,
}

/// Deliver this entry to this member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// To whom.
    pub member: MemberId,
    /// The id the member acks it with.
    pub delivery: DeliveryId,
    /// Which entry.
    pub position: Position,
    /// 1 for the first delivery, and so on.
    pub attempt: u32,
}

/// An entry that failed `max_deliver` times and left the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parked {
    /// Which entry.
    pub position: Position,
    /// Deliveries it had.
    pub attempts: u32,
    /// Where it came from.
    pub source: Source,
}

/// What an ack did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// The entry is done and left the window.
    Acked {
        /// Which entry.
        position: Position,
        /// Where it came from.
        source: Source,
    },
    /// The delivery was sent but is no longer outstanding (expired, or acked already).
    Late,
    /// This member was never sent this delivery id.
    Unknown,
}

/// What a nack did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NackOutcome {
    /// The entry waits for another delivery.
    Requeued(Position),
    /// It had its last attempt.
    Parked(Parked),
    /// The delivery is no longer outstanding.
    Late,
    /// This member was never sent this delivery id.
    Unknown,
}

/// What a group must remember across a restart: every matching log entry before `cursor` that
/// is not in `outstanding` is acked or parked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The next log position to read.
    pub cursor: Position,
    /// Log entries read and not acked, with the deliveries each has had, in position order.
    pub outstanding: Vec<(Position, u32)>,
}
