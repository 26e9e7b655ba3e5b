//! The worker's behaviour, on every store: each scenario is a function over an
//! `Arc<dyn JobStore>`, and `worker_scenarios!` runs them all on one backend.
//!
//! Time is a `ManualClock` at fixed dates; the worker is stepped with `run_once` and
//! `heartbeat`, never by sleeping against a store. The only real-time waits are guard
//! timeouts that fail a hung test, and a 20 ms handler timeout.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use leasehold::retry::RetryPolicy;
use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::time::macros::datetime;
use leasehold::worker::{
    CancellationToken, JobContext, JobError, Outcome, RunReport, Worker, WorkerEvent,
};
use leasehold::{
    Clock, EnqueueOptions, Enqueued, HeartbeatStatus, Job, JobFilter, JobId, JobRecord, JobState,
    JobStore, Lease, ManualClock, NewJob, Queue, StoreError, async_trait,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};

// ---------------------------------------------------------------------------------
// Jobs, handlers and helpers
// ---------------------------------------------------------------------------------

/// Succeeds at once.
#[derive(Debug, Serialize, Deserialize)]
struct Echo {
    n: u32,
}
impl Job for Echo {
    const KIND: &'static str = "echo";
}

/// Fails (retryably) every time.
#[derive(Debug, Serialize, Deserialize)]
struct AlwaysFails;
impl Job for AlwaysFails {
    const KIND: &'static str = "always_fails";
}

/// Runs until the test opens its gate.
#[derive(Debug, Serialize, Deserialize)]
struct Gated;
impl Job for Gated {
    const KIND: &'static str = "gated";
}

/// Panics.
#[derive(Debug, Serialize, Deserialize)]
struct Panics;
impl Job for Panics {
    const KIND: &'static str = "panics";
}

/// Never finishes on its own.
#[derive(Debug, Serialize, Deserialize)]
struct Hangs;
impl Job for Hangs {
    const KIND: &'static str = "hangs";
}

fn t(seconds: i64) -> OffsetDateTime {
    datetime!(2000-01-01 0:00 UTC) + leasehold::time::Duration::seconds(seconds)
}

const GUARD: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test if it hangs.
async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, fut)
        .await
        .expect("the step finished in time")
}

struct World {
    store: Arc<dyn JobStore>,
    clock: ManualClock,
    queue: Queue,
}

impl World {
    fn new(store: Arc<dyn JobStore>) -> Self {
        let clock = ManualClock::new(t(0));
        let queue = Queue::with_clock(Arc::clone(&store), Arc::new(clock.clone()));
        Self {
            store,
            clock,
            queue,
        }
    }

    async fn get(&self, id: JobId) -> JobRecord {
        self.queue
            .get(id)
            .await
            .expect("get works")
            .expect("the job exists")
    }

    async fn enqueue<J: Job>(&self, job: &J, options: EnqueueOptions) -> JobId {
        self.queue
            .enqueue_with(job, options)
            .await
            .expect("enqueue works")
            .job
            .id
    }
}

