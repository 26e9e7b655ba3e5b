//! Group commit: what goes into a group, and how a group leaves no transaction behind.
//! How one group answers each of its calls: `writer_answers_tests.rs`.

use leasehold::testing::conformance::t;
use leasehold::{NewJob, StoreError};
use sqlx::sqlite::SqlitePoolOptions;
use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::transition::claim::Claim;
use crate::transition::enqueue::Enqueue;
use crate::transition::lease_writes::Heartbeat;

pub(super) type Answer<T> = oneshot::Receiver<Result<<T as Transition>::Answer, StoreError>>;

pub(super) fn request<T: Transition>(transition: T) -> (Request, Answer<T>) {
    let (call, answer) = Call::new(transition);
    (T::request(call), answer)
}

/// Sends a call of each of `transitions` on `channel`: their answers, in order.
async fn send_all<T: Transition>(
    channel: &mpsc::Sender<Request>,
    transitions: impl IntoIterator<Item = T>,
) -> Vec<Answer<T>> {
    let mut answers = Vec::new();
    for transition in transitions {
        let (request, answer) = request(transition);
        channel.send(request).await.unwrap();
        answers.push(answer);
    }
    answers
}

/// Runs `transition` alone in a group commit on `target`: its answer.
pub(super) async fn commit_alone<T: Transition>(
    target: &Target,
    transition: T,
) -> Result<T::Answer, StoreError> {
    let (request, answer) = request(transition);
    commit_group(target, vec![request]).await;
    answer.await.expect("a group answers every call")
}

/// How many jobs the database holds.
pub(super) async fn stored_jobs(pool: &SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(pool)
        .await
        .unwrap()
}

pub(super) fn job() -> NewJob {
    NewJob::new("k", serde_json::json!({}), t(0)).expect("a valid job")
}

pub(super) fn enqueue(jobs: usize) -> Enqueue {
    Enqueue {
        jobs: (0..jobs).map(|_| job()).collect(),
        now: t(0),
    }
}

fn heartbeat() -> Heartbeat {
    Heartbeat {
        leases: Vec::new(),
        lease_until: t(60),
    }
}

pub(super) fn claim(limit: usize) -> Claim {
    Claim {
        queues: vec!["default".to_owned()],
        limit,
        limited: limit,
        worker: "w".to_owned(),
        now: t(0),
        lease_until: t(60),
    }
}

/// A migrated in-memory database, and a writer's target on it.
pub(super) async fn in_memory_target() -> (SqlitePool, Target) {
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
    (pool, target)
}

pub(super) fn runtime() -> tokio::runtime::Runtime {
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
        let _enqueued = send_all(&other_tx, [enqueue(600), enqueue(600), enqueue(600)]).await;
        let _beats = send_all(&heartbeat_tx, [heartbeat(), heartbeat()]).await;

        let first = next_batch(&mut heartbeats, &mut others, 128).await.unwrap();
        let second = next_batch(&mut heartbeats, &mut others, 128).await.unwrap();

        let kinds =
            |batch: &[Request]| -> Vec<bool> { batch.iter().map(Request::is_heartbeat).collect() };
        assert_eq!(kinds(&first), [true, true, false, false]);
        assert_eq!(kinds(&second), [false]);
    });
}

#[test]
fn a_group_holds_at_most_max_batch_calls() {
    runtime().block_on(async {
        let (_heartbeat_tx, mut heartbeats) = mpsc::channel(16);
        let (other_tx, mut others) = mpsc::channel(16);
        let _answers = send_all(&other_tx, (0..10).map(|_| enqueue(1))).await;

        let batch = next_batch(&mut heartbeats, &mut others, 4).await.unwrap();

        assert_eq!(batch.len(), 4);
    });
}

#[test]
fn a_group_sqlite_rolled_back_by_itself_leaves_an_in_memory_store_writable() {
    runtime().block_on(async {
        let (pool, target) = in_memory_target().await;
        commit_alone(&target, enqueue(3))
            .await
            .expect("the setup enqueues");
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
            Enqueue {
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
        accepted
            .await
            .unwrap()
            .expect("the same store writes once there is room");
        assert_eq!(
            stored_jobs(&pool).await,
            3 + 1,
            "the database is the same one, nothing lost"
        );
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
