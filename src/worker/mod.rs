//! The consumer side: claim jobs, run their handlers, record what happened.
//!
//! - [`Worker`]: the loop over a [`JobStore`]; [`WorkerBuilder`] configures it.
//! - [`JobContext`] and [`JobError`]: what a handler gets and may return.
//! - [`RunReport`], [`JobOutcome`], [`Outcome`]: what [`Worker::run_once`] did.
//! - [`WorkerEvent`]: the lifecycle events [`Worker::subscribe`] broadcasts.
//!
//! A worker holds each job it runs under a lease that it extends with one batched
//! heartbeat for all its jobs every heartbeat interval. It fences itself: a job whose
//! lease it cannot confirm (a partition, a failing or locked store) is stopped at a
//! local deadline, its last confirmed `lease_until` minus the lease margin, before any
//! other worker may claim it. Every outcome is written under that lease, so a worker
//! that stalled past its lease can never overwrite the work of the worker that took
//! the job over: its late write is refused and dropped.

mod builder;
mod context;
mod events;
mod execute;
mod heartbeat;
mod outcome;
mod retention;
mod run;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

pub use self::builder::{DEFAULT_OUTPUT_LIMIT, WorkerBuilder};
pub use self::context::{IntoJobResult, JobContext, JobError};
pub use self::events::{JobInfo, WorkerEvent};
pub use self::outcome::{JobOutcome, Outcome, RunReport};
pub use self::retention::{RETENTION_LOCK, Retention};
/// Re-exported: the token type of [`JobContext`] and [`WorkerBuilder::shutdown_on`].
pub use tokio_util::sync::CancellationToken;

use self::builder::{ErasedHandler, Settings};
use crate::clock::{Clock, truncate_to_micros};
use crate::error::Error;
use crate::job::{JobRecord, Lease};
use crate::queue::Queue;
use crate::store::ClaimRequest;
use crate::store::JobStore;

/// Runs jobs from a [`JobStore`]: claims them under leases, runs their handlers,
/// heartbeats while they run and records each outcome; cheap to clone.
///
/// Drive it with [`Worker::run`] (or [`Worker::run_until`]) in production, and step by
/// step with [`Worker::run_once`] and [`Worker::heartbeat`] in tests on a
/// `ManualClock`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), leasehold::Error> {
/// use std::sync::Arc;
/// use leasehold::worker::{JobContext, JobError, Worker};
/// use leasehold::{Job, JobState, Queue};
/// use leasehold_memory::MemoryStore;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Resize { width: u32 }
/// impl Job for Resize { const KIND: &'static str = "resize"; }
///
/// async fn resize(job: Resize, ctx: JobContext) -> Result<(), JobError> {
///     if job.width == 0 {
///         return Err(JobError::permanent("width must be positive"));
///     }
///     println!("resizing to {} (attempt {})", job.width, ctx.attempt());
///     Ok(())
/// }
///
/// let queue = Queue::new(Arc::new(MemoryStore::new()));
/// let worker = Worker::builder(&queue)
///     .queue("default", 4)
///     .handler(resize)
///     .build()?;
///
/// let id = queue.enqueue(&Resize { width: 640 }).await?.job.id;
/// let report = worker.run_once().await?;
///
/// assert_eq!(report.completed(), 1);
/// assert_eq!(queue.get(id).await?.map(|job| job.state), Some(JobState::Completed));
///
/// // In production: `worker.run_until(shutdown_signal).await`, which stops claiming
/// // on the signal, lets running jobs finish within the grace period, then releases
/// // what is left.
/// worker.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.inner.settings.id)
            .field("queues", &self.inner.settings.queues)
            .finish_non_exhaustive()
    }
}

/// What a worker and its job tasks share.
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn JobStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: Settings,
    pub(crate) handlers: HashMap<String, ErasedHandler>,
    pub(crate) events: broadcast::Sender<WorkerEvent>,
    /// Keyed by lease, not job: a job this worker re-claims after its own lease
    /// expired is a new entry beside the stale one until that one ends.
    running: Mutex<HashMap<Lease, Running>>,
    running_count: watch::Sender<usize>,
    enqueued: Option<watch::Receiver<u64>>,
    stop: CancellationToken,
    claiming: tokio::sync::Mutex<()>,
    ticker_started: AtomicBool,
}

/// A job this worker runs, from its claim until its outcome is recorded.
pub(crate) struct Running {
    info: JobInfo,
    lease: Lease,
    lease_until: OffsetDateTime,
    token: CancellationToken,
    stop: Option<StopReason>,
    finishing: bool,
}

