//! Enqueue inside the caller's own transaction: the job exists if and only if the
//! caller's change commits.

use leasehold::testing::claim_default;
use leasehold::testing::conformance::t;
use leasehold::{EnqueueOptions, Job, JobFilter, JobStore, NewJob};
use leasehold_sql::TransactionalEnqueue;
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqlitePoolOptions;

#[derive(Serialize, Deserialize)]
struct ShipOrder {
    order: i64,
}

impl Job for ShipOrder {
    const KIND: &'static str = "ship_order";
}

async fn setup() -> (tempfile::TempDir, SqliteStore, sqlx::SqlitePool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let store = SqliteStore::connect_with(SqliteStoreOptions::file(&path))
        .await
        .unwrap();
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    (dir, store, pool)
}

/// Inserts `order` into the caller's `orders` table in `tx`, and enqueues its
/// [`ShipOrder`] job in the same transaction.
async fn place_order(
    store: &SqliteStore,
    tx: &mut sqlx::SqliteConnection,
    order: i64,
) -> leasehold::Enqueued {
    sqlx::query("INSERT INTO orders (id) VALUES (?1)")
        .bind(order)
        .execute(&mut *tx)
        .await
        .unwrap();
    store
        .enqueue_in(tx, &ShipOrder { order }, EnqueueOptions::new(), t(0))
        .await
        .unwrap()
}

fn ship(order: i64) -> NewJob {
    NewJob::new("ship_order", serde_json::json!({ "order": order }), t(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_in_a_committed_transaction_exists() {
    let (_dir, store, pool) = setup().await;

    let mut tx = pool.begin().await.unwrap();
    let enqueued = place_order(&store, &mut tx, 1).await;
    tx.commit().await.unwrap();

    assert!(!enqueued.duplicate, "the one job is answered, stored anew");
    let stored = store.get(enqueued.job.id, t(0)).await.unwrap().unwrap();
    assert_eq!(stored.payload, serde_json::json!({ "order": 1 }));
    let claimed = claim_default(&store, 10, t(0), t(30)).await.unwrap();
    assert_eq!(claimed.len(), 1, "workers see the job once it commits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_exists() {
    let (_dir, store, pool) = setup().await;
    let keyed = EnqueueOptions::new().unique_key("order:3");

    let mut tx = pool.begin().await.unwrap();
    place_order(&store, &mut tx, 2).await;
    store
        .enqueue_in(&mut tx, &ShipOrder { order: 3 }, keyed, t(0))
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    assert_eq!(store.count(&JobFilter::all(), t(0)).await.unwrap(), 0);
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(orders, 0);
    let again = store
        .enqueue(ship(3).unique_key("order:3"), t(1))
        .await
        .unwrap();
    assert!(!again.duplicate, "the rolled-back job holds no unique key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_built_already_enqueue_in_the_callers_transaction_too() {
    let (_dir, store, pool) = setup().await;
    let job = ship(4);

    let mut tx = pool.begin().await.unwrap();
    let enqueued = store
        .enqueue_many_new_in(&mut tx, vec![job.clone()], t(0))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(enqueued.len(), 1);
    let stored = store.get(job.id, t(0)).await.unwrap().unwrap();
    assert_eq!(stored.payload, job.payload);
}
