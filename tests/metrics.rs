//! The metrics a worker and a queue record, read back from a real Prometheus
//! recorder, installed once for this test binary; each test uses queues of its own.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use leasehold::metrics::Metrics;
use leasehold::retry::RetryPolicy;
use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{EnqueueOptions, Job, ManualClock, Queue};
use leasehold_memory::MemoryStore;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
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

/// The recorder every test of this binary records into, installed by the first.
fn prometheus() -> &'static PrometheusHandle {
    static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();
    RECORDER.get_or_init(|| PrometheusBuilder::new().install_recorder().unwrap())
}

/// The recorder to this test alone, while the guard lives. The tests of this file share
/// one recorder, and a scrape drains its histograms: a count once read one short in CI
/// (1,499 of 1,500) while another test scraped. As far as metrics-util's source tells
/// (`AtomicBucket::clear_with` swaps the block list out under writers that may have
/// loaded it), a sample recorded during a drain can land in a block already read.
async fn recorder_alone() -> tokio::sync::MutexGuard<'static, ()> {
    static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ALONE.lock().await
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
    let _alone = recorder_alone().await;
    let prometheus = prometheus();
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

/// The value of `name{labels}` in a scrape now, 0 when it is not there yet.
fn scraped(name: &str) -> f64 {
    samples(&prometheus().render())
        .get(name)
        .copied()
        .unwrap_or(0.0)
}

/// Waits (up to 10 s) until `name{labels}` reads `expected`, without flushing.
async fn scraped_eventually(name: &str, expected: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while scraped(name) != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} reads {} after 10 s, not {expected}",
            scraped(name)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_on_two_threads_are_all_counted_once_the_worker_stops() {
    let _alone = recorder_alone().await;
    prometheus();
    let metrics = Metrics::new();
    let queue = Queue::new(Arc::new(MemoryStore::new())).with_hook(metrics.clone());
    let worker = Worker::builder(&queue)
        .queue("bulk", 8)
        .hook(metrics.clone())
        .handler(work)
        .build()
        .unwrap();
    let options = || EnqueueOptions::new().queue("bulk");
    // More than one batch (256 ended attempts) per thread.
    let ids = queue
        .enqueue_many((0..1_500).map(|_| Work { fail: false }), options())
        .await
        .unwrap();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    for id in ids {
        queue.wait_for(id.job.id).await.unwrap();
    }
    worker.shutdown().await;
    running.await.unwrap();

    let labels = r#"{queue="bulk",kind="work"}"#;
    for (metric, expected) in [
        ("leasehold_jobs_enqueued_total", 1_500.0),
        ("leasehold_jobs_started_total", 1_500.0),
        ("leasehold_jobs_completed_total", 1_500.0),
        ("leasehold_jobs_running", 0.0),
        ("leasehold_job_run_seconds_count", 1_500.0),
        ("leasehold_job_pickup_delay_seconds_count", 1_500.0),
    ] {
        assert_eq!(scraped(&format!("{metric}{labels}")), expected, "{metric}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_and_a_finished_one_reach_the_recorder_with_no_one_flushing() {
    let _alone = recorder_alone().await;
    prometheus();
    let metrics = Metrics::new();
    let queue = Queue::new(Arc::new(MemoryStore::new()));
    let release = Arc::new(tokio::sync::Notify::new());
    let worker = Worker::builder(&queue)
        .queue("slow", 2)
        .hook(metrics.clone())
        .data(Arc::clone(&release))
        .handler(|job: Work, ctx: JobContext| async move {
            if job.fail {
                // Held until the test lets it finish.
                ctx.data::<Arc<tokio::sync::Notify>>()?.notified().await;
            }
            Ok(())
        })
        .build()
        .unwrap();
    let options = || EnqueueOptions::new().queue("slow");
    let quick = queue
        .enqueue_with(Work { fail: false }, options())
        .await
        .unwrap();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    // Nobody waits for the quick job, nor runs `run_once`: polling the store sees it
    // end, and the timed flush alone hands its counts on.
    while queue.get(quick.job.id).await.unwrap().unwrap().state != leasehold::JobState::Completed {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let labels = r#"{queue="slow",kind="work"}"#;
    scraped_eventually(&format!("leasehold_jobs_completed_total{labels}"), 1.0).await;
    // A long job shows as running while it runs.
    queue
        .enqueue_with(Work { fail: true }, options())
        .await
        .unwrap();
    scraped_eventually(&format!("leasehold_jobs_running{labels}"), 1.0).await;
    assert_eq!(
        scraped(&format!("leasehold_jobs_started_total{labels}")),
        2.0
    );
    release.notify_one();
    scraped_eventually(&format!("leasehold_jobs_running{labels}"), 0.0).await;
    scraped_eventually(&format!("leasehold_jobs_completed_total{labels}"), 2.0).await;
    worker.shutdown().await;
    running.await.unwrap();
}
