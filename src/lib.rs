//! Durable background jobs and schedules on Tokio.
//!
//! - [`Queue`] enqueues typed [`Job`]s into a [`JobStore`].
//! - [`JobStore`] is the storage seam: `leasehold-memory`, `leasehold-sqlite` and
//!   `leasehold-postgres` implement it, and [`testing::conformance`] (feature
//!   `testing`) proves a store keeps the contract.
//! - [`Clock`] is the only source of wall time; stores are told the time.
//! - [`Worker`] claims jobs under leases, runs their handlers and records outcomes,
//!   retrying failures on a [`RetryPolicy`].
//! - [`Scheduler`] fires jobs on [`ScheduleSpec`]s (cron, interval, once), exactly
//!   once per slot.
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

pub mod clock;
pub mod error;
pub mod job;
pub mod queue;
pub mod retry;
pub mod schedule;
mod scheduler;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod worker;

#[cfg(feature = "testing")]
pub use clock::ManualClock;
pub use clock::{Clock, SystemClock};
pub use error::{BoxError, Error, StoreError};
pub use job::{AsJob, BorrowedJob, Job, JobId, JobRecord, JobState, Lease, NewJob, OwnedJob};
pub use queue::{EnqueueOptions, Queue};
pub use retry::{Backoff, RetryPolicy};
pub use schedule::{
    CronExpr, MissedRunPolicy, NewSchedule, ScheduleRecord, ScheduleSpec, Scheduler,
};
pub use store::{ClaimRequest, Enqueued, Firing, HeartbeatStatus, JobFilter, JobStore};
pub use worker::{JobContext, JobError, Worker, WorkerEvent};

/// Re-exported so stores and tests name the same `async_trait`.
pub use async_trait::async_trait;

/// The `time` types the API speaks: instants are [`OffsetDateTime`](time::OffsetDateTime)
/// in UTC, whole microseconds.
///
/// Only types are re-exported. `time`'s macros (`datetime!`, ...) expand to paths in
/// the `time` crate itself, so they work only where `time` is a dependency: a crate
/// that wants them adds `time` (with its `macros` feature) to its own `Cargo.toml`.
pub mod time {
    pub use ::time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
}

// The README's code blocks, compiled (and most of them run) as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
