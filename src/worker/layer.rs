//! Middleware around every job a worker runs ([`Layer`], [`Next`]) and the built-in
//! one that puts each job in a tracing span ([`TracingLayer`]).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use time::OffsetDateTime;
use tracing::Instrument;

use super::outcome::Outcome;
use crate::clock::Clock;
use crate::job::JobRecord;

/// Middleware around every job a worker runs: it sees the job before its handler
/// starts and the recorded [`Outcome`] after, and may wrap what runs in between (a
/// tracing span, a timer, a semaphore).
///
/// A layer calls [`Next::run`] once and returns what it returns: `next` runs the
/// layers inside this one, then the handler, then the write of its outcome under the
/// job's lease. Layers run in the order they were added, the first outermost; the
/// built-in span ([`TracingLayer`]'s) is outside all of them unless turned off with
/// [`WorkerBuilder::tracing_span`](super::WorkerBuilder::tracing_span).
///
/// The outcome a layer sees is what the store recorded: a retryable error on the
/// last attempt is [`Outcome::Failed`], and a job whose lease was lost is
/// [`Outcome::LeaseLost`] whatever its handler returned.
///
/// ```
/// use std::time::Instant;
///
/// use leasehold::JobRecord;
/// use leasehold::async_trait;
/// use leasehold::worker::{Layer, Next, Outcome};
///
/// /// Prints each job's outcome and how long it took.
/// struct Timing;
///
/// #[async_trait]
/// impl Layer for Timing {
///     async fn call(&self, job: &JobRecord, next: Next<'_>) -> Outcome {
///         let started = Instant::now();
///         let outcome = next.run().await;
///         println!("{} {}: {outcome:?} in {:?}", job.kind, job.id, started.elapsed());
///         outcome
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Layer: Send + Sync + 'static {
    /// Runs the job through `next` and returns its outcome.
    async fn call(&self, job: &JobRecord, next: Next<'_>) -> Outcome;

    /// Hands on at once whatever this layer holds back to record in batches (as
    /// [`Metrics`](crate::metrics::Metrics) does). The worker calls it before it
    /// wakes a [`Queue::wait_for`](crate::Queue::wait_for) caller, at the end of
    /// [`Worker::run_once`](super::Worker::run_once) and when it has stopped, so what
    /// a finished job recorded is visible then. Does nothing by default.
    fn flush(&self) {}
}

/// Synchronous hooks around every job a worker runs: [`JobHook::before`] as its
/// attempt starts, [`JobHook::after`] with the recorded [`Outcome`] and how long the
/// attempt took. Cheaper than a [`Layer`] (no future per job, one clock read pair for
/// all hooks) for code that only observes, such as
/// [`Metrics`](crate::metrics::Metrics); a [`Layer`] is for code that must wrap the
/// run (a span, a semaphore, a timeout of its own).
///
/// Hooks run outside every layer, in the order added. An attempt whose task is
/// dropped before its outcome is recorded (its runtime shutting down) gets `after`
/// with [`Outcome::Abandoned`].
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::Duration;
///
/// use leasehold::JobRecord;
/// use leasehold::worker::{JobHook, Outcome};
///
/// /// Counts completed jobs.
/// #[derive(Default)]
/// struct Completed(AtomicU64);
///
/// impl JobHook for Completed {
///     fn after(&self, _job: &JobRecord, outcome: &Outcome, _ran: Duration) {
///         if *outcome == Outcome::Completed {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
/// ```
pub trait JobHook: Send + Sync + 'static {
    /// The attempt of `job` starts: its handler (behind the layers) runs next.
    fn before(&self, job: &JobRecord) {
        let _ = job;
    }

    /// The attempt of `job` ended with `outcome`, as recorded, `ran` after it
    /// started (layers, handler and the write of its outcome).
    fn after(&self, job: &JobRecord, outcome: &Outcome, ran: Duration) {
        let _ = (job, outcome, ran);
    }

    /// As [`Layer::flush`]: hands on at once whatever this hook batches.
    fn flush(&self) {}
}

/// A shared hook is a hook: what lets the worker's `Arc<dyn JobHook>`s and a plain
/// hook share one runner.
impl<H: JobHook + ?Sized> JobHook for Arc<H> {
    fn before(&self, job: &JobRecord) {
        (**self).before(job);
    }

    fn after(&self, job: &JobRecord, outcome: &Outcome, ran: Duration) {
        (**self).after(job, outcome, ran);
    }

    fn flush(&self) {
        (**self).flush();
    }
}

/// The hooks of one attempt, begun: ends them with the outcome, or with
/// [`Outcome::Abandoned`] when dropped first.
pub(crate) struct HookRun<'a, H: JobHook> {
    hooks: &'a [H],
    job: &'a JobRecord,
    started: tokio::time::Instant,
    ended: bool,
}

impl<'a, H: JobHook> HookRun<'a, H> {
    /// Calls every hook's `before`; `None` when there is none.
    pub(crate) fn begin(hooks: &'a [H], job: &'a JobRecord) -> Option<Self> {
        if hooks.is_empty() {
            return None;
        }
        for hook in hooks {
            hook.before(job);
        }
        Some(Self {
            hooks,
            job,
            started: tokio::time::Instant::now(),
            ended: false,
        })
    }

    /// Calls every hook's `after` with `outcome`.
    pub(crate) fn end(mut self, outcome: &Outcome) {
        self.ended = true;
        self.after(outcome);
    }

    fn after(&self, outcome: &Outcome) {
        let ran = self.started.elapsed();
        for hook in self.hooks {
            hook.after(self.job, outcome, ran);
        }
    }
}

