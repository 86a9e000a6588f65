//! Lowercase hex for page tokens: URL-safe, and plainly not meant to be edited by hand.

/// The hex spelling of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The bytes `text` spells, if it is hex.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
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
}
