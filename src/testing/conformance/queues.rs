//! Queues, from the [`JobStore`](crate::JobStore) contract: pause and resume.

use super::{StoreFactory, WORKER, claim, enqueue_and_claim, enqueue_at, new_job, t};
use crate::{ClaimRequest, HeartbeatStatus, NewJob, StoreError};

/// A paused queue is not claimed (neither its due jobs nor its expired leases) and
/// `next_due` leaves it out, while other queues go on and its running job keeps its
/// lease; once resumed, its jobs are claimed again.
pub async fn a_paused_queue_is_not_claimed_until_resumed(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (_, running) = enqueue_and_claim(&*store, new_job("k", t(0))).await;
    let waiting = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let other = NewJob::new("k", serde_json::json!({}), t(0))
        .and_then(|job| job.queue("other"))
        .expect("a valid job");
    let other = enqueue_at(&*store, other, t(0)).await;
    let both = [running.queue.clone(), "other".to_owned()];

    // Twice: pausing a paused queue changes nothing.
    for _ in 0..2 {
        let paused = store.pause_queue(&running.queue, t(1)).await;
        paused.expect("pause a queue with jobs");
    }

    // The running job keeps its lease while paused.
    let extended = store
        .heartbeat(&[running.lease()], t(40))
        .await
        .expect("heartbeat");
    assert_eq!(extended, [HeartbeatStatus::Extended]);
    // Past that lease: neither the waiting job nor the expired lease is claimed.
    let claimed = store
        .claim(ClaimRequest::new(WORKER, &both, 10, t(200)), t(100))
        .await
        .expect("claim");
    let ids: Vec<_> = claimed.iter().map(|job| job.id).collect();
    assert_eq!(ids, [other.id], "only the unpaused queue is claimed");
    let due = store
        .next_due(std::slice::from_ref(&running.queue))
        .await
        .expect("next_due");
    assert_eq!(due, None, "a paused queue is never due");

    // Twice: resuming a queue that is not paused changes nothing.
    for _ in 0..2 {
        let resumed = store.resume_queue(&running.queue, t(101)).await;
        resumed.expect("resume a paused queue");
    }
    let mut ids: Vec<_> = claim(&*store, 10, t(101), 30)
        .await
        .iter()
        .map(|job| job.id)
        .collect();
    ids.sort();
    let mut want = vec![running.id, waiting.id];
    want.sort();
    assert_eq!(ids, want, "a resumed queue is claimed again");
}

/// Pausing or resuming a queue that no stored job names and that was never paused is
/// `QueueNotFound`, and stores nothing: the queue does not become paused.
pub async fn pausing_an_unknown_queue_is_not_found(f: &dyn StoreFactory) {
    let store = f.open().await;
    for result in [
        store.pause_queue("mial", t(0)).await,
        store.resume_queue("mial", t(0)).await,
    ] {
        assert!(
            matches!(&result, Err(StoreError::QueueNotFound(q)) if q == "mial"),
            "expected QueueNotFound(\"mial\"), got {result:?}"
        );
    }
    let job = NewJob::new("k", serde_json::json!({}), t(0))
        .and_then(|job| job.queue("mial"))
        .expect("a valid job");
    let job = enqueue_at(&*store, job, t(0)).await;
    let queues = ["mial".to_owned()];
    let claimed = store
        .claim(ClaimRequest::new(WORKER, &queues, 10, t(30)), t(0))
        .await
        .expect("claim");
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        [job.id],
        "the refused pause left nothing behind"
    );
}