impl<H: JobHook> Drop for HookRun<'_, H> {
    fn drop(&mut self) {
        if !self.ended {
            self.after(&Outcome::Abandoned {
                error: "the job's task was dropped before its outcome was recorded".into(),
            });
        }
    }
}

/// The rest of a job's run, handed to a [`Layer`]: the layers inside it, the handler
/// and the write of its outcome.
pub struct Next<'a> {
    job: &'a JobRecord,
    layers: &'a [Arc<dyn Layer>],
    clock: &'a dyn Clock,
    end: BoxFuture<'a, Outcome>,
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("job", &self.job.id)
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Next<'a> {
    /// `end` (the handler and its write) for `job`, behind `layers`, outermost first,
    /// on the worker's `clock`.
    pub(crate) fn new(
        job: &'a JobRecord,
        layers: &'a [Arc<dyn Layer>],
        clock: &'a dyn Clock,
        end: BoxFuture<'a, Outcome>,
    ) -> Self {
        Self {
            job,
            layers,
            clock,
            end,
        }
    }

    /// The time by the worker's clock (a `ManualClock` in tests): how late the job
    /// starts is `next.now() - job.run_at`.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Runs the rest: the next layer, or the handler and the write of its outcome.
    pub async fn run(self) -> Outcome {
        match self.layers.split_first() {
            None => self.end.await,
            Some((layer, inner)) => {
                let next = Next {
                    job: self.job,
                    layers: inner,
                    clock: self.clock,
                    end: self.end,
                };
                layer.call(self.job, next).await
            }
        }
    }
}

/// The built-in span as a layer: each job runs in a `leasehold.job` span (fields
/// `kind`, `id`, `attempt`, `queue`), inside which its outcome is logged: `debug` when
/// it completed or snoozed, `warn` when it will be retried or lost its lease, `error`
/// when it failed or could not be recorded.
///
/// A worker puts this span around every job itself, outside all its layers and
/// without a boxed future per job, unless
/// [`WorkerBuilder::tracing_span`](super::WorkerBuilder::tracing_span) turns it off.
/// Add this layer to such a worker to put the span elsewhere among its layers.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLayer;

#[async_trait::async_trait]
impl Layer for TracingLayer {
    async fn call(&self, job: &JobRecord, next: Next<'_>) -> Outcome {
        logged_in(job_span(job), next.run()).await
    }
}

/// `run` in `span`, logging its outcome there, as [`TracingLayer`] documents. Not an
/// `async fn`: the future it returns holds `run` itself, not a second future that
/// `run` is moved into (a job's run is large, and moved once more per job).
pub(crate) fn logged_in<F: Future<Output = Outcome>>(
    span: tracing::Span,
    run: F,
) -> tracing::instrument::Instrumented<impl Future<Output = Outcome>> {
    async move {
        let outcome = run.await;
        log_outcome(&outcome);
        outcome
    }
    .instrument(span)
}

/// The `leasehold.job` span of `job`, with the fields [`TracingLayer`] documents.
pub(crate) fn job_span(job: &JobRecord) -> tracing::Span {
    tracing::info_span!(
        "leasehold.job",
        kind = %job.kind,
        id = %job.id,
        attempt = job.attempt,
        queue = %job.queue,
    )
}

/// Logs `outcome` in the current span, at the level [`TracingLayer`] documents.
fn log_outcome(outcome: &Outcome) {
    match outcome {
        Outcome::Completed => tracing::debug!("job completed"),
        Outcome::Retried { delay, error, .. } => {
            tracing::warn!(%error, ?delay, "job failed; retrying");
        }
        Outcome::Failed { error } => tracing::error!(%error, "job failed"),
        Outcome::Snoozed { run_at } => tracing::debug!(%run_at, "job snoozed"),
        Outcome::Released => tracing::info!("job released on shutdown"),
        Outcome::LeaseLost => {
            tracing::warn!("lease lost: the outcome is dropped");
        }
        Outcome::Cancelled => tracing::info!("job cancelled while running"),
        Outcome::Abandoned { error } => {
            tracing::error!(%error, "the outcome could not be recorded: job abandoned");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use time::macros::datetime;

    use super::*;
    use crate::job::NewJob;

    /// Writes each call's outcome to a log.
    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl JobHook for Log {
        fn before(&self, job: &JobRecord) {
            self.0.lock().unwrap().push(format!("before {}", job.kind));
        }

        fn after(&self, _: &JobRecord, outcome: &Outcome, _: Duration) {
            self.0.lock().unwrap().push(format!("after {outcome:?}"));
        }
    }

    fn job() -> JobRecord {
        let now = datetime!(2000-01-01 0:00 UTC);
        let new = NewJob::new("ping", serde_json::Value::Null, now).unwrap();
        JobRecord::from_new(&new, now)
    }

    #[test]
    fn a_hook_run_dropped_before_its_outcome_ends_abandoned() {
        let log = Arc::new(Log::default());
        let hooks: Vec<Arc<dyn JobHook>> = vec![log.clone()];
        let job = job();
        drop(HookRun::begin(&hooks, &job));
        HookRun::begin(&hooks, &job)
            .unwrap()
            .end(&Outcome::Completed);
        assert!(
            HookRun::<Log>::begin(&[], &job).is_none(),
            "no hooks, nothing to run"
        );
        let log = log.0.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                "before ping",
                "after Abandoned { error: \"the job's task was dropped before its outcome was recorded\" }",
                "before ping",
                "after Completed",
            ]
        );
    }
}
