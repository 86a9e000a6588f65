//! Named subscriptions of a cluster, kept in a JetStream key-value bucket
//! (`<stream>-subscriptions`, replicated like the stream), so that a consumer resumes by name on
//! any node, also after its node died.
//!
//! They are not in the stream itself: a checkpoint is a small, frequent write that concerns one
//! client, and the log's order has nothing to say about it. Each write is a compare-and-set on
//! the key's revision, so two nodes updating one subscription cannot lose either update, and a
//! name is created once (`create` fails if the key exists). The same rules as on an embedded
//! node apply (`crate::domain::subscription`); a checkpoint is checked against the head of the
//! node that takes it. Keys are the names in hex: names may hold `:` and `.`, which key-value
//! keys treat otherwise.

use std::time::SystemTime;

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use async_nats::jetstream::{self, stream::StorageType};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::ClusterError;
use crate::domain::{Position, SubscriptionName, SubscriptionRejection, SubscriptionState};

/// Compare-and-set attempts before a checkpoint gives up (other nodes writing the same name).
const CAS_ATTEMPTS: usize = 8;

/// The bucket of a cluster's named subscriptions.
pub struct ReplicatedSubscriptions {
    bucket: kv::Store,
}

/// What a key holds: the name (keys are hex) and the state.
#[derive(Serialize, Deserialize)]
struct Stored {
    name: String,
    state: SubscriptionState,
}

impl ReplicatedSubscriptions {
    /// Opens the bucket of `stream`'s subscriptions, creating it with `replicas` if missing.
    pub async fn open(
        jetstream: &jetstream::Context,
        stream: &str,
        replicas: usize,
    ) -> Result<ReplicatedSubscriptions, ClusterError> {
        let name = format!("{stream}-subscriptions");
        let failed = |reason: String| ClusterError::Stream {
            stream: name.clone(),
            reason,
        };
        let bucket = match jetstream.get_key_value(&name).await {
            Ok(bucket) => bucket,
            Err(_) => jetstream
                .create_key_value(kv::Config {
                    bucket: name.clone(),
                    description: "eventlog's named subscriptions and their checkpoints".into(),
                    history: 1,
                    storage: StorageType::File,
                    num_replicas: replicas,
                    ..Default::default()
                })
                .await
                .map_err(|e| failed(e.to_string()))?,
        };
        Ok(ReplicatedSubscriptions { bucket })
    }

    /// The subscription `name`, created with `create(every existing subscription)` if missing.
    pub async fn open_subscription(
        &self,
        name: &SubscriptionName,
        create: impl FnOnce(&[SubscriptionState]) -> Result<SubscriptionState, SubscriptionRejection>,
    ) -> Result<Result<(SubscriptionState, bool), SubscriptionRejection>, ClusterError> {
        if let Some((state, _)) = self.read(name).await? {
            return Ok(Ok((state, false)));
        }
        let existing: Vec<SubscriptionState> =
            self.list().await?.into_iter().map(|(_, s)| s).collect();
        let state = match create(&existing) {
            Ok(state) => state,
            Err(rejection) => return Ok(Err(rejection)),
        };
        match self
            .bucket
            .create(key(name), encode(name, &state)?.into())
            .await
        {
            Ok(_) => Ok(Ok((state, true))),
            // Another node created it first: use theirs.
            Err(error) if error.kind() == CreateErrorKind::AlreadyExists => {
                match self.read(name).await? {
                    Some((state, _)) => Ok(Ok((state, false))),
                    None => Err(unavailable("the subscription vanished while being created")),
                }
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    /// Stores `position` as the checkpoint of `name` if `may_commit` allows it and it is not
    /// beyond `head`.
    pub async fn commit_checkpoint(
        &self,
        name: &SubscriptionName,
        position: Position,
        head: Position,
        may_commit: impl Fn(&SubscriptionState) -> Result<(), SubscriptionRejection>,
    ) -> Result<Result<SubscriptionState, SubscriptionRejection>, ClusterError> {
        for _ in 0..CAS_ATTEMPTS {
            let Some((mut state, revision)) = self.read(name).await? else {
                return Ok(Err(SubscriptionRejection::Unknown(name.to_string())));
            };
            if let Err(rejection) = may_commit(&state) {
                return Ok(Err(rejection));
            }
            if position > head {
                return Ok(Err(SubscriptionRejection::BeyondHead { position, head }));
            }
            state.checkpoint = position;
            state.updated_at = SystemTime::now();
            match self
                .bucket
                .update(key(name), encode(name, &state)?.into(), revision)
                .await
            {
                Ok(_) => return Ok(Ok(state)),
                Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => continue,
                Err(error) => return Err(unavailable(error)),
            }
        }
        Err(unavailable(format!(
            "{CAS_ATTEMPTS} nodes' writes to {name} crossed this one"
        )))
    }

    /// Every subscription, in name order.
    pub async fn list(&self) -> Result<Vec<(String, SubscriptionState)>, ClusterError> {
        let keys: Vec<String> = match self.bucket.keys().await {
            Ok(keys) => keys.try_collect().await.map_err(unavailable)?,
            Err(error) => return Err(unavailable(error)),
        };
        let mut all = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(entry) = self.bucket.entry(key).await.map_err(unavailable)? {
                if entry.operation == Operation::Put {
                    let stored = decode(&entry.value)?;
                    all.push((stored.name, stored.state));
                }
            }
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    /// Deletes `name`; false if there was none.
    pub async fn delete(&self, name: &SubscriptionName) -> Result<bool, ClusterError> {
        if self.read(name).await?.is_none() {
            return Ok(false);
        }
        self.bucket.delete(key(name)).await.map_err(unavailable)?;
        Ok(true)
    }

    /// The state of `name` and its revision.
    async fn read(
        &self,
        name: &SubscriptionName,
    ) -> Result<Option<(SubscriptionState, u64)>, ClusterError> {
        match self.bucket.entry(key(name)).await.map_err(unavailable)? {
            Some(entry) if entry.operation == Operation::Put => {
                Ok(Some((decode(&entry.value)?.state, entry.revision)))
            }
            _ => Ok(None),
        }
    }
}

/// The key of a name: its bytes in hex, which every name maps to one valid key.
fn key(name: &SubscriptionName) -> String {
    name.as_str().bytes().map(|b| format!("{b:02x}")).collect()
}

fn encode(name: &SubscriptionName, state: &SubscriptionState) -> Result<Vec<u8>, ClusterError> {
    serde_json::to_vec(&Stored {
        name: name.to_string(),
        state: state.clone(),
    })
    .map_err(|e| unavailable(format!("cannot encode a subscription: {e}")))
}

fn decode(bytes: &[u8]) -> Result<Stored, ClusterError> {
    serde_json::from_slice(bytes)
        .map_err(|e| unavailable(format!("a subscription in the bucket is unreadable: {e}")))
}

fn unavailable(error: impl std::fmt::Display) -> ClusterError {
    ClusterError::Bucket(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_maps_to_a_distinct_valid_key() {
        let names = ["analysts", "a.b", "a:b", "..", "A-_.:9"];
        let keys: Vec<String> = names
            .iter()
            .map(|n| key(&SubscriptionName::parse(n).expect("valid name")))
            .collect();
        for key in &keys {
            assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
        }
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), keys.len());
    }
}
