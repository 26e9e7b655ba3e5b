//! [`CliError`]: why a command failed, and the exit code a script sees for it.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a store or database error (unreachable, locked, newer schema, bad URL) |
//! | 2 | a usage error (clap's own, or no database given) |
//! | 3 | not found: an unknown job id, schedule or queue name |
//! | 4 | a bulk action refused: it needs `--yes` |

use std::process::ExitCode;

use leasehold::{Error, StoreError};

/// A command's failure, shown as one line on stderr.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The store failed or refused (exit 1), or named something unknown (exit 3).
    #[error("{}", with_sources(.0))]
    Library(#[from] Error),
    /// The database could not be opened as asked: a bad URL or scheme, a missing
    /// SQLite file (exit 1).
    #[error("{0}")]
    Database(String),
    /// The command line asks for something it cannot mean (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A bulk action without `--yes`: nothing was changed (exit 4).
    #[error("{0}")]
    Refused(String),
    /// Writing the output or binding the dashboard's address failed (exit 1).
    #[error("{0}")]
    Io(String),
    /// A command that went on past failures (one of several ids) and printed each of
    /// them already: it ends with the exit code of the first.
    #[error("")]
    Reported(u8),
}

/// The exit code of a store or database error.
pub(crate) const EXIT_STORE: u8 = 1;
/// The exit code of a usage error (clap uses it too).
pub(crate) const EXIT_USAGE: u8 = 2;
/// The exit code of an unknown job id, schedule or queue name.
pub(crate) const EXIT_NOT_FOUND: u8 = 3;
/// The exit code of a bulk action refused without `--yes`.
pub(crate) const EXIT_REFUSED: u8 = 4;

impl CliError {
    /// The exit code scripts can rely on (see the module docs).
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }

    /// The exit code as a number.
    pub(crate) fn code(&self) -> u8 {
        match self {
            CliError::Library(Error::Store(
                StoreError::NotFound(_)
                | StoreError::ScheduleNotFound(_)
                | StoreError::QueueNotFound(_)
                | StoreError::LimitNotFound(_),
            )) => EXIT_NOT_FOUND,
            CliError::Library(Error::InvalidLimit(_)) => EXIT_USAGE,
            CliError::Library(_) | CliError::Database(_) | CliError::Io(_) => EXIT_STORE,
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Refused(_) => EXIT_REFUSED,
            CliError::Reported(code) => *code,
        }
    }
}

impl From<StoreError> for CliError {
    fn from(error: StoreError) -> Self {
        CliError::Library(Error::Store(error))
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        CliError::Io(error.to_string())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(error: serde_json::Error) -> Self {
        CliError::Io(format!("cannot write JSON: {error}"))
    }
}

/// `error` and each of its sources whose text it does not already hold, joined by
/// `": "`, so that the cause an operator needs (a busy database's "database is
/// locked") reaches the one line printed.
fn with_sources(error: &Error) -> String {
    let mut line = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_exit_3_and_store_errors_exit_1() {
        let unknown_schedule = CliError::from(StoreError::ScheduleNotFound("nightly".into()));
        let busy = CliError::from(StoreError::Busy("database is locked".into()));

        assert_eq!(unknown_schedule.code(), EXIT_NOT_FOUND);
        assert_eq!(busy.code(), EXIT_STORE);
        assert_eq!(CliError::Refused("x".into()).code(), EXIT_REFUSED);
        assert_eq!(CliError::Usage("x".into()).code(), EXIT_USAGE);
    }

    #[test]
    fn a_cause_missing_from_the_message_is_appended_once() {
        let permanent = CliError::from(StoreError::permanent(
            "the disk is full",
            "database or disk is full",
        ));
        let backend = CliError::from(StoreError::backend("connection reset"));

        assert_eq!(
            permanent.to_string(),
            "store needs attention: the disk is full: database or disk is full"
        );
        assert_eq!(backend.to_string(), "store backend error: connection reset");
    }
}
