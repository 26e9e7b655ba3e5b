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
//!
//! The cases live in one file per section of the contract, in the contract's order:
//! time (`given_time`), `enqueue`, `claim`, writes under a lease (`lease_writes`),
//! `cancel`, inspection and upkeep (`inspection`), queues (`queues`), jobs by hand
//! (`by_hand`), `dependencies`, what a job carries (`job_data`), `limits`, and
//! `schedules`. All are re-exported here, so every case is
//! `leasehold::testing::conformance::NAME`.

// A new case goes in the file of its contract section, is re-exported below by the
// glob, and is named in `conformance_suite!`'s list, or no store runs it.
mod by_hand;
mod cancel;
mod claim;
mod dependencies;
mod enqueue;
mod given_time;
mod inspection;
mod job_data;
mod lease_writes;
mod limits;
mod queues;
mod schedules;

pub use by_hand::*;
pub use cancel::*;
pub use claim::*;
pub use dependencies::*;
pub use enqueue::*;
pub use given_time::*;
pub use inspection::*;
pub use job_data::*;
pub use lease_writes::*;
pub use limits::*;
pub use queues::*;
pub use schedules::*;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use time::{Duration, OffsetDateTime};

use serde_json::json;

use crate::ClaimRequest;
use crate::{JobFilter, JobId, JobRecord, JobStore, Lease, NewJob, StoreError};

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
            heartbeat_never_shortens_a_lease,
            complete_ends_the_job_completed,
            retry_makes_the_job_claimable_at_the_given_time_not_before,
            retry_on_the_last_attempt_ends_the_job_failed,
            fail_ends_the_job_failed_with_the_error,
            release_gives_the_attempt_back,
            cancel_of_a_pending_job_ends_it_cancelled,
            cancel_of_a_running_job_is_seen_by_its_heartbeat,
            cancel_of_a_finished_job_changes_nothing,
            list_and_count_agree_with_what_happened,
            list_pages_by_id_after_a_cursor_in_either_order,
            next_due_is_the_earliest_run_at_or_lease_expiry,
            prune_removes_only_terminal_jobs_finished_before_the_time,
            a_paused_queue_is_not_claimed_until_resumed,
            pausing_an_unknown_queue_is_not_found,
            queue_stats_counts_every_queue_by_state,
            limits_are_stored_replaced_and_removed,
            a_claim_runs_at_most_max_running_jobs_of_a_key,
            a_rate_allows_at_most_its_starts_in_any_window,
            a_queue_limit_bounds_every_job_of_the_queue,
            a_claim_ahead_takes_the_first_limited_governed_jobs,
            next_due_waits_for_a_limit_to_open,
            retry_job_makes_a_finished_job_available_now_with_another_attempt,
            retry_job_of_a_pending_job_runs_it_now,
            delete_job_removes_a_pending_or_finished_job,
            update_job_changes_a_pending_job,
            verbs_by_hand_refuse_a_job_in_the_wrong_state,
            verbs_by_hand_on_an_unknown_job_are_not_found,
            bulk_verbs_act_on_up_to_limit_selected_jobs,
            a_job_waits_until_its_dependencies_complete,
            a_failed_dependency_ends_its_dependents_by_their_policy,
            a_dependency_failed_by_an_expired_lease_ends_its_dependents,
            dependencies_that_ended_already_count_at_enqueue,
            a_bad_dependency_is_refused_and_stores_nothing,
            a_job_something_waits_on_is_never_deleted,
            a_job_an_unfinished_dependent_ran_after_is_kept,
            dependents_lists_the_jobs_that_depend_on_a_job,
            concurrent_ends_and_dependent_enqueues_never_strand_a_job,
            update_jobs_changes_the_pending_jobs_a_filter_selects,
            delete_jobs_finished_before_a_time_keeps_the_rest,
            tags_and_metadata_are_stored_and_a_tag_selects,
            complete_with_output_keeps_the_output,
            the_error_history_keeps_the_latest_failed_attempts,
            claims_record_when_attempts_started,
            a_unique_period_blocks_the_key_after_the_holder_finished,
            unique_states_choose_which_finished_jobs_block,
            take_lock_gives_a_lock_to_one_holder_until_it_expires,
            concurrent_enqueues_of_a_period_key_insert_once,
            a_retry_that_would_share_a_live_unique_key_is_a_conflict,
            concurrent_takers_of_a_free_lock_one_wins,
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

