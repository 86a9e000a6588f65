//! Read-your-writes for the calls the derived indexes answer (queries, the relation graph,
//! actor names): each waits until the indexes cover what it must see before reading them.

use std::time::Duration;

use tonic::{Code, Status};

use crate::domain::Position;
use crate::ops::grpc::refusal;
use crate::ops::reason::Reason;
use crate::store::Store;

/// How long a call waits for the indexes at most. They follow the head within a batch or two
/// in normal operation; only a rebuild after an upgrade takes longer, and then a client is
/// better told so than kept waiting.
pub const MAX_INDEX_WAIT: Duration = Duration::from_secs(30);

/// Waits until the indexes cover `min_position` and the head as it is now, whichever is later:
/// the call then sees every entry acknowledged before it arrived, and the one its client names.
/// UNAVAILABLE (retry) when they do not get there within [`MAX_INDEX_WAIT`].
pub async fn indexes_cover(store: &Store, min_position: u64) -> Result<Position, Status> {
    let wanted = Position(min_position).max(store.head());
    if store.indexed() >= wanted {
        return Ok(wanted);
    }
    store
        .wait_indexed(wanted, MAX_INDEX_WAIT)
        .await
        .map_err(|lag| refusal(Code::Unavailable, lag.to_string(), Reason::IndexBehind, []))
}
