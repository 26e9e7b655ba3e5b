//! Checks SQL stores share: finding a crate's `.sql` files and the words in them that
//! read the database's clock (a store is told the time; its SQL never reads one).
//!
//! Each store names the words and functions that read the clock in its dialect.

use std::path::Path;

/// The `.sql` files directly under `dir`, as `(path, text)`, sorted by path.
///
/// # Panics
///
/// When `dir` or a file in it cannot be read (that is the test failing).
pub fn sql_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
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

/// The words of `sql` (comments and string literals included, case-insensitive) that
/// read the clock: any of `words`, and any of `functions` followed by `(`.
///
/// ```
/// use leasehold::testing::sql::clock_reads;
///
/// let reads = clock_reads("SELECT now(), strftime('%s') -- run_at", &["now"], &["strftime"]);
/// assert_eq!(reads, ["now", "strftime"]);
/// assert!(clock_reads("SELECT run_at, nowhere FROM jobs", &["now"], &[]).is_empty());
/// ```
pub fn clock_reads(sql: &str, words: &[&str], functions: &[&str]) -> Vec<String> {
    let lower = sql.to_ascii_lowercase();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut rest = lower.as_str();
    while let Some(start) = rest.find(is_word) {
        let word_and_after = &rest[start..];
        let end = word_and_after
            .find(|c: char| !is_word(c))
            .unwrap_or(word_and_after.len());
        let word = &word_and_after[..end];
        let called = word_and_after[end..].trim_start().starts_with('(');
        if words.contains(&word) || (called && functions.contains(&word)) {
            found.push(word.to_owned());
        }
        rest = &word_and_after[end..];
    }
    found
}
