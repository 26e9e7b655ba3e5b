//! A digest: check a set of pages, then send one digest of what changed.
//!
//! ```text
//! cargo run --example digest
//! ```
//!
//! Each page check is a member of a batch and records what it found as its output;
//! the digest is the batch's callback. The store makes the digest due in the same
//! transaction that ends the last check, so it runs once, after every check, whichever
//! process ran them and even if one crashed in between; a check that fails for good
//! (the page that is gone) is counted, not waited for. Jobs live in a SQLite file
//! (`$LEASEHOLD_DB`, by default a new file in the temporary directory).

use std::sync::Arc;

use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{EnqueueOptions, Job, JobState, Queue};
use leasehold_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};

/// Checks one page for changes.
#[derive(Serialize, Deserialize)]
struct CheckPage {
    url: String,
}

impl Job for CheckPage {
    const KIND: &'static str = "check_page";
}

/// What a check found: its output.
#[derive(Serialize, Deserialize)]
struct Finding {
    url: String,
    changed: bool,
}

/// The pages as this example's "web" holds them: (url, changed since last time), or
/// gone.
fn fetch(url: &str) -> Option<bool> {
    match url {
        "https://example.com/pricing" => Some(true),
        "https://example.com/docs" => Some(false),
        "https://example.com/blog" => Some(true),
        _ => None,
    }
}

async fn check_page(job: CheckPage, ctx: JobContext) -> Result<(), JobError> {
    let changed =
        fetch(&job.url).ok_or_else(|| JobError::permanent(format!("{} is gone", job.url)))?;
    ctx.set_output(&Finding {
        url: job.url,
        changed,
    })?;
    Ok(())
}

/// The batch's callback: one digest of every check.
#[derive(Serialize, Deserialize)]
struct SendDigest {
    to: String,
}

impl Job for SendDigest {
    const KIND: &'static str = "send_digest";
}

async fn send_digest(job: SendDigest, ctx: JobContext) -> Result<(), JobError> {
    // The callback's id is its batch's id.
    let progress = ctx.queue().open_batch(ctx.id()).progress().await?;
    println!(
        "digest for {}: {} pages checked, {} failed",
        job.to, progress.completed, progress.failed
    );
    for check in &ctx.record().depends_on {
        if let Some(finding) = ctx.output_of::<Finding>(*check).await? {
            let what = if finding.changed {
                "changed"
            } else {
                "unchanged"
            };
            println!("  {}: {what}", finding.url);
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = std::env::var("LEASEHOLD_DB")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("digest.db").display()));
    let queue = Queue::new(Arc::new(SqliteStore::connect(&url).await?));
    let worker = Worker::builder(&queue)
        .queue("default", 4)
        .handler(check_page)
        .handler(send_digest)
        .build()?;
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });

    let batch = queue.batch();
    let pages = [
        "https://example.com/pricing",
        "https://example.com/docs",
        "https://example.com/blog",
        "https://example.com/old-page",
    ];
    for page in pages {
        let check = CheckPage { url: page.into() };
        // One attempt: a page that is gone is reported, not retried.
        batch
            .add(&check, EnqueueOptions::new().max_attempts(1))
            .await?;
    }
    let to = SendDigest {
        to: "ops@example.com".into(),
    };
    batch.seal(&to, EnqueueOptions::new()).await?;

    let digest = queue.wait_for(batch.id()).await?;
    assert_eq!(digest.state, JobState::Completed);
    worker.shutdown().await;
    running.await?;
    Ok(())
}
