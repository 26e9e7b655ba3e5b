//! A rough throughput measurement of `SqliteStore` on a database file.
//!
//! ```text
//! cargo run --release -p leasehold-sqlite --example throughput [jobs] [full]
//! ```
//!
//! Prints jobs per second for: enqueue one at a time, enqueue from 64 concurrent
//! callers (group commit), enqueue in batches of 1000, and end-to-end processing
//! (4 workers, each claiming 100 at a time and completing every job separately), and
//! one job at a time from enqueue to completion, without and beside a backlog of jobs
//! scheduled for later.
//! `full` runs with `synchronous=FULL` instead of the default NORMAL.

use std::sync::Arc;
use std::time::Instant;

use leasehold::time::Duration;
use leasehold::{ClaimRequest, Clock, JobStore, NewJob, SystemClock};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions, Synchronous};

fn job(clock: &SystemClock, n: usize) -> NewJob {
    NewJob::new("bench", serde_json::json!({ "n": n }), clock.now()).expect("a valid job")
}

fn rate(jobs: usize, started: Instant) -> f64 {
    // Counts of jobs stay far below 2^52: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let jobs = jobs as f64;
    jobs / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let jobs: usize = args.next().map_or(Ok(20_000), |n| n.parse())?;
    let synchronous = match args.next().as_deref() {
        Some("full") => Synchronous::Full,
        _ => Synchronous::Normal,
    };
    let dir = tempfile::tempdir()?;
    let options = SqliteStoreOptions::file(dir.path().join("jobs.db")).synchronous(synchronous);
    let store = Arc::new(SqliteStore::connect_with(options).await?);
    let clock = SystemClock;
    let single = (jobs / 4).max(1);
    println!("synchronous={synchronous:?} jobs={jobs}");

    let started = Instant::now();
    for n in 0..single {
        store.enqueue(job(&clock, n), clock.now()).await?;
    }
    println!(
        "enqueue one at a time:   {:>9.0} jobs/s",
        rate(single, started)
    );

    let started = Instant::now();
    let callers = (0..64).map(|caller| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for n in (caller..single).step_by(64) {
                store.enqueue(job(&clock, n), clock.now()).await?;
            }
            Ok::<_, leasehold::StoreError>(())
        })
    });
    for caller in futures::future::join_all(callers).await {
        caller??;
    }
    println!(
        "enqueue 64 callers:      {:>9.0} jobs/s",
        rate(single, started)
    );

    let started = Instant::now();
    let batches: Vec<Vec<NewJob>> = (0..jobs)
        .map(|n| job(&clock, n))
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(<[NewJob]>::to_vec)
        .collect();
    for batch in batches {
        store.enqueue_many(batch, clock.now()).await?;
    }
    println!(
        "enqueue batches of 1000: {:>9.0} jobs/s",
        rate(jobs, started)
    );

    let total = usize::try_from(
        store
            .count(&leasehold::JobFilter::all(), clock.now())
            .await?,
    )?;
    let started = Instant::now();
    let workers = (0..4).map(|w| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let queues = ["default".to_owned()];
            let worker = format!("worker-{w}");
            let mut done = 0usize;
            loop {
                let now = clock.now();
                let claimed = store
                    .claim(
                        ClaimRequest::new(&worker, &queues, 100, now + Duration::seconds(30)),
                        now,
                    )
                    .await?;
                if claimed.is_empty() {
                    return Ok::<_, leasehold::StoreError>(done);
                }
                let completions = claimed
                    .iter()
                    .map(|j| store.complete(j.lease(), clock.now()));
                for outcome in futures::future::join_all(completions).await {
                    outcome?;
                }
                done += claimed.len();
            }
        })
    });
    let mut processed = 0;
    for worker in futures::future::join_all(workers).await {
        processed += worker??;
    }
    assert_eq!(processed, total, "every job was processed once");
    println!(
        "claim+complete 4 workers:{:>9.0} jobs/s",
        rate(processed, started)
    );

    // Claims beside a backlog of jobs scheduled for later must cost what they cost
    // without it.
    let alone = claim_loop(&store, &clock).await?;
    let later = clock.now() + Duration::days(1);
    let scheduled: Vec<NewJob> = (0..jobs).map(|n| job(&clock, n).run_at(later)).collect();
    for batch in scheduled.chunks(1000) {
        store.enqueue_many(batch.to_vec(), clock.now()).await?;
    }
    let beside = claim_loop(&store, &clock).await?;
    println!(
        "enqueue+claim+complete:  {alone:>9.0} jobs/s alone, {beside:.0} beside {jobs} scheduled"
    );
    store.close().await;
    Ok(())
}

/// Jobs per second of enqueue, claim, complete, one job at a time.
async fn claim_loop(
    store: &SqliteStore,
    clock: &SystemClock,
) -> Result<f64, leasehold::StoreError> {
    let queues = ["default".to_owned()];
    let rounds = 300;
    let started = Instant::now();
    for n in 0..rounds {
        store.enqueue(job(clock, n), clock.now()).await?;
        let now = clock.now();
        let claimed = store
            .claim(
                ClaimRequest::new("worker", &queues, 10, now + Duration::seconds(30)),
                now,
            )
            .await?;
        assert_eq!(claimed.len(), 1, "only the due job is claimed");
        store.complete(claimed[0].lease(), clock.now()).await?;
    }
    Ok(rate(rounds, started))
}
