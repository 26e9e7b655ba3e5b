//! Statements shared by the calls of one group commit: [`answer_in_bulk`], and
//! [`WholeGroup`] for a group that one of them does whole.
//!
//! A group's calls are all in flight at once (none has been answered), so any order
//! of them is one their callers could have seen. That lets the writer run, before the
//! others and in one statement each, every completion of a distinct job (one
//! `UPDATE ... FROM jsonb_each`) and every enqueue of jobs without unique keys (one
//! multi-row `INSERT` of bound parameters): one statement instead of one per call.
//!
//! When those are the whole group (or the group is one claim, whose statements need no
//! answer in between), the writer sends `BEGIN IMMEDIATE`, the statement and `COMMIT`
//! as one sqlx call: each call is a hand-off to sqlx's connection thread and back,
//! which costs more than a small statement does.

use std::fmt::Write as _;

use leasehold::time::OffsetDateTime;
use leasehold::{Enqueued, JobRecord, Lease, NewJob, StoreError};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use leasehold_sql::row::{Columns, micros};

use crate::enqueue::{bind_rows, insert_bulk};
use crate::error::store_error;
use crate::row::{Row, Statement};
use crate::sql;
use crate::transition::claim::{Claimed, WholeClaim};
use crate::transition::enqueue::Enqueue;
use crate::transition::lease_writes::Complete;
use crate::transition::{Call, Request};
use crate::{JobMap, JobSet, job_set};

/// A group that one statement does whole, run with its `BEGIN IMMEDIATE` and `COMMIT`
/// in one sqlx call ([`WholeGroup::statement`]). A group whose statement fails is run
/// again the ordinary way, which answers each error at its stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WholeGroup {
    /// Every call an enqueue of jobs without unique keys: one multi-row insert.
    Enqueues,
    /// Every call a completion, each of a distinct job: one `complete_bulk.sql`. A
    /// completion whose lease was not live is left unanswered, to run again on its own
    /// and say why.
    Completions,
    /// One claim of at least one job: its promotions, expiries, lease and count of
    /// starts, as [`WholeClaim`] says: simple while no limit was seen stored
    /// ([`crate::transition::claim::LimitsSeen`]) and one queue is claimed, full
    /// otherwise.
    Claim(WholeClaim),
}

/// The most jobs a group of enqueues sends in one call, as one multi-row insert
/// ([`sql::enqueue_rows_in_one_call`]). A larger group goes the ordinary way, in
/// several ([`insert_bulk`]).
const ONE_CALL_ROWS: usize = sql::ONE_STATEMENT_ROWS;

/// Whether every call of `batch`, one at least, is an enqueue of jobs without unique
/// keys or dependencies: one multi-row insert per [`sql::ONE_STATEMENT_ROWS`] jobs.
pub(crate) fn plain_enqueues(batch: &[Request]) -> bool {
    !batch.is_empty()
        && batch.iter().all(
            |request| matches!(request, Request::Enqueue(call) if call.transition().is_keyless()),
        )
}

/// A group's calls as the writer's own connection ([`crate::direct`]) takes them,
/// sorted in one pass by [`for_own_connection`].
#[derive(Default)]
pub(crate) struct Parts {
    /// Calls only the ordinary way runs (every heartbeat among them).
    pub(crate) rest: Vec<Request>,
    /// Enqueues of jobs without unique keys or dependencies
    /// ([`Direct::enqueues`](crate::direct::Direct::enqueues)).
    pub(crate) enqueues: Vec<Request>,
    /// Lease writes ([`Direct::lease_writes`](crate::direct::Direct::lease_writes)):
    /// the first completion of each job, and the first claim of a job at least that
    /// [`WholeGroup`] would send simple (of one queue, no limit seen stored).
    pub(crate) leases: Vec<Request>,
}

