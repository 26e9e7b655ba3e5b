//! Pickup latency across processes: another OS process (this bench binary, started
//! with [`ENQUEUER_ENV`] set) enqueues into the same SQLite file, and an idle worker
//! here finds the job by polling, since no in-process signal reaches it.
//!
//! The two processes share no clock but the wall clock, so each job carries the wall
//! time of its enqueue call and the handler subtracts it from its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use leasehold::worker::WorkerBuilder;
use leasehold::worker::{JobContext, Worker};
use leasehold::{Job, Queue};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::report::{Report, Row};
use crate::stores::{open_if_wanted, open_postgres, open_sqlite_file, postgres_url};

/// Set (to a database file) in the enqueuing child process.
pub(crate) const ENQUEUER_ENV: &str = "LEASEHOLD_BENCH_ENQUEUER_DB";
/// Set (to a PostgreSQL schema, on the server of `LEASEHOLD_TEST_POSTGRES_URL`) in the
/// enqueuing child process of the PostgreSQL scenario.
pub(crate) const PG_ENQUEUER_ENV: &str = "LEASEHOLD_BENCH_ENQUEUER_PG_SCHEMA";

/// The worker's poll interval in the PostgreSQL scenario: long, so only the
/// `LISTEN/NOTIFY` wake-up can pick a job up fast.
const PG_POLL: Duration = Duration::from_secs(1);
/// How many jobs the child enqueues.
const SAMPLES_ENV: &str = "LEASEHOLD_BENCH_ENQUEUER_SAMPLES";

/// The worker's poll interval (fixed: no idle backoff) in this scenario.
const POLL: Duration = Duration::from_millis(10);

/// A job that carries the wall time of its enqueue call.
#[derive(Serialize, Deserialize)]
struct WallProbe {
    sent_unix_us: u64,
}

impl Job for WallProbe {
    const KIND: &'static str = "wall_probe";
}

/// Microseconds since the Unix epoch.
// Benches may read the wall clock: the clippy ban keeps it out of library code, and
// only the wall clock is shared by two processes.
#[allow(clippy::disallowed_methods)]
fn unix_micros() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    u64::try_from(since.as_micros()).expect("microseconds since 1970 fit u64")
}

pub(crate) async fn pickup_other_process(report: &mut Report, samples: usize) {
    let scenario = format!("pickup_idle_other_process_poll{}ms", POLL.as_millis());
    let Some(bench) = open_if_wanted(report, &scenario, "sqlite").await else {
        return;
    };
    let path = bench.path().expect("a SQLite store has a file").to_owned();
    let queue = Queue::new(bench.store.clone());
    let worker = Worker::builder(&queue)
        .queue("default", 8)
        .poll_interval(POLL)
        .max_poll_interval(POLL);
    let mut enqueuer = Command::new(this_binary());
    enqueuer.env(ENQUEUER_ENV, &path);
    let mut times = pickup_latencies(worker, enqueuer, samples).await;

    report.push(Row::latencies(scenario, "sqlite", 8, &mut times));
    bench.close().await;
}

/// Runs a worker from `builder` while `enqueuer` (this binary, as a child process)
/// enqueues `samples` [`WallProbe`]s, and returns each probe's pickup latency.
async fn pickup_latencies(
    builder: WorkerBuilder,
    mut enqueuer: Command,
    samples: usize,
) -> Vec<Duration> {
    let (latencies, mut received) = mpsc::unbounded_channel::<Duration>();
    let worker = builder
        .handler(move |probe: WallProbe, _ctx: JobContext| {
            let latency = unix_micros().saturating_sub(probe.sent_unix_us);
            let _ = latencies.send(Duration::from_micros(latency));
            async { Ok(()) }
        })
        .build()
        .expect("a valid worker");
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });

    let mut child = enqueuer
        .env(SAMPLES_ENV, samples.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("the enqueuing process starts");
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let latency = tokio::time::timeout(Duration::from_secs(30), received.recv())
            .await
            .expect("the other process's job is picked up within 30 s")
            .expect("a handler ran");
        times.push(latency);
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("waiting for the child")
        .expect("the child's status");
    assert!(status.success(), "the enqueuing process failed: {status}");
    worker.shutdown().await;
    running.await.expect("the worker task");
    times
}

/// This very binary: `/proc/self/exe` on Linux, which still names the running file
/// when a concurrent `cargo build` replaces the bench binary at its path.
fn this_binary() -> PathBuf {
    let proc_self = PathBuf::from("/proc/self/exe");
    if proc_self.exists() {
        proc_self
    } else {
        std::env::current_exe().expect("this bench binary")
    }
}

/// The child process: enqueues the jobs one at a time into the database at `db`,
/// each after a pause longer than the worker's poll interval, at a random phase.
pub(crate) fn enqueuer_main(db: &Path) {
    let samples = samples_from_env();
    current_thread_runtime().block_on(async {
        let store = open_sqlite_file(db).await;
        enqueue_probes(&Queue::new(Arc::new(store.clone())), samples, POLL * 2).await;
        store.close().await;
    });
}

/// The child's sample count, set by the parent in [`SAMPLES_ENV`].
fn samples_from_env() -> usize {
    std::env::var(SAMPLES_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("the sample count in the environment")
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Enqueues `samples` [`WallProbe`]s one at a time, each after `pause` plus a random
/// phase of up to 10 ms.
async fn enqueue_probes(queue: &Queue, samples: usize, pause: Duration) {
    for _ in 0..samples {
        tokio::time::sleep(pause + Duration::from_micros(fastrand::u64(0..10_000))).await;
        let probe = WallProbe {
            sent_unix_us: unix_micros(),
        };
        queue.enqueue(&probe).await.expect("enqueue");
    }
}

/// Pickup latency across processes on PostgreSQL: the other process enqueues through a
/// store of its own, and the idle worker here wakes on the `NOTIFY` its
/// `subscribe_enqueued` receiver turns into a signal (polling once a second only).
pub(crate) async fn pickup_other_process_postgres(report: &mut Report, samples: usize) {
    let scenario = "pickup_idle_other_process_notify".to_owned();
    let Some(bench) = open_if_wanted(report, &scenario, "postgres").await else {
        return;
    };
    let store = bench.postgres().expect("a PostgreSQL store").clone();
    let mut signal = store.subscribe_enqueued();
    // The listener is connected once the counter first changes.
    tokio::time::timeout(Duration::from_secs(30), signal.changed())
        .await
        .expect("the listener connects within 30 s")
        .expect("the store is alive");
    let queue = Queue::new(bench.store.clone());
    let worker = Worker::builder(&queue)
        .queue("default", 8)
        .enqueue_signal(signal)
        .poll_interval(PG_POLL)
        .max_poll_interval(PG_POLL);
    let mut enqueuer = Command::new(std::env::current_exe().expect("this bench binary"));
    enqueuer.env(PG_ENQUEUER_ENV, store.schema());
    let mut times = pickup_latencies(worker, enqueuer, samples).await;

    report.push(Row::latencies(scenario, "postgres", 8, &mut times));
    bench.close().await;
}

/// The child process of the PostgreSQL scenario: enqueues the jobs one at a time into
/// `schema`, at random phases, through a store of its own.
pub(crate) fn postgres_enqueuer_main(schema: &str) {
    let samples = samples_from_env();
    let url = postgres_url().expect("the server's URL in the environment");
    current_thread_runtime().block_on(async {
        let store = open_postgres(&url, schema).await;
        let pause = Duration::from_millis(20);
        enqueue_probes(&Queue::new(Arc::new(store.clone())), samples, pause).await;
        store.close().await;
    });
}
