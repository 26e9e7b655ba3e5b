//! The checks a SQL store's tests run over its `.sql` files (feature `testing`): SQL is
//! reviewed as SQL, one statement per file under `src/sql/`, and none reads the
//! database's clock (a store is told the time).
//!
//! - [`statement_files`], [`all_sql_files`]: a store crate's `.sql` files.
//! - [`assert_one_statement_each`]: every file is one statement the crate uses.
//! - [`clock_reads`], [`assert_catches_clock_reads`], [`assert_no_clock_reads`]: the
//!   words that read the clock (the SQL standard's and the dialect's), a check that
//!   the list catches them, and no file reads the clock but those a store exempts.
//! - [`assert_plans_use_indexes`]: the hot statements' query plans read indexes.
//! - [`assert_placeholders_filled`]: no statement a store runs keeps a placeholder
//!   for a part.
//! - [`code`]: a file without its comment lines.
//! - [`proptest_cases`]: how many cases a store's model test runs.
//! - [`claimed`]: jobs enqueued and claimed, the start of a store's tests of leases.

use std::path::Path;

use leasehold::ClaimRequest;
use leasehold::testing::sql::sql_files;
use leasehold::time::OffsetDateTime;
use leasehold::{JobRecord, JobStore, NewJob};

/// The words of the SQL standard that read the clock, in every dialect.
pub const STANDARD_CLOCK_WORDS: &[&str] =
    &["now", "current_timestamp", "current_date", "current_time"];

/// A statement of every dialect that reads the clock through each standard word, a
/// comment included.
const STANDARD_CLOCK_READS: &[&str] = &[
    "SELECT now()",
    "UPDATE jobs SET finished_at = CURRENT_TIMESTAMP",
    "SELECT current_date, current_time",
    "SELECT 1 -- 'now'",
    "SELECT 1 -- Now",
];

/// The statement files of the store crate at `manifest_dir` (its `src/sql/`), as
/// `(path, text)`.
///
/// # Panics
///
/// When the directory or a file in it cannot be read.
pub fn statement_files(manifest_dir: &str) -> Vec<(String, String)> {
    sql_files(&Path::new(manifest_dir).join("src/sql"))
}

/// Every `.sql` file of the store crate at `manifest_dir`: its statements, the parts
/// joined into them (`src/sql/parts/`, when there is one) and its `migrations/`, and
/// the parts every dialect shares ([`crate::sql`], this crate's `src/sql/`), which the
/// store's statements join too.
///
/// # Panics
///
/// When a directory or a file in it cannot be read.
pub fn all_sql_files(manifest_dir: &str) -> Vec<(String, String)> {
    let dir = Path::new(manifest_dir);
    let mut files = statement_files(manifest_dir);
    let parts = dir.join("src/sql/parts");
    if parts.is_dir() {
        files.extend(sql_files(&parts));
    }
    files.extend(sql_files(&dir.join("migrations")));
    files.extend(shared_sql_files());
    files
}

/// The parts every dialect shares: this crate's `src/sql/`.
fn shared_sql_files() -> Vec<(String, String)> {
    sql_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sql"))
}

/// `text` without its `--` comment lines.
pub fn code(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that the crate has a statement in `used` (name, text) for each of its
/// `files_found` statement files, and that each holds one statement.
///
/// # Panics
///
/// When it does not: that is the test failing.
pub fn assert_one_statement_each(files_found: usize, used: &[(&str, &str)]) {
    assert_eq!(
        files_found,
        used.len(),
        "every file in src/sql has a statement in sql.rs"
    );
    for (name, text) in used {
        let statements = code(text)
            .split(';')
            .filter(|s| !s.trim().is_empty())
            .count();
        assert_eq!(statements, 1, "{name} holds one statement");
    }
}

/// Asserts that no statement of `statements` (name, text as the store runs it) keeps a
/// placeholder for a part (`{filter}`, `{schema}`: a `{`, lowercase letters and `_`,
/// and `}`), outside its comment lines.
///
/// # Panics
///
/// When one does: that is the test failing.
pub fn assert_placeholders_filled<'a>(statements: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (name, text) in statements {
        let code = code(text);
        let left = code.split('{').skip(1).find_map(|after| {
            let (word, _) = after.split_once('}')?;
            let is_placeholder =
                !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            is_placeholder.then_some(word)
        });
        assert_eq!(left, None, "{name} has every placeholder filled");
    }
}

/// The clock-reading words in `sql` (comments and string literals included): the
/// standard's, the dialect's `words`, and its `functions` when called.
pub fn clock_reads(sql: &str, words: &[&str], functions: &[&str]) -> Vec<String> {
    let words = [STANDARD_CLOCK_WORDS, words].concat();
    leasehold::testing::sql::clock_reads(sql, &words, functions)
}

/// Asserts that a store's `clock_reads` finds a clock read in a statement of each
/// standard way and of each of the dialect's `dialect_reads`, and none in `innocent`
/// (which names columns like the clock's words).
///
/// # Panics
///
/// When it does not: that is the test failing.
pub fn assert_catches_clock_reads(
    clock_reads: impl Fn(&str) -> Vec<String>,
    dialect_reads: &[&str],
    innocent: &str,
) {
    for sql in STANDARD_CLOCK_READS.iter().chain(dialect_reads) {
        assert!(!clock_reads(sql).is_empty(), "{sql}");
    }
    assert!(clock_reads(innocent).is_empty(), "{innocent}");
}

