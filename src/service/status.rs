//! The one place where errors become gRPC statuses.
//!
//! Each arm picks the code a client can act on: INVALID_ARGUMENT means "fix the request",
//! FAILED_PRECONDITION "append what it depends on first", ALREADY_EXISTS "this id is taken",
//! ABORTED "re-read and retry", OUT_OF_RANGE "ask within the log", UNAVAILABLE "retry later or elsewhere", INTERNAL "tell an
//! operator", DATA_LOSS "this data is damaged: restore it, retrying will not help". Messages are
//! the domain's own, which say what to fix (for damage: where it is).

use tonic::{Code, Status};
use tonic_types::ErrorDetails;

use crate::cluster::ClusterError;
use crate::domain::group::GroupRejection;
use crate::domain::{
    AppendRejection, EntryKind, FieldProblem, InvalidField, NameRejection, QueryRejection,
    SubscriptionRejection,
};
use crate::groups::{GroupEnd, GroupError};
use crate::ops::grpc::{refusal, refusal_with};
use crate::ops::reason::Reason;
use crate::store::{AppendError, StoreError};

impl From<InvalidField> for Status {
    fn from(error: InvalidField) -> Status {
        let message = error.to_string();
        let InvalidField {
            field,
            reason,
            problem,
        } = error;
        let mut metadata = vec![("field", field.clone())];
        metadata.extend(entry_index_of(&field).map(|i| ("entry_index", i.to_string())));
        refusal_with(
            Code::InvalidArgument,
            message,
            field_reason(problem),
            metadata,
            ErrorDetails::with_bad_request_violation(field, reason),
        )
    }
}

/// The stable name of each kind of broken field rule.
pub fn field_reason(problem: FieldProblem) -> Reason {
    match problem {
        FieldProblem::Missing => Reason::MissingField,
        FieldProblem::ServerAssigned => Reason::ServerAssignedField,
        FieldProblem::InvalidDate => Reason::InvalidDate,
        FieldProblem::InvalidId => Reason::InvalidId,
        FieldProblem::UnknownRelation => Reason::UnknownRelation,
        FieldProblem::TooLarge => Reason::TooLarge,
        FieldProblem::InvalidPageToken => Reason::InvalidPageToken,
        FieldProblem::Invalid => Reason::InvalidValue,
    }
}

/// `3` for a path `entries[3]...`: the entry of a batch a field error is about.
fn entry_index_of(field: &str) -> Option<usize> {
    let rest = field.strip_prefix("entries[")?;
    rest[..rest.find(']')?].parse().ok()
}

impl From<AppendRejection> for Status {
    fn from(rejection: AppendRejection) -> Status {
        let message = rejection.to_string();
        let index = rejection
            .entry_index()
            .map(|i| ("entry_index", i.to_string()));
        match rejection {
            AppendRejection::HeadMismatch { expected, actual } => refusal_with(
                Code::Aborted,
                message,
                Reason::HeadMismatch,
                [
                    ("expected_head", expected.0.to_string()),
                    ("head", actual.0.to_string()),
                ],
                ErrorDetails::with_precondition_failure_violation(
                    "HEAD",
                    "expected_head",
                    format!("the head is {actual}"),
                ),
            ),
            AppendRejection::IdTaken {
                index: _,
                id,
                existing_kind,
                position,
            } => refusal(
                Code::AlreadyExists,
                message,
                Reason::IdTaken,
                index.into_iter().chain([
                    ("id", id.to_string()),
                    ("existing_kind", existing_kind.to_string()),
                    ("position", position.0.to_string()),
                ]),
            ),
            AppendRejection::IdTwiceInBatch {
                index: at,
                earlier,
                id,
                earlier_kind: _,
            } => refusal_with(
                Code::InvalidArgument,
                message,
                Reason::IdTwiceInBatch,
                index.into_iter().chain([
                    ("earlier_index", earlier.to_string()),
                    ("id", id.to_string()),
                ]),
                ErrorDetails::with_bad_request_violation(
                    format!("entries[{at}]"),
                    format!("has the id of entries[{earlier}]"),
                ),
            ),
            AppendRejection::MissingReference {
                index: at,
                field,
                id,
                wanted,
                found,
            } => {
                let reason = match (wanted, found) {
                    (_, Some(_)) => Reason::WrongReferenceKind,
                    (EntryKind::Actor, None) => Reason::UnknownActor,
                    (_, None) => Reason::UnknownEntry,
                };
                let path = format!("entries[{at}].{field}");
                let description = message
                    .strip_prefix(&format!("{path}: "))
                    .unwrap_or(&message)
                    .to_string();
                refusal_with(
                    Code::FailedPrecondition,
                    message.clone(),
                    reason,
                    index.into_iter().chain([
                        ("field", path.clone()),
                        ("id", id.to_string()),
                        ("wanted_kind", wanted.as_str().to_string()),
                    ]),
                    ErrorDetails::with_precondition_failure_violation(
                        "REFERENCE",
                        path,
                        description,
                    ),
                )
            }
        }
    }
}

