//! Limits, from the [`JobStore`](crate::JobStore) contract: flow control per key and
//! per queue, enforced by the claim.

use std::time::Duration;

use super::{StoreFactory, WORKER, claim, enqueue_at, new_job, t};
use crate::{ClaimRequest, JobRecord, Limit, LimitScope, NewJob, StoreError};

fn key(name: &str) -> LimitScope {
    LimitScope::Key(name.to_owned())
}

fn queue(name: &str) -> LimitScope {
    LimitScope::Queue(name.to_owned())
}

/// A job of `kind` due at t(0) under the limit key `limit_key`.
fn keyed(kind: &str, limit_key: &str) -> NewJob {
    new_job(kind, t(0))
        .limit_key(limit_key)
        .expect("the suite's keys are valid")
}

fn kinds(jobs: &[JobRecord]) -> Vec<&str> {
    jobs.iter().map(|job| job.kind.as_str()).collect()
}

/// `set_limit` stores and replaces, `limits` lists keys before queues then by name,
/// `remove_limit` deletes; removing what is not there is `LimitNotFound`, a limit for
/// an unknown queue is `QueueNotFound`, and neither stores anything; a queue's limit
/// shows in its stats.
pub async fn limits_are_stored_replaced_and_removed(f: &dyn StoreFactory) {
    let store = f.open().await;
    enqueue_at(&*store, keyed("k", "partner:b"), t(0)).await;
    let two = Limit::running(2).expect("valid");
    let rated = Limit::rate(100, Duration::from_secs(60)).expect("valid");
    let both = two
        .with_rate(5, Duration::from_millis(1_500))
        .expect("valid");
    store
        .set_limit(&key("partner:b"), two, t(1))
        .await
        .expect("set");
    store
        .set_limit(&key("partner:a"), rated, t(1))
        .await
        .expect("set");
    store
        .set_limit(&queue("default"), both, t(1))
        .await
        .expect("set a known queue");
    // Replacing.
    store
        .set_limit(&key("partner:b"), both, t(2))
        .await
        .expect("replace");
    let limits = store.limits().await.expect("limits");
    assert_eq!(
        limits,
        [
            (key("partner:a"), rated),
            (key("partner:b"), both),
            (queue("default"), both)
        ],
        "keys first, then queues, each by name, as last set"
    );
    let stats = store.queue_stats(t(2)).await.expect("queue_stats");
    assert_eq!(stats.len(), 1);
    assert_eq!(
        stats[0].limit,
        Some(both),
        "the queue's limit shows in its stats"
    );

    let unknown = store.set_limit(&queue("mial"), two, t(3)).await;
    assert!(
        matches!(&unknown, Err(StoreError::QueueNotFound(q)) if q == "mial"),
        "expected QueueNotFound(\"mial\"), got {unknown:?}"
    );
    store
        .remove_limit(&key("partner:a"), t(3))
        .await
        .expect("remove");
    for scope in [key("partner:a"), key("nobody"), queue("mial")] {
        let removed = store.remove_limit(&scope, t(3)).await;
        assert!(
            matches!(&removed, Err(StoreError::LimitNotFound(s)) if *s == scope),
            "expected LimitNotFound({scope}), got {removed:?}"
        );
    }
    let limits = store.limits().await.expect("limits");
    assert_eq!(
        limits,
        [(key("partner:b"), both), (queue("default"), both)],
        "only what was removed is gone; refusals stored nothing"
    );
}

