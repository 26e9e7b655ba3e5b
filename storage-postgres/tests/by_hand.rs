//! Jobs by hand on PostgreSQL, beyond the conformance suite: a job run again by hand
//! never gives its unique key a second pending or running job (a `Conflict` that
//! changes nothing, one at a time or by filter), a cancel by filter is seen by the
//! running job's heartbeat, and racing takers of a free lock give it to one of them.

mod support;

use std::sync::Arc;

use leasehold::testing::conformance::t;
use leasehold::{
    ClaimRequest, HeartbeatStatus, JobFilter, JobRecord, JobState, JobStore, NewJob, StoreError,
};
use leasehold_postgres::PostgresStore;
use support::test_schema;

fn job(key: Option<&str>) -> NewJob {
    let job = NewJob::new("k", serde_json::json!({}), t(0)).expect("a valid job");
    match key {
        Some(key) => job.unique_key(key),
        None => job,
    }
}

/// Enqueues `job` at `t(0)`, claims it and completes it at `t(1)`.
async fn completed(store: &PostgresStore, job: NewJob) -> JobRecord {
    let id = store.enqueue(job, t(0)).await.expect("enqueue").job.id;
    let queues = ["default".to_owned()];
    let request = ClaimRequest::new("w", &queues, 1, t(60));
    let claimed = store.claim(request, t(0)).await.expect("claim").remove(0);
    assert_eq!(claimed.id, id, "the suite claims the job it just enqueued");
    store
        .complete(claimed.lease(), t(1))
        .await
        .expect("complete");
    store.get(id, t(1)).await.expect("get").expect("stored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_job_whose_unique_key_is_held_again_is_a_conflict_and_changes_nothing() {
    let Some(db) = test_schema() else { return };
    let store = db.open().await;
    let done = completed(&store, job(Some("report"))).await;
    let holder = store
        .enqueue(job(Some("report")), t(2))
        .await
        .expect("enqueue");
    assert!(!holder.duplicate, "a completed job does not hold its key");

    let retried = store.retry_job(done.id, t(3)).await;

    assert!(
        matches!(retried, Err(StoreError::Conflict(_))),
        "expected Conflict, got {retried:?}"
    );
    let after = store
        .get(done.id, t(3))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(after, done, "the refused retry changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_two_finished_holders_of_one_key_by_filter_is_a_conflict_and_changes_nothing() {
    let Some(db) = test_schema() else { return };
    let store = db.open().await;
    completed(&store, job(Some("a"))).await;
    completed(&store, job(Some("a"))).await;
    completed(&store, job(None)).await;
    let before = store.list(&JobFilter::all(), t(5)).await.expect("list");

    let retried = store.retry_jobs(&JobFilter::all(), t(5)).await;

    assert!(
        matches!(&retried, Err(StoreError::Conflict(message)) if message.contains("(a)")),
        "expected a Conflict naming the key, got {retried:?}"
    );
    let after = store.list(&JobFilter::all(), t(5)).await.expect("list");
    assert_eq!(after, before, "the refused retry changed nothing");
    let one = store.retry_jobs(&JobFilter::all().limit(1), t(5)).await;
    assert_eq!(one.expect("one holder of the key runs again"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_cancelled_by_filter_is_told_by_its_heartbeat() {
    let Some(db) = test_schema() else { return };
    let store = db.open().await;
    store.enqueue(job(None), t(0)).await.expect("enqueue");
    let queues = ["default".to_owned()];
    let request = ClaimRequest::new("w", &queues, 1, t(60));
    let running = store.claim(request, t(0)).await.expect("claim").remove(0);

    let cancelled = store
        .cancel_jobs(&JobFilter::all().state(JobState::Running), t(1))
        .await
        .expect("cancel_jobs");

    assert_eq!(cancelled, 1);
    let beat = store.heartbeat(&[running.lease()], t(90)).await;
    assert_eq!(beat.expect("heartbeat"), [HeartbeatStatus::Cancelled]);
    let completed = store.complete(running.lease(), t(2)).await;
    assert!(matches!(completed, Err(StoreError::LeaseLost(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_takers_of_a_free_lock_give_it_to_exactly_one() {
    let Some(db) = test_schema() else { return };
    let stores: Vec<Arc<PostgresStore>> =
        vec![Arc::new(db.open().await), Arc::new(db.open().await)];

    for round in 0..5_i64 {
        // Each round the lock is free again: the last holder's time ran out.
        let now = t(round * 100);
        let takers = (0..16).map(|n| {
            let store = Arc::clone(&stores[n % stores.len()]);
            tokio::spawn(async move {
                let holder = format!("holder-{n}");
                store
                    .take_lock("retention", &holder, now + time::Duration::seconds(60), now)
                    .await
                    .expect("take_lock")
            })
        });
        let taken = futures::future::join_all(takers).await;

        let winners = taken
            .into_iter()
            .filter(|t| *t.as_ref().expect("a taker"))
            .count();
        assert_eq!(winners, 1, "round {round}: one taker holds the lock");
    }
}

/// An enqueue with a unique period racing the completion of the key's holder: the
/// insert's snapshot still sees the holder running, waits on the unique index for the
/// completion to commit, and then finds the key free; the enqueue asks again and
/// answers the holder, now finished within the period, as the duplicate, storing
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_racing_the_holders_completion_still_sees_the_unique_period() {
    use sqlx::Connection;

    let Some(db) = test_schema() else { return };
    let store = Arc::new(db.open().await);
    let digest = || {
        job(Some("digest:7"))
            .unique_for(std::time::Duration::from_secs(3600), &[JobState::Completed])
            .expect("a valid period")
    };
    let holder = store.enqueue(digest(), t(0)).await.expect("enqueue").job;
    let queues = ["default".to_owned()];
    let request = ClaimRequest::new("w", &queues, 1, t(60));
    assert_eq!(store.claim(request, t(0)).await.expect("claim").len(), 1);

    // The holder's completion, committed only once the enqueue waits on it.
    let mut conn = db.connection().await;
    let mut completion = conn.begin().await.expect("begin");
    let finish = format!(
        "UPDATE \"{}\".jobs SET state = 'completed', finished_at = $2, lease_until = NULL \
         WHERE id = $1",
        db.schema
    );
    sqlx::query(sqlx::AssertSqlSafe(finish))
        .bind(holder.id.as_uuid())
        .bind(leasehold::time::to_unix_micros(t(10)))
        .execute(&mut *completion)
        .await
        .expect("complete the holder");
    let racing = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.enqueue(digest(), t(20)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !racing.is_finished(),
        "the enqueue waits for the holder's row"
    );
    completion.commit().await.expect("commit");

    let enqueued = racing.await.expect("task").expect("enqueue");

    assert!(
        enqueued.duplicate,
        "the holder finished 10 s before: inside the hour"
    );
    assert_eq!(enqueued.job.id, holder.id);
    let all = store.list(&JobFilter::all(), t(20)).await.expect("list");
    assert_eq!(all.len(), 1, "nothing was stored");
}
