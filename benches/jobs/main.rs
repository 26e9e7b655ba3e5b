//! leasehold's benchmarks: throughput, pickup latency, scale and memory per store.
//!
//! `cargo bench --bench jobs` runs every scenario on every store (`MemoryStore`,
//! `SqliteStore` on a temporary database file in WAL mode with `synchronous=NORMAL`,
//! and `PostgresStore` on a fresh schema when `LEASEHOLD_TEST_POSTGRES_URL` names a
//! server), after raw-sqlx baselines of the same work on SQLite and PostgreSQL;
//! `-- --quick` runs a small version of each in about a minute (CI runs it only to
//! prove it works). `-- --only NAME` runs the scenarios whose name contains NAME,
//! `-- --store NAME` those of one store (`memory`, `sqlite`, `postgres`; handy under a
//! profiler), `-- --e2e-jobs N` sets the jobs of an end-to-end run (ten times as many
//! on the memory store; small runs count instructions per job under callgrind), and
//! `-- --no-baseline` leaves the raw-sqlx baselines out (for a profile of ours alone),
//! `-- --claim-ahead N` sets the end-to-end workers' `claim_ahead` (default: the
//! library's). Every
//! scenario prints one JSON line on stdout; a table follows at the end.
//!
//! - [`store_scenarios`]: enqueue (one per call, 8 callers, batches), claim at 10k and
//!   1M queued, heartbeats of 1,000 running jobs, memory per queued job.
//! - [`worker_scenarios`]: no-op jobs end to end through a `Worker` at concurrency 1,
//!   8 and 64; idle pickup latency in the same process; an idle worker's CPU use.
//! - [`remote_pickup`]: idle pickup latency of a job another process enqueued (SQLite:
//!   by polling; PostgreSQL: woken by `LISTEN/NOTIFY`).
//! - [`baseline`]: the raw-sqlx single-row and 64-row claim/complete loops on SQLite.
//! - [`baseline_postgres`]: the same on PostgreSQL, with `FOR UPDATE SKIP LOCKED`.

mod baseline;
mod baseline_postgres;
mod remote_pickup;
mod report;
mod store_scenarios;
mod stores;
mod worker_scenarios;

use std::time::Instant;

use report::Report;

/// Sizes for a full run and for `--quick`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    jobs: usize,
    scale_small: usize,
    scale_large: usize,
    running: usize,
    memory_jobs: usize,
    /// Jobs per end-to-end run on SQLite (and of the raw baseline); the memory store
    /// runs ten times as many, so its run lasts long enough to time.
    e2e_jobs: usize,
    pickup_samples: usize,
    /// How long an idle worker is watched for its CPU use.
    idle_window: std::time::Duration,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                jobs: 2_000,
                scale_small: 10_000,
                scale_large: 100_000,
                running: 1_000,
                memory_jobs: 100_000,
                e2e_jobs: 10_000,
                pickup_samples: 50,
                idle_window: std::time::Duration::from_secs(1),
            }
        } else {
            Sizes {
                jobs: 10_000,
                scale_small: 10_000,
                scale_large: 1_000_000,
                running: 1_000,
                memory_jobs: 1_000_000,
                e2e_jobs: 10_000,
                pickup_samples: 200,
                idle_window: std::time::Duration::from_secs(5),
            }
        }
    }
}

fn main() {
    if let Some(db) = std::env::var_os(remote_pickup::ENQUEUER_ENV) {
        remote_pickup::enqueuer_main(std::path::Path::new(&db));
        return;
    }
    if let Ok(schema) = std::env::var(remote_pickup::PG_ENQUEUER_ENV) {
        remote_pickup::postgres_enqueuer_main(&schema);
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let store = args
        .iter()
        .position(|a| a == "--store")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let mut sizes = Sizes::new(quick);
    // `--e2e-jobs N`: jobs per end-to-end run (the memory store's runs ten times as
    // many), e.g. small runs under `valgrind --tool=callgrind` to count instructions.
    if let Some(n) = args
        .iter()
        .position(|a| a == "--e2e-jobs")
        .and_then(|i| args.get(i + 1))
    {
        sizes.e2e_jobs = n.parse().expect("--e2e-jobs takes a number of jobs");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut report = Report::new(only);
    report.skip_baselines = args.iter().any(|a| a == "--no-baseline");
    report.claim_ahead = args
        .iter()
        .position(|a| a == "--claim-ahead")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--claim-ahead takes a number of jobs"));
    let started = Instant::now();
    runtime.block_on(run(&mut report, sizes, store.as_deref()));
    report.print_table();
    eprintln!(
        "benchmarks finished in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

async fn run(report: &mut Report, sizes: Sizes, only_store: Option<&str>) {
    let stores: Vec<&str> = stores::store_names()
        .into_iter()
        .filter(|name| only_store.is_none_or(|only| only == *name))
        .collect();
    let memory = stores.contains(&"memory");
    let sqlite = stores.contains(&"sqlite");
    // First, while the allocator holds no freed memory that the store could reuse
    // without growing the resident set.
    if memory {
        store_scenarios::run_memory_only(report, sizes).await;
    }
    let e2e_wanted = [1, 8, 64]
        .iter()
        .any(|c| report.wants(&worker_scenarios::e2e_name(*c, false)));
    let baselines = !report.skip_baselines;
    if baselines && sqlite && (report.wants("baseline") || e2e_wanted) {
        baseline::run(report, sizes.e2e_jobs).await;
    }
    let postgres = stores::postgres_url().filter(|_| stores.contains(&"postgres"));
    if let Some(url) = &postgres
        && baselines
        && (report.wants("baseline") || e2e_wanted)
    {
        baseline_postgres::run(report, url, sizes.e2e_jobs).await;
    }
    let raw = report.rate_of(baseline::BATCH, baseline::STORE);
    let raw_postgres = report.rate_of(baseline::BATCH, baseline_postgres::STORE);
    for name in stores {
        store_scenarios::run(report, name, sizes).await;
        let e2e_jobs = if name == "memory" {
            sizes.e2e_jobs * 10
        } else {
            sizes.e2e_jobs
        };
        let baseline = match name {
            "sqlite" => raw,
            "postgres" => raw_postgres,
            _ => None,
        };
        for concurrency in [1, 8, 64] {
            worker_scenarios::e2e(report, name, e2e_jobs, concurrency, baseline, false).await;
        }
        // What the metrics layer costs: the c=8 run again, recording every job.
        worker_scenarios::e2e(report, name, e2e_jobs, 8, baseline, true).await;
        worker_scenarios::pickup_in_process(report, name, sizes.pickup_samples).await;
        worker_scenarios::idle_cpu(report, name, sizes.idle_window).await;
    }
    if sqlite {
        remote_pickup::pickup_other_process(report, sizes.pickup_samples).await;
    }
    if postgres.is_some() {
        remote_pickup::pickup_other_process_postgres(report, sizes.pickup_samples).await;
    }
}
