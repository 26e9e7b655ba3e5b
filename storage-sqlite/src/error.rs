//! From sqlx errors to [`StoreError`], by what the caller should do about them.
//!
//! - Retry: `SQLITE_BUSY` and `SQLITE_LOCKED` (another writer held the lock past the
//!   busy timeout) and a pool timeout are [`StoreError::Busy`].
//! - An operator must act: `SQLITE_FULL`, `SQLITE_READONLY` (every extended code),
//!   `SQLITE_PERM`, `SQLITE_AUTH` and `SQLITE_CANTOPEN` are [`StoreError::Permanent`],
//!   whose message says what to do. None of them wedges the store: its writer leaves no
//!   transaction behind (see [`crate::writer`]), so the same store works again once the
//!   cause is gone.
//! - Restore a backup: `SQLITE_CORRUPT`, `SQLITE_NOTADB` and the I/O errors that report
//!   damaged data (`SQLITE_IOERR_DATA`, `SQLITE_IOERR_CORRUPTFS`) are
//!   [`StoreError::Incompatible`].
//! - Anything else is [`StoreError::Backend`] (transient), the other `SQLITE_IOERR`
//!   codes included: an I/O error may pass (a network filesystem that comes back, a
//!   device that recovers), and SQLite reports a write that failed for want of space
//!   as `SQLITE_FULL` (a short write, or `ENOSPC`). sqlx keeps only the result code
//!   and message, not the `errno` behind an I/O error, so the rare full disk that
//!   surfaces as another I/O code (an `fsync` or `-shm` growth failing with `ENOSPC`)
//!   cannot be told apart and stays transient; its message points at the disk.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use leasehold::StoreError;
use leasehold_sql::error::Class;

/// `SQLITE_PERM`: the requested access mode cannot be provided.
const SQLITE_PERM: i64 = 3;
/// `SQLITE_BUSY`: another connection holds the lock past the busy timeout.
const SQLITE_BUSY: i64 = 5;
/// `SQLITE_LOCKED`: a conflict inside one connection or shared cache.
const SQLITE_LOCKED: i64 = 6;
/// `SQLITE_READONLY`: the database (file, directory or connection) cannot be written.
const SQLITE_READONLY: i64 = 8;
/// `SQLITE_IOERR`: the operating system reported an I/O error.
const SQLITE_IOERR: i64 = 10;
/// `SQLITE_CORRUPT`: the file's content is damaged.
const SQLITE_CORRUPT: i64 = 11;
/// `SQLITE_FULL`: the disk, or the size the database may grow to, is full.
const SQLITE_FULL: i64 = 13;
/// `SQLITE_CANTOPEN`: the file (or its `-wal`/`-shm` companion) cannot be opened.
const SQLITE_CANTOPEN: i64 = 14;
/// `SQLITE_AUTH`: an authorizer refused the statement.
const SQLITE_AUTH: i64 = 23;
/// `SQLITE_NOTADB`: the file is not a SQLite database.
const SQLITE_NOTADB: i64 = 26;
/// `SQLITE_READONLY_DBMOVED`: the file was moved or deleted while open.
const SQLITE_READONLY_DBMOVED: i64 = SQLITE_READONLY | (4 << 8);
/// `SQLITE_IOERR_DATA`: a page failed its checksum (the checksum VFS).
const SQLITE_IOERR_DATA: i64 = SQLITE_IOERR | (32 << 8);
/// `SQLITE_IOERR_CORRUPTFS`: the filesystem returned data that cannot be right.
const SQLITE_IOERR_CORRUPTFS: i64 = SQLITE_IOERR | (33 << 8);

const FULL: &str = "the database or the disk it is on is full: free disk space or raise the \
     size limit (disk quota, file size limit, PRAGMA max_page_count); the store carries on by \
     itself once there is room";
const READ_ONLY: &str = "the database file or its directory is read-only: make both writable by \
     this process (SQLite needs to create the -wal and -shm files beside it), and open it \
     read-write (not with mode=ro, read_only or PRAGMA query_only)";
const MOVED: &str = "the database file was moved or deleted while the store had it open: put \
     it back, or open a new store on the file where it now is";
const PERMISSION: &str = "permission denied: make the database file, its directory and its \
     -wal and -shm files readable and writable by this process";
const CANNOT_OPEN: &str = "cannot open the database file: check that the path names a file \
     (not a directory), that its directory exists, and that this process may read and write \
     both (SQLite creates the -wal and -shm files beside it)";
