//! Claiming ahead of free slots: the jobs a worker buffers are leased like running
//! ones, heartbeated, never run beyond the concurrency, given up when cancelled, and
//! given back at shutdown; `claim_ahead(0)` claims only for free slots.

use std::sync::Arc;
use std::time::Duration;

use leasehold::worker::Worker;
use leasehold::{EnqueueOptions, JobFilter, JobId, JobState, JobStore};

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

/// One claim takes the job for the free slot and four more into the buffer: five
/// jobs are running in the store, one handler runs, and each freed slot starts the
/// next buffered job, one at a time.
async fn claimed_ahead_jobs_wait_in_a_buffer_and_never_exceed_the_concurrency(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, &gate, 4);
    let ids = enqueue_gated(&world, 6).await;

    let running = spawn_run(&a);
    let first = within(started.recv()).await.unwrap();
    until_stored(&world, JobState::Running, 5).await;

    assert_eq!(first, ids[0]);
    assert_eq!(a.running(), 1);
    assert!(started.try_recv().is_err(), "one handler at a time");
    for id in &ids[1..5] {
        gate.open();
        assert_eq!(within(started.recv()).await.unwrap(), *id);
        assert!(started.try_recv().is_err(), "one handler at a time");
    }
    // The buffer fell to half (2 of 4): the last job was claimed ahead as well.
    gate.open();
    assert_eq!(within(started.recv()).await.unwrap(), ids[5]);
    gate.open();
    until_stored(&world, JobState::Completed, 6).await;
    a.shutdown().await;
    within(running).await.unwrap();
}

/// Shutdown lets the running job finish and gives the buffered ones back at once,
/// due now with their attempt returned, never having run.
async fn shutdown_gives_back_the_jobs_claimed_ahead_with_their_attempt(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, &gate, 4);
    let ids = enqueue_gated(&world, 4).await;
    let running = spawn_run(&a);
    within(started.recv()).await.unwrap();
    until_stored(&world, JobState::Running, 4).await;

    let shutdown = tokio::spawn({
        let a = a.clone();
        async move { a.shutdown().await }
    });
    until_stored(&world, JobState::Running, 1).await;
    gate.open();
    within(shutdown).await.unwrap();
    within(running).await.unwrap();

    assert_eq!(world.get(ids[0]).await.state, JobState::Completed);
    for id in &ids[1..] {
        let job = world.get(*id).await;
        assert_eq!((job.state, job.attempt), (JobState::Available, 0), "{id}");
    }
    assert!(started.try_recv().is_err(), "no buffered job ran");
}

/// Buffered jobs are under the same heartbeat as the running one: their leases are
/// extended together.
async fn jobs_claimed_ahead_are_heartbeated_with_the_running_ones(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, &gate, 2);
    let ids = enqueue_gated(&world, 3).await;
    let running = spawn_run(&a);
    within(started.recv()).await.unwrap();
    until_stored(&world, JobState::Running, 3).await;
    let claimed_until = world.get(ids[2]).await.lease_until.unwrap();

    world.clock.advance(Duration::from_secs(5));
    a.heartbeat().await.unwrap();

    for id in &ids {
        let lease_until = world.get(*id).await.lease_until.unwrap();
        assert_eq!(lease_until, claimed_until + Duration::from_secs(5), "{id}");
    }
    for _ in 0..3 {
        gate.open();
    }
    until_stored(&world, JobState::Completed, 3).await;
    a.shutdown().await;
    within(running).await.unwrap();
}

/// A buffered job cancelled in the store is given up at the next heartbeat and never
/// runs; the jobs behind it still do.
async fn a_buffered_job_cancelled_in_the_store_never_runs(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, &gate, 2);
    let ids = enqueue_gated(&world, 3).await;
    let running = spawn_run(&a);
    within(started.recv()).await.unwrap();
    until_stored(&world, JobState::Running, 3).await;

    world.queue.cancel(ids[1]).await.unwrap();
    a.heartbeat().await.unwrap();
    gate.open();

    assert_eq!(within(started.recv()).await.unwrap(), ids[2]);
    gate.open();
    until_stored(&world, JobState::Completed, 2).await;
    assert_eq!(world.get(ids[1]).await.state, JobState::Cancelled);
    a.shutdown().await;
    within(running).await.unwrap();
}

/// `claim_ahead(0)` claims only for free slots: one job running, the rest available.
async fn claim_ahead_zero_claims_only_for_free_slots(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, &gate, 0);
    enqueue_gated(&world, 3).await;
    let running = spawn_run(&a);
    within(started.recv()).await.unwrap();

    // Give a wrong extra claim the time to happen.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count(&world, JobState::Running).await, 1);
    assert_eq!(count(&world, JobState::Available).await, 2);
    for _ in 0..3 {
        gate.open();
    }
    until_stored(&world, JobState::Completed, 3).await;
    a.shutdown().await;
    within(running).await.unwrap();
}

worker_scenarios!(
    claimed_ahead_jobs_wait_in_a_buffer_and_never_exceed_the_concurrency,
    shutdown_gives_back_the_jobs_claimed_ahead_with_their_attempt,
    jobs_claimed_ahead_are_heartbeated_with_the_running_ones,
    a_buffered_job_cancelled_in_the_store_never_runs,
    claim_ahead_zero_claims_only_for_free_slots,
);
