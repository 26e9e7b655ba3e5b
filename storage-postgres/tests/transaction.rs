//! Enqueue inside the caller's transaction: the job exists if and only if the
//! caller's own writes commit, and a failed enqueue leaves the caller's transaction
//! usable.

mod support;

use leasehold::testing::conformance::t;
use leasehold::{EnqueueOptions, Job, JobFilter, JobStore, NewJob, StoreError};
use leasehold_postgres::PostgresStore;
use leasehold_sql::TransactionalEnqueue;
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use support::{FreshSchema, test_schema};

#[derive(Serialize, Deserialize)]
struct Welcome {
    to: String,
}

impl Job for Welcome {
    const KIND: &'static str = "welcome";
}

/// The email address of the signup the tests insert, and of its welcome job.
const SIGNUP: &str = "ada@example.com";

/// The welcome job of the signup of `email`.
fn welcome(email: &str) -> Welcome {
    Welcome {
        to: email.to_owned(),
    }
}

fn job(kind: &str) -> NewJob {
    NewJob::new(kind, serde_json::json!({"n": 1}), t(0)).expect("a valid job")
}

/// A fresh schema (dropped with the first part), a store on it, and the name of a
/// `signups` table of the application's own in it; `None` when no server is set.
async fn setup() -> Option<(FreshSchema, PostgresStore, String)> {
    let db = test_schema()?;
    let store = db.open().await;
    let table = format!("\"{}\".signups", db.schema);
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {table} (email TEXT NOT NULL)"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    Some((db, store, table))
}

async fn signups(store: &PostgresStore, table: &str) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn insert_signup(tx: &mut sqlx::PgConnection, table: &str) {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {table} (email) VALUES ($1)"
    )))
    .bind(SIGNUP)
    .execute(tx)
    .await
    .unwrap();
}

/// What [`setup`] makes, and a transaction on the store's pool that has inserted the
/// [`SIGNUP`] already; `None` when no server is set.
async fn setup_and_sign_up() -> Option<(
    FreshSchema,
    PostgresStore,
    String,
    sqlx::Transaction<'static, sqlx::Postgres>,
)> {
    let (db, store, table) = setup().await?;
    let mut tx = store.pool().begin().await.unwrap();
    insert_signup(&mut tx, &table).await;
    Some((db, store, table, tx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_in_a_committed_transaction_exists_with_the_callers_writes() {
    let Some((_db, store, table, mut tx)) = setup_and_sign_up().await else {
        return;
    };

    let enqueued = store
        .enqueue_in(&mut tx, &welcome(SIGNUP), EnqueueOptions::new(), t(0))
        .await
        .unwrap();
    let seen_outside = store.get(enqueued.job.id, t(0)).await.unwrap();
    tx.commit().await.unwrap();

    assert!(
        seen_outside.is_none(),
        "nobody sees the job before the commit"
    );
    assert_eq!(signups(&store, &table).await, 1);
    assert_eq!(
        store.get(enqueued.job.id, t(0)).await.unwrap(),
        Some(enqueued.job)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_exists() {
    let Some((_db, store, table, mut tx)) = setup_and_sign_up().await else {
        return;
    };

    let enqueued = store
        .enqueue_many_in(
            &mut tx,
            &[welcome(SIGNUP), welcome(SIGNUP)],
            EnqueueOptions::new(),
            t(0),
        )
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    assert_eq!(enqueued.len(), 2);
    assert_eq!(signups(&store, &table).await, 0);
    assert_eq!(store.count(&JobFilter::all(), t(0)).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_enqueue_leaves_the_callers_transaction_usable() {
    let Some((_db, store, table)) = setup().await else {
        return;
    };
    let existing = store.enqueue(job("first"), t(0)).await.unwrap().job;
    // Only a job built by hand can reuse an id: the untyped form.
    let mut duplicate = job("again");
    duplicate.id = existing.id;
    let keyed = EnqueueOptions::new().unique_key("k");
    let mut tx = store.pool().begin().await.unwrap();

    let failed = store
        .enqueue_many_new_in(&mut tx, vec![duplicate], t(1))
        .await;
    insert_signup(&mut tx, &table).await;
    let unique = store
        .enqueue_in(&mut tx, &welcome(SIGNUP), keyed.clone(), t(1))
        .await
        .unwrap();
    let deduped = store
        .enqueue_in(&mut tx, &welcome(SIGNUP), keyed, t(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert!(matches!(failed, Err(StoreError::Conflict(_))), "{failed:?}");
    assert_eq!(signups(&store, &table).await, 1);
    assert!(deduped.duplicate && deduped.job.id == unique.job.id);
    assert_eq!(store.count(&JobFilter::all(), t(1)).await.unwrap(), 2);
}
