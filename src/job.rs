//! The job model: what a store keeps for each job.
//!
//! - [`Job`]: a typed job: a serde payload with a kind name, its handler registered
//!   under [`Job::KIND`].
//! - [`JobId`]: a UUIDv7, so ids sort by creation time.
//! - [`JobState`]: the lifecycle, from `Scheduled` to a terminal state.
//! - [`NewJob`]: a validated job on its way into a store.
//! - [`JobRecord`]: a job as a store returns it.
//! - [`Lease`]: the proof a worker holds a claimed job, fencing every later write.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::{ContextV7, Timestamp, Uuid};

use crate::dependency::DependencyFailure;
use crate::error::Error;
use crate::queue::EnqueueOptions;
use crate::retry::RetryPolicy;

/// A typed job: its payload is `Self`, serialized as JSON.
///
/// Besides its kind, a job type may declare its defaults, as Oban's and River's
/// workers do: the options of every enqueue ([`Job::enqueue_options`]), and the
/// timeout and retry policy its attempts run under ([`Job::timeout`],
/// [`Job::retry_policy`]). What an enqueue call or the worker's builder sets for it
/// wins.
///
/// ```
/// use std::time::Duration;
///
/// use leasehold::retry::RetryPolicy;
/// use leasehold::{EnqueueOptions, Job};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct SendDigest {
///     user: u64,
/// }
///
/// impl Job for SendDigest {
///     const KIND: &'static str = "send_digest";
///
///     fn enqueue_options(&self) -> EnqueueOptions {
///         EnqueueOptions::new()
///             .queue("mail")
///             .max_attempts(5)
///             .unique_key(format!("digest:{}", self.user))
///             .unique_for(Duration::from_secs(3600))
///     }
///
///     fn timeout() -> Option<Duration> {
///         Some(Duration::from_secs(30))
///     }
///
///     fn retry_policy() -> Option<RetryPolicy> {
///         Some(RetryPolicy::constant(Duration::from_secs(60)))
///     }
/// }
/// ```
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name its handler is registered under; stored with every job.
    const KIND: &'static str;

    /// The options every enqueue of this job starts from: its queue, priority, max
    /// attempts, unique key and period, tags, metadata (default: none, so the
    /// queue's defaults). It sees the job, so a unique key can come from the payload.
    ///
    /// The options given to the enqueue call win, field by field: a field set there
    /// replaces this one's, tags add up, and metadata objects merge key by key.
    fn enqueue_options(&self) -> EnqueueOptions {
        EnqueueOptions::new()
    }

    /// How long an attempt may run before it fails retryably (default: the worker's
    /// timeout). [`WorkerBuilder::timeout_for`](crate::worker::WorkerBuilder::timeout_for)
    /// wins over it.
    fn timeout() -> Option<Duration> {
        None
    }

    /// How long a failed attempt waits before the next (default: the worker's policy).
    /// [`WorkerBuilder::retry_policy_for`](crate::worker::WorkerBuilder::retry_policy_for)
    /// wins over it.
    fn retry_policy() -> Option<RetryPolicy> {
        None
    }
}

/// A job, owned or borrowed: what [`Queue::enqueue`](crate::Queue::enqueue) and
/// [`Queue::enqueue_many`](crate::Queue::enqueue_many) take, so that both
/// `queue.enqueue(job)` and `queue.enqueue(&job)` work, and `enqueue_many` takes a
/// `Vec<J>`, an array, or any iterator of `J` or `&J`.
///
/// `M` is a marker that only keeps the two implementations apart ([`OwnedJob`] for `J`,
/// [`BorrowedJob`] for `&J`); the compiler infers it, and callers never name it.
pub trait AsJob<M>: Send {
    /// The job type.
    type Job: Job;

    /// The job.
    fn as_job(&self) -> &Self::Job;
}

/// The [`AsJob`] marker of an owned job.
#[derive(Debug)]
pub enum OwnedJob {}

/// The [`AsJob`] marker of a borrowed job.
#[derive(Debug)]
pub enum BorrowedJob {}

impl<J: Job> AsJob<OwnedJob> for J {
    type Job = J;

