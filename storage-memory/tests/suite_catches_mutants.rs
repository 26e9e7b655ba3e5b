//! The conformance suite is only worth something if it fails broken stores: each
//! mutant below breaks one rule of the contract, and the named cases must catch it.

use std::sync::Arc;

use futures::future::BoxFuture;
use leasehold::testing::conformance::{self as suite, StoreFactory};
use leasehold::time::{Duration, OffsetDateTime};
use leasehold::{
    ClaimRequest, Enqueued, Firing, HeartbeatStatus, JobRecord, JobState, JobStore, Lease, NewJob,
    StoreError, async_trait,
};
use leasehold_memory::MemoryStore;

#[derive(Debug, Clone, Copy)]
enum Mutation {
    /// Claims as if it were a year later: ignores run_at and live leases.
    ClaimIgnoresTime,
    /// Lease writes act for whatever lease the job currently has: no fencing.
    NoFencing,
    /// Drops unique keys on enqueue.
    NoUniqueKeys,
    /// Retry never ends a job Failed, whatever attempts remain.
    RetryIgnoresMaxAttempts,
    /// Fires a stale slot anyway, with no unique keys: duplicate slots.
    FireWithoutCompareAndSet,
    /// Stores jobs with dependencies as plain jobs (what a store that took them
    /// through `enqueue_many` unknowingly would do): they run at once.
    IgnoresDependencies,
}

struct Mutant {
    inner: MemoryStore,
    mutation: Mutation,
}

impl Mutant {
    async fn current(&self, lease: Lease) -> Lease {
        match self.mutation {
            Mutation::NoFencing => match self.inner.get(lease.job_id, far_future()).await {
                Ok(Some(job)) => job.lease(),
                _ => lease,
            },
            _ => lease,
        }
    }
}

fn far_future() -> OffsetDateTime {
    suite::t2100(0)
}

#[async_trait]
impl JobStore for Mutant {
    // Every verb not written here goes to the inner store unchanged.
    fn delegate(&self) -> Option<&dyn JobStore> {
        Some(&self.inner)
    }

    async fn enqueue(&self, mut job: NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        if let Mutation::NoUniqueKeys = self.mutation {
            job.unique_key = None;
        }
        self.inner.enqueue(job, now).await
    }
    async fn enqueue_with_dependencies(
        &self,
        mut jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        if let Mutation::IgnoresDependencies = self.mutation {
            for job in &mut jobs {
                job.depends_on.clear();
            }
        }
        self.inner.enqueue_with_dependencies(jobs, now).await
    }
    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let now = match self.mutation {
            Mutation::ClaimIgnoresTime => now + Duration::days(365),
            _ => now,
        };
        self.inner.claim(request, now).await
    }
    async fn heartbeat(
        &self,
        leases: &[Lease],
        lease_until: OffsetDateTime,
    ) -> Result<Vec<HeartbeatStatus>, StoreError> {
        let mut current = Vec::new();
        for lease in leases {
            current.push(self.current(*lease).await);
        }
        self.inner.heartbeat(&current, lease_until).await
    }
    async fn complete(&self, lease: Lease, now: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.complete(self.current(lease).await, now).await
    }
    async fn retry(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<JobState, StoreError> {
        let lease = self.current(lease).await;
        if let Mutation::RetryIgnoresMaxAttempts = self.mutation {
            self.inner.release(lease, run_at, now).await?;
            return Ok(JobState::Scheduled);
        }
        self.inner.retry(lease, run_at, error, now).await
    }
    async fn fail(&self, lease: Lease, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.fail(self.current(lease).await, error, now).await
    }
    async fn release(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.inner
            .release(self.current(lease).await, run_at, now)
            .await
    }
    async fn fire_schedule(
        &self,
        mut firing: Firing<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        if let Mutation::FireWithoutCompareAndSet = self.mutation {
            let current = self
                .inner
                .get_schedule(firing.name)
                .await?
                .and_then(|s| s.next_fire_at);
            if current != Some(firing.slot) {
                for job in &mut firing.jobs {
                    job.unique_key = None;
                }
                return self.inner.enqueue_many(firing.jobs, now).await;
            }
        }
        self.inner.fire_schedule(firing, now).await
    }
}

type Case = for<'a> fn(&'a dyn StoreFactory) -> BoxFuture<'a, ()>;

/// Whether `case` fails against a store with `mutation`.
fn fails(mutation: Mutation, name: &str, case: Case) -> bool {
    let factory = move || async move {
        Arc::new(Mutant {
            inner: MemoryStore::new(),
            mutation,
        }) as Arc<dyn JobStore>
    };
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| suite::run_case(&factory, name, case));
    std::panic::set_hook(hook);
    result.is_err()
}

macro_rules! case {
    ($name:ident) => {
        (stringify!($name), (|f| Box::pin(suite::$name(f))) as Case)
    };
}

#[test]
fn named_cases_catch_each_mutation() {
    let expectations: [(Mutation, Vec<(&str, Case)>); 6] = [
        (
            Mutation::ClaimIgnoresTime,
            vec![
                case!(claim_never_returns_a_job_before_its_run_at),
                case!(claim_never_returns_a_leased_job),
                case!(the_store_uses_only_the_time_it_is_given),
                case!(retry_makes_the_job_claimable_at_the_given_time_not_before),
            ],
        ),
        (
            Mutation::NoFencing,
            vec![
                case!(complete_rejects_a_stale_lease),
                case!(retry_rejects_a_stale_lease),
                case!(fail_rejects_a_stale_lease),
                case!(release_rejects_a_stale_lease),
                case!(heartbeat_reports_a_stale_lease_as_lost),
                case!(a_released_lease_is_never_valid_again),
            ],
        ),
        (
            Mutation::NoUniqueKeys,
            vec![
                case!(enqueue_with_an_active_unique_key_returns_the_existing_job),
                case!(concurrent_enqueues_of_one_unique_key_insert_once),
            ],
        ),
        (
            Mutation::RetryIgnoresMaxAttempts,
            vec![case!(retry_on_the_last_attempt_ends_the_job_failed)],
        ),
        (
            Mutation::FireWithoutCompareAndSet,
            vec![
                case!(fire_schedule_from_a_stale_slot_is_a_conflict_and_inserts_nothing),
                case!(concurrent_fires_of_one_slot_insert_once),
            ],
        ),
        (
            Mutation::IgnoresDependencies,
            vec![
                case!(a_job_waits_until_its_dependencies_complete),
                case!(a_failed_dependency_ends_its_dependents_by_their_policy),
                case!(a_bad_dependency_is_refused_and_stores_nothing),
                case!(concurrent_ends_and_dependent_enqueues_never_strand_a_job),
            ],
        ),
    ];

    for (mutation, cases) in expectations {
        for (name, case) in cases {
            assert!(
                fails(mutation, name, case),
                "{name} did not catch {mutation:?}"
            );
        }
    }
}

#[test]
fn an_unmutated_store_passes_the_same_cases() {
    let factory = || async { Arc::new(MemoryStore::new()) as Arc<dyn JobStore> };
    let (name, case) = case!(complete_rejects_a_stale_lease);

    suite::run_case(&factory, name, case);
}
