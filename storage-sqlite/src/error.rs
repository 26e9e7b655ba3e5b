//! From sqlx errors to [`StoreError`]: busy and locked are `Busy`, a file that is not a
//! database (or is corrupt) is `Incompatible`, anything else is `Backend` with the sqlx
//! error as its source.

use std::fmt;
use std::sync::Arc;

use leasehold::StoreError;

/// `SQLITE_CORRUPT`: the file's content is damaged.
const SQLITE_CORRUPT: i64 = 11;
/// `SQLITE_BUSY`: another connection holds the lock past the busy timeout.
const SQLITE_BUSY: i64 = 5;
/// `SQLITE_LOCKED`: a conflict inside one connection or shared cache.
const SQLITE_LOCKED: i64 = 6;
/// `SQLITE_NOTADB`: the file is not a SQLite database.
const SQLITE_NOTADB: i64 = 26;

/// The primary result code of a SQLite error (the low byte of the extended code).
fn primary_code(error: &sqlx::Error) -> Option<i64> {
    let code = error.as_database_error()?.code()?;
    code.parse::<i64>().ok().map(|extended| extended & 0xff)
}

/// Whether `error` is a unique or primary key violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// The [`StoreError`] for a sqlx error.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match classify(&error) {
        Class::Busy => StoreError::Busy(Box::new(error)),
        Class::Incompatible(message) => StoreError::Incompatible(message),
        Class::Other => StoreError::Backend(Box::new(error)),
    }
}

/// The [`StoreError`] for a sqlx error that several callers share (a failed commit of
/// a group): each gets its own `StoreError` over the one sqlx error.
pub(crate) fn shared_store_error(error: &Arc<sqlx::Error>) -> StoreError {
    let source = Box::new(SharedError(Arc::clone(error)));
    match classify(error) {
        Class::Busy => StoreError::Busy(source),
        Class::Incompatible(message) => StoreError::Incompatible(message),
        Class::Other => StoreError::Backend(source),
    }
}

enum Class {
    Busy,
    Incompatible(String),
    Other,
}

fn classify(error: &sqlx::Error) -> Class {
    match primary_code(error) {
        Some(SQLITE_BUSY | SQLITE_LOCKED) => Class::Busy,
        Some(SQLITE_NOTADB) => Class::Incompatible(format!(
            "the file is not a SQLite database (or is encrypted): {error}"
        )),
        Some(SQLITE_CORRUPT) => {
            Class::Incompatible(format!("the database file is corrupt: {error}"))
        }
        _ if matches!(error, sqlx::Error::PoolTimedOut) => Class::Busy,
        _ => Class::Other,
    }
}

/// A sqlx error shared by the calls of one group commit.
#[derive(Debug)]
struct SharedError(Arc<sqlx::Error>);

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the group commit failed: {}", self.0)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// A `Backend` error carrying only a message (a broken invariant of the stored data).
pub(crate) fn corrupt_row(message: String) -> StoreError {
    StoreError::backend(message)
}

/// The error of a call made after the store's writer stopped (its runtime shut down).
pub(crate) fn writer_stopped() -> StoreError {
    StoreError::backend("the store's writer task has stopped (was its Tokio runtime shut down?)")
}
