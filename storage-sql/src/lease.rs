//! Writes under a lease: why one matched no row, and what a heartbeat that extended
//! nothing answers.
//!
//! Every write under a lease is one statement fenced by the job id and the lease token,
//! so a stale worker never overwrites the one that took over. When it matches no row,
//! the store reads the job's [`LeaseState`] (`lease_state.sql`) and answers from it:
//! [`written`] and [`not_written`] for a write, [`not_extended`] for a heartbeat.

use std::future::Future;

use leasehold::{HeartbeatStatus, JobId, Lease, StoreError};

use crate::row::{Columns, counter, required};

/// A job's stored state and lease token, as `lease_state.sql` reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    /// The job.
    pub job_id: JobId,
    /// Its stored state (`running`, `cancelled`, ...).
    pub state: String,
    /// Its lease token: the count of its claims.
    pub token: u32,
}

impl LeaseState {
    /// The state in a row of `id`, `state` and `lease_token`.
    ///
    /// # Errors
    ///
    /// When a column cannot be read or holds a value no statement writes.
    pub fn read(row: &impl Columns) -> Result<Self, StoreError> {
        let lease = lease(row)?;
        let state = required(row.text("state")?, "state")?;
        Ok(Self {
            job_id: lease.job_id,
            state,
            token: lease.token,
        })
    }
}

/// The lease in a row of `id` and `lease_token` (what a heartbeat or a completion of
/// many leases answers for each lease it wrote).
///
/// # Errors
///
/// When a column cannot be read or holds a value no statement writes.
pub fn lease(row: &impl Columns) -> Result<Lease, StoreError> {
    let job_id = row.job_id()?;
    let token = required(row.integer("lease_token")?, "lease_token")?;
    Ok(Lease {
        job_id,
        token: counter(token, "lease_token")?,
    })
}

/// `Ok` when a write fenced by a lease wrote its row (`rows` > 0), else the error
/// `why_not` finds (reading the job's state; see [`not_written`]).
///
/// # Errors
///
/// What `why_not` answers: `LeaseLost`, `NotFound`, or the error of reading the state.
pub async fn written<F, WhyNot>(rows: u64, why_not: F) -> Result<(), StoreError>
where
    F: FnOnce() -> WhyNot,
    WhyNot: Future<Output = StoreError>,
{
    if rows > 0 {
        Ok(())
    } else {
        Err(why_not().await)
    }
}

/// Why a write fenced by `lease` matched no row, given the job's state as stored now:
/// the job is unknown (`NotFound`), or `lease` is not its live one (`LeaseLost`).
pub fn not_written(lease: Lease, stored: Option<&LeaseState>) -> StoreError {
    match stored {
        Some(_) => StoreError::LeaseLost(lease),
        None => StoreError::NotFound(lease.job_id),
    }
}

/// What a heartbeat that did not extend `lease` answers, given the job's state as
/// stored now: `Cancelled` when the job was cancelled under this very lease (its token
/// still matches), else `Lost`.
pub fn not_extended(lease: Lease, stored: Option<&LeaseState>) -> HeartbeatStatus {
    match stored {
        Some(stored) if stored.state == "cancelled" && stored.token == lease.token => {
            HeartbeatStatus::Cancelled
        }
        _ => HeartbeatStatus::Lost,
    }
}

#[cfg(test)]
mod tests {
    use leasehold::testing::conformance::t;

    use super::*;

    fn stored(lease: Lease, state: &str, token: u32) -> LeaseState {
        LeaseState {
            job_id: lease.job_id,
            state: state.to_owned(),
            token,
        }
    }

    #[test]
    fn a_write_matching_no_row_lost_its_lease_or_names_an_unknown_job() {
        let lease = Lease {
            job_id: JobId::new(t(0)),
            token: 1,
        };

        let lost = not_written(lease, Some(&stored(lease, "running", 2)));
        let unknown = not_written(lease, None);

        assert!(matches!(lost, StoreError::LeaseLost(l) if l == lease));
        assert!(matches!(unknown, StoreError::NotFound(id) if id == lease.job_id));
    }

    #[test]
    fn a_heartbeat_hears_of_a_cancel_only_under_the_lease_that_was_cancelled() {
        let lease = Lease {
            job_id: JobId::new(t(0)),
            token: 1,
        };

        assert_eq!(
            not_extended(lease, Some(&stored(lease, "cancelled", 1))),
            HeartbeatStatus::Cancelled
        );
        assert_eq!(
            not_extended(lease, Some(&stored(lease, "cancelled", 2))),
            HeartbeatStatus::Lost
        );
        assert_eq!(
            not_extended(lease, Some(&stored(lease, "completed", 1))),
            HeartbeatStatus::Lost
        );
        assert_eq!(not_extended(lease, None), HeartbeatStatus::Lost);
    }
}
