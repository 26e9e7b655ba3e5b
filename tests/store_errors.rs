//! How a worker treats a failing store: a transient error is logged once (as a warning)
//! and retried on the idle backoff; an error that needs an operator
//! (`StoreError::Permanent`: a full disk, a read-only file) is logged once as an error
//! and retried only at the max poll interval, never at the poll rate. A heartbeat that
//! takes more than a third of the lease is logged as a warning.

use std::sync::Arc;
use std::time::Duration;

use leasehold::testing::failing::{FailingStore, Faults, Stall};
use leasehold::testing::observe::CapturedLogs;
use leasehold::worker::{JobContext, Worker};
use leasehold::{Job, Queue};
use leasehold_memory::MemoryStore;
use serde::{Deserialize, Serialize};
use tracing::Level;

#[derive(Debug, Serialize, Deserialize)]
struct Noop;
impl Job for Noop {
    const KIND: &'static str = "noop";
}

/// A queue over a failing memory store, with a current-thread runtime (so every event
/// reaches the capturing subscriber, set on this thread while the harness lives).
struct Harness {
    events: CapturedLogs,
    runtime: tokio::runtime::Runtime,
    store: FailingStore<MemoryStore>,
    queue: Queue,
    _default: tracing::subscriber::DefaultGuard,
}

impl Harness {
    fn new() -> Self {
        let events = CapturedLogs::default();
        let default = tracing::subscriber::set_default(events.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = FailingStore::new(MemoryStore::new());
        let queue = Queue::new(Arc::new(store.clone()));
        Self {
            events,
            runtime,
            store,
            queue,
            _default: default,
        }
    }
}

/// Runs a worker whose every claim fails for `run_for`; returns the claim calls and the
/// captured events.
fn run_with_failing_claims(permanent: bool, run_for: Duration) -> (u64, CapturedLogs) {
    let harness = Harness::new();
    harness.store.set_faults(Faults::Verbs(vec!["claim"]));
    harness.store.set_faults_permanent(permanent);
    let worker = Worker::builder(&harness.queue)
        .handler(|_: Noop, _: JobContext| async { Ok(()) })
        .poll_interval(Duration::from_millis(10))
        .max_poll_interval(Duration::from_millis(400))
        .build()
        .unwrap();
    harness.runtime.block_on(async {
        worker.run_until(tokio::time::sleep(run_for)).await;
    });
    (harness.store.calls("claim"), harness.events)
}

#[test]
fn a_failed_claim_is_logged_once_as_a_warning() {
    let (claims, events) = run_with_failing_claims(false, Duration::from_millis(300));

    let logged = events.levels_of("claim");
    assert!(claims >= 2, "the worker kept trying ({claims} claims)");
    assert_eq!(
        logged.len() as u64,
        claims,
        "one log line per failed claim: {logged:?}"
    );
    assert!(logged.iter().all(|level| *level == Level::WARN));
}

#[test]
fn a_permanent_store_error_is_logged_as_an_error_and_retried_at_the_max_poll_interval() {
    let run_for = Duration::from_millis(1_000);

    let (permanent_claims, events) = run_with_failing_claims(true, run_for);
    let (transient_claims, _) = run_with_failing_claims(false, run_for);

    // Permanent: at 0, 400 and 800 ms. Transient: the poll doubles from 10 ms, so
    // 0, 10, 30, 70, 150, 310, 710 ms.
    assert!(
        permanent_claims <= 4,
        "a permanent error is retried at the max poll interval, not {permanent_claims} times in {run_for:?}"
    );
    assert!(
        transient_claims >= 6,
        "a transient error is retried on the idle backoff ({transient_claims} claims)"
    );
    let logged = events.levels_of("claim");
    assert_eq!(logged.len() as u64, permanent_claims, "{logged:?}");
    assert!(logged.iter().all(|level| *level == Level::ERROR));
    println!(
        "in {run_for:?}: {permanent_claims} claims on a permanent error, {transient_claims} on a transient one"
    );
}

#[derive(Debug, Serialize, Deserialize)]
struct Sleeps;
impl Job for Sleeps {
    const KIND: &'static str = "sleeps";
}

#[test]
fn a_heartbeat_slower_than_a_third_of_the_lease_logs_a_warning() {
    let harness = Harness::new();
    let worker = Worker::builder(&harness.queue)
        .handler(|_: Sleeps, _: JobContext| async {
            tokio::time::sleep(Duration::from_millis(900)).await;
        })
        .lease_duration(Duration::from_millis(600))
        .heartbeat_interval(Duration::from_millis(100))
        .build()
        .unwrap();

    let report = harness.runtime.block_on(async {
        harness.queue.enqueue(&Sleeps).await.unwrap();
        let running = tokio::spawn({
            let worker = worker.clone();
            async move { worker.run_once().await }
        });
        tokio::time::sleep(Duration::from_millis(150)).await;
        // Slower than 200 ms (a third of the lease), faster than the 540 ms deadline.
        harness.store.stall("heartbeat", Stall::Before);
        tokio::time::sleep(Duration::from_millis(300)).await;
        harness.store.unstall();
        running.await.unwrap().unwrap()
    });

    assert_eq!(report.completed(), 1, "the job kept its lease");
    let warned = harness.events.levels_of("more than a third of the lease");
    assert!(!warned.is_empty(), "the slow heartbeat was logged");
    assert!(warned.iter().all(|level| *level == Level::WARN));
}