/// Why the worker stopped a job's handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The lease is no longer ours (or could not be kept): record nothing.
    Lost,
    /// The job was cancelled: record nothing.
    Cancelled,
    /// Shutdown's grace period ran out: give the job back.
    Shutdown,
}

impl Running {
    /// Stops the handler for `reason`, unless its outcome is already being recorded
    /// (then the write itself finds out whether the lease still holds).
    fn stop(&mut self, reason: StopReason) {
        if self.stop.is_none() && !self.finishing {
            self.stop = Some(reason);
            self.token.cancel();
        }
    }
}

/// Removes a job from the running set when its task ends, however it ends.
pub(crate) struct RunningGuard {
    inner: Arc<Inner>,
    lease: Lease,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let mut running = self.inner.running();
        running.remove(&self.lease);
        self.inner.running_count.send_replace(running.len());
    }
}

/// The latest time a store is asked to keep: far beyond any sane backoff.
const FAR_FUTURE: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59 UTC);

/// The span from `now` to `then`, zero when `then` is past.
pub(crate) fn until(then: OffsetDateTime, now: OffsetDateTime) -> Duration {
    Duration::try_from(then - now).unwrap_or(Duration::ZERO)
}

/// `now + d`, in whole microseconds, saturating at [`FAR_FUTURE`].
pub(crate) fn later(now: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| now.checked_add(d))
        .map_or(FAR_FUTURE, |t| truncate_to_micros(t.min(FAR_FUTURE)))
}

impl Inner {
    pub(crate) fn running(&self) -> MutexGuard<'_, HashMap<Lease, Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn emit(&self, event: WorkerEvent) {
        // No subscriber is fine: events are optional.
        let _ = self.events.send(event);
    }

    /// Marks the job's outcome as being recorded; returns why it was stopped, if it was.
    pub(crate) fn begin_finishing(&self, lease: Lease) -> Option<StopReason> {
        let mut running = self.running();
        let entry = running.get_mut(&lease)?;
        entry.finishing = true;
        entry.stop
    }

    fn running_in(&self, queue: &str) -> usize {
        self.running()
            .values()
            .filter(|r| r.info.queue == queue)
            .count()
    }
}

impl Worker {
    /// A builder over `queue`'s store and clock; the worker wakes at once when
    /// `queue` (or a clone) enqueues. The one way to build a worker: a queue is just
    /// a store and a clock (`Queue::with_clock`), and
    /// [`WorkerBuilder::enqueue_signal`] replaces its wake-up signal (with a store's
    /// cross-process one, say).
    pub fn builder(queue: &Queue) -> WorkerBuilder {
        WorkerBuilder::from_queue(queue)
    }

