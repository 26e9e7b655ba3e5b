//! Writes under a lease, from the [`JobStore`](crate::JobStore) contract: `heartbeat`,
//! `complete`, `retry`, `fail` and `release`, for the current lease and for a stale one.

use time::{Duration, OffsetDateTime};

use super::{
    StoreFactory, assert_lease_lost, claim, claim_one, complete, enqueue_at, get, new_job,
    new_job_with_attempts, open_with_claimed, t,
};
use crate::{HeartbeatStatus, JobId, JobRecord, JobState, JobStore, Lease, StoreError};

/// A job claimed once (token 1) and then taken over by a second claim after its
/// lease expired: returns (store job id, the stale lease, the current lease).
async fn stale_and_current(store: &dyn JobStore) -> (JobId, Lease, Lease) {
    let job = enqueue_at(store, new_job("k", t(0)), t(0)).await;
    let first = claim_one(store, t(0), 10).await;
    let second = claim_one(store, t(10), 10).await;
    assert_eq!(first.id, job.id);
    assert_eq!(second.id, job.id);
    (job.id, first.lease(), second.lease())
}

/// Reads job `id` at `at`, asserting that it ended in `state` at `at` and is never
/// claimed again.
async fn ended(store: &dyn JobStore, id: JobId, state: JobState, at: OffsetDateTime) -> JobRecord {
    let job = get(store, id, at).await;
    assert_eq!(job.state, state);
    assert_eq!(job.finished_at, Some(at));
    assert!(claim(store, 10, t(1000), 30).await.is_empty());
    job
}

/// A heartbeat for a stale lease answers Lost and extends nothing.
pub async fn heartbeat_reports_a_stale_lease_as_lost(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (id, stale, current) = stale_and_current(&*store).await;

    let answers = store
        .heartbeat(&[stale, current], t(100))
        .await
        .expect("heartbeat");

    assert_eq!(
        answers,
        vec![HeartbeatStatus::Lost, HeartbeatStatus::Extended]
    );
    assert_eq!(get(&*store, id, t(11)).await.lease_until, Some(t(100)));
    let unknown = Lease {
        job_id: JobId::new(t(0)),
        token: 1,
    };
    assert_eq!(
        store
            .heartbeat(&[unknown], t(100))
            .await
            .expect("heartbeat"),
        vec![HeartbeatStatus::Lost]
    );
}

/// A complete by a stale lease is LeaseLost and changes nothing.
pub async fn complete_rejects_a_stale_lease(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (id, stale, _) = stale_and_current(&*store).await;
    let before = get(&*store, id, t(11)).await;

    assert_lease_lost(store.complete(stale, t(11)).await, stale);

    assert_eq!(get(&*store, id, t(11)).await, before);
}

/// A retry by a stale lease is LeaseLost and changes nothing.
pub async fn retry_rejects_a_stale_lease(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (id, stale, _) = stale_and_current(&*store).await;
    let before = get(&*store, id, t(11)).await;

    assert_lease_lost(store.retry(stale, t(50), "boom", t(11)).await, stale);

    assert_eq!(get(&*store, id, t(11)).await, before);
}

/// A fail by a stale lease is LeaseLost and changes nothing.
pub async fn fail_rejects_a_stale_lease(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (id, stale, _) = stale_and_current(&*store).await;
    let before = get(&*store, id, t(11)).await;

    assert_lease_lost(store.fail(stale, "boom", t(11)).await, stale);

    assert_eq!(get(&*store, id, t(11)).await, before);
}

/// A release by a stale lease is LeaseLost and changes nothing.
pub async fn release_rejects_a_stale_lease(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (id, stale, _) = stale_and_current(&*store).await;
    let before = get(&*store, id, t(11)).await;

    assert_lease_lost(store.release(stale, t(11), t(11)).await, stale);

    assert_eq!(get(&*store, id, t(11)).await, before);
}

