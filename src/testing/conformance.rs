//! The conformance suite: the [`JobStore`] contract, executable.
//!
//! Every sentence of the contract in [`JobStore`]'s docs is a `pub async fn` here of
//! the same name. [`conformance_suite!`](crate::conformance_suite) expands to one
//! `#[test]` per case, each on a fresh store from a [`StoreFactory`]:
//!
//! ```text
//! leasehold::conformance_suite!(|| async {
//!     std::sync::Arc::new(my_crate::MyStore::new()) as std::sync::Arc<dyn leasehold::JobStore>
//! });
//! ```
//!
//! A store that cannot meet a case declares it in [`StoreFactory::gaps`] with a reason;
//! the test then prints that it skipped, so a gap is visible, never hidden.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use time::{Duration, OffsetDateTime};

use serde_json::json;

use crate::schedule::{MissedRunPolicy, NewSchedule, ScheduleRecord, ScheduleSpec};
use crate::{
    Enqueued, HeartbeatStatus, JobFilter, JobId, JobRecord, JobState, JobStore, Lease, NewJob,
    StoreError,
};

/// Makes fresh, empty stores for the conformance suite.
#[async_trait]
pub trait StoreFactory: Send + Sync {
    /// A fresh, empty store.
    async fn open(&self) -> Arc<dyn JobStore>;

    /// `handles` handles onto one fresh, empty store. A backend that can open several
    /// independent handles (connections, processes) onto the same data returns those,
    /// so concurrency cases exercise them; the default clones one handle.
    async fn open_shared(&self, handles: usize) -> Vec<Arc<dyn JobStore>> {
        let store = self.open().await;
        vec![store; handles]
    }

    /// Cases this store does not pass, each with the reason: `(case name, reason)`.
    fn gaps(&self) -> &[(&'static str, &'static str)] {
        &[]
    }
}

#[async_trait]
impl<F, Fut> StoreFactory for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Arc<dyn JobStore>> + Send,
{
    async fn open(&self) -> Arc<dyn JobStore> {
        self().await
    }
}

/// Runs one case on a fresh multi-threaded runtime; used by
/// [`conformance_suite!`](crate::conformance_suite).
///
/// # Panics
///
/// When the case fails (that is the test failing) or no runtime can be built.
pub fn run_case<'a>(
    factory: &'a dyn StoreFactory,
    name: &str,
    case: impl FnOnce(&'a dyn StoreFactory) -> BoxFuture<'a, ()>,
) {
    if let Some((_, reason)) = factory.gaps().iter().find(|(gap, _)| *gap == name) {
        eprintln!("conformance case {name} SKIPPED for this store (declared gap): {reason}");
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a test runtime can be built")
        .block_on(case(factory));
}

/// Expands to one `#[test]` per conformance case, each on a fresh store made by
/// `$factory` (an expression whose value implements [`StoreFactory`]).
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr) => {
        $crate::__conformance_cases!($factory;
            the_store_uses_only_the_time_it_is_given,
            timestamps_round_trip_exactly,
            enqueue_stores_the_job_as_given,
            enqueue_of_a_future_job_is_scheduled_until_due,
            enqueue_with_an_active_unique_key_returns_the_existing_job,
            enqueue_with_a_finished_unique_key_inserts_a_new_job,
            concurrent_enqueues_of_one_unique_key_insert_once,
            enqueue_of_an_existing_id_is_a_conflict,
            enqueue_many_is_atomic,
            enqueue_many_dedupes_unique_keys_within_the_batch,
            claim_only_takes_the_given_queues,
            claim_returns_at_most_limit_jobs,
            claim_orders_by_priority_then_run_at_then_id,
            claim_never_returns_a_job_before_its_run_at,
            claim_never_returns_a_leased_job,
            claim_marks_jobs_running_under_a_lease,
            claim_takes_an_expired_lease_with_the_next_attempt,
            claim_fails_an_expired_lease_on_the_last_attempt,
            concurrent_claims_partition_the_jobs,
            heartbeat_reports_a_stale_lease_as_lost,
            complete_rejects_a_stale_lease,
            retry_rejects_a_stale_lease,
            fail_rejects_a_stale_lease,
            release_rejects_a_stale_lease,
            a_released_lease_is_never_valid_again,
            writes_to_an_unknown_job_are_not_found,
            heartbeat_extends_a_live_lease,
            complete_ends_the_job_completed,
            retry_makes_the_job_claimable_at_the_given_time_not_before,
            retry_on_the_last_attempt_ends_the_job_failed,
            fail_ends_the_job_failed_with_the_error,
            release_gives_the_attempt_back,
            cancel_of_a_pending_job_ends_it_cancelled,
            cancel_of_a_running_job_is_seen_by_its_heartbeat,
            cancel_of_a_finished_job_changes_nothing,
            list_and_count_agree_with_what_happened,
            next_due_is_the_earliest_run_at_or_lease_expiry,
            prune_removes_only_terminal_jobs_finished_before_the_time,
            upsert_schedule_inserts_then_updates_by_name,
            upsert_schedule_keeps_the_slot_and_the_pause_when_the_spec_is_unchanged,
            due_schedules_returns_enabled_schedules_due_at_now,
            fire_schedule_inserts_the_jobs_and_advances_the_slot,
            fire_schedule_from_a_stale_slot_is_a_conflict_and_inserts_nothing,
            concurrent_fires_of_one_slot_insert_once,
            pause_resume_and_remove_a_schedule,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let factory = $factory;
                $crate::testing::conformance::run_case(&factory, stringify!($case), |f| {
                    ::std::boxed::Box::pin($crate::testing::conformance::$case(f))
                });
            }
        )*
    };
}

