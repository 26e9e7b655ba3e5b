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

use leasehold::time::OffsetDateTime;
use leasehold::worker::{JobContext, Worker};
use leasehold::{HeartbeatStatus, Job, JobState, JobStore, Lease, Queue, StoreError, async_trait};
use leasehold_memory::MemoryStore;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Serialize, Deserialize)]
struct Work;

impl Job for Work {
    const KIND: &'static str = "work";
}

/// A memory store whose completions wait for a permit, and whose heartbeats answer
/// every lease lost, as a store answers once the job's completion has committed.
struct CompletedFirst {
    inner: MemoryStore,
    /// Told when a completion starts waiting.
    completing: Notify,
    /// A permit per completion allowed through.
    gate: Semaphore,
    heartbeats: AtomicUsize,
}

impl CompletedFirst {
    fn new() -> Self {
        Self {
            inner: MemoryStore::new(),
            completing: Notify::new(),
            gate: Semaphore::new(0),
            heartbeats: AtomicUsize::new(0),
        }
    }
}

#[async_trait]
impl JobStore for CompletedFirst {
    fn delegate(&self) -> Option<&dyn JobStore> {
        Some(&self.inner)
    }

    async fn complete(&self, lease: Lease, now: OffsetDateTime) -> Result<(), StoreError> {
        self.completing.notify_one();
        let _permit = self.gate.acquire().await.expect("the gate stays open");
        self.inner.complete(lease, now).await
    }

    async fn heartbeat(
        &self,
        leases: &[Lease],
        _lease_until: OffsetDateTime,
    ) -> Result<Vec<HeartbeatStatus>, StoreError> {
        self.heartbeats.fetch_add(1, Ordering::SeqCst);
        Ok(vec![HeartbeatStatus::Lost; leases.len()])
    }
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
    let store = Arc::new(CompletedFirst::new());
    let queue = Queue::new(store.clone());
    let id = queue.enqueue(&Work).await.unwrap().job.id;
    let worker = Worker::builder(&queue)
        .heartbeat_interval(Duration::from_millis(10))
        .handler(|_: Work, _: JobContext| async { Ok(()) })
        .build()
        .unwrap();
    let stop = worker.shutdown_token();
    let running = tokio::spawn(async move { worker.run().await });

    // The handler is done; its completion waits at the gate while heartbeats run.
    store.completing.notified().await;
    let before = store.heartbeats.load(Ordering::SeqCst);
    while store.heartbeats.load(Ordering::SeqCst) < before + 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    store.gate.add_permits(1);
    while queue.get(id).await.unwrap().map(|job| job.state) != Some(JobState::Completed) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.cancel();
    running.await.unwrap();

    assert_eq!(
        warnings.load(Ordering::SeqCst),
        0,
        "no lost lease is reported for a job whose completion was being written"
    );
}
