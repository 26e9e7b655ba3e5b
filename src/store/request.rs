//! What the store verbs are asked and what they answer, beside the trait.

use time::OffsetDateTime;

use crate::error::Error;
use crate::job::{JobId, JobRecord, JobState, NewJob};

/// Which jobs [`JobStore::list`](crate::JobStore::list) and
/// [`JobStore::count`](crate::JobStore::count) return, and which the bulk verbs
/// (`retry_jobs`, `update_jobs`, `cancel_jobs`, `delete_jobs`) and retention act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobFilter {
    /// Only jobs in this queue.
    pub queue: Option<String>,
    /// Only jobs in this state (as of the `now` given).
    pub state: Option<JobState>,
    /// Only jobs of this kind.
    pub kind: Option<String>,
    /// Only jobs with this tag.
    pub tag: Option<String>,
    /// Only jobs that finished (reached a terminal state) before this time.
    pub finished_before: Option<OffsetDateTime>,
    /// At most this many jobs (`list` and the bulk verbs; `count` ignores it).
    pub limit: Option<usize>,
    /// `list` only: the jobs after this id in the list's order (keyset pagination:
    /// pass the last id of one page to get the next). `count` and the bulk verbs
    /// ignore it.
    pub after: Option<JobId>,
    /// `list` only: highest ids (the newest jobs) first instead of lowest first.
    pub newest_first: bool,
}

impl JobFilter {
    /// Every job.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only jobs in `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Only jobs in `state`.
    pub fn state(mut self, state: JobState) -> Self {
        self.state = Some(state);
        self
    }

    /// Only jobs of `kind`.
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// Only jobs tagged `tag`.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Only jobs that finished before `time` (so only terminal jobs).
    pub fn finished_before(mut self, time: OffsetDateTime) -> Self {
        self.finished_before = Some(time);
        self
    }

    /// At most `limit` jobs.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// `list` only: the jobs after `id` in the list's order, for the next page.
    pub fn after(mut self, id: JobId) -> Self {
        self.after = Some(id);
        self
    }

    /// `list` only: the newest jobs (highest ids) first.
    pub fn newest_first(mut self) -> Self {
        self.newest_first = true;
        self
    }

    /// Whether `id` lies after [`JobFilter::after`] in the list's order (always, when
    /// it is unset). Stores without a query language page with this.
    pub fn is_after_cursor(&self, id: JobId) -> bool {
        self.after.is_none_or(|after| {
            if self.newest_first {
                id < after
            } else {
                id > after
            }
        })
    }

    /// Whether `job` (with its state as of the store's `now`) is selected, ignoring
    /// the limit. Stores without a query language filter with this.
    pub fn matches(&self, job: &JobRecord) -> bool {
        self.queue.as_ref().is_none_or(|q| *q == job.queue)
            && self.state.is_none_or(|s| s == job.state)
            && self.kind.as_ref().is_none_or(|k| *k == job.kind)
            && self.tag.as_ref().is_none_or(|t| job.tags.contains(t))
            && self
                .finished_before
                .is_none_or(|before| job.finished_at.is_some_and(|at| at < before))
    }
}

/// The answer to one lease of a [`JobStore::heartbeat`](crate::JobStore::heartbeat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeartbeatStatus {
    /// The lease now holds until the time given.
    Extended,
    /// The job was cancelled while running: stop the handler, record nothing.
    Cancelled,
    /// The lease is not the job's current one (or the job is gone): stop the handler,
    /// record nothing.
    Lost,
}

/// What the outcome of an enqueue was.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Enqueued {
    /// The stored job: the new one, or the existing holder of the unique key.
    pub job: JobRecord,
    /// `true` when the unique key was held and `job` is the existing job.
    pub duplicate: bool,
}

impl Enqueued {
    /// A newly inserted job.
    pub fn inserted(job: JobRecord) -> Self {
        Self {
            job,
            duplicate: false,
        }
    }

    /// An existing job that holds the unique key.
    pub fn duplicate(job: JobRecord) -> Self {
        Self {
            job,
            duplicate: true,
        }
    }
}

/// What a worker asks of [`JobStore::claim`](crate::JobStore::claim): up to `limit` due jobs of `queues`,
/// leased to `worker` until `lease_until`.
///
/// A request rather than positional arguments, so that what a claim may be asked
/// (flow-control limits, say) can grow without breaking stores written today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimRequest<'a> {
    /// The queues to take jobs from.
    pub queues: &'a [String],
    /// At most this many jobs.
    pub limit: usize,
    /// Who holds the leases: recorded on each claimed job.
    pub worker: &'a str,
    /// When the leases expire.
    pub lease_until: OffsetDateTime,
    /// At most this many of the jobs may be ones a stored limit governs (their key or
    /// queue has a [`Limit`](crate::Limit)); `limit` unless set. A worker claiming
    /// ahead of its free slots sets it to its free slots, so that a limited job is
    /// never buffered: its start then comes at its claim, which is what a rate counts.
    pub limited: usize,
}

impl<'a> ClaimRequest<'a> {
    /// A claim of up to `limit` jobs of `queues` for `worker`, leased until
    /// `lease_until`.
    pub fn new(
        worker: &'a str,
        queues: &'a [String],
        limit: usize,
        lease_until: OffsetDateTime,
    ) -> Self {
        Self {
            queues,
            limit,
            worker,
            lease_until,
            limited: limit,
        }
    }

