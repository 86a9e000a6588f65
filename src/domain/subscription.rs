//! Named (durable) subscriptions: a name, a filter and the position processed so far.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::filter::EntryFilter;
use super::ids::{EntryId, Position};

/// A subscription's name. Same alphabet and length as entry ids, so names are safe in keys,
/// logs and URLs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionName(String);

impl SubscriptionName {
    /// Checks the name's syntax.
    pub fn parse(text: &str) -> Result<SubscriptionName, String> {
        EntryId::parse(text).map(|id| SubscriptionName(id.as_str().to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SubscriptionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the store keeps of a named subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionState {
    /// The last position the client committed as processed; it resumes at the next one.
    pub checkpoint: Position,
    /// Which entries it delivers, fixed at creation.
    pub filter: EntryFilter,
    /// When it was created.
    pub created_at: SystemTime,
    /// When its checkpoint was last committed.
    pub updated_at: SystemTime,
}
