//! Scenarios through a real `Worker`: end-to-end throughput of no-op jobs, and the
//! pickup latency of an idle worker woken by its `Queue`'s enqueue signal.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use leasehold::metrics::Metrics;
use leasehold::worker::JobContext;
use leasehold::worker::{Worker, WorkerEvent};
use leasehold::{Job, JobFilter, JobState, Queue};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::report::{Report, Row};
use crate::stores::{fill, open_if_wanted, rate};

/// The no-op job `stores::job` builds.
#[derive(Serialize, Deserialize)]
struct Noop {
    i: usize,
}

impl Job for Noop {
    const KIND: &'static str = "noop";
}

/// A job that carries the moment it was enqueued, in nanoseconds since [`origin`].
#[derive(Serialize, Deserialize)]
struct Probe {
    sent_ns: u64,
}

impl Job for Probe {
    const KIND: &'static str = "probe";
}

/// This process's reference instant for [`Probe`] stamps.
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

fn stamp() -> u64 {
    u64::try_from(origin().elapsed().as_nanos()).expect("a bench runs for less than 584 years")
}

/// Runs `worker` in a task until it is shut down.
fn spawn_run(worker: &Worker) -> tokio::task::JoinHandle<()> {
    let worker = worker.clone();
    tokio::spawn(async move { worker.run().await })
}

/// The name of the end-to-end scenario at `concurrency`, with the metrics layer or
/// without.
pub(crate) fn e2e_name(concurrency: usize, metrics: bool) -> String {
    if metrics {
        format!("e2e_metrics_worker_c{concurrency}")
    } else {
        format!("e2e_noop_worker_c{concurrency}")
    }
}

/// Installs a Prometheus recorder (once), so the metrics rows pay for real
/// recording, as an application exporting them would: its histograms are drained
/// every 5 s, as `PrometheusBuilder::install` does for an application serving
/// `/metrics` (without it, every sample of the run stays in memory), and its clock
/// is calibrated before the first row is timed (quanta calibrates on first use, for
/// up to 200 ms: once per process, not per job).
fn install_recorder() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("the bench installs the only recorder");
        metrics::histogram!("leasehold_bench_warm_up_seconds").record(0.0);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                prometheus.run_upkeep();
            }
        });
    });
}

/// Processes `n` queued no-op jobs through one `Worker` with `concurrency` slots:
/// from `run()` until the last outcome is written (all `Completed`, checked after). Rows
/// of a store with a `baseline` (the raw-sqlx 64-row claim/complete jobs/s of this run
/// on the same database engine) carry their ratio to it. With `metrics`, the worker
/// records every job through `leasehold::metrics::Metrics` into a Prometheus
/// recorder.
pub(crate) async fn e2e(
    report: &mut Report,
    store_name: &str,
    n: usize,
    concurrency: usize,
    baseline: Option<f64>,
    metrics: bool,
) {
    let scenario = e2e_name(concurrency, metrics);
    let Some(bench) = open_if_wanted(report, &scenario, store_name).await else {
        return;
    };
    fill(&bench.store, n).await;
    let queue = Queue::new(bench.store.clone());
    let handled = Arc::new(AtomicUsize::new(0));
    let mut builder = Worker::builder(&queue).queue("default", concurrency);
    if let Some(ahead) = report.claim_ahead {
        builder = builder.claim_ahead(ahead);
    }
    if metrics {
        install_recorder();
        builder = builder.hook(Metrics::new());
    }
    let worker = builder
        .handler({
            let handled = Arc::clone(&handled);
            move |_job: Noop, _ctx: JobContext| {
                handled.fetch_add(1, Ordering::Relaxed);
                async { Ok(()) }
            }
        })
        .build()
        .expect("a valid worker");

    let (cpu_before, started) = (crate::report::thread_cpu_times(), Instant::now());
    let running = spawn_run(&worker);
    // Every handler ran and the worker holds no job: every outcome is written. (Not
    // via a subscription to the worker's events: waking a subscriber twice per job
    // costs more than the worker's own work on a no-op job.)
    while handled.load(Ordering::Relaxed) < n || worker.running() > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (elapsed, cpu_after) = (started.elapsed(), crate::report::thread_cpu_times());
    worker.shutdown().await;
    running.await.expect("the worker task");
    assert_eq!(count_completed(&queue).await, n, "every job completed once");
    let cpu = cpu_before
        .zip(cpu_after)
        .map(|(before, after)| crate::report::cpu_percents(&before, &after, elapsed));

    let jobs_per_sec = rate(n, elapsed);
    let ratio_to_baseline = jobs_per_sec.zip(baseline).map(|(ours, raw)| ours / raw);
    report.push(Row {
        scenario,
        store: store_name.into(),
        jobs: n,
        concurrency,
        jobs_per_sec,
        ratio_to_baseline,
        cpu_percent: cpu.map(|(process, _)| process),
        busiest_thread_percent: cpu.map(|(_, busiest)| busiest),
        ..Row::default()
    });
    bench.close().await;
}

