//! Cancel, from the [`JobStore`](crate::JobStore) contract: of a pending, a running and
//! a finished job.

use super::{
    StoreFactory, assert_lease_lost, claim, enqueue_and_complete, enqueue_at, get, new_job,
    open_with_claimed, t,
};
use crate::{HeartbeatStatus, JobState};

/// Cancel of a pending job ends it Cancelled at once; it is never claimed.
pub async fn cancel_of_a_pending_job_ends_it_cancelled(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job("k", t(0)).unique_key("u"), t(0)).await;
    let scheduled = enqueue_at(&*store, new_job("k", t(50)), t(0)).await;

    let cancelled = store.cancel(job.id, t(1)).await.expect("cancel");
    store.cancel(scheduled.id, t(1)).await.expect("cancel");

    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(cancelled.finished_at, Some(t(1)));
    assert_eq!(
        get(&*store, scheduled.id, t(1)).await.state,
        JobState::Cancelled
    );
    assert!(claim(&*store, 10, t(100), 30).await.is_empty());
    let fresh = store
        .enqueue(new_job("k", t(0)).unique_key("u"), t(2))
        .await
        .expect("enqueue");
    assert!(!fresh.duplicate, "a cancelled job releases its unique key");
}

/// Cancel of a running job ends it Cancelled; its heartbeat sees it, its writes are lost.
pub async fn cancel_of_a_running_job_is_seen_by_its_heartbeat(f: &dyn StoreFactory) {
    let (store, job, claimed) = open_with_claimed(f, new_job("k", t(0))).await;

    let cancelled = store.cancel(job.id, t(1)).await.expect("cancel");

    assert_eq!(cancelled.state, JobState::Cancelled);
    let beat = store
        .heartbeat(&[claimed.lease()], t(60))
        .await
        .expect("heartbeat");
    assert_eq!(beat, vec![HeartbeatStatus::Cancelled]);
    assert_lease_lost(store.complete(claimed.lease(), t(2)).await, claimed.lease());
    assert_lease_lost(
        store.retry(claimed.lease(), t(2), "e", t(2)).await,
        claimed.lease(),
    );
    assert_eq!(get(&*store, job.id, t(2)).await.state, JobState::Cancelled);
    assert!(
        claim(&*store, 10, t(1000), 30).await.is_empty(),
        "a cancelled lease is never reclaimed"
    );
}

/// Cancel of a terminal job leaves it as it is.
pub async fn cancel_of_a_finished_job_changes_nothing(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_and_complete(&*store, new_job("k", t(0)), t(1)).await;
    let before = get(&*store, job.id, t(2)).await;

    let after = store.cancel(job.id, t(2)).await.expect("cancel");

    assert_eq!(after, before);
    assert_eq!(after.state, JobState::Completed);
}
