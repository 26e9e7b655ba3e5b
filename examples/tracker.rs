//! Tracker: the use case leasehold grew from. A server checks web resources on
//! user-set schedules, retries failed checks with backoff, and picks up where it left
//! off after a restart.
//!
//! ```text
//! cargo run --example tracker
//! ```
//!
//! Runs in about ten seconds, in two "process lifetimes" on one SQLite file:
//! 1. Registers two schedules: "midnight every Saturday" in Berlin (a cron; its next
//!    slots are previewed) and a resource checked every 2 seconds (an interval, so the
//!    demo does not wait for Saturday). A worker runs the checks; the first attempt of
//!    every check fails (a flaky network) and is retried with exponential backoff.
//! 2. The process "deploys": everything shuts down gracefully, three seconds pass with
//!    nothing running, and a new scheduler and worker start on the same file,
//!    registering the same schedules again. The stored next slot survives the restart;
//!    the missed-run policy (`RunOnce`) decides what happens to slots that fell in the
//!    downtime, and the schedule goes on on its grid. Every slot yields exactly one job.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use leasehold::retry::RetryPolicy;
use leasehold::schedule::{MissedRunPolicy, NewSchedule, ScheduleSpec, Scheduler};
use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{Job, JobFilter, JobState, Queue};
use leasehold_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// Check one web resource for changes.
#[derive(Debug, Serialize, Deserialize)]
struct CheckResource {
    url: String,
}

impl Job for CheckResource {
    const KIND: &'static str = "check_resource";
}

async fn check_resource(job: CheckResource, ctx: JobContext) -> Result<(), JobError> {
    if ctx.attempt() == 1 {
        return Err(JobError::retryable(format!(
            "{}: connection reset",
            job.url
        )));
    }
    println!(
        "    checked {} on attempt {} ({})",
        job.url,
        ctx.attempt(),
        ctx.id()
    );
    Ok(())
}

fn schedules() -> Result<Vec<NewSchedule>, leasehold::Error> {
    let weekly = ScheduleSpec::cron("0 0 * * 6", Some("Europe/Berlin"))?;
    // Anchored at a fixed past instant, so every process lifetime shares one grid.
    let anchor = leasehold::time::OffsetDateTime::UNIX_EPOCH;
    let frequent = ScheduleSpec::interval(Duration::from_secs(2), anchor)?;
    Ok(vec![
        NewSchedule::new(
            "blog-weekly",
            weekly,
            &CheckResource {
                url: "https://example.com/blog".into(),
            },
        )?,
        NewSchedule::new(
            "status-page",
            frequent,
            &CheckResource {
                url: "https://example.com/status".into(),
            },
        )?
        .missed(MissedRunPolicy::RunOnce)
        .max_attempts(5)?,
    ])
}

/// One process lifetime: register schedules, run scheduler and worker for `run_for`.
async fn lifetime(url: &str, run_for: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let queue = Queue::new(Arc::new(SqliteStore::connect(url).await?));
    let scheduler = Scheduler::new(&queue)
        .poll_interval(Duration::from_millis(100))
        .misfire_grace(Duration::from_millis(500));
    for schedule in schedules()? {
        let stored = scheduler.upsert(schedule).await?;
        println!(
            "  schedule {:<12} next slot {}",
            stored.schedule.name,
            stored.next_fire_at.map_or("none".into(), |t| t.to_string())
        );
    }
    let preview = scheduler.next_fire_times("blog-weekly", 3).await?;
    println!("  blog-weekly fires at (UTC): {preview:?}");

    let worker = Worker::builder(&queue)
        .queue("default", 4)
        .handler(check_resource)
        .retry_policy(
            RetryPolicy::exponential(Duration::from_millis(200)).max_delay(Duration::from_secs(2)),
        )
        .poll_interval(Duration::from_millis(100))
        .build()?;
    let shutdown = CancellationToken::new();
    let scheduling = tokio::spawn({
        let (scheduler, shutdown) = (scheduler.clone(), shutdown.clone());
        async move { scheduler.run(shutdown).await }
    });
    let working = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    tokio::time::sleep(run_for).await;
    shutdown.cancel();
    worker.shutdown().await;
    scheduling.await?;
    working.await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("leasehold-tracker-{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    println!("schedules and jobs live in {}", path.display());

    println!("first lifetime:");
    lifetime(&url, Duration::from_secs(5)).await?;
    println!("deploying: nothing runs for 3 seconds ...");
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("second lifetime (same file, same schedules registered again):");
    lifetime(&url, Duration::from_secs(3)).await?;

    let queue = Queue::new(Arc::new(SqliteStore::connect(&url).await?));
    let jobs = queue
        .list(&JobFilter::all().kind(CheckResource::KIND))
        .await?;
    let slots: BTreeSet<_> = jobs.iter().filter_map(|j| j.unique_key.clone()).collect();
    let completed = jobs
        .iter()
        .filter(|j| j.state == JobState::Completed)
        .count();
    let retried = jobs.iter().filter(|j| j.attempt > 1).count();
    println!(
        "{} jobs for {} slots: {completed} completed, {retried} after a retry",
        jobs.len(),
        slots.len(),
    );
    let mut fired: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind == CheckResource::KIND)
        // The unique key names the slot: `schedule:NAME@MICROS` (run_at moved on retry).
        .filter_map(|j| {
            j.unique_key
                .as_deref()?
                .strip_prefix("schedule:status-page@")?
                .parse()
                .ok()
        })
        .filter_map(leasehold::time::from_unix_micros)
        .map(|slot| slot.time().to_string())
        .collect();
    fired.sort();
    println!("status-page slots fired (UTC): {}", fired.join(", "));
    println!(
        "slots that fell in the downtime were handled by RunOnce: one job for them, unless \
         an on-time slot fired right after the restart"
    );
    assert_eq!(slots.len(), jobs.len(), "every slot yields exactly one job");
    let _ = std::fs::remove_file(&path);
    Ok(())
}
