//! Runs a few jobs with leasehold's metrics recorded into a Prometheus recorder, then
//! prints the scrape: `cargo run --example metrics`.
//!
//! Seven jobs: five complete, one fails once and then completes, one fails for good.
//! The scrape shows their counters (`leasehold_jobs_*_total`), the run-time and
//! pickup-delay histograms, and the queue gauges from `queue_stats`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use leasehold::metrics::Metrics;
use leasehold::retry::RetryPolicy;
use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{EnqueueOptions, Job, Queue};
use leasehold_sqlite::SqliteStore;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Thumbnail {
    image: u32,
}
impl Job for Thumbnail {
    const KIND: &'static str = "thumbnail";
}

#[derive(Serialize, Deserialize)]
struct Webhook {
    url: String,
}
impl Job for Webhook {
    const KIND: &'static str = "webhook";
}

async fn thumbnail(_: Thumbnail, _: JobContext) -> Result<(), JobError> {
    Ok(())
}

async fn webhook(job: Webhook, ctx: JobContext) -> Result<(), JobError> {
    let failed_once = ctx.data::<AtomicBool>()?;
    if job.url.contains("invalid") {
        return Err(JobError::permanent(format!("{} is not a URL", job.url)));
    }
    if !failed_once.swap(true, Ordering::SeqCst) {
        return Err(JobError::retryable("connection reset"));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The recorder first: metric handles bind to the recorder installed when made.
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let metrics = Metrics::new();
    let queue = Queue::new(Arc::new(SqliteStore::connect(&url).await?)).with_hook(metrics.clone());
    let worker = Worker::builder(&queue)
        .hook(metrics.clone())
        .data(AtomicBool::new(false))
        .handler(thumbnail)
        .handler(webhook)
        .retry_policy(RetryPolicy::constant(Duration::ZERO))
        .build()?;

    queue
        .enqueue_many(
            (1..=5).map(|image| Thumbnail { image }),
            EnqueueOptions::new(),
        )
        .await?;
    queue
        .enqueue(Webhook {
            url: "https://example.com/hook".into(),
        })
        .await?;
    queue
        .enqueue(Webhook {
            url: "invalid".into(),
        })
        .await?;
    while !worker.run_once().await?.claimed.is_empty() {}
    metrics.refresh_queues(&queue).await?;

    print!("{}", prometheus.render());
    Ok(())
}
