//! Page tokens of `ListActors`: opaque to clients, checked on the way back in.
//!
//! A token is a version tag and the hex of the fingerprint of the listing's filters followed by
//! the last actor id of the previous page. Hex keeps it URL-safe and makes clear it is not meant
//! to be edited. A token that does not decode, or that was issued for other filters (which
//! would silently mix two listings), is INVALID_ARGUMENT rather than a restart from the first
//! page. Like the query tokens, it is not a secret: a forged one only moves its forger's own
//! listing.

use crate::domain::{EntryId, FieldProblem, InvalidField};

const PREFIX: &str = "a2.";

/// The token that resumes the listing of `fingerprint` after `id`.
pub fn encode(fingerprint: u64, id: &EntryId) -> String {
    let mut bytes = fingerprint.to_be_bytes().to_vec();
    bytes.extend_from_slice(id.as_str().as_bytes());
    format!("{PREFIX}{}", super::hex::encode(&bytes))
}

/// The id a token of the listing of `fingerprint` resumes after; `None` for the empty token
/// (first page).
pub fn decode(token: &str, fingerprint: u64) -> Result<Option<EntryId>, InvalidField> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        InvalidField::of(
            FieldProblem::InvalidPageToken,
            "page_token",
            "is not a token this server issued; pass next_page_token from the previous page unchanged",
        )
    };
    let hex = token.strip_prefix(PREFIX).ok_or_else(invalid)?;
    let bytes = super::hex::decode(hex).ok_or_else(invalid)?;
    let (issued_for, id) = bytes.split_at_checked(8).ok_or_else(invalid)?;
    let text = std::str::from_utf8(id).map_err(|_| invalid())?;
    let id = EntryId::parse(text).map_err(|_| invalid())?;
    if issued_for != fingerprint.to_be_bytes() {
        return Err(InvalidField::of(
            FieldProblem::InvalidPageToken,
            "page_token",
            "belongs to a listing with other filters; send kind and country exactly as for the first page",
        ));
    }
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let id = EntryId::parse("liwa-al-quds").expect("valid");
        let token = encode(7, &id);
        assert_eq!(decode(&token, 7).expect("valid token"), Some(id.clone()));
        assert_eq!(decode("", 7).expect("empty is the first page"), None);
        for bad in [
            "x",
            "a2.zz",
            "a2.6",
            "a2.20",
            "b1.61",
            "a1.61",
            "a2.0000000000000007",
        ] {
            assert!(decode(bad, 7).is_err(), "{bad}");
        }
        let other = decode(&encode(8, &id), 7).expect_err("other filters");
        assert!(other.reason.contains("other filters"), "{other}");
    }
}
