//! Job and queue metrics through the `metrics` facade (feature `metrics`,
//! on by default): the application installs the exporter it wants (Prometheus,
//! StatsD, OpenTelemetry) and leasehold records into it.
//!
//! [`Metrics`] is a worker [`JobHook`] (per job: started, outcomes, run time, pickup
//! delay, running; also a [`Layer`], at a layer's cost), an [`EnqueueHook`] (jobs enqueued) and, with
//! [`Metrics::report_queues`], a task that refreshes the gauges of each queue's jobs
//! by state from [`Queue::queue_stats`]. Names follow Prometheus' conventions:
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `leasehold_jobs_enqueued_total` | counter | queue, kind | jobs stored by an enqueue (not duplicates of a held unique key) |
//! | `leasehold_jobs_started_total` | counter | queue, kind | attempts started |
//! | `leasehold_jobs_completed_total` | counter | queue, kind | attempts that completed their job |
//! | `leasehold_jobs_retried_total` | counter | queue, kind | failed attempts whose job runs again |
//! | `leasehold_jobs_failed_total` | counter | queue, kind | jobs that ended `Failed` |
//! | `leasehold_jobs_cancelled_total` | counter | queue, kind | jobs cancelled while they ran |
//! | `leasehold_jobs_snoozed_total` | counter | queue, kind | attempts that snoozed their job |
//! | `leasehold_jobs_lease_lost_total` | counter | queue, kind | attempts stopped because the lease was lost |
//! | `leasehold_jobs_released_total` | counter | queue, kind | jobs given back at shutdown |
//! | `leasehold_jobs_abandoned_total` | counter | queue, kind | outcomes the store never took |
//! | `leasehold_job_run_seconds` | histogram | queue, kind | from the start of an attempt to its recorded outcome |
//! | `leasehold_job_pickup_delay_seconds` | histogram | queue, kind | how late an attempt started: its start (the claim's time, `attempted_at`) minus the job's `run_at` |
//! | `leasehold_jobs_running` | gauge | queue, kind | attempts running in this process |
//! | `leasehold_queue_jobs` | gauge | queue, state | jobs in each state, from the store ([`Metrics::report_queues`]) |
//! | `leasehold_queue_paused` | gauge | queue | 1 while the queue is paused |
//!
//! Install the recorder before the first job runs: a metric's handle is bound to the
//! recorder installed when the metric is first used.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), leasehold::Error> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use leasehold::metrics::Metrics;
//! use leasehold::worker::{CancellationToken, JobContext, Worker};
//! use leasehold::{Job, Queue};
//! use leasehold_memory::MemoryStore;
//! # #[derive(serde::Serialize, serde::Deserialize)]
//! # struct Ping;
//! # impl Job for Ping { const KIND: &'static str = "ping"; }
//!
//! // (Install the exporter's recorder first, e.g. metrics-exporter-prometheus.)
//! let metrics = Metrics::new();
//! let queue = Queue::new(Arc::new(MemoryStore::new())).with_hook(metrics.clone());
//! let worker = Worker::builder(&queue)
//!     .hook(metrics.clone())
//!     .handler(|_: Ping, _: JobContext| async {})
//!     .build()?;
//! let stop = CancellationToken::new();
//! tokio::spawn(metrics.report_queues(queue.clone(), Duration::from_secs(15), stop.clone()));
//!
//! queue.enqueue(Ping).await?;
//! worker.run_once().await?;
//! stop.cancel();
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use ::metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::job::JobRecord;
use crate::queue::{EnqueueHook, Queue};
use crate::store::Enqueued;
use crate::worker::{HookRun, JobHook, Layer, Next, Outcome};

/// Records leasehold's metrics: add it to a worker with
/// [`WorkerBuilder::hook`](crate::worker::WorkerBuilder::hook), to a queue with
/// [`Queue::with_hook`], and spawn [`Metrics::report_queues`] for the queue gauges.
/// Clones share their handles.
///
/// A worker's jobs are tallied per thread and handed to the recorder in batches:
/// within 100 ms of the first job a batch holds, after 256 jobs, before the
/// worker wakes a [`Queue::wait_for`] caller, at the end of
/// [`Worker::run_once`](crate::worker::Worker::run_once), when the worker stops, and
/// on [`Metrics::flush`]. Threads running jobs side by side then do not write the same
/// counters, gauge and histograms for every job (see DESIGN.md).
#[derive(Clone, Default)]
pub struct Metrics {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("shards", &self.shared.shards.len())
            .finish_non_exhaustive()
    }
}

