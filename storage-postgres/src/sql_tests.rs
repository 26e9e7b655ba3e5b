//! The SQL as SQL: no statement reads the database clock, each file is one statement,
//! and every statement names its tables through the schema placeholder.

use std::path::Path;

use super::*;

/// Words that read the database's clock wherever they appear (PostgreSQL's SQL-standard
/// time "functions" take no parentheses).
const CLOCK_WORDS: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
];

/// The `.sql` files under `dir` of this crate, with their text.
fn sql_files(dir: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("an SQL file is readable");
            (path.display().to_string(), text)
        })
        .collect();
    files.sort();
    files
}

/// The clock-reading words in `sql`, comments and string literals included ('now' is
/// a timestamp literal PostgreSQL reads the clock for).
fn clock_reads(sql: &str) -> Vec<String> {
    let lower = sql.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut rest = lower.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        let word_and_after = &rest[start..];
        let end = word_and_after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(word_and_after.len());
        let word = &word_and_after[..end];
        if CLOCK_WORDS.contains(&word) {
            found.push(word.to_owned());
        }
        rest = &word_and_after[end..];
    }
    found
}

#[test]
fn the_clock_check_catches_every_way_to_read_the_clock() {
    for sql in [
        "SELECT now()",
        "UPDATE jobs SET finished_at = CURRENT_TIMESTAMP",
        "SELECT clock_timestamp()",
        "SELECT statement_timestamp()",
        "SELECT transaction_timestamp()",
        "SELECT LOCALTIMESTAMP",
        "SELECT localtime, current_date, current_time",
        "SELECT 'now'::timestamptz",
        "SELECT extract(epoch from timeofday()::timestamptz)",
        "SELECT 1 -- Now",
    ] {
        assert!(!clock_reads(sql).is_empty(), "{sql}");
    }
    assert!(clock_reads("SELECT run_at, known, nowhere FROM jobs -- the time given").is_empty());
}

#[test]
fn no_sql_file_reads_the_database_clock() {
    let files: Vec<_> = sql_files("src/sql")
        .into_iter()
        .chain(sql_files("migrations"))
        .collect();

    let offenders: Vec<String> = files
        .iter()
        .filter_map(|(path, text)| {
            let reads = clock_reads(text);
            (!reads.is_empty()).then(|| format!("{path}: {reads:?}"))
        })
        .collect();

    assert!(files.len() > 20, "the SQL files were found");
    assert!(
        offenders.is_empty(),
        "SQL reads the database clock: {offenders:#?}"
    );
}

/// `text` without its `--` comment lines.
fn code(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_sql_file_is_one_statement_in_use() {
    let files = sql_files("src/sql");

    assert_eq!(
        files.len(),
        ALL.len(),
        "every file in src/sql has a statement in sql.rs"
    );
    for (name, text) in ALL {
        let statements = code(text)
            .split(';')
            .filter(|s| !s.trim().is_empty())
            .count();
        assert_eq!(statements, 1, "{name} holds one statement");
    }
}

#[test]
fn statements_name_tables_only_through_the_schema_placeholder() {
    for (name, text) in ALL {
        let code = code(text);
        for table in ["jobs", "schedules", "_leasehold_migrations"] {
            for keyword in ["FROM", "UPDATE", "INTO"] {
                let bare = format!("{keyword} {table}");
                assert!(
                    !code.contains(&bare),
                    "{name} names {table} without its schema ({bare:?})"
                );
            }
        }
    }
    let sql = Statements::for_schema("\"custom\"");
    assert!(sql.claim_queue.contains("\"custom\".jobs"));
    assert!(!sql.claim_queue.contains(SCHEMA_PLACEHOLDER));
}
