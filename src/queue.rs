//! The producer side: typed jobs in, stored jobs out.
//!
//! - [`EnqueueOptions`]: queue, priority, run time or delay, attempts, unique key.
//! - [`Queue`]: the handle over any [`JobStore`] that enqueues, inspects and cancels,
//!   and wakes this process's workers when it enqueues.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

use crate::clock::{Clock, SystemClock, truncate_to_micros};
use crate::error::Error;
use crate::error::StoreError;
use crate::job::{AsJob, Job, JobId, JobRecord, JobState, NewJob};
use crate::limit::{Limit, LimitScope};
use crate::store::{Enqueued, JobFilter, JobStore, JobUpdate, QueueStats};

/// How to enqueue a job; every field has a default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnqueueOptions {
    /// The queue (default `"default"`).
    pub queue: Option<String>,
    /// Lower runs first (default 0).
    pub priority: Option<i16>,
    /// Not before this time (default: now). Wins over `delay`.
    pub run_at: Option<OffsetDateTime>,
    /// Not before now plus this (default: none).
    pub delay: Option<Duration>,
    /// Attempts before the job ends `Failed` (default 20).
    pub max_attempts: Option<u32>,
    /// Dedupes among non-terminal jobs.
    pub unique_key: Option<String>,
    /// With a unique key: how long it stays held after its holder finished, and in
    /// which terminal states (see [`NewJob::unique_for`]).
    pub unique_for: Option<(Duration, Vec<JobState>)>,
    /// Labels to find the job by.
    pub tags: Vec<String>,
    /// Free-form data kept with the job (a JSON object).
    pub metadata: Option<serde_json::Value>,
    /// The flow-control key whose stored [`Limit`](crate::Limit) holds the job back.
    pub limit_key: Option<String>,
}

