//! The table the run prints: one line per target of issue 11, the server's figure beside the
//! reference measured in the same run, so a reader never compares numbers from different days.

use std::fmt::Write as _;
use std::time::Duration;

/// One line of the table.
pub struct Row {
    /// What is measured.
    pub what: String,
    /// The server's figure.
    pub eventlog: String,
    /// The reference's figure, or "–".
    pub reference: String,
    /// eventlog / reference (or the ratio the target names), when there is one.
    pub ratio: Option<f64>,
    /// The target, in words.
    pub target: String,
    /// Whether the target is met; `None` when the line is informational.
    pub pass: Option<bool>,
}

impl Row {
    /// A line with every column.
    pub fn new(
        what: impl Into<String>,
        eventlog: impl Into<String>,
        reference: impl Into<String>,
        ratio: Option<f64>,
        target: impl Into<String>,
        pass: Option<bool>,
    ) -> Row {
        Row {
            what: what.into(),
            eventlog: eventlog.into(),
            reference: reference.into(),
            ratio,
            target: target.into(),
            pass,
        }
    }
}

/// The table as Markdown, so it pastes into `docs/benchmarks.md` and issue notes unchanged.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| what | eventlog | reference | ratio | target | pass? |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        let ratio = row.ratio.map_or("–".into(), |r| format!("{r:.2}"));
        let pass = match row.pass {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "–",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio} | {} | {pass} |",
            row.what, row.eventlog, row.reference, row.target
        );
    }
    out
}

/// "12.3k/s".
pub fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2}M/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1}k/s", per_second / 1e3)
    } else {
        format!("{per_second:.0}/s")
    }
}

/// "1.23 ms".
pub fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

/// "512 MiB".
pub fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Bytes as kB (1000 bytes), one decimal: "78.5 kB".
pub fn kb(bytes: usize) -> String {
    format!("{:.1} kB", bytes as f64 / 1000.0)
}

/// "12,345" for counts in prose.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
