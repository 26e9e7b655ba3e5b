//! Jobs by hand, from the [`JobStore`](crate::JobStore) contract: what an operator
//! does to a job (retry it now, delete it, change it), one at a time or by filter.

use super::{
    StoreFactory, claim, claim_one, complete, count_all, enqueue_and_claim, enqueue_and_complete,
    enqueue_at, get, ids, new_job, new_job_with_attempts, open_with_claimed, t,
};
use crate::{HeartbeatStatus, JobFilter, JobId, JobState, JobUpdate, StoreError};

fn assert_wrong_state<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    id: JobId,
    state: JobState,
) {
    match result {
        Err(StoreError::WrongState { job, state: s, .. }) => {
            assert_eq!((job, s), (id, state), "the refusal names the job and state");
        }
        other => panic!("expected WrongState for job {id} ({state}), got {other:?}"),
    }
}

/// A job that failed on its last attempt, retried by hand, is `Available` at `now`
/// with no lease and no `finished_at`, one more attempt allowed and its errors kept; a
/// claim then runs it. A cancelled and a completed job are retried the same way.
pub async fn retry_job_makes_a_finished_job_available_now_with_another_attempt(
    f: &dyn StoreFactory,
) {
    let (store, _, claimed) = open_with_claimed(f, new_job_with_attempts("k", t(0), 1)).await;
    store
        .fail(claimed.lease(), "boom", t(1))
        .await
        .expect("fail");

    let retried = store.retry_job(claimed.id, t(10)).await.expect("retry_job");

    assert_eq!(retried.state, JobState::Available);
    assert_eq!(retried.run_at, t(10));
    assert_eq!((retried.attempt, retried.max_attempts), (1, 2));
    assert_eq!((retried.finished_at, retried.lease_until), (None, None));
    assert_eq!(retried.last_error.as_deref(), Some("boom"));
    assert_eq!(retried.errors.len(), 1, "the error history stays");
    assert_eq!(retried, get(&*store, claimed.id, t(10)).await);
    let again = claim_one(&*store, t(10), 30).await;
    assert_eq!((again.id, again.attempt), (claimed.id, 2));

    let cancelled = enqueue_at(&*store, new_job("k", t(20)), t(20)).await;
    store.cancel(cancelled.id, t(20)).await.expect("cancel");
    let retried = store.retry_job(cancelled.id, t(21)).await.expect("retry");
    assert_eq!(
        (retried.state, retried.run_at),
        (JobState::Available, t(21))
    );
    assert_eq!(
        retried.max_attempts, cancelled.max_attempts,
        "attempts were left"
    );
}

/// A pending job retried by hand is due at `now`, whatever its `run_at` was.
pub async fn retry_job_of_a_pending_job_runs_it_now(f: &dyn StoreFactory) {
    let store = f.open().await;
    let later = enqueue_at(&*store, new_job("k", t(3600)), t(0)).await;

    let retried = store.retry_job(later.id, t(5)).await.expect("retry_job");

    assert_eq!((retried.state, retried.run_at), (JobState::Available, t(5)));
    assert_eq!(retried.attempt, 0);
    assert_eq!(claim_one(&*store, t(5), 30).await.id, later.id);
}

/// `delete_job` removes a pending job and a finished one, returning each as it was.
pub async fn delete_job_removes_a_pending_or_finished_job(f: &dyn StoreFactory) {
    let store = f.open().await;
    let done = enqueue_and_complete(&*store, new_job("k", t(0)), t(1)).await;
    let pending = enqueue_at(&*store, new_job("k", t(100)), t(0)).await;

    let deleted_pending = store.delete_job(pending.id, t(2)).await.expect("delete");
    let deleted_done = store.delete_job(done.id, t(2)).await.expect("delete");

    assert_eq!(deleted_pending, pending.clone());
    assert_eq!(
        (deleted_done.id, deleted_done.state),
        (done.id, JobState::Completed)
    );
    assert_eq!(count_all(&*store, t(2)).await, 0);
    assert!(store.get(pending.id, t(2)).await.expect("get").is_none());
}

/// `update_job` changes the run time, priority and queue of a pending job, each only
/// when set, and a claim sees the change.
pub async fn update_job_changes_a_pending_job(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;

    let later = store
        .update_job(job.id, &JobUpdate::new().run_at(t(100)).priority(-3), t(1))
        .await
        .expect("update");
    assert_eq!((later.run_at, later.priority), (t(100), -3));
    assert_eq!(later.state, JobState::Scheduled);
    assert_eq!(later.queue, job.queue, "an unset field is left as it is");
    assert!(claim(&*store, 10, t(50), 30).await.is_empty());

    let moved = JobUpdate::new().queue("elsewhere").expect("a valid queue");
    let moved = store
        .update_job(job.id, &moved, t(2))
        .await
        .expect("update");
    assert_eq!((moved.queue.as_str(), moved.run_at), ("elsewhere", t(100)));
    assert_eq!(moved, get(&*store, job.id, t(2)).await);
    assert!(
        claim(&*store, 10, t(200), 30).await.is_empty(),
        "moved away"
    );
}

