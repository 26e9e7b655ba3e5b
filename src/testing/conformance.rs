//! The conformance suite: the [`JobStore`] contract, executable.
//!
//! Every sentence of the contract in [`JobStore`]'s docs is a `pub async fn` here of
//! the same name. [`conformance_suite!`](crate::conformance_suite) expands to one
//! `#[test]` per case, each on a fresh store from a [`StoreFactory`]:
//!
//! ```ignore
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

use crate::JobStore;

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
