//! SQL that both dialects share, one part per file under `src/sql/`, and the filling of
//! a statement's placeholders with its parts.
//!
//! - [`ON_SCHEDULE_CONFLICT`], [`QUEUE_STATS`]: parts a store's statement pulls in
//!   through a placeholder of the same name (`{on_schedule_conflict}`,
//!   `{queue_stats}`). They name the store's tables `{schema}.jobs` (PostgreSQL fills in
//!   the store's schema, SQLite `main`) and number their parameters `?1`, `?2`, ...
//!   (PostgreSQL's store writes them `$1`, `$2`, ... when it fills them in).
//! - [`fill!`](crate::fill): a statement with its placeholders filled at compile time,
//!   for a store whose statements are `&'static str` constants.
//!
//! A part is dialect-free SQL: the same text runs on SQLite and on PostgreSQL.

/// The `ON CONFLICT` clause of `upsert_schedule.sql`: what an upsert writes over a
/// stored schedule, and what it keeps (the next slot unless the spec changed, a pause).
pub const ON_SCHEDULE_CONFLICT: &str = include_str!("sql/on_schedule_conflict.sql");

/// The body of `queue_stats.sql`: every known queue's jobs counted by state, its
/// earliest pending run time and its pause; the store adds the order of the names.
pub const QUEUE_STATS: &str = include_str!("sql/queue_stats.sql");

/// `$text` (a constant `&str`) with every `$placeholder` in it replaced by `$part`, one
/// pair after another, as a `&'static str` built at compile time. A part may hold a
/// placeholder that a later pair fills.
///
/// ```
/// const PART: &str = "state = 'running'";
/// const STATEMENT: &str = leasehold_sql::fill!(
///     "SELECT id FROM {schema}.jobs WHERE {filter}",
///     "{filter}" => PART,
///     "{schema}" => "main",
/// );
/// assert_eq!(STATEMENT, "SELECT id FROM main.jobs WHERE state = 'running'");
/// ```
#[macro_export]
macro_rules! fill {
    ($text:expr $(,)?) => {
        $text
    };
    ($text:expr, $placeholder:expr => $part:expr $(, $placeholders:expr => $parts:expr)* $(,)?) => {
        $crate::fill!(
            {
                // Named once: a text written twice below would be evaluated twice at
                // each level, and a statement of ten parts 2^10 times.
                const TEXT: &str = $text;
                const FILLED: [u8; $crate::sql::filled_len(TEXT, $placeholder, $part)] =
                    $crate::sql::filled(TEXT, $placeholder, $part);
                match ::core::str::from_utf8(&FILLED) {
                    Ok(text) => text,
                    Err(_) => panic!("text with text in place of a placeholder is text"),
                }
            }
            $(, $placeholders => $parts)*
        )
    };
}

/// The length of `text` with every `placeholder` in it replaced by `part` (for
/// [`fill!`](crate::fill)).
///
/// # Panics
///
/// When `placeholder` is empty (at compile time, in a constant).
#[doc(hidden)]
pub const fn filled_len(text: &str, placeholder: &str, part: &str) -> usize {
    assert!(!placeholder.is_empty(), "a placeholder is not empty");
    let (text, placeholder) = (text.as_bytes(), placeholder.as_bytes());
    let mut len = 0;
    let mut at = 0;
    while at < text.len() {
        if starts_with_at(text, at, placeholder) {
            len += part.len();
            at += placeholder.len();
        } else {
            len += 1;
            at += 1;
        }
    }
    len
}

/// The bytes of `text` with every `placeholder` in it replaced by `part`; `N` is their
/// [`filled_len`] (for [`fill!`](crate::fill)).
///
/// # Panics
///
/// When `placeholder` is empty or `N` is another length (at compile time, in a
/// constant).
#[doc(hidden)]
pub const fn filled<const N: usize>(text: &str, placeholder: &str, part: &str) -> [u8; N] {
    assert!(!placeholder.is_empty(), "a placeholder is not empty");
    let (text, placeholder, part) = (text.as_bytes(), placeholder.as_bytes(), part.as_bytes());
    let mut filled = [0; N];
    let mut len = 0;
    let mut at = 0;
    while at < text.len() {
        if starts_with_at(text, at, placeholder) {
            let mut i = 0;
            while i < part.len() {
                filled[len] = part[i];
                len += 1;
                i += 1;
            }
            at += placeholder.len();
        } else {
            filled[len] = text[at];
            len += 1;
            at += 1;
        }
    }
    assert!(len == N, "N is the filled length");
    filled
}

/// Whether `text` holds `word` from byte `at` on.
const fn starts_with_at(text: &[u8], at: usize, word: &[u8]) -> bool {
    if text.len() - at < word.len() {
        return false;
    }
    let mut i = 0;
    while i < word.len() {
        if text[at + i] != word[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &str = crate::fill!(
        "{a} and {a}, {b}",
        "{a}" => "x{b}",
        "{b}" => "yz",
    );

    #[test]
    fn every_placeholder_is_filled_and_a_part_may_hold_a_later_one() {
        assert_eq!(NESTED, "xyz and xyz, yz");
        assert_eq!(
            crate::fill!("no placeholder", "{a}" => "x"),
            "no placeholder"
        );
        assert_eq!(crate::fill!("{a}", "{a}" => ""), "");
        assert_eq!(crate::fill!("{a", "{a}" => "x"), "{a");
    }

    #[test]
    fn the_shared_parts_read_no_dialect_of_their_own() {
        for part in [ON_SCHEDULE_CONFLICT, QUEUE_STATS] {
            assert!(!part.contains('$'), "parameters are ?N: {part}");
            assert!(!part.contains("::"), "no PostgreSQL cast: {part}");
        }
        assert!(QUEUE_STATS.contains("FROM {schema}.jobs"));
        assert!(QUEUE_STATS.contains("FROM {schema}.queues"));
    }
}
