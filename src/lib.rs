//! Durable background jobs and schedules on Tokio.
//!
//! # The crate at a glance
//!
//! Every public type has one path. The job model, the producer side and the storage
//! seam are at the crate root; the worker, retries and schedules are modules of their
//! own.
//!
//! - **Jobs** (root): [`Job`] (a serde payload with a kind name), [`JobId`] (a UUIDv7,
//!   so ids sort by creation time), [`JobState`] (from `Scheduled` to a terminal
//!   state), [`NewJob`] (a validated job on its way into a store), [`JobRecord`] (a job
//!   as a store returns it) and [`Lease`] (the proof a worker holds a claimed job,
//!   fencing every later write).
//! - **Enqueueing** (root): [`Queue`], the handle over any [`JobStore`] that
//!   enqueues, inspects and cancels, and wakes this process's workers when it
//!   enqueues; [`EnqueueOptions`] (queue, priority, run time or delay, attempts, unique
//!   key, dependencies on other jobs with a [`DependencyFailure`] policy).
//! - **The storage seam** (root): [`JobStore`], one atomic transition per method, its
//!   contract written as sentences that name the conformance cases checking them
//!   ([`testing::conformance`], feature `testing`); `leasehold-memory`,
//!   `leasehold-sqlite` and `leasehold-postgres` implement it.
//! - **Running** (root): [`Supervisor`] runs a process's workers, schedulers and
//!   background tasks with one graceful shutdown; [`Queue::wait_for`] awaits a job's
//!   outcome.
//! - **Time** (root): [`Clock`] is the only source of wall time ([`SystemClock`] in
//!   production, `ManualClock` with feature `testing`); stores never read a clock, they
//!   are told the time in whole microseconds. [`time`] re-exports the `time` types the
//!   API speaks.
//! - **Errors** (root): [`Error`] from the API, [`StoreError`] from a store.
//! - [`worker`]: [`Worker`](worker::Worker) claims jobs under leases, runs their
//!   handlers and records outcomes.
//! - [`retry`]: [`RetryPolicy`](retry::RetryPolicy): how long a failed job waits
//!   (constant, linear or exponential backoff, capped, with jitter).
//! - [`metrics`] (feature `metrics`, on by default): counters, histograms and gauges
//!   of jobs and queues through the `metrics` facade.
//! - [`otel`] (feature `opentelemetry`): [`TraceContext`](otel::TraceContext) makes a
//!   job's span continue the trace that enqueued it, with `tracing-opentelemetry`.
//! - [`schedule`]: [`Scheduler`](schedule::Scheduler) fires jobs on
//!   [`ScheduleSpec`](schedule::ScheduleSpec)s (cron in a timezone, interval, once),
//!   exactly once per slot, with a policy for slots missed while nothing ran.
//!
//! Jobs are leased, not locked: a worker claims a job until a time, extends the lease
//! while it runs and records the outcome under the lease's token, so a worker that
//! crashed or stalled can never overwrite the work of the one that took over.
//!
//! # Examples
//!
//! The same code runs on every store: open the one the configuration names and hand
//! it over as an `Arc<dyn JobStore>`.
//!
//! ```
//! use std::sync::Arc;
//!
//! use leasehold::worker::{JobContext, JobError, Worker};
//! use leasehold::{Job, JobState, JobStore, Queue, StoreError};
//! use leasehold_memory::MemoryStore;
//! use leasehold_postgres::PostgresStore;
//! use leasehold_sqlite::SqliteStore;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Greet {
//!     name: String,
//! }
//!
//! impl Job for Greet {
//!     const KIND: &'static str = "greet";
//! }
//!
//! async fn greet(job: Greet, _ctx: JobContext) -> Result<(), JobError> {
//!     println!("hello, {}", job.name);
//!     Ok(())
//! }
//!
//! /// `postgres://...` or `sqlite://...`; anything else keeps the jobs in memory.
//! async fn open(url: &str) -> Result<Arc<dyn JobStore>, StoreError> {
//!     Ok(if url.starts_with("postgres") {
//!         Arc::new(PostgresStore::connect(url).await?)
//!     } else if url.starts_with("sqlite") {
//!         Arc::new(SqliteStore::connect(url).await?)
//!     } else {
//!         Arc::new(MemoryStore::new())
//!     })
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let url = std::env::var("JOBS_URL").unwrap_or_default();
//!     let queue = Queue::new(open(&url).await?);
//!     let worker = Worker::builder(&queue).handler(greet).build()?;
//!
//!     let id = queue.enqueue(&Greet { name: "Ada".into() }).await?.job.id;
//!     worker.run_once().await?;
//!
//!     let state = queue.get(id).await?.map(|job| job.state);
//!     assert_eq!(state, Some(JobState::Completed));
//!     Ok(())
//! }
//! ```

mod batch;
mod clock;
mod dependency;
mod error;
mod job;
mod limit;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "opentelemetry")]
pub mod otel;
mod queue;
pub mod retry;
pub mod schedule;
mod scheduler;
mod store;
mod supervisor;
#[cfg(feature = "testing")]
pub mod testing;
pub mod worker;

pub use batch::{BATCH_TAG_PREFIX, Batch, BatchProgress};
#[cfg(feature = "testing")]
pub use clock::ManualClock;
pub use clock::{Clock, SystemClock};
pub use dependency::{
    DEPENDENCY_FAILED, DependencyFailure, DependencyProblem, DependencyStart,
    UnknownDependencyFailure, dependency_graph, dependency_order,
};
pub use error::{BoxError, Error, StoreError};
pub use job::{
    AsJob, AttemptError, BorrowedJob, DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE, ERROR_HISTORY_LIMIT,
    Job, JobId, JobRecord, JobState, Lease, NewJob, OwnedJob, Payload, UnknownJobState,
};
pub use limit::{Limit, LimitScope, Rate};
pub use queue::{EnqueueHook, EnqueueOptions, Queue};
pub use store::{
    ClaimRequest, Enqueued, Firing, HeartbeatStatus, JobFilter, JobStore, JobUpdate, QueueStats,
};
pub use supervisor::Supervisor;

/// Re-exported so stores and tests name the same `async_trait`.
pub use async_trait::async_trait;

/// The `time` types the API speaks: instants are [`OffsetDateTime`](time::OffsetDateTime)
/// in UTC, whole microseconds.
///
/// Only types are re-exported, with the conversions stores use to keep instants as
/// whole microseconds since the Unix epoch. `time`'s macros (`datetime!`, ...) expand
/// to paths in the `time` crate itself, so they work only where `time` is a
/// dependency: a crate that wants them adds `time` (with its `macros` feature) to its
/// own `Cargo.toml`.
pub mod time {
    pub use ::time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

    pub use crate::clock::{from_unix_micros, to_unix_micros, truncate_to_micros};
}

// The README's code blocks, compiled (and most of them run) as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
