//! The metrics a worker and a queue record, read back from a real Prometheus
//! recorder (installed globally: this test binary holds only this test).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use leasehold::metrics::Metrics;
use leasehold::retry::RetryPolicy;
use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{EnqueueOptions, Job, ManualClock, Queue};
use leasehold_memory::MemoryStore;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde::{Deserialize, Serialize};
use time::macros::datetime;

#[derive(Serialize, Deserialize)]
struct Work {
    fail: bool,
}
impl Job for Work {
    const KIND: &'static str = "work";
}

async fn work(job: Work, _: JobContext) -> Result<(), JobError> {
    if job.fail {
        return Err(JobError::retryable("boom"));
    }
    Ok(())
}

/// Each line `name{labels} value` of a scrape, by `name{labels}`.
fn samples(scrape: &str) -> HashMap<String, f64> {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_and_its_queue_count_every_step_by_queue_and_kind() {
    let prometheus = PrometheusBuilder::new().install_recorder().unwrap();
    let clock = ManualClock::new(datetime!(2000-01-01 0:00 UTC));
    let metrics = Metrics::new();
    let queue = Queue::with_clock(Arc::new(MemoryStore::new()), Arc::new(clock.clone()))
        .with_hook(metrics.clone());
    let worker = Worker::builder(&queue)
        .queue("mail", 4)
        .layer(metrics.clone())
        .handler(work)
        .retry_policy(RetryPolicy::constant(Duration::ZERO))
        .build()
        .unwrap();
    let mail = || EnqueueOptions::new().queue("mail");
    queue
        .enqueue_many([Work { fail: false }, Work { fail: false }], mail())
        .await
        .unwrap();
    queue
        .enqueue_with(Work { fail: true }, mail().max_attempts(2))
        .await
        .unwrap();
    // Every job starts 3 s after it was due.
    clock.advance(Duration::from_secs(3));
    worker.run_once().await.unwrap(); // two completed, one retried
    worker.run_once().await.unwrap(); // the retry fails for good
    metrics.refresh_queues(&queue).await.unwrap();

    let scrape = prometheus.render();
    let samples = samples(&scrape);
    let value = |name: &str| {
        *samples
            .get(name)
            .unwrap_or_else(|| panic!("{name} is in the scrape:\n{scrape}"))
    };
    let labels = r#"{queue="mail",kind="work"}"#;
    for (metric, expected) in [
        ("leasehold_jobs_enqueued_total", 3.0),
        ("leasehold_jobs_started_total", 4.0),
        ("leasehold_jobs_completed_total", 2.0),
        ("leasehold_jobs_retried_total", 1.0),
        ("leasehold_jobs_failed_total", 1.0),
        ("leasehold_jobs_snoozed_total", 0.0),
        ("leasehold_jobs_running", 0.0),
        ("leasehold_job_run_seconds_count", 4.0),
        ("leasehold_job_pickup_delay_seconds_count", 4.0),
        // Three first attempts 3 s late; the retry due at once starts on time.
        ("leasehold_job_pickup_delay_seconds_sum", 9.0),
    ] {
        assert_eq!(value(&format!("{metric}{labels}")), expected, "{metric}");
    }
    assert_eq!(
        value(r#"leasehold_queue_jobs{queue="mail",state="completed"}"#),
        2.0
    );
    assert_eq!(
        value(r#"leasehold_queue_jobs{queue="mail",state="failed"}"#),
        1.0
    );
    assert_eq!(value(r#"leasehold_queue_paused{queue="mail"}"#), 0.0);
    assert!(
        scrape.contains("# HELP leasehold_jobs_completed_total attempts that completed their job"),
        "{scrape}"
    );
}
