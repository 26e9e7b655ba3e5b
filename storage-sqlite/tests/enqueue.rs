//! `enqueue_many` inserts jobs without unique keys in bulk (one multi-row insert of
//! bound parameters up to 256 jobs, several under a savepoint past that): payloads,
//! times and counters still round-trip exactly, and an existing id is still named,
//! with nothing of the batch stored.

use leasehold::testing::conformance::{t, t2100};
use leasehold::time::OffsetDateTime;
use leasehold::{JobFilter, JobStore, NewJob, StoreError};
use leasehold_sqlite::SqliteStore;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stores_every_job_exactly_as_given() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let payloads = [
        json!(null),
        json!("a \"quoted\" string with \\ and \u{1F600} and \n"),
        json!(0.1),
        json!(1e300),
        json!(-9_007_199_254_740_993_i64),
        json!(u64::MAX),
        json!({"nested": {"list": [1, 2.5, "x", false]}, "empty": {}}),
    ];
    let jobs: Vec<NewJob> = payloads
        .iter()
        .enumerate()
        .map(|(n, payload)| {
            NewJob::new(format!("kind-{n}"), payload.clone(), t(0))
                .unwrap()
                .queue(format!("q{}", n % 2))
                .unwrap()
                .priority(i16::MIN + i16::try_from(n).unwrap())
                .run_at(t2100(i64::try_from(n).unwrap()))
                .max_attempts(u32::MAX - u32::try_from(n).unwrap())
                .unwrap()
        })
        .collect();
    let keyed = NewJob::new("keyed", json!(1), t(0))
        .unwrap()
        .unique_key("k");

    let answers = store
        .enqueue_many(
            jobs.iter().cloned().chain([keyed.clone(), keyed]).collect(),
            t(5),
        )
        .await
        .unwrap();

    let stored = store.list(&JobFilter::all(), t(5)).await.unwrap();
    assert_eq!(stored.len(), payloads.len() + 1);
    for (job, answer) in jobs.iter().zip(&answers) {
        let got = stored.iter().find(|r| r.id == job.id).expect("stored");
        assert_eq!(got, &answer.job);
        assert_eq!(got.payload, job.payload);
        assert_eq!(
            (got.kind.as_str(), got.queue.as_str()),
            (job.kind.as_str(), job.queue.as_str())
        );
        assert_eq!((got.priority, got.run_at), (job.priority, job.run_at));
        assert_eq!((got.max_attempts, got.created_at), (job.max_attempts, t(5)));
    }
    assert!(!answers[payloads.len()].duplicate);
    assert!(answers[payloads.len() + 1].duplicate);
}

/// Enqueues at `now` a batch of `size` new jobs with `existing` put in at `at`, and
/// checks that the store refuses it as a conflict naming `existing`.
async fn refused_naming(
    store: &SqliteStore,
    existing: &NewJob,
    size: usize,
    at: usize,
    now: OffsetDateTime,
) {
    let mut batch: Vec<NewJob> = (0..size)
        .map(|_| NewJob::new("k", json!(2), t(0)).unwrap())
        .collect();
    batch.insert(at, existing.clone());
    let error = store.enqueue_many(batch, now).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::Conflict(m) if m.contains(&existing.id.to_string())),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_an_existing_id_names_it_and_stores_nothing() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let existing = NewJob::new("k", json!(1), t(0)).unwrap();
    store.enqueue(existing.clone(), t(0)).await.unwrap();

    refused_naming(&store, &existing, 5, 3, t(0)).await;

    assert_eq!(store.count(&JobFilter::all(), t(0)).await.unwrap(), 1);
}

/// A batch of 600 (over 256, the most one insert holds) goes as three multi-row
/// inserts (256, 256, 88): every job stored as given, due (before or exactly at the
/// enqueue) or scheduled, with its tags, metadata and limit key or without them; a
/// duplicate id in the last of them undoes the two before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_is_stored_whole_or_not_at_all() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let payloads = [
        json!({ "nested": { "list": [1, 2.5, "x", false] } }),
        json!("a \"quoted\" string with \\ and \u{1F600} and \n"),
        json!(1e300),
        json!(u64::MAX),
        json!(null),
    ];
    let jobs: Vec<NewJob> = (0..600_i64)
        .map(|n| {
            let i = usize::try_from(n).unwrap();
            let job = NewJob::new(format!("bulk-{}", n % 4), payloads[i % 5].clone(), t(0))
                .unwrap()
                .priority(i16::try_from(n).unwrap() * 54 - i16::MAX)
                .max_attempts(u32::MAX - u32::try_from(n).unwrap())
                .unwrap()
                .run_at(match n % 4 {
                    0 => t(0),
                    1 => t(1),
                    _ => t(100 + n),
                })
                .tags((n % 3 != 0).then(|| format!("t{}", n % 3)))
                .unwrap();
            let job = if n % 5 == 1 {
                job
            } else {
                job.metadata(json!({ "n": n })).unwrap()
            };
            if n % 5 == 0 {
                job.limit_key(format!("k{}", n % 7)).unwrap()
            } else {
                job
            }
        })
        .collect();

    let answers = store.enqueue_many(jobs.clone(), t(1)).await.unwrap();

    let stored = store.list(&JobFilter::all(), t(1)).await.unwrap();
    assert_eq!(stored.len(), 600);
    for (job, answer) in jobs.iter().zip(&answers) {
        let want = leasehold::JobRecord::from_new(job, t(1));
        assert_eq!(answer.job, want);
        let got = stored.iter().find(|r| r.id == job.id).expect("stored");
        assert_eq!(got, &want);
    }

    let existing = jobs[7].clone();
    refused_naming(&store, &existing, 600, 598, t(2)).await;
    assert_eq!(
        store.count(&JobFilter::all(), t(2)).await.unwrap(),
        600,
        "nothing of the refused batch is stored"
    );
}
