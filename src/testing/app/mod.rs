//! The application author's kit: run a handler on one job without a worker, assert
//! what a queue holds, and drain a worker through retries and snoozes on a
//! [`ManualClock`].
//!
//! - [`TestContext`] builds the [`JobContext`] a handler gets; [`run_handler`] runs a
//!   handler on one job with it, as a worker would.
//! - [`assert_enqueued`] and [`assert_not_enqueued`] check a [`Queue`]'s jobs against
//!   an [`Expected`] job: its kind, a payload predicate, its options.
//! - [`drain`] runs a worker until nothing is due, moving a [`ManualClock`] to each
//!   retry and snooze; its [`DrainReport`] counts the outcomes.

mod drain;
mod expect;

use std::fmt::{self, Write as _};
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, ManualClock};
use crate::job::{AsJob, Job, JobRecord, JobState};
use crate::queue::Queue;
use crate::store::JobFilter;
use crate::worker::{
    DEFAULT_OUTPUT_LIMIT, IntoJobResult, JobContext, JobError, JobOutcome, Outcome, Worker,
};
use crate::worker::{Data, OutputSlot, Shared, decode_job};

/// The lease a test context's job holds: the worker's default.
const TEST_LEASE: Duration = Duration::from_secs(30);

/// The worker a test context's job is leased to.
const TEST_WORKER: &str = "test";

/// Builds the [`JobContext`] a handler gets, to call the handler in a test without a
/// worker.
///
/// The context's job is `Running` in its first attempt (see [`TestContext::attempt`]),
/// leased at `queue`'s clock's time, with the options its type declares
/// ([`Job::enqueue_options`]). Its queue ([`JobContext::queue`]) is `queue`, so the
/// follow-up jobs the handler enqueues land in `queue`'s store, where
/// [`assert_enqueued`] finds them. The contexts one builder (or its clones) builds share
/// its output slot ([`TestContext::take_output`]) and its cancellation token
/// ([`TestContext::cancellation_token`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use leasehold::testing::{TestContext, run_handler};
/// use leasehold::worker::{JobContext, JobError};
/// use leasehold::{Job, Queue};
/// use leasehold_memory::MemoryStore;
/// use serde::{Deserialize, Serialize};
///
/// /// Stands for a database pool or an HTTP client.
/// struct Prices { cents: u64 }
///
/// #[derive(Serialize, Deserialize)]
/// struct Invoice { items: u64 }
/// impl Job for Invoice { const KIND: &'static str = "invoice"; }
///
/// async fn invoice(job: Invoice, ctx: JobContext) -> Result<(), JobError> {
///     let total = job.items * ctx.data::<Prices>()?.cents;
///     ctx.set_output(&total)?;
///     Ok(())
/// }
///
/// let queue = Queue::new(Arc::new(MemoryStore::new()));
/// let test = TestContext::new(&queue).attempt(2).data(Prices { cents: 250 });
/// run_handler(invoice, Invoice { items: 3 }, &test).await.unwrap();
/// assert_eq!(test.take_output(), Some(serde_json::json!(750)));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TestContext {
    queue: Queue,
    data: Data,
    attempt: Option<u32>,
    max_attempts: Option<u32>,
    output: OutputSlot,
    token: CancellationToken,
}

impl TestContext {
    /// Contexts whose queue is `queue`, at its clock's time: first attempt, no data,
    /// the default output limit ([`DEFAULT_OUTPUT_LIMIT`]).
    pub fn new(queue: &Queue) -> Self {
        Self {
            queue: queue.clone(),
            data: Data::default(),
            attempt: None,
            max_attempts: None,
            output: OutputSlot::new(DEFAULT_OUTPUT_LIMIT),
            token: CancellationToken::new(),
        }
    }

