//! The producer side: typed jobs in, stored jobs out.
//!
//! - [`EnqueueOptions`]: queue, priority, run time or delay, attempts, unique key,
//!   dependencies.
//! - [`Queue`]: the handle over any [`JobStore`] that enqueues, inspects and cancels,
//!   and wakes this process's workers when it enqueues.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::clock::{Clock, SystemClock, truncate_to_micros};
use crate::error::Error;
use crate::error::StoreError;
use crate::job::{AsJob, Job, JobId, JobRecord, NewJob};
use crate::limit::{Limit, LimitScope};
use crate::store::{Enqueued, JobFilter, JobStore, JobUpdate, QueueStats};

mod options;

pub use options::EnqueueOptions;

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
    /// The job kinds workers built from this queue (or its clones) handle, and those
    /// [`Queue::register_kinds`] declared.
    handled: Arc<RwLock<BTreeSet<String>>>,
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
            handled: Arc::default(),
        }
    }

    /// Declares job kinds that a worker handles, for the checks that refuse work no
    /// worker would run (a batch callback of an unhandled kind:
    /// [`Error::UnhandledKind`]). A worker built from this queue or a clone declares
    /// its kinds itself; call this in a process whose callbacks run on a worker
    /// elsewhere. While nothing is declared, nothing is checked.
    pub fn register_kinds<K: Into<String>>(&self, kinds: impl IntoIterator<Item = K>) {
        let mut handled = self.handled.write().unwrap_or_else(PoisonError::into_inner);
        handled.extend(kinds.into_iter().map(Into::into));
    }

    /// [`Error::UnhandledKind`] when kinds are declared ([`Queue::register_kinds`])
    /// and `kind` is not among them.
    pub(crate) fn check_handled(&self, kind: &str) -> Result<(), Error> {
        let handled = self.handled.read().unwrap_or_else(PoisonError::into_inner);
        if handled.is_empty() || handled.contains(kind) {
            Ok(())
        } else {
            Err(Error::UnhandledKind(kind.to_owned()))
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

    /// Wakes the [`Queue::wait_for`] callers: a worker recorded an outcome. Called
    /// only when [`Queue::has_waiters`], so a job's end costs one load otherwise.
    pub(crate) fn wake_waiters(&self) {
        self.finished.notify.notify_waiters();
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

    /// `job` with `options` as this queue would enqueue it, not yet stored: a job with
    /// its id, for an [`Queue::enqueue_many_new`] call in which jobs depend on each
    /// other ("check these pages, then send one digest", in one atomic call).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), leasehold::Error> {
    /// use std::sync::Arc;
    /// use leasehold::{EnqueueOptions, Job, JobState, Queue};
    /// use leasehold_memory::MemoryStore;
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct CheckPage { url: String }
    /// # impl Job for CheckPage { const KIND: &'static str = "check_page"; }
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct SendDigest;
    /// # impl Job for SendDigest { const KIND: &'static str = "send_digest"; }
    ///
    /// let queue = Queue::new(Arc::new(MemoryStore::new()));
    /// let mut jobs = Vec::new();
    /// for url in ["https://a.example", "https://b.example"] {
    ///     jobs.push(queue.new_job(&CheckPage { url: url.into() }, EnqueueOptions::new())?);
    /// }
    /// let after = EnqueueOptions::new().depends_on(jobs.iter().map(|job| job.id));
    /// jobs.push(queue.new_job(&SendDigest, after)?);
    ///
    /// let enqueued = queue.enqueue_many_new(jobs).await?;
    /// assert_eq!(enqueued[2].job.state, JobState::Waiting);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Queue::enqueue_with`], before anything is stored.
    pub fn new_job<J: Job>(&self, job: &J, options: EnqueueOptions) -> Result<NewJob, Error> {
        options.build_job(job, self.clock.now())
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
        let now = self.clock.now();
        let enqueued = if job.depends_on.is_empty() {
            self.store.enqueue(job, now).await?
        } else {
            let id = job.id;
            let answers = self.store.enqueue_with_dependencies(vec![job], now).await?;
            answers.into_iter().next().ok_or_else(|| {
                StoreError::backend(format!("the enqueue of job {id} answered nothing"))
            })?
        };
        self.notify_enqueued();
        for hook in self.hooks.iter() {
            hook.after(std::slice::from_ref(&enqueued));
        }
        Ok(enqueued)
    }

    /// Enqueues already built jobs, all or none; they may depend on each other
    /// ([`Queue::new_job`]).
    ///
    /// # Errors
    ///
    /// The store's error; nothing is stored then:
    /// [`StoreError::InvalidDependency`](crate::StoreError::InvalidDependency) for a
    /// dependency on an unknown job, on the job itself or in a cycle.
    pub async fn enqueue_many_new(&self, mut jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, Error> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        for hook in self.hooks.iter() {
            hook.before(&mut jobs)?;
        }
        let now = self.clock.now();
        let enqueued = if jobs.iter().all(|job| job.depends_on.is_empty()) {
            self.store.enqueue_many(jobs, now).await?
        } else {
            self.store.enqueue_with_dependencies(jobs, now).await?
        };
        self.notify_enqueued();
        for hook in self.hooks.iter() {
            hook.after(&enqueued);
        }
        Ok(enqueued)
    }

    /// The ids of the jobs that depend on job `id` (its `depends_on` names it),
    /// ascending: the steps after it, or, for a batch member, the batch's callback.
    ///
    /// # Errors
    ///
    /// The store's error; [`StoreError::Unsupported`] from a store without
    /// dependencies.
    pub async fn dependents(&self, id: JobId) -> Result<Vec<JobId>, Error> {
        Ok(self.store.dependents(id).await?)
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