/// What the clones of one [`Metrics`] share.
struct Shared {
    /// The handles of each queue's kinds, made once: recording a job then costs a
    /// map lookup and atomic adds, with no label allocated.
    kinds: RwLock<Kinds<Kinds<Arc<KindMetrics>>>>,
    /// The jobs recorded and not yet handed on, a tally per thread (threads beyond
    /// the shards' number share them).
    shards: Box<[Shard]>,
    /// A timed flush is on its way.
    flush_due: AtomicBool,
}

impl Default for Shared {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            kinds: RwLock::default(),
            shards: (0..threads.max(1) * 4).map(|_| Shard::default()).collect(),
            flush_due: AtomicBool::new(false),
        }
    }
}

/// A map by queue or kind name, hashed with foldhash: it is read once per job.
type Kinds<T> = HashMap<String, T, foldhash::fast::RandomState>;

/// The handles of one queue and kind.
#[derive(Debug)]
struct KindMetrics {
    enqueued: Counter,
    started: Counter,
    /// By [`ended`].
    ended: [Counter; ENDINGS],
    run: Histogram,
    pickup: Histogram,
    running: Gauge,
}

/// How many ways an attempt ends: [`Outcome`]'s variants.
const ENDINGS: usize = 8;

/// The index of `outcome` in [`KindMetrics::ended`] and [`KindTally::ended`].
fn ended(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Completed => 0,
        Outcome::Retried { .. } => 1,
        Outcome::Failed { .. } => 2,
        Outcome::Snoozed { .. } => 3,
        Outcome::Released => 4,
        Outcome::LeaseLost => 5,
        Outcome::Cancelled => 6,
        Outcome::Abandoned { .. } => 7,
    }
}

impl KindMetrics {
    fn new(queue: &str, kind: &str) -> Self {
        let labels = [("queue", queue.to_owned()), ("kind", kind.to_owned())];
        Self {
            enqueued: counter!("leasehold_jobs_enqueued_total", &labels),
            started: counter!("leasehold_jobs_started_total", &labels),
            // In the order of `ended`.
            ended: [
                counter!("leasehold_jobs_completed_total", &labels),
                counter!("leasehold_jobs_retried_total", &labels),
                counter!("leasehold_jobs_failed_total", &labels),
                counter!("leasehold_jobs_snoozed_total", &labels),
                counter!("leasehold_jobs_released_total", &labels),
                counter!("leasehold_jobs_lease_lost_total", &labels),
                counter!("leasehold_jobs_cancelled_total", &labels),
                counter!("leasehold_jobs_abandoned_total", &labels),
            ],
            run: histogram!("leasehold_job_run_seconds", &labels),
            pickup: histogram!("leasehold_job_pickup_delay_seconds", &labels),
            running: gauge!("leasehold_jobs_running", &labels),
        }
    }
}

/// One thread's tally, on a cache line of its own.
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<Tally>);

impl Shard {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a thread recorded since its last flush, by queue and kind.
#[derive(Default)]
struct Tally {
    /// A tally per queue and kind this thread has recorded.
    kinds: Vec<KindTally>,
    /// Where each queue's kinds are in `kinds`.
    index: Kinds<Kinds<usize>>,
    /// The one in `kinds` recorded last: the next job is most often of the same.
    last: usize,
    /// Attempts ended since the last flush.
    ended: usize,
    /// Something is recorded and not yet handed on.
    dirty: bool,
}

impl Tally {
    /// The tally of `queue` and `kind`, made on first use with `handles`.
    fn of(
        &mut self,
        queue: &str,
        kind: &str,
        handles: impl FnOnce() -> Arc<KindMetrics>,
    ) -> &mut KindTally {
        let last = self.kinds.get(self.last);
        if !last.is_some_and(|last| last.kind == kind && last.queue == queue) {
            self.last = match self.index.get(queue).and_then(|kinds| kinds.get(kind)) {
                Some(&at) => at,
                None => {
                    let at = self.kinds.len();
                    self.kinds.push(KindTally::new(queue, kind, handles()));
                    let kinds = self.index.entry(queue.to_owned()).or_default();
                    kinds.insert(kind.to_owned(), at);
                    at
                }
            };
        }
        &mut self.kinds[self.last]
    }

