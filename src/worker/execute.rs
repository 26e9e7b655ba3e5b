//! One claimed job, from its handler to its recorded outcome.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::builder::HandlerFuture;
use super::context::{Action, JobContext, OutputSlot};
use super::events::JobInfo;
use super::held::StopReason;
use super::layer::{HookRun, Next, job_span, logged_in};
use super::outcome::{JobOutcome, Outcome};
use super::{Inner, RunningGuard, later};
use crate::error::StoreError;
use crate::job::{JobRecord, JobState, Lease};
use crate::retry::RetryPolicy;

/// What the handler's attempt asks the worker to record.
enum Verdict {
    /// Completed, with the output the handler set, if any.
    Complete(Option<serde_json::Value>),
    Retry(String),
    Fail(String),
    Snooze(Duration),
    /// The worker stopped the handler before it finished.
    Stopped,
}

/// A buffered job a freed slot took: the job and its token.
pub(crate) type Buffered = (Arc<JobRecord>, CancellationToken);

/// Runs `job` and records its outcome; `guard` keeps it held (and so under
/// heartbeat) until the outcome is written, while its slot frees as soon as the
/// handler is done. Returns that outcome.
///
/// When the freed slot takes a buffered job, the same task runs it: right after if
/// this job's outcome was written at once (the memory store), else beside this one's
/// write, which the task goes on waiting for (a SQL store's group commit). A task thus
/// serves one slot, its handlers one after another and their writes side by side: a
/// job costs no task of its own, and a group commit's answers wake one task per slot
/// rather than one per job. (A task per job, spawned as the slot took it, put every
/// new job ahead of the writer's task on the runtime thread that woke the writer,
/// which then waited behind them: end to end with 8 slots on SQLite, the process
/// used 1.3 of 2 cores, see the README.)
pub(crate) async fn run_job(
    inner: Arc<Inner>,
    job: Arc<JobRecord>,
    token: CancellationToken,
    guard: RunningGuard,
) -> JobOutcome {
    let (spill, mut spilled) = mpsc::unbounded_channel();
    let spilled_chain = |next| run_chain(&inner, &spill, next, None);
    let mut chains = FuturesUnordered::new();
    chains.push(run_chain(&inner, &spill, (job, token), Some(guard)));
    let mut first = None;
    loop {
        // A chain may spill its slot's next job and end in the same poll: start that
        // job before asking whether any chain is left.
        while let Ok(next) = spilled.try_recv() {
            chains.push(spilled_chain(next));
        }
        if chains.is_empty() {
            break;
        }
        tokio::select! {
            Some(next) = spilled.recv() => chains.push(spilled_chain(next)),
            Some(outcome) = chains.next() => first = first.or(outcome),
        }
    }
    first.expect("the first job's chain reports its outcome")
}

/// Runs `job` (with `guard`, or one begun now), then each buffered job its slot takes
/// while its write returned at once; a buffered job the slot takes while a write
/// waits goes to `spill`, for [`run_job`] to run beside. Reports the outcome of the
/// job given a guard (the task's first).
async fn run_chain(
    inner: &Arc<Inner>,
    spill: &Spill,
    (job, token): Buffered,
    guard: Option<RunningGuard>,
) -> Option<JobOutcome> {
    let report = guard.is_some();
    let guard = guard.unwrap_or_else(|| inner.begin(&job));
    let (outcome, mut next) = run_one(inner, job, token, guard, report, spill).await;
    while let Some((job, token)) = next {
        // A chain whose writes never wait would otherwise never yield: let the
        // scheduler run other tasks once this one has used its budget.
        tokio::task::consume_budget().await;
        let guard = inner.begin(&job);
        next = run_one(inner, job, token, guard, false, spill).await.1;
    }
    outcome
}

