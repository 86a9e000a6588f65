//! How actor names are compared: the rules behind `ResolveActor`.
//!
//! Analysts write the same name many ways: "Liwa' al-Quds", "LIWA AL-QUDS", "liwa al quds",
//! "Liwā’ al-Quds". Names are folded to a key that ignores case, diacritics, apostrophes and
//! punctuation, so all of these meet at `liwa al quds`. Apostrophes vanish (rather than split a
//! word) because transliterations use them inside words (`Ansar Allah'`, `Liwa'`).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::error::NameRejection;
use super::ids::EntryId;
use super::model::Actor;

/// Apostrophes and transliteration marks that are dropped without splitting the word.
const APOSTROPHES: &[char] = &['\'', '’', '‘', 'ʼ', 'ʻ', 'ʿ', 'ʾ', '`', '´'];

/// Folds a name to its comparison key: lowercase, no diacritics, no apostrophes, words
/// separated by single spaces.
pub fn fold(name: &str) -> String {
    let mut folded = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.nfkd() {
        if is_combining_mark(c) || APOSTROPHES.contains(&c) {
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !folded.is_empty() {
                folded.push(' ');
            }
            pending_space = false;
            folded.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    folded
}

/// The distinct words of a folded name.
pub fn words(folded: &str) -> Vec<&str> {
    let mut words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// How well a name matched a query; smaller is better, and the derived order ranks results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchQuality {
    /// The query is the actor's name.
    ExactName,
    /// The query is one of the actor's aliases.
    ExactAlias,
    /// The query is the actor's id.
    ExactId,
    /// A name or alias starts with the query.
    Prefix,
    /// A name or alias contains every word of the query.
    AllWords,
    /// A name or alias is a near spelling of the query (see [`near_spelling`]): a typo or a
    /// transliteration variant, such as "Hezbolah" or "Hizbullah" for "Hizballah".
    Near,
}

/// Characters at the start that a near spelling must share with the query: near matches are
/// looked up under this stem, so the lookup stays a bounded prefix scan.
pub const NEAR_STEM_CHARS: usize = 2;

/// How close folded `name` is to folded `query`, from 0 to 1, if it is a near spelling: at
/// most one edit (a letter changed, added, dropped or two swapped) for queries of up to five
/// letters, two for longer ones, as search engines' "fuzzy" matching allows; none for
/// queries of two letters or fewer, where one edit is a different word.
pub fn near_spelling(query: &str, name: &str) -> Option<f64> {
    let letters = query.chars().count();
    let allowed = match letters {
        0..=2 => return None,
        3..=5 => 1,
        _ => 2,
    };
    // Most names differ in length by more than the allowed edits: skip them before the
    // distance, which costs a table of both lengths.
    let name_letters = name.chars().count();
    if letters.abs_diff(name_letters) > allowed {
        return None;
    }
    // Optimal string alignment: Damerau's edits (a swap of neighbours is one), without
    // the unrestricted variant's hash map per call.
    let edits = strsim::osa_distance(query, name);
    if edits == 0 || edits > allowed {
        return None;
    }
    let longest = letters.max(name_letters);
    Some(1.0 - edits as f64 / longest as f64)
}

impl MatchQuality {
    /// True when the query is one of the actor's names, aliases or its id (folded): what a
    /// query or filter may take as meaning that actor.
    pub fn is_exact(self) -> bool {
        matches!(
            self,
            MatchQuality::ExactName | MatchQuality::ExactAlias | MatchQuality::ExactId
        )
    }
}

/// Which of an actor's names a resolution matched, and how closely: what `ResolveActor` tells
/// a client, so that an analyst sees "Hezbollah" behind a query for "Hezbolah" rather than
/// guessing why an actor came back.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchDetail {
    /// The name, alias or id that matched, as the actor spells it.
    pub matched_name: String,
    /// From 0 to 1: 1 for an exact (folded) match; for a prefix or every word, the share of
    /// the matched name's letters the query covers; for a near spelling, [`near_spelling`].
    pub score: f64,
}

/// Says which of `actor`'s names matched `query` with `quality`, recomputed from the actor
/// rather than carried out of the index scans: the scans only keep the best quality per
/// actor, and this costs a few folds of one actor's names. When several names qualify, the
/// closest wins, ties going to the name, then the aliases in order, then the id.
pub fn explain_match(query: &str, quality: MatchQuality, actor: &Actor) -> MatchDetail {
    let folded = fold(query);
    let names = std::iter::once(actor.name.as_str())
        .chain(actor.aliases.iter().map(String::as_str))
        .chain(std::iter::once(actor.id.as_str()));
    let letters = |text: &str| text.chars().filter(|c| *c != ' ').count().max(1);
    let coverage = |name: &str| (letters(&folded) as f64 / letters(name) as f64).min(1.0);
    let query_words = words(&folded);
    let mut best: Option<MatchDetail> = None;
    for name in names {
        let candidate = fold(name);
        let score = match quality {
            MatchQuality::ExactName | MatchQuality::ExactAlias | MatchQuality::ExactId => {
                (candidate == folded).then_some(1.0)
            }
            MatchQuality::Prefix => candidate.starts_with(&folded).then(|| coverage(&candidate)),
            MatchQuality::AllWords => {
                let have = words(&candidate);
                query_words
                    .iter()
                    .all(|w| have.contains(w))
                    .then(|| coverage(&candidate))
            }
            MatchQuality::Near => near_spelling(&folded, &candidate),
        };
        if let Some(score) = score {
            if best.as_ref().is_none_or(|b| score > b.score) {
                best = Some(MatchDetail {
                    matched_name: name.to_string(),
                    score,
                });
            }
        }
    }
    // The index and the revision read after it agree (both are the latest revision's), so
    // this is only reached if a rule above drifts from the index's: say the name, claim nothing.
    best.unwrap_or_else(|| MatchDetail {
        matched_name: actor.name.clone(),
        score: 0.0,
    })
}

/// An actor a name resolution found, with how well it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The actor's id.
    pub id: EntryId,
    /// Its name, to show.
    pub name: String,
    /// How the name given matched it.
    pub quality: MatchQuality,
}