    /// Hands everything on to the recorder.
    fn flush(&mut self) {
        for tally in &mut self.kinds {
            tally.flush();
        }
        self.ended = 0;
        self.dirty = false;
    }
}

/// One queue and kind's counts and samples, not yet handed on.
struct KindTally {
    queue: String,
    kind: String,
    handles: Arc<KindMetrics>,
    started: u64,
    ended: [u64; ENDINGS],
    /// Attempts started less those ended: may be negative in one thread's tally
    /// when an attempt started on another thread.
    running: i64,
    run: Vec<f64>,
    pickup: Vec<f64>,
}

impl KindTally {
    fn new(queue: &str, kind: &str, handles: Arc<KindMetrics>) -> Self {
        Self {
            queue: queue.to_owned(),
            kind: kind.to_owned(),
            handles,
            started: 0,
            ended: [0; ENDINGS],
            running: 0,
            run: Vec::new(),
            pickup: Vec::new(),
        }
    }

    fn flush(&mut self) {
        let handles = &self.handles;
        if self.started > 0 {
            handles.started.increment(std::mem::take(&mut self.started));
        }
        for (counter, ended) in handles.ended.iter().zip(&mut self.ended) {
            if *ended > 0 {
                counter.increment(std::mem::take(ended));
            }
        }
        // A gauge is an f64: exact up to 2^53 attempts.
        match std::mem::take(&mut self.running) {
            0 => {}
            up if up > 0 => handles.running.increment(up as f64),
            down => handles.running.decrement(down.unsigned_abs() as f64),
        }
        for seconds in self.run.drain(..) {
            handles.run.record(seconds);
        }
        for seconds in self.pickup.drain(..) {
            handles.pickup.record(seconds);
        }
    }
}

/// How soon a tally is handed on after its first job, when nothing else flushes it.
const FLUSH_WITHIN: Duration = Duration::from_millis(100);

/// A tally is handed on at once when it holds this many ended attempts.
const FLUSH_AFTER: usize = 256;

/// The shard of the current thread: threads take the next shard in turn.
fn shard_index(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SHARD.with(|shard| *shard % shards)
}

impl Shared {
    /// Hands every thread's tally on to the recorder.
    fn flush(&self) {
        for shard in &self.shards {
            let mut tally = shard.lock();
            if tally.dirty {
                tally.flush();
            }
        }
    }
}

/// A timed flush: hands every tally on when dropped, after its sleep or with its
/// runtime, so a flush is never left due with no one to do it.
struct TimedFlush(Weak<Shared>);

impl Drop for TimedFlush {
    fn drop(&mut self) {
        if let Some(shared) = self.0.upgrade() {
            shared.flush_due.store(false, Ordering::Release);
            shared.flush();
        }
    }
}

impl Metrics {
    /// Metrics with no handle made yet; describes every metric (help text, unit) to
    /// the recorder installed now.
    pub fn new() -> Self {
        describe();
        Self::default()
    }

    /// The handles of `queue` and `kind`, made on first use.
    fn of(&self, queue: &str, kind: &str) -> Arc<KindMetrics> {
        let found = self
            .shared
            .kinds
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(queue)
            .and_then(|kinds| kinds.get(kind))
            .cloned();
        found.unwrap_or_else(|| {
            let mut kinds = self
                .shared
                .kinds
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                kinds
                    .entry(queue.to_owned())
                    .or_default()
                    .entry(kind.to_owned())
                    .or_insert_with(|| Arc::new(KindMetrics::new(queue, kind))),
            )
        })
    }

    /// Hands what every thread has tallied on to the recorder now. A worker does
    /// this by itself (see [`Metrics`]); call it before reading the recorder when
    /// nothing else did, e.g. after a job ran outside a worker.
    pub fn flush(&self) {
        self.shared.flush();
    }

    /// Records into this thread's tally of `queue` and `kind`; `ended` counts an
    /// attempt's end toward the flush after [`FLUSH_AFTER`].
    fn tally(&self, queue: &str, kind: &str, ended: bool, record: impl FnOnce(&mut KindTally)) {
        let shards = &self.shared.shards;
        let mut tally = shards[shard_index(shards.len())].lock();
        record(tally.of(queue, kind, || self.of(queue, kind)));
        tally.ended += usize::from(ended);
        if tally.ended >= FLUSH_AFTER {
            tally.flush();
        } else if !tally.dirty {
            tally.dirty = true;
            drop(tally);
            self.flush_soon();
        }
    }