/// A handler for [`Gated`] that reports when it starts, waits for the gate, and
/// counts how it ended.
#[derive(Clone)]
struct Gate {
    open: Arc<Semaphore>,
    started: mpsc::UnboundedSender<JobId>,
    finished: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

struct OnDrop(Arc<AtomicUsize>);
impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Gate {
    fn new() -> (Self, mpsc::UnboundedReceiver<JobId>) {
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
    fn handler(
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

    fn open(&self) {
        self.open.add_permits(1);
    }
}

async fn echo(_: Echo, _: JobContext) -> Result<(), JobError> {
    Ok(())
}

async fn always_fails(_: AlwaysFails, _: JobContext) -> Result<(), JobError> {
    Err(JobError::retryable("boom"))
}

async fn panics(_: Panics, _: JobContext) -> Result<(), JobError> {
    panic!("kaboom")
}

async fn hangs(_: Hangs, _: JobContext) -> Result<(), JobError> {
    std::future::pending().await
}

/// A plain worker on `world` with `Echo` and `Gated` (the gate of `gate`).
fn worker(world: &World, id: &str, gate: &Gate) -> Worker {
    Worker::builder(&world.queue)
        .id(id)
        .lease_duration(Duration::from_secs(30))
        .handler(echo)
        .handler(gate.handler())
        .build()
        .expect("a valid worker")
}

fn only(report: &RunReport) -> &Outcome {
    assert_eq!(report.outcomes.len(), 1, "{report:?}");
    &report.outcomes[0].outcome
}

// ---------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------

/// Every retry is due exactly `now + policy(attempt)`, to the microsecond, not a
/// microsecond earlier; the last attempt ends the job Failed with its error.
pub async fn retries_follow_the_policy_to_the_microsecond_and_end_failed(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let policy = RetryPolicy::exponential(Duration::from_micros(1_000_008))
        .max_delay(Duration::from_secs(3))
        .jitter(0.5)
        .random_source(Arc::new(|| 0.25));
    let worker = Worker::builder(&world.queue)
        .handler(always_fails)
        .retry_policy(policy)
        .build()
        .unwrap();
    let mut events = worker.subscribe();
    let id = world
        .enqueue(&AlwaysFails, EnqueueOptions::new().max_attempts(4))
        .await;
    // initial * 2^(n-1), capped at 3 s, times (1 - 0.5 * 0.25).
    let expected_micros = [875_007, 1_750_014, 2_625_000];

    for (attempt, micros) in (1..).zip(expected_micros) {
        let report = worker.run_once().await.unwrap();

        let now = world.clock.now();
        let run_at = now + leasehold::time::Duration::microseconds(micros);
        let delay = Duration::from_micros(u64::try_from(micros).unwrap());
        assert_eq!(
            only(&report),
            &Outcome::Retried {
                delay,
                run_at,
                error: "boom".into()
            }
        );
        let job = world.get(id).await;
        assert_eq!(job.state, JobState::Scheduled);
        assert_eq!(job.run_at, run_at);
        assert_eq!(job.attempt, attempt);
        assert_eq!(job.last_error.as_deref(), Some("boom"));
        world
            .clock
            .set(run_at - leasehold::time::Duration::microseconds(1));
        assert!(worker.run_once().await.unwrap().claimed.is_empty());
        world.clock.set(run_at);
    }
    let report = worker.run_once().await.unwrap();

    assert_eq!(
        only(&report),
        &Outcome::Failed {
            error: "boom".into()
        }
    );
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.attempt, 4);
    assert_eq!(job.last_error.as_deref(), Some("boom"));
    assert_eq!(job.finished_at, Some(world.clock.now()));
    let mut retried = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let WorkerEvent::Retried { delay, .. } = event {
            retried.push(delay);
        }
    }
    assert_eq!(
        retried,
        expected_micros.map(|m| Duration::from_micros(u64::try_from(m).unwrap()))
    );
}

/// Heartbeats carry a job far past its first lease; another worker never gets it.
pub async fn a_long_job_keeps_its_lease_through_heartbeats(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let (other_gate, _) = Gate::new();
    let a = worker(&world, "a", &gate);
    let b = worker(&world, "b", &other_gate);
    let id = world.enqueue(&Gated, EnqueueOptions::new()).await;
    let running = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    within(started.recv()).await;

    for _ in 0..9 {
        world.clock.advance(leasehold::time::Duration::seconds(10));
        within(a.heartbeat()).await.unwrap();

        assert!(b.run_once().await.unwrap().claimed.is_empty());
        let job = world.get(id).await;
        assert_eq!(job.state, JobState::Running);
        assert_eq!(job.worker.as_deref(), Some("a"));
        assert_eq!(
            job.lease_until,
            Some(world.clock.now() + leasehold::time::Duration::seconds(30))
        );
    }
    gate.open();
    let report = within(running).await.unwrap().unwrap();

    assert_eq!(only(&report), &Outcome::Completed);
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.attempt, 1);
}

