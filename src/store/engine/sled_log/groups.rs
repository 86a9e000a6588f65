//! Consumer groups' keys in the log's tree (see `keys::groups`): read, scan, and write a batch
//! durably. What the keys and values mean is `store::groups`'; this only moves bytes.

use super::{engine, SledLog};
use crate::store::error::StoreError;

/// A change of one key: a new value, or `None` to remove it.
pub type KeyChange = (Vec<u8>, Option<Vec<u8>>);
/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

impl SledLog {
    /// The value of `key`.
    pub fn get_group_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key).map_err(engine)?.map(|v| v.to_vec()))
    }

    /// Up to `limit` keys and values under `prefix`, from `from` (inclusive) on, in key order.
    pub fn scan_group_keys(
        &self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let mut found = Vec::new();
        for item in self.tree.range(from.to_vec()..) {
            let (key, value) = item.map_err(engine)?;
            if !key.starts_with(prefix) || found.len() == limit {
                break;
            }
            found.push((key.to_vec(), value.to_vec()));
        }
        Ok(found)
    }

    /// Applies `changes` in one atomic batch, then flushes: a crash keeps all of them or none.
    pub fn apply_group_changes(&self, changes: Vec<KeyChange>) -> Result<(), StoreError> {
        let writes = changes.len();
        let mut batch = sled::Batch::default();
        for (key, value) in changes {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        self.tree.apply_batch(batch).map_err(engine)?;
        self.db.flush().map_err(engine)?;
        super::reclaim_replaced_nodes(writes);
        Ok(())
    }
}