/// With `max_running` 2 on a key, claims lease at most 2 of its jobs at once, take the
/// key's jobs in claim order, and are not held back by it: jobs of other keys and
/// without a key behind a full key's backlog are claimed. A completed job or an
/// expired lease frees its slot.
pub async fn a_claim_runs_at_most_max_running_jobs_of_a_key(f: &dyn StoreFactory) {
    let store = f.open().await;
    for i in 0..30 {
        enqueue_at(&*store, keyed(&format!("a{i:02}"), "partner:a"), t(0)).await;
    }
    enqueue_at(&*store, keyed("b", "partner:b"), t(0)).await;
    enqueue_at(&*store, new_job("free", t(0)), t(0)).await;
    let limit = Limit::running(2).expect("valid");
    store
        .set_limit(&key("partner:a"), limit, t(0))
        .await
        .expect("set");

    let first = claim(&*store, 3, t(1), 30).await;
    assert_eq!(
        kinds(&first),
        ["a00", "a01", "b"],
        "two of the key, then the next jobs"
    );
    let second = claim(&*store, 10, t(2), 30).await;
    assert_eq!(
        kinds(&second),
        ["free"],
        "the full key's backlog holds back nothing else"
    );
    assert!(
        claim(&*store, 10, t(3), 30).await.is_empty(),
        "the key is full"
    );

    // Completing one frees one slot (the other keys' jobs complete too).
    for job in [&first[0], &first[2], &second[0]] {
        store.complete(job.lease(), t(4)).await.expect("complete");
    }
    let third = claim(&*store, 10, t(5), 30).await;
    assert_eq!(kinds(&third), ["a02"]);
    // An expired lease frees its slot: at t(32) a01's lease (until t(31)) is over, so
    // the key allows one more; a01 itself is due again and comes first.
    let fourth = claim(&*store, 10, t(32), 30).await;
    assert_eq!(
        kinds(&fourth),
        ["a01"],
        "an expired lease's slot is taken in claim order"
    );
    assert!(claim(&*store, 10, t(33), 30).await.is_empty());
}

/// A rate of 3 starts per 10 s: no window of 10 s sees more than 3 claims of the key,
/// counted at each claim's `now`; jobs over the rate stay pending and are claimed as
/// the window slides.
pub async fn a_rate_allows_at_most_its_starts_in_any_window(f: &dyn StoreFactory) {
    let store = f.open().await;
    for i in 0..10 {
        enqueue_at(&*store, keyed(&format!("a{i}"), "tenant:1"), t(0)).await;
    }
    let limit = Limit::rate(3, Duration::from_secs(10)).expect("valid");
    store
        .set_limit(&key("tenant:1"), limit, t(0))
        .await
        .expect("set");

    let mut starts = Vec::new();
    for (now, want) in [
        (0, 2),
        (5, 5),
        (9, 5),
        (10, 5),
        (11, 5),
        (15, 5),
        (20, 5),
        (40, 5),
    ] {
        let claimed = claim(&*store, want, t(now), 600).await;
        starts.extend(claimed.iter().map(|_| now));
        // Completed at once: the rate counts starts, not running jobs.
        for job in &claimed {
            store.complete(job.lease(), t(now)).await.expect("complete");
        }
    }
    // At 0: 2 (of 2 asked); at 5: 1 more fills the window (0, 0, 5); at 9 nothing;
    // at 10 the window (0, 10] holds only 5: 2 more (the 0s left it); at 11 none; at
    // 15 the window (5, 15] holds 10, 10: one more; at 20 (10, 20] holds 15: two
    // more; at 40 the last two.
    assert_eq!(
        starts,
        [0, 0, 5, 10, 10, 15, 20, 20, 40, 40],
        "claims per window"
    );
    for window in starts.windows(4) {
        assert!(
            window[3] - window[0] >= 10,
            "four starts within 10 s: {window:?}"
        );
    }
}

/// A queue limit counts every job of the queue, keyed or not, and combines with key
/// limits: a job is claimed only if both allow it.
pub async fn a_queue_limit_bounds_every_job_of_the_queue(f: &dyn StoreFactory) {
    let store = f.open().await;
    for i in 0..4 {
        enqueue_at(&*store, new_job(&format!("q{i}"), t(0)), t(0)).await;
    }
    let other = NewJob::new("o", serde_json::json!({}), t(0))
        .and_then(|job| job.queue("other"))
        .expect("a valid job");
    enqueue_at(&*store, other, t(0)).await;
    let three = Limit::running(3).expect("valid");
    store
        .set_limit(&queue("default"), three, t(0))
        .await
        .expect("set");
    let one = Limit::running(1).expect("valid");
    store.set_limit(&key("k"), one, t(0)).await.expect("set");
    enqueue_at(&*store, keyed("k0", "k"), t(0)).await;
    enqueue_at(&*store, keyed("k1", "k"), t(0)).await;

    let both = vec!["default".to_owned(), "other".to_owned()];
    let claimed = store
        .claim(ClaimRequest::new(WORKER, &both, 10, t(40)), t(1))
        .await
        .expect("claim");
    let mut got = kinds(&claimed);
    got.sort_unstable();
    // default: q0..q3 then k0, k1 in id order; the key allows k0 only; the queue 3:
    // q0, q1, q2. The other queue is not limited.
    assert_eq!(got, ["o", "q0", "q1", "q2"]);
    let stats = store.queue_stats(t(1)).await.expect("stats");
    let default = stats
        .iter()
        .find(|s| s.queue == "default")
        .expect("default");
    assert_eq!((default.running, default.limit), (3, Some(three)));

    // `limited` bounds the governed jobs of a claim: one job of the limited queue,
    // though the queue allows more once one finishes.
    store
        .complete(claimed[0].lease(), t(2))
        .await
        .expect("complete");
    store
        .complete(claimed[1].lease(), t(2))
        .await
        .expect("complete");
    let request = ClaimRequest::new(WORKER, &both, 10, t(40)).limited(1);
    let more = store.claim(request, t(3)).await.expect("claim");
    assert_eq!(
        more.len(),
        1,
        "at most `limited` governed jobs: {:?}",
        kinds(&more)
    );
}

