//! Dependencies, from the [`JobStore`](crate::JobStore) contract: a job that waits for
//! others, what a failed dependency does to it, bad dependencies, and what an operator
//! may do to a job that waits or that something waits on.

use std::sync::Arc;

use super::{
    StoreFactory, claim, claim_one, complete, count_all, enqueue_and_claim, enqueue_and_complete,
    enqueue_at, get, ids, new_job, new_job_with_attempts, race, t,
};
use crate::{
    DEPENDENCY_FAILED, DependencyFailure, DependencyProblem, Enqueued, JobFilter, JobId, JobRecord,
    JobState, JobStore, JobUpdate, NewJob, StoreError,
};

/// A job of `kind` due at `run_at` that waits for `ids` under `policy`.
fn dependent(
    kind: &str,
    run_at: time::OffsetDateTime,
    ids: &[JobId],
    policy: DependencyFailure,
) -> NewJob {
    new_job(kind, run_at)
        .depends_on(ids.iter().copied())
        .on_dependency_failure(policy)
}

/// Enqueues `jobs` with dependencies at `now`, which must succeed: the stored jobs.
async fn enqueue_waiting(
    store: &dyn JobStore,
    jobs: Vec<NewJob>,
    now: time::OffsetDateTime,
) -> Vec<JobRecord> {
    store
        .enqueue_with_dependencies(jobs, now)
        .await
        .expect("enqueue_with_dependencies succeeds")
        .into_iter()
        .map(|enqueued| enqueued.job)
        .collect()
}

async fn state(store: &dyn JobStore, id: JobId, now: time::OffsetDateTime) -> JobState {
    get(store, id, now).await.state
}

/// A job whose dependencies have not all completed is `Waiting`, with what it waits
/// for on its record: never claimed, left out of `next_due` and the pending counts.
/// The completion of its last dependency makes it pending at once, due at the later of
/// its `run_at` and that time, and a claim then takes it.
pub async fn a_job_waits_until_its_dependencies_complete(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (_, a) = enqueue_and_claim(&*store, new_job("a", t(0))).await;
    let (_, b) = enqueue_and_claim(&*store, new_job("b", t(0))).await;
    let cancel = DependencyFailure::Cancel;

    let waiting = enqueue_waiting(
        &*store,
        vec![
            dependent("d", t(0), &[a.id, b.id], cancel),
            dependent("e", t(100), &[b.id], DependencyFailure::Fail),
        ],
        t(1),
    )
    .await;
    let (d, e) = (&waiting[0], &waiting[1]);

    assert_eq!((d.state, e.state), (JobState::Waiting, JobState::Waiting));
    assert_eq!(d.depends_on, vec![a.id, b.id]);
    assert_eq!(e.on_dependency_failure, DependencyFailure::Fail);
    assert_eq!(&get(&*store, d.id, t(1)).await, d, "stored as answered");
    assert!(
        claim(&*store, 10, t(2), 30).await.is_empty(),
        "never claimed"
    );
    let queues = vec![crate::job::DEFAULT_QUEUE.to_owned()];
    assert_eq!(
        store.next_due(&queues).await.expect("next_due"),
        Some(t(30)),
        "only the leases count"
    );
    let stats = store.queue_stats(t(2)).await.expect("queue_stats");
    assert_eq!((stats[0].waiting, stats[0].available), (2, 0));
    let waiting_count = store
        .count(&JobFilter::all().state(JobState::Waiting), t(2))
        .await
        .expect("count");
    assert_eq!(waiting_count, 2);

    store.complete(a.lease(), t(5)).await.expect("complete a");
    assert_eq!(
        state(&*store, d.id, t(5)).await,
        JobState::Waiting,
        "b runs on"
    );
    store.complete(b.lease(), t(7)).await.expect("complete b");

    let d_now = get(&*store, d.id, t(7)).await;
    let e_now = get(&*store, e.id, t(7)).await;
    assert_eq!((d_now.state, d_now.run_at), (JobState::Available, t(7)));
    assert_eq!((e_now.state, e_now.run_at), (JobState::Scheduled, t(100)));
    assert_eq!(
        d_now.depends_on,
        vec![a.id, b.id],
        "what it waited for stays"
    );
    assert_eq!(claim_one(&*store, t(7), 30).await.id, d.id);
}

