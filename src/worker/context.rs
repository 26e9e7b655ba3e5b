//! What a handler gets besides its payload ([`JobContext`]) and what it may return
//! besides success ([`JobError`]).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use tokio_util::sync::CancellationToken;

use crate::error::{BoxError, Error};
use crate::job::{JobId, JobRecord};
use crate::queue::Queue;

/// What a handler gets besides its payload: the job as claimed, its cancellation
/// token, the [`Queue`] to enqueue follow-up jobs with, and the worker's shared data.
///
/// The token is cancelled when the worker stops the attempt: the job was cancelled,
/// the lease was lost, or a shutdown's grace period ran out. The worker then stops
/// polling the handler (it is dropped at its next `.await`), so a handler that needs
/// to clean up watches [`JobContext::cancelled`] itself.
///
/// Tests build one with `JobContext::for_test` (feature `testing`) to call a handler
/// without a worker.
#[derive(Debug)]
pub struct JobContext {
    job: Arc<JobRecord>,
    /// The worker's token of this attempt.
    stop: CancellationToken,
    /// The handler's own, a child of `stop`: made when first asked for, so that a
    /// handler that never asks costs no token (two allocations a job).
    token: OnceLock<CancellationToken>,
    output: OutputSlot,
    shared: Arc<Shared>,
}

impl Clone for JobContext {
    /// A context sharing this one's token: made now if not yet.
    fn clone(&self) -> Self {
        Self {
            job: Arc::clone(&self.job),
            stop: self.stop.clone(),
            token: OnceLock::from(self.cancellation_token().clone()),
            output: self.output.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

/// What the contexts of one worker's jobs share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The queue the worker was built from.
    pub(crate) queue: Queue,
    /// The values given to [`WorkerBuilder::data`](super::WorkerBuilder::data).
    pub(crate) data: Data,
}

/// Values by type, each stored once and shared by every job.
#[derive(Default, Clone)]
pub(crate) struct Data(HashMap<TypeId, (Arc<dyn Any + Send + Sync>, &'static str)>);

impl Data {
    /// Keeps `value`, replacing one of the same type.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(
            TypeId::of::<T>(),
            (Arc::new(value), std::any::type_name::<T>()),
        );
    }

    /// The value of type `T`, if one was given.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0.get(&TypeId::of::<T>())?.0.downcast_ref()
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.0.values().map(|(_, name)| name))
            .finish()
    }
}

/// Where a handler's output waits for the completion that stores it.
#[derive(Debug, Clone)]
pub(crate) struct OutputSlot {
    value: Arc<Mutex<Option<serde_json::Value>>>,
    limit: usize,
}

