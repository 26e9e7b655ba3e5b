//! [`FailingStore`]: wraps any store and makes chosen calls fail or stall, to test how
//! callers survive a store that errors (a lost connection, a locked file, a timeout) or
//! never answers (a network partition), and keeps
//! a [`LeaseEvent`] history of every lease change the store made, to check invariants
//! such as "no two leases on one job ever overlap" after the fact.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::schedule::{NewSchedule, ScheduleRecord};
use crate::{
    ClaimRequest, Enqueued, Firing, HeartbeatStatus, JobFilter, JobId, JobRecord, JobState,
    JobStore, Lease, NewJob, StoreError,
};

/// When a [`FailingStore`] injects a fault.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Faults {
    /// Never: every call goes through.
    None,
    /// Every call to these verbs (`"claim"`, `"heartbeat"`, `"complete"`, ...).
    Verbs(Vec<&'static str>),
    /// Each call, with probability `rate`, drawn from a generator seeded with `seed`
    /// (the same seed replays the same faults for the same call sequence).
    Random {
        /// The seed.
        seed: u64,
        /// The probability of a fault per call, 0..=1.
        rate: f64,
    },
}

/// Where a [`FailingStore`] holds a stalled call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stall {
    /// Before the wrapped store sees it: a request lost in a partition.
    Before,
    /// After the wrapped store made the change: an answer lost in a partition.
    After,
}

/// A lease change the wrapped store made (recorded when the inner call succeeded, even
/// if the caller was then told of an injected fault).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LeaseEvent {
    /// A claim leased the job.
    Claimed {
        /// The lease.
        lease: Lease,
        /// The attempt it started.
        attempt: u32,
        /// The claim's `now`.
        at: OffsetDateTime,
        /// The lease's end.
        until: OffsetDateTime,
    },
    /// A heartbeat extended the lease.
    Extended {
        /// The lease.
        lease: Lease,
        /// The lease's new end.
        until: OffsetDateTime,
    },
    /// The lease ended with a write: complete, retry, fail or release.
    Ended {
        /// The lease.
        lease: Lease,
        /// `"complete"`, `"retry"`, `"fail"` or `"release"`.
        verb: &'static str,
        /// The write's `now`.
        at: OffsetDateTime,
        /// When the job is due again (retry and release).
        run_at: Option<OffsetDateTime>,
    },
}

impl LeaseEvent {
    /// The lease it is about.
    pub fn lease(&self) -> Lease {
        match *self {
            LeaseEvent::Claimed { lease, .. }
            | LeaseEvent::Extended { lease, .. }
            | LeaseEvent::Ended { lease, .. } => lease,
        }
    }

    /// Where it falls in its lease's life: claimed, then extended, then ended.
    fn phase(&self) -> u8 {
        match self {
            LeaseEvent::Claimed { .. } => 0,
            LeaseEvent::Extended { .. } => 1,
            LeaseEvent::Ended { .. } => 2,
        }
    }
}

/// `history` ([`FailingStore::history`]) in the order the store made each job's
/// changes: by job, then by lease token, each lease claimed, then extended, then
/// ended (extensions in the order recorded).
///
/// The history itself is in the order the calls returned, which is not always the
/// store's: the calls of one group commit (the SQLite store's writer) return together
/// and their callers record in whatever order they wake, so a lease's end may come
/// after the next lease's claim. The store's own order follows from its fencing: once
/// a job's next lease is granted, nothing of the one before is accepted, so every
/// recorded change of a lease was made before the next lease's claim.
pub fn in_store_order(history: &[LeaseEvent]) -> Vec<LeaseEvent> {
    let mut ordered = history.to_vec();
    ordered.sort_by_key(|event| {
        let lease = event.lease();
        (lease.job_id, lease.token, event.phase())
    });
    ordered
}

#[derive(Debug)]
struct State {
    faults: Faults,
    rng: fastrand::Rng,
    /// Whether a fault lands after the inner call (the write happened, the caller
    /// hears an error: an ambiguous commit) rather than before it.
    after_write: bool,
    calls: HashMap<&'static str, u64>,
    injected: u64,
    history: Vec<LeaseEvent>,
    stalled: HashMap<&'static str, Stall>,
    permanent: bool,
}

