//! Named (durable) subscriptions: a name, a filter and the position processed so far.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::error::SubscriptionRejection;
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
    /// The name of the access token that created it; `None` when the server checked no tokens
    /// then (or for a subscription older than ownership), which leaves it to every caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Who asks to use a named subscription: the caller's token name (none when the server checks
/// no tokens) and whether it is an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requester<'a> {
    /// The token's name.
    pub name: Option<&'a str>,
    /// An admin acts on every subscription.
    pub admin: bool,
}

impl SubscriptionState {
    /// May `requester` resume this subscription or move its checkpoint? Its owner and admins
    /// may; a subscription without an owner is everyone's.
    pub fn check_owner(
        &self,
        name: &SubscriptionName,
        requester: Requester<'_>,
    ) -> Result<(), SubscriptionRejection> {
        match &self.owner {
            None => Ok(()),
            Some(_) if requester.admin => Ok(()),
            Some(owner) if requester.name == Some(owner.as_str()) => Ok(()),
            Some(owner) => Err(SubscriptionRejection::NotOwner {
                name: name.to_string(),
                owner: owner.clone(),
            }),
        }
    }
}

/// May `requester` create another named subscription, given the `existing` ones? Each owner
/// (callers without a token count as one) holds at most `max`, so that no caller fills the
/// store with durable state.
pub fn admit_new(
    existing: &[SubscriptionState],
    requester: Requester<'_>,
    max: usize,
) -> Result<(), SubscriptionRejection> {
    let owned = existing
        .iter()
        .filter(|s| s.owner.as_deref() == requester.name)
        .count();
    if owned >= max {
        return Err(SubscriptionRejection::TooMany {
            owner: requester
                .name
                .unwrap_or("callers without a token")
                .to_string(),
            max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned_by(owner: Option<&str>) -> SubscriptionState {
        SubscriptionState {
            checkpoint: Position(0),
            filter: EntryFilter::default(),
            created_at: SystemTime::UNIX_EPOCH,
            updated_at: SystemTime::UNIX_EPOCH,
            owner: owner.map(str::to_string),
        }
    }

    fn token(name: &str) -> Requester<'_> {
        Requester {
            name: Some(name),
            admin: false,
        }
    }

    #[test]
    fn owners_and_admins_may_use_a_subscription_others_may_not() {
        let name = SubscriptionName::parse("feed").expect("name");
        let state = owned_by(Some("reader"));
        assert!(state.check_owner(&name, token("reader")).is_ok());
        let admin = Requester {
            name: Some("boss"),
            admin: true,
        };
        assert!(state.check_owner(&name, admin).is_ok());
        assert!(matches!(
            state.check_owner(&name, token("writer")),
            Err(SubscriptionRejection::NotOwner { .. })
        ));
        let anonymous = Requester {
            name: None,
            admin: false,
        };
        assert!(state.check_owner(&name, anonymous).is_err());
        assert!(owned_by(None).check_owner(&name, token("writer")).is_ok());
    }

    #[test]
    fn each_owner_has_its_own_cap() {
        let existing = vec![
            owned_by(Some("reader")),
            owned_by(Some("reader")),
            owned_by(None),
        ];
        assert!(matches!(
            admit_new(&existing, token("reader"), 2),
            Err(SubscriptionRejection::TooMany { max: 2, .. })
        ));
        assert!(admit_new(&existing, token("writer"), 2).is_ok());
        let anonymous = Requester {
            name: None,
            admin: false,
        };
        assert!(admit_new(&existing, anonymous, 2).is_ok());
        assert!(admit_new(&existing, anonymous, 1).is_err());
    }
}
