//! What the worker asks of its store (one claim per queue, one heartbeat for every running
//! job), and how it survives a store whose calls fail.

use std::sync::Arc;
use std::time::Duration;

use leasehold::testing::failing::{FailingStore, Faults};
use leasehold::testing::recording::RecordingStore;
use leasehold::worker::{Outcome, Worker};
use leasehold::{EnqueueOptions, JobState, JobStore};

use crate::world::{DynStore, Echo, Gate, Gated, World, only, t, within, worker};

/// A heartbeat the store fails is retried; while the lease holds the job runs on, and
/// at its deadline (the lease minus the margin) the job is abandoned without any
/// write. Another worker completes it, exactly once, and the first worker keeps
/// working.
async fn a_store_failing_mid_heartbeat_neither_kills_the_worker_nor_double_records(
    store: Arc<dyn JobStore>,
) {
    let failing = Arc::new(FailingStore::new(DynStore(store)));
    let world = World::new(Arc::clone(&failing) as Arc<dyn JobStore>);
    let (gate, mut started) = Gate::new();
    let (other_gate, _) = Gate::new();
    let a = worker(&world, "a", &gate);
    let b = worker(&world, "b", &other_gate);
    let (id, running) = world.start_gated(&a, &mut started).await;

    failing.set_faults(Faults::Verbs(vec!["heartbeat"]));
    world.clock.advance(Duration::from_secs(10));
    assert!(within(a.heartbeat()).await.is_err());
    assert_eq!(a.running(), 1);
    failing.set_faults(Faults::None);
    world.clock.advance(Duration::from_secs(10));
    within(a.heartbeat()).await.unwrap();
    assert_eq!(
        world.get(id).await.lease_until,
        Some(t(20) + Duration::from_secs(30))
    );
    failing.set_faults(Faults::Verbs(vec!["heartbeat"]));
    // The lease runs to t(50); with the default margin (3 s of the 30 s lease) the
    // worker must stop the job at t(47) unless a heartbeat confirms it first.
    world.clock.advance(Duration::from_secs(26));
    assert!(within(a.heartbeat()).await.is_err());
    assert_eq!(a.running(), 1);
    assert!(b.run_once().await.unwrap().claimed.is_empty());
    world.clock.advance(Duration::from_secs(1));
    // The fence stops the job before the call: nothing is left to extend.
    within(a.heartbeat()).await.unwrap();

    let abandoned = within(running).await.unwrap().unwrap();
    assert_eq!(only(&abandoned), &Outcome::LeaseLost);
    assert_eq!(outcome_writes(&failing), 0);
    assert!(b.run_once().await.unwrap().claimed.is_empty());
    world.clock.advance(Duration::from_secs(3));
    failing.set_faults(Faults::None);
    other_gate.open();
    let taken = within(b.run_once()).await.unwrap();
    assert_eq!(only(&taken), &Outcome::Completed);
    assert_eq!(outcome_writes(&failing), 1);
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.attempt, 2);
    world.enqueue(&Echo { n: 2 }, EnqueueOptions::new()).await;
    assert_eq!(within(a.run_once()).await.unwrap().completed(), 1);
}

/// How many outcome writes (complete, retry, fail, release) the worker asked for.
fn outcome_writes(store: &FailingStore<DynStore>) -> u64 {
    ["complete", "retry", "fail", "release"]
        .map(|verb| store.calls(verb))
        .iter()
        .sum()
}

/// Each round claims up to the free slots of each queue in one call per queue (none
/// for a full queue), and one heartbeat call covers every running job.
async fn claims_fill_the_free_slots_with_one_call_per_queue_and_one_heartbeat_covers_all(
    store: Arc<dyn JobStore>,
) {
    let recording = Arc::new(RecordingStore::new(DynStore(store)));
    let world = World::new(Arc::clone(&recording) as Arc<dyn JobStore>);
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
    world.clock.advance(Duration::from_secs(10));
    within(worker.heartbeat()).await.unwrap();

    assert!(while_full.claimed.is_empty());
    let first_round = vec![
        (vec!["mail".to_owned()], 2),
        (vec!["reports".to_owned()], 1),
    ];
    assert_eq!(recording.claims(), first_round);
    assert_eq!(recording.heartbeat_batches(), vec![3]);
    for _ in 0..5 {
        gate.open();
    }
    assert_eq!(within(first).await.unwrap().unwrap().completed(), 3);
    assert_eq!(within(worker.run_once()).await.unwrap().completed(), 2);
    assert_eq!(recording.claims()[2..], first_round);
}

worker_scenarios!(
    a_store_failing_mid_heartbeat_neither_kills_the_worker_nor_double_records,
    claims_fill_the_free_slots_with_one_call_per_queue_and_one_heartbeat_covers_all,
);
