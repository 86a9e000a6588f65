//! The relation vocabulary: which relations events, claims and affiliations may use.
//!
//! A fixed vocabulary is what makes "who backs whom" answerable: free-text relations would
//! split one fact across spellings. The defaults ship inside the binary
//! (`default_vocabulary.toml`, aligned with CAMEO root codes where one fits); operators extend
//! them with a file of the same shape. Extensions may only add keys, never redefine one, because
//! entries already in the log were validated against the existing meaning.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::ids::RelationKey;
use super::quote::quoted;

const DEFAULT_VOCABULARY: &str = include_str!("default_vocabulary.toml");

/// The longest relation key accepted.
const MAX_KEY_LEN: usize = 64;

/// One relation of the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationType {
    /// The key, e.g. `backs`.
    pub key: String,
    /// What it means.
    pub description: String,
    /// True when "A rel B" also means "B rel A".
    #[serde(default)]
    pub symmetric: bool,
    /// How to read it from the object's side, e.g. "backed by".
    pub inverse: String,
    /// The closest CAMEO root code, if any.
    #[serde(default)]
    pub cameo_root: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabularyFile {
    #[serde(default)]
    relation: Vec<RelationType>,
}

/// The relations a server accepts, by key.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    relations: BTreeMap<String, RelationType>,
}

