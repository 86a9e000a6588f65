//! Page tokens, which clients hand back and may have edited: `ListActors` tokens and the query
//! RPCs' tokens. Input: byte 0 picks the RPC (bit 0: events or claims), bytes 1 to 8 are the
//! request's fingerprint (u64 big-endian), the rest is the token text.
//!
//! A token that decodes is exactly the token the server would issue for what it decodes to:
//! nothing a client edits is accepted unless it is what the server wrote. A token the server
//! issues decodes to what it was made from.
#![no_main]

use eventlog::domain::{DateKey, Day, Position};
use eventlog::fuzzing::{page_token, query_token};
use libfuzzer_sys::fuzz_target;
use query_token::{QueryToken, TokenKind};

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(9));
    let kind = match head.first() {
        Some(byte) if byte & 1 == 1 => TokenKind::Claims,
        _ => TokenKind::Events,
    };
    let mut word = [0; 8];
    word[..head.len().saturating_sub(1)].copy_from_slice(head.get(1..).unwrap_or_default());
    let fingerprint = u64::from_be_bytes(word);

    if let Ok(text) = std::str::from_utf8(rest) {
        if let Ok(Some(id)) = page_token::decode(text, fingerprint) {
            assert_eq!(
                page_token::encode(fingerprint, &id),
                text,
                "a ListActors token that is not ours"
            );
            assert!(
                page_token::decode(text, fingerprint ^ 1).is_err(),
                "a ListActors token accepted for other filters"
            );
        }
        if let Ok(Some(token)) = query_token::decode(text, kind, fingerprint) {
            assert_eq!(
                query_token::encode(kind, fingerprint, token),
                text,
                "a query token that is not ours"
            );
        }
    }

    // A token made from the input's bytes decodes to what it was made from.
    if let Some(fields) = rest.get(..20) {
        let token = QueryToken {
            snapshot: Position(u64::from_be_bytes(fixed(&fields[..8]))),
            after: DateKey {
                earliest: Day(i32::from_be_bytes(fixed(&fields[8..12]))),
                position: Position(u64::from_be_bytes(fixed(&fields[12..20]))),
            },
        };
        let text = query_token::encode(kind, fingerprint, token);
        assert_eq!(
            query_token::decode(&text, kind, fingerprint),
            Ok(Some(token))
        );
        let other = match kind {
            TokenKind::Events => TokenKind::Claims,
            TokenKind::Claims => TokenKind::Events,
        };
        assert!(query_token::decode(&text, other, fingerprint).is_err());
        assert!(query_token::decode(&text, kind, fingerprint ^ 1).is_err());
    }
});

fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut array = [0; N];
    array.copy_from_slice(bytes);
    array
}