/// Runs `run`, with `span` in the job's `leasehold.job` span, logging its outcome
/// there: what [`TracingLayer`](super::TracingLayer) does, outermost of all layers.
async fn in_span(span: bool, job: &JobRecord, run: impl Future<Output = Outcome>) -> Outcome {
    if span {
        logged_in(job_span(job), run).await
    } else {
        run.await
    }
}

/// Where a slot's next job goes when the job before it waits for its write.
type Spill = mpsc::UnboundedSender<Buffered>;

/// Runs one job through the worker's layers; returns its outcome (when asked to
/// `report` it) and the buffered job its slot took, unless that one was handed to a
/// task of its own.
async fn run_one(
    inner: &Arc<Inner>,
    job: Arc<JobRecord>,
    token: CancellationToken,
    guard: RunningGuard,
    report: bool,
    spill: &Spill,
) -> (Option<JobOutcome>, Option<Buffered>) {
    // What the outcome names the job by: only built for someone to read it.
    let info = (report || inner.has_subscribers()).then(|| JobInfo::from(&*job));
    let mut chained = None;
    let hooks = HookRun::begin(&inner.hooks, &job);
    let end = attempt_and_record(inner, Arc::clone(&job), token, guard, &mut chained, spill);
    // The built-in span is put on here rather than as a layer: with no other layer,
    // the job's run then needs no boxed future (two allocations a job, each freed
    // into the allocator beside the other runtime threads' work).
    let outcome = if inner.layers.is_empty() {
        in_span(inner.tracing_span, &job, end).await
    } else {
        let next = Next::new(&job, &inner.layers, &*inner.clock, end.boxed()).run();
        in_span(inner.tracing_span, &job, next).await
    };
    if let Some(hooks) = hooks {
        hooks.end(&outcome);
    }
    let queue = &inner.shared.queue;
    if queue.has_waiters() {
        // Whoever waits for a job reads what the layers and hooks recorded of it:
        // hand it on first.
        inner.flush_layers_and_hooks();
        queue.wake_waiters();
    }
    let outcome = info.map(|job| JobOutcome { job, outcome });
    if let Some(outcome) = &outcome {
        inner.emit(|| outcome.event());
    }
    (outcome, chained)
}

/// The innermost part of a job's run: its handler, then the write of its outcome.
///
/// The buffered job its freed slot took goes to `chained` when this job's outcome
/// was written at once, for the caller to run next; otherwise to `spill`, to start
/// beside this one's wait for its write.
async fn attempt_and_record(
    inner: &Arc<Inner>,
    job: Arc<JobRecord>,
    token: CancellationToken,
    guard: RunningGuard,
    chained: &mut Option<Buffered>,
    spill: &Spill,
) -> Outcome {
    let lease = job.lease();
    let (timeout, retry) = inner.settings.of_kind(&job.kind);
    let attempt_number = job.attempt;
    let verdict = attempt(inner, job, &token, timeout).await;
    if token.is_cancelled() {
        // The worker stopped the job: `handler_done` says why, under the lock that
        // set the reason.
        let stopped = Stopped {
            lease,
            verdict,
            retry,
            attempt: attempt_number,
        };
        return record_stopped(inner, stopped, guard, chained, spill).await;
    }
    // Not stopped: the write starts while the job still holds its slot, so a write
    // that returns at once (the memory store) frees the slot and takes the next job
    // under one lock. A stop that comes during the write no longer stops it: the
    // write itself finds out whether the lease still holds.
    let mut write = std::pin::pin!(record(inner, retry, attempt_number, lease, verdict));
    if let Some(outcome) = (&mut write).now_or_never() {
        *chained = inner.finish_at_once(guard);
        return outcome;
    }
    let (_, next) = inner.handler_done(lease);
    if let Some(next) = next {
        spill_next(inner, spill, next);
    }
    let outcome = write.await;
    drop(guard);
    outcome
}

/// A job the worker stopped, as its handler left it.
struct Stopped<'a> {
    lease: Lease,
    verdict: Verdict,
    retry: &'a RetryPolicy,
    attempt: u32,
}