const NOT_AUTHORIZED: &str = "an authorizer refused the statement: allow leasehold's \
     statements on this connection";
const CORRUPT: &str = "the database file is corrupt: stop the processes that use it, restore it \
     from a backup, and check the copy with PRAGMA integrity_check";
const NOT_A_DATABASE: &str = "the file is not a SQLite database (or is encrypted): check the \
     path; if it held leasehold's jobs, restore it from a backup";
const DISK_TROUBLE: &str = "a disk I/O error: check the disk, the filesystem and the system \
     log (a failing device, a network filesystem that went away, a full disk); the next write \
     tries again";

/// The class of a SQLite result code (primary or extended).
fn class_of_code(code: i64) -> Class {
    match code {
        SQLITE_READONLY_DBMOVED => return Class::Permanent(MOVED),
        SQLITE_IOERR_DATA | SQLITE_IOERR_CORRUPTFS => return Class::Incompatible(CORRUPT),
        _ => {}
    }
    // The primary code is the low byte of the extended code.
    match code & 0xff {
        SQLITE_BUSY | SQLITE_LOCKED => Class::Busy,
        SQLITE_FULL => Class::Permanent(FULL),
        SQLITE_READONLY => Class::Permanent(READ_ONLY),
        SQLITE_PERM => Class::Permanent(PERMISSION),
        SQLITE_CANTOPEN => Class::Permanent(CANNOT_OPEN),
        SQLITE_AUTH => Class::Permanent(NOT_AUTHORIZED),
        SQLITE_CORRUPT => Class::Incompatible(CORRUPT),
        SQLITE_NOTADB => Class::Incompatible(NOT_A_DATABASE),
        SQLITE_IOERR => Class::Backend(Some(DISK_TROUBLE)),
        _ => Class::Backend(None),
    }
}

fn classify(error: &sqlx::Error) -> Class {
    if matches!(error, sqlx::Error::PoolTimedOut) {
        return Class::Busy;
    }
    let code = error
        .as_database_error()
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i64>().ok());
    code.map_or(Class::Backend(None), class_of_code)
}

/// Whether `error` is a database error of `kind`.
fn is_violation(error: &sqlx::Error, kind: sqlx::error::ErrorKind) -> bool {
    error.as_database_error().is_some_and(|e| e.kind() == kind)
}

/// Whether `error` is a unique or primary key violation.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    is_violation(error, sqlx::error::ErrorKind::UniqueViolation)
}

/// Whether `error` is a CHECK constraint's violation (what the claim's simple guard
/// raises: claim_simple_guard.sql).
pub(crate) fn is_check_violation(error: &sqlx::Error) -> bool {
    is_violation(error, sqlx::error::ErrorKind::CheckViolation)
}

/// The [`StoreError`] for a sqlx error.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    classify(&error).store_error(Box::new(error))
}

/// The [`StoreError`] for a sqlx error that several callers share (a group commit
/// that failed at `stage`, such as "COMMIT"): each gets its own `StoreError` over the
/// one sqlx error.
pub(crate) fn shared_store_error(stage: &'static str, error: &Arc<sqlx::Error>) -> StoreError {
    let shared = SharedError {
        stage,
        error: Arc::clone(error),
    };
    classify(error).store_error(Box::new(shared))
}

/// A [`StoreError`] met while opening the database at `path`: an operator's message
/// names the file.
pub(crate) fn at_database(error: StoreError, path: &Path) -> StoreError {
    match error {
        StoreError::Permanent { message, source } => StoreError::Permanent {
            message: format!("database {}: {message}", path.display()),
            source,
        },
        StoreError::Incompatible(message) => {
            StoreError::Incompatible(format!("database {}: {message}", path.display()))
        }
        other => other,
    }
}

/// A sqlx error shared by the calls of one group commit.
#[derive(Debug)]
struct SharedError {
    stage: &'static str,
    error: Arc<sqlx::Error>,
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the group commit failed at {}: {}",
            self.stage, self.error
        )
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

