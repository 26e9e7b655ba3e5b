//! Group commit: what goes into a group, and how one group answers each of its calls.

use leasehold::testing::conformance::t;
use leasehold::{HeartbeatStatus, JobState, Lease, NewJob, StoreError};
use sqlx::sqlite::SqlitePoolOptions;
use tokio::sync::{mpsc, oneshot};

use super::*;

fn request(transition: Transition) -> (Request, oneshot::Receiver<Result<Outcome, StoreError>>) {
    let (reply, answer) = oneshot::channel();
    (Request { transition, reply }, answer)
}

fn job() -> NewJob {
    NewJob::new("k", serde_json::json!({}), t(0)).expect("a valid job")
}

fn enqueue(jobs: usize) -> Transition {
    Transition::Enqueue {
        jobs: (0..jobs).map(|_| job()).collect(),
        now: t(0),
    }
}

fn heartbeat() -> Transition {
    Transition::Heartbeat {
        leases: Vec::new(),
        lease_until: t(60),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn a_group_takes_heartbeats_first_and_stops_at_its_weight() {
    runtime().block_on(async {
        let (heartbeat_tx, mut heartbeats) = mpsc::channel(16);
        let (other_tx, mut others) = mpsc::channel(16);
        let mut answers = Vec::new();
        for transition in [enqueue(600), enqueue(600), enqueue(600)] {
            let (request, answer) = request(transition);
            other_tx.send(request).await.unwrap();
            answers.push(answer);
        }
        for _ in 0..2 {
            let (request, answer) = request(heartbeat());
            heartbeat_tx.send(request).await.unwrap();
            answers.push(answer);
        }

        let first = next_batch(&mut heartbeats, &mut others, 128).await.unwrap();
        let second = next_batch(&mut heartbeats, &mut others, 128).await.unwrap();

        let kinds = |batch: &[Request]| -> Vec<bool> {
            batch.iter().map(|r| r.transition.is_heartbeat()).collect()
        };
        assert_eq!(kinds(&first), [true, true, false, false]);
        assert_eq!(kinds(&second), [false]);
    });
}

#[test]
fn a_group_holds_at_most_max_batch_calls() {
    runtime().block_on(async {
        let (_heartbeat_tx, mut heartbeats) = mpsc::channel(16);
        let (other_tx, mut others) = mpsc::channel(16);
        let mut answers = Vec::new();
        for _ in 0..10 {
            let (request, answer) = request(enqueue(1));
            other_tx.send(request).await.unwrap();
            answers.push(answer);
        }

        let batch = next_batch(&mut heartbeats, &mut others, 4).await.unwrap();

        assert_eq!(batch.len(), 4);
    });
}

#[test]
fn one_group_answers_each_call_and_a_lost_lease_spoils_no_other() {
    runtime().block_on(async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        crate::schema::prepare(&mut conn).await.unwrap();
        drop(conn);
        let target = Target {
            pool: pool.clone(),
            in_memory: true,
        };
        let jobs: Vec<NewJob> = (0..3).map(|_| job()).collect();
        let existing = jobs[0].clone();
        let (setup, _) = request(Transition::Enqueue { jobs, now: t(0) });
        commit_group(&target, vec![setup]).await;
        let (claim, claimed) = request(Transition::Claim {
            queues: vec!["default".to_owned()],
            limit: 3,
            worker: "w".to_owned(),
            now: t(0),
            lease_until: t(60),
        });
        commit_group(&target, vec![claim]).await;
        let Ok(Outcome::Claimed(claimed)) = claimed.await.unwrap() else {
            panic!("the claim answers its jobs");
        };
        let leases: Vec<Lease> = claimed.iter().map(|j| j.lease()).collect();
        let stale = Lease {
            job_id: leases[1].job_id,
            token: 0,
        };

        let calls = vec![
            request(Transition::Complete {
                lease: leases[0],
                now: t(1),
            }),
            request(Transition::Complete {
                lease: stale,
                now: t(1),
            }),
            request(Transition::Heartbeat {
                leases: vec![leases[1], stale],
                lease_until: t(90),
            }),
            request(enqueue(0)),
            request(Transition::Enqueue {
                jobs: vec![job(), existing],
                now: t(1),
            }),
            request(Transition::Retry {
                lease: leases[2],
                run_at: t(30),
                error: "boom".to_owned(),
                now: t(1),
            }),
        ];
        let (batch, answers): (Vec<_>, Vec<_>) = calls.into_iter().unzip();
        commit_group(&target, batch).await;
        let mut answers = answers.into_iter();
        let mut next = || answers.next().unwrap();

        assert!(matches!(next().await.unwrap(), Ok(Outcome::Done)));
        assert!(matches!(next().await.unwrap(), Err(StoreError::LeaseLost(l)) if l == stale));
        let Ok(Outcome::Heartbeats(beats)) = next().await.unwrap() else {
            panic!("the heartbeat answers each lease");
        };
        assert_eq!(beats, [HeartbeatStatus::Extended, HeartbeatStatus::Lost]);
        assert!(matches!(next().await.unwrap(), Ok(Outcome::Enqueued(e)) if e.is_empty()));
        assert!(matches!(
            next().await.unwrap(),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            next().await.unwrap(),
            Ok(Outcome::State(JobState::Scheduled))
        ));
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, 3, "the failed enqueue_many left none of its jobs");
    });
}