/// Asserts that at least `min_files` files were found and that no file of `files`
/// reads the clock (`clock_reads` finds the words that do), but those `exempt` names
/// by path.
///
/// # Panics
///
/// When one does, naming each offender and its words: that is the test failing.
pub fn assert_no_clock_reads(
    files: &[(String, String)],
    min_files: usize,
    clock_reads: impl Fn(&str) -> Vec<String>,
    exempt: impl Fn(&str) -> bool,
) {
    let offenders: Vec<String> = files
        .iter()
        .filter(|(path, _)| !exempt(path))
        .filter_map(|(path, text)| {
            let reads = clock_reads(text);
            (!reads.is_empty()).then(|| format!("{path}: {reads:?}"))
        })
        .collect();

    assert!(files.len() > min_files, "the SQL files were found");
    assert!(
        offenders.is_empty(),
        "SQL reads the database clock: {offenders:#?}"
    );
}

/// Asserts that no plan of `plans` (a statement's name, its plan one line per step)
/// reads a whole table (`is_full_scan` tells such a line in the dialect's `EXPLAIN`),
/// and that the first, the claim's, reads both the ready and the leased index.
///
/// # Panics
///
/// When one does: that is the test failing.
pub fn assert_plans_use_indexes(
    plans: &[(&str, Vec<String>)],
    is_full_scan: impl Fn(&str) -> bool,
) {
    for (name, plan) in plans {
        eprintln!("{name}:\n  {}", plan.join("\n  "));
        assert!(
            !plan.iter().any(|line| is_full_scan(line)),
            "{name} scans a whole table: {plan:#?}"
        );
    }
    let claim = &plans[0].1;
    assert!(
        claim.iter().any(|l| l.contains("jobs_ready"))
            && claim.iter().any(|l| l.contains("jobs_leased")),
        "the claim reads the ready and leased indexes: {claim:#?}"
    );
}

/// How many cases a store's property test runs: `PROPTEST_CASES`, else `default`
/// (a store whose every case opens a database picks fewer).
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}

/// `count` jobs (kind `k`, payload `{"i": i}`) enqueued into the default queue of
/// `store` at `now` and claimed by worker `w` at `now` until `lease_until`, in claim
/// order.
///
/// # Panics
///
/// When the store fails, or claims another number of jobs.
pub async fn claimed(
    store: &dyn JobStore,
    count: usize,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Vec<JobRecord> {
    let jobs: Vec<NewJob> = (0..count)
        .map(|i| NewJob::new("k", serde_json::json!({ "i": i }), now).expect("a valid job"))
        .collect();
    store.enqueue_many(jobs, now).await.expect("enqueue");
    let queues = [leasehold::DEFAULT_QUEUE.to_owned()];
    let claimed = store
        .claim(ClaimRequest::new("w", &queues, count, lease_until), now)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), count, "every job enqueued is claimed");
    claimed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_parts_are_among_every_sql_file() {
        let shared = shared_sql_files();

        let names: Vec<&str> = shared
            .iter()
            .filter_map(|(path, _)| path.rsplit('/').next())
            .collect();
        assert_eq!(names, ["on_schedule_conflict.sql", "queue_stats.sql"]);
    }

    #[test]
    fn comments_are_not_code() {
        assert_eq!(code("-- a comment\nSELECT 1\n  -- another"), "SELECT 1");
    }

    #[test]
    fn the_standard_words_are_caught_in_every_dialect() {
        assert_catches_clock_reads(|sql| clock_reads(sql, &[], &[]), &[], "SELECT nowhere");
    }

    #[test]
    fn a_plan_that_scans_a_table_fails() {
        let claim = vec!["jobs_ready".to_owned(), "jobs_leased".to_owned()];
        let scan = vec!["SCAN jobs".to_owned()];
        let plans = [("claim", claim), ("get", scan)];

        let scanned =
            std::panic::catch_unwind(|| assert_plans_use_indexes(&plans, |l| l == "SCAN jobs"));

        assert!(scanned.is_err());
        assert_plans_use_indexes(&plans[..1], |l| l == "SCAN jobs");
    }

    #[test]
    fn a_placeholder_left_in_code_fails() {
        assert_placeholders_filled([
            ("filled.sql", "-- {filter}\nSELECT '{}' FROM main.jobs"),
            ("json.sql", "SELECT json_object('a', '{b, c}')"),
        ]);
        let left = std::panic::catch_unwind(|| {
            assert_placeholders_filled([("left.sql", "SELECT id FROM jobs WHERE {filter}")]);
        });
        assert!(left.is_err());
    }

    #[test]
    fn one_statement_per_file_passes_and_two_fail() {
        assert_one_statement_each(1, &[("one.sql", "-- a; b\nSELECT 1;")]);
        let two = std::panic::catch_unwind(|| {
            assert_one_statement_each(1, &[("two.sql", "SELECT 1; SELECT 2")]);
        });
        assert!(two.is_err());
    }

    #[test]
    fn a_clock_read_fails_unless_exempt() {
        let files = vec![
            ("a.sql".to_owned(), "SELECT run_at FROM jobs".to_owned()),
            ("probe.sql".to_owned(), "SELECT now()".to_owned()),
        ];
        let reads = |sql: &str| clock_reads(sql, &[], &[]);

        assert_no_clock_reads(&files, 1, reads, |path| path == "probe.sql");
        let caught =
            std::panic::catch_unwind(|| assert_no_clock_reads(&files, 1, reads, |_| false));
        assert!(caught.is_err());
    }
}