/// A store that forwards to `S` and fails calls as [`Faults`] says, with
/// [`StoreError::Backend`] errors saying "injected fault"; it counts every call.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use leasehold::testing::failing::{FailingStore, Faults};
/// use leasehold::{JobStore, NewJob, testing::conformance::t};
/// use leasehold_memory::MemoryStore;
///
/// let store = FailingStore::new(MemoryStore::new());
/// store.set_faults(Faults::Verbs(vec!["enqueue"]));
/// let job = NewJob::new("k", serde_json::Value::Null, t(0)).unwrap();
/// assert!(store.enqueue(job, t(0)).await.is_err());
/// assert_eq!(store.calls("enqueue"), 1);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FailingStore<S> {
    inner: S,
    state: Arc<Mutex<State>>,
    unstalled: Arc<tokio::sync::Notify>,
}

impl<S: JobStore> FailingStore<S> {
    /// Wraps `inner`, with no faults yet.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            state: Arc::new(Mutex::new(State {
                faults: Faults::None,
                rng: fastrand::Rng::with_seed(0),
                after_write: false,
                calls: HashMap::new(),
                injected: 0,
                history: Vec::new(),
                stalled: HashMap::new(),
                permanent: false,
            })),
            unstalled: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Whether injected faults are [`StoreError::Permanent`] (a full disk, a read-only
    /// file) rather than transient [`StoreError::Backend`] errors.
    pub fn set_faults_permanent(&self, permanent: bool) {
        self.lock().permanent = permanent;
    }

    /// From now on, calls to `verb` wait (before or after the wrapped store runs them)
    /// until [`FailingStore::unstall`]: a store that stops answering, as one behind a
    /// network partition does. A caller that gives up drops its call.
    pub fn stall(&self, verb: &'static str, stall: Stall) {
        self.lock().stalled.insert(verb, stall);
    }

    /// Lets every stalled call go on, and stalls nothing more.
    pub fn unstall(&self) {
        self.lock().stalled.clear();
        self.unstalled.notify_waiters();
    }

    /// Waits while calls to `verb` are stalled at `stall`.
    async fn wait_while_stalled(&self, verb: &'static str, stall: Stall) {
        loop {
            let unstalled = self.unstalled.notified();
            if self.lock().stalled.get(verb) != Some(&stall) {
                return;
            }
            unstalled.await;
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// From now on, inject `faults`.
    pub fn set_faults(&self, faults: Faults) {
        let mut state = self.lock();
        if let Faults::Random { seed, .. } = faults {
            state.rng = fastrand::Rng::with_seed(seed);
        }
        state.faults = faults;
    }

    /// Whether a fault lands after the inner call ran (the change is made, the caller
    /// hears an error) instead of before it.
    pub fn set_fail_after_write(&self, after_write: bool) {
        self.lock().after_write = after_write;
    }

    /// How many times `verb` was called (faulted calls included).
    pub fn calls(&self, verb: &str) -> u64 {
        self.lock().calls.get(verb).copied().unwrap_or(0)
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> u64 {
        self.lock().injected
    }

    /// Every lease change the wrapped store made so far, in order.
    pub fn history(&self) -> Vec<LeaseEvent> {
        self.lock().history.clone()
    }

    fn record(&self, events: impl IntoIterator<Item = LeaseEvent>) {
        self.lock().history.extend(events);
    }

    /// Forwards a lease-ending write and records it when the store made it.
    async fn end<T, F>(
        &self,
        verb: &'static str,
        lease: Lease,
        at: OffsetDateTime,
        run_at: Option<OffsetDateTime>,
        call: F,
    ) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        self.call(verb, async {
            let result = call.await;
            if result.is_ok() {
                self.record([LeaseEvent::Ended {
                    lease,
                    verb,
                    at,
                    run_at,
                }]);
            }
            result
        })
        .await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the call; when it is to fail, the fault and whether it lands after the
    /// write.
    fn draw(&self, verb: &'static str) -> Option<(StoreError, bool)> {
        let mut state = self.lock();
        *state.calls.entry(verb).or_default() += 1;
        let fail = match &state.faults {
            Faults::None => false,
            Faults::Verbs(verbs) => verbs.contains(&verb),
            Faults::Random { rate, .. } => {
                let rate = *rate;
                state.rng.f64() < rate
            }
        };
        if fail {
            state.injected += 1;
        }
        fail.then(|| (fault(verb, state.permanent), state.after_write))
    }

    async fn call<T, F>(&self, verb: &'static str, call: F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        self.wait_while_stalled(verb, Stall::Before).await;
        let result = match self.draw(verb) {
            None => call.await,
            Some((fault, false)) => Err(fault),
            Some((fault, true)) => {
                let _ = call.await;
                Err(fault)
            }
        };
        self.wait_while_stalled(verb, Stall::After).await;
        result
    }
}

fn fault(verb: &str, permanent: bool) -> StoreError {
    let message = format!("injected fault in {verb}");
    if permanent {
        StoreError::permanent("injected permanent fault: an operator must act", message)
    } else {
        StoreError::backend(message)
    }
}

#[async_trait]
impl<S: JobStore> JobStore for FailingStore<S> {
    // Every verb below is counted and may fail; one added to the trait later passes
    // through to the inner store unchanged.
    fn delegate(&self) -> Option<&dyn JobStore> {
        Some(&self.inner)
    }

    async fn enqueue(&self, job: NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        self.call("enqueue", self.inner.enqueue(job, now)).await
    }
    async fn enqueue_many(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.call("enqueue_many", self.inner.enqueue_many(jobs, now))
            .await
    }
    async fn enqueue_with_dependencies(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let call = self.inner.enqueue_with_dependencies(jobs, now);
        self.call("enqueue_with_dependencies", call).await
    }
    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.call("claim", async {
            let claimed = self.inner.claim(request, now).await?;
            self.record(claimed.iter().map(|job| LeaseEvent::Claimed {
                lease: job.lease(),
                attempt: job.attempt,
                at: now,
                until: request.lease_until,
            }));
            Ok(claimed)
        })
        .await
    }
    async fn heartbeat(
        &self,
        leases: &[Lease],
        lease_until: OffsetDateTime,
    ) -> Result<Vec<HeartbeatStatus>, StoreError> {
        self.call("heartbeat", async {
            let answers = self.inner.heartbeat(leases, lease_until).await?;
            let extended = leases.iter().zip(&answers).filter_map(|(lease, answer)| {
                (*answer == HeartbeatStatus::Extended).then_some(LeaseEvent::Extended {
                    lease: *lease,
                    until: lease_until,
                })
            });
            self.record(extended);
            Ok(answers)
        })
        .await
    }
    async fn complete(&self, lease: Lease, now: OffsetDateTime) -> Result<(), StoreError> {
        self.end(
            "complete",
            lease,
            now,
            None,
            self.inner.complete(lease, now),
        )
        .await
    }
    async fn retry(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<JobState, StoreError> {
        let call = self.inner.retry(lease, run_at, error, now);
        self.end("retry", lease, now, Some(run_at), call).await
    }
    async fn complete_with_output(
        &self,
        lease: Lease,
        output: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let call = self.inner.complete_with_output(lease, output, now);
        self.end("complete", lease, now, None, call).await
    }
    async fn fail(&self, lease: Lease, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        self.end("fail", lease, now, None, self.inner.fail(lease, error, now))
            .await
    }
    async fn release(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let call = self.inner.release(lease, run_at, now);
        self.end("release", lease, now, Some(run_at), call).await
    }
    async fn cancel(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        self.call("cancel", self.inner.cancel(id, now)).await
    }
    async fn get(&self, id: JobId, now: OffsetDateTime) -> Result<Option<JobRecord>, StoreError> {
        self.call("get", self.inner.get(id, now)).await
    }
    async fn list(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.call("list", self.inner.list(filter, now)).await
    }
    async fn count(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.call("count", self.inner.count(filter, now)).await
    }
    async fn next_due(&self, queues: &[String]) -> Result<Option<OffsetDateTime>, StoreError> {
        self.call("next_due", self.inner.next_due(queues)).await
    }
    async fn prune(&self, before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.call("prune", self.inner.prune(before, limit)).await
    }
    async fn upsert_schedule(
        &self,
        schedule: NewSchedule,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let call = self.inner.upsert_schedule(schedule, next_fire_at, now);
        self.call("upsert_schedule", call).await
    }
    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        self.call("get_schedule", self.inner.get_schedule(name))
            .await
    }
    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.call("list_schedules", self.inner.list_schedules())
            .await
    }
    async fn due_schedules(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.call("due_schedules", self.inner.due_schedules(now, limit))
            .await
    }
    async fn fire_schedule(
        &self,
        firing: Firing<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.call("fire_schedule", self.inner.fire_schedule(firing, now))
            .await
    }
    async fn pause_schedule(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        self.call("pause_schedule", self.inner.pause_schedule(name, now))
            .await
    }
    async fn resume_schedule(
        &self,
        name: &str,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let call = self.inner.resume_schedule(name, next_fire_at, now);
        self.call("resume_schedule", call).await
    }
    async fn remove_schedule(&self, name: &str) -> Result<bool, StoreError> {
        self.call("remove_schedule", self.inner.remove_schedule(name))
            .await
    }
}
