//! Page tokens of the query RPCs: where the next page starts, pinned to one query and one
//! snapshot of the log.
//!
//! A token carries the snapshot position (so later pages see the log as the first did, however
//! much is appended meanwhile), the sort key of the last entry examined, and a fingerprint of
//! the request's filters. A checksum over all of it catches edited or truncated tokens; the
//! fingerprint catches a token passed with different filters or to the other RPC. Either is
//! INVALID_ARGUMENT, never a silent restart from the first page. The checksum is not a secret
//! MAC: a forged token can only make its forger's own query start elsewhere.

use prost::Message;

use crate::domain::{DateKey, Day, FieldProblem, InvalidField, Position};

const PREFIX: &str = "q1.";
const PAYLOAD_LEN: usize = 1 + 8 + 4 + 8 + 8;

/// Which RPC a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `QueryEvents`.
    Events = 1,
    /// `QueryClaims`.
    Claims = 2,
}

/// What a token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryToken {
    /// The log position the query is answered at.
    pub snapshot: Position,
    /// The last entry examined.
    pub after: DateKey,
}

/// The fingerprint of a request's filters: its encoding with the paging fields cleared.
pub fn fingerprint(request_without_paging: &impl Message) -> u64 {
    fnv1a(&request_without_paging.encode_to_vec())
}

/// The fingerprint of a query: its request's, and the ids its actor names resolved to. A name
/// that resolves to another actor on a later page (an alias added meanwhile) makes the token
/// foreign rather than continuing another actor's list at this one's cursor.
pub fn with_actors(request_fingerprint: u64, actors: &[Option<&crate::domain::ActorId>]) -> u64 {
    let mut bytes = request_fingerprint.to_be_bytes().to_vec();
    for actor in actors {
        bytes.extend_from_slice(actor.map_or("", |a| a.as_str()).as_bytes());
        bytes.push(0);
    }
    fnv1a(&bytes)
}

/// The token that continues the query of `fingerprint` after `token.after`.
pub fn encode(kind: TokenKind, fingerprint: u64, token: QueryToken) -> String {
    let mut bytes = payload(kind, fingerprint, token);
    let checksum = fnv1a(&bytes);
    bytes.extend_from_slice(&checksum.to_be_bytes());
    format!("{PREFIX}{}", super::hex::encode(&bytes))
}

/// The token of a request; `None` for the first page.
pub fn decode(
    text: &str,
    kind: TokenKind,
    fingerprint: u64,
) -> Result<Option<QueryToken>, InvalidField> {
    if text.is_empty() {
        return Ok(None);
    }
    let invalid = |reason: &str| {
        InvalidField::of(
            FieldProblem::InvalidPageToken,
            "page_token",
            reason.to_string(),
        )
    };
    let not_ours =
        "is not a token this server issued; pass next_page_token from the previous page unchanged";
    let hex = text.strip_prefix(PREFIX).ok_or_else(|| invalid(not_ours))?;
    let bytes = super::hex::decode(hex).ok_or_else(|| invalid(not_ours))?;
    if bytes.len() != PAYLOAD_LEN + 8 {
        return Err(invalid(not_ours));
    }
    let (payload, checksum) = bytes.split_at(PAYLOAD_LEN);
    if fnv1a(payload).to_be_bytes() != checksum {
        return Err(invalid(not_ours));
    }
    let token = QueryToken {
        snapshot: Position(u64_at(payload, 1)),
        after: DateKey {
            earliest: Day(i32::from_be_bytes([
                payload[9],
                payload[10],
                payload[11],
                payload[12],
            ])),
            position: Position(u64_at(payload, 13)),
        },
    };
    if payload[0] != kind as u8 || u64_at(payload, 21) != fingerprint {
        return Err(invalid(
            "belongs to a different query; send every field except page_size and page_token exactly as for the first page",
        ));
    }
    Ok(Some(token))
}

fn payload(kind: TokenKind, fingerprint: u64, token: QueryToken) -> Vec<u8> {
    let mut payload = Vec::with_capacity(PAYLOAD_LEN);
    payload.push(kind as u8);
    payload.extend_from_slice(&token.snapshot.0.to_be_bytes());
    payload.extend_from_slice(&token.after.earliest.0.to_be_bytes());
    payload.extend_from_slice(&token.after.position.0.to_be_bytes());
    payload.extend_from_slice(&fingerprint.to_be_bytes());
    payload
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike the standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> QueryToken {
        QueryToken {
            snapshot: Position(1_234),
            after: DateKey {
                earliest: Day(-19_000),
                position: Position(77),
            },
        }
    }

    #[test]
    fn tokens_round_trip() {
        let text = encode(TokenKind::Events, 42, token());
        assert_eq!(decode(&text, TokenKind::Events, 42), Ok(Some(token())));
        assert_eq!(decode("", TokenKind::Events, 42), Ok(None));
    }

    #[test]
    fn edited_tokens_are_refused() {
        let text = encode(TokenKind::Events, 42, token());
        for at in PREFIX.len()..text.len() {
            let mut edited = text.clone().into_bytes();
            edited[at] = if edited[at] == b'0' { b'1' } else { b'0' };
            let edited = String::from_utf8(edited).expect("ascii");
            assert!(decode(&edited, TokenKind::Events, 42).is_err(), "{edited}");
        }
        assert!(decode(&text[..text.len() - 2], TokenKind::Events, 42).is_err());
        assert!(decode("a1.6162", TokenKind::Events, 42).is_err());
    }

    #[test]
    fn foreign_tokens_are_refused_with_a_reason() {
        let text = encode(TokenKind::Events, 42, token());
        let other_query = decode(&text, TokenKind::Events, 43).expect_err("other filters");
        assert!(other_query.reason.contains("different query"));
        assert!(decode(&text, TokenKind::Claims, 42).is_err());
    }
}