/// 2000-01-01 00:00:00 UTC plus `seconds`: the suite's times, far from today.
pub fn t(seconds: i64) -> OffsetDateTime {
    time::macros::datetime!(2000-01-01 0:00 UTC) + Duration::seconds(seconds)
}

/// 2100-01-01 00:00:00 UTC plus `seconds`.
pub fn t2100(seconds: i64) -> OffsetDateTime {
    time::macros::datetime!(2100-01-01 0:00 UTC) + Duration::seconds(seconds)
}

// ---------------------------------------------------------------------------------
// Helpers shared by the cases.

const WORKER: &str = "conformance-worker";

fn default_queue() -> Vec<String> {
    vec![crate::job::DEFAULT_QUEUE.to_owned()]
}

/// A job of kind `kind` in the default queue, due at `run_at`.
fn new_job(kind: &str, run_at: OffsetDateTime) -> NewJob {
    NewJob::new(kind, json!({ "kind": kind }), run_at).expect("the suite's kinds are valid")
}

async fn enqueue_at(store: &dyn JobStore, job: NewJob, now: OffsetDateTime) -> JobRecord {
    let enqueued = store.enqueue(job, now).await.expect("enqueue succeeds");
    assert!(
        !enqueued.duplicate,
        "a job without a unique key is never a duplicate"
    );
    enqueued.job
}

/// Claims from the default queue at `now` with a lease of `lease_secs`.
async fn claim(
    store: &dyn JobStore,
    limit: usize,
    now: OffsetDateTime,
    lease_secs: i64,
) -> Vec<JobRecord> {
    store
        .claim(
            &default_queue(),
            limit,
            WORKER,
            now,
            now + Duration::seconds(lease_secs),
        )
        .await
        .expect("claim succeeds")
}

async fn claim_one(store: &dyn JobStore, now: OffsetDateTime, lease_secs: i64) -> JobRecord {
    let mut claimed = claim(store, 1, now, lease_secs).await;
    assert_eq!(
        claimed.len(),
        1,
        "expected exactly one claimable job at {now}"
    );
    claimed.remove(0)
}

async fn get(store: &dyn JobStore, id: JobId, now: OffsetDateTime) -> JobRecord {
    store
        .get(id, now)
        .await
        .expect("get succeeds")
        .expect("the job exists")
}

fn ids(jobs: &[JobRecord]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id).collect()
}

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

