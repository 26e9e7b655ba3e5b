//! Group commit in one sqlx call (a [`WholeGroup`]): a failure anywhere in it leaves no
//! transaction behind, answers each call as the ordinary path would, and loses nothing.

use leasehold::testing::conformance::t;
use leasehold::testing::observe::error_chain;
use leasehold::{Lease, StoreError};
use leasehold_sql::row::micros;
use sqlx::SqlitePool;

use super::tests::{
    claim, commit_alone, enqueue, fail_updates_where, in_memory_target, request, runtime,
    stored_jobs,
};
use super::{WholeGroup, commit_group};
use crate::transition::claim::{Claimed, WholeClaim};
use crate::transition::lease_writes::Complete;

/// Makes every COMMIT that follows an enqueue fail, leaving SQLite in the transaction:
/// each new job adds a row whose deferred foreign key points nowhere.
async fn fail_commits_after_enqueues(pool: &SqlitePool) {
    for statement in [
        "CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)",
        "CREATE TEMP TABLE child (parent INTEGER \
         REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TEMP TRIGGER orphan AFTER INSERT ON main.jobs \
         BEGIN INSERT INTO child VALUES (42); END",
    ] {
        sqlx::query(statement).execute(pool).await.unwrap();
    }
}

/// Whether the pool's connection is in a transaction (`BEGIN` fails inside one).
async fn in_transaction(pool: &SqlitePool) -> bool {
    let mut conn = pool.acquire().await.unwrap();
    let inside = sqlx::query("BEGIN").execute(&mut *conn).await.is_err();
    sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
    inside
}

#[test]
fn plain_enqueues_distinct_completions_and_one_claim_are_whole_groups() {
    let (enqueues, _) = request(enqueue(3));
    let (other_enqueues, _) = request(enqueue(1));
    let (one_claim, _) = request(claim(8));
    let (no_claim, _) = request(claim(0));
    let lease = |token| Lease {
        job_id: leasehold::JobId::new(t(0)),
        token,
    };
    let (done, _) = request(Complete {
        lease: lease(1),
        now: t(1),
    });
    let same = lease(1);
    let (twice, _) = request(Complete {
        lease: same,
        now: t(1),
    });
    let (again, _) = request(Complete {
        lease: same,
        now: t(1),
    });

    let plain = WholeGroup::of(&[enqueues, other_enqueues]);
    let claims = WholeGroup::of(&[one_claim]);
    let nothing_to_claim = WholeGroup::of(&[no_claim]);
    let completions = WholeGroup::of(&[done]);
    let one_job_twice = WholeGroup::of(&[twice, again]);

    assert_eq!(plain, Some(WholeGroup::Enqueues));
    assert_eq!(claims, Some(WholeGroup::Claim(WholeClaim::Simple)));
    assert_eq!(nothing_to_claim, None);
    assert_eq!(completions, Some(WholeGroup::Completions));
    assert_eq!(
        one_job_twice, None,
        "two completions of one job run one by one"
    );
}

#[test]
fn whole_groups_of_enqueues_and_of_completions_each_run_as_one_statement() {
    // The writer reruns a whole group that fails the ordinary way, which would hide a
    // statement that never runs (its JSON array read by a function this SQLite lacks,
    // say): run each statement itself, as the writer's one call does.
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        let (three, _) = request(enqueue(3));
        let (two, _) = request(enqueue(2));
        let mut enqueues = vec![three, two];
        let statement = WholeGroup::Enqueues.statement(&enqueues).unwrap();
        let rows = statement
            .fetch_all(&pool)
            .await
            .expect("one INSERT of five");
        WholeGroup::Enqueues.settle(&mut enqueues, &rows).unwrap();
        assert_eq!(stored_jobs(&pool).await, 5);
        let stored: Vec<(String, String, i64, i64)> =
            sqlx::query_as("SELECT kind, state, run_at, max_attempts FROM jobs ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
        let expected = ("k".to_owned(), "available".to_owned(), micros(t(0)), 20);
        assert!(stored.iter().all(|row| *row == expected), "{stored:?}");

        let claimed = commit_alone(&target, claim(3))
            .await
            .and_then(Claimed::into_jobs)
            .unwrap();
        let mut completions: Vec<_> = claimed
            .iter()
            .map(|job| {
                let (call, _) = request(Complete {
                    lease: job.lease(),
                    now: t(5),
                });
                call
            })
            .collect();
        let statement = WholeGroup::Completions.statement(&completions).unwrap();
        let rows = statement
            .fetch_all(&pool)
            .await
            .expect("one UPDATE of three");
        assert_eq!(rows.len(), 3, "each live lease completed");
        WholeGroup::Completions
            .settle(&mut completions, &rows)
            .unwrap();
        let finished: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT state, finished_at FROM jobs WHERE state <> 'available'")
                .fetch_all(&pool)
                .await
                .unwrap();
        let completed = ("completed".to_owned(), Some(micros(t(5))));
        assert_eq!(finished, vec![completed; 3]);
    });
}

