//! The one place where errors become gRPC statuses.
//!
//! Each arm picks the code a client can act on: INVALID_ARGUMENT means "fix the request",
//! FAILED_PRECONDITION "append what it depends on first", ALREADY_EXISTS "this id is taken",
//! ABORTED "re-read and retry", OUT_OF_RANGE "ask within the log", UNAVAILABLE "retry later or elsewhere", INTERNAL "tell an
//! operator", DATA_LOSS "this data is damaged: restore it, retrying will not help". Messages are
//! the domain's own, which say what to fix (for damage: where it is).

use tonic::Status;

use crate::domain::{AppendRejection, InvalidField, QueryRejection, SubscriptionRejection};
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

impl From<QueryRejection> for Status {
    fn from(rejection: QueryRejection) -> Status {
        match rejection {
            QueryRejection::AsOfBeyondHead { .. } | QueryRejection::TokenBeyondHead { .. } => {
                Status::out_of_range(rejection.to_string())
            }
        }
    }
}

impl From<StoreError> for Status {
    fn from(error: StoreError) -> Status {
        let message = error.to_string();
        match error {
            StoreError::Closed | StoreError::Poisoned(_) | StoreError::Locked { .. } => {
                Status::unavailable(message)
            }
            StoreError::Corrupt { .. } => {
                tracing::error!(%message, "stored data is damaged");
                Status::data_loss(message)
            }
            StoreError::Engine(_) | StoreError::Encode(_) | StoreError::Task(_) => {
                tracing::error!(%message, "storage failure");
                Status::internal(message)
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
