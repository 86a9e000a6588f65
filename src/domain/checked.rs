//! Values that have passed their type's rules. An entry's body is a [`Checked`] actor, event or
//! claim, and the only ways to get one are [`Checked::new`], which enforces every rule of
//! [`super::rules`], and [`Checked::from_log`], for values the log already holds (they passed
//! `new` when they were appended). Reads go through `Deref`; there is no `DerefMut`, so a
//! checked value cannot be edited into one that breaks a rule.

use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::InvalidField;

/// The rules a value must follow before the log takes it. Paths in the errors are relative to
/// the entry (`event.participants`), for the caller to prefix with the entry's place.
pub trait Rules {
    /// The first rule `self` breaks, if any.
    fn check(&self) -> Result<(), InvalidField>;
}

/// A value that follows every rule of its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<T>(T);

impl<T: Rules> Checked<T> {
    /// `value`, if it follows every rule.
    pub fn new(value: T) -> Result<Checked<T>, InvalidField> {
        value.check()?;
        Ok(Checked(value))
    }
}

impl<T> Checked<T> {
    /// A value read back from the log. It passed [`Checked::new`] when it was appended, and
    /// records carry checksums, so it is not checked again: a read must not pay for the rules,
    /// nor refuse what the log holds after a rule is tightened.
    pub fn from_log(value: T) -> Checked<T> {
        Checked(value)
    }

    /// The value, to take apart.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Checked<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Serialize> Serialize for Checked<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Only records of the log are deserialized (format 1, JSON), so this is [`Checked::from_log`].
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Checked<T>, D::Error> {
        T::deserialize(deserializer).map(Checked::from_log)
    }
}
