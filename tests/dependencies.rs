//! Jobs that wait for jobs, through the `Queue` and a worker: a digest that runs once
//! every page check has ended, and a store written before dependencies, which refuses
//! them rather than run a dependent early.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use leasehold::testing::conformance::t;
use leasehold::time::OffsetDateTime;
use leasehold::worker::{JobContext, JobError, Retention, Worker};
use leasehold::{
    DependencyFailure, EnqueueOptions, Enqueued, Error, JobFilter, JobId, JobRecord, JobState,
    JobStore, ManualClock, NewJob, Queue, StoreError,
};
use leasehold_memory::MemoryStore;

#[path = "support/pages.rs"]
mod pages;
use pages::{SendDigest, check_pages, page};

/// A queue on `store`, its clock at t(0).
fn queue_at_t0_on(store: impl JobStore + 'static) -> Queue {
    Queue::with_clock(Arc::new(store), Arc::new(ManualClock::new(t(0))))
}

#[tokio::test]
async fn a_digest_waits_for_every_check_of_its_call_then_runs_once() {
    let queue = queue_at_t0_on(MemoryStore::new());
    let mut jobs: Vec<NewJob> = ["a", "b", "c"]
        .iter()
        .map(|url| queue.new_job(&page(url), EnqueueOptions::new()))
        .collect::<Result<_, _>>()
        .unwrap();
    let digest = EnqueueOptions::new()
        .depends_on(jobs.iter().map(|job| job.id))
        .on_dependency_failure(DependencyFailure::Ignore);
    jobs.push(queue.new_job(&SendDigest, digest).unwrap());
    let digest_id = jobs[3].id;
    let checked = Arc::new(AtomicUsize::new(0));
    let seen_by_digest = Arc::new(AtomicUsize::new(usize::MAX));
    let worker = Worker::builder(&queue)
        .handler(check_pages(&checked, "b", "page b is gone"))
        .handler({
            let (checked, seen) = (Arc::clone(&checked), Arc::clone(&seen_by_digest));
            move |_: SendDigest, _: JobContext| {
                let (checked, seen) = (Arc::clone(&checked), Arc::clone(&seen));
                async move {
                    seen.store(checked.load(Ordering::SeqCst), Ordering::SeqCst);
                    Ok::<(), JobError>(())
                }
            }
        })
        .retention(Retention::off())
        .build()
        .unwrap();

    let enqueued = queue.enqueue_many_new(jobs).await.unwrap();
    assert_eq!(enqueued[3].job.state, JobState::Waiting);
    for _ in 0..4 {
        worker.run_once().await.unwrap();
    }

    let digest = queue.get(digest_id).await.unwrap().unwrap();
    assert_eq!(digest.state, JobState::Completed);
    assert_eq!(
        seen_by_digest.load(Ordering::SeqCst),
        3,
        "the digest ran after all three checks, a failed one included"
    );
    let waiting = queue
        .count(&JobFilter::all().state(JobState::Waiting))
        .await
        .unwrap();
    assert_eq!(waiting, 0);
}

#[tokio::test]
async fn a_dependency_on_a_job_enqueued_before_is_by_its_id() {
    let queue = queue_at_t0_on(MemoryStore::new());
    let check = queue.enqueue(page("a")).await.unwrap().job;

    let options = EnqueueOptions::new().depends_on([check.id]);
    let digest = queue.enqueue_with(SendDigest, options).await.unwrap().job;

    assert_eq!(digest.state, JobState::Waiting);
    assert_eq!(digest.depends_on, vec![check.id]);
    assert_eq!(digest.on_dependency_failure, DependencyFailure::Cancel);
}

/// A store of its own written before dependencies: it implements the verbs it knew
/// (here over a `MemoryStore`), not `enqueue_with_dependencies`, and delegates
/// nothing.
struct BeforeDependencies(MemoryStore);

#[leasehold::async_trait]
impl JobStore for BeforeDependencies {
    async fn enqueue(&self, job: NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        self.0.enqueue(job, now).await
    }

    async fn enqueue_many(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.0.enqueue_many(jobs, now).await
    }

    async fn get(&self, id: JobId, now: OffsetDateTime) -> Result<Option<JobRecord>, StoreError> {
        self.0.get(id, now).await
    }

    async fn count(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.0.count(filter, now).await
    }
}

#[tokio::test]
async fn a_store_written_before_dependencies_refuses_a_dependent_and_stores_nothing() {
    let queue = queue_at_t0_on(BeforeDependencies(MemoryStore::new()));
    let check = queue.enqueue(page("a")).await.unwrap().job;
    let after_check = EnqueueOptions::new().depends_on([check.id]);

    let alone = queue.enqueue_with(SendDigest, after_check.clone()).await;
    let many = queue
        .enqueue_many([SendDigest, SendDigest], after_check)
        .await;

    for refused in [alone.map(|_| ()), many.map(|_| ())] {
        match refused {
            Err(Error::Store(StoreError::Unsupported("enqueue_with_dependencies"))) => {}
            other => panic!("expected Unsupported naming the verb, got {other:?}"),
        }
    }
    assert_eq!(
        queue.count(&JobFilter::all()).await.unwrap(),
        1,
        "only the check"
    );
    let plain = queue.enqueue(page("b")).await.unwrap();
    assert_eq!(
        plain.job.state,
        JobState::Available,
        "jobs without dependencies go on"
    );
}
