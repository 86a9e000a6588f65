//! Lowercase hex for page tokens: URL-safe, and plainly not meant to be edited by hand.

/// The hex spelling of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The bytes `text` spells, if it is hex as [`encode`] writes it. Only lowercase digits: a
/// token then has one spelling, and any edit to it is refused.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// The value of a lowercase hex digit.
fn digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_round_trips_and_refuses_non_hex() {
        assert_eq!(super::encode(&[0, 0xab, 7]), "00ab07");
        assert_eq!(super::decode("00ab07"), Some(vec![0, 0xab, 7]));
        for bad in ["0", "zz", "0é"] {
            assert_eq!(super::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_the_spelling_encode_writes_decodes() {
        // Found by fuzzing: `u8::from_str_radix` also takes uppercase digits and a leading
        // `+`, so an edited token ("0A", "+a" for "0a") decoded as if it were the server's.
        for bad in ["0A", "AB", "+a", "+0"] {
            assert_eq!(super::decode(bad), None, "{bad}");
        }
    }
}
