//! CAMEO, the coding scheme of GDELT, mapped to the log's vocabulary: event codes to relations,
//! actor type codes to actor kinds.
//!
//! Every root code 01 to 20 has a relation whose `cameo_root` in the built-in vocabulary is that
//! root (a test checks it), and a few base codes get a more precise relation of the same root
//! (071 economic aid is `funds`, 072 military aid is `arms`). Nothing here reads rows.

use crate::proto::ActorKind;

/// A CAMEO event code, checked: 3 or 4 digits whose first two are a root from 01 to 20.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCode {
    code: String,
}

impl EventCode {
    /// Checks a code such as `190` or `0871`.
    pub fn parse(code: &str) -> Result<EventCode, String> {
        if !(3..=4).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a CAMEO event code is 3 or 4 digits, e.g. 190".into());
        }
        let root: u8 = code[..2].parse().map_err(|_| "not a number".to_string())?;
        if !(1..=20).contains(&root) {
            return Err("CAMEO root codes run from 01 to 20".into());
        }
        Ok(EventCode {
            code: code.to_string(),
        })
    }

    /// The two-digit root, `01` to `20`.
    pub fn root(&self) -> &str {
        &self.code[..2]
    }

    /// The code as given.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The relation key the event is recorded under.
    pub fn relation(&self) -> &'static str {
        // Base codes (three digits) with a relation more precise than their root's.
        match &self.code[..3] {
            "045" | "046" => return "negotiates_with", // mediate, negotiate
            "051" => return "praises",
            "071" => return "funds",            // economic aid
            "072" => return "arms",             // military aid
            "074" | "075" => return "protects", // peacekeeping, asylum
            _ => {}
        }
        root_relation(self.root())
    }
}

/// The relation of a root code `01` to `20`; `announces` for anything else, which
/// [`EventCode::parse`] never lets through.
fn root_relation(root: &str) -> &'static str {
    match root {
        "01" => "announces",
        "02" => "requests",
        "03" => "pledges_support_to",
        "04" => "meets_with",
        "05" => "cooperates_with",
        "06" => "coordinates_with",
        "07" => "backs",
        "08" => "yields_to",
        "09" => "investigates",
        "10" => "demands",
        "11" => "criticizes",
        "12" => "rejects",
        "13" => "threatens",
        "14" => "protests",
        "15" => "mobilizes",
        "16" => "reduces_relations_with",
        "17" => "coerces",
        "18" => "assaults",
        // CAMEO's Actor1 is the one who uses force, so the directed relation, not clashes_with.
        "19" => "attacks",
        "20" => "uses_mass_violence_against",
        _ => "announces",
    }
}

/// CAMEO's regional and non-state "country" codes: valid actor prefixes, not ISO countries, so
/// never an actor's or a location's country.
const REGIONS: &[&str] = &[
    "AFR", "ASA", "BLK", "BAL", "CAS", "CAU", "CFR", "CMN", "EAF", "EEU", "EIN", "EUR", "LAM",
    "MDT", "MEA", "NAF", "NMR", "PGS", "SAF", "SAM", "SAS", "SCN", "SEA", "WAF", "WST", "GUL",
];

/// The actor's country if a CAMEO country code is one: three uppercase letters and not a
/// region (`EUR`, `AFR`, `WST` ...).
pub fn country(code: &str) -> Option<&str> {
    let iso_like = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
    (iso_like && !REGIONS.contains(&code)).then_some(code)
}

/// The kind of an actor from its CAMEO type codes (Type1 first), its code and its country.
///
/// Types that name an armed force, a body of the state or a party win over other types (media,
/// business, ...), in the order they are given, so `MED,GOV` is a government body; any other
/// type makes an organisation; an actor without types whose code is exactly its country code is
/// the state itself. CAMEO does not code individuals as such (a president is `USAGOV` named
/// "PRESIDENT"), so no actor is a person.
pub fn actor_kind(types: &[&str], code: &str, country: Option<&str>) -> ActorKind {
    let decisive = types.iter().find_map(|t| match *t {
        "MIL" => Some(ActorKind::Military),
        "REB" | "INS" | "SEP" | "UAF" => Some(ActorKind::ArmedGroup),
        "GOV" | "COP" | "JUD" | "LEG" | "SPY" => Some(ActorKind::GovernmentBody),
        "PTY" => Some(ActorKind::PoliticalParty),
        _ => None,
    });
    if let Some(kind) = decisive {
        return kind;
    }
    if types.iter().any(|t| !t.is_empty()) || country != Some(code) {
        ActorKind::Organization
    } else {
        ActorKind::State
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Vocabulary;

    #[test]
    fn every_root_and_every_refined_base_code_maps_to_a_relation_of_its_root() {
        let vocabulary = Vocabulary::builtin();
        let mut codes: Vec<String> = (1..=20).map(|r| format!("{r:02}0")).collect();
        codes.extend(["045", "046", "051", "071", "072", "074", "075", "1951"].map(String::from));
        for code in codes {
            let code = EventCode::parse(&code).unwrap();
            let key = code.relation();
            let relation = vocabulary
                .relations()
                .find(|r| r.key.as_str() == key)
                .unwrap_or_else(|| panic!("{key} is not in the vocabulary"));
            assert_eq!(
                relation.cameo_root.as_deref(),
                Some(code.root()),
                "{} -> {key}",
                code.as_str()
            );
        }
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in ["", "19", "21", "000", "2101", "19a", "12345", "-19"] {
            assert!(EventCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kinds_from_types() {
        assert_eq!(
            actor_kind(&["GOV", "", ""], "USAGOV", Some("USA")),
            ActorKind::GovernmentBody
        );
        assert_eq!(
            actor_kind(&["", "", ""], "USA", Some("USA")),
            ActorKind::State
        );
        assert_eq!(
            actor_kind(&["REB", "", ""], "SYRREB", Some("SYR")),
            ActorKind::ArmedGroup
        );
        assert_eq!(
            actor_kind(&["MIL"], "RUSMIL", Some("RUS")),
            ActorKind::Military
        );
        assert_eq!(
            actor_kind(&["IGO"], "IGOEUREEC", None),
            ActorKind::Organization
        );
        assert_eq!(actor_kind(&[""], "EUR", None), ActorKind::Organization);
        assert_eq!(
            actor_kind(&["MED", "GOV", ""], "RUSMEDGOV", Some("RUS")),
            ActorKind::GovernmentBody,
            "a state body wins over the media type before it"
        );
        assert_eq!(
            actor_kind(&["BUS", "", ""], "RUS", Some("RUS")),
            ActorKind::Organization,
            "a type other than the state's makes an organisation"
        );
        assert_eq!(country("EUR"), None);
        assert_eq!(country("USA"), Some("USA"));
        assert_eq!(country("usa"), None);
    }
}
