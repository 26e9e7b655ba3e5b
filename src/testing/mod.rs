//! Test support (feature `testing`): the conformance suite and store doubles, and the
//! application author's kit.
//!
//! - [`TestContext`] and [`run_handler`]: a handler run on one job without a worker;
//!   [`assert_enqueued`] and [`assert_not_enqueued`]: what a queue holds, as an
//!   [`Expected`] job says; [`drain`]: a worker run until nothing is due, through
//!   retries and snoozes on a `ManualClock`.
//! - [`conformance`]: one `pub async fn` per sentence of the [`JobStore`]
//!   contract, and [`conformance_suite!`](crate::conformance_suite) to expand them into
//!   tests for a store.
//! - [`failing::FailingStore`]: any store, with calls that fail on demand or at random.
//! - [`recording::RecordingStore`]: any store, recording how its caller batches claims
//!   and heartbeats.
//! - [`observe`]: a worker's events and log lines, recorded for assertions.
//! - [`model`]: model-based property tests of a store against a naive reference.
//! - [`processes`]: waiting on child processes and replaying their run logs.
//! - [`process_suite`]: the multi-process and SIGKILL scenarios, and
//!   [`process_suite!`](crate::process_suite) to expand them into tests for a store.
//! - [`sql`]: the checks SQL stores share (no statement reads the database clock).
//! - [`ManualClock`](crate::ManualClock): a clock that moves only when told to.
//! - [`claim_default`]: one claim of the default queue, for a store's own tests.

mod app;
pub mod conformance;
pub mod failing;
pub mod model;
pub mod observe;
pub mod process_suite;
pub mod processes;
pub mod recording;
pub mod sql;

pub use self::app::{
    DRAIN_ROUND_LIMIT, DrainReport, Expected, TestContext, assert_enqueued, assert_not_enqueued,
    drain, drain_until, run_handler,
};

use time::OffsetDateTime;

use crate::{ClaimRequest, DEFAULT_QUEUE, JobRecord, JobStore, StoreError};

/// Claims up to `limit` jobs of the default queue at `now` for worker `"w"`, leased
/// until `lease_until`: the claim a store's own tests make around what they test.
///
/// # Errors
///
/// The store's error, as it answered.
pub async fn claim_default(
    store: &dyn JobStore,
    limit: usize,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> Result<Vec<JobRecord>, StoreError> {
    let queues = [DEFAULT_QUEUE.to_owned()];
    let request = ClaimRequest::new("w", &queues, limit, lease_until);
    store.claim(request, now).await
}
