//! The one place where errors become gRPC statuses.
//!
//! Each arm picks the code a client can act on: INVALID_ARGUMENT means "fix the request",
//! FAILED_PRECONDITION "append what it depends on first", ALREADY_EXISTS "this id is taken",
//! ABORTED "re-read and retry", OUT_OF_RANGE "ask within the log", UNAVAILABLE "retry later or elsewhere", INTERNAL "tell an
//! operator", DATA_LOSS "this data is damaged: restore it, retrying will not help". Messages are
//! the domain's own, which say what to fix (for damage: where it is).

use tonic::Status;

use crate::domain::{
    AppendRejection, InvalidField, NameRejection, QueryRejection, SubscriptionRejection,
};
use crate::store::{AppendError, StoreError};

impl From<InvalidField> for Status {
    fn from(error: InvalidField) -> Status {
        Status::invalid_argument(error.to_string())
    }
}

impl From<AppendRejection> for Status {
    fn from(rejection: AppendRejection) -> Status {
        let message = rejection.to_string();
        match rejection {
            AppendRejection::HeadMismatch { .. } => Status::aborted(message),
            AppendRejection::IdTaken { .. } => Status::already_exists(message),
            AppendRejection::IdTwiceInBatch { .. } => Status::invalid_argument(message),
            AppendRejection::MissingReference { .. } => Status::failed_precondition(message),
        }
    }
}

impl From<SubscriptionRejection> for Status {
    fn from(rejection: SubscriptionRejection) -> Status {
        let message = rejection.to_string();
        match rejection {
            SubscriptionRejection::Unknown(_) => Status::not_found(message),
            SubscriptionRejection::BeyondHead { .. }
            | SubscriptionRejection::StartBeyondHead { .. }
            | SubscriptionRejection::FilterMismatch(_) => Status::failed_precondition(message),
            SubscriptionRejection::NotOwner { .. } => Status::permission_denied(message),
            SubscriptionRejection::TooMany { .. } => Status::resource_exhausted(message),
        }
    }
}

impl From<NameRejection> for Status {
    fn from(rejection: NameRejection) -> Status {
        let message = rejection.to_string();
        match rejection {
            NameRejection::Ambiguous { .. } => Status::invalid_argument(message),
            NameRejection::Unknown { .. } => Status::not_found(message),
        }
    }
}

impl From<QueryRejection> for Status {
    fn from(rejection: QueryRejection) -> Status {
        match rejection {
            QueryRejection::AsOfBeyondHead { .. } | QueryRejection::TokenBeyondHead { .. } => {
                Status::out_of_range(rejection.to_string())
            }
        }
    }
}

/// What a client is told of a failure inside the server's storage: it is for an operator, who
/// finds the details in the log line of the same call (its `x-request-id`).
pub const STORAGE_FAILED: &str = "the server's storage failed on this call; an operator finds \
     the cause in the server log under the call's x-request-id";

impl From<StoreError> for Status {
    fn from(error: StoreError) -> Status {
        let message = error.to_string();
        match error {
            StoreError::Closed | StoreError::Locked { .. } => Status::unavailable(message),
            // The engine's words (an OS error, a path) go to the log, not to clients.
            StoreError::Poisoned(_) => {
                tracing::error!(%message, "append refused: the store is poisoned");
                Status::unavailable(
                    "the server stopped accepting writes after a write to its disk failed; reads \
                     go on; an operator must fix the cause (the server log says what it was) and \
                     restart the server",
                )
            }
            StoreError::DiskFull { .. } => Status::resource_exhausted(message),
            StoreError::Corrupt { .. } => {
                tracing::error!(%message, "stored data is damaged");
                Status::data_loss(message)
            }
            StoreError::Engine(_) | StoreError::Encode(_) | StoreError::Task(_) => {
                tracing::error!(%message, "storage failure");
                Status::internal(STORAGE_FAILED)
            }
        }
    }
}

impl From<AppendError> for Status {
    fn from(error: AppendError) -> Status {
        match error {
            AppendError::Rejected(rejection) => rejection.into(),
            AppendError::Store(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn storage_failures_reach_clients_without_the_engines_words() {
        let os = "IO error: Os { code: 28, kind: StorageFull, message: \"No space left\" }";
        let internal = Status::from(StoreError::Engine(os.into()));
        assert_eq!(internal.code(), Code::Internal);
        assert_eq!(internal.message(), STORAGE_FAILED);
        let poisoned = Status::from(StoreError::Poisoned(os.into()));
        assert_eq!(poisoned.code(), Code::Unavailable);
        assert!(!poisoned.message().contains("Os {"), "{poisoned:?}");
        assert!(poisoned.message().contains("restart"), "{poisoned:?}");
        let full = Status::from(StoreError::DiskFull {
            free: 3 << 20,
            needed: 300 << 20,
            reserve: 256 << 20,
        });
        assert_eq!(full.code(), Code::ResourceExhausted);
        assert!(
            full.message()
                .contains("3.0 MiB free, 256.0 MiB must stay free"),
            "{full:?}"
        );
    }
}
