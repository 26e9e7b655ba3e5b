//! Wake-ups across store handles (and so across processes and machines): an enqueue
//! through one store changes the counter another store's subscribers watch, once the
//! enqueue commits; and a worker given that counter runs a job enqueued elsewhere
//! long before its next poll.

mod support;

use std::sync::Arc;
use std::time::Duration;

use leasehold::testing::claim_default;
use leasehold::testing::conformance::t;
use leasehold::worker::Worker;
use leasehold::{EnqueueOptions, Job, JobFilter, JobState, JobStore, NewJob, Queue, SystemClock};
use leasehold_postgres::{PostgresStore, PostgresStoreOptions};
use leasehold_sql::TransactionalEnqueue;
use serde::{Deserialize, Serialize};
use support::{FreshSchema, test_schema};
use tokio::sync::watch;

/// Far longer than any wake-up takes; a guard so a broken test fails, not hangs.
const PATIENCE: Duration = Duration::from_secs(20);

fn job(kind: &str) -> NewJob {
    NewJob::new(kind, serde_json::json!({"n": 1}), t(0)).expect("a valid job")
}

async fn changed(receiver: &mut watch::Receiver<u64>, within: Duration) -> bool {
    matches!(
        tokio::time::timeout(within, receiver.changed()).await,
        Ok(Ok(()))
    )
}

/// A pool of one connection, and a short wait for it: were the listener to hold that
/// connection, the store's calls would fail.
fn one_connection_and_a_short_wait(options: PostgresStoreOptions) -> PostgresStoreOptions {
    options
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
}

/// A subscription to `store`'s enqueue counter, once its listener is connected (the
/// counter's first change).
async fn connected_subscription(store: &PostgresStore) -> watch::Receiver<u64> {
    let mut receiver = store.subscribe_enqueued();
    assert!(
        changed(&mut receiver, PATIENCE).await,
        "the counter changes once the listener is connected"
    );
    receiver
}

/// Two independent stores (two pools, as two processes would have) on one schema.
async fn two_stores(db: &FreshSchema) -> (PostgresStore, PostgresStore) {
    (db.open().await, db.open().await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_through_one_store_wakes_another_stores_subscribers() {
    let Some(db) = test_schema() else { return };
    let (listening, enqueuing) = two_stores(&db).await;
    let mut woken = connected_subscription(&listening).await;
    let quiet = !changed(&mut woken, Duration::from_millis(300)).await;

    enqueuing.enqueue(job("wake"), t(0)).await.unwrap();

    assert!(quiet, "nothing wakes subscribers while nothing is enqueued");
    assert!(
        changed(&mut woken, PATIENCE).await,
        "the other store's enqueue woke this store's subscriber"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_enqueues_is_one_change_and_a_rollback_wakes_nobody() {
    let Some(db) = test_schema() else { return };
    let (listening, enqueuing) = two_stores(&db).await;
    let mut woken = connected_subscription(&listening).await;

    let mut tx = enqueuing.pool().begin().await.unwrap();
    enqueuing
        .enqueue_in(&mut tx, &Ping, EnqueueOptions::new(), t(0))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let after_rollback = changed(&mut woken, Duration::from_millis(500)).await;
    let burst: Vec<NewJob> = (0..200).map(|i| job(&format!("k{i}"))).collect();
    enqueuing.enqueue_many(burst, t(0)).await.unwrap();
    let after_burst = changed(&mut woken, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = *woken.borrow_and_update();
    let again = changed(&mut woken, Duration::from_millis(300)).await;

    assert!(!after_rollback, "a rolled back enqueue notifies nobody");
    assert!(after_burst, "the committed batch wakes the subscriber");
    assert!(
        !again,
        "the batch into one queue was one notification (counter at {seen})"
    );
}

#[derive(Debug, Serialize, Deserialize)]
struct Ping;
impl Job for Ping {
    const KIND: &'static str = "ping";
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_wakes_for_a_job_enqueued_through_another_store() {
    let Some(db) = test_schema() else { return };
    let (working, enqueuing) = two_stores(&db).await;
    let _connected = connected_subscription(&working).await;
    let queue = Queue::with_clock(Arc::new(working.clone()), Arc::new(SystemClock));
    let worker = Worker::builder(&queue)
        .enqueue_signal(working.subscribe_enqueued())
        // Polling alone would take a minute: only the notification can be in time.
        .poll_interval(Duration::from_secs(60))
        .max_poll_interval(Duration::from_secs(60))
        .handler(|_: Ping, _| async { Ok(()) })
        .build()
        .unwrap();
    let shutdown = worker.shutdown_token();
    let running = tokio::spawn(async move { worker.run().await });
    // Let the worker make its first (empty) claim and go to sleep.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let producer = Queue::new(Arc::new(enqueuing) as Arc<dyn JobStore>);
    let id = producer.enqueue(&Ping).await.unwrap().job.id;
    let done = tokio::time::timeout(PATIENCE, async {
        loop {
            let job = working
                .get(id, t(0))
                .await
                .unwrap()
                .expect("the job exists");
            if job.state == JobState::Completed {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    shutdown.cancel();
    running.await.unwrap();

    assert!(
        done.is_ok(),
        "the worker ran the job long before its next poll"
    );
    assert_eq!(
        working
            .count(&JobFilter::all().state(JobState::Completed), t(0))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_never_takes_a_connection_the_store_needs() {
    let Some(db) = test_schema() else { return };
    let store = db.open_with(one_connection_and_a_short_wait).await;
    let mut woken = connected_subscription(&store).await;

    let enqueued = store.enqueue(job("one"), t(0)).await;
    let claimed = claim_default(&store, 1, t(0), t(60)).await;

    assert!(enqueued.is_ok(), "{enqueued:?}");
    assert_eq!(
        claimed.unwrap().len(),
        1,
        "the pool's one connection stayed free"
    );
    assert!(
        changed(&mut woken, PATIENCE).await,
        "the enqueue woke the listener"
    );
}
