//! Quickstart: enqueue typed jobs, work them, retry a flaky one, shut down.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Jobs live in a SQLite file (`$LEASEHOLD_DB`, by default `leasehold-quickstart.db` in
//! the temporary directory), so they survive a restart of the process.
//!
//! One job succeeds at once; another fails on its first two attempts and succeeds on
//! the third, waiting 100 ms and then 200 ms in between (exponential backoff). The
//! worker prints its lifecycle events and shuts down once both are done.

use std::sync::Arc;
use std::time::Duration;

use leasehold::retry::RetryPolicy;
use leasehold::worker::{JobContext, JobError, Worker, WorkerEvent};
use leasehold::{EnqueueOptions, Job, JobState, Queue};
use leasehold_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};

/// A typed job: its payload is the struct, its handler is registered under `KIND`.
#[derive(Serialize, Deserialize)]
struct SendWelcome {
    name: String,
    email: String,
}

impl Job for SendWelcome {
    const KIND: &'static str = "send_welcome";
}

async fn send_welcome(job: SendWelcome, ctx: JobContext) -> Result<(), JobError> {
    println!(
        "  sending a welcome email to {} <{}> ({})",
        job.name,
        job.email,
        ctx.id()
    );
    Ok(())
}

/// A job whose first two attempts fail, as a flaky API would.
#[derive(Serialize, Deserialize)]
struct SyncInvoice {
    invoice: u32,
}

impl Job for SyncInvoice {
    const KIND: &'static str = "sync_invoice";
}

async fn sync_invoice(job: SyncInvoice, ctx: JobContext) -> Result<(), JobError> {
    if ctx.attempt() < 3 {
        // Any error converts with `?`; this one is retried after the backoff.
        return Err(JobError::retryable(format!(
            "billing API unavailable (attempt {})",
            ctx.attempt()
        )));
    }
    println!(
        "  invoice {} synced on attempt {}",
        job.invoice,
        ctx.attempt()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("LEASEHOLD_DB").unwrap_or_else(|_| {
        let path = std::env::temp_dir().join("leasehold-quickstart.db");
        format!("sqlite://{}", path.display())
    });
    println!("jobs are stored in {url}");
    let queue = Queue::new(Arc::new(SqliteStore::connect(&url).await?));
    let worker = Worker::builder(&queue)
        .queue("default", 4)
        .handler(send_welcome)
        .handler(sync_invoice)
        .retry_policy(
            RetryPolicy::exponential(Duration::from_millis(100)).max_delay(Duration::from_secs(1)),
        )
        .shutdown_grace(Duration::from_secs(5))
        .build()?;
    let mut events = worker.subscribe();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });

    let welcome = queue
        .enqueue(&SendWelcome {
            name: "Ada".into(),
            email: "ada@example.com".into(),
        })
        .await?
        .job
        .id;
    let invoice = queue
        .enqueue_with(
            &SyncInvoice { invoice: 42 },
            EnqueueOptions::new().max_attempts(5),
        )
        .await?
        .job
        .id;

    let mut done = 0;
    while done < 2 {
        let event = events.recv().await?;
        match &event {
            WorkerEvent::Claimed(job) => {
                println!("claimed {} (attempt {})", job.kind, job.attempt);
            }
            WorkerEvent::Retried {
                job, delay, error, ..
            } => {
                println!("retrying {} in {delay:?}: {error}", job.kind);
            }
            WorkerEvent::Completed(job) => {
                println!("completed {}", job.kind);
                done += 1;
            }
            other => println!("{other:?}"),
        }
    }

    // Graceful shutdown: stop claiming, let running jobs finish, release the rest.
    worker.shutdown().await;
    running.await?;

    for id in [welcome, invoice] {
        let job = queue.get(id).await?.ok_or("the job is gone")?;
        println!(
            "{} {}: {} after {} attempt(s)",
            job.kind, job.id, job.state, job.attempt
        );
        assert_eq!(job.state, JobState::Completed);
    }
    Ok(())
}
