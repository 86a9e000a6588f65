//! Output for people: aligned tables and one-line descriptions of entries. Scripts get JSON
//! instead (`--json`), in the export format.

use crate::proto::{self, entry::Body};

/// Cells longer than this are cut with an ellipsis, so a table stays readable.
const MAX_CELL_CHARS: usize = 60;

/// A table: a header row and rows of cells, printed with aligned columns.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column titles.
    pub fn new(header: Vec<&'static str>) -> Table {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds a row; cells past the header's width are ignored.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.into_iter().map(|c| cut(&c)).collect());
    }

    /// True when no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, columns separated by two spaces.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| -> String {
            let mut text = String::new();
            for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
                if i + 1 == widths.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    let pad = width - cell.chars().count() + 2;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            text.trim_end().to_string()
        };
        let mut out = vec![line(self.header.clone())];
        for row in &self.rows {
            out.push(line(row.iter().map(String::as_str).collect()));
        }
        out.join("\n")
    }
}

fn cut(text: &str) -> String {
    let text = text.replace(['\n', '\t'], " ");
    if text.chars().count() <= MAX_CELL_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_CELL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The enum value's name without its prefix, in lower case: `CERTAINTY_REPORTED` -> `reported`.
pub fn certainty(value: i32) -> String {
    proto::Certainty::try_from(value)
        .map(|c| short(c.as_str_name(), "CERTAINTY_"))
        .unwrap_or_else(|_| value.to_string())
}

/// `ACTOR_KIND_ARMED_GROUP` -> `armed_group`.
pub fn actor_kind(value: i32) -> String {
    proto::ActorKind::try_from(value)
        .map(|k| short(k.as_str_name(), "ACTOR_KIND_"))
        .unwrap_or_else(|_| value.to_string())
}

fn role(value: i32) -> String {
    proto::Role::try_from(value)
        .map(|r| short(r.as_str_name(), "ROLE_"))
        .unwrap_or_else(|_| value.to_string())
}

fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_lowercase()
}

/// Who takes part in an event: `russia (initiator), hts (target)`.
pub fn participants(event: &proto::Event) -> String {
    event
        .participants
        .iter()
        .map(|p| format!("{} ({})", p.actor_id, role(p.role)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A claim as a sentence: `russia backs liwa-al-quds`, `NOT russia protects hezbollah`, or
/// `russia recruits (about ev-1)` for a claim about an event.
pub fn claim_sentence(claim: &proto::Claim) -> String {
    let mut words: Vec<&str> = Vec::new();
    if claim.negated {
        words.push("NOT");
    }
    words.extend(
        [&claim.subject, &claim.relation, &claim.object]
            .into_iter()
            .filter(|w| !w.is_empty())
            .map(String::as_str),
    );
    let mut text = words.join(" ");
    if !claim.event_id.is_empty() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("(about {})", claim.event_id));
    }
    text
}

/// One readable line for an entry, as `eventlog tail` prints it.
pub fn entry_line(entry: &proto::Entry) -> String {
    let position = entry.position;
    match &entry.body {
        Some(Body::Actor(actor)) => format!(
            "#{position} actor  {} \"{}\" ({}{})",
            actor.id,
            actor.name,
            actor_kind(actor.kind),
            if actor.country.is_empty() {
                String::new()
            } else {
                format!(", {}", actor.country)
            }
        ),
        Some(Body::Event(event)) => format!(
            "#{position} event  {} {} {} [{}] {}: {}",
            event.id,
            or_dash(&event.date),
            event.relation,
            certainty(event.certainty),
            participants(event),
            cut(&event.summary)
        ),
        Some(Body::Claim(claim)) => format!(
            "#{position} claim  {} {} [{}] {}{}",
            claim.id,
            or_dash(&claim.valid),
            certainty(claim.certainty),
            claim_sentence(claim),
            if claim.claimant.is_empty() {
                String::new()
            } else {
                format!(" (says {})", claim.claimant)
            }
        ),
        None => format!("#{position} (empty entry)"),
    }
}

/// `-` for an empty value, so table columns never look shifted.
pub fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_string()
    }
}

/// Sources as `name` or `name <url>`, joined.
pub fn sources(sources: &[proto::Source]) -> String {
    sources
        .iter()
        .map(|s| s.name.clone())
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_cut_long_cells() {
        let mut table = Table::new(vec!["ID", "WHAT"]);
        table.row(vec!["a".into(), "short".into()]);
        table.row(vec!["longer-id".into(), "x".repeat(100)]);
        let text = table.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ID         WHAT");
        assert_eq!(lines[1], "a          short");
        assert!(lines[2].starts_with("longer-id  xxx"));
        assert!(lines[2].ends_with('…'));
        assert_eq!(lines[2].chars().count(), 11 + MAX_CELL_CHARS);
    }

    #[test]
    fn claims_read_as_sentences() {
        let claim = proto::Claim {
            subject: "russia".into(),
            relation: "recruits".into(),
            object: "x".into(),
            negated: true,
            ..Default::default()
        };
        assert_eq!(claim_sentence(&claim), "NOT russia recruits x");
        let about_event = proto::Claim {
            subject: "russia".into(),
            relation: "recruits".into(),
            event_id: "ev-1".into(),
            ..Default::default()
        };
        assert_eq!(claim_sentence(&about_event), "russia recruits (about ev-1)");
        assert_eq!(certainty(proto::Certainty::Alleged as i32), "alleged");
    }
}
