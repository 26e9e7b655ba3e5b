//! Handlers with real dependencies: a `sqlx` pool of the application's own tables,
//! given to the worker with `WorkerBuilder::data`, and a follow-up job enqueued in the
//! same transaction as the handler's own write.
//!
//! ```text
//! cargo run --example app_state
//! ```
//!
//! `CheckPage` records a page check in the application's `checks` table and, in the
//! same transaction, enqueues a `NotifyOwner` job: both are stored, or neither. The
//! jobs and the application's table share one SQLite file in a temporary directory.

use std::sync::Arc;

use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{EnqueueOptions, Job, JobFilter, JobState, Queue};
use leasehold_sql::TransactionalEnqueue;
use leasehold_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;

#[derive(Serialize, Deserialize)]
struct CheckPage {
    url: String,
}

impl Job for CheckPage {
    const KIND: &'static str = "check_page";
}

#[derive(Serialize, Deserialize)]
struct NotifyOwner {
    url: String,
    status: u16,
}

impl Job for NotifyOwner {
    const KIND: &'static str = "notify_owner";
}

async fn check_page(job: CheckPage, ctx: JobContext) -> Result<(), JobError> {
    let pool = ctx.data::<SqlitePool>()?;
    let store = ctx.data::<SqliteStore>()?;
    let status = 200; // your HTTP client here, also from `ctx.data`

    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO checks (url, status) VALUES (?, ?)")
        .bind(&job.url)
        .bind(status)
        .execute(&mut *tx)
        .await?;
    let notify = NotifyOwner {
        url: job.url,
        status,
    };
    let now = ctx.queue().clock().now();
    store
        .enqueue_in(&mut tx, &notify, EnqueueOptions::new(), now)
        .await?;
    tx.commit().await?; // the check and its follow-up job, or neither
    ctx.queue().notify_enqueued(); // wake this process's workers now
    Ok(())
}

async fn notify_owner(job: NotifyOwner, _: JobContext) -> Result<(), JobError> {
    println!("owner notified: {} answered {}", job.url, job.status);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let store = SqliteStore::connect(&url).await?;
    let pool = SqlitePool::connect(&url).await?;
    sqlx::query("CREATE TABLE checks (url TEXT NOT NULL, status INTEGER NOT NULL)")
        .execute(&pool)
        .await?;

    let queue = Queue::new(Arc::new(store.clone()));
    let worker = Worker::builder(&queue)
        .data(pool.clone())
        .data(store)
        .handler(check_page)
        .handler(notify_owner)
        .build()?;
    queue
        .enqueue(CheckPage {
            url: "https://example.com".into(),
        })
        .await?;
    while !worker.run_once().await?.claimed.is_empty() {}

    let checks: i64 = sqlx::query_scalar("SELECT count(*) FROM checks")
        .fetch_one(&pool)
        .await?;
    let completed = queue
        .count(&JobFilter::all().state(JobState::Completed))
        .await?;
    println!("{checks} check recorded, {completed} jobs completed");
    assert_eq!((checks, completed), (1, 2));
    Ok(())
}
