//! Claiming ahead of free slots: the jobs a worker buffers are leased like running
//! ones, heartbeated, never run beyond the concurrency, given up when cancelled, and
//! given back at shutdown; `claim_ahead(0)` claims only for free slots.

use std::sync::Arc;
use std::time::Duration;

use leasehold::worker::Worker;
use leasehold::{EnqueueOptions, JobFilter, JobId, JobState, JobStore};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::world::{Gate, Gated, World, spawn_run, within};

/// A worker of concurrency 1 that claims up to `ahead` jobs beyond its slot.
fn worker(world: &World, gate: &Gate, ahead: usize) -> Worker {
    Worker::builder(&world.queue)
        .id("a")
        .queue("default", 1)
        .claim_ahead(ahead)
        .handler(gate.handler())
        // Only the enqueue signal and freed slots wake it: no poll during a test.
        .poll_interval(Duration::from_secs(3600))
        .max_poll_interval(Duration::from_secs(3600))
        .shutdown_grace(Duration::from_secs(10))
        .build()
        .expect("a valid worker")
}

async fn enqueue_gated(world: &World, n: usize) -> Vec<JobId> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(world.enqueue(&Gated, EnqueueOptions::new()).await);
    }
    ids
}

async fn count(world: &World, state: JobState) -> u64 {
    world
        .queue
        .count(&JobFilter::all().state(state))
        .await
        .expect("count works")
}

/// Waits until the store holds `n` jobs in `state`.
async fn until_stored(world: &World, state: JobState, n: u64) {
    within(async {
        while count(world, state).await != n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// A worker of concurrency 1 claiming `ahead` jobs ahead, running over `jobs` gated
/// jobs: its first job has started and `held` jobs are running in the store.
struct Scene {
    world: World,
    gate: Gate,
    started: mpsc::UnboundedReceiver<JobId>,
    worker: Worker,
    ids: Vec<JobId>,
    running: JoinHandle<()>,
}

impl Scene {
    async fn new(store: Arc<dyn JobStore>, ahead: usize, jobs: usize, held: u64) -> Self {
        let world = World::new(store);
        let (gate, mut started) = Gate::new();
        let worker = worker(&world, &gate, ahead);
        let ids = enqueue_gated(&world, jobs).await;
        let running = spawn_run(&worker);
        within(started.recv()).await.unwrap();
        until_stored(&world, JobState::Running, held).await;
        Self {
            world,
            gate,
            started,
            worker,
            ids,
            running,
        }
    }

    /// Lets `n` more runs through, waits until `completed` jobs are, and shuts down.
    async fn finish(self, n: usize, completed: u64) {
        for _ in 0..n {
            self.gate.open();
        }
        until_stored(&self.world, JobState::Completed, completed).await;
        self.worker.shutdown().await;
        within(self.running).await.unwrap();
    }
}

/// One claim takes the job for the free slot and four more into the buffer: five
/// jobs are running in the store, one handler runs, and each freed slot starts the
/// next buffered job, one at a time.
async fn claimed_ahead_jobs_wait_in_a_buffer_and_never_exceed_the_concurrency(
    store: Arc<dyn JobStore>,
) {
    let mut scene = Scene::new(store, 4, 6, 5).await;

    assert_eq!(scene.worker.running(), 1);
    assert!(scene.started.try_recv().is_err(), "one handler at a time");
    for id in &scene.ids[1..5] {
        scene.gate.open();
        assert_eq!(within(scene.started.recv()).await.unwrap(), *id);
        assert!(scene.started.try_recv().is_err(), "one handler at a time");
    }
    // The buffer fell to half (2 of 4): the last job was claimed ahead as well.
    scene.gate.open();
    assert_eq!(within(scene.started.recv()).await.unwrap(), scene.ids[5]);
    scene.finish(1, 6).await;
}

/// Shutdown lets the running job finish and gives the buffered ones back at once,
/// due now with their attempt returned, never having run.
async fn shutdown_gives_back_the_jobs_claimed_ahead_with_their_attempt(store: Arc<dyn JobStore>) {
    let mut scene = Scene::new(store, 4, 4, 4).await;

    let shutdown = tokio::spawn({
        let a = scene.worker.clone();
        async move { a.shutdown().await }
    });
    until_stored(&scene.world, JobState::Running, 1).await;
    scene.gate.open();
    within(shutdown).await.unwrap();

    assert_eq!(
        scene.world.get(scene.ids[0]).await.state,
        JobState::Completed
    );
    for id in &scene.ids[1..] {
        let job = scene.world.get(*id).await;
        assert_eq!((job.state, job.attempt), (JobState::Available, 0), "{id}");
    }
    assert!(scene.started.try_recv().is_err(), "no buffered job ran");
    scene.finish(0, 1).await;
}

/// Buffered jobs are under the same heartbeat as the running one: their leases are
/// extended together.
async fn jobs_claimed_ahead_are_heartbeated_with_the_running_ones(store: Arc<dyn JobStore>) {
    let scene = Scene::new(store, 2, 3, 3).await;
    let claimed_until = scene.world.get(scene.ids[2]).await.lease_until.unwrap();

    scene.world.clock.advance(Duration::from_secs(5));
    scene.worker.heartbeat().await.unwrap();

    for id in &scene.ids {
        let lease_until = scene.world.get(*id).await.lease_until.unwrap();
        assert_eq!(lease_until, claimed_until + Duration::from_secs(5), "{id}");
    }
    scene.finish(3, 3).await;
}

/// A buffered job cancelled in the store is given up at the next heartbeat and never
/// runs; the jobs behind it still do.
async fn a_buffered_job_cancelled_in_the_store_never_runs(store: Arc<dyn JobStore>) {
    let mut scene = Scene::new(store, 2, 3, 3).await;

    scene.world.queue.cancel(scene.ids[1]).await.unwrap();
    scene.worker.heartbeat().await.unwrap();
    scene.gate.open();

    assert_eq!(within(scene.started.recv()).await.unwrap(), scene.ids[2]);
    assert_eq!(
        scene.world.get(scene.ids[1]).await.state,
        JobState::Cancelled
    );
    scene.finish(1, 2).await;
}

/// `claim_ahead(0)` claims only for free slots: one job running, the rest available.
async fn claim_ahead_zero_claims_only_for_free_slots(store: Arc<dyn JobStore>) {
    let scene = Scene::new(store, 0, 3, 1).await;

    // Give a wrong extra claim the time to happen.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count(&scene.world, JobState::Running).await, 1);
    assert_eq!(count(&scene.world, JobState::Available).await, 2);
    scene.finish(3, 3).await;
}

worker_scenarios!(
    claimed_ahead_jobs_wait_in_a_buffer_and_never_exceed_the_concurrency,
    shutdown_gives_back_the_jobs_claimed_ahead_with_their_attempt,
    jobs_claimed_ahead_are_heartbeated_with_the_running_ones,
    a_buffered_job_cancelled_in_the_store_never_runs,
    claim_ahead_zero_claims_only_for_free_slots,
);
