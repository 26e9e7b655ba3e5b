//! What a worker logs when a heartbeat finds a lease gone. A job whose handler is
//! done and whose completion is being written is still heartbeated; when that
//! completion commits before the heartbeat does (the SQL stores' group commits, a
//! completion's answer not yet read), the heartbeat answers `Lost` for a lease the
//! job ended itself. That is no lost lease, and the worker must not warn of one.
//! The test runs on a current-thread runtime under a thread-local subscriber, so the
//! worker's tasks report to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use leasehold::testing::failing::{FailingStore, Stall};
use leasehold::worker::{JobContext, Worker};
use leasehold::{Job, Queue};
use leasehold_memory::MemoryStore;
use serde::{Deserialize, Serialize};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Serialize, Deserialize)]
struct Work;

impl Job for Work {
    const KIND: &'static str = "work";
}

/// Counts the warnings whose message says a lease is lost.
struct LostWarnings(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LostWarnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if *event.metadata().level() == tracing::Level::WARN && message.0.contains("is lost") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn a_heartbeat_that_finds_a_finishing_jobs_lease_ended_warns_of_no_lost_lease() {
    let warnings = Arc::new(AtomicUsize::new(0));
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(LostWarnings(Arc::clone(&warnings))),
    );
    // Completions commit in the store, then their answers wait: the job's lease has
    // ended while the worker still writes its outcome, and the store answers its
    // heartbeats `Lost`.
    let store = Arc::new(FailingStore::new(MemoryStore::new()));
    store.stall("complete", Stall::After);
    let queue = Queue::new(store.clone());
    queue.enqueue(&Work).await.unwrap();
    let worker = Worker::builder(&queue)
        .heartbeat_interval(Duration::from_millis(10))
        .handler(|_: Work, _: JobContext| async { Ok(()) })
        .build()
        .unwrap();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });

    // The handler is done and its completion committed; its answer waits while
    // heartbeats run.
    while store.calls("complete") == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = store.calls("heartbeat");
    while store.calls("heartbeat") < before + 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    store.unstall();
    while worker.running() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    worker.shutdown().await;
    running.await.unwrap();

    assert_eq!(
        warnings.load(Ordering::SeqCst),
        0,
        "no lost lease is reported for a job whose completion was being written"
    );
}
