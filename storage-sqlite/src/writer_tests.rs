//! Group commit: what goes into a group, and how a group leaves no transaction behind.
//! How one group answers each of its calls: `writer_answers_tests.rs`.

use leasehold::testing::conformance::t;
use leasehold::{NewJob, StoreError};
use sqlx::sqlite::SqlitePoolOptions;
use tokio::sync::{mpsc, oneshot};

use super::*;
use crate::transition::claim::{Claim, LimitsSeen};
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
    commit_group(target, &mut None, &mut None, None, vec![request]).await;
    answer.await.expect("a group answers every call")
}

/// Makes every update of a job that meets `condition` (SQL over `NEW`) fail with a
/// backend error, "boom", until `DROP TRIGGER boom`.
pub(super) async fn fail_updates_where(pool: &SqlitePool, condition: &str) {
    let trigger = format!(
        "CREATE TRIGGER boom BEFORE UPDATE ON jobs WHEN {condition} \
         BEGIN SELECT RAISE(ABORT, 'boom'); END"
    );
    sqlx::query(sqlx::AssertSqlSafe(trigger))
        .execute(pool)
        .await
        .unwrap();
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
        limits_seen: LimitsSeen::default(),
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
        hold: false,
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

/// After a group of several enqueues, the next group first lets the tasks that are
/// ready run, so that a caller about to enqueue again joins it; otherwise it takes
/// only what is waiting.
#[test]
fn a_group_after_busy_enqueues_waits_for_the_callers_ready_to_send() {
    let one_thread = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    for gather in [false, true] {
        let joined = one_thread.block_on(async {
            let (_heartbeat_tx, mut heartbeats) = mpsc::channel(16);
            let (other_tx, mut others) = mpsc::channel(16);
            let _first = send_all(&other_tx, [enqueue(1)]).await;
            // Ready to run, not yet run: a caller the last group's answer woke.
            let again = other_tx.clone();
            let caller = tokio::spawn(async move { send_all(&again, [enqueue(1)]).await });

            let mut batch = next_batch(&mut heartbeats, &mut others, 128).await.unwrap();
            if gather {
                gather_more(&mut batch, &mut heartbeats, &mut others, 128).await;
            }
            caller.abort();
            batch.len()
        });
        assert_eq!(joined, if gather { 2 } else { 1 }, "gather: {gather}");
    }
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
        commit_group(&target, &mut None, &mut None, None, vec![full]).await;
        let mut conn = pool.acquire().await.unwrap();
        let in_transaction = sqlx::query("BEGIN").execute(&mut *conn).await.is_err();
        sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
        sqlx::query("PRAGMA max_page_count = 1000000")
            .execute(&mut *conn)
            .await
            .unwrap();
        drop(conn);
        let (room, accepted) = request(big());
        commit_group(&target, &mut None, &mut None, None, vec![room]).await;

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

/// A writer (keeping its connection between groups when `hold`) on a migrated
/// database file in a new directory, its pool of one connection, and the directory.
async fn file_writer(hold: bool) -> (tempfile::TempDir, SqlitePool, Writer) {
    let dir = tempfile::tempdir().unwrap();
    let pool = file_pool(&dir).await;
    let writer = Writer::spawn(pool.clone(), false, hold, 16, None);
    (dir, pool, writer)
}

/// A migrated database file in `dir`, behind a pool of one connection.
pub(super) async fn file_pool(dir: &tempfile::TempDir) -> SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("writer.db"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    crate::schema::prepare(&mut conn).await.unwrap();
    drop(conn);
    pool
}

/// Polls `pool` until `idle` connections sit in it, for up to 5 s: whether they did.
async fn idle_within_5s(pool: &SqlitePool, idle: usize) -> bool {
    for _ in 0..5_000 {
        if pool.num_idle() == idle {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    false
}

#[test]
fn a_writer_whose_pool_is_its_own_keeps_its_connection_until_the_pool_closes() {
    runtime().block_on(async {
        let (dir, pool, writer) = file_writer(true).await;

        writer.call(enqueue(1)).await.unwrap();
        writer.call(enqueue(2)).await.unwrap();
        // Long enough for a connection handed back to reach the pool (the other test).
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let held_between_groups = pool.size() == 1 && pool.num_idle() == 0;
        let closed = tokio::time::timeout(std::time::Duration::from_secs(5), pool.close()).await;
        let after_close = writer.call(enqueue(1)).await;

        assert!(held_between_groups, "the writer holds its connection");
        assert!(
            closed.is_ok(),
            "closing the pool takes the held connection back"
        );
        assert!(after_close.is_err(), "a closed pool writes nothing");
        let reopened = file_pool(&dir).await;
        assert_eq!(stored_jobs(&reopened).await, 3);
    });
}

#[test]
fn a_writer_over_a_shared_pool_hands_its_connection_back_after_each_group() {
    runtime().block_on(async {
        let (_dir, pool, writer) = file_writer(false).await;

        writer.call(enqueue(1)).await.unwrap();
        let handed_back = idle_within_5s(&pool, 1).await;
        let read = stored_jobs(&pool).await;

        assert!(handed_back, "the connection is back in the pool");
        assert_eq!(
            read, 1,
            "the pool's one connection serves others between groups"
        );
    });
}
