//! Group commit: how one group answers each of its calls, in bulk or one by one, and
//! runs them again without a call that broke it.

use leasehold::testing::conformance::t;
use leasehold::{HeartbeatStatus, JobRecord, JobState, Lease, NewJob, StoreError};

use super::tests::{
    claim, commit_alone, enqueue, fail_updates_where, in_memory_target, job, request, runtime,
    stored_jobs,
};
use super::{Target, commit_group};
use crate::transition::claim::{Claim, Claimed};
use crate::transition::enqueue::Enqueue;
use crate::transition::lease_writes::{Complete, Fail, Heartbeat, Retry};

/// Enqueues `jobs` on `target`, then claims them all: the claimed jobs.
async fn enqueue_and_claim(target: &Target, jobs: Enqueue) -> Vec<JobRecord> {
    let count = jobs.jobs.len();
    commit_alone(target, jobs)
        .await
        .expect("the setup enqueues");
    commit_alone(target, claim(count))
        .await
        .and_then(Claimed::into_jobs)
        .expect("the claim answers its jobs")
}

#[test]
fn one_group_answers_each_call_and_a_lost_lease_spoils_no_other() {
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        let jobs: Vec<NewJob> = (0..3).map(|_| job()).collect();
        let existing = jobs[0].clone();
        let claimed = enqueue_and_claim(&target, Enqueue { jobs, now: t(0) }).await;
        let leases: Vec<Lease> = claimed.iter().map(|j| j.lease()).collect();
        let stale = Lease {
            job_id: leases[1].job_id,
            token: 0,
        };

        let (complete, completed) = request(Complete {
            lease: leases[0],
            now: t(1),
        });
        let (complete_stale, completed_stale) = request(Complete {
            lease: stale,
            now: t(1),
        });
        let (heartbeat, beats) = request(Heartbeat {
            leases: vec![leases[1], stale],
            lease_until: t(90),
        });
        let (enqueue_none, enqueued_none) = request(enqueue(0));
        let (enqueue_existing, enqueued_existing) = request(Enqueue {
            jobs: vec![job(), existing],
            now: t(1),
        });
        let (retry, retried) = request(Retry {
            lease: leases[2],
            run_at: t(30),
            error: "boom".to_owned(),
            now: t(1),
        });
        let batch = vec![
            complete,
            complete_stale,
            heartbeat,
            enqueue_none,
            enqueue_existing,
            retry,
        ];
        commit_group(&target, &mut None, &mut None, None, batch).await;

        completed.await.unwrap().expect("the live lease completes");
        assert!(
            matches!(completed_stale.await.unwrap(), Err(StoreError::LeaseLost(l)) if l == stale)
        );
        let beats = beats
            .await
            .unwrap()
            .expect("the heartbeat answers each lease");
        assert_eq!(beats, [HeartbeatStatus::Extended, HeartbeatStatus::Lost]);
        assert!(matches!(enqueued_none.await.unwrap(), Ok(e) if e.is_empty()));
        assert!(matches!(
            enqueued_existing.await.unwrap(),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(retried.await.unwrap(), Ok(JobState::Scheduled)));
        assert_eq!(
            stored_jobs(&pool).await,
            3,
            "the failed enqueue_many left none of its jobs"
        );
    });
}

#[test]
fn completions_in_one_group_finish_once_each() {
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        let claimed = enqueue_and_claim(&target, enqueue(20)).await;
        let mut leases: Vec<Lease> = claimed.iter().map(|j| j.lease()).collect();
        // The first lease twice: one of the two completions must lose.
        leases.push(leases[0]);

        let (batch, answers): (Vec<_>, Vec<_>) = leases
            .iter()
            .map(|&lease| request(Complete { lease, now: t(2) }))
            .unzip();
        commit_group(&target, &mut None, &mut None, None, batch).await;

        let mut done = 0;
        let mut lost = 0;
        for answer in answers {
            match answer.await.unwrap() {
                Ok(()) => done += 1,
                Err(StoreError::LeaseLost(lease)) => {
                    assert_eq!(lease, leases[0]);
                    lost += 1;
                }
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert_eq!((done, lost), (20, 1));
        let completed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE state = 'completed' AND finished_at = ?1",
        )
        .bind(leasehold_sql::row::micros(t(2)))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(completed, 20);
    });
}