/// After a release and a new claim, the released lease (same attempt number) is dead.
pub async fn a_released_lease_is_never_valid_again(f: &dyn StoreFactory) {
    let (store, job, first) = open_with_claimed(f, new_job("k", t(0))).await;
    store
        .release(first.lease(), t(1), t(1))
        .await
        .expect("release");
    let second = claim_one(&*store, t(1), 30).await;
    assert_eq!(
        second.attempt, first.attempt,
        "release gave the attempt back"
    );

    let late_complete = store.complete(first.lease(), t(2)).await;
    let late_beat = store
        .heartbeat(&[first.lease()], t(500))
        .await
        .expect("heartbeat");
    let late_release = store.release(first.lease(), t(2), t(2)).await;

    assert_lease_lost(late_complete, first.lease());
    assert_lease_lost(late_release, first.lease());
    assert_eq!(late_beat, vec![HeartbeatStatus::Lost]);
    let now = get(&*store, job.id, t(2)).await;
    assert_eq!(now.state, JobState::Running);
    assert_eq!(now.lease_until, Some(t(31)));
    // The current lease holds.
    complete(&*store, second.lease(), t(3)).await;
}

/// Lease writes naming an unknown job are NotFound.
pub async fn writes_to_an_unknown_job_are_not_found(f: &dyn StoreFactory) {
    let store = f.open().await;
    let lease = Lease {
        job_id: JobId::new(t(0)),
        token: 1,
    };
    let not_found = |r: Result<(), StoreError>| matches!(r, Err(StoreError::NotFound(id)) if id == lease.job_id);

    assert!(not_found(store.complete(lease, t(0)).await));
    assert!(not_found(
        store.retry(lease, t(1), "e", t(0)).await.map(|_| ())
    ));
    assert!(not_found(store.fail(lease, "e", t(0)).await));
    assert!(not_found(store.release(lease, t(1), t(0)).await));
    assert!(matches!(
        store.cancel(lease.job_id, t(0)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.get(lease.job_id, t(0)).await.expect("get").is_none());
}

/// Three jobs enqueued and claimed at 0 with a lease of 10 s: the jobs and their
/// leases.
async fn three_claimed(store: &dyn JobStore) -> (Vec<JobRecord>, Vec<Lease>) {
    for i in 0..3 {
        enqueue_at(store, new_job(&format!("k{i}"), t(0)), t(0)).await;
    }
    let claimed = claim(store, 3, t(0), 10).await;
    let leases = claimed.iter().map(JobRecord::lease).collect();
    (claimed, leases)
}

/// A heartbeat extends each live lease and answers each lease in order.
pub async fn heartbeat_extends_a_live_lease(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (claimed, leases) = three_claimed(&*store).await;

    let answers = store.heartbeat(&leases, t(40)).await.expect("heartbeat");

    assert_eq!(answers, vec![HeartbeatStatus::Extended; 3]);
    assert!(
        claim(&*store, 10, t(39), 10).await.is_empty(),
        "extended leases hold"
    );
    for job in &claimed {
        assert_eq!(get(&*store, job.id, t(39)).await.lease_until, Some(t(40)));
    }
    assert_eq!(claim(&*store, 10, t(40), 10).await.len(), 3);
}

/// A heartbeat never shortens a lease: one that lands after a later one (sent before a
/// timeout and delivered late, or on a slower connection) leaves the later
/// `lease_until` and still answers Extended, alone and in a batch. The holder counts on
/// the latest time it heard; nobody else may take the job before it.
pub async fn heartbeat_never_shortens_a_lease(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (claimed, leases) = three_claimed(&*store).await;
    let extended = |n| vec![HeartbeatStatus::Extended; n];

    let early = store
        .heartbeat(&leases[..1], t(5))
        .await
        .expect("heartbeat");
    assert_eq!(early, extended(1));
    assert_eq!(
        get(&*store, leases[0].job_id, t(1)).await.lease_until,
        Some(t(10))
    );

    let later = store.heartbeat(&leases, t(60)).await.expect("heartbeat");
    assert_eq!(later, extended(3));
    let late_alone = store
        .heartbeat(&leases[..1], t(40))
        .await
        .expect("heartbeat");
    assert_eq!(late_alone, extended(1));
    let late_batch = store.heartbeat(&leases, t(30)).await.expect("heartbeat");
    assert_eq!(late_batch, extended(3));

    for job in &claimed {
        assert_eq!(get(&*store, job.id, t(50)).await.lease_until, Some(t(60)));
    }
    assert!(
        claim(&*store, 10, t(59), 10).await.is_empty(),
        "nobody takes a job before the latest time its holder heard"
    );
    assert_eq!(claim(&*store, 10, t(60), 10).await.len(), 3);
}

/// `complete` ends the job Completed at `now`.
pub async fn complete_ends_the_job_completed(f: &dyn StoreFactory) {
    let (store, job, claimed) = open_with_claimed(f, new_job("k", t(0))).await;

    store
        .complete(claimed.lease(), t(5))
        .await
        .expect("complete");

    let done = ended(&*store, job.id, JobState::Completed, t(5)).await;
    assert_eq!(done.attempt, 1);
    assert_lease_lost(store.complete(claimed.lease(), t(6)).await, claimed.lease());
}

/// `retry` keeps the error; the job is claimable at the given time and not before.
pub async fn retry_makes_the_job_claimable_at_the_given_time_not_before(f: &dyn StoreFactory) {
    let (store, job, claimed) = open_with_claimed(f, new_job("k", t(0))).await;

    let state = store
        .retry(claimed.lease(), t(60), "boom", t(1))
        .await
        .expect("retry");

    assert_eq!(state, JobState::Scheduled);
    let waiting = get(&*store, job.id, t(1)).await;
    assert_eq!(waiting.state, JobState::Scheduled);
    assert_eq!(waiting.run_at, t(60));
    assert_eq!(waiting.last_error.as_deref(), Some("boom"));
    assert_eq!(waiting.lease_until, None);
    assert!(
        claim(&*store, 10, t(60) - Duration::microseconds(1), 30)
            .await
            .is_empty()
    );
    let again = claim_one(&*store, t(60), 30).await;
    assert_eq!(again.attempt, 2);
    assert_eq!(again.last_error.as_deref(), Some("boom"));
}

/// A retry on the last attempt ends the job Failed with the error kept.
pub async fn retry_on_the_last_attempt_ends_the_job_failed(f: &dyn StoreFactory) {
    let (store, job, first) = open_with_claimed(f, new_job_with_attempts("k", t(0), 2)).await;
    store
        .retry(first.lease(), t(1), "first", t(0))
        .await
        .expect("retry");
    let second = claim_one(&*store, t(1), 30).await;

    let state = store
        .retry(second.lease(), t(2), "second", t(1))
        .await
        .expect("retry");

    assert_eq!(state, JobState::Failed);
    let failed = ended(&*store, job.id, JobState::Failed, t(1)).await;
    assert_eq!(failed.attempt, 2);
    assert_eq!(failed.last_error.as_deref(), Some("second"));
}

/// `fail` ends the job Failed with the error, whatever attempts remain.
pub async fn fail_ends_the_job_failed_with_the_error(f: &dyn StoreFactory) {
    let (store, job, claimed) = open_with_claimed(f, new_job_with_attempts("k", t(0), 10)).await;

    store
        .fail(claimed.lease(), "permanent: bad input", t(3))
        .await
        .expect("fail");

    let failed = ended(&*store, job.id, JobState::Failed, t(3)).await;
    assert_eq!(failed.last_error.as_deref(), Some("permanent: bad input"));
}

/// `release` makes the job pending at run_at and gives its attempt back.
pub async fn release_gives_the_attempt_back(f: &dyn StoreFactory) {
    let (store, job, claimed) = open_with_claimed(f, new_job_with_attempts("k", t(0), 1)).await;

    store
        .release(claimed.lease(), t(20), t(5))
        .await
        .expect("release");

    let released = get(&*store, job.id, t(5)).await;
    assert_eq!(released.state, JobState::Scheduled);
    assert_eq!(released.attempt, 0);
    assert_eq!(released.run_at, t(20));
    assert_eq!(released.lease_until, None);
    assert!(claim(&*store, 10, t(19), 30).await.is_empty());
    let again = claim_one(&*store, t(20), 30).await;
    assert_eq!(again.attempt, 1, "the single attempt is still there");
}