/// Sorts `batch` into what the writer's own connection commits (its plain enqueues,
/// its lease writes, each part one transaction there) and the rest. A group's calls
/// are all in flight at once, so committing the parts one after another is an order
/// their callers could have seen.
///
/// A worker's claims and completions met one of its heartbeats, a retention pass or
/// an application's enqueue in a group, and the whole group then went through sqlx:
/// a claim of 500 jobs that way took 5-8 ms instead of about 1 (a worker's first
/// seconds, when retention runs, lost 15-20 ms so).
pub(crate) fn for_own_connection(batch: Vec<Request>) -> Parts {
    let mut jobs = job_set(batch.len());
    let mut claimed = false;
    let sorted: Vec<Part> = batch
        .iter()
        .map(|request| match request {
            Request::Enqueue(call) if call.transition().is_keyless() => Part::Enqueues,
            Request::Complete(call) if jobs.insert(call.transition().lease.job_id) => Part::Leases,
            Request::Claim(call)
                if !claimed && call.transition().limit > 0 && call.transition().goes_simple() =>
            {
                claimed = true;
                Part::Leases
            }
            _ => Part::Rest,
        })
        .collect();
    let mut parts = Parts::default();
    // Most groups are of one part (a worker's completions and claim): they keep their
    // vector, and no call is moved.
    if let Some(&first) = sorted.first()
        && sorted.iter().all(|part| *part == first)
    {
        *parts.of(first) = batch;
        return parts;
    }
    for (request, part) in batch.into_iter().zip(sorted) {
        parts.of(part).push(request);
    }
    parts
}

/// Which part of [`Parts`] a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Rest,
    Enqueues,
    Leases,
}

impl Parts {
    /// Every call of `batch` for the ordinary way.
    pub(crate) fn ordinary(batch: Vec<Request>) -> Self {
        Self {
            rest: batch,
            ..Self::default()
        }
    }

    fn of(&mut self, part: Part) -> &mut Vec<Request> {
        match part {
            Part::Rest => &mut self.rest,
            Part::Enqueues => &mut self.enqueues,
            Part::Leases => &mut self.leases,
        }
    }
}

/// The lease and time of each completion of `batch`, in order.
pub(crate) fn completions_of(batch: &[Request]) -> Vec<(Lease, OffsetDateTime)> {
    batch
        .iter()
        .filter_map(|request| match request {
            Request::Complete(call) => Some((call.transition().lease, call.transition().now)),
            _ => None,
        })
        .collect()
}

/// Settles the completions of `batch` whose jobs are in `completed`; the others stay
/// unanswered, to run again on their own and say why.
pub(crate) fn settle_completed(batch: &mut [Request], completed: &JobSet) {
    for request in batch {
        if let Request::Complete(call) = request
            && completed.contains(&call.transition().lease.job_id)
        {
            call.settle(());
        }
    }
}

/// The jobs the enqueues of `batch` store, each with its call's `now`, in order.
pub(crate) fn jobs_to_insert(batch: &[Request]) -> Vec<(&NewJob, OffsetDateTime)> {
    batch
        .iter()
        .filter_map(|request| match request {
            Request::Enqueue(call) => Some(call.transition()),
            _ => None,
        })
        .flat_map(Enqueue::rows)
        .collect()
}

/// How many jobs the enqueues of `batch` store.
fn enqueued_rows(batch: &[Request]) -> usize {
    batch
        .iter()
        .map(|request| match request {
            Request::Enqueue(call) => call.transition().jobs.len(),
            _ => 0,
        })
        .sum()
}

impl WholeGroup {
    /// The kind of whole group `batch` is, if it is one.
    pub(crate) fn of(batch: &[Request]) -> Option<Self> {
        match batch {
            [Request::Claim(call)] if call.transition().limit > 0 => {
                Some(Self::Claim(if call.transition().goes_simple() {
                    WholeClaim::Simple
                } else {
                    WholeClaim::Full
                }))
            }
            [] => None,
            _ if plain_enqueues(batch) && enqueued_rows(batch) <= ONE_CALL_ROWS => {
                Some(Self::Enqueues)
            }
            _ if batch
                .iter()
                .all(|request| matches!(request, Request::Complete(_))) =>
            {
                let mut jobs = job_set(batch.len());
                let distinct = batch.iter().all(|request| match request {
                    Request::Complete(call) => jobs.insert(call.transition().lease.job_id),
                    _ => false,
                });
                distinct.then_some(Self::Completions)
            }
            _ => None,
        }
    }

