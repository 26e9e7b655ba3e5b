//! What commands print: aligned [`Table`]s for people, JSON for scripts, and the
//! time formats both use.

use std::io::Write;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::error::CliError;

/// Rows under a header, each column as wide as its widest cell.
#[derive(Debug)]
pub(crate) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub(crate) fn new(header: Vec<&'static str>) -> Self {
        Self {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len(), "one cell per column");
        self.rows.push(cells);
    }

    /// The table as text: columns two spaces apart, the last one not padded.
    pub(crate) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| (*h).to_owned()).collect();
        let mut text = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  "));
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    /// Prints the table to stdout.
    ///
    /// # Errors
    ///
    /// Writing to stdout failed.
    pub(crate) fn print(&self) -> Result<(), CliError> {
        print_text(&self.render())
    }
}

/// Prints `text` to stdout as it is.
///
/// # Errors
///
/// Writing to stdout failed.
pub(crate) fn print_text(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Prints `value` to stdout as pretty JSON and a newline.
///
/// # Errors
///
/// Serializing or writing failed.
pub(crate) fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    print_text(&text)
}

/// Prints a list: with `--json` (`json`) the value `as_json` makes; else `none` when
/// there are no `rows`, or a table of `header` with a line per row.
///
/// # Errors
///
/// Serializing or writing failed.
pub(crate) fn print_list<S: Serialize>(
    json: bool,
    as_json: impl FnOnce() -> S,
    none: &str,
    header: &[&'static str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), CliError> {
    if json {
        return print_json(&as_json());
    }
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        return print_text(none);
    }
    let mut table = Table::new(header.to_vec());
    for row in rows {
        table.row(row);
    }
    table.print()
}

/// A time in UTC for a table: `2024-05-01 12:00:00Z`.
pub(crate) fn utc(time: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    time.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| rfc3339(time))
}

/// An optional time for a table: `-` when unset.
pub(crate) fn utc_or_dash(time: Option<OffsetDateTime>) -> String {
    time.map_or_else(|| "-".to_owned(), utc)
}

/// A time in RFC 3339, as JSON output has it.
pub(crate) fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}

/// `text` cut to at most `max` characters on one line, with `…` when cut.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    let cut = line.chars().count() > max || text.lines().nth(1).is_some();
    if !cut {
        return line.to_owned();
    }
    let mut short: String = line.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn columns_align_and_the_last_is_not_padded() {
        let mut table = Table::new(vec!["ID", "STATE", "KIND"]);
        table.row(vec!["1".into(), "available".into(), "send_email".into()]);
        table.row(vec!["22".into(), "failed".into(), "x".into()]);

        assert_eq!(
            table.render(),
            "ID  STATE      KIND\n1   available  send_email\n22  failed     x\n"
        );
    }

    #[test]
    fn times_print_in_utc_for_tables_and_rfc3339_for_json() {
        let at = datetime!(2000-01-01 1:02:03 +01:00);

        assert_eq!(utc(at), "2000-01-01 00:02:03Z");
        assert_eq!(rfc3339(at), "2000-01-01T01:02:03+01:00");
        assert_eq!(utc_or_dash(None), "-");
    }

    #[test]
    fn long_or_multiline_text_is_cut() {
        assert_eq!(one_line("short", 10), "short");
        assert_eq!(one_line("a long message", 6), "a lon…");
        assert_eq!(one_line("first\nsecond", 10), "first…");
    }
}
