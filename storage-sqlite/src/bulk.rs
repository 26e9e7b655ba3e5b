//! Statements shared by the calls of one group commit: [`answer_in_bulk`].
//!
//! A group's calls are all in flight at once (none has been answered), so any order
//! of them is one their callers could have seen. That lets the writer run, before the
//! others and in one statement each, every completion of a distinct job (one
//! `UPDATE ... FROM json_each`) and every enqueue of jobs without unique keys (one
//! `INSERT ... SELECT FROM json_each`): one statement instead of one per call.

use std::collections::{HashMap, HashSet};

use leasehold::time::OffsetDateTime;
use leasehold::{Enqueued, JobId, JobRecord, Lease, NewJob, StoreError};
use sqlx::SqliteConnection;

use leasehold_sql::row::{Columns, micros};

use crate::enqueue::insert_bulk;
use crate::error::store_error;
use crate::row::Row;
use crate::sql;
use crate::transition::enqueue::Enqueue;
use crate::transition::lease_writes::Complete;
use crate::transition::{Call, Request};

/// Runs a group's completions and keyless enqueues in bulk, and settles the answers of
/// the calls they ran. The others (and a completion whose lease was not live, which
/// runs again on its own to say why) are left to run one by one.
///
/// # Errors
///
/// When a bulk statement fails; the caller then rolls back and runs every call on its
/// own, so each answers its own error. An existing or repeated id fails the bulk
/// enqueue that way.
pub(crate) async fn answer_in_bulk(
    conn: &mut SqliteConnection,
    batch: &mut [Request],
) -> Result<(), StoreError> {
    enqueue_in_bulk(conn, batch).await?;
    complete_in_bulk(conn, batch).await
}

async fn enqueue_in_bulk(
    conn: &mut SqliteConnection,
    batch: &mut [Request],
) -> Result<(), StoreError> {
    let calls: Vec<&mut Call<Enqueue>> = batch
        .iter_mut()
        .filter_map(|request| match request {
            Request::Enqueue(call) if call.transition().is_keyless() => Some(call),
            _ => None,
        })
        .collect();
    if calls.len() < 2 {
        return Ok(());
    }
    let rows: Vec<(&NewJob, OffsetDateTime)> = calls
        .iter()
        .flat_map(|call| {
            let Enqueue { jobs, now } = call.transition();
            jobs.iter().map(|job| (job, *now))
        })
        .collect();
    if !insert_bulk(conn, &rows).await? {
        return Err(StoreError::Conflict(
            "a job id of the group exists or repeats".to_owned(),
        ));
    }
    for call in calls {
        let Enqueue { jobs, now } = call.transition();
        let inserted = jobs
            .iter()
            .map(|job| Enqueued::inserted(JobRecord::from_new(job.clone(), *now)))
            .collect();
        call.settle(inserted);
    }
    Ok(())
}

async fn complete_in_bulk(
    conn: &mut SqliteConnection,
    batch: &mut [Request],
) -> Result<(), StoreError> {
    let mut per_job: HashMap<JobId, usize> = HashMap::new();
    for request in batch.iter() {
        if let Request::Complete(call) = request {
            *per_job.entry(call.transition().lease.job_id).or_default() += 1;
        }
    }
    // Two completions of one job must run one after the other: one of them loses.
    let calls: Vec<&mut Call<Complete>> = batch
        .iter_mut()
        .filter_map(|request| match request {
            Request::Complete(call) if per_job[&call.transition().lease.job_id] == 1 => Some(call),
            _ => None,
        })
        .collect();
    if calls.len() < 2 {
        return Ok(());
    }
    let completions: Vec<(Lease, OffsetDateTime)> = calls
        .iter()
        .map(|call| (call.transition().lease, call.transition().now))
        .collect();
    let completed = complete_bulk(conn, &completions).await?;
    for call in calls {
        if completed.contains(&call.transition().lease.job_id) {
            call.settle(());
        }
    }
    Ok(())
}

/// Completes, in one statement, each `(lease, now)` of `completions` whose lease is
/// live; returns the ids of the jobs it completed. The leases must be of distinct
/// jobs.
async fn complete_bulk(
    conn: &mut SqliteConnection,
    completions: &[(Lease, OffsetDateTime)],
) -> Result<HashSet<JobId>, StoreError> {
    let rows: Vec<_> = completions
        .iter()
        .map(|(lease, now)| {
            (
                lease.job_id.as_uuid().simple().to_string(),
                lease.token,
                micros(*now),
            )
        })
        .collect();
    let rows = serde_json::to_string(&rows).map_err(StoreError::backend)?;
    let completed = sqlx::query(sql::COMPLETE_BULK)
        .bind(rows)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    completed.iter().map(|row| Row(row).job_id()).collect()
}