/// A dependency that fails ends its waiting dependents by their policies at that time:
/// `Cancel` cancels, `Fail` fails, each with [`DEPENDENCY_FAILED`] and no attempt
/// spent, and so on down their own dependents; `Ignore` counts it as ended and runs
/// once every dependency has ended. Cancelling a waiting job does the same to its
/// dependents.
pub async fn a_failed_dependency_ends_its_dependents_by_their_policy(f: &dyn StoreFactory) {
    use DependencyFailure::{Cancel, Fail, Ignore};
    let store = f.open().await;
    let (_, a) = enqueue_and_claim(&*store, new_job("a", t(0))).await;
    let other = enqueue_at(&*store, new_job("other", t(1000)), t(0)).await;
    let c1 = new_job("c1", t(0)).depends_on([a.id]);
    let c2 = dependent("c2", t(0), &[c1.id], Fail);
    let c3 = dependent("c3", t(0), &[c2.id, other.id], Ignore);
    let f1 = dependent("f1", t(0), &[a.id], Fail);
    let i1 = dependent("i1", t(0), &[a.id], Ignore);
    let (c1_id, c2_id, c3_id, f1_id, i1_id) = (c1.id, c2.id, c3.id, f1.id, i1.id);
    enqueue_waiting(&*store, vec![c3, c2, c1, f1, i1], t(1)).await;

    store.fail(a.lease(), "boom", t(5)).await.expect("fail a");

    for (id, ended) in [
        (c1_id, JobState::Cancelled),
        (c2_id, JobState::Failed),
        (f1_id, JobState::Failed),
    ] {
        let job = get(&*store, id, t(5)).await;
        assert_eq!(
            (job.state, job.finished_at),
            (ended, Some(t(5))),
            "{}",
            job.kind
        );
        assert_eq!(job.last_error.as_deref(), Some(DEPENDENCY_FAILED));
        assert_eq!((job.attempt, job.errors.len()), (0, 0), "no attempt ran");
    }
    assert_eq!(
        state(&*store, c3_id, t(5)).await,
        JobState::Waiting,
        "other is pending"
    );
    let i1_now = get(&*store, i1_id, t(5)).await;
    assert_eq!((i1_now.state, i1_now.run_at), (JobState::Available, t(5)));

    store.cancel(other.id, t(6)).await.expect("cancel other");
    assert_eq!(state(&*store, c3_id, t(6)).await, JobState::Available);

    let w = enqueue_at(&*store, new_job("w", t(1000)), t(7)).await;
    let waits = enqueue_waiting(&*store, vec![new_job("x", t(7)).depends_on([w.id])], t(7)).await;
    let below = enqueue_waiting(
        &*store,
        vec![dependent("y", t(7), &[waits[0].id], Cancel)],
        t(7),
    )
    .await;
    store
        .cancel(waits[0].id, t(8))
        .await
        .expect("cancel a waiting job");
    let y = get(&*store, below[0].id, t(8)).await;
    assert_eq!((y.state, y.finished_at), (JobState::Cancelled, Some(t(8))));
    assert_eq!(
        state(&*store, w.id, t(8)).await,
        JobState::Scheduled,
        "upstream untouched"
    );
}