    /// At most `limited` of the jobs may be ones a stored limit governs.
    pub fn limited(mut self, limited: usize) -> Self {
        self.limited = limited;
        self
    }
}

/// One slot of a schedule, as a scheduler asks [`JobStore::fire_schedule`](crate::JobStore::fire_schedule) to fire it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Firing<'a> {
    /// The schedule's name.
    pub name: &'a str,
    /// The `next_fire_at` the scheduler planned from: the slot being fired.
    pub slot: OffsetDateTime,
    /// The slot after it (`None`: the schedule has no further slot).
    pub next: Option<OffsetDateTime>,
    /// The jobs the slot enqueues.
    pub jobs: Vec<NewJob>,
}

impl<'a> Firing<'a> {
    /// Fires `slot` of the schedule `name` with `jobs`, moving it on to `next`.
    pub fn new(
        name: &'a str,
        slot: OffsetDateTime,
        next: Option<OffsetDateTime>,
        jobs: Vec<NewJob>,
    ) -> Self {
        Self {
            name,
            slot,
            next,
            jobs,
        }
    }
}

/// What [`JobStore::update_job`](crate::JobStore::update_job) changes on a pending
/// job: each field set is changed, the others are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobUpdate {
    /// The new run time (truncated to microseconds).
    pub run_at: Option<OffsetDateTime>,
    /// The new priority.
    pub priority: Option<i16>,
    /// The new queue.
    pub queue: Option<String>,
}

impl JobUpdate {
    /// Changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Not claimed before `run_at`.
    pub fn run_at(mut self, run_at: OffsetDateTime) -> Self {
        self.run_at = Some(crate::clock::truncate_to_micros(run_at));
        self
    }

    /// Runs with `priority` (lower first).
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Moves the job to `queue`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] when `queue` is empty.
    pub fn queue(mut self, queue: impl Into<String>) -> Result<Self, Error> {
        let queue = queue.into();
        if queue.trim().is_empty() {
            return Err(Error::InvalidJob("queue name must not be empty".into()));
        }
        self.queue = Some(queue);
        Ok(self)
    }

    /// Applies the update to `job` (for stores that keep records whole).
    pub fn apply(&self, job: &mut JobRecord) {
        if let Some(run_at) = self.run_at {
            job.run_at = run_at;
        }
        if let Some(priority) = self.priority {
            job.priority = priority;
        }
        if let Some(queue) = &self.queue {
            job.queue.clone_from(queue);
        }
    }
}

/// One queue as [`JobStore::queue_stats`](crate::JobStore::queue_stats) sees it: how
/// many of its jobs are in each state, its oldest pending job, whether it is paused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct QueueStats {
    /// The queue's name.
    pub queue: String,
    /// Whether claims skip it.
    pub paused: bool,
    /// Jobs waiting for their dependencies.
    #[serde(default)]
    pub waiting: u64,
    /// Pending jobs not yet due.
    pub scheduled: u64,
    /// Pending jobs due now.
    pub available: u64,
    /// Jobs under a lease (live or expired).
    pub running: u64,
    /// Completed jobs not yet pruned.
    pub completed: u64,
    /// Failed jobs not yet pruned.
    pub failed: u64,
    /// Cancelled jobs not yet pruned.
    pub cancelled: u64,
    /// The earliest `run_at` of a pending job (how long the queue has been waiting).
    #[serde(with = "time::serde::rfc3339::option")]
    pub oldest_pending_run_at: Option<OffsetDateTime>,
    /// The queue's stored limit ([`JobStore::set_limit`](crate::JobStore::set_limit)).
    #[serde(skip_deserializing)]
    pub limit: Option<crate::Limit>,
}

impl QueueStats {
    /// A queue with no jobs, not paused.
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            paused: false,
            waiting: 0,
            scheduled: 0,
            available: 0,
            running: 0,
            completed: 0,
            failed: 0,
            cancelled: 0,
            oldest_pending_run_at: None,
            limit: None,
        }
    }

    /// How many of its jobs are in `state`.
    pub fn count(&self, state: JobState) -> u64 {
        *self.counter(state)
    }

    /// Adds `n` jobs in `state` (for stores).
    pub fn add(&mut self, state: JobState, n: u64) {
        *self.counter_mut(state) += n;
    }

    /// How many jobs it holds in all.
    pub fn total(&self) -> u64 {
        JobState::ALL.iter().map(|&s| self.count(s)).sum()
    }

    fn counter(&self, state: JobState) -> &u64 {
        match state {
            JobState::Waiting => &self.waiting,
            JobState::Scheduled => &self.scheduled,
            JobState::Available => &self.available,
            JobState::Running => &self.running,
            JobState::Completed => &self.completed,
            JobState::Failed => &self.failed,
            JobState::Cancelled => &self.cancelled,
        }
    }

    fn counter_mut(&mut self, state: JobState) -> &mut u64 {
        match state {
            JobState::Waiting => &mut self.waiting,
            JobState::Scheduled => &mut self.scheduled,
            JobState::Available => &mut self.available,
            JobState::Running => &mut self.running,
            JobState::Completed => &mut self.completed,
            JobState::Failed => &mut self.failed,
            JobState::Cancelled => &mut self.cancelled,
        }
    }
}
