//! Durable background jobs and schedules on Tokio.
//!
//! - [`Queue`] enqueues typed [`Job`]s into a [`JobStore`].
//! - [`JobStore`] is the storage seam: `leasehold-memory` and `leasehold-sqlite`
//!   implement it, and [`testing::conformance`] (feature `testing`) proves a store
//!   keeps the contract.
//! - [`Clock`] is the only source of wall time; stores are told the time.
//! - [`Worker`] claims jobs under leases, runs their handlers and records outcomes,
//!   retrying failures on a [`RetryPolicy`].
//!
//! Jobs are leased, not locked: a worker claims a job until a time, extends the lease
//! while it runs and records the outcome under the lease's token, so a worker that
//! crashed or stalled can never overwrite the work of the one that took over.

pub mod clock;
pub mod error;
pub mod job;
pub mod queue;
pub mod retry;
pub mod schedule;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod worker;

#[cfg(feature = "testing")]
pub use clock::ManualClock;
pub use clock::{Clock, SystemClock};
pub use error::{BoxError, Error, StoreError};
pub use job::{JobId, JobRecord, JobState, Lease, NewJob};
pub use queue::{EnqueueOptions, Job, Queue};
pub use retry::{Backoff, RetryPolicy};
pub use schedule::{
    CronExpr, MissedRunPolicy, NewSchedule, ScheduleRecord, ScheduleSpec, Scheduler,
};
pub use store::{Enqueued, HeartbeatStatus, JobFilter, JobStore};
pub use worker::{JobContext, JobError, Worker, WorkerEvent};

/// Re-exported so stores and tests name the same `async_trait` and `time`.
pub use async_trait::async_trait;
pub use time;
