//! Batches with a callback and chains that pass output on, through the `Queue` and
//! workers, on each store: the callback runs once, after every member, with their
//! counts; a batch reopened by id takes members until it is sealed; two workers
//! racing through a batch release its callback once; a step reads its predecessor's
//! output.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use leasehold::testing::conformance::t;
use leasehold::worker::{CancellationToken, JobContext, JobError, Retention, Worker};
use leasehold::{
    BatchProgress, EnqueueOptions, Error, Job, JobFilter, JobState, JobStore, ManualClock, Queue,
};
use serde::{Deserialize, Serialize};

#[path = "support/pages.rs"]
mod pages;
use pages::{CheckPage, SendDigest, check_pages, page};

/// A queue on `store`, its clock at t(0).
fn queue_on(store: Arc<dyn JobStore>) -> Queue {
    Queue::with_clock(store, Arc::new(ManualClock::new(t(0))))
}

/// A worker that checks pages (page "fail" fails for good) and, for a digest, records
/// its batch's progress and how many checks had ended when it ran.
fn worker(
    queue: &Queue,
    checked: &Arc<AtomicUsize>,
    digests: &Arc<Mutex<Vec<(BatchProgress, usize)>>>,
) -> Worker {
    Worker::builder(queue)
        .queue("default", 4)
        .poll_interval(std::time::Duration::from_millis(50))
        .handler(check_pages(checked, "fail", "page is gone"))
        .handler({
            let (checked, digests) = (Arc::clone(checked), Arc::clone(digests));
            move |_: SendDigest, ctx: JobContext| {
                let (checked, digests) = (Arc::clone(&checked), Arc::clone(&digests));
                async move {
                    let progress = ctx
                        .queue()
                        .open_batch(ctx.id())
                        .progress()
                        .await
                        .map_err(JobError::retryable)?;
                    let ended = checked.load(Ordering::SeqCst);
                    digests.lock().unwrap().push((progress, ended));
                    Ok(())
                }
            }
        })
        .retention(Retention::off())
        .build()
        .unwrap()
}

async fn a_callback_runs_once_after_every_member_with_their_counts(store: Arc<dyn JobStore>) {
    let queue = queue_on(store);
    let (checked, digests) = Default::default();
    let worker = worker(&queue, &checked, &digests);
    let batch = queue.batch();
    for url in ["a", "fail", "b", "cancelled"] {
        batch.add(&page(url), EnqueueOptions::new()).await.unwrap();
    }
    let members = batch.members().await.unwrap();
    assert_eq!(members.len(), 4);
    queue.cancel(members[3]).await.unwrap();

    let callback = batch
        .seal(&SendDigest, EnqueueOptions::new())
        .await
        .unwrap();
    assert_eq!(callback.job.id, batch.id());
    assert_eq!(callback.job.state, JobState::Waiting);
    assert_eq!(callback.job.depends_on, members);
    for _ in 0..5 {
        worker.run_once().await.unwrap();
    }

    let digests = digests.lock().unwrap().clone();
    assert_eq!(digests.len(), 1, "the callback ran once");
    let (progress, ended) = digests[0];
    assert_eq!(ended, 3, "after all three checks that ran");
    assert_eq!(
        (
            progress.members,
            progress.completed,
            progress.failed,
            progress.cancelled
        ),
        (4, 2, 1, 1)
    );
    assert!(progress.sealed);
    assert_eq!(progress.remaining(), 0);
    let callback = queue.get(batch.id()).await.unwrap().unwrap();
    assert_eq!(callback.state, JobState::Completed);
}

async fn a_batch_reopened_by_id_takes_members_until_it_is_sealed(store: Arc<dyn JobStore>) {
    let queue = queue_on(store);
    let batch = queue.batch();
    batch.add(&page("a"), EnqueueOptions::new()).await.unwrap();
    let progress = batch.progress().await.unwrap();
    assert_eq!((progress.members, progress.sealed), (1, false));

    // Another process (or this one after a restart) knows only the id.
    let reopened = queue.open_batch(batch.id());
    let added = reopened
        .add_many([&page("b"), &page("c")], EnqueueOptions::new().priority(3))
        .await
        .unwrap();
    assert!(added.iter().all(|a| a.job.tags.contains(&batch.tag())));
    assert_eq!(added[0].job.priority, 3);
    reopened
        .seal(&SendDigest, EnqueueOptions::new())
        .await
        .unwrap();

    match batch.add(&page("late"), EnqueueOptions::new()).await {
        Err(Error::BatchSealed(id)) => assert_eq!(id, batch.id()),
        other => panic!("expected BatchSealed, got {other:?}"),
    }
    match batch.seal(&SendDigest, EnqueueOptions::new()).await {
        Err(Error::BatchSealed(_)) => {}
        other => panic!("expected BatchSealed for a second seal, got {other:?}"),
    }
    let tagged = queue
        .count(&JobFilter::all().tag(batch.tag()))
        .await
        .unwrap();
    assert_eq!(tagged, 3, "the late member was not stored");
    assert_eq!(queue.count(&JobFilter::all()).await.unwrap(), 4);
    let callback = queue.get(batch.id()).await.unwrap().unwrap();
    assert_eq!(callback.depends_on.len(), 3);
}