#[test]
fn a_whole_group_whose_commit_fails_answers_at_commit_and_the_next_group_writes() {
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        commit_alone(&target, enqueue(2))
            .await
            .expect("the setup enqueues");
        fail_commits_after_enqueues(&pool).await;

        let (one, refused_one) = request(enqueue(1));
        let (many, refused_many) = request(enqueue(3));
        commit_group(&target, &mut None, &mut None, None, vec![one, many]).await;
        let left_open = in_transaction(&pool).await;
        sqlx::query("DROP TRIGGER orphan")
            .execute(&pool)
            .await
            .unwrap();
        let accepted = commit_alone(&target, enqueue(1)).await;

        for refused in [refused_one.await.unwrap(), refused_many.await.unwrap()] {
            let error = refused.expect_err("the commit failed");
            assert!(
                error_chain(&error).contains("at COMMIT"),
                "{}",
                error_chain(&error)
            );
        }
        assert!(!left_open, "the failed group left no transaction behind");
        assert_eq!(accepted.expect("the next group writes").len(), 1);
        assert_eq!(stored_jobs(&pool).await, 2 + 1, "nothing half-written");
    });
}

#[test]
fn a_whole_claim_whose_statement_fails_changes_nothing_and_the_next_claim_works() {
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        commit_alone(&target, enqueue(3))
            .await
            .expect("the setup enqueues");
        fail_updates_where(&pool, "NEW.state = 'running'").await;

        let refused = commit_alone(&target, claim(2)).await;
        let left_open = in_transaction(&pool).await;
        let running: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'running'")
            .fetch_one(&pool)
            .await
            .unwrap();
        sqlx::query("DROP TRIGGER boom")
            .execute(&pool)
            .await
            .unwrap();
        let claimed = commit_alone(&target, claim(2))
            .await
            .and_then(Claimed::into_jobs);

        let error = refused.expect_err("the claim's statement failed");
        assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
        assert!(
            error_chain(&error).contains("boom"),
            "{}",
            error_chain(&error)
        );
        assert!(!left_open, "the failed claim left no transaction behind");
        assert_eq!(running, 0, "nothing half-written");
        assert_eq!(claimed.expect("the next claim works").len(), 2);
    });
}

#[test]
fn a_completion_the_whole_group_did_not_write_runs_again_and_says_why() {
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        commit_alone(&target, enqueue(2))
            .await
            .expect("the setup enqueues");
        let claimed = commit_alone(&target, claim(2))
            .await
            .and_then(Claimed::into_jobs)
            .expect("the setup claims");
        let live = claimed[0].lease();
        let stale = Lease {
            job_id: claimed[1].id,
            token: claimed[1].lease().token + 1,
        };

        let (done, completed) = request(Complete {
            lease: live,
            now: t(1),
        });
        let (late, lost) = request(Complete {
            lease: stale,
            now: t(1),
        });
        commit_group(&target, &mut None, &mut None, None, vec![done, late]).await;

        completed.await.unwrap().expect("the live lease completes");
        let lost = lost.await.unwrap();
        assert!(
            matches!(lost, Err(StoreError::LeaseLost(lease)) if lease == stale),
            "{lost:?}"
        );
        let states: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, count(*) FROM jobs GROUP BY state ORDER BY state")
                .fetch_all(&pool)
                .await
                .unwrap();
        let states: Vec<(&str, i64)> = states.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        assert_eq!(states, [("completed", 1), ("running", 1)]);
    });
}

/// Stores a limit of three running jobs on the queue `default`.
async fn limit_default_queue_to_three(db: impl sqlx::SqliteExecutor<'_>) {
    sqlx::query(
        "INSERT INTO limits (scope, name, max_running, updated_at) \
         VALUES ('queue', 'default', 3, 0)",
    )
    .execute(db)
    .await
    .unwrap();
}