/// The one actor `name` (given in `field`) means, from the resolution's candidates (best
/// first, at most `looked_at`): the one whose name, alias or id it is. Several such actors is
/// ambiguous, and only inexact matches (a prefix, every word) is unknown with those matches as
/// suggestions: a query never runs on a guess.
pub fn pick_actor(
    field: &str,
    name: &str,
    candidates: Vec<Candidate>,
    looked_at: usize,
) -> Result<EntryId, NameRejection> {
    let (mut exact, near): (Vec<Candidate>, Vec<Candidate>) =
        candidates.into_iter().partition(|c| c.quality.is_exact());
    let pairs = |list: Vec<Candidate>| -> Vec<(EntryId, String)> {
        list.into_iter().map(|c| (c.id, c.name)).collect()
    };
    match exact.len() {
        1 => Ok(exact.remove(0).id),
        0 => Err(NameRejection::Unknown {
            field: field.to_string(),
            name: name.to_string(),
            suggestions: pairs(near),
        }),
        found => Err(NameRejection::Ambiguous {
            field: field.to_string(),
            name: name.to_string(),
            candidates: pairs(exact),
            // Exact matches rank first, so a full list of them may have left some out.
            more: found >= looked_at,
        }),
    }
}

/// Which of an actor's names a folded key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NameSource {
    /// The actor's `name`.
    Name,
    /// One of its `aliases`.
    Alias,
    /// Its `id`.
    Id,
}

