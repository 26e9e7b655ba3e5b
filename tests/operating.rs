//! What an operator and a handler do beyond running jobs: outputs, jobs by hand through
//! the `Queue`, tags and metadata, unique periods, retention in a worker.

use std::sync::Arc;
use std::time::Duration;

use leasehold::testing::conformance::t;
use leasehold::worker::{JobContext, JobError, Retention, Worker};
use leasehold::{
    EnqueueOptions, Error, Job, JobFilter, JobState, JobStore, JobUpdate, ManualClock, Queue,
    StoreError,
};
use leasehold_memory::MemoryStore;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Serialize, Deserialize)]
struct Check {
    url: String,
    /// Bytes of output the handler records.
    output_bytes: usize,
}

impl Job for Check {
    const KIND: &'static str = "check";
}

/// A queue on `store`, its clock at t(0).
fn queue_at_t0_on(store: impl JobStore + 'static) -> (Queue, ManualClock) {
    let clock = ManualClock::new(t(0));
    let queue = Queue::with_clock(Arc::new(store), Arc::new(clock.clone()));
    (queue, clock)
}

fn queue_at_t0() -> (Queue, ManualClock) {
    queue_at_t0_on(MemoryStore::new())
}

fn check(output_bytes: usize) -> Check {
    Check {
        url: "https://example.com".into(),
        output_bytes,
    }
}

/// Records an output of the asked size and keeps the refusal, if any, as its own
/// output-less success.
async fn record_output(job: Check, ctx: JobContext) -> Result<(), JobError> {
    let output = json!({ "url": job.url, "body": "x".repeat(job.output_bytes) });
    match ctx.set_output(&output) {
        Err(Error::OutputTooLarge { size, limit }) => {
            assert!(
                size > limit,
                "the error names the size {size} and limit {limit}"
            );
            Ok(())
        }
        other => Ok(other?),
    }
}

#[tokio::test]
async fn a_handler_output_is_stored_with_the_completion_and_an_oversized_one_is_not() {
    let (queue, _clock) = queue_at_t0();
    let small = queue.enqueue(check(10)).await.unwrap().job.id;
    let large = queue.enqueue(check(5000)).await.unwrap().job.id;
    let worker = Worker::builder(&queue)
        .handler(record_output)
        .output_limit(1000)
        .retention(Retention::off())
        .build()
        .unwrap();

    worker.run_once().await.unwrap();

    let small = queue.get(small).await.unwrap().unwrap();
    assert_eq!(small.state, JobState::Completed);
    let output = small.output.expect("the output is stored");
    assert_eq!(output["body"], json!("x".repeat(10)));
    let large = queue.get(large).await.unwrap().unwrap();
    assert_eq!(large.state, JobState::Completed, "the job still completes");
    assert_eq!(large.output, None, "nothing half-written");
    let message = Error::OutputTooLarge {
        size: 5047,
        limit: 1000,
    }
    .to_string();
    assert!(
        message.contains("5047") && message.contains("1000"),
        "{message}"
    );
}

#[tokio::test]
async fn an_operator_retries_updates_and_deletes_jobs_through_the_queue() {
    let (queue, clock) = queue_at_t0();
    let options = EnqueueOptions::new()
        .max_attempts(1)
        .tags(["invoice", "tenant:7"])
        .metadata(json!({ "requested_by": "ops" }));
    let failing = queue.enqueue_with(check(0), options).await.unwrap().job;
    let attempts = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = Arc::clone(&attempts);
    let worker = Worker::builder(&queue)
        .handler(move |_: Check, _: JobContext| {
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(JobError::retryable("upstream down"))
                } else {
                    Ok(())
                }
            }
        })
        .retention(Retention::off())
        .build()
        .unwrap();
    worker.run_once().await.unwrap();
    let failed = queue.get(failing.id).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.errors.len(), 1);
    assert_eq!(failed.errors[0].error, "upstream down");
    assert_eq!(failed.tags, ["invoice", "tenant:7"]);
    assert_eq!(failed.metadata["requested_by"], json!("ops"));

    // Retry every failed job tagged "invoice": it runs again and completes.
    clock.advance(Duration::from_secs(60));
    let failed_invoices = JobFilter::all().tag("invoice").state(JobState::Failed);
    assert_eq!(queue.retry_jobs(&failed_invoices).await.unwrap(), 1);
    worker.run_once().await.unwrap();
    let done = queue.get(failing.id).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.attempt, done.max_attempts),
        (JobState::Completed, 2, 2)
    );
    assert_eq!(
        done.errors.len(),
        1,
        "the history of the failed attempt stays"
    );

    // A later job is moved and reprioritised, then deleted; a running one is refused.
    let later = EnqueueOptions::new().delay(Duration::from_secs(3600));
    let later = queue.enqueue_with(check(0), later).await.unwrap().job;
    let moved = JobUpdate::new().priority(-5).queue("urgent").unwrap();
    let moved = queue.update_job(later.id, &moved).await.unwrap();
    assert_eq!((moved.queue.as_str(), moved.priority), ("urgent", -5));
    assert_eq!(queue.delete_job(later.id).await.unwrap().id, later.id);
    assert!(queue.get(later.id).await.unwrap().is_none());
    let refused = queue
        .update_job(done.id, &JobUpdate::new().priority(1))
        .await;
    let Err(Error::Store(StoreError::WrongState { state, action, .. })) = &refused else {
        panic!("expected WrongState, got {refused:?}");
    };
    assert_eq!((*state, *action), (JobState::Completed, "update"));
    assert!(refused.unwrap_err().to_string().contains("it is completed"));

    let stats = queue.queue_stats().await.unwrap();
    let default = stats.iter().find(|s| s.queue == "default").unwrap();
    assert_eq!((default.completed, default.total()), (1, 1));
}