    fn as_job(&self) -> &J {
        self
    }
}

impl<J: Job> AsJob<BorrowedJob> for &J {
    type Job = J;

    fn as_job(&self) -> &J {
        self
    }
}

/// A job's identity: a UUIDv7 whose timestamp is the creating clock's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(Uuid);

/// One counter for the process keeps ids generated in the same millisecond in order.
static ID_CONTEXT: Mutex<ContextV7> = Mutex::new(ContextV7::new());

impl JobId {
    /// A new id stamped with `now` (read from the caller's [`Clock`](crate::Clock)).
    ///
    /// Ids made by one process are strictly increasing, even within one millisecond
    /// or when `now` goes backwards, so they give FIFO order among equal run times.
    pub fn new(now: OffsetDateTime) -> Self {
        let nanos = now.unix_timestamp_nanos().max(0);
        let seconds = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
        let subsec = u32::try_from(nanos % 1_000_000_000).expect("a remainder of 1e9 fits u32");
        let context = ID_CONTEXT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Self(Uuid::new_v7(Timestamp::from_unix(
            &*context, seconds, subsec,
        )))
    }

    /// The smallest id (the nil UUID), for range bounds.
    pub const MIN: JobId = JobId(Uuid::nil());
    /// The largest id (the max UUID), for range bounds.
    pub const MAX: JobId = JobId(Uuid::max());

    /// Wraps an existing UUID (for stores reading ids back).
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID inside.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for JobId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Where a job is in its life.
///
/// `Scheduled` and `Available` are both "pending": a store reports `Scheduled` while
/// `run_at` is after the `now` it was given and `Available` from then on. A job with
/// dependencies is `Waiting` before it is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobState {
    /// Pending, with `run_at` in the future.
    Scheduled,
    /// Pending and due: the next claim may take it.
    Available,
    /// Claimed by a worker that holds a lease on it.
    Running,
    /// Finished successfully (terminal).
    Completed,
    /// Attempts exhausted or failed permanently (terminal); `last_error` says why.
    Failed,
    /// Cancelled before it finished (terminal).
    Cancelled,
    /// Waiting for its dependencies ([`JobRecord::depends_on`]) to complete: never
    /// claimed, and pending once the last one has. It comes before `Scheduled` in a
    /// job's life and last in this enum's order, added after the others.
    Waiting,
}

impl JobState {
    /// Every state: the lifecycle of a job from `Scheduled` to its terminal states, then
    /// `Waiting` (a job's first state when it has dependencies), added last so that
    /// lists of states keep the order they had.
    pub const ALL: [JobState; 7] = [
        JobState::Scheduled,
        JobState::Available,
        JobState::Running,
        JobState::Completed,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Waiting,
    ];

    /// Whether the job will never run again.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Cancelled
        )
    }

    /// The lowercase name used in storage and messages (`"scheduled"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            JobState::Scheduled => "scheduled",
            JobState::Available => "available",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Waiting => "waiting",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`JobState`]'s ([`JobState::as_str`]), from its `FromStr`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no job state is named {0:?}: expected one of scheduled, available, running, completed, \
     failed, cancelled, waiting"
)]
pub struct UnknownJobState(pub String);

impl FromStr for JobState {
    type Err = UnknownJobState;

    /// The state named `name` as [`JobState::as_str`] writes it.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
            .ok_or_else(|| UnknownJobState(name.to_owned()))
    }
}

/// The default queue's name.
pub const DEFAULT_QUEUE: &str = "default";
/// How many times a job runs by default before it ends `Failed`.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 20;