    pub(crate) fn from_parts(
        store: Arc<dyn JobStore>,
        clock: Arc<dyn Clock>,
        settings: Settings,
        handlers: HashMap<String, ErasedHandler>,
        enqueued: Option<watch::Receiver<u64>>,
        stop: CancellationToken,
    ) -> Self {
        let (events, _) = broadcast::channel(settings.event_capacity);
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                settings,
                handlers,
                events,
                running: Mutex::new(HashMap::new()),
                running_count: watch::Sender::new(0),
                enqueued,
                stop,
                claiming: tokio::sync::Mutex::new(()),
                ticker_started: AtomicBool::new(false),
            }),
        }
    }

    /// The name it claims jobs under.
    pub fn id(&self) -> &str {
        &self.inner.settings.id
    }

    /// A receiver of this worker's [`WorkerEvent`]s from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<WorkerEvent> {
        self.inner.events.subscribe()
    }

    /// The token that stops the worker: cancelling it is [`Worker::shutdown`] without
    /// waiting.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    /// How many jobs it runs right now.
    pub fn running(&self) -> usize {
        self.inner.running().len()
    }

    /// One round: claims up to the free slots of each queue (one store call per
    /// queue), runs the claimed jobs and waits until each is recorded; returns what
    /// happened. Claims nothing once the worker is shut down.
    ///
    /// Heartbeats go on in the background meanwhile; tests on a `ManualClock` call
    /// [`Worker::heartbeat`] to extend leases at the times they choose.
    ///
    /// # Errors
    ///
    /// The store's error when no claim succeeded (jobs claimed from other queues
    /// still run to the end first).
    pub async fn run_once(&self) -> Result<RunReport, Error> {
        let started = self.claim_round().await?;
        let mut report = RunReport::default();
        let mut handles = Vec::with_capacity(started.len());
        for (info, handle) in started {
            report.claimed.push(info);
            handles.push(handle);
        }
        for handle in handles {
            match handle.await {
                Ok(outcome) => report.outcomes.push(outcome),
                Err(error) => tracing::error!(%error, "a job task ended abnormally"),
            }
        }
        Ok(report)
    }

    /// Extends the leases of every running job now, in one store call; the worker
    /// does this on its own every heartbeat interval.
    ///
    /// First, any job whose deadline (its last confirmed `lease_until` minus the lease
    /// margin, see [`WorkerBuilder::lease_margin`]) has passed by the clock is stopped
    /// and given up. A lease the store reports lost or cancelled stops that job's
    /// handler and its outcome is dropped. The store call is bounded by the time left
    /// before the first deadline; when it fails or times out, the jobs whose deadline
    /// has passed are stopped the same way (the worker also does this on its own, at
    /// each deadline, whatever its heartbeat call is doing).
    ///
    /// # Errors
    ///
    /// The store's error, or [`StoreError::Busy`](crate::StoreError::Busy) when the
    /// call timed out.
    pub async fn heartbeat(&self) -> Result<(), Error> {
        Ok(self.inner.heartbeat_round().await?)
    }

    /// Claims up to the free slots of each queue and starts the claimed jobs.
    async fn claim_round(&self) -> Result<Vec<(JobInfo, JoinHandle<JobOutcome>)>, Error> {
        let inner = &self.inner;
        let settings = &inner.settings;
        let _claiming = inner.claiming.lock().await;
        let mut started = Vec::new();
        let mut failure = None;
        for (queue, concurrency) in &settings.queues {
            if inner.stop.is_cancelled() {
                break;
            }
            let free = concurrency.saturating_sub(inner.running_in(queue));
            if free == 0 {
                continue;
            }
            let now = inner.clock.now();
            let lease_until = later(now, settings.lease);
            let claimed = inner
                .store
                .claim(
                    ClaimRequest::new(&settings.id, std::slice::from_ref(queue), free, lease_until),
                    now,
                )
                .await;
            match claimed {
                Ok(jobs) => {
                    // A claim that answered after its own deadline (a slow or
                    // partitioned store) must not start its jobs: another worker may
                    // claim them soon. One clock read per claim, not per job.
                    let late = !jobs.is_empty()
                        && heartbeat::deadline(lease_until, settings.margin) <= inner.clock.now();
                    for job in jobs {
                        started.push(self.start(job, lease_until, late));
                    }
                }
                Err(error) => {
                    // Logged here, once, with its queue; `run` does not log it again.
                    if error.is_transient() {
                        tracing::warn!(worker = %settings.id, queue, %error, "claim failed");
                    } else {
                        tracing::error!(
                            worker = %settings.id,
                            queue,
                            %error,
                            "claim failed with an error that needs an operator; backing off"
                        );
                    }
                    failure.get_or_insert(error);
                }
            }
        }
        match failure {
            Some(error) if started.is_empty() => Err(error.into()),
            _ => Ok(started),
        }
    }

    /// Registers a claimed job as running and spawns its task; a job whose claim
    /// answered `late` (past its deadline) is registered stopped and never runs.
    fn start(
        &self,
        job: JobRecord,
        lease_until: OffsetDateTime,
        late: bool,
    ) -> (JobInfo, JoinHandle<JobOutcome>) {
        let inner = &self.inner;
        let info = JobInfo::from(&job);
        let token = CancellationToken::new();
        let lease_until = job.lease_until.unwrap_or(lease_until);
        let stop = if late {
            tracing::warn!(
                job = %info.id,
                %lease_until,
                "the claim answered after the lease deadline: not starting the job; it runs \
                 again once the lease expires"
            );
            token.cancel();
            Some(StopReason::Lost)
        } else {
            None
        };
        {
            let mut running = inner.running();
            running.insert(
                job.lease(),
                Running {
                    info: info.clone(),
                    lease: job.lease(),
                    lease_until,
                    token: token.clone(),
                    stop,
                    finishing: false,
                },
            );
            inner.running_count.send_replace(running.len());
        }
        let guard = RunningGuard {
            inner: Arc::clone(inner),
            lease: job.lease(),
        };
        inner.emit(WorkerEvent::Claimed(info.clone()));
        if !inner.ticker_started.swap(true, Ordering::SeqCst) {
            heartbeat::spawn_ticker(inner);
        }
        let handle = tokio::spawn(execute::run_job(Arc::clone(inner), job, token, guard));
        (info, handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn later_is_exact_to_the_microsecond_and_saturates() {
        let now = datetime!(2000-01-01 0:00 UTC);

        assert_eq!(
            later(now, Duration::from_nanos(1_500_999)),
            datetime!(2000-01-01 0:00:00.001_500 UTC)
        );
        assert_eq!(later(now, Duration::MAX), FAR_FUTURE);
        assert_eq!(later(FAR_FUTURE, Duration::from_secs(1)), FAR_FUTURE);
    }
}