impl EnqueueOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// In `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// With `priority`; lower runs first.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Not before `run_at`.
    pub fn run_at(mut self, run_at: OffsetDateTime) -> Self {
        self.run_at = Some(run_at);
        self
    }

    /// Not before now plus `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// At most `max_attempts` attempts.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = Some(max_attempts);
        self
    }

    /// Deduplicated by `key` among non-terminal jobs.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// With a unique key, also blocks while a job holding it ended `Completed` less
    /// than `period` ago: at most one such job per period ("one digest per user per
    /// hour"). [`EnqueueOptions::unique_for_states`] picks other terminal states.
    ///
    /// The finished holder is what blocks, so a period only holds while that job is
    /// kept: retention (24 hours for completed jobs by default) or `prune` deleting it
    /// ends the period early. Keep finished jobs at least as long as the longest
    /// period ([`Retention::keep`](crate::worker::Retention::keep)).
    pub fn unique_for(self, period: Duration) -> Self {
        self.unique_for_states(period, &[JobState::Completed])
    }

    /// As [`EnqueueOptions::unique_for`], blocking while a holder ended in one of
    /// `states` (terminal states) less than `period` ago.
    pub fn unique_for_states(mut self, period: Duration, states: &[JobState]) -> Self {
        self.unique_for = Some((period, states.to_vec()));
        self
    }

    /// Labels the job with `tags` (added to those set before); a
    /// [`JobFilter::tag`] finds it.
    pub fn tags<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Keeps `metadata`, a JSON object, with the job.
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Under the flow-control key `key` (`partner:acme`, `tenant:42`): a
    /// [`Limit`](crate::Limit) stored for it with [`Queue::set_limit`] bounds how many
    /// of its jobs run at once and start per period, across every worker.
    pub fn limit_key(mut self, key: impl Into<String>) -> Self {
        self.limit_key = Some(key.into());
        self
    }

    /// The validated job for `kind` and `payload`, as of `now`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] for an empty kind, queue, tag or limit key, zero `max_attempts`,
    /// metadata that is not a JSON object, or a unique period that is zero, names a
    /// state that is not terminal or comes without a unique key;
    /// [`Error::Config`] for a `delay` that ends past the last time `time` can represent.
    pub fn build(
        &self,
        kind: &str,
        payload: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<NewJob, Error> {
        let mut job = NewJob::new(kind, payload, now)?;
        if let Some(queue) = &self.queue {
            job = job.queue(queue.clone())?;
        }
        if let Some(priority) = self.priority {
            job = job.priority(priority);
        }
        if let Some(run_at) = self.run_at {
            job = job.run_at(run_at);
        } else if let Some(delay) = self.delay {
            let run_at = time::Duration::try_from(delay)
                .ok()
                .and_then(|delay| now.checked_add(delay))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "enqueue delay {delay:?} ends past the last representable time"
                    ))
                })?;
            job = job.run_at(run_at);
        }
        if let Some(max_attempts) = self.max_attempts {
            job = job.max_attempts(max_attempts)?;
        }
        if let Some(key) = &self.unique_key {
            job = job.unique_key(key.clone());
        }
        if let Some((period, states)) = &self.unique_for {
            if self.unique_key.is_none() {
                return Err(Error::InvalidJob(format!(
                    "a unique period needs a unique key (job kind {kind:?})"
                )));
            }
            job = job.unique_for(*period, states)?;
        }
        job = job.tags(self.tags.iter().cloned())?;
        if let Some(metadata) = &self.metadata {
            job = job.metadata(metadata.clone())?;
        }
        if let Some(key) = &self.limit_key {
            job = job.limit_key(key.clone())?;
        }
        Ok(job)
    }

    /// [`EnqueueOptions::build`] for a typed job: its kind and its payload as JSON,
    /// these options over the job's own ([`Job::enqueue_options`]). What every typed
    /// enqueue builds, a SQL store's transactional `enqueue_in` included.
    ///
    /// # Errors
    ///
    /// [`Error::Serialize`] for a payload that does not serialize; otherwise as
    /// [`EnqueueOptions::build`].
    pub fn build_job<J: Job>(&self, job: &J, now: OffsetDateTime) -> Result<NewJob, Error> {
        let payload = serde_json::to_value(job).map_err(|source| Error::Serialize {
            kind: J::KIND.to_owned(),
            source,
        })?;
        self.over(job.enqueue_options())
            .build(J::KIND, payload, now)
    }

    /// These options over `defaults`: a field set here wins, tags add up, metadata
    /// objects merge key by key (this one's keys winning).
    fn over(&self, defaults: EnqueueOptions) -> EnqueueOptions {
        let mut tags = defaults.tags;
        tags.extend(self.tags.iter().cloned());
        let metadata = match (defaults.metadata, &self.metadata) {
            (Some(serde_json::Value::Object(mut base)), Some(serde_json::Value::Object(own))) => {
                base.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
                Some(serde_json::Value::Object(base))
            }
            (base, own) => own.clone().or(base),
        };
        // When the call says when, the job type's run time and delay both give way.
        let (run_at, delay) = if self.run_at.is_some() || self.delay.is_some() {
            (self.run_at, self.delay)
        } else {
            (defaults.run_at, defaults.delay)
        };
        EnqueueOptions {
            queue: self.queue.clone().or(defaults.queue),
            priority: self.priority.or(defaults.priority),
            run_at,
            delay,
            max_attempts: self.max_attempts.or(defaults.max_attempts),
            unique_key: self.unique_key.clone().or(defaults.unique_key),
            unique_for: self.unique_for.clone().or(defaults.unique_for),
            tags,
            metadata,
            limit_key: self.limit_key.clone().or(defaults.limit_key),
        }
    }
}

/// Enqueues, inspects and cancels jobs in a [`JobStore`]; cheap to clone.
///
/// Workers built from a `Queue` (or from [`Queue::subscribe_enqueued`]) wake at once
/// when it enqueues, instead of waiting for their next poll.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), leasehold::Error> {
/// use std::sync::Arc;
/// use leasehold::{EnqueueOptions, Job, Queue};
/// use leasehold_memory::MemoryStore;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct SendEmail { to: String }
/// impl Job for SendEmail { const KIND: &'static str = "send_email"; }
///
/// let queue = Queue::new(Arc::new(MemoryStore::new()));
/// let email = SendEmail { to: "ada@example.com".into() };
/// let job = queue
///     .enqueue_with(&email, EnqueueOptions::new().queue("mail").priority(-1))
///     .await?
///     .job;
/// assert_eq!(job.kind, "send_email");
/// assert_eq!(queue.get(job.id).await?.map(|j| j.queue), Some("mail".to_owned()));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Queue {
    store: Arc<dyn JobStore>,
    clock: Arc<dyn Clock>,
    enqueued: Arc<watch::Sender<u64>>,
    hooks: Arc<[Arc<dyn EnqueueHook>]>,
    finished: Arc<Finished>,
}

