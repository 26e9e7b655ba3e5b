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
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, RwLock, Weak};
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
/// within 100 ms of the first job a batch holds, after 256 jobs (by a thread of its
/// own, `leasehold-metrics`, started on first use: the recorder's work is then not
/// done on the threads running jobs), before the worker wakes a
/// [`Queue::wait_for`] caller, at the end of
/// [`Worker::run_once`](crate::worker::Worker::run_once), when the worker stops, and
/// on [`Metrics::flush`], which returns once everything recorded before it is handed
/// on. Threads running jobs side by side then do not write the same counters, gauge
/// and histograms for every job (see DESIGN.md).
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
    /// Full tallies that job threads took out of their shards, for the exporter
    /// thread ([`export`]) to hand on.
    handed_off: Mutex<Vec<Counts>>,
    /// Signalled when `handed_off` gains some.
    handed_off_ready: Condvar,
    /// Held while tallies are handed on to the recorder, by the exporter thread or
    /// by a flush: a flush that takes it finds every tally either handed on or its own.
    exporting: Mutex<()>,
    /// Whether the exporter thread was started (or could not be: then job threads
    /// hand their tallies on themselves).
    exporter: OnceLock<bool>,
}

impl Default for Shared {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            kinds: RwLock::default(),
            shards: (0..threads.max(1) * 4).map(|_| Shard::default()).collect(),
            flush_due: AtomicBool::new(false),
            handed_off: Mutex::default(),
            handed_off_ready: Condvar::new(),
            exporting: Mutex::default(),
            exporter: OnceLock::new(),
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

    /// Everything recorded, taken out for handing on; the tally starts afresh.
    fn take(&mut self) -> Vec<Counts> {
        self.ended = 0;
        self.dirty = false;
        self.kinds.iter_mut().map(KindTally::take).collect()
    }
}

/// One queue and kind's tally in a thread.
struct KindTally {
    queue: String,
    kind: String,
    counts: Counts,
}

impl KindTally {
    fn new(queue: &str, kind: &str, handles: Arc<KindMetrics>) -> Self {
        Self {
            queue: queue.to_owned(),
            kind: kind.to_owned(),
            counts: Counts::none(handles, 0),
        }
    }

    /// What this tally holds, taken out; it starts afresh, with room for as many
    /// samples as it held.
    fn take(&mut self) -> Counts {
        let fresh = Counts::none(Arc::clone(&self.counts.handles), self.counts.run.len());
        std::mem::replace(&mut self.counts, fresh)
    }
}

/// One queue and kind's counts and samples, not yet handed on: a thread's tally's,
/// or taken out of it to hand on.
struct Counts {
    handles: Arc<KindMetrics>,
    started: u64,
    ended: [u64; ENDINGS],
    /// Attempts started less those ended: may be negative in one thread's tally
    /// when an attempt started on another thread.
    running: i64,
    run: Vec<f64>,
    pickup: Vec<f64>,
}

impl Counts {
    /// Nothing yet, with room for `samples` of each histogram.
    fn none(handles: Arc<KindMetrics>, samples: usize) -> Self {
        Self {
            handles,
            started: 0,
            ended: [0; ENDINGS],
            running: 0,
            run: Vec::with_capacity(samples),
            pickup: Vec::with_capacity(samples),
        }
    }

