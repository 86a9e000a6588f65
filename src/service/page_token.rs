//! Page tokens: opaque to clients, checked on the way back in.
//!
//! A token is a version tag and the hex of the last actor id of the previous page. Hex keeps it
//! URL-safe and makes clear it is not meant to be edited; a token that does not decode is
//! INVALID_ARGUMENT rather than silently restarting from the first page.

use crate::domain::{EntryId, InvalidField};

const PREFIX: &str = "a1.";

/// The token that resumes a listing after `id`.
pub fn encode(id: &EntryId) -> String {
    format!("{PREFIX}{}", super::hex::encode(id.as_str().as_bytes()))
}

/// The id a token resumes after; `None` for the empty token (first page).
pub fn decode(token: &str) -> Result<Option<EntryId>, InvalidField> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        InvalidField::new(
            "page_token",
            "is not a token this server issued; pass next_page_token from the previous page unchanged",
        )
    };
    let hex = token.strip_prefix(PREFIX).ok_or_else(invalid)?;
    let bytes = super::hex::decode(hex).ok_or_else(invalid)?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    EntryId::parse(&text).map(Some).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let id = EntryId::parse("liwa-al-quds").expect("valid");
        let token = encode(&id);
        assert_eq!(decode(&token).expect("valid token"), Some(id));
        assert_eq!(decode("").expect("empty is the first page"), None);
        for bad in ["x", "a1.zz", "a1.6", "a1.20", "b1.61"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }
}
