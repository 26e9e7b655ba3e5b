//! What a database error means for the caller: [`Class`], and the [`StoreError`] of
//! each class.
//!
//! Each store sorts its own error codes (SQLite result codes, PostgreSQL SQLSTATEs) into
//! a [`Class`], with advice for the operator where one must act; turning a class into a
//! [`StoreError`] is the same for every store: [`Class::store_error`].
//!
//! Advice reads as the rest of leasehold's messages do: lowercase, no final period
//! ([`is_advice`] checks it), saying what to do.

use std::fmt;

use leasehold::{BoxError, StoreError};

/// What an error of the database means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// [`StoreError::Busy`]: nothing changed, retry.
    Busy,
    /// [`StoreError::Permanent`] with this advice: an operator must act.
    Permanent(&'static str),
    /// [`StoreError::Incompatible`] with this advice: the data is not usable as it is.
    Incompatible(&'static str),
    /// [`StoreError::Backend`] (transient), with this advice for the operator when there
    /// is one.
    Backend(Option<&'static str>),
}

impl Class {
    /// The [`StoreError`] of this class over `source`, the database's error. An
    /// `Incompatible` error has no source, so its message ends with the cause.
    pub fn store_error(self, source: BoxError) -> StoreError {
        match self {
            Class::Busy => StoreError::Busy(source),
            Class::Permanent(advice) => StoreError::permanent(advice, source),
            Class::Incompatible(advice) => StoreError::Incompatible(format!("{advice} ({source})")),
            Class::Backend(None) => StoreError::Backend(source),
            Class::Backend(Some(advice)) => {
                StoreError::Backend(Box::new(Advised { advice, source }))
            }
        }
    }
}

/// Whether `advice` reads as leasehold's messages do: it starts lowercase and has no
/// final period.
pub fn is_advice(advice: &str) -> bool {
    advice.starts_with(char::is_lowercase) && !advice.ends_with('.')
}

/// A `Backend` error carrying only a message: a broken invariant of the stored data (a
/// time out of range, a state no statement writes).
pub fn corrupt_row(message: String) -> StoreError {
    StoreError::backend(message)
}

/// A transient backend error with advice for the operator in front of it.
#[derive(Debug)]
struct Advised {
    advice: &'static str,
    source: BoxError,
}

impl fmt::Display for Advised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.advice, self.source)
    }
}

impl std::error::Error for Advised {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn cause() -> BoxError {
        "disk I/O error".into()
    }

    #[test]
    fn each_class_is_its_store_error() {
        assert!(matches!(
            Class::Busy.store_error(cause()),
            StoreError::Busy(_)
        ));
        assert!(matches!(
            Class::Permanent("free disk space").store_error(cause()),
            StoreError::Permanent { message, .. } if message == "free disk space"
        ));
        assert!(matches!(
            Class::Backend(None).store_error(cause()),
            StoreError::Backend(_)
        ));
    }

    #[test]
    fn an_incompatible_error_says_its_cause_in_its_message() {
        let error = Class::Incompatible("restore a backup").store_error(cause());

        assert!(
            matches!(&error, StoreError::Incompatible(message)
                if message == "restore a backup (disk I/O error)"),
            "{error:?}"
        );
    }

    #[test]
    fn a_transient_error_with_advice_puts_it_before_the_cause() {
        let error = Class::Backend(Some("check the disk")).store_error(cause());

        assert!(error.is_transient());
        let advised = error.source().expect("a source");
        assert_eq!(advised.to_string(), "check the disk (disk I/O error)");
        assert_eq!(
            advised.source().expect("the cause").to_string(),
            "disk I/O error"
        );
    }

    #[test]
    fn advice_is_lowercase_without_a_final_period() {
        assert!(is_advice("free disk space"));
        assert!(!is_advice("Free disk space"));
        assert!(!is_advice("free disk space."));
    }
}