/// A claim that may take fewer governed jobs than it asks for (`limited` under
/// `limit`, as a worker claiming ahead of its free slots asks) takes the first
/// `limited` governed jobs in claim order, and the jobs no limit governs after them:
/// with its queue limited, every job is governed, so `limited` jobs and no more.
pub async fn a_claim_ahead_takes_the_first_limited_governed_jobs(f: &dyn StoreFactory) {
    let store = f.open().await;
    // In claim order (ids rise with enqueue order): k0, q1, k2, q3, k4, q5, ...
    for i in 0..12 {
        let job = if i % 2 == 0 {
            keyed(&format!("k{i}"), "k")
        } else {
            new_job(&format!("q{i}"), t(0))
        };
        enqueue_at(&*store, job, t(0)).await;
    }
    let roomy = Limit::running(100).expect("valid");
    store.set_limit(&key("k"), roomy, t(0)).await.expect("set");
    let default = vec!["default".to_owned()];

    // Only the key limited: the first two keyed jobs, and every unkeyed job up to
    // the claim's six.
    let request = ClaimRequest::new(WORKER, &default, 6, t(40)).limited(2);
    let claimed = store.claim(request, t(1)).await.expect("claim");
    assert_eq!(kinds(&claimed), ["k0", "q1", "k2", "q3", "q5", "q7"]);

    // The queue limited too: every job governed, so the claim takes the first three
    // of what is left and no more, though it asks for six.
    store
        .set_limit(&queue("default"), roomy, t(1))
        .await
        .expect("set");
    let request = ClaimRequest::new(WORKER, &default, 6, t(40)).limited(3);
    let claimed = store.claim(request, t(2)).await.expect("claim");
    assert_eq!(kinds(&claimed), ["k4", "k6", "k8"]);
}

/// `next_due` puts a job that a full limit holds back at the time the limit opens:
/// the rate's `starts`-th latest start plus `per`, or the earliest lease expiry of a
/// full `max_running`.
pub async fn next_due_waits_for_a_limit_to_open(f: &dyn StoreFactory) {
    let store = f.open().await;
    let queues = super::default_queue();
    for i in 0..3 {
        enqueue_at(&*store, keyed(&format!("r{i}"), "rated"), t(0)).await;
    }
    let rate = Limit::rate(2, Duration::from_secs(60)).expect("valid");
    store
        .set_limit(&key("rated"), rate, t(0))
        .await
        .expect("set");
    for now in [1, 5] {
        let claimed = claim(&*store, 1, t(now), 10).await;
        store
            .complete(claimed[0].lease(), t(now))
            .await
            .expect("complete");
    }
    let due = store.next_due(&queues).await.expect("next_due");
    assert_eq!(
        due,
        Some(t(61)),
        "the window opens when the start at 1 leaves it"
    );

    store
        .remove_limit(&key("rated"), t(6))
        .await
        .expect("remove");
    assert_eq!(store.next_due(&queues).await.expect("next_due"), Some(t(0)));

    let running = Limit::running(1).expect("valid");
    store
        .set_limit(&key("rated"), running, t(6))
        .await
        .expect("set");
    let holder = claim(&*store, 1, t(7), 20).await;
    assert_eq!(holder.len(), 1);
    enqueue_at(&*store, keyed("r3", "rated"), t(7)).await;
    let due = store.next_due(&queues).await.expect("next_due");
    assert_eq!(
        due,
        Some(t(27)),
        "held back until the holder's lease expires"
    );
}
