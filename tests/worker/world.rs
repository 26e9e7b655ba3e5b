//! The jobs, handlers and test world the worker scenarios share.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use leasehold::time::OffsetDateTime;
use leasehold::worker::{JobContext, JobError, Outcome, RunReport, Worker, WorkerEvent};
use leasehold::{EnqueueOptions, Job, JobId, JobRecord, JobStore, ManualClock, Queue, async_trait};
use serde::{Deserialize, Serialize};
use time::macros::datetime;
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::task::JoinHandle;

/// Succeeds at once.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Echo {
    pub(crate) n: u32,
}
impl Job for Echo {
    const KIND: &'static str = "echo";
}

/// The handler of [`Echo`].
pub(crate) async fn echo(_: Echo, _: JobContext) -> Result<(), JobError> {
    Ok(())
}

/// Fails (retryably) every time.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AlwaysFails;
impl Job for AlwaysFails {
    const KIND: &'static str = "always_fails";
}

/// The handler of [`AlwaysFails`].
pub(crate) async fn always_fails(_: AlwaysFails, _: JobContext) -> Result<(), JobError> {
    Err(JobError::retryable("boom"))
}

/// Panics.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Panics;
impl Job for Panics {
    const KIND: &'static str = "panics";
}

/// The handler of [`Panics`].
pub(crate) async fn panics(_: Panics, _: JobContext) -> Result<(), JobError> {
    panic!("kaboom")
}

/// Never finishes on its own.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Hangs;
impl Job for Hangs {
    const KIND: &'static str = "hangs";
}

/// The handler of [`Hangs`].
pub(crate) async fn hangs(_: Hangs, _: JobContext) -> Result<(), JobError> {
    std::future::pending().await
}

/// Runs until the test opens its gate; its handler is a [`Gate`]'s.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Gated;
impl Job for Gated {
    const KIND: &'static str = "gated";
}

/// 2000-01-01 plus `seconds`.
pub(crate) fn t(seconds: i64) -> OffsetDateTime {
    datetime!(2000-01-01 0:00 UTC) + leasehold::time::Duration::seconds(seconds)
}

/// How long a step may take before the test fails as hung.
const GUARD: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test if it hangs.
pub(crate) async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, fut)
        .await
        .expect("the step finished in time")
}

/// A store, a `ManualClock` at `t(0)` and a queue on both.
pub(crate) struct World {
    pub(crate) store: Arc<dyn JobStore>,
    pub(crate) clock: ManualClock,
    pub(crate) queue: Queue,
}

impl World {
    pub(crate) fn new(store: Arc<dyn JobStore>) -> Self {
        let clock = ManualClock::new(t(0));
        let queue = Queue::with_clock(Arc::clone(&store), Arc::new(clock.clone()));
        Self {
            store,
            clock,
            queue,
        }
    }

    /// The job, which must exist.
    pub(crate) async fn get(&self, id: JobId) -> JobRecord {
        self.queue
            .get(id)
            .await
            .expect("get works")
            .expect("the job exists")
    }

    /// Enqueues `job`; returns its id.
    pub(crate) async fn enqueue<J: Job>(&self, job: &J, options: EnqueueOptions) -> JobId {
        self.queue
            .enqueue_with(job, options)
            .await
            .expect("enqueue works")
            .job
            .id
    }

    /// Enqueues a [`Gated`] job and spawns a round of `worker`; returns the job's id and
    /// the round once `started` (the receiver of the worker's [`Gate`]) reports its run.
    pub(crate) async fn start_gated(
        &self,
        worker: &Worker,
        started: &mut mpsc::UnboundedReceiver<JobId>,
    ) -> (JobId, Round) {
        let id = self.enqueue(&Gated, EnqueueOptions::new()).await;
        let round = spawn_round(worker);
        within(started.recv()).await;
        (id, round)
    }
}

