//! What a job carries, from the [`JobStore`](crate::JobStore) contract: tags and
//! metadata, output, its error history, when its attempts started, and uniqueness over
//! a period.

use std::time::Duration;

use serde_json::json;

use super::{
    StoreFactory, claim, claim_one, enqueue_and_claim, enqueue_and_complete, enqueue_at, get, ids,
    new_job, new_job_with_attempts, open_with_claimed, race, t,
};
use crate::{ERROR_HISTORY_LIMIT, JobFilter, JobState, NewJob};

/// Tags and metadata read back as given, and a filter's tag selects exactly the jobs
/// carrying it, in `list` and `count`.
pub async fn tags_and_metadata_are_stored_and_a_tag_selects(f: &dyn StoreFactory) {
    let store = f.open().await;
    let tagged = |tags: &[&str]| {
        new_job("k", t(0))
            .tags(tags.iter().copied())
            .and_then(|job| job.metadata(json!({ "tenant": 42, "nested": { "a": [1, 2] } })))
            .expect("valid tags and metadata")
    };
    let a = enqueue_at(&*store, tagged(&["invoice", "tenant:42"]), t(0)).await;
    let b = enqueue_at(&*store, tagged(&["tenant:42"]), t(0)).await;
    let plain = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;

    let read = get(&*store, a.id, t(0)).await;
    assert_eq!(read.tags, ["invoice", "tenant:42"]);
    assert_eq!(read.metadata["tenant"], json!(42));
    assert_eq!(read.metadata["nested"], json!({ "a": [1, 2] }));
    assert_eq!(read, a);
    let plain = get(&*store, plain.id, t(0)).await;
    assert!(plain.tags.is_empty() && plain.metadata.is_empty());

    let tenant = JobFilter::all().tag("tenant:42");
    let listed = store.list(&tenant, t(0)).await.expect("list");
    assert_eq!(ids(&listed), [a.id, b.id]);
    assert_eq!(store.count(&tenant, t(0)).await.expect("count"), 2);
    let invoice = JobFilter::all().tag("invoice");
    assert_eq!(
        ids(&store.list(&invoice, t(0)).await.expect("list")),
        [a.id]
    );
    let prefix = JobFilter::all().tag("tenant");
    assert_eq!(
        store.count(&prefix, t(0)).await.expect("count"),
        0,
        "whole tags only"
    );
}

/// `complete_with_output` ends the job `Completed` with its output readable from the
/// record; a stale lease is `LeaseLost` and stores nothing.
pub async fn complete_with_output_keeps_the_output(f: &dyn StoreFactory) {
    let (store, _, claimed) = open_with_claimed(f, new_job("k", t(0))).await;
    let output = json!({ "changed": ["a.html"], "bytes": 1234 });

    store
        .complete_with_output(claimed.lease(), &output, t(5))
        .await
        .expect("complete_with_output");

    let done = get(&*store, claimed.id, t(5)).await;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!((done.finished_at, done.output), (Some(t(5)), Some(output)));
    let stale = store
        .complete_with_output(claimed.lease(), &json!(1), t(6))
        .await;
    super::assert_lease_lost(stale, claimed.lease());
    let plain = enqueue_and_claim(&*store, new_job("k", t(0))).await.1;
    store.complete(plain.lease(), t(7)).await.expect("complete");
    assert_eq!(get(&*store, plain.id, t(7)).await.output, None);
}

/// Each failed attempt (by `retry`, by `fail`, by a last lease expiring under a claim)
/// is kept in `errors` with its attempt, time and error, oldest first, at most
/// [`ERROR_HISTORY_LIMIT`] of the latest.
pub async fn the_error_history_keeps_the_latest_failed_attempts(f: &dyn StoreFactory) {
    let store = f.open().await;
    let attempts = u32::try_from(ERROR_HISTORY_LIMIT).expect("a small limit") + 3;
    let job = enqueue_at(&*store, new_job_with_attempts("k", t(0), attempts), t(0)).await;
    for attempt in 1..attempts {
        let now = t(i64::from(attempt) * 10);
        let claimed = claim_one(&*store, now, 5).await;
        assert_eq!(claimed.attempt, attempt);
        let error = format!("error {attempt}");
        store
            .retry(
                claimed.lease(),
                now,
                &error,
                now + time::Duration::seconds(1),
            )
            .await
            .expect("retry");
    }
    // The last attempt's lease expires: the claim that finds it fails it.
    let last = claim_one(&*store, t(1000), 5).await;
    assert!(claim(&*store, 1, t(1010), 5).await.is_empty());

    let failed = get(&*store, job.id, t(1010)).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.errors.len(), ERROR_HISTORY_LIMIT);
    let latest = failed.errors.last().expect("errors");
    assert_eq!(
        (latest.attempt, latest.error.as_str()),
        (last.attempt, "lease expired")
    );
    assert_eq!(latest.at, t(1010));
    let oldest = &failed.errors[0];
    assert_eq!(
        oldest.attempt,
        attempts + 1 - u32::try_from(ERROR_HISTORY_LIMIT).unwrap()
    );
    assert_eq!(oldest.error, format!("error {}", oldest.attempt));
    assert_eq!(oldest.at, t(i64::from(oldest.attempt) * 10 + 1));

    let (_, other) = enqueue_and_claim(&*store, new_job("k", t(0))).await;
    store
        .fail(other.lease(), "bad input", t(3))
        .await
        .expect("fail");
    let other = get(&*store, other.id, t(3)).await;
    assert_eq!(other.errors.len(), 1);
    assert_eq!(
        (
            other.errors[0].attempt,
            other.errors[0].at,
            other.errors[0].error.as_str()
        ),
        (1, t(3), "bad input")
    );
}