impl OutputSlot {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            value: Arc::default(),
            limit,
        }
    }

    /// The output set last, taken out of the slot.
    pub(crate) fn take(&self) -> Option<serde_json::Value> {
        self.value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl JobContext {
    /// A context of `job`'s attempt, which the worker stops with `stop`; the handler
    /// gets a child of it, so it may cancel its own token, never the worker's.
    pub(crate) fn new(
        job: Arc<JobRecord>,
        stop: CancellationToken,
        output: OutputSlot,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            job,
            stop,
            token: OnceLock::new(),
            output,
            shared,
        }
    }

    /// The queue the worker was built from: a handler enqueues follow-up jobs with it
    /// (which wakes this process's workers at once).
    ///
    /// To enqueue in the same transaction as the handler's own writes on a SQL store,
    /// give the worker the store itself with [`WorkerBuilder::data`](super::WorkerBuilder::data)
    /// and call its `enqueue_in` inside the handler's transaction (the
    /// `TransactionalEnqueue` trait of `leasehold-sql`); [`Queue::notify_enqueued`]
    /// after the commit then wakes this process's workers at once.
    pub fn queue(&self) -> &Queue {
        &self.shared.queue
    }

    /// The value of type `T` given to the worker with
    /// [`WorkerBuilder::data`](super::WorkerBuilder::data): a database pool, an HTTP
    /// client, a configuration; shared by every job, never copied.
    ///
    /// # Errors
    ///
    /// A permanent [`JobError`] naming the type when the worker was given no value of
    /// type `T` (a mistake in the worker's setup that retrying would not mend).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), leasehold::Error> {
    /// use std::sync::Arc;
    /// use leasehold::worker::{JobContext, JobError, Worker};
    /// use leasehold::{Job, Queue};
    /// use leasehold_memory::MemoryStore;
    /// use serde::{Deserialize, Serialize};
    ///
    /// /// Stands for a database pool or an HTTP client: anything `Send + Sync`.
    /// struct Greeter { greeting: String }
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct Greet { name: String }
    /// impl Job for Greet { const KIND: &'static str = "greet"; }
    ///
    /// async fn greet(job: Greet, ctx: JobContext) -> Result<(), JobError> {
    ///     let greeter = ctx.data::<Greeter>()?;
    ///     println!("{}, {}", greeter.greeting, job.name);
    ///     Ok(())
    /// }
    ///
    /// let queue = Queue::new(Arc::new(MemoryStore::new()));
    /// let worker = Worker::builder(&queue)
    ///     .data(Greeter { greeting: "Hello".into() })
    ///     .handler(greet)
    ///     .build()?;
    /// queue.enqueue(Greet { name: "Ada".into() }).await?;
    /// assert_eq!(worker.run_once().await?.completed(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn data<T: Send + Sync + 'static>(&self) -> Result<&T, JobError> {
        self.shared.data.get::<T>().ok_or_else(|| {
            JobError::permanent(format!(
                "the worker was given no value of type {}: add it with WorkerBuilder::data",
                std::any::type_name::<T>()
            ))
        })
    }

    /// Records `output` to be stored with the job when this attempt completes, readable
    /// afterwards as [`JobRecord::output`]; a later call replaces it. Nothing is stored
    /// if the attempt does not complete.
    ///
    /// # Errors
    ///
    /// [`Error::OutputTooLarge`] naming the size and the limit when `output`, as JSON,
    /// is over [`WorkerBuilder::output_limit`](super::WorkerBuilder::output_limit);
    /// [`Error::Serialize`] when it does not serialize. The output set before (if any)
    /// stays, and the job still completes when the handler succeeds.
    pub fn set_output(&self, output: &impl Serialize) -> Result<(), Error> {
        let serialize = |source| Error::Serialize {
            kind: self.job.kind.clone(),
            source,
        };
        let value = serde_json::to_value(output).map_err(serialize)?;
        let size = serde_json::to_vec(&value).map_err(serialize)?.len();
        if size > self.output.limit {
            let error = Error::OutputTooLarge {
                size,
                limit: self.output.limit,
            };
            tracing::warn!(job = %self.job.id, %error, "job output refused");
            return Err(error);
        }
        *self
            .output
            .value
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(value);
        Ok(())
    }

    /// The output job `id` recorded ([`JobContext::set_output`]) as a `T`: how a step
    /// of a chain reads what the step it depends on produced (its ids are in
    /// `ctx.record().depends_on`). `None` when that job recorded no output or is no
    /// longer stored.
    ///
    /// # Errors
    ///
    /// [`Error::Output`] when the output does not deserialize to `T`; the store's
    /// error.
    pub async fn output_of<T: DeserializeOwned>(&self, id: JobId) -> Result<Option<T>, Error> {
        let Some(output) = self.queue().get(id).await?.and_then(|job| job.output) else {
            return Ok(None);
        };
        serde_json::from_value(output)
            .map(Some)
            .map_err(|source| Error::Output { job: id, source })
    }

    /// The job as claimed (state `Running`, with its lease).
    pub fn record(&self) -> &JobRecord {
        &self.job
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.job.id
    }

    /// The job's kind.
    pub fn kind(&self) -> &str {
        &self.job.kind
    }

    /// The name of the job's queue.
    pub fn queue_name(&self) -> &str {
        &self.job.queue
    }

    /// This attempt, counted from 1.
    pub fn attempt(&self) -> u32 {
        self.job.attempt
    }

    /// Attempts allowed before the job ends `Failed`.
    pub fn max_attempts(&self) -> u32 {
        self.job.max_attempts
    }

    /// Whether a retryable error now ends the job `Failed`.
    pub fn is_last_attempt(&self) -> bool {
        self.job.is_last_attempt()
    }

    /// The token the worker cancels to stop this attempt.
    ///
    /// The handler's own: cancelling it (or a clone) cancels this attempt's
    /// [`JobContext::cancelled`] and nothing of the worker's.
    pub fn cancellation_token(&self) -> &CancellationToken {
        self.token.get_or_init(|| self.stop.child_token())
    }

    /// Whether the worker stopped this attempt (or the handler cancelled its own
    /// token).
    pub fn is_cancelled(&self) -> bool {
        // No token of its own yet: no one could have cancelled it.
        self.token.get().unwrap_or(&self.stop).is_cancelled()
    }

    /// Resolves when the worker stops this attempt (or the handler cancels its own
    /// token).
    pub async fn cancelled(&self) {
        self.cancellation_token().cancelled().await;
    }
}