/// A dependency whose lease expires on its last attempt ends `Failed` at the claim
/// that finds it so, and its waiting dependents end by their policy in that same claim,
/// as a failure by hand ends them: a crashed worker's job strands nothing behind it.
pub async fn a_dependency_failed_by_an_expired_lease_ends_its_dependents(f: &dyn StoreFactory) {
    let store = f.open().await;
    let a = enqueue_at(&*store, new_job_with_attempts("a", t(0), 1), t(0)).await;
    let c1 = dependent("c1", t(0), &[a.id], DependencyFailure::Cancel);
    let c1_id = c1.id;
    enqueue_waiting(&*store, vec![c1], t(0)).await;
    claim_one(&*store, t(0), 10).await;

    // The lease ran to 10 s; the worker that held it is gone.
    let after = claim(&*store, 10, t(20), 10).await;

    assert!(after.is_empty(), "nothing else to claim");
    assert_eq!(state(&*store, a.id, t(20)).await, JobState::Failed);
    let c1 = get(&*store, c1_id, t(20)).await;
    assert_eq!(
        (c1.state, c1.finished_at),
        (JobState::Cancelled, Some(t(20)))
    );
    assert_eq!(c1.last_error.as_deref(), Some(DEPENDENCY_FAILED));
}

/// A dependency that completed already is satisfied at enqueue, one that failed or was
/// cancelled applies the policy at once, and a dependency on a job of the same call
/// whose unique key was held is on the job that holds the key.
pub async fn dependencies_that_ended_already_count_at_enqueue(f: &dyn StoreFactory) {
    use DependencyFailure::{Cancel, Ignore};
    let store = f.open().await;
    let done = enqueue_and_complete(&*store, new_job("done", t(0)), t(1)).await;
    let (_, failed) = enqueue_and_claim(&*store, new_job("failed", t(0))).await;
    store
        .fail(failed.lease(), "boom", t(2))
        .await
        .expect("fail");
    let holder = enqueue_at(&*store, new_job("holder", t(0)).unique_key("u"), t(2)).await;
    let again = new_job("again", t(0)).unique_key("u");
    let after_again = new_job("after", t(0)).depends_on([again.id]);

    let stored = enqueue_waiting(
        &*store,
        vec![
            dependent("ready", t(10), &[done.id], Cancel),
            dependent("ended", t(10), &[done.id, failed.id], Cancel),
            dependent("anyway", t(10), &[failed.id], Ignore),
            again,
            after_again,
        ],
        t(10),
    )
    .await;

    assert_eq!(
        (stored[0].state, stored[0].run_at),
        (JobState::Available, t(10))
    );
    assert_eq!(
        (stored[1].state, stored[1].finished_at),
        (JobState::Cancelled, Some(t(10)))
    );
    assert_eq!(stored[1].last_error.as_deref(), Some(DEPENDENCY_FAILED));
    assert_eq!(stored[2].state, JobState::Available);
    assert_eq!(stored[3].id, holder.id, "the key's holder answers");
    assert_eq!(
        (stored[4].state, stored[4].depends_on.clone()),
        (JobState::Waiting, vec![holder.id])
    );
    for job in &stored {
        assert_eq!(
            &get(&*store, job.id, t(10)).await,
            job,
            "stored as answered"
        );
    }
    let running = claim(&*store, 10, t(10), 30).await;
    assert_eq!(ids(&running).len(), 3, "ready, anyway and the holder");
    let holder_run = running
        .iter()
        .find(|j| j.id == holder.id)
        .expect("holder claimed");
    store
        .complete(holder_run.lease(), t(11))
        .await
        .expect("complete");
    assert_eq!(
        state(&*store, stored[4].id, t(11)).await,
        JobState::Available
    );
}

