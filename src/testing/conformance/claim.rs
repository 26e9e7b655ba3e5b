//! Claim, from the [`JobStore`](crate::JobStore) contract: which jobs a claim returns,
//! in what order, under what lease, and what it does with an expired lease.

use time::Duration;

use super::{
    StoreFactory, WORKER, assert_lease_lost, claim, claim_one, default_queue, enqueue_at, get, ids,
    new_job, new_job_with_attempts, race, t,
};
use crate::ClaimRequest;
use crate::{JobId, JobState, NewJob};

/// A claim returns jobs of the queues it names, and no other.
pub async fn claim_only_takes_the_given_queues(f: &dyn StoreFactory) {
    let store = f.open().await;
    let mut by_queue = Vec::new();
    for queue in ["a", "b", "c"] {
        let job = new_job("k", t(0)).queue(queue).expect("valid");
        by_queue.push(enqueue_at(&*store, job, t(0)).await.id);
    }
    let queues = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();

    let from_b = store
        .claim(ClaimRequest::new(WORKER, &queues(&["b"]), 10, t(30)), t(0))
        .await
        .expect("claim");
    let from_none = store
        .claim(ClaimRequest::new(WORKER, &queues(&["z"]), 10, t(30)), t(0))
        .await
        .expect("claim");
    let from_a_c = store
        .claim(
            ClaimRequest::new(WORKER, &queues(&["a", "c"]), 10, t(30)),
            t(0),
        )
        .await
        .expect("claim");

    assert_eq!(ids(&from_b), vec![by_queue[1]]);
    assert!(from_none.is_empty());
    let mut got = ids(&from_a_c);
    got.sort();
    let mut want = vec![by_queue[0], by_queue[2]];
    want.sort();
    assert_eq!(got, want);
    assert!(
        store
            .claim(ClaimRequest::new(WORKER, &[], 10, t(30)), t(0))
            .await
            .expect("claim")
            .is_empty()
    );
}

/// A claim returns at most `limit` jobs; a limit of 0 returns none.
pub async fn claim_returns_at_most_limit_jobs(f: &dyn StoreFactory) {
    let store = f.open().await;
    let jobs: Vec<NewJob> = (0..10).map(|i| new_job(&format!("k{i}"), t(0))).collect();
    store.enqueue_many(jobs, t(0)).await.expect("enqueue_many");

    let none = claim(&*store, 0, t(0), 30).await;
    let three = claim(&*store, 3, t(0), 30).await;
    let rest = claim(&*store, 100, t(0), 30).await;

    assert!(none.is_empty());
    assert_eq!(three.len(), 3);
    assert_eq!(rest.len(), 7);
}

/// Claims come in priority order (lower first), then by run_at, then by id (FIFO).
pub async fn claim_orders_by_priority_then_run_at_then_id(f: &dyn StoreFactory) {
    let store = f.open().await;
    // (priority, run_at second), enqueued in an order unlike the claim order.
    let specs = [(5, 0), (0, 3), (0, 1), (-2, 9), (0, 1), (5, -5), (0, 2)];
    let mut expected = Vec::new();
    for (priority, at) in specs {
        let job = new_job("k", t(-10)).priority(priority).run_at(t(at));
        expected.push((priority, t(at), job.id));
        enqueue_at(&*store, job, t(-10)).await;
    }
    expected.sort();

    let mut claimed = Vec::new();
    for _ in 0..specs.len() {
        claimed.extend(claim(&*store, 2, t(10), 30).await.into_iter().map(|j| j.id));
    }

    let want: Vec<JobId> = expected.iter().map(|(_, _, id)| *id).collect();
    assert_eq!(claimed, want);
}

/// A job is never claimed before its run_at.
pub async fn claim_never_returns_a_job_before_its_run_at(f: &dyn StoreFactory) {
    let store = f.open().await;
    let later = enqueue_at(&*store, new_job("k", t(100)).priority(-10), t(0)).await;
    let now = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;

    let at_zero = claim(&*store, 10, t(0), 1000).await;
    let just_before = claim(&*store, 10, t(100) - Duration::microseconds(1), 1000).await;
    let at_run_at = claim(&*store, 10, t(100), 1000).await;

    assert_eq!(ids(&at_zero), vec![now.id]);
    assert!(just_before.is_empty());
    assert_eq!(ids(&at_run_at), vec![later.id]);
}