/// A claim sets `attempted_at` to its `now` and, on the first claim only,
/// `first_attempted_at`; an enqueued job has neither.
pub async fn claims_record_when_attempts_started(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    assert_eq!((job.first_attempted_at, job.attempted_at), (None, None));

    let first = claim_one(&*store, t(2), 5).await;
    assert_eq!(
        (first.first_attempted_at, first.attempted_at),
        (Some(t(2)), Some(t(2)))
    );
    store
        .retry(first.lease(), t(3), "again", t(2))
        .await
        .expect("retry");
    let second = claim_one(&*store, t(9), 5).await;

    assert_eq!(
        (second.first_attempted_at, second.attempted_at),
        (Some(t(2)), Some(t(9)))
    );
    assert_eq!(second, get(&*store, job.id, t(9)).await);
}

fn digest(period: Duration, states: &[JobState]) -> NewJob {
    new_job("digest", t(0))
        .unique_key("digest:user-7")
        .unique_for(period, states)
        .expect("a valid unique period")
}

/// With a unique period, a key stays held after its holder completed until the period
/// has passed since it finished: an enqueue within it returns the finished holder as
/// a duplicate (of several finished holders, the one that finished last), one at or
/// after it inserts.
pub async fn a_unique_period_blocks_the_key_after_the_holder_finished(f: &dyn StoreFactory) {
    let store = f.open().await;
    let hour = Duration::from_secs(3600);
    let first = enqueue_and_complete(&*store, digest(hour, &[JobState::Completed]), t(100)).await;

    let within = store
        .enqueue(digest(hour, &[JobState::Completed]), t(3699))
        .await
        .expect("enqueue");
    assert!(within.duplicate, "finished 3599 s ago, inside the hour");
    assert_eq!(
        (within.job.id, within.job.state),
        (first.id, JobState::Completed)
    );
    let without_period = new_job("digest", t(0)).unique_key("digest:user-7");
    let plain = store
        .enqueue(without_period, t(200))
        .await
        .expect("enqueue");
    assert!(
        !plain.duplicate,
        "a key without a period ignores finished holders"
    );
    store.cancel(plain.job.id, t(200)).await.expect("cancel");

    let after = store
        .enqueue(digest(hour, &[JobState::Completed]), t(3700))
        .await
        .expect("enqueue");
    assert!(!after.duplicate, "the hour has passed");
    let again = store
        .enqueue(digest(hour, &[JobState::Completed]), t(3701))
        .await
        .expect("enqueue");
    assert!(again.duplicate, "a pending holder blocks as always");
    assert_eq!(again.job.id, after.job.id);
}

/// Only finished holders in the unique states block: with `[Completed]` a failed
/// holder does not, with `[Completed, Failed]` it does.
pub async fn unique_states_choose_which_finished_jobs_block(f: &dyn StoreFactory) {
    let store = f.open().await;
    let hour = Duration::from_secs(3600);
    let failing = digest(hour, &[JobState::Completed])
        .max_attempts(1)
        .expect("valid");
    let (_, claimed) = enqueue_and_claim(&*store, failing).await;
    store
        .fail(claimed.lease(), "boom", t(10))
        .await
        .expect("fail");

    let both = [JobState::Completed, JobState::Failed];
    let blocked = store
        .enqueue(digest(hour, &both), t(20))
        .await
        .expect("enqueue");
    assert!(
        blocked.duplicate,
        "a failed holder blocks when Failed is a unique state"
    );
    assert_eq!(blocked.job.id, claimed.id);
    let inserted = store
        .enqueue(digest(hour, &[JobState::Completed]), t(20))
        .await
        .expect("enqueue");
    assert!(
        !inserted.duplicate,
        "a failed holder does not block Completed alone"
    );
}

/// Once a period key's holder finished longer than the period ago, racing enqueues of
/// the key, through one handle or several, insert exactly one job and all return it.
pub async fn concurrent_enqueues_of_a_period_key_insert_once(f: &dyn StoreFactory) {
    let handles = f.open_shared(4).await;
    let hour = Duration::from_secs(3600);
    enqueue_and_complete(&*handles[0], digest(hour, &[JobState::Completed]), t(1)).await;

    let results = race(&handles, 16, |_, store| async move {
        let job = digest(hour, &[JobState::Completed]);
        store.enqueue(job, t(7200)).await.expect("enqueue")
    })
    .await;

    let inserted: Vec<_> = results.iter().filter(|e| !e.duplicate).collect();
    assert_eq!(inserted.len(), 1, "exactly one enqueue inserts");
    assert!(results.iter().all(|e| e.job.id == inserted[0].job.id));
    let all = handles[0]
        .list(&JobFilter::all(), t(7200))
        .await
        .expect("list");
    assert_eq!(all.len(), 2, "the finished holder and one new job");
}