/// Records the outcome of a job the worker stopped (its lease lost, the job
/// cancelled, or shutdown's grace over), after freeing its slot.
async fn record_stopped(
    inner: &Arc<Inner>,
    stopped: Stopped<'_>,
    guard: RunningGuard,
    chained: &mut Option<Buffered>,
    spill: &Spill,
) -> Outcome {
    let Stopped {
        lease,
        verdict,
        retry,
        attempt,
    } = stopped;
    let (stop, next) = inner.handler_done(lease);
    let recording = async {
        let outcome = match (stop, verdict) {
            (Some(StopReason::Lost), _) => Outcome::LeaseLost,
            (Some(StopReason::Cancelled), _) => Outcome::Cancelled,
            (_, Verdict::Stopped) => release(inner, lease).await,
            // A handler that finished as it was stopped for shutdown: its result
            // stands (never retried or failed for the stop).
            (_, verdict) => record(inner, retry, attempt, lease, verdict).await,
        };
        drop(guard);
        outcome
    };
    let mut recording = std::pin::pin!(recording);
    if let Some(next) = next {
        match (&mut recording).now_or_never() {
            Some(outcome) => {
                *chained = Some(next);
                return outcome;
            }
            None => spill_next(inner, spill, next),
        }
    }
    recording.await
}

/// Hands `next` to the slot task's other chains; a task that is ending (it cannot
/// while a chain in it sends) gives it a task of its own.
fn spill_next(inner: &Arc<Inner>, spill: &Spill, next: Buffered) {
    if let Err(unsent) = spill.send(next) {
        let (job, token) = unsent.0;
        drop(inner.spawn_task(job, token));
    }
}

/// Runs the handler of `job` (bounded by `timeout`): the verdict. The caller frees
/// its slot.
async fn attempt(
    inner: &Arc<Inner>,
    job: Arc<JobRecord>,
    token: &CancellationToken,
    timeout: Option<Duration>,
) -> Verdict {
    match inner.handlers.get(&job.kind) {
        // Stopped before it started: the claim came back too late to run it.
        _ if token.is_cancelled() => Verdict::Stopped,
        None => Verdict::Fail(format!(
            "no handler is registered for job kind {:?}",
            job.kind
        )),
        Some(handler) => {
            // The context gives the handler a child token: it may cancel its own,
            // never the worker's.
            let output = OutputSlot::new(inner.settings.output_limit);
            // The context owns the job from here; the handler reads its payload there.
            let ctx = JobContext::new(
                job,
                token.clone(),
                output.clone(),
                Arc::clone(&inner.shared),
            );
            let started = std::panic::catch_unwind(AssertUnwindSafe(|| handler(ctx)));
            match started {
                Err(panic) => Verdict::Retry(panicked(panic.as_ref())),
                Ok(Err(message)) => Verdict::Fail(message),
                Ok(Ok(handler)) => match run_handler(handler, timeout, token).await {
                    Verdict::Complete(_) => Verdict::Complete(output.take()),
                    verdict => verdict,
                },
            }
        }
    }
}

/// Polls the handler (catching panics, bounded by `timeout`) until it finishes or
/// `token` is cancelled.
async fn run_handler(
    handler: HandlerFuture,
    timeout: Option<Duration>,
    token: &CancellationToken,
) -> Verdict {
    let guarded = AssertUnwindSafe(handler).catch_unwind();
    let bounded = async {
        match timeout {
            Some(limit) => tokio::time::timeout(limit, guarded)
                .await
                .map_err(|_| limit),
            None => Ok(guarded.await),
        }
    };
    tokio::select! {
        // A handler that finishes as it is stopped still has its result considered.
        biased;
        result = bounded => match result {
            Err(limit) => Verdict::Retry(format!("timed out after {limit:?}")),
            Ok(Err(panic)) => Verdict::Retry(panicked(panic.as_ref())),
            Ok(Ok(Ok(()))) => Verdict::Complete(None),
            Ok(Ok(Err(error))) => match error.action() {
                Action::Retry => Verdict::Retry(error.to_string()),
                Action::Fail => Verdict::Fail(error.to_string()),
                Action::Snooze(delay) => Verdict::Snooze(delay),
            },
        },
        () = token.cancelled() => Verdict::Stopped,
    }
}