impl NameSource {
    /// The quality of an exact match on a name from this source.
    pub fn exact_quality(self) -> MatchQuality {
        match self {
            NameSource::Name => MatchQuality::ExactName,
            NameSource::Alias => MatchQuality::ExactAlias,
            NameSource::Id => MatchQuality::ExactId,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_name_meet() {
        for spelling in [
            "Liwa' al-Quds",
            "LIWA' AL-QUDS",
            "liwa al quds",
            "Liwā’ al-Quds",
            "liwa-al-quds",
        ] {
            assert_eq!(fold(spelling), "liwa al quds", "{spelling}");
        }
        assert_eq!(fold("  The Jerusalem   Brigade! "), "the jerusalem brigade");
        assert_eq!(fold("Ḥizb Allāh"), "hizb allah");
        assert_eq!(fold("'''"), "");
    }

    fn candidate(id: &str, name: &str, quality: MatchQuality) -> Candidate {
        Candidate {
            id: EntryId::parse(id).expect("id"),
            name: name.into(),
            quality,
        }
    }

    #[test]
    fn a_name_means_the_one_actor_it_names_exactly_and_never_a_guess() {
        use MatchQuality::*;
        let picked = pick_actor(
            "actor",
            "Hizballah",
            vec![
                candidate("hezbollah", "Hezbollah", ExactAlias),
                candidate("hizballah-brigades", "Hizballah Brigades", Prefix),
            ],
            8,
        );
        assert_eq!(picked, Ok(EntryId::parse("hezbollah").expect("id")));

        let shared = pick_actor(
            "filter.actors[0]",
            "Hezbollah",
            vec![
                candidate("hezbollah", "Hezbollah", ExactName),
                candidate("cameo-lbnreb", "Hezbollah", ExactName),
            ],
            8,
        )
        .expect_err("two actors have the name");
        assert!(matches!(shared, NameRejection::Ambiguous { .. }));
        assert_eq!(
            shared.to_string(),
            "filter.actors[0]: \"Hezbollah\" names 2 actors: hezbollah (\"Hezbollah\"), \
             cameo-lbnreb (\"Hezbollah\"); give one of their ids"
        );

        let near = pick_actor(
            "counterpart",
            "Fatemiyoun Div",
            vec![candidate("fatemiyoun", "Fatemiyoun Division", Prefix)],
            8,
        )
        .expect_err("only a prefix");
        assert!(
            near.to_string()
                .contains("did you mean fatemiyoun (\"Fatemiyoun Division\")?"),
            "{near}"
        );
        let police = (0..3)
            .map(|n| candidate(&format!("cameo-police-{n}"), "Police", ExactName))
            .collect();
        let many = pick_actor("actor", "Police", police, 3).expect_err("many share it");
        assert!(
            many.to_string().contains("names at least 3 actors"),
            "{many}"
        );
        let none = pick_actor("actor", "Atlantis", Vec::new(), 8).expect_err("nothing");
        assert!(
            none.to_string().contains("ResolveActor and ListActors"),
            "{none}"
        );
    }

    #[test]
    fn typos_and_transliterations_are_near_and_other_names_are_not() {
        let score = |q: &str, n: &str| near_spelling(&fold(q), &fold(n));
        assert!(score("Hezbolah", "Hezbollah").is_some(), "a dropped letter");
        assert!(
            score("Hizbullah", "Hizballah").is_some(),
            "a vowel of another transliteration"
        );
        assert!(score("al-Qaida", "al-Qaeda").is_some());
        assert!(score("Hamas", "Hezbollah").is_none());
        assert!(
            score("Hezbollah", "Hezbollah").is_none(),
            "exact is not near"
        );
        assert!(score("IS", "ISIS").is_none(), "too short to guess");
        let close = score("Hezbolah", "Hezbollah").expect("near");
        let farther = score("Hezbola", "Hezbollah").expect("near");
        assert!(close > farther, "{close} > {farther}");
    }

    #[test]
    fn a_match_says_which_name_matched_and_how_closely() {
        use crate::domain::ActorKind;
        let hezbollah = Actor {
            id: EntryId::parse("hezbollah").expect("id"),
            name: "Hezbollah".into(),
            aliases: vec!["Party of God".into(), "Hizballah".into()],
            kind: ActorKind::ArmedGroup,
            country: None,
            affiliations: vec![],
            same_as: Vec::new(),
            description: String::new(),
        };
        let near = explain_match("Hezbolah", MatchQuality::Near, &hezbollah);
        assert_eq!(near.matched_name, "Hezbollah");
        assert!((near.score - (1.0 - 1.0 / 9.0)).abs() < 1e-9, "{near:?}");
        let alias = explain_match("HIZBALLAH", MatchQuality::ExactAlias, &hezbollah);
        assert_eq!(
            (alias.matched_name.as_str(), alias.score),
            ("Hizballah", 1.0)
        );
        let id = explain_match("hezbollah", MatchQuality::ExactId, &hezbollah);
        assert_eq!(id.score, 1.0);
        let prefix = explain_match("Party", MatchQuality::Prefix, &hezbollah);
        assert_eq!(prefix.matched_name, "Party of God");
        assert!((prefix.score - 0.5).abs() < 1e-9, "{prefix:?}");
        let words = explain_match("god party", MatchQuality::AllWords, &hezbollah);
        assert_eq!(words.matched_name, "Party of God");
        assert!(words.score < 1.0);
    }

    #[test]
    fn words_are_distinct_and_sorted() {
        assert_eq!(words("al quds al"), vec!["al", "quds"]);
    }
}