/// Retrying or deleting a running job, and updating a running or finished one, is
/// `WrongState` naming the job and its state, and changes nothing.
pub async fn verbs_by_hand_refuse_a_job_in_the_wrong_state(f: &dyn StoreFactory) {
    let (store, _, running) = open_with_claimed(f, new_job("k", t(0))).await;
    let finished = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    store.cancel(finished.id, t(1)).await.expect("cancel");
    let running_before = get(&*store, running.id, t(2)).await;
    let finished_before = get(&*store, finished.id, t(2)).await;
    let update = JobUpdate::new().priority(9);

    let id = running.id;
    assert_wrong_state(store.retry_job(id, t(2)).await, id, JobState::Running);
    assert_wrong_state(store.delete_job(id, t(2)).await, id, JobState::Running);
    assert_wrong_state(
        store.update_job(id, &update, t(2)).await,
        id,
        JobState::Running,
    );
    let id = finished.id;
    let state = JobState::Cancelled;
    assert_wrong_state(store.update_job(id, &update, t(2)).await, id, state);

    assert_eq!(get(&*store, running.id, t(2)).await, running_before);
    assert_eq!(get(&*store, finished.id, t(2)).await, finished_before);
    let extended = store.heartbeat(&[running.lease()], t(60)).await;
    assert_eq!(extended.expect("heartbeat"), [HeartbeatStatus::Extended]);
    // The running job's lease still holds.
    complete(&*store, running.lease(), t(3)).await;
}

/// Retry, delete and update of an unknown id are `NotFound`.
pub async fn verbs_by_hand_on_an_unknown_job_are_not_found(f: &dyn StoreFactory) {
    let store = f.open().await;
    let missing = JobId::new(t(0));
    let not_found = |result: Result<crate::JobRecord, StoreError>| {
        assert!(
            matches!(result, Err(StoreError::NotFound(id)) if id == missing),
            "expected NotFound({missing}), got {result:?}"
        );
    };

    not_found(store.retry_job(missing, t(0)).await);
    not_found(store.delete_job(missing, t(0)).await);
    not_found(store.update_job(missing, &JobUpdate::new(), t(0)).await);
}

/// `retry_jobs`, `cancel_jobs` and `delete_jobs` act on the jobs a filter selects, at
/// most its limit, lowest ids first, pass over the jobs their single form refuses
/// (running ones for retry and delete, finished ones for cancel), and answer how many
/// they changed.
pub async fn bulk_verbs_act_on_up_to_limit_selected_jobs(f: &dyn StoreFactory) {
    let store = f.open().await;
    // Four failed "sync" jobs, one running "sync" job, one failed "other" job.
    let mut failed = Vec::new();
    for kind in ["sync", "sync", "sync", "sync", "other"] {
        let (_, job) = enqueue_and_claim(&*store, new_job_with_attempts(kind, t(0), 1)).await;
        store.fail(job.lease(), "boom", t(1)).await.expect("fail");
        failed.push(job);
    }
    let (_, running) = enqueue_and_claim(&*store, new_job("sync", t(0))).await;
    let failed_sync = JobFilter::all().kind("sync").state(JobState::Failed);

    let retried = store
        .retry_jobs(&failed_sync.clone().limit(3), t(2))
        .await
        .expect("retry_jobs");
    assert_eq!(retried, 3, "at most the limit");
    let available = JobFilter::all().state(JobState::Available);
    let available = store.list(&available, t(2)).await.expect("list");
    assert_eq!(ids(&available), ids(&failed[..3]), "lowest ids first");
    let all_sync = JobFilter::all().kind("sync");
    let retried = store.retry_jobs(&all_sync, t(2)).await.expect("retry_jobs");
    assert_eq!(retried, 4, "every sync job but the running one");
    assert_eq!(
        get(&*store, running.id, t(2)).await.state,
        JobState::Running
    );

    let cancelled = store
        .cancel_jobs(&JobFilter::all(), t(3))
        .await
        .expect("cancel_jobs");
    assert_eq!(
        cancelled, 5,
        "the four pending sync jobs and the running one"
    );
    let failed_other = get(&*store, failed[4].id, t(3)).await;
    assert_eq!(failed_other.state, JobState::Failed, "a finished job stays");

    let deleted = store
        .delete_jobs(&JobFilter::all().kind("sync"), t(4))
        .await
        .expect("delete_jobs");
    assert_eq!(deleted, 5);
    assert_eq!(count_all(&*store, t(4)).await, 1);
}