fn panicked(panic: &(dyn Any + Send)) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".to_owned());
    format!("panicked: {message}")
}

/// Writes the verdict under the job's lease.
async fn record(
    inner: &Inner,
    retry: &RetryPolicy,
    attempt: u32,
    lease: Lease,
    verdict: Verdict,
) -> Outcome {
    let store = &inner.store;
    let clock = &inner.clock;
    match verdict {
        Verdict::Complete(None) => persist(|| store.complete(lease, clock.now()))
            .await
            .map_or_else(lost_or_abandoned, |()| Outcome::Completed),
        Verdict::Complete(Some(output)) => {
            let written =
                match persist(|| store.complete_with_output(lease, &output, clock.now())).await {
                    // A store written before outputs existed: the job completes without it.
                    Err(StoreError::Unsupported(verb)) => {
                        tracing::warn!(
                            verb,
                            "this store keeps no job output; completing without it"
                        );
                        persist(|| store.complete(lease, clock.now())).await
                    }
                    other => other,
                };
            written.map_or_else(lost_or_abandoned, |()| Outcome::Completed)
        }
        Verdict::Retry(error) => {
            let delay = retry.delay(attempt);
            // One `now` for the decision and every attempt at writing it: a write
            // repeated after a transient error still records the job due `delay`
            // after it failed, never a run time already past at the write.
            let now = clock.now();
            let run_at = later(now, delay);
            match persist(|| store.retry(lease, run_at, &error, now)).await {
                Ok(JobState::Failed) => Outcome::Failed { error },
                Ok(_) => Outcome::Retried {
                    delay,
                    run_at,
                    error,
                },
                Err(store_error) => lost_or_abandoned(store_error),
            }
        }
        Verdict::Fail(error) => persist(|| store.fail(lease, &error, clock.now()))
            .await
            .map_or_else(lost_or_abandoned, |()| Outcome::Failed { error }),
        Verdict::Snooze(delay) => {
            let now = clock.now();
            let run_at = later(now, delay);
            persist(|| store.release(lease, run_at, now))
                .await
                .map_or_else(lost_or_abandoned, |()| Outcome::Snoozed { run_at })
        }
        Verdict::Stopped => release(inner, lease).await,
    }
}

/// Gives the job back, due at once, its attempt returned (shutdown).
async fn release(inner: &Inner, lease: Lease) -> Outcome {
    persist(|| {
        let now = inner.clock.now();
        inner.store.release(lease, now, now)
    })
    .await
    .map_or_else(lost_or_abandoned, |()| Outcome::Released)
}

fn lost_or_abandoned(error: StoreError) -> Outcome {
    match error {
        StoreError::LeaseLost(_) | StoreError::NotFound(_) => Outcome::LeaseLost,
        error => Outcome::Abandoned {
            error: error.to_string(),
        },
    }
}

/// Runs a write, repeating it after transient store errors a few times.
///
/// The job stays under heartbeat meanwhile. If the write never succeeds, nothing is
/// recorded: the lease expires and another claim runs the job again.
pub(crate) async fn persist<T, F, Fut>(write: F) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    const PAUSES: [Duration; 3] = [
        Duration::from_millis(50),
        Duration::from_millis(250),
        Duration::from_secs(1),
    ];
    let mut result = write().await;
    for pause in PAUSES {
        match &result {
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, "recording the outcome failed; trying again");
                tokio::time::sleep(pause).await;
                result = write().await;
            }
            _ => break,
        }
    }
    result
}