fn assert_lease_lost<T: std::fmt::Debug>(result: Result<T, StoreError>, lease: Lease) {
    match result {
        Err(StoreError::LeaseLost(lost)) => assert_eq!(lost, lease),
        other => panic!("expected LeaseLost for {lease}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// Time.

/// The store reads no clock: the same story in 2000 and in 2100 gives the same answers.
pub async fn the_store_uses_only_the_time_it_is_given(f: &dyn StoreFactory) {
    for base in [t(0), t2100(0)] {
        let store = f.open().await;
        let at = |s: i64| base + Duration::seconds(s);
        let job = enqueue_at(&*store, new_job("k", at(60)), at(0)).await;

        assert_eq!(get(&*store, job.id, at(0)).await.state, JobState::Scheduled);
        assert!(claim(&*store, 10, at(59), 30).await.is_empty());
        let claimed = claim_one(&*store, at(60), 30).await;
        assert_eq!(claimed.lease_until, Some(at(90)));
        assert!(claim(&*store, 10, at(89), 30).await.is_empty());
        let reclaimed = claim_one(&*store, at(90), 30).await;
        assert_eq!(reclaimed.attempt, 2);
        store
            .complete(reclaimed.lease(), at(100))
            .await
            .expect("complete");
        assert_eq!(
            get(&*store, job.id, at(100)).await.finished_at,
            Some(at(100))
        );
        assert_eq!(store.prune(at(100), 10).await.expect("prune"), 0);
        assert_eq!(store.prune(at(101), 10).await.expect("prune"), 1);
    }
}

/// Times come back exactly as given, to the microsecond, before 1970 and after 2100.
pub async fn timestamps_round_trip_exactly(f: &dyn StoreFactory) {
    let store = f.open().await;
    let times = [
        t(0) + Duration::microseconds(1),
        t2100(0) + Duration::microseconds(999_999),
        time::macros::datetime!(1969-07-20 20:17:40.123_456 UTC),
        time::macros::datetime!(2999-12-31 23:59:59.999_999 UTC),
    ];
    for (i, &run_at) in times.iter().enumerate() {
        let now = run_at - Duration::microseconds(7);
        let job = new_job(&format!("k{i}"), now).run_at(run_at);

        let stored = enqueue_at(&*store, job, now).await;

        let read = get(&*store, stored.id, now).await;
        assert_eq!(read.run_at, run_at);
        assert_eq!(read.created_at, now);
        assert_eq!(read, stored);
    }
}

// ---------------------------------------------------------------------------------
// Enqueue.

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
    assert_eq!(
        store.count(&JobFilter::all(), t(3)).await.expect("count"),
        1
    );
}

/// A unique key held only by terminal jobs does not block a new job.
pub async fn enqueue_with_a_finished_unique_key_inserts_a_new_job(f: &dyn StoreFactory) {
    let store = f.open().await;
    let first = enqueue_at(&*store, new_job("k", t(0)).unique_key("u"), t(0)).await;
    let claimed = claim_one(&*store, t(0), 30).await;
    store
        .complete(claimed.lease(), t(1))
        .await
        .expect("complete");
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
    assert_eq!(
        store.count(&JobFilter::all(), t(4)).await.expect("count"),
        3
    );
}

/// Racing enqueues of one unique key, through one handle or several, insert one job.
pub async fn concurrent_enqueues_of_one_unique_key_insert_once(f: &dyn StoreFactory) {
    let handles = f.open_shared(4).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = handles[i % handles.len()].clone();
        tasks.push(tokio::spawn(async move {
            store
                .enqueue(new_job("k", t(0)).unique_key("race"), t(0))
                .await
                .expect("enqueue")
        }));
    }

    let results = futures::future::join_all(tasks).await;

    let results: Vec<Enqueued> = results.into_iter().map(|r| r.expect("task")).collect();
    let inserted: Vec<_> = results.iter().filter(|e| !e.duplicate).collect();
    assert_eq!(inserted.len(), 1, "exactly one enqueue inserts");
    assert!(results.iter().all(|e| e.job.id == inserted[0].job.id));
    assert_eq!(
        handles[0]
            .count(&JobFilter::all(), t(0))
            .await
            .expect("count"),
        1
    );
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
    assert_eq!(
        store.count(&JobFilter::all(), t(1)).await.expect("count"),
        1
    );
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
    assert_eq!(
        store.count(&JobFilter::all(), t(2)).await.expect("count"),
        51
    );
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
    assert_eq!(
        store.count(&JobFilter::all(), t(0)).await.expect("count"),
        2
    );
}

// ---------------------------------------------------------------------------------
// Claim.

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
        .claim(&queues(&["b"]), 10, WORKER, t(0), t(30))
        .await
        .expect("claim");
    let from_none = store
        .claim(&queues(&["z"]), 10, WORKER, t(0), t(30))
        .await
        .expect("claim");
    let from_a_c = store
        .claim(&queues(&["a", "c"]), 10, WORKER, t(0), t(30))
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
            .claim(&[], 10, WORKER, t(0), t(30))
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
        .claim(&default_queue(), 1, "w-7", t(1), t(31))
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
    let job = enqueue_at(
        &*store,
        new_job("k", t(0)).max_attempts(2).expect("valid"),
        t(0),
    )
    .await;
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
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = handles[i % handles.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let worker = format!("w{i}");
                let got = store
                    .claim(&default_queue(), 7, &worker, t(1), t(1000))
                    .await
                    .expect("claim");
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
        }));
    }

    let results = futures::future::join_all(tasks).await;

    let mut seen = std::collections::BTreeSet::new();
    for ids in results {
        for id in ids.expect("task") {
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(seen, all, "every job was claimed exactly once");
}

// ---------------------------------------------------------------------------------
// Writes under a lease.

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
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let first = claim_one(&*store, t(0), 30).await;
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
    store
        .complete(second.lease(), t(3))
        .await
        .expect("the current lease completes");
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

/// A heartbeat extends each live lease and answers each lease in order.
pub async fn heartbeat_extends_a_live_lease(f: &dyn StoreFactory) {
    let store = f.open().await;
    for i in 0..3 {
        enqueue_at(&*store, new_job(&format!("k{i}"), t(0)), t(0)).await;
    }
    let claimed = claim(&*store, 3, t(0), 10).await;
    let leases: Vec<Lease> = claimed.iter().map(JobRecord::lease).collect();

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

/// `complete` ends the job Completed at `now`.
pub async fn complete_ends_the_job_completed(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let claimed = claim_one(&*store, t(0), 30).await;

    store
        .complete(claimed.lease(), t(5))
        .await
        .expect("complete");

    let done = get(&*store, job.id, t(5)).await;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.finished_at, Some(t(5)));
    assert_eq!(done.attempt, 1);
    assert!(claim(&*store, 10, t(1000), 30).await.is_empty());
    assert_lease_lost(store.complete(claimed.lease(), t(6)).await, claimed.lease());
}

/// `retry` keeps the error; the job is claimable at the given time and not before.
pub async fn retry_makes_the_job_claimable_at_the_given_time_not_before(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let claimed = claim_one(&*store, t(0), 30).await;

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
    let store = f.open().await;
    let job = enqueue_at(
        &*store,
        new_job("k", t(0)).max_attempts(2).expect("valid"),
        t(0),
    )
    .await;
    let first = claim_one(&*store, t(0), 30).await;
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
    let failed = get(&*store, job.id, t(1)).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.attempt, 2);
    assert_eq!(failed.last_error.as_deref(), Some("second"));
    assert_eq!(failed.finished_at, Some(t(1)));
    assert!(claim(&*store, 10, t(1000), 30).await.is_empty());
}

