//! Leases: heartbeats keep a job, a worker that stops heartbeating loses it, attempts of
//! one job never mix, and a cancelled job stops at its next heartbeat.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use leasehold::worker::{Outcome, WorkerEvent};
use leasehold::{Clock, JobState, JobStore, StoreError};

use crate::world::{Gate, World, only, spawn_round, within, worker};

/// Heartbeats carry a job far past its first lease; another worker never gets it.
async fn a_long_job_keeps_its_lease_through_heartbeats(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let (other_gate, _) = Gate::new();
    let a = worker(&world, "a", &gate);
    let b = worker(&world, "b", &other_gate);
    let (id, running) = world.start_gated(&a, &mut started).await;

    for _ in 0..9 {
        world.clock.advance(Duration::from_secs(10));
        within(a.heartbeat()).await.unwrap();

        assert!(b.run_once().await.unwrap().claimed.is_empty());
        let job = world.get(id).await;
        assert_eq!(job.state, JobState::Running);
        assert_eq!(job.worker.as_deref(), Some("a"));
        assert_eq!(
            job.lease_until,
            Some(world.clock.now() + Duration::from_secs(30))
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
async fn a_worker_that_stops_heartbeating_loses_the_job_and_its_late_complete_is_rejected(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let (stalled_gate, mut started) = Gate::new();
    let (fast_gate, mut fast_started) = Gate::new();
    let a = worker(&world, "a", &stalled_gate);
    let b = worker(&world, "b", &fast_gate);
    let mut a_events = a.subscribe();
    let (id, stalled) = world.start_gated(&a, &mut started).await;
    let stale_lease = world.get(id).await.lease();

    world.clock.advance(Duration::from_secs(29));
    assert!(b.run_once().await.unwrap().claimed.is_empty());
    world.clock.advance(Duration::from_secs(1));
    fast_gate.open();
    let taken_over = b.run_once().await.unwrap();
    within(fast_started.recv()).await;
    stalled_gate.open();
    let late = within(stalled).await.unwrap().unwrap();

    assert_eq!(only(&taken_over), &Outcome::Completed);
    assert_eq!(taken_over.outcomes[0].job.attempt, 2);
    assert_eq!(only(&late), &Outcome::LeaseLost);
    // Two right endings race: worker a stops its handler at the lease's deadline
    // (finished 0), or the handler returns first and its completion is refused
    // (finished 1). Under load either wins; the outcome is LeaseLost both ways.
    assert!(stalled_gate.finished.load(Ordering::SeqCst) <= 1);
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
async fn a_worker_that_reclaims_its_own_expired_job_keeps_the_attempts_apart(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, "a", &gate);
    let (id, stale) = world.start_gated(&a, &mut started).await;
    world.clock.advance(Duration::from_secs(30));
    let fresh = spawn_round(&a);
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

/// Cancelling a running job stops its handler at the next heartbeat, even a handler
/// that ignores its token; nothing more is recorded.
async fn cancel_of_a_running_job_stops_its_handler(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, "a", &gate);
    let mut events = a.subscribe();
    let (id, running) = world.start_gated(&a, &mut started).await;

    world.queue.cancel(id).await.unwrap();
    world.clock.advance(Duration::from_secs(10));
    within(a.heartbeat()).await.unwrap();

    let report = within(running).await.unwrap().unwrap();
    assert_eq!(only(&report), &Outcome::Cancelled);
    gate.assert_stopped_at_the_gate();
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(a.running(), 0);
    let mut saw_cancelled = false;
    while let Ok(event) = events.try_recv() {
        saw_cancelled |= matches!(event, WorkerEvent::Cancelled(_));
    }
    assert!(saw_cancelled);
}

worker_scenarios!(
    a_long_job_keeps_its_lease_through_heartbeats,
    a_worker_that_stops_heartbeating_loses_the_job_and_its_late_complete_is_rejected,
    a_worker_that_reclaims_its_own_expired_job_keeps_the_attempts_apart,
    cancel_of_a_running_job_stops_its_handler,
);
