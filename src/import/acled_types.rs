//! ACLED's codes mapped to the log's vocabulary: event and sub-event types to relations,
//! interaction codes to actor kinds.
//!
//! ACLED adds sub-event types now and then, so an unknown sub-event type falls back to its event
//! type's relation; an unknown event type means the row is not what the importer understands and
//! is refused.

use crate::proto::ActorKind;

/// The relation for an ACLED event type and sub-event type. Read "actor1 relation actor2".
pub fn relation(event_type: &str, sub_event_type: &str) -> Result<&'static str, String> {
    let event = event_type.trim().to_ascii_lowercase();
    let sub = sub_event_type.trim().to_ascii_lowercase();
    let relation = match (event.as_str(), sub.as_str()) {
        // Taking territory has a side that acts; an armed clash has none known.
        ("battles", "government regains territory" | "non-state actor overtakes territory") => {
            "attacks"
        }
        ("battles", _) => "clashes_with",
        ("explosions/remote violence", "chemical weapon") => "uses_mass_violence_against",
        // CAMEO puts bombings outside battle under assault (18), shelling and strikes under 19.
        (
            "explosions/remote violence",
            "suicide bomb" | "remote explosive/landmine/ied" | "grenade",
        ) => "assaults",
        ("explosions/remote violence", _) => "attacks",
        ("violence against civilians", _) => "assaults",
        ("riots", "mob violence") => "assaults",
        ("riots", _) | ("protests", _) => "protests",
        ("strategic developments", "agreement") => "cooperates_with",
        ("strategic developments", "arrests" | "looting/property destruction") => "coerces",
        ("strategic developments", "disrupted weapons use") => "coerces",
        ("strategic developments", "headquarters or base established") => "deploys_to",
        ("strategic developments", "non-violent transfer of territory") => "yields_to",
        ("strategic developments", _) => "announces",
        _ => {
            return Err("expected one of Battles, Violence against civilians, \
                        Explosions/Remote violence, Riots, Protests, Strategic developments"
                .into())
        }
    };
    Ok(relation)
}

/// The kind of an actor from its interaction code, numeric (`1` to `8`, as in older exports)
/// or named (`State forces`, as in current ones).
///
/// State forces are `MILITARY`; rebels and political or identity militias are `ARMED_GROUP`.
/// Rioters, protesters and civilians are `ORGANIZATION`: ACLED names collectives ("Protesters
/// (Syria)"), never individuals. External/other forces are mostly foreign armies and
/// peacekeeping missions, so `MILITARY`.
pub fn actor_kind(inter: &str) -> Result<ActorKind, String> {
    let kind = match inter.trim().to_ascii_lowercase().as_str() {
        "1" | "state forces" => ActorKind::Military,
        "2" | "3" | "4" | "rebel group" | "rebel groups" | "political militia"
        | "political militias" | "identity militia" | "identity militias" => ActorKind::ArmedGroup,
        "5" | "6" | "7" | "rioters" | "protesters" | "civilians" => ActorKind::Organization,
        "8" | "external/other forces" => ActorKind::Military,
        _ => {
            return Err("expected an interaction code 1 to 8 or its name, e.g. State forces".into())
        }
    };
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Vocabulary;

    #[test]
    fn every_type_and_sub_type_maps_to_a_known_relation() {
        let vocabulary = Vocabulary::builtin();
        let pairs = [
            ("Battles", "Armed clash", "clashes_with"),
            ("Battles", "Government regains territory", "attacks"),
            ("Battles", "Non-state actor overtakes territory", "attacks"),
            (
                "Explosions/Remote violence",
                "Chemical weapon",
                "uses_mass_violence_against",
            ),
            ("Explosions/Remote violence", "Air/drone strike", "attacks"),
            (
                "Explosions/Remote violence",
                "Shelling/artillery/missile attack",
                "attacks",
            ),
            ("Explosions/Remote violence", "Suicide bomb", "assaults"),
            (
                "Explosions/Remote violence",
                "Remote explosive/landmine/IED",
                "assaults",
            ),
            ("Explosions/Remote violence", "Grenade", "assaults"),
            ("Violence against civilians", "Attack", "assaults"),
            ("Violence against civilians", "Sexual violence", "assaults"),
            (
                "Violence against civilians",
                "Abduction/forced disappearance",
                "assaults",
            ),
            ("Riots", "Violent demonstration", "protests"),
            ("Riots", "Mob violence", "assaults"),
            ("Protests", "Peaceful protest", "protests"),
            ("Protests", "Protest with intervention", "protests"),
            ("Protests", "Excessive force against protesters", "protests"),
            ("Strategic developments", "Agreement", "cooperates_with"),
            ("Strategic developments", "Arrests", "coerces"),
            (
                "Strategic developments",
                "Change to group/activity",
                "announces",
            ),
            ("Strategic developments", "Disrupted weapons use", "coerces"),
            (
                "Strategic developments",
                "Headquarters or base established",
                "deploys_to",
            ),
            (
                "Strategic developments",
                "Looting/property destruction",
                "coerces",
            ),
            (
                "Strategic developments",
                "Non-violent transfer of territory",
                "yields_to",
            ),
            ("Strategic developments", "Other", "announces"),
            ("Battles", "Some new sub-type", "clashes_with"),
        ];
        for (event, sub, expected) in pairs {
            let key = relation(event, sub).unwrap();
            assert_eq!(key, expected, "{event} / {sub}");
            assert!(vocabulary.relation(key).is_ok(), "{key}");
        }
        assert!(relation("Parades", "Peaceful").is_err());
    }

    #[test]
    fn interaction_codes_numeric_and_named() {
        assert_eq!(actor_kind("1"), Ok(ActorKind::Military));
        assert_eq!(actor_kind("State forces"), Ok(ActorKind::Military));
        assert_eq!(actor_kind("3"), Ok(ActorKind::ArmedGroup));
        assert_eq!(actor_kind("Identity militia"), Ok(ActorKind::ArmedGroup));
        assert_eq!(actor_kind("6"), Ok(ActorKind::Organization));
        assert_eq!(actor_kind("Civilians"), Ok(ActorKind::Organization));
        assert_eq!(actor_kind("8"), Ok(ActorKind::Military));
        assert!(actor_kind("9").is_err());
        assert!(actor_kind("").is_err());
    }
}