/// Wakes [`Queue::wait_for`] callers when a worker built from the queue records an
/// outcome; costs nothing while no one waits.
#[derive(Debug, Default)]
struct Finished {
    notify: Notify,
    waiters: AtomicUsize,
}

/// Code around every enqueue through a [`Queue`]: it may change the jobs before they
/// are stored (add metadata, say: trace context) and sees what the store answered
/// (count them, say). Both default to doing nothing.
///
/// Hooks run in the order added. They see the enqueues of [`Queue`] and of its
/// clones made after [`Queue::with_hook`]; a schedule's firings and a SQL store's
/// `enqueue_in` do not pass through a queue, so no hook sees them.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), leasehold::Error> {
/// use std::sync::Arc;
/// use leasehold::{EnqueueHook, Error, Job, NewJob, Queue};
/// use leasehold_memory::MemoryStore;
/// use serde::{Deserialize, Serialize};
///
/// /// Stamps every job with the release that enqueued it.
/// struct Release(&'static str);
///
/// impl EnqueueHook for Release {
///     fn before(&self, jobs: &mut [NewJob]) -> Result<(), Error> {
///         for job in jobs {
///             job.metadata.insert("release".into(), self.0.into());
///         }
///         Ok(())
///     }
/// }
///
/// #[derive(Serialize, Deserialize)]
/// struct Ping;
/// impl Job for Ping { const KIND: &'static str = "ping"; }
///
/// let queue = Queue::new(Arc::new(MemoryStore::new())).with_hook(Release("v42"));
/// let job = queue.enqueue(Ping).await?.job;
/// assert_eq!(job.metadata["release"], "v42");
/// # Ok(())
/// # }
/// ```
pub trait EnqueueHook: Send + Sync + 'static {
    /// Runs before `jobs` (validated) are stored; it may change them. An error refuses
    /// the enqueue: nothing is stored and the caller gets the error.
    ///
    /// # Errors
    ///
    /// Whatever the hook decides refuses the enqueue.
    fn before(&self, jobs: &mut [NewJob]) -> Result<(), Error> {
        let _ = jobs;
        Ok(())
    }

    /// Runs after the store answered `enqueued`, in the order of the jobs (a
    /// duplicate of a unique key is answered by the job that holds it).
    fn after(&self, enqueued: &[Enqueued]) {
        let _ = enqueued;
    }
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// A queue over `store` on the clock the store offers ([`JobStore::clock`]: a
    /// PostgreSQL store's follows its server), else on the system clock.
    pub fn new(store: Arc<dyn JobStore>) -> Self {
        let clock = store.clock().unwrap_or_else(|| Arc::new(SystemClock));
        Self::with_clock(store, clock)
    }

    /// A queue over `store` that reads time from `clock`.
    pub fn with_clock(store: Arc<dyn JobStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            enqueued: Arc::new(watch::channel(0).0),
            hooks: Arc::new([]),
            finished: Arc::default(),
        }
    }

    /// Waits until job `id` is in a terminal state (`Completed`, `Failed`,
    /// `Cancelled`) and returns it: for scripts and tests that enqueue a job and need
    /// its outcome. Workers built from this queue (or a clone) wake the wait as soon as
    /// they record an outcome; jobs another process runs are polled, every 100 ms at
    /// first, then every second. Bound the wait with `tokio::time::timeout`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`](crate::StoreError::NotFound) for an unknown id (or a
    /// job deleted meanwhile), or the store's error.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), leasehold::Error> {
    /// use std::sync::Arc;
    /// use leasehold::worker::{JobContext, Worker};
    /// use leasehold::{Job, JobState, Queue};
    /// use leasehold_memory::MemoryStore;
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Ping;
    /// # impl Job for Ping { const KIND: &'static str = "ping"; }
    ///
    /// let queue = Queue::new(Arc::new(MemoryStore::new()));
    /// let worker = Worker::builder(&queue)
    ///     .handler(|_: Ping, _: JobContext| async {})
    ///     .build()?;
    /// tokio::spawn({
    ///     let worker = worker.clone();
    ///     async move { worker.run().await }
    /// });
    ///
    /// let id = queue.enqueue(Ping).await?.job.id;
    /// let job = queue.wait_for(id).await?;
    /// assert_eq!(job.state, JobState::Completed);
    /// worker.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for(&self, id: JobId) -> Result<JobRecord, Error> {
        let finished = &self.finished;
        finished.waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = scopeguard(|| {
            finished.waiters.fetch_sub(1, Ordering::SeqCst);
        });
        let mut poll = Duration::from_millis(100);
        loop {
            let notified = finished.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the read, so an outcome recorded after it wakes us.
            notified.as_mut().enable();
            match self.get(id).await? {
                Some(job) if job.state.is_terminal() => return Ok(job),
                Some(_) => {}
                None => return Err(StoreError::NotFound(id).into()),
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(poll) => poll = (poll * 2).min(Duration::from_secs(1)),
            }
        }
    }

    /// Whether anyone waits in [`Queue::wait_for`].
    pub(crate) fn has_waiters(&self) -> bool {
        self.finished.waiters.load(Ordering::SeqCst) > 0
    }

    /// Wakes the [`Queue::wait_for`] callers: a worker recorded an outcome.
    pub(crate) fn job_finished(&self) {
        if self.has_waiters() {
            self.finished.notify.notify_waiters();
        }
    }

    /// This queue (sharing its store, clock and workers' wake-up signal) with `hook`
    /// run around every enqueue, after the hooks it already has.
    pub fn with_hook(mut self, hook: impl EnqueueHook) -> Self {
        let mut hooks = self.hooks.to_vec();
        hooks.push(Arc::new(hook));
        self.hooks = hooks.into();
        self
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// The clock it reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A receiver that changes each time this queue (or a clone) enqueues.
    pub fn subscribe_enqueued(&self) -> watch::Receiver<u64> {
        self.enqueued.subscribe()
    }

    /// Enqueues `job` (owned or borrowed) with the default options.
    ///
    /// # Errors
    ///
    /// As [`Queue::enqueue_with`].
    pub async fn enqueue<M>(&self, job: impl AsJob<M>) -> Result<Enqueued, Error> {
        self.enqueue_with(job, EnqueueOptions::default()).await
    }

    /// Enqueues `job` (owned or borrowed) with `options`.
    ///
    /// # Errors
    ///
    /// [`Error::Serialize`] for a payload that does not serialize and
    /// [`Error::InvalidJob`] for invalid options (nothing is stored), or the store's
    /// error.
    pub async fn enqueue_with<M>(
        &self,
        job: impl AsJob<M>,
        options: EnqueueOptions,
    ) -> Result<Enqueued, Error> {
        let new_job = options.build_job(job.as_job(), self.clock.now())?;
        self.enqueue_new(new_job).await
    }

    /// Enqueues every job of `jobs` with `options`, all or none: a `Vec` or an array
    /// of jobs, or any iterator of jobs or of references to them.
    ///
    /// # Errors
    ///
    /// As [`Queue::enqueue_with`]; on any error nothing is stored.
    pub async fn enqueue_many<M, J: AsJob<M>>(
        &self,
        jobs: impl IntoIterator<Item = J>,
        options: EnqueueOptions,
    ) -> Result<Vec<Enqueued>, Error> {
        let now = self.clock.now();
        let new_jobs = jobs
            .into_iter()
            .map(|job| options.build_job(job.as_job(), now))
            .collect::<Result<Vec<_>, Error>>()?;
        self.enqueue_many_new(new_jobs).await
    }

    /// Enqueues an already built job (an untyped kind, say).
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn enqueue_new(&self, mut job: NewJob) -> Result<Enqueued, Error> {
        for hook in self.hooks.iter() {
            hook.before(std::slice::from_mut(&mut job))?;
        }
        let enqueued = self.store.enqueue(job, self.clock.now()).await?;
        self.notify_enqueued();
        for hook in self.hooks.iter() {
            hook.after(std::slice::from_ref(&enqueued));
        }
        Ok(enqueued)
    }

    /// Enqueues already built jobs, all or none.
    ///
    /// # Errors
    ///
    /// The store's error; nothing is stored then.
    pub async fn enqueue_many_new(&self, mut jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, Error> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        for hook in self.hooks.iter() {
            hook.before(&mut jobs)?;
        }
        let enqueued = self.store.enqueue_many(jobs, self.clock.now()).await?;
        self.notify_enqueued();
        for hook in self.hooks.iter() {
            hook.after(&enqueued);
        }
        Ok(enqueued)
    }

    /// The job with this id.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn get(&self, id: JobId) -> Result<Option<JobRecord>, Error> {
        Ok(self.store.get(id, self.clock.now()).await?)
    }

    /// Pauses `queue` in the store: no worker of any process claims its jobs until
    /// [`Queue::resume_queue`]. Its pending jobs stay pending and its running jobs run
    /// on; workers see the pause at their next claim.
    ///
    /// # Errors
    ///
    /// [`StoreError::QueueNotFound`](crate::StoreError::QueueNotFound) when no job of
    /// `queue` is stored and it was never paused (a typo, most likely); nothing is
    /// stored then.
    pub async fn pause_queue(&self, queue: &str) -> Result<(), Error> {
        Ok(self.store.pause_queue(queue, self.clock.now()).await?)
    }

    /// Lets workers claim `queue`'s jobs again; they do at their next poll.
    ///
    /// # Errors
    ///
    /// As [`Queue::pause_queue`].
    pub async fn resume_queue(&self, queue: &str) -> Result<(), Error> {
        self.store.resume_queue(queue, self.clock.now()).await?;
        self.notify_enqueued();
        Ok(())
    }

    /// Stores `limit` for `scope`, replacing the one it had: from their next claim,
    /// workers of every process run at most its `max_running` jobs of the key (or
    /// queue) at once and claim at most its rate, holding the rest back as pending.
    /// Jobs already running keep their leases.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), leasehold::Error> {
    /// use std::time::Duration;
    /// use leasehold::{Limit, LimitScope, Queue};
    /// # let queue = Queue::new(std::sync::Arc::new(leasehold_memory::MemoryStore::new()));
    /// // At most 2 calls to the partner at once, at most 100 a minute.
    /// let partner = Limit::running(2)?.with_rate(100, Duration::from_secs(60))?;
    /// queue.set_limit(&LimitScope::Key("partner:acme".into()), partner).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::QueueNotFound`](crate::StoreError::QueueNotFound) for a queue
    /// scope naming a queue with no stored job that was never paused; nothing is
    /// stored then.
    pub async fn set_limit(&self, scope: &LimitScope, limit: Limit) -> Result<(), Error> {
        self.store.set_limit(scope, limit, self.clock.now()).await?;
        self.notify_enqueued();
        Ok(())
    }

    /// Removes the limit stored for `scope`: its jobs are claimed as if it never was.
    ///
    /// # Errors
    ///
    /// [`StoreError::LimitNotFound`](crate::StoreError::LimitNotFound) when none is
    /// stored (a typo, most likely).
    pub async fn remove_limit(&self, scope: &LimitScope) -> Result<(), Error> {
        self.store.remove_limit(scope, self.clock.now()).await?;
        self.notify_enqueued();
        Ok(())
    }

    /// Every stored limit, by scope (keys first) and name.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn limits(&self) -> Result<Vec<(LimitScope, Limit)>, Error> {
        Ok(self.store.limits().await?)
    }

    /// Cancels the job: pending ones at once, running ones at their next heartbeat.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`](crate::StoreError::NotFound) for an unknown id.
    pub async fn cancel(&self, id: JobId) -> Result<JobRecord, Error> {
        Ok(self.store.cancel(id, self.clock.now()).await?)
    }

    /// The jobs `filter` selects, ordered by id.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, Error> {
        Ok(self.store.list(filter, self.clock.now()).await?)
    }

    /// How many jobs `filter` selects.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn count(&self, filter: &JobFilter) -> Result<u64, Error> {
        Ok(self.store.count(filter, self.clock.now()).await?)
    }

    /// Deletes up to `limit` terminal jobs that finished more than `age` ago (none when
    /// `age` reaches back past the first time `time` can represent).
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn prune(&self, age: Duration, limit: usize) -> Result<u64, Error> {
        let before = time::Duration::try_from(age)
            .ok()
            .and_then(|age| self.clock.now().checked_sub(age));
        let Some(before) = before else {
            return Ok(0);
        };
        Ok(self.store.prune(truncate_to_micros(before), limit).await?)
    }

    /// Every queue's jobs counted by state, its oldest pending job and whether it is
    /// paused, in one store call.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn queue_stats(&self) -> Result<Vec<QueueStats>, Error> {
        Ok(self.store.queue_stats(self.clock.now()).await?)
    }

    /// Runs the job again now: a failed, cancelled, completed or pending job becomes
    /// available at once. A job that spent all its attempts gets one more
    /// (`max_attempts` becomes `attempt + 1`); one with attempts left keeps them. Its
    /// error history stays.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrongState`](crate::StoreError::WrongState) for a running job
    /// (cancel it first), [`StoreError::NotFound`](crate::StoreError::NotFound) for an
    /// unknown one, [`StoreError::Conflict`](crate::StoreError::Conflict) when another
    /// pending or running job holds its unique key; nothing changes then.
    pub async fn retry_job(&self, id: JobId) -> Result<JobRecord, Error> {
        let job = self.store.retry_job(id, self.clock.now()).await?;
        self.notify_enqueued();
        Ok(job)
    }

    /// Deletes a pending or finished job; returns it as it was.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrongState`](crate::StoreError::WrongState) for a running job
    /// (cancel it first), [`StoreError::NotFound`](crate::StoreError::NotFound) for an
    /// unknown one; nothing changes then.
    pub async fn delete_job(&self, id: JobId) -> Result<JobRecord, Error> {
        Ok(self.store.delete_job(id, self.clock.now()).await?)
    }

    /// Changes the run time, priority or queue of a pending job.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrongState`](crate::StoreError::WrongState) for a job that is not
    /// pending, [`StoreError::NotFound`](crate::StoreError::NotFound) for an unknown
    /// one; nothing changes then.
    pub async fn update_job(&self, id: JobId, update: &JobUpdate) -> Result<JobRecord, Error> {
        let job = self.store.update_job(id, update, self.clock.now()).await?;
        self.notify_enqueued();
        Ok(job)
    }

    /// [`Queue::retry_job`] for every job `filter` selects that is not running, at
    /// most its limit; returns how many.
    ///
    /// # Errors
    ///
    /// The store's error; `Conflict` (and nothing changed) when a job would take a
    /// unique key another job holds.
    pub async fn retry_jobs(&self, filter: &JobFilter) -> Result<u64, Error> {
        let n = self.store.retry_jobs(filter, self.clock.now()).await?;
        self.notify_enqueued();
        Ok(n)
    }

    /// [`Queue::update_job`] for every pending job `filter` selects, at most its limit;
    /// returns how many ("move every waiting job of `reports` to `reports-slow`").
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn update_jobs(&self, filter: &JobFilter, update: &JobUpdate) -> Result<u64, Error> {
        let n = self
            .store
            .update_jobs(filter, update, self.clock.now())
            .await?;
        self.notify_enqueued();
        Ok(n)
    }

    /// [`Queue::cancel`] for every pending or running job `filter` selects, at most
    /// its limit; returns how many.
    ///
    /// A bulk verb is one transaction: on SQLite it holds the single writer until it
    /// ends, so act on a large set with a limit (say 1,000) in a loop.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn cancel_jobs(&self, filter: &JobFilter) -> Result<u64, Error> {
        Ok(self.store.cancel_jobs(filter, self.clock.now()).await?)
    }

    /// [`Queue::delete_job`] for every job `filter` selects that is not running, at
    /// most its limit; returns how many.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn delete_jobs(&self, filter: &JobFilter) -> Result<u64, Error> {
        Ok(self.store.delete_jobs(filter, self.clock.now()).await?)
    }

    /// Wakes the workers built from this queue (or subscribed to it) at once: new jobs
    /// are due. Every enqueue through the queue does this itself; call it after
    /// committing a transaction that enqueued with a SQL store's `enqueue_in`, so this
    /// process's workers need not wait for their next poll.
    pub fn notify_enqueued(&self) {
        self.enqueued.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Runs `f` when dropped.
fn scopeguard<F: FnOnce()>(f: F) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}
