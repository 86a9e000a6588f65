//! One row of a GDELT 2.0 event export, parsed and checked: the column layout, the actors, the
//! date, the event code, the place and the numbers kept as attributes.
//!
//! Parsing is all-or-nothing and has no side effects, so a malformed row is refused before the
//! importer registers any of its actors. Nothing here builds entries.

use std::collections::BTreeMap;

use super::cameo::{self, EventCode};
use super::countries::fips_to_iso3;
use super::text::clean;
use super::RowProblem;
use crate::domain::limits::{MAX_MEDIUM_TEXT, MAX_SHORT_TEXT};
use crate::domain::Edtf;
use crate::proto;

/// Columns of a GDELT 2.0 export row.
pub const COLUMNS: usize = 61;

/// The 0-based columns the importer reads (GDELT 2.0 event codebook).
mod col {
    pub const GLOBAL_EVENT_ID: usize = 0;
    pub const SQL_DATE: usize = 1;
    /// Actor1Code; Actor2's columns follow at [`ACTOR2`] more.
    pub const ACTOR_CODE: usize = 5;
    pub const ACTOR_NAME: usize = 6;
    pub const ACTOR_COUNTRY: usize = 7;
    pub const ACTOR_TYPES: [usize; 3] = [12, 13, 14];
    /// Offset of Actor2's columns from Actor1's.
    pub const ACTOR2: usize = 10;
    pub const IS_ROOT_EVENT: usize = 25;
    pub const EVENT_CODE: usize = 26;
    pub const EVENT_ROOT_CODE: usize = 28;
    pub const QUAD_CLASS: usize = 29;
    pub const GOLDSTEIN: usize = 30;
    pub const NUM_MENTIONS: usize = 31;
    pub const AVG_TONE: usize = 34;
    pub const GEO_TYPE: usize = 51;
    pub const GEO_NAME: usize = 52;
    pub const GEO_COUNTRY: usize = 53;
    pub const GEO_ADM1: usize = 54;
    pub const GEO_LAT: usize = 56;
    pub const GEO_LONG: usize = 57;
    pub const DATE_ADDED: usize = 59;
    pub const SOURCE_URL: usize = 60;
}

/// One CAMEO actor of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct CameoActor {
    /// The actor code, e.g. `USAGOV` or `kur`: ASCII letters and digits.
    pub code: String,
    /// The name GDELT saw, e.g. `WASHINGTON`, or the code when the row has none.
    pub name: String,
    /// The actor's country, when the row's country code is a country (not a region).
    pub country: Option<String>,
    /// Type1Code to Type3Code, empty where absent.
    pub types: [String; 3],
}

impl CameoActor {
    /// The actor's id: `cameo-` and the code in lowercase.
    pub fn id(&self) -> String {
        cameo_id(&self.code)
    }

    /// The country whose actor this one is `part_of`: its country, when the code starts with it
    /// and says more (`USAGOV`, not `USA` itself).
    pub fn parent_country(&self) -> Option<&str> {
        self.country
            .as_deref()
            .filter(|c| self.code.len() > c.len() && self.code.starts_with(c))
    }
}

/// The id of the actor of a CAMEO code.
pub fn cameo_id(code: &str) -> String {
    format!("cameo-{}", code.to_ascii_lowercase())
}

/// One export row, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct GdeltRow {
    /// GLOBALEVENTID.
    pub event_id: String,
    /// SQLDATE as an EDTF day.
    pub date: String,
    /// Actor1 and Actor2, where the row has a code.
    pub actors: [Option<CameoActor>; 2],
    /// The CAMEO event code.
    pub event_code: EventCode,
    /// Where it happened (ActionGeo), if GDELT located it.
    pub location: Option<proto::Location>,
    /// SOURCEURL, if any.
    pub source_url: String,
    /// Raw values kept as attributes.
    pub attributes: BTreeMap<String, String>,
}

fn field(fields: &[&str], index: usize) -> String {
    fields
        .get(index)
        .map(|f| f.trim())
        .unwrap_or("")
        .to_string()
}

