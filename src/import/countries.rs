//! Country codes of the datasets to the ISO 3166-1 alpha-3 codes the log uses.
//!
//! GDELT locates events with FIPS 10-4 codes (`GM` is Germany, `RS` Russia) and ACLED with ISO
//! 3166 numeric codes (`760` is Syria); the log wants alpha-3 (`DEU`, `SYR`). The table covers
//! sovereign states and the territories that appear in conflict data; a code it lacks leaves the
//! country empty, and the importer keeps the raw code in the event's attributes instead.

/// (ISO 3166-1 alpha-3, ISO 3166 numeric or 0 when it has none, FIPS 10-4). Palestine has two
/// FIPS codes (West Bank and Gaza Strip); Kosovo has no ISO numeric code and uses the
/// user-assigned `XKX`, as ACLED and the World Bank do.
const COUNTRIES: &[(&str, u16, &str)] = &[
    ("AFG", 4, "AF"),
    ("ALB", 8, "AL"),
    ("DZA", 12, "AG"),
    ("ASM", 16, "AQ"),
    ("AND", 20, "AN"),
    ("AGO", 24, "AO"),
    ("AIA", 660, "AV"),
    ("ATG", 28, "AC"),
    ("ARG", 32, "AR"),
    ("ARM", 51, "AM"),
    ("ABW", 533, "AA"),
    ("AUS", 36, "AS"),
    ("AUT", 40, "AU"),
    ("AZE", 31, "AJ"),
    ("BHS", 44, "BF"),
    ("BHR", 48, "BA"),
    ("BGD", 50, "BG"),
    ("BRB", 52, "BB"),
    ("BLR", 112, "BO"),
    ("BEL", 56, "BE"),
    ("BLZ", 84, "BH"),
    ("BEN", 204, "BN"),
    ("BMU", 60, "BD"),
    ("BTN", 64, "BT"),
    ("BOL", 68, "BL"),
    ("BIH", 70, "BK"),
    ("BWA", 72, "BC"),
    ("BRA", 76, "BR"),
    ("BRN", 96, "BX"),
    ("BGR", 100, "BU"),
    ("BFA", 854, "UV"),
    ("BDI", 108, "BY"),
    ("KHM", 116, "CB"),
    ("CMR", 120, "CM"),
    ("CAN", 124, "CA"),
    ("CPV", 132, "CV"),
    ("CYM", 136, "CJ"),
    ("CAF", 140, "CT"),
    ("TCD", 148, "CD"),
    ("CHL", 152, "CI"),
    ("CHN", 156, "CH"),
    ("COL", 170, "CO"),
    ("COM", 174, "CN"),
    ("COG", 178, "CF"),
    ("COD", 180, "CG"),
    ("CRI", 188, "CS"),
    ("CIV", 384, "IV"),
    ("HRV", 191, "HR"),
    ("CUB", 192, "CU"),
    ("CUW", 531, "UC"),
    ("CYP", 196, "CY"),
    ("CZE", 203, "EZ"),
    ("DNK", 208, "DA"),
    ("DJI", 262, "DJ"),
    ("DMA", 212, "DO"),
    ("DOM", 214, "DR"),
    ("ECU", 218, "EC"),
    ("EGY", 818, "EG"),
    ("SLV", 222, "ES"),
    ("GNQ", 226, "EK"),
    ("ERI", 232, "ER"),
    ("EST", 233, "EN"),
    ("SWZ", 748, "WZ"),
    ("ETH", 231, "ET"),
    ("FLK", 238, "FK"),
    ("FRO", 234, "FO"),
    ("FJI", 242, "FJ"),
    ("FIN", 246, "FI"),
    ("FRA", 250, "FR"),
    ("GUF", 254, "FG"),
    ("PYF", 258, "FP"),
    ("GAB", 266, "GB"),
    ("GMB", 270, "GA"),
    ("GEO", 268, "GG"),
    ("DEU", 276, "GM"),
    ("GHA", 288, "GH"),
    ("GIB", 292, "GI"),
    ("GRC", 300, "GR"),
    ("GRL", 304, "GL"),
    ("GRD", 308, "GJ"),
    ("GLP", 312, "GP"),
    ("GUM", 316, "GQ"),
    ("GTM", 320, "GT"),
    ("GGY", 831, "GK"),
    ("GIN", 324, "GV"),
    ("GNB", 624, "PU"),
    ("GUY", 328, "GY"),
    ("HTI", 332, "HA"),
    ("VAT", 336, "VT"),
    ("HND", 340, "HO"),
    ("HKG", 344, "HK"),
    ("HUN", 348, "HU"),
    ("ISL", 352, "IC"),
    ("IND", 356, "IN"),
    ("IDN", 360, "ID"),
    ("IRN", 364, "IR"),
    ("IRQ", 368, "IZ"),
    ("IRL", 372, "EI"),
    ("IMN", 833, "IM"),
    ("ISR", 376, "IS"),
    ("ITA", 380, "IT"),
    ("JAM", 388, "JM"),
    ("JPN", 392, "JA"),
    ("JEY", 832, "JE"),
    ("JOR", 400, "JO"),
    ("KAZ", 398, "KZ"),
    ("KEN", 404, "KE"),
    ("KIR", 296, "KR"),
    ("PRK", 408, "KN"),
    ("KOR", 410, "KS"),
    ("XKX", 0, "KV"),
    ("KWT", 414, "KU"),
    ("KGZ", 417, "KG"),
    ("LAO", 418, "LA"),
    ("LVA", 428, "LG"),
    ("LBN", 422, "LE"),
    ("LSO", 426, "LT"),
    ("LBR", 430, "LI"),
    ("LBY", 434, "LY"),
    ("LIE", 438, "LS"),
    ("LTU", 440, "LH"),
    ("LUX", 442, "LU"),
    ("MAC", 446, "MC"),
    ("MDG", 450, "MA"),
    ("MWI", 454, "MI"),
    ("MYS", 458, "MY"),
    ("MDV", 462, "MV"),
    ("MLI", 466, "ML"),
    ("MLT", 470, "MT"),
    ("MHL", 584, "RM"),
    ("MTQ", 474, "MB"),
    ("MRT", 478, "MR"),
    ("MUS", 480, "MP"),
    ("MYT", 175, "MF"),
    ("MEX", 484, "MX"),
    ("FSM", 583, "FM"),
    ("MDA", 498, "MD"),
    ("MCO", 492, "MN"),
    ("MNG", 496, "MG"),
    ("MNE", 499, "MJ"),
    ("MAR", 504, "MO"),
    ("MOZ", 508, "MZ"),
    ("MMR", 104, "BM"),
    ("NAM", 516, "WA"),
    ("NRU", 520, "NR"),
    ("NPL", 524, "NP"),
    ("NLD", 528, "NL"),
    ("NCL", 540, "NC"),
    ("NZL", 554, "NZ"),
    ("NIC", 558, "NU"),
    ("NER", 562, "NG"),
    ("NGA", 566, "NI"),
    ("MKD", 807, "MK"),
    ("NOR", 578, "NO"),
    ("OMN", 512, "MU"),
    ("PAK", 586, "PK"),
    ("PLW", 585, "PS"),
    ("PSE", 275, "WE"),
    ("PSE", 0, "GZ"),
    ("PAN", 591, "PM"),
    ("PNG", 598, "PP"),
    ("PRY", 600, "PA"),
    ("PER", 604, "PE"),
    ("PHL", 608, "RP"),
    ("POL", 616, "PL"),
    ("PRT", 620, "PO"),
    ("PRI", 630, "RQ"),
    ("QAT", 634, "QA"),
    ("REU", 638, "RE"),
    ("ROU", 642, "RO"),
    ("RUS", 643, "RS"),
    ("RWA", 646, "RW"),
    ("KNA", 659, "SC"),
    ("LCA", 662, "ST"),
    ("VCT", 670, "VC"),
    ("WSM", 882, "WS"),
    ("SMR", 674, "SM"),
    ("STP", 678, "TP"),
    ("SAU", 682, "SA"),
    ("SEN", 686, "SG"),
    ("SRB", 688, "RI"),
    ("SYC", 690, "SE"),
    ("SLE", 694, "SL"),
    ("SGP", 702, "SN"),
    ("SXM", 534, "NN"),
    ("SVK", 703, "LO"),
    ("SVN", 705, "SI"),
    ("SLB", 90, "BP"),
    ("SOM", 706, "SO"),
    ("ZAF", 710, "SF"),
    ("SSD", 728, "OD"),
    ("ESP", 724, "SP"),
    ("LKA", 144, "CE"),
    ("SDN", 729, "SU"),
    ("SUR", 740, "NS"),
    ("SWE", 752, "SW"),
    ("CHE", 756, "SZ"),
    ("SYR", 760, "SY"),
    ("TWN", 158, "TW"),
    ("TJK", 762, "TI"),
    ("TZA", 834, "TZ"),
    ("THA", 764, "TH"),
    ("TLS", 626, "TT"),
    ("TGO", 768, "TO"),
    ("TON", 776, "TN"),
    ("TTO", 780, "TD"),
    ("TUN", 788, "TS"),
    ("TUR", 792, "TU"),
    ("TKM", 795, "TX"),
    ("TUV", 798, "TV"),
    ("UGA", 800, "UG"),
    ("UKR", 804, "UP"),
    ("ARE", 784, "AE"),
    ("GBR", 826, "UK"),
    ("USA", 840, "US"),
    ("URY", 858, "UY"),
    ("UZB", 860, "UZ"),
    ("VUT", 548, "NH"),
    ("VEN", 862, "VE"),
    ("VNM", 704, "VM"),
    ("VIR", 850, "VQ"),
    ("VGB", 92, "VI"),
    ("ESH", 732, "WI"),
    ("YEM", 887, "YM"),
    ("ZMB", 894, "ZA"),
    ("ZWE", 716, "ZI"),
];

