//! Pending changes over a [`GraphStore`], readable as a store: what a batch has written so far
//! is what its later entries read, and the whole batch leaves as one set of writes in which
//! every key appears once however often the batch touched it.

use std::cmp::Ordering;
use std::collections::btree_map::{self, BTreeMap};
use std::iter::Peekable;
use std::ops::Bound;

use crate::store::StoreError;

use super::{GraphStore, KeyValues};

/// A store seen through changes not yet written: `None` is a delete.
pub(crate) struct Overlay<'s, S: ?Sized> {
    base: &'s S,
    changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'s, S: GraphStore + ?Sized> Overlay<'s, S> {
    /// No changes yet.
    pub(crate) fn new(base: &'s S) -> Overlay<'s, S> {
        Overlay {
            base,
            changes: BTreeMap::new(),
        }
    }

    /// Sets `key`.
    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.changes.insert(key, Some(value));
    }

    /// Deletes `key`.
    pub(crate) fn delete(&mut self, key: Vec<u8>) {
        self.changes.insert(key, None);
    }

    /// The changes, each key once.
    pub(crate) fn into_changes(self) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        self.changes
    }
}

impl<S: GraphStore + ?Sized> GraphStore for Overlay<'_, S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.changes.get(key) {
            Some(change) => Ok(change.clone()),
            None => self.base.get(key),
        }
    }

    fn scan(&self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> KeyValues<'_> {
        // A `BTreeMap` refuses a range that ends before it starts; such a range holds nothing.
        let empty = match (&lower, &upper) {
            (Bound::Included(l), Bound::Included(u)) => l > u,
            (Bound::Included(l) | Bound::Excluded(l), Bound::Included(u) | Bound::Excluded(u)) => {
                l >= u
            }
            _ => false,
        };
        let changes = if empty {
            self.changes.range::<Vec<u8>, _>(..Vec::new())
        } else {
            self.changes.range((lower.clone(), upper.clone()))
        };
        Box::new(Merged {
            base: self.base.scan(lower, upper).peekable(),
            changes: changes.peekable(),
        })
    }
}

/// The base's keys and the changes' keys in one order, a change winning over the base.
struct Merged<'a> {
    base: Peekable<KeyValues<'a>>,
    changes: Peekable<btree_map::Range<'a, Vec<u8>, Option<Vec<u8>>>>,
}

impl Iterator for Merged<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.base.peek(), self.changes.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) | (Some(Ok(_)), None) => return self.base.next(),
                (Some(Ok((base_key, _))), Some((change_key, _))) => {
                    Some(base_key.as_slice().cmp(change_key.as_slice()))
                }
                (None, Some(_)) => None,
            };
            match order {
                Some(Ordering::Less) => return self.base.next(),
                Some(Ordering::Equal) => {
                    // The change replaces (or deletes) the base's value.
                    self.base.next();
                }
                Some(Ordering::Greater) | None => {}
            }
            if let Some((key, Some(value))) = self.changes.next() {
                return Some(Ok((key.clone(), value.clone())));
            }
        }
    }
}