/// `fail` ends the job Failed with the error, whatever attempts remain.
pub async fn fail_ends_the_job_failed_with_the_error(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(
        &*store,
        new_job("k", t(0)).max_attempts(10).expect("valid"),
        t(0),
    )
    .await;
    let claimed = claim_one(&*store, t(0), 30).await;

    store
        .fail(claimed.lease(), "permanent: bad input", t(3))
        .await
        .expect("fail");

    let failed = get(&*store, job.id, t(3)).await;
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("permanent: bad input"));
    assert_eq!(failed.finished_at, Some(t(3)));
    assert!(claim(&*store, 10, t(1000), 30).await.is_empty());
}

/// `release` makes the job pending at run_at and gives its attempt back.
pub async fn release_gives_the_attempt_back(f: &dyn StoreFactory) {
    let store = f.open().await;
    let job = enqueue_at(
        &*store,
        new_job("k", t(0)).max_attempts(1).expect("valid"),
        t(0),
    )
    .await;
    let claimed = claim_one(&*store, t(0), 30).await;

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

// ---------------------------------------------------------------------------------
// Cancel.

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
    let store = f.open().await;
    let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let claimed = claim_one(&*store, t(0), 30).await;

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
    let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let claimed = claim_one(&*store, t(0), 30).await;
    store
        .complete(claimed.lease(), t(1))
        .await
        .expect("complete");
    let before = get(&*store, job.id, t(2)).await;

    let after = store.cancel(job.id, t(2)).await.expect("cancel");

    assert_eq!(after, before);
    assert_eq!(after.state, JobState::Completed);
}