/// A dependency on an unknown id, a job that depends on itself, and jobs of one call
/// that depend on each other in a cycle are refused with `InvalidDependency` naming the
/// job, the dependency and the problem; nothing of the call is stored, and nothing of
/// it is held: another handle claims the job it depended on at once.
pub async fn a_bad_dependency_is_refused_and_stores_nothing(f: &dyn StoreFactory) {
    let handles = f.open_shared(2).await;
    let store = &*handles[0];
    let existing = enqueue_at(store, new_job("existing", t(0)), t(0)).await;
    let unknown = JobId::new(t(0));
    let fine = new_job("fine", t(0)).depends_on([existing.id]);
    let lost = new_job("lost", t(0)).depends_on([existing.id, unknown]);
    let own = new_job("own", t(0));
    let own = own.clone().depends_on([own.id]);
    let (b, c) = (new_job("b", t(0)), new_job("c", t(0)));
    let (b, c) = (b.clone().depends_on([c.id]), c.depends_on([b.id]));

    let lost_refused = refusal(store, vec![fine.clone(), lost.clone()]).await;
    let own_refused = refusal(store, vec![fine.clone(), own.clone()]).await;
    let cycle_refused = refusal(store, vec![fine, b.clone(), c.clone()]).await;
    let claimed = claim_one(&*handles[1], t(1), 30).await;

    assert_eq!(claimed.id, existing.id, "nothing of a refused call is held");
    assert_eq!(lost_refused, (lost.id, unknown, DependencyProblem::Unknown));
    assert_eq!(own_refused, (own.id, own.id, DependencyProblem::Itself));
    let (job, dependency, problem) = cycle_refused;
    assert_eq!(problem, DependencyProblem::Cycle);
    assert!(
        [(b.id, c.id), (c.id, b.id)].contains(&(job, dependency)),
        "names the cycle"
    );
    assert_eq!(
        count_all(store, t(1)).await,
        1,
        "nothing of the calls is stored"
    );
    let unchanged = get(store, existing.id, t(1)).await;
    assert_eq!(
        (unchanged.attempt, unchanged.depends_on),
        (1, vec![]),
        "as enqueued"
    );
}

/// What an enqueue of `jobs` that must be refused names: the job, the dependency and
/// the problem.
async fn refusal(store: &dyn JobStore, jobs: Vec<NewJob>) -> (JobId, JobId, DependencyProblem) {
    match store.enqueue_with_dependencies(jobs, t(1)).await {
        Err(StoreError::InvalidDependency {
            job,
            dependency,
            problem,
        }) => (job, dependency, problem),
        other => panic!("expected InvalidDependency, got {other:?}"),
    }
}

/// A job that a waiting job depends on is never deleted nor run again: `delete_job`
/// and `retry_job` answer `Conflict`, `delete_jobs`, `retry_jobs` and `prune` pass over
/// it (also a finished one that a dependent under `Ignore` counts as ended). A waiting
/// job itself is deleted by hand, while `retry_job` and `update_job` refuse it and
/// `retry_jobs` passes over it.
pub async fn a_job_something_waits_on_is_never_deleted(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (_, failed) = enqueue_and_claim(&*store, new_job("failed", t(0))).await;
    store
        .fail(failed.lease(), "boom", t(1))
        .await
        .expect("fail");
    let upstream = enqueue_at(&*store, new_job("upstream", t(1000)), t(1)).await;
    let done = enqueue_and_complete(&*store, new_job("done", t(0)), t(1)).await;
    let waiting = enqueue_waiting(
        &*store,
        vec![dependent(
            "w",
            t(0),
            &[failed.id, upstream.id],
            DependencyFailure::Ignore,
        )],
        t(2),
    )
    .await
    .remove(0);

    match store.delete_job(upstream.id, t(3)).await {
        Err(StoreError::Conflict(message)) => {
            assert!(message.contains(&waiting.id.to_string()), "{message}");
        }
        other => panic!("expected Conflict naming the waiting job, got {other:?}"),
    }
    assert!(
        matches!(
            store.retry_job(failed.id, t(3)).await,
            Err(StoreError::Conflict(_))
        ),
        "a waiting job counts its end"
    );
    let failed_jobs = JobFilter::all().state(JobState::Failed);
    assert_eq!(
        store
            .retry_jobs(&failed_jobs, t(3))
            .await
            .expect("retry_jobs"),
        0
    );
    let pruned = store.prune(t(10), 10).await.expect("prune");
    assert_eq!(pruned, 1, "only the job nothing waits on");
    assert!(store.get(done.id, t(3)).await.expect("get").is_none());
    assert_eq!(
        state(&*store, failed.id, t(3)).await,
        JobState::Failed,
        "kept"
    );
    let only_upstream = JobFilter::all().kind("upstream");
    assert_eq!(
        store
            .delete_jobs(&only_upstream, t(3))
            .await
            .expect("delete_jobs"),
        0
    );
    let retried = store
        .retry_jobs(&JobFilter::all().state(JobState::Waiting), t(3))
        .await;
    assert_eq!(retried.expect("retry_jobs"), 0, "passes over a waiting job");
    for refused in [
        store.retry_job(waiting.id, t(3)).await.map(|_| ()),
        store
            .update_job(waiting.id, &JobUpdate::new().priority(3), t(3))
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(
                refused,
                Err(StoreError::WrongState {
                    state: JobState::Waiting,
                    ..
                })
            ),
            "{refused:?}"
        );
    }
    assert_eq!(get(&*store, waiting.id, t(3)).await, waiting, "unchanged");

    let deleted = store
        .delete_job(waiting.id, t(4))
        .await
        .expect("delete a waiting job");
    assert_eq!(deleted.id, waiting.id);
    store
        .delete_job(upstream.id, t(4))
        .await
        .expect("nothing waits on it now");
    assert_eq!(
        store.prune(t(10), 10).await.expect("prune"),
        1,
        "nor on the failed one"
    );
    assert_eq!(count_all(&*store, t(4)).await, 0);
}