fn required(fields: &[&str], index: usize, name: &'static str) -> Result<String, RowProblem> {
    let value = field(fields, index);
    if value.is_empty() {
        Err(RowProblem::Missing { field: name })
    } else {
        Ok(value)
    }
}

fn number<T: std::str::FromStr + PartialOrd>(
    fields: &[&str],
    index: usize,
    name: &'static str,
    range: std::ops::RangeInclusive<T>,
    expected: &str,
) -> Result<String, RowProblem> {
    let text = required(fields, index, name)?;
    // Kept as written in an attribute, so it must fit one (`1.000…` can be any length).
    match text.parse::<T>() {
        Ok(v) if range.contains(&v) && text.len() <= MAX_MEDIUM_TEXT => Ok(text),
        _ => Err(RowProblem::invalid(name, &text, expected)),
    }
}

impl GdeltRow {
    /// Parses and checks the 61 fields of a row.
    pub fn parse(fields: &[&str]) -> Result<GdeltRow, RowProblem> {
        if fields.len() != COLUMNS {
            return Err(RowProblem::FieldCount {
                found: fields.len(),
                expected: COLUMNS,
            });
        }
        let event_id = required(fields, col::GLOBAL_EVENT_ID, "GLOBALEVENTID")?;
        if !event_id.bytes().all(|b| b.is_ascii_digit()) || event_id.len() > 40 {
            return Err(RowProblem::invalid(
                "GLOBALEVENTID",
                &event_id,
                "expected a number",
            ));
        }
        let date = sql_date(&required(fields, col::SQL_DATE, "SQLDATE")?)?;
        let actors = [
            actor(fields, 0, "Actor1Code")?,
            actor(fields, col::ACTOR2, "Actor2Code")?,
        ];
        let code_text = required(fields, col::EVENT_CODE, "EventCode")?;
        let event_code = EventCode::parse(&code_text)
            .map_err(|e| RowProblem::invalid("EventCode", &code_text, e))?;
        let root = field(fields, col::EVENT_ROOT_CODE);
        if !root.is_empty() && root != event_code.root() {
            return Err(RowProblem::invalid(
                "EventRootCode",
                &root,
                format!("does not match EventCode {}", event_code.as_str()),
            ));
        }
        let mut attributes = BTreeMap::new();
        attributes.insert("cameo_event_code".into(), code_text.clone());
        let numbers = [
            (
                "quad_class",
                number::<u8>(
                    fields,
                    col::QUAD_CLASS,
                    "QuadClass",
                    1..=4,
                    "expected 1 to 4",
                )?,
            ),
            (
                "goldstein_scale",
                number::<f64>(
                    fields,
                    col::GOLDSTEIN,
                    "GoldsteinScale",
                    -10.0..=10.0,
                    "expected a number from -10 to 10",
                )?,
            ),
            (
                "num_mentions",
                number::<u64>(
                    fields,
                    col::NUM_MENTIONS,
                    "NumMentions",
                    0..=u64::MAX,
                    "expected a whole number",
                )?,
            ),
            (
                "avg_tone",
                number::<f64>(
                    fields,
                    col::AVG_TONE,
                    "AvgTone",
                    -100.0..=100.0,
                    "expected a number from -100 to 100",
                )?,
            ),
        ];
        for (key, value) in numbers {
            attributes.insert(key.into(), value);
        }
        for (key, index) in [
            ("is_root_event", col::IS_ROOT_EVENT),
            ("date_added", col::DATE_ADDED),
            ("action_geo_country_fips", col::GEO_COUNTRY),
            ("action_geo_adm1_code", col::GEO_ADM1),
        ] {
            let value = clean(&field(fields, index), MAX_MEDIUM_TEXT);
            if !value.is_empty() {
                attributes.insert(key.into(), value);
            }
        }
        Ok(GdeltRow {
            event_id,
            date,
            actors,
            event_code,
            location: location(fields)?,
            source_url: field(fields, col::SOURCE_URL),
            attributes,
        })
    }

    /// The event's id in the log.
    pub fn id(&self) -> String {
        format!("gdelt:{}", self.event_id)
    }
}