async fn two_workers_racing_through_a_batch_release_its_callback_once(store: Arc<dyn JobStore>) {
    const MEMBERS: usize = 60;
    let queue = queue_on(store);
    let (checked, digests) = Default::default();
    let batch = queue.batch();
    let urls: Vec<CheckPage> = (0..MEMBERS).map(|i| page(&format!("p{i}"))).collect();
    batch.add_many(&urls, EnqueueOptions::new()).await.unwrap();
    batch
        .seal(&SendDigest, EnqueueOptions::new())
        .await
        .unwrap();

    let stop = CancellationToken::new();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let worker = worker(&queue, &checked, &digests);
            let stop = stop.clone();
            tokio::spawn(async move { worker.run_until(stop.cancelled()).await })
        })
        .collect();
    let done = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while queue.get(batch.id()).await.unwrap().unwrap().state != JobState::Completed {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    stop.cancel();
    for run in runs {
        run.await.unwrap();
    }
    done.expect("the callback completed within 60 s");

    let digests = digests.lock().unwrap().clone();
    assert_eq!(digests.len(), 1, "one callback for the batch");
    assert_eq!(digests[0].0.completed, MEMBERS as u64);
    assert_eq!(
        checked.load(Ordering::SeqCst),
        MEMBERS,
        "each member ran once"
    );
}

#[derive(Debug, Serialize, Deserialize)]
struct Step {
    add: u64,
}

impl Job for Step {
    const KIND: &'static str = "step";
}

/// A job whose output is text, not a number.
#[derive(Debug, Serialize, Deserialize)]
struct Words;

impl Job for Words {
    const KIND: &'static str = "words";
}

async fn each_step_of_a_chain_reads_the_output_of_the_one_before(store: Arc<dyn JobStore>) {
    let queue = queue_on(store);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let worker = Worker::builder(&queue)
        .handler({
            let seen = Arc::clone(&seen);
            move |step: Step, ctx: JobContext| {
                let seen = Arc::clone(&seen);
                async move {
                    let mut total = 0;
                    for id in &ctx.record().depends_on {
                        total += ctx
                            .output_of::<u64>(*id)
                            .await
                            .map_err(JobError::permanent)?
                            .unwrap_or(0);
                    }
                    seen.lock().unwrap().push(total);
                    ctx.set_output(&(total + step.add))
                        .map_err(JobError::permanent)?;
                    Ok(())
                }
            }
        })
        .handler(|_: Words, ctx: JobContext| async move {
            ctx.set_output(&"forty").map_err(JobError::permanent)?;
            Ok(())
        })
        .retention(Retention::off())
        .build()
        .unwrap();
    let first = queue
        .new_job(&Step { add: 40 }, EnqueueOptions::new())
        .unwrap();
    let second = queue
        .new_job(
            &Step { add: 2 },
            EnqueueOptions::new().depends_on([first.id]),
        )
        .unwrap();
    let third = queue
        .new_job(
            &Step { add: 0 },
            EnqueueOptions::new().depends_on([second.id]),
        )
        .unwrap();
    let last = third.id;
    queue
        .enqueue_many_new(vec![first, second, third])
        .await
        .unwrap();
    for _ in 0..3 {
        worker.run_once().await.unwrap();
    }

    assert_eq!(*seen.lock().unwrap(), vec![0, 40, 42]);
    let last = queue.get(last).await.unwrap().unwrap();
    assert_eq!(last.output, Some(serde_json::json!(42)));

    // An output of another shape is an error naming the job, not a panic.
    let words = queue.new_job(&Words, EnqueueOptions::new()).unwrap();
    let after_words = queue
        .new_job(
            &Step { add: 1 },
            EnqueueOptions::new().depends_on([words.id]),
        )
        .unwrap();
    let (words, after_words) = (words.id, {
        let id = after_words.id;
        queue
            .enqueue_many_new(vec![words, after_words])
            .await
            .unwrap();
        id
    });
    for _ in 0..2 {
        worker.run_once().await.unwrap();
    }
    let failed = queue.get(after_words).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    let error = failed.last_error.unwrap_or_default();
    assert!(
        error.contains(&format!("the output of job {words} does not deserialize")),
        "{error}"
    );
}

/// A callback no worker of this process handles is refused at the seal, storing
/// nothing; declared as handled elsewhere, it is stored. (A queue check, before the
/// store: one store is enough.)
#[tokio::test]
async fn a_callback_of_a_kind_no_worker_handles_is_refused_and_nothing_is_stored() {
    let queue = queue_on(Arc::new(leasehold_memory::MemoryStore::new()));
    let batch = queue.batch();
    batch.add(&page("a"), EnqueueOptions::new()).await.unwrap();
    // No worker yet: nothing is known, so nothing is checked.
    let unchecked = queue.batch();
    unchecked
        .seal(&SendDigest, EnqueueOptions::new())
        .await
        .unwrap();

    let _checks_only = Worker::builder(&queue)
        .handler(|_: CheckPage, _: JobContext| async {})
        .build()
        .unwrap();
    match batch.seal(&SendDigest, EnqueueOptions::new()).await {
        Err(error @ Error::UnhandledKind(_)) => {
            let message = error.to_string();
            assert!(
                message.contains("\"send_digest\"") && message.contains("register_kinds"),
                "{message}"
            );
        }
        other => panic!("expected UnhandledKind, got {other:?}"),
    }
    assert!(queue.get(batch.id()).await.unwrap().is_none());
    assert!(!batch.progress().await.unwrap().sealed);

    // A worker in another process runs digests.
    queue.register_kinds([SendDigest::KIND]);
    batch
        .seal(&SendDigest, EnqueueOptions::new())
        .await
        .unwrap();
    assert!(batch.progress().await.unwrap().sealed);
}

#[macro_use]
#[path = "support/on_every_store.rs"]
mod on_every_store;

on_every_store!(
    a_callback_runs_once_after_every_member_with_their_counts,
    a_batch_reopened_by_id_takes_members_until_it_is_sealed,
    two_workers_racing_through_a_batch_release_its_callback_once,
    each_step_of_a_chain_reads_the_output_of_the_one_before,
);

#[path = "support/sqlite.rs"]
mod sqlite_support;

#[path = "support/postgres.rs"]
mod postgres_support;