    /// Flushes every tally within [`FLUSH_WITHIN`], unless a timed flush is already
    /// on its way; at once outside a Tokio runtime.
    fn flush_soon(&self) {
        let due = &self.shared.flush_due;
        if due.load(Ordering::Acquire) || due.swap(true, Ordering::AcqRel) {
            return;
        }
        let flush = TimedFlush(Arc::downgrade(&self.shared));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(async move {
                let _flush = flush;
                tokio::time::sleep(FLUSH_WITHIN).await;
            })),
            Err(_) => drop(flush),
        }
    }

    /// Sets the gauges `leasehold_queue_jobs{queue, state}` and
    /// `leasehold_queue_paused{queue}` from one [`Queue::queue_stats`] call.
    ///
    /// # Errors
    ///
    /// The store's error; the gauges keep their last values then.
    pub async fn refresh_queues(&self, queue: &Queue) -> Result<(), Error> {
        for stats in queue.queue_stats().await? {
            let states = [
                ("scheduled", stats.scheduled),
                ("available", stats.available),
                ("running", stats.running),
                ("completed", stats.completed),
                ("failed", stats.failed),
                ("cancelled", stats.cancelled),
            ];
            for (state, jobs) in states {
                let labels = [("queue", stats.queue.clone()), ("state", state.to_owned())];
                // A gauge is an f64: exact up to 2^53 jobs.
                gauge!("leasehold_queue_jobs", &labels).set(jobs as f64);
            }
            let paused = if stats.paused { 1.0 } else { 0.0 };
            gauge!("leasehold_queue_paused", "queue" => stats.queue).set(paused);
        }
        Ok(())
    }

    /// [`Metrics::refresh_queues`] now and then every `every`, until `stop` is
    /// cancelled. A failing store call is logged and tried again at the next tick.
    pub async fn report_queues(self, queue: Queue, every: Duration, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if let Err(error) = self.refresh_queues(&queue).await {
                tracing::warn!(%error, "queue metrics: the queue stats could not be read");
            }
        }
    }
}

impl JobHook for Metrics {
    fn before(&self, job: &JobRecord) {
        // The attempt started when the claim leased it, at the time the store was
        // told: no clock read here.
        let started_at = job.attempted_at.unwrap_or(job.run_at);
        let late = Duration::try_from(started_at - job.run_at).unwrap_or(Duration::ZERO);
        self.tally(&job.queue, &job.kind, false, |tally| {
            tally.started += 1;
            tally.running += 1;
            tally.pickup.push(late.as_secs_f64());
        });
    }

    fn after(&self, job: &JobRecord, outcome: &Outcome, ran: Duration) {
        self.tally(&job.queue, &job.kind, true, |tally| {
            tally.running -= 1;
            tally.run.push(ran.as_secs_f64());
            tally.ended[ended(outcome)] += 1;
        });
    }

    fn flush(&self) {
        Metrics::flush(self);
    }
}

/// The same records as the [`JobHook`], for a worker that adds `Metrics` with
/// [`WorkerBuilder::layer`](crate::worker::WorkerBuilder::layer); as a hook
/// ([`WorkerBuilder::hook`](crate::worker::WorkerBuilder::hook)) it costs less.
#[async_trait::async_trait]
impl Layer for Metrics {
    async fn call(&self, job: &JobRecord, next: Next<'_>) -> Outcome {
        let run = HookRun::begin(std::slice::from_ref(self), job);
        let outcome = next.run().await;
        if let Some(run) = run {
            run.end(&outcome);
        }
        outcome
    }

    fn flush(&self) {
        Metrics::flush(self);
    }
}

/// Describes every metric to the installed recorder.
fn describe() {
    let counters = [
        (
            "enqueued",
            "jobs stored by an enqueue (not duplicates of a held unique key)",
        ),
        ("started", "attempts started"),
        ("completed", "attempts that completed their job"),
        ("retried", "failed attempts whose job runs again"),
        ("failed", "jobs that ended Failed"),
        ("cancelled", "jobs cancelled while they ran"),
        ("snoozed", "attempts that snoozed their job"),
        (
            "lease_lost",
            "attempts stopped because their lease was lost",
        ),
        ("released", "jobs given back at shutdown"),
        ("abandoned", "outcomes the store never took"),
    ];
    for (name, help) in counters {
        describe_counter!(format!("leasehold_jobs_{name}_total"), help);
    }
    describe_histogram!(
        "leasehold_job_run_seconds",
        Unit::Seconds,
        "from the start of an attempt to its recorded outcome"
    );
    describe_histogram!(
        "leasehold_job_pickup_delay_seconds",
        Unit::Seconds,
        "how late an attempt started: its start minus the job's run_at"
    );
    describe_gauge!("leasehold_jobs_running", "attempts running in this process");
    describe_gauge!("leasehold_queue_jobs", "jobs in each state, from the store");
    describe_gauge!("leasehold_queue_paused", "1 while the queue is paused");
}

impl EnqueueHook for Metrics {
    fn after(&self, enqueued: &[Enqueued]) {
        for stored in enqueued.iter().filter(|e| !e.duplicate) {
            self.of(&stored.job.queue, &stored.job.kind)
                .enqueued
                .increment(1);
        }
    }
}
