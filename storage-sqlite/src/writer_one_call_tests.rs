//! Group commit in one sqlx call (a [`WholeGroup`]): a failure anywhere in it leaves no
//! transaction behind, answers each call as the ordinary path would, and loses nothing.

use leasehold::testing::conformance::t;
use leasehold::{Lease, StoreError};
use sqlx::SqlitePool;

use super::tests::{claim, commit_alone, enqueue, in_memory_target, request, runtime, stored_jobs};
use super::{WholeGroup, commit_group};
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

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
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
    assert_eq!(claims, Some(WholeGroup::Claim));
    assert_eq!(nothing_to_claim, None);
    assert_eq!(completions, Some(WholeGroup::Completions));
    assert_eq!(
        one_job_twice, None,
        "two completions of one job run one by one"
    );
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
        commit_group(&target, &mut None, vec![one, many]).await;
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
        sqlx::query(
            "CREATE TRIGGER boom BEFORE UPDATE ON jobs WHEN NEW.state = 'running' \
             BEGIN SELECT RAISE(ABORT, 'boom'); END",
        )
        .execute(&pool)
        .await
        .unwrap();

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
        let claimed = commit_alone(&target, claim(2)).await;

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
        commit_group(&target, &mut None, vec![done, late]).await;

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