impl From<SubscriptionRejection> for Status {
    fn from(rejection: SubscriptionRejection) -> Status {
        let message = rejection.to_string();
        match rejection {
            SubscriptionRejection::Unknown(name) => refusal(
                Code::NotFound,
                message,
                Reason::UnknownSubscription,
                [("subscription", name)],
            ),
            SubscriptionRejection::StartBeyondHead { start, head } => refusal(
                Code::FailedPrecondition,
                message,
                Reason::StartBeyondHead,
                [
                    ("from_position", start.0.to_string()),
                    ("head", head.0.to_string()),
                ],
            ),
            SubscriptionRejection::BeyondHead { position, head } => refusal(
                Code::FailedPrecondition,
                message,
                Reason::CheckpointBeyondHead,
                [
                    ("position", position.0.to_string()),
                    ("head", head.0.to_string()),
                ],
            ),
            SubscriptionRejection::FilterMismatch(name) => refusal_with(
                Code::FailedPrecondition,
                message,
                Reason::FilterMismatch,
                [("subscription", name.clone())],
                ErrorDetails::with_precondition_failure_violation(
                    "SUBSCRIPTION",
                    name,
                    "exists with a different filter",
                ),
            ),
            SubscriptionRejection::NotOwner { name, owner } => refusal(
                Code::PermissionDenied,
                message,
                Reason::SubscriptionNotOwned,
                [("subscription", name), ("owner", owner)],
            ),
            SubscriptionRejection::TooMany { owner, max } => refusal(
                Code::ResourceExhausted,
                message,
                Reason::TooManySubscriptions,
                [("owner", owner), ("limit", max.to_string())],
            ),
        }
    }
}

