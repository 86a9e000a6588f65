//! The domain: actors, events, claims, EDTF dates, the relation vocabulary and the rules of
//! appending. It knows nothing of protobuf, gRPC or sled; the service layer translates requests
//! into these types and the store persists them.

pub mod append;
pub mod calendar;
pub mod checked;
pub mod edtf;
pub mod error;
pub mod filter;
pub mod group;
pub mod ids;
pub mod limits;
pub mod model;
pub mod names;
pub mod query;
pub mod quote;
pub mod relations;
pub mod rules;
pub mod same_as;
pub mod subscription;
pub mod vocabulary;

pub use append::{plan_append, AppendPlan, LogView, PlanError, PlannedEntry};
pub use calendar::Day;
pub use checked::{Checked, Rules};
pub use edtf::{DateSpan, Edtf, EdtfError};
pub use error::{
    AppendRejection, FieldProblem, InvalidField, NameRejection, QueryRejection,
    SubscriptionRejection,
};
pub use filter::EntryFilter;
pub use ids::{ActorId, CountryCode, EntryId, Position, RelationKey};
pub use model::{
    Actor, ActorKind, Affiliation, Certainty, Claim, Entry, EntryBody, EntryKind, Event, Location,
    Participant, ReferenceField, Role, Source,
};
pub use query::{
    ClaimQuery, DateKey, DateMatch, DateRange, EventQuery, QueryOrder, Snapshot, SymmetricRelations,
};
pub use relations::{Direction, RelationEdge, RelationGraph, RelationQuery};
pub use same_as::ActorClass;
pub use subscription::{SubscriptionName, SubscriptionState};
pub use vocabulary::{RelationType, Vocabulary, VocabularyError};