/// A job that a released dependent ran after is kept until that dependent ends too:
/// a step of a chain may read its output while it is pending or running. `prune`,
/// `delete_jobs` and `retry_jobs` pass over it and `delete_job` answers `Conflict`
/// naming the dependent; once the dependent has ended, both go as any finished job.
pub async fn a_job_an_unfinished_dependent_ran_after_is_kept(f: &dyn StoreFactory) {
    let store = f.open().await;
    let first_job = new_job("upstream", t(0));
    let step_job = dependent("step", t(0), &[first_job.id], DependencyFailure::Cancel);
    let (upstream, step) = (first_job.id, step_job.id);
    enqueue_waiting(&*store, vec![first_job, step_job], t(0)).await;
    let first = claim_one(&*store, t(1), 30).await;
    assert_eq!(first.id, upstream);
    complete(&*store, first.lease(), t(1)).await;
    assert_eq!(state(&*store, step, t(2)).await, JobState::Available);

    let kept = |what: &str| format!("{what}: the step after it has not ended");
    let upstream_only = JobFilter::all().kind("upstream");
    for now in [t(2), t(3)] {
        assert_eq!(
            store.prune(t(10), 10).await.expect("prune"),
            0,
            "{}",
            kept("prune")
        );
        assert_eq!(
            store
                .delete_jobs(&upstream_only, now)
                .await
                .expect("delete_jobs"),
            0,
            "{}",
            kept("delete_jobs")
        );
        match store.delete_job(upstream, now).await {
            Err(StoreError::Conflict(message)) => {
                assert!(message.contains(&step.to_string()), "{message}");
            }
            other => panic!("expected Conflict naming the step, got {other:?}"),
        }
        if now == t(2) {
            // Now running: still kept.
            let running = claim_one(&*store, t(3), 30).await;
            assert_eq!(running.id, step);
        }
    }
    let running = get(&*store, step, t(3)).await;
    complete(&*store, running.lease(), t(4)).await;
    assert_eq!(
        store.prune(t(10), 10).await.expect("prune"),
        2,
        "once the step ended, both are finished jobs like any other"
    );
    assert_eq!(count_all(&*store, t(5)).await, 0);
}