// ---------------------------------------------------------------------------------
// Inspection and upkeep.

/// `list` and `count` select by queue, state and kind, and agree with what happened.
pub async fn list_and_count_agree_with_what_happened(f: &dyn StoreFactory) {
    let store = f.open().await;
    let mut made = Vec::new();
    for (i, queue) in ["a", "a", "a", "a", "b", "b"].iter().enumerate() {
        let job = new_job(if i % 2 == 0 { "even" } else { "odd" }, t(0))
            .queue(*queue)
            .expect("valid");
        made.push(enqueue_at(&*store, job, t(0)).await.id);
    }
    let later = enqueue_at(
        &*store,
        new_job("even", t(100)).queue("a").expect("valid"),
        t(0),
    )
    .await;
    let qa = vec!["a".to_owned()];
    let running = store
        .claim(&qa, 3, WORKER, t(1), t(60))
        .await
        .expect("claim");
    store
        .complete(running[0].lease(), t(2))
        .await
        .expect("complete");
    store
        .fail(running[1].lease(), "x", t(2))
        .await
        .expect("fail");
    store.cancel(made[4], t(2)).await.expect("cancel");

    let now = t(3);
    let expect = [
        (JobFilter::all(), 7),
        (JobFilter::all().queue("a"), 5),
        (JobFilter::all().queue("b"), 2),
        (JobFilter::all().state(JobState::Running), 1),
        (JobFilter::all().state(JobState::Completed), 1),
        (JobFilter::all().state(JobState::Failed), 1),
        (JobFilter::all().state(JobState::Cancelled), 1),
        (JobFilter::all().state(JobState::Scheduled), 1),
        (JobFilter::all().state(JobState::Available), 2),
        (JobFilter::all().queue("a").state(JobState::Available), 1),
        (JobFilter::all().kind("even"), 4),
        (JobFilter::all().kind("odd").queue("b"), 1),
    ];

    for (filter, n) in expect {
        let listed = store.list(&filter, now).await.expect("list");
        let counted = store.count(&filter, now).await.expect("count");
        assert_eq!(listed.len(), n, "list {filter:?}");
        assert_eq!(
            counted,
            u64::try_from(n).expect("small"),
            "count {filter:?}"
        );
        assert!(
            listed.iter().all(|j| filter.matches(j)),
            "list {filter:?} selects only matches"
        );
        assert!(
            listed.windows(2).all(|w| w[0].id < w[1].id),
            "list is ordered by id"
        );
    }
    assert_eq!(
        store
            .list(&JobFilter::all().limit(2), now)
            .await
            .expect("list")
            .len(),
        2
    );
    assert_eq!(
        store
            .count(&JobFilter::all().limit(2), now)
            .await
            .expect("count"),
        7
    );
    let scheduled = store
        .list(&JobFilter::all().state(JobState::Scheduled), now)
        .await
        .expect("list");
    assert_eq!(ids(&scheduled), vec![later.id]);
}

/// `next_due` is the earliest pending run_at or running lease expiry of the queues.
pub async fn next_due_is_the_earliest_run_at_or_lease_expiry(f: &dyn StoreFactory) {
    let store = f.open().await;
    assert_eq!(
        store.next_due(&default_queue()).await.expect("next_due"),
        None
    );
    enqueue_at(&*store, new_job("k", t(50)), t(0)).await;
    enqueue_at(&*store, new_job("k", t(80)), t(0)).await;
    enqueue_at(
        &*store,
        new_job("k", t(5)).queue("other").expect("valid"),
        t(0),
    )
    .await;

    let pending = store.next_due(&default_queue()).await.expect("next_due");
    claim_one(&*store, t(50), 10).await;
    let leased = store.next_due(&default_queue()).await.expect("next_due");
    let both = store
        .next_due(&["other".to_owned(), "default".to_owned()])
        .await
        .expect("next_due");

    assert_eq!(pending, Some(t(50)));
    assert_eq!(
        leased,
        Some(t(60)),
        "the lease of the claimed job expires first"
    );
    assert_eq!(both, Some(t(5)));
}