/// Why a vocabulary file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VocabularyError {
    /// The file could not be read.
    #[error("cannot read vocabulary file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("vocabulary file {path} is not valid: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// A relation in the file breaks a rule.
    #[error("vocabulary file {path}: relation {key:?} {reason}")]
    Relation {
        /// The file.
        path: String,
        /// The offending key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl Vocabulary {
    /// The built-in vocabulary.
    pub fn builtin() -> Vocabulary {
        let mut vocabulary = Vocabulary {
            relations: BTreeMap::new(),
        };
        // The embedded file is part of the binary and covered by tests, so failing here is a
        // build defect, not an input error.
        vocabulary
            .extend_from_str(DEFAULT_VOCABULARY, "<built-in>")
            .expect("invariant: the built-in vocabulary is valid");
        vocabulary
    }

    /// The built-in vocabulary extended with the relations of an operator's file.
    pub fn with_extensions(path: &Path) -> Result<Vocabulary, VocabularyError> {
        let text = std::fs::read_to_string(path).map_err(|source| VocabularyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut vocabulary = Vocabulary::builtin();
        vocabulary.extend_from_str(&text, &path.display().to_string())?;
        Ok(vocabulary)
    }

    fn extend_from_str(&mut self, text: &str, path: &str) -> Result<(), VocabularyError> {
        let file: VocabularyFile = toml::from_str(text).map_err(|e| VocabularyError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        for relation in file.relation {
            let fail = |reason: &str| VocabularyError::Relation {
                path: path.to_string(),
                key: relation.key.clone(),
                reason: reason.to_string(),
            };
            if !is_valid_key(&relation.key) {
                return Err(fail(
                    "is not a valid key: use 1 to 64 lowercase letters, digits and _, starting with a letter",
                ));
            }
            if self.relations.contains_key(&relation.key) {
                return Err(fail(
                    "is defined twice; a vocabulary may only add relations",
                ));
            }
            if relation.description.trim().is_empty() || relation.inverse.trim().is_empty() {
                return Err(fail("needs a description and an inverse wording"));
            }
            if let Some(code) = &relation.cameo_root {
                let valid = code.len() == 2
                    && code
                        .parse::<u8>()
                        .map(|n| (1..=20).contains(&n))
                        .unwrap_or(false);
                if !valid {
                    return Err(fail("has a cameo_root that is not \"01\" to \"20\""));
                }
            }
            self.relations.insert(relation.key.clone(), relation);
        }
        Ok(())
    }

    /// The relation with this key, or an error that suggests the nearest known keys.
    pub fn relation(&self, key: &str) -> Result<RelationKey, String> {
        if self.relations.contains_key(key) {
            return Ok(RelationKey(key.to_string()));
        }
        if key.is_empty() {
            return Err(
                "is required: give a relation key such as \"backs\" (see ListRelationTypes)".into(),
            );
        }
        let suggestions = self.nearest(key, 3);
        if suggestions.is_empty() {
            Err(format!(
                "unknown relation {}; ListRelationTypes lists the {} known relations",
                quoted(key),
                self.relations.len()
            ))
        } else {
            Err(format!(
                "unknown relation {}; did you mean {}?",
                quoted(key),
                suggestions.join(", ")
            ))
        }
    }

    /// The keys of the symmetric relations ("A rel B" also means "B rel A").
    pub fn symmetric_keys(&self) -> std::collections::BTreeSet<RelationKey> {
        self.relations
            .values()
            .filter(|r| r.symmetric)
            .map(|r| RelationKey(r.key.clone()))
            .collect()
    }

    /// Every relation, in key order.
    pub fn relations(&self) -> impl Iterator<Item = &RelationType> {
        self.relations.values()
    }

    /// A short digest of what the vocabulary decides: its keys and which are symmetric (not
    /// the descriptions, which change nothing stored). Nodes of one cluster must agree on it.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for relation in self.relations.values() {
            hash.update(relation.key.as_bytes());
            hash.update([0, u8::from(relation.symmetric)]);
        }
        hash.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// How many relations there are.
    pub fn len(&self) -> usize {
        self.relations.len()
    }

    /// True if there are none (never, for a built vocabulary).
    pub fn is_empty(&self) -> bool {
        self.relations.is_empty()
    }

    /// Up to `limit` keys close to `key`: same stem, or a small edit distance away.
    fn nearest(&self, key: &str, limit: usize) -> Vec<String> {
        // No relation key is this long: a megabyte of input is not a typo, and comparing it
        // with every key would cost the caller nothing and the server a lot.
        if key.len() > 64 {
            return Vec::new();
        }
        let wanted = key.to_ascii_lowercase().replace([' ', '-'], "_");
        let mut scored: Vec<(f64, &str)> = self
            .relations
            .keys()
            .map(|k| {
                let mut score = strsim::jaro_winkler(&wanted, k);
                if k.starts_with(&wanted) || wanted.starts_with(k.as_str()) {
                    score += 0.5;
                }
                (score, k.as_str())
            })
            .filter(|(score, _)| *score >= 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(limit)
            .map(|(_, k)| k.to_string())
            .collect()
    }
}

fn is_valid_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && key.len() <= MAX_KEY_LEN
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_changes_with_keys_and_symmetry_not_with_words() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            Vocabulary::with_extensions(&path).expect("valid vocabulary")
        };
        let one = "[[relation]]\nkey = \"smuggles_for\"\ndescription = \"A\"\ninverse = \"x\"\n";
        let reworded =
            "[[relation]]\nkey = \"smuggles_for\"\ndescription = \"B\"\ninverse = \"y\"\n";
        let symmetric =
            "[[relation]]\nkey = \"smuggles_for\"\ndescription = \"A\"\ninverse = \"x\"\nsymmetric = true\n";
        let builtin = Vocabulary::builtin().fingerprint();
        assert_eq!(builtin, Vocabulary::builtin().fingerprint());
        assert_eq!(builtin.len(), 16);
        let extended = write("one.toml", one).fingerprint();
        assert_ne!(extended, builtin);
        assert_eq!(write("reworded.toml", reworded).fingerprint(), extended);
        assert_ne!(write("symmetric.toml", symmetric).fingerprint(), extended);
    }

    #[test]
    fn builtin_has_the_relations_users_rely_on() {
        let vocabulary = Vocabulary::builtin();
        for key in [
            "backs",
            "arms",
            "funds",
            "trains",
            "recruits",
            "commands",
            "part_of",
            "integrates_into",
            "protects",
            "coordinates_with",
            "meets_with",
            "negotiates_with",
            "clashes_with",
            "attacks",
            "threatens",
            "warns",
            "requests",
            "demands",
            "announces",
            "praises",
            "criticizes",
            "intervenes_in",
            "mobilizes",
            "deploys_to",
        ] {
            assert!(vocabulary.relation(key).is_ok(), "{key} is missing");
        }
        for relation in vocabulary.relations() {
            assert_eq!(
                relation.symmetric,
                relation.key.ends_with("_with") && relation.key != "reduces_relations_with",
                "{}",
                relation.key
            );
        }
    }

    #[test]
    fn every_cameo_root_has_a_relation() {
        let vocabulary = Vocabulary::builtin();
        for root in 1..=20 {
            let code = format!("{root:02}");
            assert!(
                vocabulary
                    .relations()
                    .any(|r| r.cameo_root.as_deref() == Some(code.as_str())),
                "no relation for CAMEO root {code}"
            );
        }
    }

    #[test]
    fn unknown_relations_get_suggestions() {
        let vocabulary = Vocabulary::builtin();
        let message = vocabulary.relation("back").unwrap_err();
        assert!(message.contains("did you mean backs"), "{message}");
        let message = vocabulary.relation("clash_with").unwrap_err();
        assert!(message.contains("clashes_with"), "{message}");
        let message = vocabulary.relation("zzzzzz").unwrap_err();
        assert!(message.contains("ListRelationTypes"), "{message}");
    }

    #[test]
    fn extensions_add_but_never_redefine() {
        let mut vocabulary = Vocabulary::builtin();
        let added = "[[relation]]\nkey = \"smuggles_for\"\ndescription = \"Smuggles goods for the object.\"\ninverse = \"smuggled for by\"\n";
        vocabulary
            .extend_from_str(added, "test")
            .expect("valid extension");
        assert!(vocabulary.relation("smuggles_for").is_ok());
        let again = "[[relation]]\nkey = \"backs\"\ndescription = \"x\"\ninverse = \"y\"\n";
        let error = vocabulary.extend_from_str(again, "test").unwrap_err();
        assert!(error.to_string().contains("defined twice"), "{error}");
        let bad = "[[relation]]\nkey = \"Bad Key\"\ndescription = \"x\"\ninverse = \"y\"\n";
        assert!(vocabulary.extend_from_str(bad, "test").is_err());
    }
}