#[test]
fn enqueues_in_one_group_share_a_statement_and_an_existing_id_still_conflicts_alone() {
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        let existing = job();
        let setup = Enqueue {
            jobs: vec![existing.clone()],
            now: t(0),
        };
        commit_alone(&target, setup)
            .await
            .expect("the setup enqueues");

        let (shared, shared_answers): (Vec<_>, Vec<_>) =
            [enqueue(1), enqueue(3)].into_iter().map(request).unzip();
        commit_group(&target, &mut None, &mut None, None, shared).await;
        let (mixed, mixed_answers): (Vec<_>, Vec<_>) = [
            enqueue(2),
            Enqueue {
                jobs: vec![existing],
                now: t(1),
            },
            enqueue(1),
        ]
        .into_iter()
        .map(request)
        .unzip();
        commit_group(&target, &mut None, &mut None, None, mixed).await;

        let mut sizes = Vec::new();
        for answer in shared_answers.into_iter().chain(mixed_answers) {
            sizes.push(match answer.await.unwrap() {
                Ok(jobs) => Some(jobs.len()),
                Err(StoreError::Conflict(_)) => None,
                other => panic!("unexpected answer {other:?}"),
            });
        }
        assert_eq!(sizes, [Some(1), Some(3), Some(2), None, Some(1)]);
        assert_eq!(stored_jobs(&pool).await, 1 + 4 + 3);
    });
}

#[test]
fn a_call_that_breaks_the_group_is_answered_alone_and_the_others_run_again() {
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        let claimed = enqueue_and_claim(&target, enqueue(2)).await;
        // A backend error (not one of the contract) for one call only.
        fail_updates_where(&pool, "NEW.last_error = 'boom'").await;
        let (complete, completed) = request(Complete {
            lease: claimed[0].lease(),
            now: t(1),
        });
        let (enqueue_one, enqueued) = request(enqueue(1));
        let (fail, failed) = request(Fail {
            lease: claimed[1].lease(),
            error: "boom".to_owned(),
            now: t(1),
        });

        commit_group(
            &target,
            &mut None,
            &mut None,
            None,
            vec![complete, enqueue_one, fail],
        )
        .await;

        let failed = failed.await.unwrap();
        assert!(matches!(failed, Err(StoreError::Backend(_))), "{failed:?}");
        completed.await.unwrap().expect("the completion runs again");
        assert_eq!(
            enqueued
                .await
                .unwrap()
                .expect("the enqueue runs again")
                .len(),
            1
        );
        let states: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state")
                .fetch_all(&pool)
                .await
                .unwrap();
        let states: Vec<(&str, i64)> = states.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        assert_eq!(
            states,
            [("available", 1), ("completed", 1), ("running", 1)],
            "what the first pass answered was written again in the second"
        );
    });
}

/// A dependency that ended earlier in the same group, with dependents of its own to
/// settle at the commit, is counted once off a dependent enqueued after it in the
/// group: the dependent still waits for its other dependency. (It was counted twice,
/// once by the enqueue, which read it ended, and once by the commit's settling, and the
/// dependent ran before its other dependency ended.)
#[test]
fn a_dependency_ended_earlier_in_the_group_is_counted_once_off_a_new_dependent() {
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        let (first, second) = (job(), job());
        let mut earlier = job();
        earlier.depends_on = vec![first.id];
        let jobs = vec![first.clone(), second.clone(), earlier.clone()];
        let claimed = enqueue_and_claim(&target, Enqueue { jobs, now: t(0) }).await;
        assert_eq!(
            claimed.len(),
            2,
            "both plain jobs run, their dependent waits"
        );
        let lease = |id| claimed.iter().find(|j| j.id == id).unwrap().lease();

        let mut later = job();
        later.depends_on = vec![first.id, second.id];
        let (complete, completed) = request(Complete {
            lease: lease(first.id),
            now: t(1),
        });
        let (enqueue_later, enqueued) = request(Enqueue {
            jobs: vec![later.clone()],
            now: t(1),
        });
        commit_group(
            &target,
            &mut None,
            &mut None,
            None,
            vec![complete, enqueue_later],
        )
        .await;
        completed.await.unwrap().expect("the first job completes");
        let enqueued = enqueued.await.unwrap().expect("the dependent is stored");
        assert_eq!(enqueued[0].job.state, JobState::Waiting);

        let (state, waiting_for): (String, i64) =
            sqlx::query_as("SELECT state, waiting_for FROM jobs WHERE id = ?1")
                .bind(crate::row::id_blob(later.id))
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!((state.as_str(), waiting_for), ("waiting", 1));
        let at_two = Claim {
            now: t(2),
            ..claim(10)
        };
        let due = commit_alone(&target, at_two)
            .await
            .and_then(Claimed::into_jobs)
            .expect("claim");
        let due: Vec<_> = due.iter().map(|j| j.id).collect();
        assert_eq!(
            due,
            [earlier.id],
            "only the first job's older dependent is due"
        );
    });
}