/// `prune` deletes up to `limit` terminal jobs finished before the time, nothing else.
pub async fn prune_removes_only_terminal_jobs_finished_before_the_time(f: &dyn StoreFactory) {
    let store = f.open().await;
    let mut terminal = Vec::new();
    for i in 0..5 {
        let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
        let claimed = claim_one(&*store, t(0), 1000).await;
        store
            .complete(claimed.lease(), t(10 + i))
            .await
            .expect("complete");
        terminal.push(job.id);
    }
    let pending = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let running = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    claim_one(&*store, t(0), 1000).await;

    let first = store.prune(t(13), 2).await.expect("prune");
    let oldest_gone = store.get(terminal[1], t(13)).await.expect("get").is_none();
    let third_kept = store.get(terminal[2], t(13)).await.expect("get").is_some();
    let second = store.prune(t(13), 100).await.expect("prune");
    let third = store.prune(t(1000), 100).await.expect("prune");

    assert_eq!((first, second, third), (2, 1, 2));
    assert!(oldest_gone && third_kept, "prune takes the oldest first");
    for id in &terminal {
        assert!(store.get(*id, t(1000)).await.expect("get").is_none());
    }
    assert!(store.get(pending.id, t(1000)).await.expect("get").is_some());
    assert!(store.get(running.id, t(1000)).await.expect("get").is_some());
}

// ---------------------------------------------------------------------------------
// Schedules.

fn hourly(name: &str) -> NewSchedule {
    NewSchedule::untyped(
        name,
        ScheduleSpec::interval(Duration::hours(1), t(0)).expect("a valid interval"),
        "tick",
        json!({ "schedule": name }),
    )
    .expect("a valid schedule")
}

async fn upsert(
    store: &dyn JobStore,
    schedule: NewSchedule,
    next: i64,
    now: i64,
) -> ScheduleRecord {
    store
        .upsert_schedule(schedule, Some(t(next)), t(now))
        .await
        .expect("upsert_schedule")
}

/// The jobs a scheduler would fire for `slots` of `schedule`.
fn slot_jobs(schedule: &ScheduleRecord, slots: &[i64], now: i64) -> Vec<NewJob> {
    slots
        .iter()
        .map(|s| schedule.job_for_slot(t(*s), t(now)).expect("a valid job"))
        .collect()
}

/// Upsert inserts a new name enabled, then replaces the definition of that name.
pub async fn upsert_schedule_inserts_then_updates_by_name(f: &dyn StoreFactory) {
    let store = f.open().await;
    let first = upsert(&*store, hourly("report"), 3600, 0).await;
    let daily = NewSchedule::untyped(
        "report",
        ScheduleSpec::cron("0 0 * * *", Some("Europe/Berlin")).expect("valid"),
        "report",
        json!({"n": 2}),
    )
    .expect("valid")
    .queue("reports")
    .expect("valid")
    .priority(-1)
    .max_attempts(3)
    .expect("valid")
    .missed(MissedRunPolicy::CatchUp { max: 5 });

    let second = upsert(&*store, daily.clone(), 7200, 10).await;

    assert!(first.enabled);
    assert_eq!(first.next_fire_at, Some(t(3600)));
    assert_eq!((first.created_at, first.updated_at), (t(0), t(0)));
    assert_eq!(second.schedule, daily);
    assert_eq!(
        second.next_fire_at,
        Some(t(7200)),
        "a changed spec takes the new slot"
    );
    assert_eq!((second.created_at, second.updated_at), (t(0), t(10)));
    assert_eq!(
        store.get_schedule("report").await.expect("get"),
        Some(second.clone())
    );
    upsert(&*store, hourly("another"), 3600, 11).await;
    let names: Vec<String> = store
        .list_schedules()
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.schedule.name)
        .collect();
    assert_eq!(names, ["another", "report"]);
    assert_eq!(store.get_schedule("missing").await.expect("get"), None);
}

