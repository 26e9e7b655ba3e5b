//! Job and queue metrics through the `metrics` facade (feature `metrics`,
//! on by default): the application installs the exporter it wants (Prometheus,
//! StatsD, OpenTelemetry) and leasehold records into it.
//!
//! [`Metrics`] is a worker [`Layer`] (per job: started, outcomes, run time, pickup
//! delay, running), an [`EnqueueHook`] (jobs enqueued) and, with
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
//!     .layer(metrics.clone())
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
use std::sync::{Arc, PoisonError, RwLock};
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
use crate::worker::{Layer, Next, Outcome};

/// Records leasehold's metrics: add it to a worker with
/// [`WorkerBuilder::layer`](crate::worker::WorkerBuilder::layer), to a queue with
/// [`Queue::with_hook`], and spawn [`Metrics::report_queues`] for the queue gauges.
/// Clones share their handles.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// The handles of each queue's kinds, made once: recording a job then costs a
    /// map lookup and atomic adds, with no label allocated.
    kinds: Arc<RwLock<Kinds<Kinds<Arc<KindMetrics>>>>>,
}

/// A map by queue or kind name, hashed with foldhash: it is read once per job.
type Kinds<T> = HashMap<String, T, foldhash::fast::RandomState>;

/// The handles of one queue and kind.
#[derive(Debug)]
struct KindMetrics {
    enqueued: Counter,
    started: Counter,
    completed: Counter,
    retried: Counter,
    failed: Counter,
    cancelled: Counter,
    snoozed: Counter,
    lease_lost: Counter,
    released: Counter,
    abandoned: Counter,
    run: Histogram,
    pickup: Histogram,
    running: Gauge,
}

impl KindMetrics {
    fn new(queue: &str, kind: &str) -> Self {
        let labels = [("queue", queue.to_owned()), ("kind", kind.to_owned())];
        Self {
            enqueued: counter!("leasehold_jobs_enqueued_total", &labels),
            started: counter!("leasehold_jobs_started_total", &labels),
            completed: counter!("leasehold_jobs_completed_total", &labels),
            retried: counter!("leasehold_jobs_retried_total", &labels),
            failed: counter!("leasehold_jobs_failed_total", &labels),
            cancelled: counter!("leasehold_jobs_cancelled_total", &labels),
            snoozed: counter!("leasehold_jobs_snoozed_total", &labels),
            lease_lost: counter!("leasehold_jobs_lease_lost_total", &labels),
            released: counter!("leasehold_jobs_released_total", &labels),
            abandoned: counter!("leasehold_jobs_abandoned_total", &labels),
            run: histogram!("leasehold_job_run_seconds", &labels),
            pickup: histogram!("leasehold_job_pickup_delay_seconds", &labels),
            running: gauge!("leasehold_jobs_running", &labels),
        }
    }

    fn outcome(&self, outcome: &Outcome) -> &Counter {
        match outcome {
            Outcome::Completed => &self.completed,
            Outcome::Retried { .. } => &self.retried,
            Outcome::Failed { .. } => &self.failed,
            Outcome::Snoozed { .. } => &self.snoozed,
            Outcome::Released => &self.released,
            Outcome::LeaseLost => &self.lease_lost,
            Outcome::Cancelled => &self.cancelled,
            Outcome::Abandoned { .. } => &self.abandoned,
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
            .kinds
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(queue)
            .and_then(|kinds| kinds.get(kind))
            .cloned();
        found.unwrap_or_else(|| {
            let mut kinds = self.kinds.write().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                kinds
                    .entry(queue.to_owned())
                    .or_default()
                    .entry(kind.to_owned())
                    .or_insert_with(|| Arc::new(KindMetrics::new(queue, kind))),
            )
        })
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

#[async_trait::async_trait]
impl Layer for Metrics {
    async fn call(&self, job: &JobRecord, next: Next<'_>) -> Outcome {
        let metrics = self.of(&job.queue, &job.kind);
        metrics.started.increment(1);
        // The attempt started when the claim leased it, at the time the store was
        // told: no clock read here.
        let started_at = job.attempted_at.unwrap_or_else(|| next.now());
        let late = Duration::try_from(started_at - job.run_at).unwrap_or(Duration::ZERO);
        metrics.pickup.record(late.as_secs_f64());
        let started = tokio::time::Instant::now();
        let outcome = {
            let _running = Running::new(&metrics.running);
            next.run().await
        };
        metrics.run.record(started.elapsed().as_secs_f64());
        metrics.outcome(&outcome).increment(1);
        outcome
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

/// One running attempt on a gauge, taken off however the attempt ends (its task
/// aborted included).
struct Running<'a>(&'a Gauge);

impl<'a> Running<'a> {
    fn new(gauge: &'a Gauge) -> Self {
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
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