#[tokio::test]
async fn a_unique_period_allows_one_job_per_period() {
    let (queue, clock) = queue_at_t0();
    let hourly = || {
        EnqueueOptions::new()
            .unique_key("digest:user-7")
            .unique_for(Duration::from_secs(3600))
    };
    let worker = Worker::builder(&queue)
        .handler(|_: Check, _: JobContext| async {})
        .retention(Retention::off())
        .build()
        .unwrap();
    let first = queue.enqueue_with(check(0), hourly()).await.unwrap();
    worker.run_once().await.unwrap();

    clock.advance(Duration::from_secs(1800));
    let blocked = queue.enqueue_with(check(0), hourly()).await.unwrap();
    clock.advance(Duration::from_secs(1800));
    let next = queue.enqueue_with(check(0), hourly()).await.unwrap();

    assert!(blocked.duplicate && blocked.job.id == first.job.id);
    assert!(!next.duplicate, "an hour after the first finished");
    let bad = EnqueueOptions::new()
        .unique_key("k")
        .unique_for_states(Duration::from_secs(1), &[JobState::Running]);
    let bad = queue.enqueue_with(check(0), bad).await;
    assert!(matches!(bad, Err(Error::InvalidJob(_))), "{bad:?}");
}

/// A queue on a new memory store holding one job, completed 25 hours before its
/// clock's now; the job's id.
async fn a_day_old_completed_job() -> (Queue, leasehold::JobId) {
    let (queue, clock) = queue_at_t0();
    let done = queue.enqueue(check(0)).await.unwrap().job.id;
    let once = Worker::builder(&queue)
        .handler(|_: Check, _: JobContext| async {})
        .build()
        .unwrap();
    once.run_once().await.unwrap();
    clock.advance(Duration::from_secs(25 * 3600));
    (queue, done)
}

#[tokio::test]
async fn a_running_worker_deletes_finished_jobs_past_their_age_unless_retention_is_off() {
    for on in [true, false] {
        let (queue, done) = a_day_old_completed_job().await;
        let kept = queue.enqueue(check(0)).await.unwrap().job.id;

        let retention = if on {
            Retention::default().interval(Duration::from_millis(10))
        } else {
            Retention::off()
        };
        let worker = Worker::builder(&queue)
            .queue("nothing-here", 1)
            .handler(|_: Check, _: JobContext| async {})
            .retention(retention)
            .build()
            .unwrap();
        let stop = worker.shutdown_token();
        let running = tokio::spawn(async move { worker.run().await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
        running.await.unwrap();

        let gone = queue.get(done).await.unwrap().is_none();
        assert_eq!(
            gone, on,
            "a day-old completed job is deleted only with retention on"
        );
        assert!(
            queue.get(kept).await.unwrap().is_some(),
            "a pending job stays"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_worker_first_runs_retention_a_second_after_it_starts_not_at_once() {
    let (queue, done) = a_day_old_completed_job().await;
    // The default interval, a minute.
    let worker = Worker::builder(&queue)
        .queue("nothing-here", 1)
        .handler(|_: Check, _: JobContext| async {})
        .build()
        .unwrap();
    let stop = worker.shutdown_token();
    let running = tokio::spawn(async move { worker.run().await });
    tokio::time::sleep(Duration::from_millis(900)).await;
    let kept_at_first = queue.get(done).await.unwrap().is_some();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let gone_after_a_second = queue.get(done).await.unwrap().is_none();
    stop.cancel();
    running.await.unwrap();

    assert!(
        kept_at_first,
        "no retention pass in the worker's first second"
    );
    assert!(
        gone_after_a_second,
        "the first pass ran a second after the start"
    );
}

/// A store written before outputs existed: it forwards every verb but has no
/// `complete_with_output`.
struct WithoutOutputs(MemoryStore);

#[leasehold::async_trait]
impl JobStore for WithoutOutputs {
    fn delegate(&self) -> Option<&dyn JobStore> {
        Some(&self.0)
    }

    async fn complete_with_output(
        &self,
        _: leasehold::Lease,
        _: &serde_json::Value,
        _: leasehold::time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        Err(StoreError::Unsupported("complete_with_output"))
    }
}

#[tokio::test]
async fn on_a_store_without_outputs_a_job_with_output_still_completes() {
    let (queue, _clock) = queue_at_t0_on(WithoutOutputs(MemoryStore::new()));
    let id = queue.enqueue(check(10)).await.unwrap().job.id;
    let worker = Worker::builder(&queue)
        .handler(record_output)
        .retention(Retention::off())
        .build()
        .unwrap();

    worker.run_once().await.unwrap();

    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!((job.state, job.output), (JobState::Completed, None));
}