#[test]
fn completions_in_one_group_finish_once_each() {
    runtime().block_on(async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        crate::schema::prepare(&mut conn).await.unwrap();
        drop(conn);
        let target = Target {
            pool: pool.clone(),
            in_memory: true,
        };
        let (setup, _) = request(enqueue(20));
        commit_group(&target, vec![setup]).await;
        let (claim, claimed) = request(Transition::Claim {
            queues: vec!["default".to_owned()],
            limit: 20,
            worker: "w".to_owned(),
            now: t(0),
            lease_until: t(60),
        });
        commit_group(&target, vec![claim]).await;
        let Ok(Outcome::Claimed(claimed)) = claimed.await.unwrap() else {
            panic!("the claim answers its jobs");
        };
        let mut leases: Vec<Lease> = claimed.iter().map(|j| j.lease()).collect();
        // The first lease twice: one of the two completions must lose.
        leases.push(leases[0]);

        let (batch, answers): (Vec<_>, Vec<_>) = leases
            .iter()
            .map(|&lease| request(Transition::Complete { lease, now: t(2) }))
            .unzip();
        commit_group(&target, batch).await;

        let mut done = 0;
        let mut lost = 0;
        for answer in answers {
            match answer.await.unwrap() {
                Ok(Outcome::Done) => done += 1,
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
        .bind(crate::row::micros(t(2)))
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(completed, 20);
    });
}

#[test]
fn enqueues_in_one_group_share_a_statement_and_an_existing_id_still_conflicts_alone() {
    runtime().block_on(async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        crate::schema::prepare(&mut conn).await.unwrap();
        drop(conn);
        let target = Target {
            pool: pool.clone(),
            in_memory: true,
        };
        let existing = job();
        let (setup, _) = request(Transition::Enqueue {
            jobs: vec![existing.clone()],
            now: t(0),
        });
        commit_group(&target, vec![setup]).await;

        let (shared, shared_answers): (Vec<_>, Vec<_>) =
            [enqueue(1), enqueue(3)].into_iter().map(request).unzip();
        commit_group(&target, shared).await;
        let (mixed, mixed_answers): (Vec<_>, Vec<_>) = [
            enqueue(2),
            Transition::Enqueue {
                jobs: vec![existing],
                now: t(1),
            },
            enqueue(1),
        ]
        .into_iter()
        .map(request)
        .unzip();
        commit_group(&target, mixed).await;

        let mut sizes = Vec::new();
        for answer in shared_answers.into_iter().chain(mixed_answers) {
            sizes.push(match answer.await.unwrap() {
                Ok(Outcome::Enqueued(jobs)) => Some(jobs.len()),
                Err(StoreError::Conflict(_)) => None,
                other => panic!("unexpected answer {other:?}"),
            });
        }
        assert_eq!(sizes, [Some(1), Some(3), Some(2), None, Some(1)]);
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, 1 + 4 + 3);
    });
}

#[test]
fn a_group_sqlite_rolled_back_by_itself_leaves_an_in_memory_store_writable() {
    runtime().block_on(async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        crate::schema::prepare(&mut conn).await.unwrap();
        drop(conn);
        let target = Target {
            pool: pool.clone(),
            in_memory: true,
        };
        let (setup, _) = request(enqueue(3));
        commit_group(&target, vec![setup]).await;
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&pool)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA max_page_count = {pages}"
        )))
        .execute(&pool)
        .await
        .unwrap();
        let big = || {
            let pad = "x".repeat(100_000);
            Transition::Enqueue {
                jobs: vec![NewJob::new("k", serde_json::json!({ "pad": pad }), t(0)).unwrap()],
                now: t(0),
            }
        };

        let (full, refused) = request(big());
        commit_group(&target, vec![full]).await;
        let mut conn = pool.acquire().await.unwrap();
        let in_transaction = sqlx::query("BEGIN").execute(&mut *conn).await.is_err();
        sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
        sqlx::query("PRAGMA max_page_count = 1000000")
            .execute(&mut *conn)
            .await
            .unwrap();
        drop(conn);
        let (room, accepted) = request(big());
        commit_group(&target, vec![room]).await;

        let refused = refused.await.unwrap();
        assert!(
            matches!(refused, Err(StoreError::Permanent { .. })),
            "{refused:?}"
        );
        assert!(
            !in_transaction,
            "the failed group left no transaction behind"
        );
        assert!(matches!(accepted.await.unwrap(), Ok(Outcome::Enqueued(_))));
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, 3 + 1, "the database is the same one, nothing lost");
    });
}

#[test]
fn leaving_a_transaction_works_inside_one_and_outside_one() {
    runtime().block_on(async {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();

        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .unwrap();
        let from_inside = leave_transaction(&mut conn).await;
        let from_outside = leave_transaction(&mut conn).await;

        assert!(from_inside);
        assert!(from_outside);
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *conn)
            .await
            .expect("the connection is out of any transaction");
    });
}