    /// The attempt the job is in, counted from 1 (0 counts as 1); by default the first
    /// (for [`TestContext::build_for_record`]: the record's next). The job's attempts
    /// allowed grow to at least this one.
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = Some(attempt.max(1));
        self
    }

    /// The attempts the job is allowed (default: what its type declares, else 20),
    /// so `.attempt(5).max_attempts(5)` runs the last one
    /// ([`JobContext::is_last_attempt`]).
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = Some(max_attempts.max(1));
        self
    }

    /// Gives the handler `value`, read with [`JobContext::data`], as
    /// [`WorkerBuilder::data`](crate::worker::WorkerBuilder::data) does for a worker.
    pub fn data<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.data.insert(value);
        self
    }

    /// The largest output, as JSON, [`JobContext::set_output`] accepts (default
    /// [`DEFAULT_OUTPUT_LIMIT`]), as
    /// [`WorkerBuilder::output_limit`](crate::worker::WorkerBuilder::output_limit) sets it
    /// for a worker. It starts a new output slot, shared by the contexts built from here on.
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.output = OutputSlot::new(bytes);
        self
    }

    /// A context for `job` (owned or borrowed) as a worker would claim it: its payload
    /// as JSON, the options its type declares, state `Running`, leased to `"test"`.
    ///
    /// # Panics
    ///
    /// When `job` does not serialize, or the options its type declares are invalid
    /// (enqueueing it would fail the same way).
    pub fn build_for<M, A: AsJob<M>>(&self, job: A) -> JobContext {
        let job = job.as_job();
        let kind = <A::Job as Job>::KIND;
        let now = self.queue.clock().now();
        let payload = serde_json::to_value(job).unwrap_or_else(|error| {
            panic!("the payload of a job of kind {kind:?} does not serialize: {error}")
        });
        let new_job = job
            .enqueue_options()
            .build(kind, payload, now)
            .unwrap_or_else(|error| {
                panic!("the options job kind {kind:?} declares are invalid: {error}")
            });
        self.running(JobRecord::from_new(&new_job, now), 1)
    }

    /// A context for `record` (a stored job, say one [`assert_enqueued`] returned) in its
    /// next attempt: the record as a claim at the queue's clock's time would leave it.
    pub fn build_for_record(&self, record: &JobRecord) -> JobContext {
        let next = record.attempt.saturating_add(1);
        self.running(record.clone(), next)
    }

    /// The output the handler set last with [`JobContext::set_output`], taken out: a
    /// second call answers `None` until a handler sets another.
    pub fn take_output(&self) -> Option<serde_json::Value> {
        self.output.take()
    }

    /// The token that stops every context this builder builds, as a worker's stops its
    /// attempt: cancel it to see how a handler stops ([`JobContext::cancelled`]). Each
    /// context's own token ([`JobContext::cancellation_token`]) is a child of it.
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.token
    }

    /// `record` claimed at the clock's time in attempt `attempt` (unless one was set).
    fn running(&self, mut record: JobRecord, attempt: u32) -> JobContext {
        let now = self.queue.clock().now();
        let attempt = self.attempt.unwrap_or(attempt);
        record.state = JobState::Running;
        record.attempt = attempt;
        record.max_attempts = self
            .max_attempts
            .unwrap_or(record.max_attempts)
            .max(attempt);
        record.lease_token = record.lease_token.saturating_add(1).max(attempt);
        record.lease_until = Some(crate::worker::later(now, TEST_LEASE));
        record.worker = Some(TEST_WORKER.to_owned());
        record.first_attempted_at.get_or_insert(now);
        record.attempted_at = Some(now);
        let shared = Shared {
            queue: self.queue.clone(),
            data: self.data.clone(),
        };
        JobContext::new(
            Arc::new(record),
            self.token.clone(),
            self.output.clone(),
            Arc::new(shared),
        )
    }
}

impl JobContext {
    /// A context for calling a handler on `job` (owned or borrowed) in a test, without
    /// a worker: [`TestContext::new`]`(queue).`[`build_for`](TestContext::build_for)`(job)`.
    /// [`TestContext`] sets the attempt and the data, and reads the output back.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # use std::sync::Arc;
    /// # use leasehold::worker::{JobContext, JobError};
    /// # use leasehold::{Job, Queue};
    /// # #[derive(serde::Serialize, serde::Deserialize)]
    /// # struct Ping;
    /// # impl Job for Ping { const KIND: &'static str = "ping"; }
    /// async fn ping(_: Ping, ctx: JobContext) -> Result<(), JobError> {
    ///     assert_eq!(ctx.attempt(), 1);
    ///     Ok(())
    /// }
    ///
    /// let queue = Queue::new(Arc::new(leasehold_memory::MemoryStore::new()));
    /// ping(Ping, JobContext::for_test(&queue, &Ping)).await.unwrap();
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// As [`TestContext::build_for`].
    pub fn for_test<M>(queue: &Queue, job: impl AsJob<M>) -> JobContext {
        TestContext::new(queue).build_for(job)
    }
}

/// Runs `handler` on `job` (owned or borrowed) with a context `context` builds
/// ([`TestContext::build_for`]), as a worker would: the job goes through its JSON
/// payload, and the handler's result converts as [`IntoJobResult`] says.
///
/// # Errors
///
/// The handler's error; a permanent one when the payload does not deserialize back
/// into the job's type (a worker fails such a job at once too).
///
/// # Panics
///
/// As [`TestContext::build_for`].
pub async fn run_handler<M, A, F, Fut>(
    handler: F,
    job: A,
    context: &TestContext,
) -> Result<(), JobError>
where
    A: AsJob<M>,
    F: FnOnce(A::Job, JobContext) -> Fut,
    Fut: Future,
    Fut::Output: IntoJobResult,
{
    let ctx = context.build_for(job);
    let job = decode_job::<A::Job>(ctx.record()).map_err(JobError::permanent)?;
    handler(job, ctx).await.into_job_result()
}

pub use self::drain::{DRAIN_ROUND_LIMIT, DrainReport, drain, drain_until};
pub use self::expect::{Expected, assert_enqueued, assert_not_enqueued};