/// The error of a call made after the store's writer stopped (its runtime shut down).
pub(crate) fn writer_stopped() -> StoreError {
    StoreError::backend("the store's writer task has stopped (was its Tokio runtime shut down?)")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use leasehold_sql::error::is_advice;

    use super::*;

    fn is_permanent_with(code: i64, words: &str) -> bool {
        matches!(class_of_code(code), Class::Permanent(advice) if advice.contains(words))
    }

    #[test]
    fn busy_and_locked_are_busy_with_every_extended_code() {
        // SQLITE_BUSY, _RECOVERY, _SNAPSHOT, _TIMEOUT; SQLITE_LOCKED, _SHAREDCACHE, _VTAB.
        for code in [5, 261, 517, 773, 6, 262, 518] {
            assert_eq!(class_of_code(code), Class::Busy, "code {code}");
        }
    }

    #[test]
    fn a_full_disk_is_permanent_and_says_to_make_room() {
        assert!(is_permanent_with(13, "free disk space"));
        assert!(is_permanent_with(13, "raise the size limit"));
        assert!(is_permanent_with(13, "carries on by itself"));
    }

    #[test]
    fn read_only_is_permanent_with_every_extended_code() {
        // SQLITE_READONLY, _RECOVERY, _CANTLOCK, _ROLLBACK, _CANTINIT, _DIRECTORY.
        for code in [8, 264, 520, 776, 1288, 1544] {
            assert!(is_permanent_with(code, "read-only"), "code {code}");
            assert!(is_permanent_with(code, "-wal and -shm"), "code {code}");
        }
        assert!(
            is_permanent_with(1032, "moved or deleted"),
            "SQLITE_READONLY_DBMOVED"
        );
    }

    #[test]
    fn permission_authorization_and_cannot_open_are_permanent() {
        assert!(is_permanent_with(3, "permission denied"));
        assert!(is_permanent_with(23, "authorizer"));
        // SQLITE_CANTOPEN, _ISDIR, _FULLPATH.
        for code in [14, 526, 782] {
            assert!(is_permanent_with(code, "cannot open"), "code {code}");
        }
    }

    #[test]
    fn corrupt_and_not_a_database_are_incompatible_and_say_to_restore_a_backup() {
        // SQLITE_CORRUPT, _VTAB, _SEQUENCE, _INDEX; SQLITE_IOERR_DATA, _CORRUPTFS.
        for code in [11, 267, 523, 779, 8202, 8458] {
            assert!(
                matches!(class_of_code(code), Class::Incompatible(advice)
                    if advice.contains("restore it from a backup")
                        && advice.contains("PRAGMA integrity_check")),
                "code {code}"
            );
        }
        assert!(matches!(
            class_of_code(26),
            Class::Incompatible(advice) if advice.contains("not a SQLite database")
        ));
    }

    #[test]
    fn other_io_errors_stay_transient_and_point_at_the_disk() {
        // SQLITE_IOERR, _READ, _SHORT_READ, _WRITE, _FSYNC, _NOMEM, _SHMSIZE.
        for code in [10, 266, 522, 778, 1034, 3082, 4874] {
            assert!(
                matches!(class_of_code(code), Class::Backend(Some(advice)) if advice.contains("disk")),
                "code {code}"
            );
        }
    }

    #[test]
    fn other_codes_and_errors_without_a_code_are_backend() {
        // SQLITE_ERROR, SQLITE_CONSTRAINT_UNIQUE, SQLITE_NOMEM, SQLITE_INTERRUPT.
        for code in [1, 2067, 7, 9] {
            assert_eq!(class_of_code(code), Class::Backend(None), "code {code}");
        }
        assert_eq!(classify(&sqlx::Error::WorkerCrashed), Class::Backend(None));
        assert_eq!(classify(&sqlx::Error::PoolTimedOut), Class::Busy);
    }

    #[test]
    fn every_advice_is_lowercase_and_has_no_final_period() {
        // Every result code, primary and extended, so every advice a code can give.
        let advice: BTreeSet<&str> = (0..=0xffff)
            .filter_map(|code| match class_of_code(code) {
                Class::Permanent(advice)
                | Class::Incompatible(advice)
                | Class::Backend(Some(advice)) => Some(advice),
                _ => None,
            })
            .collect();

        let malformed: Vec<_> = advice.iter().filter(|a| !is_advice(a)).collect();

        assert_eq!(advice.len(), 9, "each advice is given for some code");
        assert!(malformed.is_empty(), "{malformed:#?}");
    }

    #[test]
    fn a_shared_error_keeps_its_class_and_names_the_stage() {
        let error = Arc::new(sqlx::Error::PoolTimedOut);

        let shared = shared_store_error("COMMIT", &error);

        assert!(matches!(shared, StoreError::Busy(_)), "{shared:?}");
        let source = std::error::Error::source(&shared).expect("a source");
        assert!(source.to_string().contains("at COMMIT"), "{source}");
    }
}