    /// The group as one statement: `BEGIN IMMEDIATE`, what its calls write, `COMMIT`.
    pub(crate) fn statement(self, batch: &[Request]) -> Result<Statement<'_>, StoreError> {
        match self {
            Self::Enqueues => {
                let rows = jobs_to_insert(batch);
                let statement = sqlx::query(sql::enqueue_rows_in_one_call(rows.len()));
                Ok(bind_rows(statement, &rows))
            }
            Self::Completions => {
                let rows = completion_rows(&completions_of(batch));
                Ok(sqlx::query(sql::COMPLETE_BULK_IN_ONE_CALL).bind(rows))
            }
            Self::Claim(how) => match batch {
                [Request::Claim(call)] => call
                    .transition()
                    .whole(how)?
                    .ok_or_else(|| StoreError::backend("a claim of no job is no whole group")),
                _ => Err(StoreError::backend("a whole claim group is one claim")),
            },
        }
    }

    /// Notes that the group's call failed, before the writer runs `batch` again the
    /// ordinary way: a simple claim's guard may have found a limit or an expired lease,
    /// so that way runs the full claim at once rather than the guard again.
    pub(crate) fn failed(self, batch: &[Request]) {
        if let (Self::Claim(WholeClaim::Simple), [Request::Claim(call)]) = (self, batch) {
            call.transition().limits_seen.suspect_limited();
        }
    }

    /// Settles the answers of the calls of `batch` that its committed statement
    /// answered, from the `rows` that statement returned.
    ///
    /// # Errors
    ///
    /// When a row does not read back (a corrupt database): the writes are committed, but
    /// their answers are unknown.
    pub(crate) fn settle(
        self,
        batch: &mut [Request],
        rows: &[SqliteRow],
    ) -> Result<(), StoreError> {
        match self {
            Self::Enqueues => batch.iter_mut().for_each(|request| {
                if let Request::Enqueue(call) = request {
                    settle_inserted(call);
                }
            }),
            Self::Completions => settle_completed(batch, &completed_ids(rows)?),
            Self::Claim(_) => {
                if let [Request::Claim(call)] = batch {
                    // What the rows say is stored picks the next claim's form.
                    call.transition().remember(rows)?;
                    let jobs = call.transition().jobs(rows)?;
                    call.settle(Claimed::Jobs(jobs));
                }
            }
        }
        Ok(())
    }
}

/// Settles `call`, whose jobs were all inserted, with their answers.
pub(crate) fn settle_inserted(call: &mut Call<Enqueue>) {
    let Enqueue { jobs, now } = call.transition();
    let inserted = jobs
        .iter()
        .map(|job| Enqueued::inserted(JobRecord::from_new(job, *now)))
        .collect();
    call.settle(inserted);
}

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
        .flat_map(|call| call.transition().rows())
        .collect();
    if !insert_bulk(conn, &rows).await? {
        return Err(StoreError::Conflict(
            "a job id of the group exists or repeats".to_owned(),
        ));
    }
    calls.into_iter().for_each(settle_inserted);
    Ok(())
}

async fn complete_in_bulk(
    conn: &mut SqliteConnection,
    batch: &mut [Request],
) -> Result<(), StoreError> {
    let mut per_job = JobMap::<usize>::default();
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
) -> Result<JobSet, StoreError> {
    let completed = sqlx::query(sql::COMPLETE_BULK)
        .bind(completion_rows(completions))
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    completed_ids(&completed)
}

/// The JSON array `complete_bulk.sql` takes as ?1: one row per `(lease, now)`,
/// `["<id as 32 hex digits>",<token>,<microseconds>]`. Written by hand: through
/// serde_json, with a string made for each id, it cost the writer about 1.3k
/// instructions a job.
pub(crate) fn completion_rows(completions: &[(Lease, OffsetDateTime)]) -> String {
    // A row is at most 32 hex digits, two numbers of up to 20 characters and 8 more.
    let mut rows = String::with_capacity(2 + completions.len() * 81);
    let mut hex = uuid::Uuid::encode_buffer();
    rows.push('[');
    for (index, (lease, now)) in completions.iter().enumerate() {
        if index > 0 {
            rows.push(',');
        }
        rows.push_str("[\"");
        rows.push_str(lease.job_id.as_uuid().simple().encode_lower(&mut hex));
        // Writing into a String does not fail.
        let _ = write!(rows, "\",{},{}]", lease.token, micros(*now));
    }
    rows.push(']');
    rows
}

/// The ids of the jobs `complete_bulk.sql` answered it completed.
fn completed_ids(rows: &[SqliteRow]) -> Result<JobSet, StoreError> {
    rows.iter().map(|row| Row(row).job_id()).collect()
}

#[cfg(test)]
#[path = "bulk_tests.rs"]
mod tests;