/// A worker that stops heartbeating (a crash, a stall) loses the job once its lease
/// expires; the worker that takes over records the outcome, and the stale worker's
/// late completion is refused and dropped.
pub async fn a_worker_that_stops_heartbeating_loses_the_job_and_its_late_complete_is_rejected(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let (stalled_gate, mut started) = Gate::new();
    let (fast_gate, mut fast_started) = Gate::new();
    let a = worker(&world, "a", &stalled_gate);
    let b = worker(&world, "b", &fast_gate);
    let mut a_events = a.subscribe();
    let id = world.enqueue(&Gated, EnqueueOptions::new()).await;
    let stalled = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    within(started.recv()).await;
    let stale_lease = world.get(id).await.lease();

    world.clock.advance(leasehold::time::Duration::seconds(29));
    assert!(b.run_once().await.unwrap().claimed.is_empty());
    world.clock.advance(leasehold::time::Duration::seconds(1));
    fast_gate.open();
    let taken_over = b.run_once().await.unwrap();
    within(fast_started.recv()).await;
    stalled_gate.open();
    let late = within(stalled).await.unwrap().unwrap();

    assert_eq!(only(&taken_over), &Outcome::Completed);
    assert_eq!(taken_over.outcomes[0].job.attempt, 2);
    assert_eq!(only(&late), &Outcome::LeaseLost);
    assert_eq!(stalled_gate.finished.load(Ordering::SeqCst), 1);
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.attempt, 2);
    assert_eq!(job.worker.as_deref(), Some("b"));
    assert!(matches!(
        world.store.complete(stale_lease, world.clock.now()).await,
        Err(StoreError::LeaseLost(_))
    ));
    let mut saw_lease_lost = false;
    while let Ok(event) = a_events.try_recv() {
        saw_lease_lost |= matches!(event, WorkerEvent::LeaseLost(_));
    }
    assert!(saw_lease_lost);
}

/// A worker that re-claims its own job after its lease expired runs the new attempt
/// and stops the stale one (past its deadline); the two never mix.
pub async fn a_worker_that_reclaims_its_own_expired_job_keeps_the_attempts_apart(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, "a", &gate);
    let id = world.enqueue(&Gated, EnqueueOptions::new()).await;
    let stale = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    within(started.recv()).await;
    world.clock.advance(leasehold::time::Duration::seconds(30));
    let fresh = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    within(started.recv()).await;

    // The stale attempt is past its deadline: the heartbeat (or the worker's own
    // fence, whichever comes first) stops it; the fresh one runs on.
    within(a.heartbeat()).await.unwrap();
    let stale = within(stale).await.unwrap().unwrap();
    assert_eq!(a.running(), 1);
    gate.open();
    let fresh = within(fresh).await.unwrap().unwrap();

    assert_eq!(only(&stale), &Outcome::LeaseLost);
    assert_eq!(stale.outcomes[0].job.attempt, 1);
    assert_eq!(only(&fresh), &Outcome::Completed);
    assert_eq!(fresh.outcomes[0].job.attempt, 2);
    assert_eq!(a.running(), 0);
    let job = world.get(id).await;
    assert_eq!((job.state, job.attempt), (JobState::Completed, 2));
}

/// Panics and timeouts are retryable failures with clear messages; an unknown kind and
/// a payload that does not deserialize fail the job at once; the worker goes on.
pub async fn panics_timeouts_unknown_kinds_and_bad_payloads_are_recorded_and_the_worker_goes_on(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let worker = Worker::builder(&world.queue)
        .handler(echo)
        .handler(panics)
        .handler(hangs)
        .timeout_for(Hangs::KIND, Duration::from_millis(20))
        .retry_policy(RetryPolicy::constant(Duration::from_secs(1)))
        .build()
        .unwrap();
    let retry = EnqueueOptions::new().max_attempts(3);
    let panicking = world.enqueue(&Panics, retry.clone()).await;
    let hanging = world.enqueue(&Hangs, retry).await;
    let now = world.clock.now();
    let unknown = world
        .queue
        .enqueue_new(NewJob::new("nobody_handles_this", serde_json::json!({}), now).unwrap())
        .await
        .unwrap()
        .job
        .id;
    let bad_payload = world
        .queue
        .enqueue_new(NewJob::new(Echo::KIND, serde_json::json!("not an echo"), now).unwrap())
        .await
        .unwrap()
        .job
        .id;
    let fine = world.enqueue(&Echo { n: 1 }, EnqueueOptions::new()).await;

    let report = within(worker.run_once()).await.unwrap();

    assert_eq!(report.claimed.len(), 5);
    assert_eq!(
        (report.completed(), report.retried(), report.failed()),
        (1, 2, 2)
    );
    let panicked = world.get(panicking).await;
    assert_eq!(panicked.state, JobState::Scheduled);
    assert_eq!(panicked.last_error.as_deref(), Some("panicked: kaboom"));
    let hung = world.get(hanging).await;
    assert_eq!(hung.state, JobState::Scheduled);
    assert_eq!(hung.last_error.as_deref(), Some("timed out after 20ms"));
    let unknown = world.get(unknown).await;
    assert_eq!(unknown.state, JobState::Failed);
    assert_eq!(
        unknown.last_error.as_deref(),
        Some("no handler is registered for job kind \"nobody_handles_this\"")
    );
    let bad = world.get(bad_payload).await;
    assert_eq!(bad.state, JobState::Failed);
    assert!(
        bad.last_error
            .as_deref()
            .unwrap()
            .starts_with("payload does not deserialize as job kind \"echo\": "),
        "{:?}",
        bad.last_error
    );
    assert_eq!(world.get(fine).await.state, JobState::Completed);

    world.clock.advance(leasehold::time::Duration::seconds(1));
    let again = within(worker.run_once()).await.unwrap();

    assert_eq!(again.claimed.len(), 2);
    assert_eq!(again.retried(), 2);
    assert_eq!(world.get(panicking).await.attempt, 2);
    assert_eq!(world.get(hanging).await.attempt, 2);
}

