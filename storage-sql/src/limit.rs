//! A [`Limit`] as both SQL stores keep it: `max_running`, `rate_starts` and `rate_per` (whole
//! microseconds) columns, NULL for a bound the limit does not have.
//!
//! - [`LimitColumns`]: the values `set_limit.sql` binds.
//! - [`limit_of`]: the limit a row's columns hold back (a `limits.sql` row, or a
//!   `queue_stats.sql` row's `limit_` columns); a row no statement writes (a 0, a rate
//!   without its period) is a `Backend` error.

use std::time::Duration;

use crate::error::corrupt_row;
use crate::row::Columns;
use leasehold::{Limit, LimitScope, Rate, StoreError};

/// The columns of one limit, as `set_limit.sql` binds them (?3 to ?5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitColumns {
    /// At most this many live leases; NULL for no such bound.
    pub max_running: Option<i64>,
    /// At most this many claims per `rate_per`; NULL for no rate.
    pub rate_starts: Option<i64>,
    /// In microseconds; a period past `i64::MAX` of them (some 292,000 years) is kept
    /// as `i64::MAX`, as long as forever.
    pub rate_per: Option<i64>,
}

impl From<Limit> for LimitColumns {
    fn from(limit: Limit) -> Self {
        let rate = limit.rate_limit();
        Self {
            max_running: limit.max_running().map(i64::from),
            rate_starts: rate.map(|rate| i64::from(rate.starts())),
            rate_per: rate.map(|rate| i64::try_from(rate.per().as_micros()).unwrap_or(i64::MAX)),
        }
    }
}

/// The limit in `row`'s columns `{prefix}max_running`, `{prefix}rate_starts` and
/// `{prefix}rate_per`; `None` when all three are NULL.
///
/// # Errors
///
/// A `Backend` error naming `owner` when the columns hold no valid limit.
pub fn limit_of(
    row: &impl Columns,
    prefix: &str,
    owner: &dyn std::fmt::Display,
) -> Result<Option<Limit>, StoreError> {
    let max_running = row.integer(&format!("{prefix}max_running"))?;
    let rate_starts = row.integer(&format!("{prefix}rate_starts"))?;
    let rate_per = row.integer(&format!("{prefix}rate_per"))?;
    if (max_running, rate_starts, rate_per) == (None, None, None) {
        return Ok(None);
    }
    let corrupt = |what: &str| corrupt_row(format!("the limit of {owner}: {what}"));
    let count = |value: i64, column: &str| {
        u32::try_from(value).map_err(|_| corrupt(&format!("{column} {value} is out of range")))
    };
    let max_running = max_running
        .map(|value| count(value, "max_running"))
        .transpose()?;
    let rate = match (rate_starts, rate_per) {
        (None, None) => None,
        (Some(starts), Some(per)) => {
            let per = u64::try_from(per)
                .map_err(|_| corrupt(&format!("rate_per {per} is out of range")))?;
            let rate = Rate::new(count(starts, "rate_starts")?, Duration::from_micros(per))
                .map_err(|e| corrupt(&e.to_string()))?;
            Some(rate)
        }
        _ => return Err(corrupt("a rate without both its starts and its period")),
    };
    Limit::new(max_running, rate)
        .map(Some)
        .map_err(|e| corrupt(&e.to_string()))
}

/// The scope of a row's `scope` (`'key'` or `'queue'`) and `name` columns.
///
/// # Errors
///
/// A `Backend` error for a scope no statement writes.
pub fn scope_of(row: &impl Columns) -> Result<LimitScope, StoreError> {
    let kind = row.text("scope")?.unwrap_or_default();
    let name = row.text("name")?.unwrap_or_default();
    LimitScope::from_parts(&kind, name.as_str())
        .ok_or_else(|| corrupt_row(format!("limit scope {kind:?} of {name:?} is unknown")))
}

/// A `limits.sql` row: its scope and its limit.
///
/// # Errors
///
/// A `Backend` error for a scope or limit no statement writes.
pub fn scoped_limit(row: &impl Columns) -> Result<(LimitScope, Limit), StoreError> {
    let scope = scope_of(row)?;
    let limit = limit_of(row, "", &scope)?
        .ok_or_else(|| corrupt_row(format!("the limit of {scope} has no bound")))?;
    Ok((scope, limit))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A row of named integer and text columns.
    #[derive(Default)]
    struct Values(
        HashMap<&'static str, i64>,
        HashMap<&'static str, &'static str>,
    );

    impl Columns for Values {
        fn job_id(&self) -> Result<leasehold::JobId, StoreError> {
            Err(StoreError::backend("no id"))
        }

        fn integer(&self, column: &str) -> Result<Option<i64>, StoreError> {
            Ok(self.0.get(column).copied())
        }

        fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
            Ok(self.1.get(column).map(|text| (*text).to_owned()))
        }
    }

    fn row(integers: &[(&'static str, i64)]) -> Values {
        let texts = [("scope", "key"), ("name", "k")].into_iter().collect();
        Values(integers.iter().copied().collect(), texts)
    }

    #[test]
    fn a_limit_reads_back_as_it_was_stored() {
        let both = Limit::running(2)
            .unwrap()
            .with_rate(5, Duration::from_millis(1_500))
            .unwrap();
        let columns = LimitColumns::from(both);

        let read = scoped_limit(&row(&[
            ("max_running", columns.max_running.unwrap()),
            ("rate_starts", columns.rate_starts.unwrap()),
            ("rate_per", columns.rate_per.unwrap()),
        ]))
        .unwrap();

        assert_eq!(columns.rate_per, Some(1_500_000));
        assert_eq!(read, (LimitScope::Key("k".to_owned()), both));
    }

    #[test]
    fn a_limit_no_statement_writes_is_a_backend_error() {
        for integers in [
            &[("max_running", 0)][..],
            &[("rate_starts", 3)],
            &[("rate_starts", 3), ("rate_per", 0)],
            &[("max_running", -1)],
            &[],
        ] {
            let read = scoped_limit(&row(integers));

            assert!(
                matches!(&read, Err(StoreError::Backend(e)) if e.to_string().contains("key \"k\"")),
                "{integers:?}: {read:?}"
            );
        }
    }
}