/// Why a handler did not succeed, and what the worker does about it.
///
/// - Any error converts with `?` into a retryable one: the job runs again after the
///   retry policy's backoff, or ends `Failed` on its last attempt.
/// - [`JobError::permanent`] ends the job `Failed` at once.
/// - [`JobError::snooze`] runs the job again after a delay without spending an attempt.
///
/// `JobError` deliberately does not implement `std::error::Error`, so that every error
/// type converts into it.
#[derive(Debug)]
pub struct JobError {
    action: Action,
    error: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Retry,
    Fail,
    Snooze(Duration),
}

impl JobError {
    /// An error after which the job is retried while attempts remain.
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self {
            action: Action::Retry,
            error: Some(error.into()),
        }
    }

    /// An error that ends the job `Failed` at once, whatever attempts remain.
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        Self {
            action: Action::Fail,
            error: Some(error.into()),
        }
    }

    /// Not an error: run the job again after `delay`, without spending an attempt.
    pub fn snooze(delay: Duration) -> Self {
        Self {
            action: Action::Snooze(delay),
            error: None,
        }
    }

    /// Whether this error ends the job at once.
    pub fn is_permanent(&self) -> bool {
        self.action == Action::Fail
    }

    /// The snooze delay, when this is a snooze.
    pub fn snooze_delay(&self) -> Option<Duration> {
        match self.action {
            Action::Snooze(delay) => Some(delay),
            Action::Retry | Action::Fail => None,
        }
    }

    pub(crate) fn action(&self) -> Action {
        self.action
    }
}

/// What a handler may return: `Result<(), JobError>`, or `()` for a handler that
/// cannot fail.
///
/// With only these two, a closure's `async { Ok(()) }` needs no type annotation: the
/// one implementation for a `Result` fixes its error type to [`JobError`], and `?`
/// still converts any error into it.
///
/// ```
/// # use std::sync::Arc;
/// # use leasehold::worker::{JobContext, Worker};
/// # use leasehold::{Job, Queue};
/// # use leasehold_memory::MemoryStore;
/// # #[derive(serde::Serialize, serde::Deserialize)]
/// # struct Ping;
/// # impl Job for Ping { const KIND: &'static str = "ping"; }
/// # let queue = Queue::new(Arc::new(MemoryStore::new()));
/// let worker = Worker::builder(&queue)
///     .handler(|_: Ping, _: JobContext| async {
///         let _port: u16 = "8080".parse()?; // any error converts with `?`
///         Ok(())
///     })
///     .build();
/// assert!(worker.is_ok());
/// ```
pub trait IntoJobResult {
    /// The handler's result.
    fn into_job_result(self) -> Result<(), JobError>;
}

impl IntoJobResult for Result<(), JobError> {
    fn into_job_result(self) -> Result<(), JobError> {
        self
    }
}

impl IntoJobResult for () {
    fn into_job_result(self) -> Result<(), JobError> {
        Ok(())
    }
}

impl<E> From<E> for JobError
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        Self::retryable(error)
    }
}

impl fmt::Display for JobError {
    /// The error and its chain of sources, joined by `": "`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error, self.action) {
            (Some(error), _) => {
                write!(f, "{error}")?;
                let mut source = error.source();
                while let Some(cause) = source {
                    write!(f, ": {cause}")?;
                    source = cause.source();
                }
                Ok(())
            }
            (None, Action::Snooze(delay)) => write!(f, "snoozed for {delay:?}"),
            (None, _) => f.write_str("job failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_error_converts_into_a_retryable_one() {
        fn parse(s: &str) -> Result<u32, JobError> {
            Ok(s.parse::<u32>()?)
        }

        let error = parse("x").unwrap_err();

        assert_eq!(error.action(), Action::Retry);
        assert_eq!(error.to_string(), "invalid digit found in string");
    }

    #[test]
    fn permanent_and_snooze_say_what_they_are() {
        assert!(JobError::permanent("no such user").is_permanent());
        assert_eq!(
            JobError::snooze(Duration::from_secs(5)).snooze_delay(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(JobError::retryable("boom").to_string(), "boom");
    }
}
