//! [`RecordingStore`]: wraps any store and records how a caller batches its work: the
//! queues and limit of each claim, and how many leases each heartbeat carries.
//!
//! - [`RecordingStore`]: changes nothing; overrides only `claim` and `heartbeat` to
//!   record them, and passes every other verb to the store it wraps
//!   ([`JobStore::delegate`]).
//!
//! To make calls fail or stall, or to count the calls of any verb, wrap the store in a
//! [`FailingStore`](super::failing::FailingStore) instead (or as well).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use leasehold::testing::{conformance::t, recording::RecordingStore};
//! use leasehold::{ClaimRequest, JobStore, Lease, NewJob};
//! use leasehold_memory::MemoryStore;
//!
//! let store = RecordingStore::new(MemoryStore::new());
//! let job = NewJob::new("k", serde_json::Value::Null, t(0)).unwrap();
//! store.enqueue(job, t(0)).await.unwrap();
//!
//! let queues = ["default".to_owned()];
//! let request = ClaimRequest::new("worker-a", &queues, 10, t(30));
//! let claimed = store.claim(request, t(0)).await.unwrap();
//! let leases: Vec<Lease> = claimed.iter().map(|job| job.lease()).collect();
//! store.heartbeat(&leases, t(40)).await.unwrap();
//!
//! assert_eq!(store.claims(), vec![(vec!["default".to_owned()], 10)]);
//! assert_eq!(store.heartbeat_batches(), vec![1]);
//! # }
//! ```

use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{ClaimRequest, HeartbeatStatus, JobRecord, JobStore, Lease, StoreError};

/// What a [`RecordingStore`] has seen so far.
#[derive(Debug, Default)]
struct Calls {
    claims: Vec<(Vec<String>, usize)>,
    heartbeat_batches: Vec<usize>,
}

/// A store that forwards every call to `S` and records each claim's queues and limit
/// and each heartbeat's batch size, in call order. A call is recorded when it is made,
/// before `S` answers, so calls that fail are recorded too.
#[derive(Debug)]
pub struct RecordingStore<S> {
    inner: S,
    calls: Mutex<Calls>,
}

impl<S: JobStore> RecordingStore<S> {
    /// Wraps `inner`, with nothing recorded yet.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            calls: Mutex::new(Calls::default()),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The `(queues, limit)` of every claim so far, in order.
    pub fn claims(&self) -> Vec<(Vec<String>, usize)> {
        self.lock().claims.clone()
    }

    /// How many leases every heartbeat so far carried, in order.
    pub fn heartbeat_batches(&self) -> Vec<usize> {
        self.lock().heartbeat_batches.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl<S: JobStore> JobStore for RecordingStore<S> {
    // Every verb not written here goes to the inner store unchanged.
    fn delegate(&self) -> Option<&dyn JobStore> {
        Some(&self.inner)
    }

    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let claims = (request.queues.to_vec(), request.limit);
        self.lock().claims.push(claims);
        self.inner.claim(request, now).await
    }

    async fn heartbeat(
        &self,
        leases: &[Lease],
        lease_until: OffsetDateTime,
    ) -> Result<Vec<HeartbeatStatus>, StoreError> {
        self.lock().heartbeat_batches.push(leases.len());
        self.inner.heartbeat(leases, lease_until).await
    }
}