/// A job on its way into a store, already validated.
///
/// Build one with [`NewJob::new`] and the setters; the fields are public for stores.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewJob {
    /// The id the job will have (the core makes it; stores keep it).
    pub id: JobId,
    /// The handler's name.
    pub kind: String,
    /// The queue it waits in.
    pub queue: String,
    /// The handler's input.
    pub payload: serde_json::Value,
    /// Lower runs first; 0 by default.
    pub priority: i16,
    /// Not claimed before this time.
    pub run_at: OffsetDateTime,
    /// Attempts before the job ends `Failed`; at least 1.
    pub max_attempts: u32,
    /// At most one non-terminal job holds a given key.
    pub unique_key: Option<String>,
    /// With a unique key: it also blocks while a job holding it ended in one of
    /// `unique_states` less than this long before the enqueue's `now`.
    pub unique_period: Option<std::time::Duration>,
    /// The terminal states that block a unique key for `unique_period`
    /// (`[Completed]` by default).
    pub unique_states: Vec<JobState>,
    /// Labels to find the job by ([`JobFilter::tag`](crate::JobFilter::tag)).
    pub tags: Vec<String>,
    /// Free-form data about the job, kept with it (a JSON object).
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The flow-control key whose stored [`Limit`](crate::Limit) holds the job back
    /// (`partner:acme`, `tenant:42`); `None`: only its queue's limit applies.
    pub limit_key: Option<String>,
    /// The jobs it waits for: stored jobs, or jobs of the same enqueue call. It is
    /// `Waiting` until every one has completed.
    pub depends_on: Vec<JobId>,
    /// What happens to it when a dependency fails or is cancelled.
    pub on_dependency_failure: DependencyFailure,
}

impl NewJob {
    /// A job of `kind` with `payload`, in the default queue, due at `now`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] when `kind` is empty.
    pub fn new(
        kind: impl Into<String>,
        payload: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        let kind = kind.into();
        if kind.trim().is_empty() {
            return Err(Error::InvalidJob("job kind must not be empty".into()));
        }
        Ok(Self {
            id: JobId::new(now),
            kind,
            queue: DEFAULT_QUEUE.to_owned(),
            payload,
            priority: 0,
            run_at: crate::clock::truncate_to_micros(now),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            unique_key: None,
            unique_period: None,
            unique_states: vec![JobState::Completed],
            tags: Vec::new(),
            metadata: serde_json::Map::new(),
            limit_key: None,
            depends_on: Vec::new(),
            on_dependency_failure: DependencyFailure::default(),
        })
    }

    /// Puts the job in `queue`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] when `queue` is empty.
    pub fn queue(mut self, queue: impl Into<String>) -> Result<Self, Error> {
        let queue = queue.into();
        if queue.trim().is_empty() {
            return Err(self.invalid("queue name must not be empty"));
        }
        self.queue = queue;
        Ok(self)
    }

    /// Sets the priority; lower runs first.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }

    /// Not claimed before `run_at` (truncated to microseconds).
    pub fn run_at(mut self, run_at: OffsetDateTime) -> Self {
        self.run_at = crate::clock::truncate_to_micros(run_at);
        self
    }

    /// Sets the number of attempts before the job ends `Failed`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] when `max_attempts` is 0.
    pub fn max_attempts(mut self, max_attempts: u32) -> Result<Self, Error> {
        if max_attempts == 0 {
            return Err(self.invalid("max_attempts must be at least 1"));
        }
        self.max_attempts = max_attempts;
        Ok(self)
    }

    /// An [`Error::InvalidJob`] saying this job breaks `rule`, naming its kind.
    fn invalid(&self, rule: &str) -> Error {
        Error::InvalidJob(format!("{rule} (job kind {:?})", self.kind))
    }

