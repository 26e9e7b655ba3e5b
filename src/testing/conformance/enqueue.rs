//! Enqueue, from the [`JobStore`](crate::JobStore) contract: `enqueue` and
//! `enqueue_many`, unique keys, and ids that already exist.

use serde_json::json;

use super::{
    StoreFactory, claim_one, count_all, enqueue_and_complete, enqueue_at, get, new_job, race, t,
};
use crate::{JobState, NewJob, StoreError};

/// `enqueue` stores the job as given, with attempt 0 and `created_at` = now.
pub async fn enqueue_stores_the_job_as_given(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = NewJob::new(
        "send_email",
        json!({"to": "ada@example.com", "n": [1, 2.5, null]}),
        t(0),
    )
    .expect("valid")
    .queue("mail")
    .expect("valid")
    .priority(-3)
    .run_at(t(5))
    .max_attempts(7)
    .expect("valid")
    .unique_key("mail:ada");

    let enqueued = store.enqueue(job.clone(), t(1)).await.expect("enqueue");

    assert!(!enqueued.duplicate);
    let read = get(&*store, job.id, t(1)).await;
    assert_eq!(read, enqueued.job);
    assert_eq!(read.id, job.id);
    assert_eq!(read.kind, "send_email");
    assert_eq!(read.queue, "mail");
    assert_eq!(read.payload, job.payload);
    assert_eq!(read.priority, -3);
    assert_eq!(read.run_at, t(5));
    assert_eq!(read.max_attempts, 7);
    assert_eq!(read.unique_key.as_deref(), Some("mail:ada"));
    assert_eq!(read.attempt, 0);
    assert_eq!(read.lease_token, 0);
    assert_eq!(read.lease_until, None);
    assert_eq!(read.last_error, None);
    assert_eq!(read.created_at, t(1));
    assert_eq!(read.finished_at, None);
}

/// A job due later is `Scheduled`, and `Available` once `now` reaches its run_at.
pub async fn enqueue_of_a_future_job_is_scheduled_until_due(f: &dyn StoreFactory) {
    let store = f.open().await;

    let job = enqueue_at(&*store, new_job("k", t(10)), t(0)).await;

    assert_eq!(job.state, JobState::Scheduled);
    assert_eq!(get(&*store, job.id, t(9)).await.state, JobState::Scheduled);
    assert_eq!(get(&*store, job.id, t(10)).await.state, JobState::Available);
    let due_now = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    assert_eq!(due_now.state, JobState::Available);
}

/// Enqueueing a unique key held by a pending or running job returns that job.
pub async fn enqueue_with_an_active_unique_key_returns_the_existing_job(f: &dyn StoreFactory) {
    let store = f.open().await;
    let first = enqueue_at(&*store, new_job("k", t(0)).unique_key("u"), t(0)).await;

    let pending_dup = store
        .enqueue(new_job("k", t(0)).unique_key("u"), t(1))
        .await
        .expect("enqueue");
    claim_one(&*store, t(2), 30).await;
    let running_dup = store
        .enqueue(new_job("other", t(0)).unique_key("u"), t(3))
        .await
        .expect("enqueue");

    assert!(pending_dup.duplicate);
    assert_eq!(pending_dup.job.id, first.id);
    assert!(running_dup.duplicate);
    assert_eq!(running_dup.job.id, first.id);
    assert_eq!(running_dup.job.state, JobState::Running);
    assert_eq!(count_all(&*store, t(3)).await, 1);
}

/// A unique key held only by terminal jobs does not block a new job.
pub async fn enqueue_with_a_finished_unique_key_inserts_a_new_job(f: &dyn StoreFactory) {
    let store = f.open().await;
    let first = enqueue_and_complete(&*store, new_job("k", t(0)).unique_key("u"), t(1)).await;
    let cancelled = enqueue_at(&*store, new_job("k", t(0)).unique_key("u"), t(2)).await;
    store.cancel(cancelled.id, t(3)).await.expect("cancel");

    let third = store
        .enqueue(new_job("k", t(0)).unique_key("u"), t(4))
        .await
        .expect("enqueue");

    assert_ne!(cancelled.id, first.id);
    assert!(!third.duplicate);
    assert_ne!(third.job.id, first.id);
    assert_ne!(third.job.id, cancelled.id);
    assert_eq!(count_all(&*store, t(4)).await, 3);
}

/// Racing enqueues of one unique key, through one handle or several, insert one job.
pub async fn concurrent_enqueues_of_one_unique_key_insert_once(f: &dyn StoreFactory) {
    let handles = f.open_shared(4).await;

    let results = race(&handles, 16, |_, store| async move {
        store
            .enqueue(new_job("k", t(0)).unique_key("race"), t(0))
            .await
            .expect("enqueue")
    })
    .await;

    let inserted: Vec<_> = results.iter().filter(|e| !e.duplicate).collect();
    assert_eq!(inserted.len(), 1, "exactly one enqueue inserts");
    assert!(results.iter().all(|e| e.job.id == inserted[0].job.id));
    assert_eq!(count_all(&*handles[0], t(0)).await, 1);
}

/// Enqueueing an id that exists is a conflict and changes nothing.
pub async fn enqueue_of_an_existing_id_is_a_conflict(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = new_job("k", t(0));
    enqueue_at(&*store, job.clone(), t(0)).await;

    let again = store.enqueue(job.clone(), t(1)).await;

    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "got {again:?}"
    );
    assert_eq!(get(&*store, job.id, t(1)).await.created_at, t(0));
}

/// A failing `enqueue_many` stores none of its jobs; a good one stores all.
pub async fn enqueue_many_is_atomic(f: &dyn StoreFactory) {
    let store = f.open().await;
    let existing = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let mut existing_job = new_job("k", t(0));
    existing_job.id = existing.id;
    let batch = vec![
        new_job("a", t(0)),
        new_job("b", t(0)),
        existing_job,
        new_job("c", t(0)),
    ];

    let failed = store.enqueue_many(batch, t(1)).await;

    assert!(
        matches!(failed, Err(StoreError::Conflict(_))),
        "got {failed:?}"
    );
    assert_eq!(count_all(&*store, t(1)).await, 1);
    let good: Vec<NewJob> = (0..50).map(|i| new_job(&format!("k{i}"), t(0))).collect();
    let stored = store
        .enqueue_many(good.clone(), t(2))
        .await
        .expect("enqueue_many");
    assert_eq!(stored.len(), 50);
    assert!(
        stored
            .iter()
            .zip(&good)
            .all(|(s, g)| s.job.id == g.id && !s.duplicate)
    );
    assert_eq!(count_all(&*store, t(2)).await, 51);
}

/// Within one batch, a repeated unique key returns the batch's first job.
pub async fn enqueue_many_dedupes_unique_keys_within_the_batch(f: &dyn StoreFactory) {
    let store = f.open().await;
    let batch = vec![
        new_job("a", t(0)).unique_key("u"),
        new_job("b", t(0)),
        new_job("c", t(0)).unique_key("u"),
    ];
    let first_id = batch[0].id;

    let stored = store.enqueue_many(batch, t(0)).await.expect("enqueue_many");

    assert_eq!(stored.len(), 3);
    assert!(!stored[0].duplicate && !stored[1].duplicate);
    assert!(stored[2].duplicate);
    assert_eq!(stored[2].job.id, first_id);
    assert_eq!(count_all(&*store, t(0)).await, 2);
}