impl From<NameRejection> for Status {
    fn from(rejection: NameRejection) -> Status {
        let message = rejection.to_string();
        let ids = |actors: &[(crate::domain::EntryId, String)]| {
            actors
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        match rejection {
            NameRejection::Ambiguous {
                field,
                name: _,
                candidates,
                more,
            } => refusal_with(
                Code::InvalidArgument,
                message,
                Reason::AmbiguousActor,
                [
                    ("field", field.clone()),
                    ("candidates", ids(&candidates)),
                    ("more_candidates", more.to_string()),
                ],
                ErrorDetails::with_bad_request_violation(
                    field,
                    "names several actors; give one of their ids",
                ),
            ),
            NameRejection::Unknown {
                field,
                name: _,
                suggestions,
            } => refusal(
                Code::NotFound,
                message,
                Reason::UnknownActor,
                [("field", field), ("suggestions", ids(&suggestions))],
            ),
        }
    }
}

impl From<QueryRejection> for Status {
    fn from(rejection: QueryRejection) -> Status {
        let message = rejection.to_string();
        match rejection {
            QueryRejection::AsOfBeyondHead { as_of, head } => refusal(
                Code::OutOfRange,
                message,
                Reason::AsOfBeyondHead,
                [
                    ("as_of_position", as_of.0.to_string()),
                    ("head", head.0.to_string()),
                ],
            ),
            QueryRejection::TokenBeyondHead { snapshot, head } => refusal(
                Code::OutOfRange,
                message,
                Reason::PageTokenBeyondHead,
                [
                    ("snapshot", snapshot.0.to_string()),
                    ("head", head.0.to_string()),
                ],
            ),
        }
    }
}

/// What a client is told of a failure inside the server's storage: it is for an operator, who
/// finds the details in the log line of the same call (its `x-request-id`).
pub const STORAGE_FAILED: &str = "the server's storage failed on this call; an operator finds \
     the cause in the server log under the call's x-request-id";

impl From<GroupRejection> for Status {
    fn from(rejection: GroupRejection) -> Status {
        let message = rejection.to_string();
        match rejection {
            GroupRejection::Unknown(group) => refusal(
                Code::NotFound,
                message,
                Reason::UnknownGroup,
                [("group", group)],
            ),
            GroupRejection::Exists(group) => refusal(
                Code::AlreadyExists,
                message,
                Reason::GroupExists,
                [("group", group)],
            ),
            GroupRejection::TooMany(max) => refusal(
                Code::ResourceExhausted,
                message,
                Reason::TooManyGroups,
                [("max", max.to_string())],
            ),
            GroupRejection::StartBeyondHead { start, head } => refusal(
                Code::FailedPrecondition,
                message,
                Reason::StartBeyondHead,
                [("start", start.0.to_string()), ("head", head.0.to_string())],
            ),
            GroupRejection::UnknownDelivery(id) => refusal(
                Code::InvalidArgument,
                message,
                Reason::UnknownDelivery,
                [("delivery_id", id.to_string())],
            ),
            GroupRejection::Protocol(_) => {
                refusal(Code::InvalidArgument, message, Reason::MemberProtocol, [])
            }
            GroupRejection::Deleted(group) => refusal(
                Code::NotFound,
                message,
                Reason::GroupDeleted,
                [("group", group)],
            ),
        }
    }
}

impl From<GroupError> for Status {
    fn from(error: GroupError) -> Status {
        match error {
            GroupError::Rejected(rejection) => rejection.into(),
            GroupError::Store(error) => error.into(),
            GroupError::Stopped => refusal(
                Code::Unavailable,
                error.to_string(),
                Reason::ShuttingDown,
                [],
            ),
        }
    }
}

/// Why the server ended a member's stream, as the status the stream ends with.
pub fn group_end(end: GroupEnd) -> Status {
    match end {
        GroupEnd::Rejected(rejection) => rejection.into(),
        GroupEnd::Deleted(group) => GroupRejection::Deleted(group).into(),
        GroupEnd::ShuttingDown => refusal(
            Code::Unavailable,
            "the server is shutting down; join again (your unacked deliveries come again)",
            Reason::ShuttingDown,
            [],
        ),
        GroupEnd::Store(error) => {
            tracing::warn!(%error, "a member's stream ended: store failure");
            storage_failed()
        }
    }
}

/// The status of a failure inside the server's storage ([`STORAGE_FAILED`]).
pub fn storage_failed() -> Status {
    refusal(Code::Internal, STORAGE_FAILED, Reason::StorageFailed, [])
}

impl From<StoreError> for Status {
    fn from(error: StoreError) -> Status {
        let message = error.to_string();
        match error {
            StoreError::Closed => refusal(Code::Unavailable, message, Reason::StoreClosed, []),
            StoreError::Locked { .. } => {
                refusal(Code::Unavailable, message, Reason::StoreLocked, [])
            }
            // The engine's words (an OS error, a path) go to the log, not to clients.
            StoreError::Poisoned(_) => {
                tracing::error!(%message, "append refused: the store is poisoned");
                refusal(
                    Code::Unavailable,
                    "the server stopped accepting writes after a write to its disk failed; reads \
                     go on; an operator must fix the cause (the server log says what it was) and \
                     restart the server",
                    Reason::WritesStopped,
                    [],
                )
            }
            StoreError::DiskFull {
                free,
                needed,
                reserve,
            } => refusal(
                Code::ResourceExhausted,
                message,
                Reason::DiskFull,
                [
                    ("free_bytes", free.to_string()),
                    ("needed_bytes", needed.to_string()),
                    ("reserve_bytes", reserve.to_string()),
                ],
            ),
            StoreError::Corrupt { .. } => {
                tracing::error!(%message, "stored data is damaged");
                refusal(Code::DataLoss, message, Reason::DataDamaged, [])
            }
            StoreError::Replicated { .. } | StoreError::WrongMode(_) => {
                refusal(Code::FailedPrecondition, message, Reason::ReplicatedLog, [])
            }
            StoreError::OutOfOrder { .. } => {
                refusal(Code::Unavailable, message, Reason::NotYetApplied, [])
            }
            StoreError::Engine(_) | StoreError::Encode(_) | StoreError::Task(_) => {
                tracing::error!(%message, "storage failure");
                storage_failed()
            }
        }
    }
}

impl From<ClusterError> for Status {
    fn from(error: ClusterError) -> Status {
        let message = error.to_string();
        match error {
            ClusterError::Append(error) => error.into(),
            ClusterError::Unavailable(_)
            | ClusterError::Bucket(_)
            | ClusterError::Connect { .. }
            | ClusterError::Stream { .. } => {
                refusal(Code::Unavailable, message, Reason::ClusterUnavailable, [])
            }
            ClusterError::NotYetApplied { sequence, applied } => refusal(
                Code::Unavailable,
                message,
                Reason::NotYetApplied,
                [
                    ("stream_sequence", sequence.to_string()),
                    ("applied_sequence", applied.to_string()),
                ],
            ),
            ClusterError::TooLarge { size, max } => InvalidField::of(
                FieldProblem::TooLarge,
                "entries",
                format!(
                    "take {size} bytes as a stream message; this cluster's NATS servers take at \
                     most {max} (max_payload): split the batch, or raise max_payload on every server"
                ),
            )
            .into(),
            ClusterError::Overloaded(_) => {
                refusal(Code::ResourceExhausted, message, Reason::Overloaded, [])
            }
            ClusterError::Stopping => {
                refusal(Code::Unavailable, message, Reason::ShuttingDown, [])
            }
            ClusterError::Settings(_) => refusal(Code::Internal, message, Reason::StorageFailed, []),
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