/// A spawned `run_once`.
pub(crate) type Round = JoinHandle<Result<RunReport, leasehold::Error>>;

/// Spawns one round (`run_once`) of `worker`.
pub(crate) fn spawn_round(worker: &Worker) -> Round {
    let worker = worker.clone();
    tokio::spawn(async move { worker.run_once().await })
}

/// A handler for [`Gated`] that reports when it starts, waits for the gate, and
/// counts how it ended.
#[derive(Clone)]
pub(crate) struct Gate {
    open: Arc<Semaphore>,
    started: mpsc::UnboundedSender<JobId>,
    /// How many runs passed the gate and returned.
    pub(crate) finished: Arc<AtomicUsize>,
    /// How many runs ended, finished or stopped.
    pub(crate) dropped: Arc<AtomicUsize>,
}

/// Counts a drop.
struct OnDrop(Arc<AtomicUsize>);
impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Gate {
    /// A closed gate, and the ids of the jobs whose runs start.
    pub(crate) fn new() -> (Self, mpsc::UnboundedReceiver<JobId>) {
        let (started, rx) = mpsc::unbounded_channel();
        let gate = Self {
            open: Arc::new(Semaphore::new(0)),
            started,
            finished: Arc::new(AtomicUsize::new(0)),
            dropped: Arc::new(AtomicUsize::new(0)),
        };
        (gate, rx)
    }

    /// The handler ignores its cancellation token on purpose: the worker must stop it.
    pub(crate) fn handler(
        &self,
    ) -> impl Fn(Gated, JobContext) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync + 'static
    {
        let gate = self.clone();
        move |_, ctx| {
            let gate = gate.clone();
            Box::pin(async move {
                let _dropped = OnDrop(Arc::clone(&gate.dropped));
                gate.started.send(ctx.id()).ok();
                gate.open.acquire().await?.forget();
                gate.finished.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        }
    }

    /// Lets one run through.
    pub(crate) fn open(&self) {
        self.open.add_permits(1);
    }

    /// Asserts that the one run this gate held was stopped before it passed the gate.
    #[track_caller]
    pub(crate) fn assert_stopped_at_the_gate(&self) {
        assert_eq!(self.dropped.load(Ordering::SeqCst), 1);
        assert_eq!(self.finished.load(Ordering::SeqCst), 0);
    }
}

/// Runs `worker` in a task until it is shut down.
pub(crate) fn spawn_run(worker: &Worker) -> JoinHandle<()> {
    let worker = worker.clone();
    tokio::spawn(async move { worker.run().await })
}

/// Subscribes to `worker`'s events, then runs it in a task until it is shut down: the
/// events of every job it runs, and its task.
pub(crate) fn spawn_run_watched(
    worker: &Worker,
) -> (broadcast::Receiver<WorkerEvent>, JoinHandle<()>) {
    let events = worker.subscribe();
    (events, spawn_run(worker))
}

/// A plain worker on `world` with `Echo` and `Gated` (the gate of `gate`).
pub(crate) fn worker(world: &World, id: &str, gate: &Gate) -> Worker {
    Worker::builder(&world.queue)
        .id(id)
        .lease_duration(Duration::from_secs(30))
        .handler(echo)
        .handler(gate.handler())
        .build()
        .expect("a valid worker")
}

/// The one outcome of `report`.
pub(crate) fn only(report: &RunReport) -> &Outcome {
    assert_eq!(report.outcomes.len(), 1, "{report:?}");
    &report.outcomes[0].outcome
}

/// A scenario's store as a store of its own type, for the test doubles to wrap (they
/// take a `JobStore` by value, which `Arc<dyn JobStore>` is not): every verb forwards.
pub(crate) struct DynStore(pub(crate) Arc<dyn JobStore>);

#[async_trait]
impl JobStore for DynStore {
    fn delegate(&self) -> Option<&dyn JobStore> {
        Some(self.0.as_ref())
    }
}