/// `20191024` as the EDTF day `2019-10-24`, checked against the calendar.
fn sql_date(text: &str) -> Result<String, RowProblem> {
    let expected = "expected a day as YYYYMMDD, e.g. 20191024";
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RowProblem::invalid("SQLDATE", text, expected));
    }
    let day = format!("{}-{}-{}", &text[..4], &text[4..6], &text[6..]);
    Edtf::parse(&day).map_err(|e| RowProblem::invalid("SQLDATE", text, e.to_string()))?;
    Ok(day)
}

/// Actor1 (`offset` 0) or Actor2 (`offset` 10), or `None` when its code is empty.
fn actor(
    fields: &[&str],
    offset: usize,
    code_field: &'static str,
) -> Result<Option<CameoActor>, RowProblem> {
    let code = field(fields, col::ACTOR_CODE + offset);
    if code.is_empty() {
        return Ok(None);
    }
    // Country and role codes are uppercase, ethnic and religious ones lowercase ("kur",
    // "catSEP"); the id lowercases them all, and no lowercase code spells a country.
    let well_formed = code.len() <= 100 && code.bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed {
        return Err(RowProblem::invalid(
            code_field,
            &code,
            "expected a CAMEO actor code of ASCII letters and digits, e.g. USAGOV",
        ));
    }
    let name = clean(&field(fields, col::ACTOR_NAME + offset), MAX_SHORT_TEXT);
    let country = field(fields, col::ACTOR_COUNTRY + offset);
    Ok(Some(CameoActor {
        name: if name.is_empty() { code.clone() } else { name },
        country: cameo::country(&country).map(str::to_string),
        types: col::ACTOR_TYPES.map(|i| field(fields, i + offset)),
        code,
    }))
}

/// ActionGeo as a location; `None` when GDELT did not locate the event (type 0 or empty).
fn location(fields: &[&str]) -> Result<Option<proto::Location>, RowProblem> {
    let geo_type = field(fields, col::GEO_TYPE);
    if geo_type.is_empty() || geo_type == "0" {
        return Ok(None);
    }
    let latitude = coordinate(fields, col::GEO_LAT, "ActionGeo_Lat", 90.0)?;
    let longitude = coordinate(fields, col::GEO_LONG, "ActionGeo_Long", 180.0)?;
    match (latitude, longitude) {
        (Some(_), None) => {
            return Err(RowProblem::invalid(
                "ActionGeo_Long",
                &field(fields, col::GEO_LONG),
                "is empty while ActionGeo_Lat is set; give both coordinates or neither",
            ))
        }
        (None, Some(_)) => {
            return Err(RowProblem::invalid(
                "ActionGeo_Lat",
                &field(fields, col::GEO_LAT),
                "is empty while ActionGeo_Long is set; give both coordinates or neither",
            ))
        }
        _ => {}
    }
    let name = clean(&field(fields, col::GEO_NAME), MAX_SHORT_TEXT);
    // FullName is "City, ADM1, Country" for cities (types 3 and 4) and "ADM1, Country" for
    // first-level divisions (types 2 and 5); the ADM1 column itself is only a code.
    let parts: Vec<&str> = name.split(',').map(str::trim).collect();
    let admin1 = match (geo_type.as_str(), parts.len()) {
        ("3" | "4", 3) => parts[1],
        ("2" | "5", 2) => parts[0],
        _ => "",
    };
    Ok(Some(proto::Location {
        admin1: admin1.to_string(),
        country: fips_to_iso3(&field(fields, col::GEO_COUNTRY))
            .unwrap_or("")
            .to_string(),
        latitude,
        longitude,
        name,
    }))
}

fn coordinate(
    fields: &[&str],
    index: usize,
    name: &'static str,
    limit: f64,
) -> Result<Option<f64>, RowProblem> {
    let text = field(fields, index);
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if (-limit..=limit).contains(&v) => Ok(Some(v)),
        _ => Err(RowProblem::invalid(
            name,
            &text,
            format!("expected degrees from -{limit} to {limit}"),
        )),
    }
}
