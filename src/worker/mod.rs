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
mod claim;
mod context;
mod events;
mod execute;
mod heartbeat;
mod held;
mod layer;
mod outcome;
mod retention;
mod run;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast, watch};

pub use self::builder::{DEFAULT_CLAIM_AHEAD, DEFAULT_OUTPUT_LIMIT, WorkerBuilder};
pub use self::context::{IntoJobResult, JobContext, JobError};
pub use self::events::{JobInfo, WorkerEvent};
#[cfg(feature = "metrics")]
pub(crate) use self::layer::HookRun;
pub use self::layer::{JobHook, Layer, Next, TracingLayer};
#[cfg(feature = "opentelemetry")]
pub(crate) use self::layer::{job_span, logged_in};
pub use self::outcome::{JobOutcome, Outcome, RunReport};
pub use self::retention::{RETENTION_LOCK, Retention};
/// Re-exported: the token type of [`JobContext`] and [`WorkerBuilder::shutdown_on`].
pub use tokio_util::sync::CancellationToken;

#[cfg(feature = "testing")]
pub(crate) use self::builder::decode_job;
use self::builder::{ErasedHandler, Parts, Settings};
pub(crate) use self::context::Shared;
#[cfg(feature = "testing")]
pub(crate) use self::context::{Data, OutputSlot};
use self::held::Held;
use crate::clock::{Clock, truncate_to_micros};
use crate::error::Error;
use crate::job::Lease;
use crate::queue::Queue;
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
    /// Around every job, outermost first (inside the built-in span).
    pub(crate) layers: Vec<Arc<dyn Layer>>,
    /// Whether every job runs in the built-in span ([`TracingLayer`]), outermost.
    pub(crate) tracing_span: bool,
    /// Before and after every job, outside the layers.
    pub(crate) hooks: Vec<Arc<dyn JobHook>>,
    /// What every job's context shares: the queue and the worker's data.
    pub(crate) shared: Arc<Shared>,
    pub(crate) events: broadcast::Sender<WorkerEvent>,
    /// Whether anyone ever subscribed to `events`: until then a job asks no lock
    /// whether anyone listens (the channel's receiver count sits behind its lock).
    subscribed: AtomicBool,
    /// Keyed by lease, not job: a job this worker re-claims after its own lease
    /// expired is a new entry beside the stale one until that one ends.
    held: Mutex<Held>,
    /// Whether no job is held: sent only when that changes (a job's end writes
    /// nothing shared beyond the held lock unless it was the last).
    pub(crate) holds_none: watch::Sender<bool>,
    /// A slot of a full queue freed with nothing buffered, or a buffer ran low: the
    /// run loop claims again.
    wanted: Notify,
    enqueued: Vec<watch::Receiver<u64>>,
    stop: CancellationToken,
    claiming: tokio::sync::Mutex<()>,
    ticker_started: AtomicBool,
}

/// Removes a started job from what the worker holds when its task ends, however it
/// ends.
pub(crate) struct RunningGuard {
    inner: Arc<Inner>,
    lease: Lease,
    /// Cleared once [`Inner::finish_at_once`] removed the job: nothing is left to do.
    armed: bool,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if self.armed {
            self.inner.forget(&mut self.inner.held(), self.lease);
        }
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
    pub(crate) fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// [`Layer::flush`] on every layer, [`JobHook::flush`] on every hook.
    pub(crate) fn flush_layers_and_hooks(&self) {
        for layer in &self.layers {
            layer.flush();
        }
        for hook in &self.hooks {
            hook.flush();
        }
    }

    /// Forgets the started job under `lease`, whose run has ended; frees its slot if
    /// its handler never reported done (a run that ended abnormally).
    pub(crate) fn forget(&self, held: &mut Held, lease: Lease) {
        if let Some(queue) = held.remove(lease) {
            self.slot_freed(held, queue, false);
        }
        self.publish_holds_none(held);
    }

    /// Publishes whether `held` holds no job, when that changed since it last did:
    /// most calls touch nothing outside the held lock (a watch's send takes its
    /// lock, and that lock's cache line is shared by every runtime thread).
    pub(crate) fn publish_holds_none(&self, held: &mut Held) {
        let none = held.jobs.is_empty();
        if none != held.published_none {
            held.published_none = none;
            self.holds_none.send_replace(none);
        }
    }

    /// Whether anyone listens to this worker's events.
    pub(crate) fn has_subscribers(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed) && self.events.receiver_count() > 0
    }

    /// Sends the event `event` builds, built only when someone subscribes.
    pub(crate) fn emit(&self, event: impl FnOnce() -> WorkerEvent) {
        if self.has_subscribers() {
            // A subscriber that left meanwhile is fine: events are optional.
            let _ = self.events.send(event());
        }
    }
}

impl Worker {
    /// A builder over `queue`'s store and clock; the worker wakes at once when
    /// `queue` (or a clone) enqueues. The one way to build a worker: a queue is just
    /// a store and a clock (`Queue::with_clock`), and
    /// [`WorkerBuilder::enqueue_signal`] adds a wake-up signal (a store's
    /// cross-process one, say).
    pub fn builder(queue: &Queue) -> WorkerBuilder {
        WorkerBuilder::from_queue(queue)
    }

    pub(crate) fn from_parts(parts: Parts) -> Self {
        let Parts {
            queue,
            settings,
            handlers,
            layers,
            tracing_span,
            hooks,
            data,
            enqueued,
            stop,
        } = parts;
        let store = queue.store().clone();
        let clock = queue.clock().clone();
        let shared = Arc::new(Shared { queue, data });
        let (events, _) = broadcast::channel(settings.event_capacity);
        let held = Mutex::new(Held::new(settings.queues.len()));
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                settings,
                handlers,
                layers,
                tracing_span,
                hooks,
                shared,
                events,
                held,
                holds_none: watch::Sender::new(true),
                wanted: Notify::new(),
                enqueued,
                stop,
                claiming: tokio::sync::Mutex::new(()),
                ticker_started: AtomicBool::new(false),
                subscribed: AtomicBool::new(false),
            }),
        }
    }

    /// The name it claims jobs under.
    pub fn id(&self) -> &str {
        &self.inner.settings.id
    }

    /// A receiver of this worker's [`WorkerEvent`]s from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<WorkerEvent> {
        let events = self.inner.events.subscribe();
        self.inner.subscribed.store(true, Ordering::Relaxed);
        events
    }

    /// The token that stops the worker: cancelling it is [`Worker::shutdown`] without
    /// waiting.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    /// How many jobs it runs right now, counting those whose outcome is being
    /// recorded but not those claimed ahead and waiting for a slot.
    pub fn running(&self) -> usize {
        self.inner.held().started()
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
        let round = self.inner.claim_round(false).await?;
        let mut report = RunReport::default();
        let mut handles = Vec::with_capacity(round.started.len());
        for (info, handle) in round.started {
            report.claimed.push(info);
            handles.push(handle);
        }
        for handle in handles {
            match handle.await {
                Ok(outcome) => report.outcomes.push(outcome),
                Err(error) => tracing::error!(%error, "a job task ended abnormally"),
            }
        }
        self.inner.flush_layers_and_hooks();
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