/// A job whose lease is live is never claimed, up to the lease's last microsecond.
pub async fn claim_never_returns_a_leased_job(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    claim_one(&*store, t(0), 30).await;

    let during = claim(&*store, 10, t(15), 30).await;
    let last_micro = claim(&*store, 10, t(30) - Duration::microseconds(1), 30).await;
    let at_expiry = claim(&*store, 10, t(30), 30).await;

    assert!(during.is_empty());
    assert!(last_micro.is_empty());
    assert_eq!(ids(&at_expiry), vec![job.id]);
}

/// A claimed job is Running with attempt and token one higher and the lease given.
pub async fn claim_marks_jobs_running_under_a_lease(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;

    let claimed = store
        .claim(ClaimRequest::new("w-7", &default_queue(), 1, t(31)), t(1))
        .await
        .expect("claim");

    assert_eq!(claimed.len(), 1);
    let claimed = &claimed[0];
    assert_eq!(claimed.id, job.id);
    assert_eq!(claimed.state, JobState::Running);
    assert_eq!(claimed.attempt, 1);
    assert_eq!(claimed.lease_token, 1);
    assert_eq!(claimed.lease_until, Some(t(31)));
    assert_eq!(claimed.worker.as_deref(), Some("w-7"));
    assert_eq!(claimed.payload, job.payload);
    assert_eq!(&get(&*store, job.id, t(1)).await, claimed);
}

/// An expired lease is claimable again, with the next attempt and a new token.
pub async fn claim_takes_an_expired_lease_with_the_next_attempt(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let first = claim_one(&*store, t(0), 10).await;

    let second = claim_one(&*store, t(10), 10).await;

    assert_eq!(second.id, job.id);
    assert_eq!(second.attempt, first.attempt + 1);
    assert!(second.lease_token > first.lease_token);
    assert_eq!(second.lease_until, Some(t(20)));
    assert_eq!(second.state, JobState::Running);
}

/// An expired lease on the last attempt ends the job Failed with "lease expired".
pub async fn claim_fails_an_expired_lease_on_the_last_attempt(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job_with_attempts("k", t(0), 2), t(0)).await;
    claim_one(&*store, t(0), 10).await;
    let last = claim_one(&*store, t(10), 10).await;
    assert_eq!(last.attempt, 2);

    let after = claim(&*store, 10, t(20), 10).await;

    assert!(after.is_empty(), "an exhausted job is not claimed again");
    let failed = get(&*store, job.id, t(20)).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("lease expired"));
    assert_eq!(failed.attempt, 2);
    assert_eq!(failed.finished_at, Some(t(20)));
    assert_lease_lost(store.complete(last.lease(), t(21)).await, last.lease());
}

/// Concurrent claims, through one handle or several, never return one job twice.
pub async fn concurrent_claims_partition_the_jobs(f: &dyn StoreFactory) {
    let handles = f.open_shared(4).await;
    let jobs: Vec<NewJob> = (0..400).map(|i| new_job(&format!("k{i}"), t(0))).collect();
    let all: std::collections::BTreeSet<JobId> = jobs.iter().map(|j| j.id).collect();
    handles[0]
        .enqueue_many(jobs, t(0))
        .await
        .expect("enqueue_many");

    let results = race(&handles, 8, |i, store| async move {
        let mut mine = Vec::new();
        loop {
            let worker = format!("w{i}");
            let got = store
                .claim(
                    ClaimRequest::new(&worker, &default_queue(), 7, t(1000)),
                    t(1),
                )
                .await
                .expect("claim");
            if got.is_empty() {
                return mine;
            }
            mine.extend(got.into_iter().map(|j| j.id));
        }
    })
    .await;

    let mut seen = std::collections::BTreeSet::new();
    for ids in results {
        for id in ids {
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(seen, all, "every job was claimed exactly once");
}