/// Shutdown past its grace period cancels the running handler and releases the job,
/// due at once with its attempt given back; another worker then completes it.
pub async fn shutdown_releases_unfinished_jobs_and_another_worker_completes_them(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let (other_gate, _) = Gate::new();
    let a = Worker::builder(&world.queue)
        .id("a")
        .handler(gate.handler())
        .shutdown_grace(Duration::ZERO)
        .build()
        .unwrap();
    let b = worker(&world, "b", &other_gate);
    let id = world.enqueue(&Gated, EnqueueOptions::new()).await;
    let running = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    within(started.recv()).await;

    within(a.shutdown()).await;

    let report = within(running).await.unwrap().unwrap();
    assert_eq!(only(&report), &Outcome::Released);
    assert_eq!(gate.dropped.load(Ordering::SeqCst), 1);
    assert_eq!(gate.finished.load(Ordering::SeqCst), 0);
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Available);
    assert_eq!(job.attempt, 0);
    world.enqueue(&Gated, EnqueueOptions::new()).await;
    assert!(a.run_once().await.unwrap().claimed.is_empty());
    other_gate.open();
    other_gate.open();
    let taken = within(b.run_once()).await.unwrap();
    assert_eq!(taken.completed(), 2);
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.attempt, 1);
}

/// Within its grace period, shutdown waits for running jobs and records them.
pub async fn shutdown_lets_running_jobs_finish_within_the_grace_period(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, "a", &gate);
    let id = world.enqueue(&Gated, EnqueueOptions::new()).await;
    let running = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    within(started.recv()).await;

    let shutdown = tokio::spawn({
        let a = a.clone();
        async move { a.shutdown().await }
    });
    within(async {
        while !a.shutdown_token().is_cancelled() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(!shutdown.is_finished());
    gate.open();
    within(shutdown).await.unwrap();

    let report = within(running).await.unwrap().unwrap();
    assert_eq!(only(&report), &Outcome::Completed);
    assert_eq!(world.get(id).await.state, JobState::Completed);
}

/// `run` wakes at once when its queue enqueues and returns after shutdown.
pub async fn run_wakes_on_enqueue_and_returns_after_shutdown(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, _) = Gate::new();
    let a = Worker::builder(&world.queue)
        .id("a")
        .handler(echo)
        .handler(gate.handler())
        // So long that only the enqueue signal can explain a prompt pickup.
        .poll_interval(Duration::from_secs(3600))
        .max_poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let mut events = a.subscribe();
    let running = tokio::spawn({
        let a = a.clone();
        async move { a.run().await }
    });
    tokio::task::yield_now().await;

    let id = world.enqueue(&Echo { n: 7 }, EnqueueOptions::new()).await;

    loop {
        let event = within(events.recv()).await.unwrap();
        if let WorkerEvent::Completed(job) = event {
            assert_eq!(job.id, id);
            break;
        }
    }
    a.shutdown_token().cancel();
    within(running).await.unwrap();
    assert_eq!(world.get(id).await.state, JobState::Completed);
}

/// Cancelling a running job stops its handler at the next heartbeat, even a handler
/// that ignores its token; nothing more is recorded.
pub async fn cancel_of_a_running_job_stops_its_handler(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, "a", &gate);
    let mut events = a.subscribe();
    let id = world.enqueue(&Gated, EnqueueOptions::new()).await;
    let running = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    within(started.recv()).await;

    world.queue.cancel(id).await.unwrap();
    world.clock.advance(leasehold::time::Duration::seconds(10));
    within(a.heartbeat()).await.unwrap();

    let report = within(running).await.unwrap().unwrap();
    assert_eq!(only(&report), &Outcome::Cancelled);
    assert_eq!(gate.dropped.load(Ordering::SeqCst), 1);
    assert_eq!(gate.finished.load(Ordering::SeqCst), 0);
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(a.running(), 0);
    let mut saw_cancelled = false;
    while let Ok(event) = events.try_recv() {
        saw_cancelled |= matches!(event, WorkerEvent::Cancelled(_));
    }
    assert!(saw_cancelled);
}

