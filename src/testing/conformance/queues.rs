//! Queues, from the [`JobStore`](crate::JobStore) contract: pause and resume.

use super::{
    StoreFactory, WORKER, claim, enqueue_and_claim, enqueue_at, new_job, open_with_claimed, t,
};
use crate::{ClaimRequest, HeartbeatStatus, NewJob, StoreError};

/// A paused queue is not claimed (neither its due jobs nor its expired leases) and
/// `next_due` leaves it out, while other queues go on and its running job keeps its
/// lease; once resumed, its jobs are claimed again.
pub async fn a_paused_queue_is_not_claimed_until_resumed(f: &dyn StoreFactory) {
    let (store, _, running) = open_with_claimed(f, new_job("k", t(0))).await;
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

/// `queue_stats` counts each queue's jobs in each state as of the `now` given, with
/// the oldest pending `run_at` and whether the queue is paused, for every queue with a
/// job or a pause, ordered by name.
pub async fn queue_stats_counts_every_queue_by_state(f: &dyn StoreFactory) {
    let store = f.open().await;
    let in_queue = |kind: &str, queue: &str, run_at| {
        new_job(kind, run_at)
            .queue(queue)
            .expect("the suite's queues are valid")
    };
    // "default": one running, one completed, one due at t(0), one due at t(50).
    let (_, running) = enqueue_and_claim(&*store, new_job("k", t(0))).await;
    enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let done = claim(&*store, 1, t(0), 30).await.remove(0);
    store.complete(done.lease(), t(1)).await.expect("complete");
    enqueue_at(&*store, new_job("k", t(-5)), t(0)).await;
    enqueue_at(&*store, new_job("k", t(50)), t(0)).await;
    // "b": one cancelled, paused; "c" has no job but was paused and resumed.
    let b = enqueue_at(&*store, in_queue("k", "b", t(0)), t(0)).await;
    store.cancel(b.id, t(1)).await.expect("cancel");
    store.pause_queue("b", t(2)).await.expect("pause b");
    let c = enqueue_at(&*store, in_queue("k", "c", t(0)), t(0)).await;
    store.pause_queue("c", t(2)).await.expect("pause c");
    store.resume_queue("c", t(2)).await.expect("resume c");
    store.delete_job(c.id, t(3)).await.expect("delete c's job");

    let stats = store.queue_stats(t(10)).await.expect("queue_stats");

    let names: Vec<&str> = stats.iter().map(|s| s.queue.as_str()).collect();
    assert_eq!(names, ["b", "c", "default"], "every known queue, by name");
    let [b, c, default] = [&stats[0], &stats[1], &stats[2]];
    assert_eq!(default.queue, running.queue);
    assert_eq!(
        (default.scheduled, default.available, default.running),
        (1, 1, 1)
    );
    assert_eq!(
        (default.completed, default.failed, default.cancelled),
        (1, 0, 0)
    );
    assert_eq!(default.oldest_pending_run_at, Some(t(-5)));
    assert!(!default.paused);
    assert_eq!((b.cancelled, b.total(), b.paused), (1, 1, true));
    assert_eq!(b.oldest_pending_run_at, None);
    assert_eq!((c.total(), c.paused), (0, false));
    // The same jobs seen later: the scheduled one is due.
    let later = store.queue_stats(t(60)).await.expect("queue_stats");
    assert_eq!((later[2].scheduled, later[2].available), (0, 2));
}