    /// Hands the counts and samples on to the recorder.
    fn hand_on(self) {
        let handles = &self.handles;
        if self.started > 0 {
            handles.started.increment(self.started);
        }
        for (counter, &ended) in handles.ended.iter().zip(&self.ended) {
            if ended > 0 {
                counter.increment(ended);
            }
        }
        // A gauge is an f64: exact up to 2^53 attempts.
        match self.running {
            0 => {}
            up if up > 0 => handles.running.increment(up as f64),
            down => handles.running.decrement(down.unsigned_abs() as f64),
        }
        for &seconds in &self.run {
            handles.run.record(seconds);
        }
        for &seconds in &self.pickup {
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
    /// Hands every thread's tally, and every tally handed off and not yet handed on,
    /// on to the recorder before it returns.
    fn flush(&self) {
        let _exporting = self.exporting();
        self.hand_on_handed_off();
        for shard in &self.shards {
            let taken = {
                let mut tally = shard.lock();
                if !tally.dirty {
                    continue;
                }
                tally.take()
            };
            taken.into_iter().for_each(Counts::hand_on);
        }
    }

    /// The lock held while tallies are handed on to the recorder.
    fn exporting(&self) -> std::sync::MutexGuard<'_, ()> {
        self.exporting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands on every tally handed off; the caller holds [`Shared::exporting`].
    fn hand_on_handed_off(&self) {
        let taken = std::mem::take(&mut *self.handed_off());
        taken.into_iter().for_each(Counts::hand_on);
    }

    fn handed_off(&self) -> std::sync::MutexGuard<'_, Vec<Counts>> {
        self.handed_off
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives `taken` to the exporter thread (started on first use); hands it on at
    /// once where no thread could be started.
    fn hand_off(self: &Arc<Self>, taken: Vec<Counts>) {
        let started = *self.exporter.get_or_init(|| {
            let shared = Arc::downgrade(self);
            std::thread::Builder::new()
                .name("leasehold-metrics".into())
                .spawn(move || export(&shared))
                .is_ok()
        });
        if !started {
            let _exporting = self.exporting();
            taken.into_iter().for_each(Counts::hand_on);
            return;
        }
        self.handed_off().extend(taken);
        self.handed_off_ready.notify_one();
    }
}

/// The exporter thread: hands on the tallies job threads hand off, so that the
/// recorder's work per sample (a clock read and a push into its bucket, for each
/// histogram sample) is not done on the threads that run jobs. Ends once every
/// handle of its [`Metrics`] is dropped.
fn export(shared: &Weak<Shared>) {
    /// How often an idle exporter checks that its `Metrics` still exist.
    const IDLE_CHECK: Duration = Duration::from_secs(1);
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        {
            let mut handed_off = shared.handed_off();
            if handed_off.is_empty() {
                handed_off = shared
                    .handed_off_ready
                    .wait_timeout(handed_off, IDLE_CHECK)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if handed_off.is_empty() {
                continue;
            }
        }
        let _exporting = shared.exporting();
        shared.hand_on_handed_off();
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
    fn tally(&self, queue: &str, kind: &str, ended: bool, record: impl FnOnce(&mut Counts)) {
        let shards = &self.shared.shards;
        let mut tally = shards[shard_index(shards.len())].lock();
        record(&mut tally.of(queue, kind, || self.of(queue, kind)).counts);
        tally.ended += usize::from(ended);
        if tally.ended >= FLUSH_AFTER {
            let taken = tally.take();
            drop(tally);
            self.shared.hand_off(taken);
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

#[cfg(test)]
mod tests {
    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

    use super::*;
    use crate::NewJob;
    use crate::testing::conformance::t;

    /// A one-thread runtime. Kept until the test's end and not driven after
    /// [`run_jobs`], it never runs the timed flush `Metrics` spawns on it (which would
    /// also run when the runtime drops).
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Runs `jobs` attempts of one job through `metrics`' hook on `runtime`, recording
    /// into `recorder`.
    fn run_jobs(
        runtime: &tokio::runtime::Runtime,
        metrics: &Metrics,
        recorder: &PrometheusRecorder,
        jobs: usize,
    ) {
        let job = JobRecord::from_new(
            &NewJob::new("k", serde_json::json!({}), t(0)).unwrap(),
            t(0),
        );
        runtime.block_on(async {
            ::metrics::with_local_recorder(recorder, || {
                for _ in 0..jobs {
                    JobHook::before(metrics, &job);
                    JobHook::after(metrics, &job, &Outcome::Completed, Duration::from_millis(1));
                }
            });
        });
    }

    /// What `recorder` reads for the completed counter of the test's job.
    fn completed(recorder: &PrometheusRecorder) -> f64 {
        let line = r#"leasehold_jobs_completed_total{queue="default",kind="k"} "#;
        recorder
            .handle()
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(line)?.parse().ok())
            .unwrap_or(0.0)
    }

    #[test]
    fn a_flush_hands_on_what_job_threads_handed_off_before_it_returns() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let metrics = Metrics::default();
        // An exporter thread that never runs: what is handed off waits for a flush.
        metrics.shared.exporter.set(true).unwrap();
        let runtime = runtime();

        run_jobs(&runtime, &metrics, &recorder, FLUSH_AFTER + 44);
        let handed_off = metrics.shared.handed_off().len();
        let before = completed(&recorder);
        metrics.flush();

        assert_eq!(handed_off, 1, "the first {FLUSH_AFTER} were handed off");
        assert_eq!(before, 0.0, "nothing reached the recorder before the flush");
        assert_eq!(completed(&recorder), (FLUSH_AFTER + 44) as f64);
    }

    #[test]
    fn the_exporter_thread_hands_on_a_full_tally_with_no_one_flushing() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let metrics = Metrics::default();
        let runtime = runtime();

        run_jobs(&runtime, &metrics, &recorder, FLUSH_AFTER);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while completed(&recorder) < FLUSH_AFTER as f64 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }

        assert_eq!(completed(&recorder), FLUSH_AFTER as f64);
        assert_eq!(
            metrics.shared.exporter.get(),
            Some(&true),
            "a thread was started"
        );
    }
}