/// A heartbeat the store fails is retried; while the lease holds the job runs on, and
/// at its deadline (the lease minus the margin) the job is abandoned without any write. Another worker completes
/// it, exactly once, and the first worker keeps working.
pub async fn a_store_failing_mid_heartbeat_neither_kills_the_worker_nor_double_records(
    store: Arc<dyn JobStore>,
) {
    let spy = Arc::new(SpyStore::new(store));
    let world = World::new(Arc::clone(&spy) as Arc<dyn JobStore>);
    let (gate, mut started) = Gate::new();
    let (other_gate, _) = Gate::new();
    let a = worker(&world, "a", &gate);
    let b = worker(&world, "b", &other_gate);
    let id = world.enqueue(&Gated, EnqueueOptions::new()).await;
    let running = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    within(started.recv()).await;

    spy.fail_heartbeats(true);
    world.clock.advance(leasehold::time::Duration::seconds(10));
    assert!(within(a.heartbeat()).await.is_err());
    assert_eq!(a.running(), 1);
    spy.fail_heartbeats(false);
    world.clock.advance(leasehold::time::Duration::seconds(10));
    within(a.heartbeat()).await.unwrap();
    assert_eq!(
        world.get(id).await.lease_until,
        Some(t(20) + leasehold::time::Duration::seconds(30))
    );
    spy.fail_heartbeats(true);
    // The lease runs to t(50); with the default margin (3 s of the 30 s lease) the
    // worker must stop the job at t(47) unless a heartbeat confirms it first.
    world.clock.advance(leasehold::time::Duration::seconds(26));
    assert!(within(a.heartbeat()).await.is_err());
    assert_eq!(a.running(), 1);
    assert!(b.run_once().await.unwrap().claimed.is_empty());
    world.clock.advance(leasehold::time::Duration::seconds(1));
    // The fence stops the job before the call: nothing is left to extend.
    within(a.heartbeat()).await.unwrap();

    let abandoned = within(running).await.unwrap().unwrap();
    assert_eq!(only(&abandoned), &Outcome::LeaseLost);
    assert_eq!(spy.writes.load(Ordering::SeqCst), 0);
    assert!(b.run_once().await.unwrap().claimed.is_empty());
    world.clock.advance(leasehold::time::Duration::seconds(3));
    spy.fail_heartbeats(false);
    other_gate.open();
    let taken = within(b.run_once()).await.unwrap();
    assert_eq!(only(&taken), &Outcome::Completed);
    assert_eq!(spy.writes.load(Ordering::SeqCst), 1);
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.attempt, 2);
    world.enqueue(&Echo { n: 2 }, EnqueueOptions::new()).await;
    assert_eq!(within(a.run_once()).await.unwrap().completed(), 1);
}

/// Each round claims up to the free slots of each queue in one call per queue (none
/// for a full queue), and one heartbeat call covers every running job.
pub async fn claims_fill_the_free_slots_with_one_call_per_queue_and_one_heartbeat_covers_all(
    store: Arc<dyn JobStore>,
) {
    let spy = Arc::new(SpyStore::new(store));
    let world = World::new(Arc::clone(&spy) as Arc<dyn JobStore>);
    let (gate, mut started) = Gate::new();
    let worker = Worker::builder(&world.queue)
        .queue("mail", 2)
        .queue("reports", 1)
        .handler(gate.handler())
        .build()
        .unwrap();
    for queue in ["mail", "mail", "mail", "reports", "reports"] {
        world
            .enqueue(&Gated, EnqueueOptions::new().queue(queue))
            .await;
    }
    let first = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run_once().await }
    });
    for _ in 0..3 {
        within(started.recv()).await;
    }

    let while_full = within(worker.run_once()).await.unwrap();
    world.clock.advance(leasehold::time::Duration::seconds(10));
    within(worker.heartbeat()).await.unwrap();

    assert!(while_full.claimed.is_empty());
    let first_round = vec![
        (vec!["mail".to_owned()], 2),
        (vec!["reports".to_owned()], 1),
    ];
    assert_eq!(*spy.claims.lock().unwrap(), first_round);
    assert_eq!(*spy.heartbeats.lock().unwrap(), vec![3]);
    for _ in 0..5 {
        gate.open();
    }
    assert_eq!(within(first).await.unwrap().unwrap().completed(), 3);
    assert_eq!(within(worker.run_once()).await.unwrap().completed(), 2);
    assert_eq!(spy.claims.lock().unwrap()[2..], first_round);
}