/// Re-upserting an unchanged spec keeps the stored slot and a pause.
pub async fn upsert_schedule_keeps_the_slot_and_the_pause_when_the_spec_is_unchanged(
    f: &dyn StoreFactory,
) {
    let store = f.open().await;
    upsert(&*store, hourly("s"), 3600, 0).await;
    store.pause_schedule("s", t(1)).await.expect("pause");
    let changed_payload = NewSchedule {
        payload: json!({"new": true}),
        ..hourly("s")
    };

    let again = upsert(&*store, changed_payload.clone(), 99_999, 20_000).await;

    assert_eq!(
        again.next_fire_at,
        Some(t(3600)),
        "a missed slot is kept for the policy"
    );
    assert!(!again.enabled, "upsert never resumes a paused schedule");
    assert_eq!(again.schedule.payload, json!({"new": true}));
    assert_eq!(store.get_schedule("s").await.expect("get"), Some(again));
}

/// Due schedules are the enabled ones whose slot is at or before now, earliest first.
pub async fn due_schedules_returns_enabled_schedules_due_at_now(f: &dyn StoreFactory) {
    let store = f.open().await;
    upsert(&*store, hourly("late"), 200, 0).await;
    upsert(&*store, hourly("early"), 100, 0).await;
    upsert(&*store, hourly("future"), 301, 0).await;
    upsert(&*store, hourly("paused"), 50, 0).await;
    store.pause_schedule("paused", t(0)).await.expect("pause");

    let due = store.due_schedules(t(300), 10).await.expect("due");
    let first = store.due_schedules(t(300), 1).await.expect("due");
    let none = store.due_schedules(t(99), 10).await.expect("due");

    let names: Vec<&str> = due.iter().map(|s| s.schedule.name.as_str()).collect();
    assert_eq!(names, ["early", "late"]);
    assert_eq!(first.len(), 1);
    assert!(none.is_empty());
}

/// Firing the planned slot inserts the jobs and stores the next slot, atomically.
pub async fn fire_schedule_inserts_the_jobs_and_advances_the_slot(f: &dyn StoreFactory) {
    let store = f.open().await;
    let schedule = upsert(&*store, hourly("s"), 3600, 0).await;
    let jobs = slot_jobs(&schedule, &[3600, 7200], 7300);

    let fired = store
        .fire_schedule("s", t(3600), Some(t(10_800)), jobs, t(7300))
        .await
        .expect("fire");

    assert_eq!(fired.len(), 2);
    assert!(fired.iter().all(|e| !e.duplicate));
    assert_eq!(fired[0].job.unique_key, Some(schedule.slot_key(t(3600))));
    assert_eq!(fired[1].job.run_at, t(7200));
    assert_eq!(fired[0].job.kind, "tick");
    let stored = store.get_schedule("s").await.expect("get").expect("exists");
    assert_eq!(stored.next_fire_at, Some(t(10_800)));
    assert_eq!(stored.updated_at, t(7300));
    assert_eq!(
        store
            .count(&JobFilter::all().kind("tick"), t(7300))
            .await
            .expect("count"),
        2
    );
    let last = store
        .fire_schedule("s", t(10_800), None, Vec::new(), t(10_800))
        .await
        .expect("fire with no jobs (a skipped slot)");
    assert!(last.is_empty());
    let over = store.get_schedule("s").await.expect("get").expect("exists");
    assert_eq!(over.next_fire_at, None);
    assert!(
        store
            .due_schedules(t(1_000_000), 10)
            .await
            .expect("due")
            .is_empty()
    );
}