#[test]
fn a_whole_claim_is_one_call_and_the_simple_one_refuses_what_needs_more() {
    // The writer reruns a whole group that fails the ordinary way, which would hide a
    // one-call claim that never runs: run the calls themselves. The simple claim takes
    // plain jobs and refuses (changing nothing) when a lease expired or a limit is
    // stored; the full one then takes the expired lease first, and stays within the
    // limit.
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        commit_alone(&target, enqueue(6)).await.unwrap();
        let whole_claim = async |how: WholeClaim, limit: usize, now: i64| {
            let mut claim = claim(limit);
            claim.now = t(now);
            claim.lease_until = t(now + 60);
            let statement = claim.whole(how).unwrap().expect("a claim of jobs");
            match statement.fetch_all(&pool).await {
                Ok(rows) => {
                    let jobs = claim.jobs(&rows).unwrap();
                    let mut conn = pool.acquire().await.unwrap();
                    assert_leased_until(&mut conn, &jobs, t(now + 60)).await;
                    Ok(jobs)
                }
                Err(error) => {
                    // As the writer leaves a failed call's transaction.
                    sqlx::query("ROLLBACK").execute(&pool).await.unwrap();
                    Err(error)
                }
            }
        };
        let attempts = async || -> Vec<i64> {
            sqlx::query_scalar("SELECT attempt FROM jobs ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap()
        };

        let first = whole_claim(WholeClaim::Simple, 2, 0).await.unwrap();
        assert_eq!(first.len(), 2, "the simple claim takes two in one call");

        let before = attempts().await;
        let refused = whole_claim(WholeClaim::Simple, 1, 61).await;
        assert!(refused.is_err(), "their leases expired at 60: {refused:?}");
        assert_eq!(attempts().await, before, "and the refusal changed nothing");
        let second = whole_claim(WholeClaim::Full, 1, 61).await.unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(
            second[0].id,
            first.iter().map(|job| job.id).min().unwrap(),
            "the expired lease comes first in claim order"
        );
        assert_eq!(second[0].attempt, 2);

        limit_default_queue_to_three(&pool).await;
        let second_expired = whole_claim(WholeClaim::Simple, 5, 62).await;
        assert!(
            second_expired.is_err(),
            "a limit is stored: {second_expired:?}"
        );
        let third = whole_claim(WholeClaim::Full, 5, 62).await.unwrap();
        assert_eq!(
            third.len(),
            2,
            "three may run and one lease is live (the retaken job's; the other expired)"
        );
        sqlx::query("UPDATE jobs SET lease_until = ?1 WHERE state = 'running'")
            .bind(micros(t(1_000)))
            .execute(&pool)
            .await
            .unwrap();
        let limited = whole_claim(WholeClaim::Simple, 5, 63).await;
        assert!(
            limited.is_err(),
            "no lease expired, but a limit is stored: {limited:?}"
        );
    });
}

#[test]
fn a_full_claim_counts_its_starts_in_its_one_call() {
    // A rate of 10 starts a minute on the queue: each whole claim, one sqlx call,
    // leases its jobs and counts them as starts, a row per claim, on one queue and on
    // several.
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        commit_alone(&target, enqueue(6)).await.unwrap();
        sqlx::query(
            "INSERT INTO limits (scope, name, rate_starts, rate_per, updated_at) \
             VALUES ('queue', 'default', 10, 60000000, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let counted = async || -> (Vec<(i64, i64)>, i64) {
            let rows = sqlx::query_as("SELECT at, starts FROM limit_starts ORDER BY at")
                .fetch_all(&pool)
                .await
                .unwrap();
            let total = sqlx::query_scalar("SELECT rate_counted FROM limits")
                .fetch_one(&pool)
                .await
                .unwrap();
            (rows, total)
        };

        // A whole full claim of `limit` jobs of `queues` at `now`, sent as one call:
        // how many jobs it leased.
        let whole_full = async |limit: usize, queues: &[&str], now: i64| {
            let mut claim = claim(limit);
            claim.now = t(now);
            claim.queues = queues.iter().map(|queue| (*queue).to_owned()).collect();
            let statement = claim.whole(WholeClaim::Full).unwrap();
            let rows = statement.expect("a claim of jobs").fetch_all(&pool).await;
            claim.jobs(&rows.unwrap()).unwrap().len()
        };

        assert_eq!(whole_full(2, &["default"], 1).await, 2);
        assert_eq!(counted().await, (vec![(micros(t(1)), 2)], 2));

        assert_eq!(whole_full(3, &["default", "other"], 2).await, 3);
        assert_eq!(
            counted().await,
            (vec![(micros(t(1)), 2), (micros(t(2)), 3)], 5)
        );
        let chosen: i64 = sqlx::query_scalar("SELECT count(*) FROM temp.leasehold_claimed")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(chosen, 0, "the chosen ids are forgotten");
    });
}