/// A snooze gives the job back for later without spending its attempt; a permanent
/// error ends the job `Failed` at once, attempts left or not.
pub async fn a_snooze_keeps_the_attempt_and_a_permanent_error_fails_at_once(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let calls = Arc::new(AtomicUsize::new(0));
    let worker = Worker::builder(&world.queue)
        .handler({
            let calls = Arc::clone(&calls);
            move |_: Echo, _: JobContext| {
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    if first {
                        Err(JobError::snooze(Duration::from_secs(5)))
                    } else {
                        Ok(())
                    }
                }
            }
        })
        .handler(|_: AlwaysFails, _: JobContext| async {
            Err(JobError::permanent("the account is closed"))
        })
        .build()
        .unwrap();
    let sleepy = world.enqueue(&Echo { n: 1 }, EnqueueOptions::new()).await;
    let doomed = world
        .enqueue(&AlwaysFails, EnqueueOptions::new().max_attempts(5))
        .await;

    let first = within(worker.run_once()).await.unwrap();

    let outcomes: Vec<&Outcome> = first.outcomes.iter().map(|o| &o.outcome).collect();
    assert!(outcomes.contains(&&Outcome::Snoozed { run_at: t(5) }));
    let closed = Outcome::Failed {
        error: "the account is closed".into(),
    };
    assert!(outcomes.contains(&&closed), "{outcomes:?}");
    let job = world.get(sleepy).await;
    assert_eq!(
        (job.state, job.run_at, job.attempt),
        (JobState::Scheduled, t(5), 0)
    );
    let job = world.get(doomed).await;
    assert_eq!((job.state, job.attempt), (JobState::Failed, 1));
    assert_eq!(job.last_error.as_deref(), Some("the account is closed"));
    world
        .clock
        .set(t(5) - leasehold::time::Duration::microseconds(1));
    assert!(worker.run_once().await.unwrap().claimed.is_empty());
    world.clock.set(t(5));
    assert_eq!(within(worker.run_once()).await.unwrap().completed(), 1);
    let job = world.get(sleepy).await;
    assert_eq!((job.state, job.attempt), (JobState::Completed, 1));
}

/// Delegates to a store; fails heartbeats on demand and records the calls a worker
/// makes: each claim's queues and limit, each heartbeat's batch size, and how many
/// outcome writes (complete, retry, fail, release).
struct SpyStore {
    inner: Arc<dyn JobStore>,
    failing: AtomicBool,
    writes: AtomicUsize,
    claims: Mutex<Vec<(Vec<String>, usize)>>,
    heartbeats: Mutex<Vec<usize>>,
}

impl SpyStore {
    fn new(inner: Arc<dyn JobStore>) -> Self {
        Self {
            inner,
            failing: AtomicBool::new(false),
            writes: AtomicUsize::new(0),
            claims: Mutex::new(Vec::new()),
            heartbeats: Mutex::new(Vec::new()),
        }
    }

    fn fail_heartbeats(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl JobStore for SpyStore {
    async fn enqueue(&self, job: NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        self.inner.enqueue(job, now).await
    }

    async fn enqueue_many(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.inner.enqueue_many(jobs, now).await
    }

    async fn claim(
        &self,
        queues: &[String],
        limit: usize,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.claims.lock().unwrap().push((queues.to_vec(), limit));
        self.inner
            .claim(queues, limit, worker, now, lease_until)
            .await
    }

    async fn heartbeat(
        &self,
        leases: &[Lease],
        lease_until: OffsetDateTime,
    ) -> Result<Vec<HeartbeatStatus>, StoreError> {
        self.heartbeats.lock().unwrap().push(leases.len());
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::backend("the disk is on fire"));
        }
        self.inner.heartbeat(leases, lease_until).await
    }

