//! Middleware around every job a worker runs ([`Layer`], [`Next`]) and the built-in
//! one that puts each job in a tracing span ([`TracingLayer`]).

use std::sync::Arc;

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
/// built-in [`TracingLayer`] is outermost of all unless turned off with
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

/// The built-in layer: each job runs in a `leasehold.job` span (fields `kind`, `id`,
/// `attempt`, `queue`), inside which its outcome is logged: `debug` when it
/// completed or snoozed, `warn` when it will be retried or lost its lease, `error`
/// when it failed or could not be recorded.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLayer;

#[async_trait::async_trait]
impl Layer for TracingLayer {
    async fn call(&self, job: &JobRecord, next: Next<'_>) -> Outcome {
        async {
            let outcome = next.run().await;
            log_outcome(&outcome);
            outcome
        }
        .instrument(job_span(job))
        .await
    }
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
pub(crate) fn log_outcome(outcome: &Outcome) {
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