/// A dependent enqueued through one handle while its dependency ends through another
/// is never left waiting: it sees the end at enqueue, or the end releases it.
pub async fn concurrent_ends_and_dependent_enqueues_never_strand_a_job(f: &dyn StoreFactory) {
    let handles = f.open_shared(2).await;
    for round in 0..20 {
        let now = t(round * 10);
        enqueue_at(&*handles[0], new_job("dep", now), now).await;
        let dependency = claim_one(&*handles[0], now, 30).await;
        let dependent_job = new_job("dependent", now).depends_on([dependency.id]);
        let dependent_id = dependent_job.id;
        let completes = round % 2 == 0;

        let answers: Vec<Result<(), StoreError>> =
            race(&handles, 2, move |i, store: Arc<dyn JobStore>| {
                let job = dependent_job.clone();
                let lease = dependency.lease();
                async move {
                    if i == 0 {
                        if completes {
                            store.complete(lease, now).await
                        } else {
                            store.fail(lease, "boom", now).await
                        }
                    } else {
                        store
                            .enqueue_with_dependencies(vec![job], now)
                            .await
                            .map(|_: Vec<Enqueued>| ())
                    }
                }
            })
            .await;

        for answer in answers {
            answer.expect("both calls succeed");
        }
        let expected = if completes {
            JobState::Available
        } else {
            JobState::Cancelled
        };
        assert_eq!(
            state(&*handles[1], dependent_id, now).await,
            expected,
            "round {round}: the dependent follows its dependency's end"
        );
        let leftover = claim(&*handles[0], 10, now, 30).await;
        for job in leftover {
            handles[0]
                .complete(job.lease(), now)
                .await
                .expect("complete");
        }
    }
}

/// `dependents` answers the ids of the stored jobs whose `depends_on` names a job, of
/// this call or stored before, ascending, whatever their state, until they are
/// deleted; none for a job nothing depends on or an unknown id.
pub async fn dependents_lists_the_jobs_that_depend_on_a_job(f: &dyn StoreFactory) {
    let store = f.open().await;
    let (a_job, b_job) = (new_job("a", t(0)), new_job("b", t(0)));
    let (a, b) = (a_job.id, b_job.id);
    store
        .enqueue_many(vec![a_job, b_job], t(0))
        .await
        .expect("enqueue_many");
    let c_job = dependent("c", t(0), &[a, b], DependencyFailure::Cancel);
    let d_job = dependent("d", t(0), &[a], DependencyFailure::Fail);
    let e_job = dependent("e", t(0), &[c_job.id], DependencyFailure::Ignore);
    let (c, d, e) = (c_job.id, d_job.id, e_job.id);
    enqueue_waiting(&*store, vec![c_job, d_job, e_job], t(0)).await;

    let dependents = async |id: JobId| store.dependents(id).await.expect("dependents");
    let sorted = |mut ids: Vec<JobId>| {
        ids.sort();
        ids
    };
    assert_eq!(dependents(a).await, sorted(vec![c, d]));
    assert_eq!(dependents(b).await, vec![c]);
    assert_eq!(dependents(c).await, vec![e]);
    assert_eq!(
        dependents(e).await,
        Vec::<JobId>::new(),
        "nothing waits on e"
    );
    assert_eq!(
        dependents(JobId::new(t(0))).await,
        Vec::<JobId>::new(),
        "an unknown id has none"
    );

    // Ended or released, they are still its dependents; deleted, they are not.
    let first = claim_one(&*store, t(1), 30).await;
    assert_eq!(first.id, a);
    complete(&*store, first.lease(), t(1)).await;
    assert_eq!(state(&*store, d, t(2)).await, JobState::Available);
    assert_eq!(dependents(a).await, sorted(vec![c, d]));
    let late_job = dependent("late", t(2), &[a], DependencyFailure::Cancel);
    let late = late_job.id;
    enqueue_waiting(&*store, vec![late_job], t(2)).await;
    assert_eq!(
        dependents(a).await,
        sorted(vec![c, d, late]),
        "a dependent enqueued after its dependency completed is one too"
    );
    store.cancel(b, t(2)).await.expect("cancel");
    assert_eq!(state(&*store, c, t(2)).await, JobState::Cancelled);
    assert_eq!(dependents(b).await, vec![c]);
    store.delete_job(d, t(3)).await.expect("delete_job");
    assert_eq!(dependents(a).await, sorted(vec![c, late]));
    // Deleted, a job has none, though a record still names it.
    store.delete_job(b, t(3)).await.expect("delete_job");
    assert_eq!(get(&*store, c, t(3)).await.depends_on, vec![a, b]);
    assert_eq!(dependents(b).await, Vec::<JobId>::new());
}
