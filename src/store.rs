//! The storage seam: [`JobStore`], the contract every backend implements.
//!
//! - [`JobStore`]: one atomic lifecycle transition per method.
//! - [`JobFilter`]: what `list` and `count` select.
//! - [`HeartbeatStatus`]: the answer for each lease a heartbeat extends.
//! - [`ClaimRequest`] and [`Firing`]: what `claim` and `fire_schedule` are asked.
//!
//! The contract is written below as sentences. Each sentence names, in brackets, the
//! case of the conformance suite (`leasehold::testing::conformance`, feature `testing`)
//! that checks it; every store runs the whole suite.

use async_trait::async_trait;
use time::OffsetDateTime;

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::job::{JobId, JobRecord, JobState, Lease, NewJob};
use crate::limit::{Limit, LimitScope};
use crate::schedule::{NewSchedule, ScheduleRecord};

/// The default body of a verb: forward to [`JobStore::delegate`], or answer
/// [`StoreError::Unsupported`] naming the verb.
macro_rules! delegate {
    ($self:ident, $verb:ident($($arg:expr),*)) => {
        match $self.delegate() {
            Some(inner) => inner.$verb($($arg),*).await,
            None => Err(StoreError::Unsupported(stringify!($verb))),
        }
    };
}

mod request;

pub use request::{
    ClaimRequest, Enqueued, Firing, HeartbeatStatus, JobFilter, JobUpdate, QueueStats,
};

