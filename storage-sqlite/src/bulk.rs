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

use crate::enqueue::insert_bulk;
use crate::error::store_error;
use crate::row::{job_id, micros};
use crate::sql;
use crate::transition::{Outcome, Transition};

/// Runs a group's completions and keyless enqueues in bulk; answers, per call, the
/// outcome of those it settled. The others (and a completion whose lease was not live,
/// which runs again on its own to say why) are left to run one by one.
///
/// # Errors
///
/// When a bulk statement fails; the caller then rolls back and runs every call on its
/// own, so each answers its own error. An existing or repeated id fails the bulk
/// enqueue that way.
pub(crate) async fn answer_in_bulk(
    conn: &mut SqliteConnection,
    transitions: &[&Transition],
) -> Result<Vec<Option<Outcome>>, StoreError> {
    let mut answers: Vec<Option<Outcome>> = transitions.iter().map(|_| None).collect();
    enqueue_in_bulk(conn, transitions, &mut answers).await?;
    complete_in_bulk(conn, transitions, &mut answers).await?;
    Ok(answers)
}

async fn enqueue_in_bulk(
    conn: &mut SqliteConnection,
    transitions: &[&Transition],
    answers: &mut [Option<Outcome>],
) -> Result<(), StoreError> {
    let calls: Vec<(usize, &[NewJob], OffsetDateTime)> = transitions
        .iter()
        .enumerate()
        .filter_map(|(index, transition)| match transition {
            Transition::Enqueue { jobs, now }
                if !jobs.is_empty() && jobs.iter().all(|job| job.unique_key.is_none()) =>
            {
                Some((index, jobs.as_slice(), *now))
            }
            _ => None,
        })
        .collect();
    if calls.len() < 2 {
        return Ok(());
    }
    let rows: Vec<(&NewJob, OffsetDateTime)> = calls
        .iter()
        .flat_map(|(_, jobs, now)| jobs.iter().map(|job| (job, *now)))
        .collect();
    if !insert_bulk(conn, &rows).await? {
        return Err(StoreError::Conflict(
            "a job id of the group exists or repeats".to_owned(),
        ));
    }
    for (index, jobs, now) in calls {
        let inserted = jobs
            .iter()
            .map(|job| Enqueued::inserted(JobRecord::from_new(job.clone(), now)))
            .collect();
        answers[index] = Some(Outcome::Enqueued(inserted));
    }
    Ok(())
}

async fn complete_in_bulk(
    conn: &mut SqliteConnection,
    transitions: &[&Transition],
    answers: &mut [Option<Outcome>],
) -> Result<(), StoreError> {
    let mut per_job: HashMap<JobId, usize> = HashMap::new();
    for transition in transitions {
        if let Transition::Complete { lease, .. } = transition {
            *per_job.entry(lease.job_id).or_default() += 1;
        }
    }
    // Two completions of one job must run one after the other: one of them loses.
    let calls: Vec<(usize, (Lease, OffsetDateTime))> = transitions
        .iter()
        .enumerate()
        .filter_map(|(index, transition)| match transition {
            Transition::Complete { lease, now } if per_job[&lease.job_id] == 1 => {
                Some((index, (*lease, *now)))
            }
            _ => None,
        })
        .collect();
    if calls.len() < 2 {
        return Ok(());
    }
    let completions: Vec<_> = calls.iter().map(|(_, completion)| *completion).collect();
    let completed = complete_bulk(conn, &completions).await?;
    for (index, (lease, _)) in calls {
        if completed.contains(&lease.job_id) {
            answers[index] = Some(Outcome::Done);
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
    completed.iter().map(job_id).collect()
}