    async fn complete(&self, lease: Lease, now: OffsetDateTime) -> Result<(), StoreError> {
        self.wrote();
        self.inner.complete(lease, now).await
    }

    async fn retry(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<JobState, StoreError> {
        self.wrote();
        self.inner.retry(lease, run_at, error, now).await
    }

    async fn fail(&self, lease: Lease, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        self.wrote();
        self.inner.fail(lease, error, now).await
    }

    async fn release(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.wrote();
        self.inner.release(lease, run_at, now).await
    }

    async fn cancel(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        self.inner.cancel(id, now).await
    }

    async fn get(&self, id: JobId, now: OffsetDateTime) -> Result<Option<JobRecord>, StoreError> {
        self.inner.get(id, now).await
    }

    async fn list(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.inner.list(filter, now).await
    }

    async fn count(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.count(filter, now).await
    }

    async fn next_due(&self, queues: &[String]) -> Result<Option<OffsetDateTime>, StoreError> {
        self.inner.next_due(queues).await
    }

    async fn prune(&self, before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.inner.prune(before, limit).await
    }

    async fn upsert_schedule(
        &self,
        schedule: NewSchedule,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        self.inner
            .upsert_schedule(schedule, next_fire_at, now)
            .await
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        self.inner.get_schedule(name).await
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.inner.list_schedules().await
    }

    async fn due_schedules(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.inner.due_schedules(now, limit).await
    }

    async fn fire_schedule(
        &self,
        name: &str,
        slot: OffsetDateTime,
        next: Option<OffsetDateTime>,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.inner.fire_schedule(name, slot, next, jobs, now).await
    }

    async fn pause_schedule(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        self.inner.pause_schedule(name, now).await
    }

    async fn resume_schedule(
        &self,
        name: &str,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        self.inner.resume_schedule(name, next_fire_at, now).await
    }

    async fn remove_schedule(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.remove_schedule(name).await
    }
}

// ---------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------

#[test]
fn invalid_configuration_is_a_config_error() {
    let world = World::new(Arc::new(leasehold_memory::MemoryStore::new()));
    let builds = [
        Worker::builder(&world.queue).build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .queue("default", 0)
            .build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .handler(echo)
            .build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .lease_duration(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_secs(10))
            .build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .lease_duration(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_secs(6))
            .lease_margin(Duration::from_secs(4))
            .build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .timeout_for("no_such_kind", Duration::from_secs(1))
            .build(),
        Worker::builder(&world.queue)
            .handler(echo)
            .retry_policy(RetryPolicy::default().jitter(2.0))
            .build(),
    ];

    for built in builds {
        assert!(
            matches!(built, Err(leasehold::Error::Config(_))),
            "{built:?}"
        );
    }
}

// ---------------------------------------------------------------------------------
// Waiting (MemoryStore only: paused tokio time would starve sqlx's threads)
// ---------------------------------------------------------------------------------

/// Wall time that follows tokio's (paused) clock, from 2000-01-01.
#[derive(Debug)]
struct TokioClock {
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> OffsetDateTime {
        leasehold::clock::truncate_to_micros(t(0) + self.start.elapsed())
    }
}

/// An idle `run` backs its polling off (1, 2, 4, 8, 8, ... s), wakes at once on an
/// enqueue, and sleeps until a delayed job is due rather than until its next poll.
#[tokio::test(start_paused = true)]
async fn an_idle_worker_backs_off_wakes_on_enqueue_and_sleeps_until_the_next_due_job() {
    let spy = Arc::new(SpyStore::new(
        Arc::new(leasehold_memory::MemoryStore::new()),
    ));
    let clock = Arc::new(TokioClock {
        start: tokio::time::Instant::now(),
    });
    let queue = Queue::with_clock(Arc::clone(&spy) as Arc<dyn JobStore>, clock);
    let worker = Worker::builder(&queue)
        .handler(echo)
        .poll_interval(Duration::from_secs(1))
        .max_poll_interval(Duration::from_secs(8))
        .build()
        .unwrap();
    let mut events = worker.subscribe();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    let completed = |events: &mut tokio::sync::broadcast::Receiver<WorkerEvent>| {
        let mut events = events.resubscribe();
        async move {
            loop {
                if let WorkerEvent::Completed(job) = events.recv().await.unwrap() {
                    return job.id;
                }
            }
        }
    };

    tokio::time::sleep(Duration::from_secs(60)).await;
    // Rounds at 0, 1, 3, 7, 15, 23, 31, 39, 47 and 55 s.
    assert_eq!(spy.claims.lock().unwrap().len(), 10);

    let at_once = completed(&mut events);
    let start = tokio::time::Instant::now();
    let id = queue.enqueue(&Echo { n: 1 }).await.unwrap().job.id;
    assert_eq!(at_once.await, id);
    assert_eq!(start.elapsed(), Duration::ZERO);

    let when_due = completed(&mut events);
    let start = tokio::time::Instant::now();
    let delay = EnqueueOptions::new().delay(leasehold::time::Duration::seconds(5));
    let id = queue
        .enqueue_with(&Echo { n: 2 }, delay)
        .await
        .unwrap()
        .job
        .id;
    assert_eq!(when_due.await, id);
    // Polls at +0 (the enqueue), +1 and +3 s, then sleeps until the job is due at +5 s
    // instead of polling at +7 s.
    assert_eq!(start.elapsed(), Duration::from_secs(5));

    worker.shutdown().await;
    running.await.unwrap();
}

/// `run_until` stops on its signal, and a worker built with `shutdown_on` stops when
/// that token is cancelled.
#[tokio::test]
async fn run_until_and_shutdown_on_stop_the_loop() {
    let world = World::new(Arc::new(leasehold_memory::MemoryStore::new()));
    let a = Worker::builder(&world.queue).handler(echo).build().unwrap();
    let token = CancellationToken::new();
    let b = Worker::builder(&world.queue)
        .handler(echo)
        .shutdown_on(&token)
        .build()
        .unwrap();
    let (signal, stopped) = tokio::sync::oneshot::channel::<()>();
    let a_running = tokio::spawn({
        let a = a.clone();
        async move { a.run_until(stopped).await }
    });
    let b_running = tokio::spawn({
        let b = b.clone();
        async move { b.run().await }
    });

    signal.send(()).unwrap();
    token.cancel();

    within(a_running).await.unwrap();
    within(b_running).await.unwrap();
    assert!(a.shutdown_token().is_cancelled());
    assert!(b.shutdown_token().is_cancelled());
}

// ---------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------

/// Runs every scenario on the stores `$factory` makes: an async closure returning the
/// store and a guard that lives as long as the test (a temporary directory, say).
macro_rules! worker_scenarios {
    ($backend:ident, $factory:expr) => {
        mod $backend {
            use super::*;

            worker_scenarios!(@cases $factory;
                retries_follow_the_policy_to_the_microsecond_and_end_failed,
                a_long_job_keeps_its_lease_through_heartbeats,
                a_worker_that_stops_heartbeating_loses_the_job_and_its_late_complete_is_rejected,
                panics_timeouts_unknown_kinds_and_bad_payloads_are_recorded_and_the_worker_goes_on,
                shutdown_releases_unfinished_jobs_and_another_worker_completes_them,
                shutdown_lets_running_jobs_finish_within_the_grace_period,
                run_wakes_on_enqueue_and_returns_after_shutdown,
                cancel_of_a_running_job_stops_its_handler,
                a_store_failing_mid_heartbeat_neither_kills_the_worker_nor_double_records,
                claims_fill_the_free_slots_with_one_call_per_queue_and_one_heartbeat_covers_all,
                a_snooze_keeps_the_attempt_and_a_permanent_error_fails_at_once,
                a_worker_that_reclaims_its_own_expired_job_keeps_the_attempts_apart,
            );
        }
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some((store, _guard)) = ($factory)().await else {
                    return; // the backend is not available here (it said why)
                };
                super::$case(store).await;
            }
        )*
    };
}

worker_scenarios!(memory, || async {
    let store: Arc<dyn JobStore> = Arc::new(leasehold_memory::MemoryStore::new());
    Some((store, ()))
});

// A database file, as in production. No `tokio::time::pause` here: sqlx runs each
// connection on its own thread, which a paused runtime would not wait for.
worker_scenarios!(sqlite_file, || async {
    let dir = tempfile::tempdir().expect("a temporary directory can be made");
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let store: Arc<dyn JobStore> = Arc::new(
        leasehold_sqlite::SqliteStore::connect(&url)
            .await
            .expect("the store opens"),
    );
    Some((store, dir))
});

#[path = "support/postgres.rs"]
mod postgres_support;

// A fresh schema of the server LEASEHOLD_TEST_POSTGRES_URL names (skipped without it).
worker_scenarios!(postgres, postgres_support::open);