/// Runs a claim of `limit` jobs at `now` the ordinary way, in a transaction of its own
/// on `conn`: the jobs, and whether its rows said a limit is stored.
async fn apply_claim(
    conn: &mut sqlx::SqliteConnection,
    limit: usize,
    now: i64,
) -> (Vec<leasehold::JobRecord>, bool) {
    use crate::transition::Transition;
    let mut claim = claim(limit);
    claim.now = t(now);
    claim.lease_until = t(now + 60);
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .unwrap();
    let jobs = claim
        .apply(conn)
        .await
        .and_then(Claimed::into_jobs)
        .expect("the claim runs");
    sqlx::query("COMMIT").execute(&mut *conn).await.unwrap();
    assert_leased_until(conn, &jobs, t(now + 60)).await;
    (jobs, claim.limits_seen.limited())
}

/// Each of `jobs` is stored running under the lease it was answered with, until
/// `until`: every form of the claim binds the lease's end where it belongs.
async fn assert_leased_until(
    conn: &mut sqlx::SqliteConnection,
    jobs: &[leasehold::JobRecord],
    until: leasehold::time::OffsetDateTime,
) {
    for job in jobs {
        let stored: (String, i64, i64) =
            sqlx::query_as("SELECT state, lease_token, lease_until FROM jobs WHERE id = ?1")
                .bind(job.id.as_uuid().as_bytes().as_slice())
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(
            stored,
            (
                "running".to_owned(),
                i64::from(job.lease_token),
                micros(until)
            )
        );
        assert_eq!(job.lease_until, Some(until));
    }
}

#[test]
fn a_claim_in_a_group_runs_the_full_claim_when_the_simple_guard_refuses() {
    // A claim that shares its group with other calls runs inside the group's
    // transaction: the simple claim first, and when its guard refuses, only that
    // statement is undone and the full claim runs in the same transaction.
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        commit_alone(&target, enqueue(4)).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let (first, limited) = apply_claim(&mut conn, 2, 0).await;
        assert_eq!((first.len(), limited), (2, false), "the simple claim");
        let (second, limited) = apply_claim(&mut conn, 1, 61).await;
        assert_eq!(
            second
                .iter()
                .map(|job| (job.id, job.attempt))
                .collect::<Vec<_>>(),
            [(first.iter().map(|job| job.id).min().unwrap(), 2)],
            "the full claim takes the expired lease first"
        );
        assert!(!limited, "and its rows say no limit is stored");

        limit_default_queue_to_three(&mut *conn).await;
        let (third, limited) = apply_claim(&mut conn, 5, 62).await;
        assert_eq!(
            third.len(),
            2,
            "within the queue's limit of three, one lease live"
        );
        assert!(limited, "its rows say a limit is stored");
    });
}

#[test]
fn a_claim_remembers_whether_a_limit_is_stored() {
    // The form of the next claim comes from what the last one's rows said: a whole
    // claim that found no limit clears a limit seen before, and a simple one refused by
    // a stored limit runs the full claim and marks it.
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        commit_alone(&target, enqueue(3)).await.unwrap();
        let guarded = claim(1);
        let seen = guarded.limits_seen.clone();
        seen.suspect_limited();
        let jobs = commit_alone(&target, guarded)
            .await
            .and_then(Claimed::into_jobs);
        assert_eq!(jobs.unwrap().len(), 1);
        assert!(!seen.limited(), "its rows said no limit is stored");

        limit_default_queue_to_three(&pool).await;
        let simple = claim(1);
        let seen = simple.limits_seen.clone();
        let jobs = commit_alone(&target, simple)
            .await
            .and_then(Claimed::into_jobs);
        assert_eq!(jobs.unwrap().len(), 1);
        assert!(
            seen.limited(),
            "the full claim's rows said a limit is stored"
        );
    });
}

#[test]
fn a_bulk_insert_of_no_job_inserts_nothing_and_does_not_fail() {
    // No caller sends one today (a bulk insert takes two jobs or more), but a panic
    // here would end the writer task.
    runtime().block_on(async {
        let (pool, _) = in_memory_target().await;
        let mut conn = pool.acquire().await.unwrap();
        let inserted = crate::enqueue::insert_bulk(&mut conn, &[]).await;
        drop(conn);
        assert!(inserted.expect("nothing to insert"));
        assert_eq!(stored_jobs(&pool).await, 0);
    });
}