    /// At most one non-terminal job holds `key`; a second enqueue returns the first.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// With a unique key, it also blocks while a job holding it ended in one of
    /// `states` (terminal states; `Completed` alone by default) less than `period`
    /// ago: "at most one digest per user per hour".
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] when `states` names a state that is not terminal (pending
    /// and running holders always block) or the period is zero.
    pub fn unique_for(
        mut self,
        period: std::time::Duration,
        states: &[JobState],
    ) -> Result<Self, Error> {
        if period.is_zero() {
            return Err(self.invalid("a unique period must be longer than zero"));
        }
        if let Some(state) = states.iter().find(|s| !s.is_terminal()) {
            return Err(self.invalid(&format!(
                "unique states are terminal states; {state} jobs always hold their key"
            )));
        }
        self.unique_period = Some(period);
        self.unique_states = states.to_vec();
        Ok(self)
    }

    /// Puts the job under the flow-control key `key`: while a [`Limit`](crate::Limit)
    /// is stored for [`LimitScope::Key`](crate::LimitScope::Key) of it, claims hold the
    /// job back to stay within it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] for an empty key.
    pub fn limit_key(mut self, key: impl Into<String>) -> Result<Self, Error> {
        let key = key.into();
        if key.trim().is_empty() {
            return Err(self.invalid("a limit key must not be empty"));
        }
        self.limit_key = Some(key);
        Ok(self)
    }

    /// Makes the job wait for `ids` (added to those it waits for; each once): stored
    /// jobs, or jobs of the same enqueue call (build those first, for their ids). It
    /// is `Waiting` until every one has completed; a store refuses an unknown id, the
    /// job's own, or a cycle among the jobs of one call
    /// ([`StoreError::InvalidDependency`](crate::StoreError::InvalidDependency)).
    pub fn depends_on(mut self, ids: impl IntoIterator<Item = JobId>) -> Self {
        for id in ids {
            if !self.depends_on.contains(&id) {
                self.depends_on.push(id);
            }
        }
        self
    }

    /// What happens to the job when a dependency fails or is cancelled (cancel it, by
    /// default).
    pub fn on_dependency_failure(mut self, policy: DependencyFailure) -> Self {
        self.on_dependency_failure = policy;
        self
    }

    /// Labels the job with `tags`, added to those it has.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] for an empty tag.
    pub fn tags<T: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = T>,
    ) -> Result<Self, Error> {
        for tag in tags {
            let tag = tag.into();
            if tag.trim().is_empty() {
                return Err(self.invalid("a tag must not be empty"));
            }
            if !self.tags.contains(&tag) {
                self.tags.push(tag);
            }
        }
        Ok(self)
    }

    /// Keeps `metadata` (a JSON object) with the job, replacing what it had.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] when `metadata` is not a JSON object.
    pub fn metadata(mut self, metadata: serde_json::Value) -> Result<Self, Error> {
        match metadata {
            serde_json::Value::Object(map) => {
                self.metadata = map;
                Ok(self)
            }
            other => Err(self.invalid(&format!("metadata must be a JSON object, not {other}"))),
        }
    }
}

mod payload;
mod record;

pub use payload::Payload;
pub use record::{AttemptError, ERROR_HISTORY_LIMIT, JobRecord, Lease};

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ids_made_at_one_instant_are_increasing() {
        let now = datetime!(2000-01-01 0:00 UTC);

        let ids: Vec<JobId> = (0..1000).map(|_| JobId::new(now)).collect();

        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn an_empty_kind_or_queue_or_zero_attempts_is_refused() {
        let now = datetime!(2000-01-01 0:00 UTC);

        assert!(NewJob::new(" ", serde_json::Value::Null, now).is_err());
        let job = NewJob::new("k", serde_json::Value::Null, now).unwrap();
        assert!(job.clone().queue("").is_err());
        assert!(job.clone().max_attempts(0).is_err());
        assert!(job.clone().tags([""]).is_err());
        assert!(job.clone().metadata(serde_json::json!([1])).is_err());
        assert!(
            job.clone()
                .unique_for(std::time::Duration::ZERO, &[])
                .is_err()
        );
        assert!(
            job.unique_for(std::time::Duration::from_secs(1), &[JobState::Running])
                .is_err()
        );
    }

    #[test]
    fn the_error_history_keeps_the_latest_attempts() {
        let now = datetime!(2000-01-01 0:00 UTC);
        let job = NewJob::new("k", serde_json::Value::Null, now).unwrap();
        let mut record = JobRecord::from_new(&job, now);

        for attempt in 1..=25 {
            record.attempt = attempt;
            record.record_error(&format!("e{attempt}"), now);
        }

        assert_eq!(record.errors.len(), ERROR_HISTORY_LIMIT);
        assert_eq!(record.errors[0].attempt, 6);
        assert_eq!(record.errors[19].error, "e25");
        assert_eq!(record.last_error.as_deref(), Some("e25"));
    }
}