/// `delete_jobs` with `finished_before` deletes only jobs that finished before the
/// time, in the filter's states, never pending or running ones, those that finished
/// first first: what retention runs.
pub async fn delete_jobs_finished_before_a_time_keeps_the_rest(f: &dyn StoreFactory) {
    let store = f.open().await;
    let mut finished = Vec::new();
    for at in [10, 20, 30] {
        let job = enqueue_and_complete(&*store, new_job("k", t(0)), t(at)).await;
        finished.push(job.id);
    }
    let (_, failed) = enqueue_and_claim(&*store, new_job_with_attempts("k", t(0), 1)).await;
    store
        .fail(failed.lease(), "boom", t(5))
        .await
        .expect("fail");
    let (_, running) = enqueue_and_claim(&*store, new_job("k", t(0))).await;
    let pending = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;

    let old_completed = JobFilter::all()
        .state(JobState::Completed)
        .finished_before(t(30));
    let deleted = store
        .delete_jobs(&old_completed, t(100))
        .await
        .expect("delete_jobs");

    assert_eq!(deleted, 2, "completed at t(10) and t(20), not at t(30)");
    let left = store.list(&JobFilter::all(), t(100)).await.expect("list");
    let mut want = vec![finished[2], failed.id, running.id, pending.id];
    want.sort();
    assert_eq!(ids(&left), want);
    let any_old = JobFilter::all().finished_before(t(1000));
    assert_eq!(store.count(&any_old, t(100)).await.expect("count"), 2);

    // With a limit, those that finished first go first, whatever their ids.
    let oldest = store.delete_jobs(&any_old.limit(1), t(100)).await;
    assert_eq!(oldest.expect("delete_jobs"), 1);
    assert!(store.get(failed.id, t(100)).await.expect("get").is_none());
    assert!(store.get(finished[2], t(100)).await.expect("get").is_some());
}

/// Retrying a finished job whose unique key a live job now holds is `Conflict` and
/// changes nothing, alone or in a bulk retry (which then retries none of its jobs):
/// two live jobs never hold one key.
pub async fn a_retry_that_would_share_a_live_unique_key_is_a_conflict(f: &dyn StoreFactory) {
    let store = f.open().await;
    let keyed = || new_job_with_attempts("k", t(0), 1).unique_key("invoice:9");
    let (_, first) = enqueue_and_claim(&*store, keyed()).await;
    store.fail(first.lease(), "boom", t(1)).await.expect("fail");
    let other = enqueue_at(&*store, new_job_with_attempts("k", t(0), 1), t(0)).await;
    store.cancel(other.id, t(1)).await.expect("cancel");
    let holder = store.enqueue(keyed(), t(2)).await.expect("enqueue");
    assert!(!holder.duplicate, "the key was free");
    let before = store.list(&JobFilter::all(), t(3)).await.expect("list");

    let single = store.retry_job(first.id, t(3)).await;
    let bulk = store.retry_jobs(&JobFilter::all().kind("k"), t(3)).await;

    assert!(
        matches!(single, Err(StoreError::Conflict(_))),
        "got {single:?}"
    );
    assert!(matches!(bulk, Err(StoreError::Conflict(_))), "got {bulk:?}");
    let after = store.list(&JobFilter::all(), t(3)).await.expect("list");
    assert_eq!(after, before, "nothing changed");
}

/// `update_jobs` changes the pending jobs a filter selects, at most its limit, lowest
/// ids first, passing over running and finished ones, and answers how many it changed.
pub async fn update_jobs_changes_the_pending_jobs_a_filter_selects(f: &dyn StoreFactory) {
    let (store, _, running) = open_with_claimed(f, new_job("sync", t(0))).await;
    let mut pending = Vec::new();
    for _ in 0..3 {
        pending.push(enqueue_at(&*store, new_job("sync", t(0)), t(0)).await);
    }
    let other = enqueue_at(&*store, new_job("other", t(0)), t(0)).await;
    let moved = JobUpdate::new()
        .queue("slow")
        .expect("a valid queue")
        .run_at(t(100));

    let sync = JobFilter::all().kind("sync");
    let changed = store
        .update_jobs(&sync.clone().limit(2), &moved, t(1))
        .await
        .expect("update_jobs");

    assert_eq!(
        changed, 2,
        "two pending sync jobs, the running one passed over"
    );
    let slow = store
        .list(&JobFilter::all().queue("slow"), t(1))
        .await
        .expect("list");
    assert_eq!(ids(&slow), ids(&pending[..2]));
    assert!(
        slow.iter()
            .all(|j| j.run_at == t(100) && j.state == JobState::Scheduled)
    );
    assert_eq!(get(&*store, pending[2].id, t(1)).await.queue, other.queue);
    assert_eq!(
        get(&*store, running.id, t(1)).await.state,
        JobState::Running
    );
    let rest = store
        .update_jobs(&sync, &moved, t(1))
        .await
        .expect("update_jobs");
    assert_eq!(
        rest, 3,
        "the pending sync jobs, moved or not; never the running one"
    );
    assert_eq!(get(&*store, other.id, t(1)).await.queue, other.queue);
}