async fn count_completed(queue: &Queue) -> usize {
    let n = queue
        .count(&JobFilter::all().state(JobState::Completed))
        .await
        .expect("count");
    usize::try_from(n).expect("a count of this run's jobs fits usize")
}

/// Enqueues one job at a time into an idle worker (default poll settings, so only the
/// queue's in-process signal wakes it quickly) and measures enqueue-call-to-handler-
/// start, `samples` times.
pub(crate) async fn pickup_in_process(report: &mut Report, store_name: &str, samples: usize) {
    let scenario = "pickup_idle_in_process".to_owned();
    let Some(bench) = open_if_wanted(report, &scenario, store_name).await else {
        return;
    };
    let queue = Queue::new(bench.store.clone());
    let (latencies, mut received) = mpsc::unbounded_channel::<Duration>();
    let worker = Worker::builder(&queue)
        .queue("default", 8)
        .handler(move |probe: Probe, _ctx: JobContext| {
            // Runs when the job's task first polls the handler: the handler's start.
            let latency = Duration::from_nanos(stamp().saturating_sub(probe.sent_ns));
            let _ = latencies.send(latency);
            async { Ok(()) }
        })
        .build()
        .expect("a valid worker");
    let mut events = worker.subscribe();
    let running = spawn_run(&worker);

    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        // Let the worker finish its round and park on its wake-ups.
        tokio::time::sleep(Duration::from_millis(2 + fastrand::u64(0..3))).await;
        queue
            .enqueue(&Probe { sent_ns: stamp() })
            .await
            .expect("enqueue");
        times.push(received.recv().await.expect("a handler ran"));
        loop {
            match events.recv().await.expect("the worker's events") {
                WorkerEvent::Completed(_) => break,
                WorkerEvent::Claimed(_) => {}
                other => panic!("a probe did not complete: {other:?}"),
            }
        }
    }
    worker.shutdown().await;
    running.await.expect("the worker task");

    report.push(Row::latencies(scenario, store_name, 8, &mut times));
    bench.close().await;
}

/// How much CPU an idle worker uses: one `Worker` with default settings on an empty
/// store, run for `window`; the process's CPU time over that window in percent of one
/// core (Linux clock ticks of 10 ms, so 0.2% resolution over 5 s).
pub(crate) async fn idle_cpu(report: &mut Report, store_name: &str, window: Duration) {
    let scenario = "idle_worker_cpu".to_owned();
    let Some(bench) = open_if_wanted(report, &scenario, store_name).await else {
        return;
    };
    let queue = Queue::new(bench.store.clone());
    let worker = Worker::builder(&queue)
        .handler(|_: Noop, _: JobContext| async { Ok(()) })
        .build()
        .expect("a valid worker");
    let running = spawn_run(&worker);
    // Past its start-up (first claim, retention's first pass).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (cpu_before, started) = (crate::report::cpu_time(), Instant::now());
    tokio::time::sleep(window).await;
    let (cpu_after, elapsed) = (crate::report::cpu_time(), started.elapsed());
    worker.shutdown().await;
    running.await.expect("the worker task");

    let cpu_percent = cpu_before
        .zip(cpu_after)
        .map(|(before, after)| 100.0 * (after - before).as_secs_f64() / elapsed.as_secs_f64());
    report.push(Row {
        scenario,
        store: store_name.into(),
        concurrency: 10,
        cpu_percent,
        ..Row::default()
    });
    bench.close().await;
}