#[doc = include_str!("store/contract.md")]
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// The clock its callers should read `now` from, when the store has a better one
    /// than the host's: leases are compared with the callers' `now`, so processes on
    /// several machines must agree on the time (PostgreSQL offers a clock that follows
    /// its server's). [`Queue::new`](crate::Queue::new) uses it; `None` (the default)
    /// means the host's [`SystemClock`](crate::SystemClock).
    fn clock(&self) -> Option<Arc<dyn Clock>> {
        self.delegate().and_then(JobStore::clock)
    }

    /// The store a wrapper forwards to: every verb it does not implement itself is
    /// passed on to it. `None` (the default) for a store of its own, whose verbs that
    /// it does not implement answer [`StoreError::Unsupported`].
    ///
    /// A test double or an instrumenting layer returns `Some(&self.inner)` and
    /// implements only the verbs it changes; a verb added to the trait later passes
    /// through it unchanged.
    fn delegate(&self) -> Option<&dyn JobStore> {
        None
    }

    /// Stores `job`, or returns the non-terminal job that holds its unique key.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when a job with this id exists.
    async fn enqueue(&self, job: NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        delegate!(self, enqueue(job, now))
    }

    /// Stores every job of `jobs` in one transaction, answering each in order.
    ///
    /// # Errors
    ///
    /// As [`JobStore::enqueue`]; on any error nothing is stored.
    async fn enqueue_many(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        delegate!(self, enqueue_many(jobs, now))
    }

    /// Stores every job of `jobs` in one transaction, as [`JobStore::enqueue_many`]
    /// does, where jobs may depend on others ([`NewJob::depends_on`]): stored jobs or
    /// jobs of the call. A job with a dependency that has not completed is stored
    /// `Waiting`. The core sends every job with dependencies here, so a store written
    /// before dependencies refuses them ([`StoreError::Unsupported`], the default)
    /// rather than run them early.
    ///
    /// # Errors
    ///
    /// As [`JobStore::enqueue_many`]; [`StoreError::InvalidDependency`] for a
    /// dependency on an unknown id, on the job itself or in a cycle among the jobs.
    /// Nothing is stored then.
    async fn enqueue_with_dependencies(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        delegate!(self, enqueue_with_dependencies(jobs, now))
    }

    /// Leases up to `request.limit` due jobs of `request.queues` to `request.worker`
    /// until `request.lease_until`.
    ///
    /// Also ends `Failed` every expired lease in those queues that has no attempts left.
    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        delegate!(self, claim(request, now))
    }

    /// Extends each live lease of `leases` to `lease_until`, answering each in order.
    async fn heartbeat(
        &self,
        leases: &[Lease],
        lease_until: OffsetDateTime,
    ) -> Result<Vec<HeartbeatStatus>, StoreError> {
        delegate!(self, heartbeat(leases, lease_until))
    }

    /// Ends the leased job `Completed` at `now`.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] for a stale lease, [`StoreError::NotFound`] for an
    /// unknown job.
    async fn complete(&self, lease: Lease, now: OffsetDateTime) -> Result<(), StoreError> {
        delegate!(self, complete(lease, now))
    }

    /// Records `error` and makes the leased job pending at `run_at`; on its last
    /// attempt, ends it `Failed` instead. Returns the job's new state.
    ///
    /// # Errors
    ///
    /// As [`JobStore::complete`].
    async fn retry(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<JobState, StoreError> {
        delegate!(self, retry(lease, run_at, error, now))
    }

    /// Ends the leased job `Failed` with `error`, whatever attempts remain.
    ///
    /// # Errors
    ///
    /// As [`JobStore::complete`].
    async fn fail(&self, lease: Lease, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        delegate!(self, fail(lease, error, now))
    }

    /// Gives the leased job back, pending at `run_at`, without spending its attempt
    /// (shutdown, snooze).
    ///
    /// # Errors
    ///
    /// As [`JobStore::complete`].
    async fn release(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, release(lease, run_at, now))
    }

    /// Cancels the job: a pending or running one ends `Cancelled`, a terminal one is
    /// left as it is. Returns the job as it is after the call.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown job.
    async fn cancel(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        delegate!(self, cancel(id, now))
    }

    /// The ids of the stored jobs whose `depends_on` names job `id` (waiting, released
    /// or ended alike), ascending; none for a job nothing depends on or an unknown (or
    /// deleted) id.
    /// What the CLI and the dashboard show as a job's dependents.
    async fn dependents(&self, id: JobId) -> Result<Vec<JobId>, StoreError> {
        delegate!(self, dependents(id))
    }

    /// The job with this id, with its state as of `now`.
    async fn get(&self, id: JobId, now: OffsetDateTime) -> Result<Option<JobRecord>, StoreError> {
        delegate!(self, get(id, now))
    }

    /// The jobs `filter` selects, ordered by id, with states as of `now`.
    async fn list(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        delegate!(self, list(filter, now))
    }

    /// How many jobs `filter` selects (ignoring its limit), with states as of `now`.
    async fn count(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        delegate!(self, count(filter, now))
    }

    /// The earliest time at which a claim of `queues` could return a job: the
    /// earliest pending `run_at` or running `lease_until` (possibly before `now`), or
    /// `None` when the queues hold neither.
    async fn next_due(&self, queues: &[String]) -> Result<Option<OffsetDateTime>, StoreError> {
        delegate!(self, next_due(queues))
    }

    /// Deletes up to `limit` terminal jobs whose `finished_at` is before `before`,
    /// oldest first (by `finished_at`, then id); returns how many it deleted.
    async fn prune(&self, before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        delegate!(self, prune(before, limit))
    }

    /// Inserts or replaces the schedule named `schedule.name`; returns it as stored.
    ///
    /// `next_fire_at` is the first slot after `now` of `schedule.spec`; it is stored for
    /// a new schedule or a changed spec and ignored otherwise.
    async fn upsert_schedule(
        &self,
        schedule: NewSchedule,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        delegate!(self, upsert_schedule(schedule, next_fire_at, now))
    }

    /// The schedule named `name`.
    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        delegate!(self, get_schedule(name))
    }

    /// Every schedule, ordered by name.
    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        delegate!(self, list_schedules())
    }

    /// Up to `limit` enabled schedules with `next_fire_at <= now`, earliest first.
    async fn due_schedules(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        delegate!(self, due_schedules(now, limit))
    }

    /// If the schedule's `next_fire_at` is `firing.slot`: inserts `firing.jobs`
    /// (deduped by unique key), sets `next_fire_at` to `firing.next` and
    /// `last_fired_at` to `now`, atomically; answers each job in order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the slot moved (another scheduler fired it, or
    /// the schedule changed) or the schedule is paused;
    /// [`StoreError::ScheduleNotFound`] for an unknown name. Nothing is stored then.
    async fn fire_schedule(
        &self,
        firing: Firing<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        delegate!(self, fire_schedule(firing, now))
    }

    /// Stops the schedule firing; returns it as stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::ScheduleNotFound`] for an unknown name.
    async fn pause_schedule(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        delegate!(self, pause_schedule(name, now))
    }

    /// Lets a paused schedule fire again from `next_fire_at` (slots during the pause
    /// are not fired); returns it as stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::ScheduleNotFound`] for an unknown name.
    async fn resume_schedule(
        &self,
        name: &str,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        delegate!(self, resume_schedule(name, next_fire_at, now))
    }

    /// Deletes the schedule (its jobs stay); `false` when no schedule had the name.
    async fn remove_schedule(&self, name: &str) -> Result<bool, StoreError> {
        delegate!(self, remove_schedule(name))
    }

    /// Stops every claim from `queue` until [`JobStore::resume_queue`]: its pending
    /// jobs stay pending, its running jobs run on. Pausing a paused queue changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError::QueueNotFound`] when no job of `queue` is stored and it was never
    /// paused (a typo, most likely); nothing is stored then.
    async fn pause_queue(&self, queue: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        delegate!(self, pause_queue(queue, now))
    }

    /// Lets claims take `queue`'s jobs again. Resuming a queue that is not paused
    /// changes nothing.
    ///
    /// # Errors
    ///
    /// As [`JobStore::pause_queue`].
    async fn resume_queue(&self, queue: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        delegate!(self, resume_queue(queue, now))
    }

    /// Stores `limit` for `scope`, replacing the one it had (the starts it counted
    /// are kept).
    ///
    /// # Errors
    ///
    /// [`StoreError::QueueNotFound`] for a queue scope when no job of the queue is
    /// stored and it was never paused; nothing is stored then.
    async fn set_limit(
        &self,
        scope: &LimitScope,
        limit: Limit,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, set_limit(scope, limit, now))
    }

    /// Removes the limit of `scope` and the starts it counted.
    ///
    /// # Errors
    ///
    /// [`StoreError::LimitNotFound`] when `scope` has no limit; nothing changes then.
    async fn remove_limit(
        &self,
        scope: &LimitScope,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, remove_limit(scope, now))
    }

    /// Every stored limit, ordered by scope (keys before queues) then name.
    async fn limits(&self) -> Result<Vec<(LimitScope, Limit)>, StoreError> {
        delegate!(self, limits())
    }

    /// How many jobs each queue holds in each state as of `now`, its oldest pending
    /// `run_at`, whether it is paused and its limit: every queue with a stored job, a
    /// pause record or a limit, ordered by name.
    async fn queue_stats(&self, now: OffsetDateTime) -> Result<Vec<QueueStats>, StoreError> {
        delegate!(self, queue_stats(now))
    }

    /// Ends the leased job `Completed` at `now`, keeping `output` with it.
    ///
    /// # Errors
    ///
    /// As [`JobStore::complete`].
    async fn complete_with_output(
        &self,
        lease: Lease,
        output: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, complete_with_output(lease, output, now))
    }

    /// Runs the job again now: a pending or finished job becomes `Available` with
    /// `run_at` = `now`, no lease and no `finished_at`; a job that spent all its
    /// attempts gets one more (`max_attempts` = `attempt` + 1). Its error history
    /// stays. Returns the job as it is after the call.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrongState`] for a running job (cancel it first),
    /// [`StoreError::NotFound`] for an unknown one, [`StoreError::Conflict`] when a
    /// pending or running job holds its unique key; nothing changes then.
    async fn retry_job(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        delegate!(self, retry_job(id, now))
    }

    /// Deletes a pending or finished job; returns it as it was.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrongState`] for a running job (cancel it first),
    /// [`StoreError::NotFound`] for an unknown one; nothing changes then.
    async fn delete_job(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        delegate!(self, delete_job(id, now))
    }

    /// Changes the run time, priority or queue of a pending job; returns it as it is
    /// after the call.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrongState`] for a job that is not pending,
    /// [`StoreError::NotFound`] for an unknown one; nothing changes then.
    async fn update_job(
        &self,
        id: JobId,
        update: &JobUpdate,
        now: OffsetDateTime,
    ) -> Result<JobRecord, StoreError> {
        delegate!(self, update_job(id, update, now))
    }

    /// [`JobStore::retry_job`] for the jobs `filter` selects that are not running (at
    /// most its limit, lowest ids first, or by finish time with `finished_before`); returns how many it retried.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when it would give a unique key to two pending or
    /// running jobs; nothing changes then.
    async fn retry_jobs(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        delegate!(self, retry_jobs(filter, now))
    }

    /// [`JobStore::update_job`] for the pending jobs `filter` selects (at most its
    /// limit, lowest ids first); returns how many it changed.
    async fn update_jobs(
        &self,
        filter: &JobFilter,
        update: &JobUpdate,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        delegate!(self, update_jobs(filter, update, now))
    }

    /// [`JobStore::cancel`] for the pending and running jobs `filter` selects (at most
    /// its limit, lowest ids first); returns how many it cancelled.
    async fn cancel_jobs(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        delegate!(self, cancel_jobs(filter, now))
    }

    /// [`JobStore::delete_job`] for the jobs `filter` selects that are not running (at
    /// most its limit, lowest ids first, or by finish time with `finished_before`); returns how many it deleted.
    async fn delete_jobs(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        delegate!(self, delete_jobs(filter, now))
    }

    /// Takes the lock `name` for `holder` until `until`, if it is free (never taken, or
    /// held until `now` or earlier) or `holder` holds it already (a renewal); answers
    /// whether `holder` holds it now. Maintenance that one process should run at a
    /// time (retention) runs under such a lock.
    async fn take_lock(
        &self,
        name: &str,
        holder: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        delegate!(self, take_lock(name, holder, until, now))
    }
}

#[cfg(test)]
mod tests;