/// Firing from a slot that moved, or a paused schedule, is a conflict and inserts nothing.
pub async fn fire_schedule_from_a_stale_slot_is_a_conflict_and_inserts_nothing(
    f: &dyn StoreFactory,
) {
    let store = f.open().await;
    let schedule = upsert(&*store, hourly("s"), 3600, 0).await;
    store
        .fire_schedule(
            "s",
            t(3600),
            Some(t(7200)),
            slot_jobs(&schedule, &[3600], 3600),
            t(3600),
        )
        .await
        .expect("fire");

    let stale = store
        .fire_schedule(
            "s",
            t(3600),
            Some(t(7200)),
            slot_jobs(&schedule, &[3600], 3601),
            t(3601),
        )
        .await;
    store.pause_schedule("s", t(3602)).await.expect("pause");
    let paused = store
        .fire_schedule(
            "s",
            t(7200),
            Some(t(10_800)),
            slot_jobs(&schedule, &[7200], 7200),
            t(7200),
        )
        .await;
    let unknown = store
        .fire_schedule("nope", t(0), None, Vec::new(), t(0))
        .await;

    assert!(
        matches!(stale, Err(StoreError::Conflict(_))),
        "got {stale:?}"
    );
    assert!(
        matches!(paused, Err(StoreError::Conflict(_))),
        "got {paused:?}"
    );
    assert!(
        matches!(unknown, Err(StoreError::ScheduleNotFound(_))),
        "got {unknown:?}"
    );
    assert_eq!(
        store
            .count(&JobFilter::all(), t(7200))
            .await
            .expect("count"),
        1
    );
    let stored = store.get_schedule("s").await.expect("get").expect("exists");
    assert_eq!(stored.next_fire_at, Some(t(7200)));
}

/// Schedulers racing on one slot, through one handle or several, fire it once.
pub async fn concurrent_fires_of_one_slot_insert_once(f: &dyn StoreFactory) {
    let handles = f.open_shared(4).await;
    let schedule = upsert(&*handles[0], hourly("s"), 3600, 0).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = handles[i % handles.len()].clone();
        let jobs = slot_jobs(&schedule, &[3600], 3600);
        tasks.push(tokio::spawn(async move {
            store
                .fire_schedule("s", t(3600), Some(t(7200)), jobs, t(3600))
                .await
        }));
    }

    let results = futures::future::join_all(tasks).await;

    let mut won = 0;
    for result in results {
        match result.expect("task") {
            Ok(fired) => {
                won += 1;
                assert_eq!(fired.len(), 1);
            }
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("a racing fire failed with {other}"),
        }
    }
    assert_eq!(won, 1, "exactly one scheduler fires the slot");
    assert_eq!(
        handles[0]
            .count(&JobFilter::all(), t(3600))
            .await
            .expect("count"),
        1
    );
}

/// Pause stops firing, resume restarts from the given slot, remove keeps the jobs.
pub async fn pause_resume_and_remove_a_schedule(f: &dyn StoreFactory) {
    let store = f.open().await;
    let schedule = upsert(&*store, hourly("s"), 3600, 0).await;
    store
        .fire_schedule(
            "s",
            t(3600),
            Some(t(7200)),
            slot_jobs(&schedule, &[3600], 3600),
            t(3600),
        )
        .await
        .expect("fire");

    let paused = store.pause_schedule("s", t(4000)).await.expect("pause");
    let paused_again = store.pause_schedule("s", t(4001)).await.expect("pause");
    let not_due = store.due_schedules(t(100_000), 10).await.expect("due");
    let resumed = store
        .resume_schedule("s", Some(t(18_000)), t(17_000))
        .await
        .expect("resume");
    let resumed_again = store
        .resume_schedule("s", Some(t(99_000)), t(17_001))
        .await
        .expect("resume");
    let removed = store.remove_schedule("s").await.expect("remove");
    let removed_again = store.remove_schedule("s").await.expect("remove");

    assert!(!paused.enabled);
    assert_eq!(paused.updated_at, t(4000));
    assert_eq!(paused_again, paused);
    assert!(not_due.is_empty());
    assert!(resumed.enabled);
    assert_eq!(
        resumed.next_fire_at,
        Some(t(18_000)),
        "slots during the pause are not fired"
    );
    assert_eq!(resumed_again, resumed);
    assert!(removed && !removed_again);
    assert_eq!(store.get_schedule("s").await.expect("get"), None);
    assert_eq!(
        store.count(&JobFilter::all(), t(0)).await.expect("count"),
        1
    );
    let unknown = [
        store.pause_schedule("s", t(0)).await.err(),
        store.resume_schedule("s", None, t(0)).await.err(),
    ];
    assert!(
        unknown
            .iter()
            .all(|e| matches!(e, Some(StoreError::ScheduleNotFound(_))))
    );
}