/// [`new_job`] with `max_attempts` attempts.
fn new_job_with_attempts(kind: &str, run_at: OffsetDateTime, max_attempts: u32) -> NewJob {
    new_job(kind, run_at)
        .max_attempts(max_attempts)
        .expect("the suite's attempt counts are at least 1")
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
            ClaimRequest::new(
                WORKER,
                &default_queue(),
                limit,
                now + Duration::seconds(lease_secs),
            ),
            now,
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

/// Enqueues `job` at t(0) and claims it at t(0) under a 30 s lease: the job as enqueued
/// and as claimed.
async fn enqueue_and_claim(store: &dyn JobStore, job: NewJob) -> (JobRecord, JobRecord) {
    let enqueued = enqueue_at(store, job, t(0)).await;
    let claimed = claim_one(store, t(0), 30).await;
    assert_eq!(claimed.id, enqueued.id, "the claim takes the enqueued job");
    (enqueued, claimed)
}

/// A fresh store from `f` holding `job`, enqueued and claimed at t(0) under a 30 s
/// lease: the store, and the job as enqueued and as claimed.
async fn open_with_claimed(
    f: &dyn StoreFactory,
    job: NewJob,
) -> (Arc<dyn JobStore>, JobRecord, JobRecord) {
    let store = f.open().await;
    let (enqueued, claimed) = enqueue_and_claim(&*store, job).await;
    (store, enqueued, claimed)
}

/// Enqueues `job` at t(0), claims it at t(0) and completes it at `now`: the job as
/// enqueued.
async fn enqueue_and_complete(store: &dyn JobStore, job: NewJob, now: OffsetDateTime) -> JobRecord {
    let (enqueued, claimed) = enqueue_and_claim(store, job).await;
    complete(store, claimed.lease(), now).await;
    enqueued
}

/// Completes the job under `lease` at `now`, which must succeed: the lease is live.
async fn complete(store: &dyn JobStore, lease: Lease, now: OffsetDateTime) {
    if let Err(error) = store.complete(lease, now).await {
        panic!("complete of {lease} at {now} should succeed, got {error:?}");
    }
}

/// Runs `tasks` racing tasks at once, task `i` on handle `i % handles.len()`: their
/// answers, in task order.
///
/// # Panics
///
/// When a task panicked.
async fn race<T, Fut>(
    handles: &[Arc<dyn JobStore>],
    tasks: usize,
    task: impl Fn(usize, Arc<dyn JobStore>) -> Fut,
) -> Vec<T>
where
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let spawned: Vec<_> = (0..tasks)
        .map(|i| tokio::spawn(task(i, Arc::clone(&handles[i % handles.len()]))))
        .collect();
    futures::future::join_all(spawned)
        .await
        .into_iter()
        .map(|joined| joined.expect("task"))
        .collect()
}

async fn get(store: &dyn JobStore, id: JobId, now: OffsetDateTime) -> JobRecord {
    store
        .get(id, now)
        .await
        .expect("get succeeds")
        .expect("the job exists")
}

/// How many jobs the store holds, in any state, at `now`.
async fn count_all(store: &dyn JobStore, now: OffsetDateTime) -> u64 {
    store
        .count(&JobFilter::all(), now)
        .await
        .expect("count succeeds")
}

fn ids(jobs: &[JobRecord]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id).collect()
}

fn assert_lease_lost<T: std::fmt::Debug>(result: Result<T, StoreError>, lease: Lease) {
    match result {
        Err(StoreError::LeaseLost(lost)) => assert_eq!(lost, lease),
        other => panic!("expected LeaseLost for {lease}, got {other:?}"),
    }
}