/// The alpha-3 code of a FIPS 10-4 country code, if the table has it.
pub fn fips_to_iso3(fips: &str) -> Option<&'static str> {
    COUNTRIES
        .iter()
        .find(|(_, _, f)| *f == fips)
        .map(|(iso, _, _)| *iso)
}

/// The alpha-3 code of an ISO 3166 numeric code, if the table has it.
pub fn numeric_to_iso3(numeric: u16) -> Option<&'static str> {
    if numeric == 0 {
        return None;
    }
    COUNTRIES
        .iter()
        .find(|(_, n, _)| *n == numeric)
        .map(|(iso, _, _)| *iso)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut fips = HashSet::new();
        let mut numeric = HashSet::new();
        for (iso, n, f) in COUNTRIES {
            assert!(crate::domain::CountryCode::parse(iso).is_ok(), "{iso}");
            assert!(
                f.len() == 2 && f.bytes().all(|b| b.is_ascii_uppercase()),
                "{f}"
            );
            assert!(fips.insert(*f), "FIPS {f} twice");
            assert!(*n == 0 || numeric.insert(*n), "numeric {n} twice");
        }
    }

    #[test]
    fn the_codes_gdelt_and_acled_use_most() {
        assert_eq!(fips_to_iso3("GM"), Some("DEU"));
        assert_eq!(fips_to_iso3("RS"), Some("RUS"));
        assert_eq!(fips_to_iso3("UP"), Some("UKR"));
        assert_eq!(fips_to_iso3("IZ"), Some("IRQ"));
        assert_eq!(fips_to_iso3("GZ"), Some("PSE"));
        assert_eq!(fips_to_iso3("XX"), None);
        assert_eq!(numeric_to_iso3(760), Some("SYR"));
        assert_eq!(numeric_to_iso3(804), Some("UKR"));
        assert_eq!(numeric_to_iso3(0), None);
        assert_eq!(numeric_to_iso3(999), None);
    }
}
