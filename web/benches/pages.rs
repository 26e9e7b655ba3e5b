//! How long the dashboard takes to render its pages over a large SQLite store.
//!
//! `cargo bench -p leasehold-web --bench pages` seeds a SQLite file (WAL,
//! `synchronous=NORMAL`) in a temporary directory with a million jobs in four queues
//! and four kinds (most available, some scheduled later, completed, failed or
//! cancelled), then asks the dashboard's router for each page through
//! `tower::ServiceExt::oneshot` (no network) and prints the median and 90th
//! percentile of its render time. It is a benchmark, run on demand: never a timed
//! test, whose threshold would fail on a slower or busier machine.
//!
//! - `-- --jobs N`: seed N jobs instead of 1,000,000 (also `LEASEHOLD_BENCH_JOBS`).
//! - `-- --samples K`: render each page K times (default 15), after one warm-up.
//! - `-- --only NAME`: only the pages (and store calls) whose name contains NAME.
//!
//! A second table times the queue calls the pages make, alone, so a slow page can be
//! told apart as the store's or the dashboard's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use leasehold::time::OffsetDateTime;
use leasehold::{ClaimRequest, JobFilter, JobId, JobRecord, JobState, JobStore, NewJob, Queue};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions};
use leasehold_web::Dashboard;
use serde_json::json;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Jobs per `enqueue_many` call: one transaction each.
const ENQUEUE_BATCH: usize = 10_000;
/// Jobs per claim when finishing a fraction of them.
const CLAIM_BATCH: usize = 1_000;
const QUEUES: [&str; 4] = ["default", "mail", "billing", "reports"];
const KINDS: [&str; 4] = ["send_email", "sync_invoice", "build_report", "resize_image"];

/// What the command line asked for.
struct Args {
    jobs: usize,
    samples: usize,
    only: Option<String>,
}

impl Args {
    fn parse() -> Self {
        let args: Vec<String> = std::env::args().collect();
        let value = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let jobs = value("--jobs")
            .or_else(|| std::env::var("LEASEHOLD_BENCH_JOBS").ok())
            .map_or(1_000_000, |n| {
                n.replace(['_', ','], "")
                    .parse()
                    .expect("--jobs takes a number of jobs")
            });
        let samples = value("--samples").map_or(15, |k| {
            k.parse::<usize>()
                .expect("--samples takes a number of renders")
                .max(1)
        });
        Self {
            jobs,
            samples,
            only: value("--only"),
        }
    }
}

/// The ids the pages are asked about, picked while seeding.
struct Seeded {
    /// The job enqueued halfway: `/jobs?after=` it is a page half the store deep.
    middle: JobId,
    /// A job that failed, errors and all.
    failed: JobId,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(&args));
}

async fn run(args: &Args) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = SqliteStoreOptions::file(dir.path().join("jobs.db"));
    let store = SqliteStore::connect_with(options)
        .await
        .expect("the SQLite store opens");
    let queue = Queue::new(Arc::new(store));

    let started = Instant::now();
    let seeded = seed(&queue, args.jobs).await;
    let seeding = started.elapsed();
    let database_mb = database_bytes(dir.path()) / 1e6;
    println!(
        "seeded {} jobs in {:.1} s ({:.0} jobs/s), database {database_mb:.0} MB",
        args.jobs,
        seeding.as_secs_f64(),
        rate(args.jobs, seeding)
    );

    let app = Dashboard::new(queue.clone()).router();
    let pages = [
        ("overview", "/".to_owned()),
        ("jobs", "/jobs".to_owned()),
        ("jobs failed", "/jobs?state=failed".to_owned()),
        ("jobs completed", "/jobs?state=completed".to_owned()),
        ("jobs deep", format!("/jobs?after={}", seeded.middle)),
        ("job detail", format!("/jobs/{}", seeded.failed)),
    ];
    println!();
    println!(
        "| {:<12} | {:<50} | {:>9} | {:>9} | {:>8} |",
        "page", "path", "median ms", "p90 ms", "KiB"
    );
    println!(
        "|{:-<14}|{:-<52}|{:-<11}|{:-<11}|{:-<10}|",
        "", "", "", "", ""
    );
    for (name, path) in &pages {
        if args
            .only
            .as_deref()
            .is_some_and(|only| !name.contains(only))
        {
            continue;
        }
        let (mut times, bytes) = render_times(&app, path, args.samples).await;
        println!(
            "| {name:<12} | {path:<50} | {:>9.2} | {:>9.2} | {:>8.1} |",
            millis(quantile(&mut times, 1, 2)),
            millis(quantile(&mut times, 9, 10)),
            as_f64(bytes) / 1024.0,
        );
    }
    println!();
    println!(
        "| {:<40} | {:>9} | {:>9} | {:>8} |",
        "store call behind the pages", "median ms", "p90 ms", "answers"
    );
    println!("|{:-<42}|{:-<11}|{:-<11}|{:-<10}|", "", "", "", "");
    for call in StoreCall::ALL {
        if args
            .only
            .as_deref()
            .is_some_and(|only| !call.name().contains(only))
        {
            continue;
        }
        let answers = call.run(&queue, &seeded).await;
        let mut times = Vec::with_capacity(args.samples);
        for _ in 0..args.samples {
            let started = Instant::now();
            call.run(&queue, &seeded).await;
            times.push(started.elapsed());
        }
        println!(
            "| {:<40} | {:>9.2} | {:>9.2} | {answers:>8} |",
            call.name(),
            millis(quantile(&mut times, 1, 2)),
            millis(quantile(&mut times, 9, 10)),
        );
    }
    println!();
    println!(
        "{} jobs, {} renders a page (and calls the store) after one warm-up",
        args.jobs, args.samples
    );
}

/// The queue calls the pages make, timed alone to tell the store's share of a
/// render from the dashboard's.
#[derive(Clone, Copy)]
enum StoreCall {
    QueueStats,
    CountAll,
    CountFailed,
    ListNewest,
    ListFailed,
    ListAfter,
    Get,
}

impl StoreCall {
    const ALL: [StoreCall; 7] = [
        StoreCall::QueueStats,
        StoreCall::CountAll,
        StoreCall::CountFailed,
        StoreCall::ListNewest,
        StoreCall::ListFailed,
        StoreCall::ListAfter,
        StoreCall::Get,
    ];

    fn name(self) -> &'static str {
        match self {
            StoreCall::QueueStats => "queue_stats (/, /jobs, job detail)",
            StoreCall::CountAll => "count all (/jobs)",
            StoreCall::CountFailed => "count state=failed",
            StoreCall::ListNewest => "list newest 51 (/jobs)",
            StoreCall::ListFailed => "list state=failed newest 51",
            StoreCall::ListAfter => "list newest 51 after the middle",
            StoreCall::Get => "get one job (job detail)",
        }
    }

    /// Makes the call; how many rows or jobs it answered.
    async fn run(self, queue: &Queue, seeded: &Seeded) -> u64 {
        let page = JobFilter::all().newest_first().limit(51);
        let failed = JobFilter::all().state(JobState::Failed);
        let listed = |jobs: Vec<JobRecord>| u64::try_from(jobs.len()).unwrap_or(u64::MAX);
        let answered = match self {
            StoreCall::QueueStats => queue
                .queue_stats()
                .await
                .map(|stats| u64::try_from(stats.len()).unwrap_or(u64::MAX)),
            StoreCall::CountAll => queue.count(&JobFilter::all()).await,
            StoreCall::CountFailed => queue.count(&failed).await,
            StoreCall::ListNewest => queue.list(&page).await.map(listed),
            StoreCall::ListFailed => queue
                .list(&failed.newest_first().limit(51))
                .await
                .map(listed),
            StoreCall::ListAfter => queue.list(&page.after(seeded.middle)).await.map(listed),
            StoreCall::Get => queue
                .get(seeded.failed)
                .await
                .map(|job| u64::from(job.is_some())),
        };
        answered.expect("the store answers")
    }
}

/// Enqueues `n` jobs in batches, then finishes a few percent of them: completed,
/// failed (with an error) and cancelled.
async fn seed(queue: &Queue, n: usize) -> Seeded {
    let store = queue.store();
    let now = queue.clock().now();
    let later = now + Duration::from_secs(3600);
    let mut middle = None;
    let mut enqueued = 0;
    while enqueued < n {
        let size = ENQUEUE_BATCH.min(n - enqueued);
        let jobs: Vec<NewJob> = (enqueued..enqueued + size)
            .map(|i| new_job(i, now, later))
            .collect();
        let half = n / 2;
        let ids = store
            .enqueue_many(jobs, now)
            .await
            .expect("the batch is stored");
        if (enqueued..enqueued + size).contains(&half) {
            middle = Some(ids[half - enqueued].job.id);
        }
        enqueued += size;
    }

    // 4% completed, 1% failed, 1% of the reports cancelled: a handful of store calls
    // each, so seeding stays a matter of seconds per 100,000 jobs.
    finish(store, n / 25, Finish::Complete, now).await;
    let failed = finish(store, n / 100, Finish::Fail, now).await;
    let cancel = JobFilter::all().queue("reports").limit(n / 100);
    store
        .cancel_jobs(&cancel, now)
        .await
        .expect("the cancel is stored");
    Seeded {
        middle: middle.expect("at least one job was enqueued"),
        failed: failed.or(middle).expect("at least one job was enqueued"),
    }
}

/// The `i`th job: its queue, kind and tags vary with `i`; one in fifty is due later.
fn new_job(i: usize, now: OffsetDateTime, later: OffsetDateTime) -> NewJob {
    let payload = json!({ "n": i, "to": format!("user{i}@example.com"), "template": "welcome" });
    let run_at = if i.is_multiple_of(50) { later } else { now };
    let mut tags = vec!["bench".to_owned()];
    if i.is_multiple_of(10) {
        tags.push("vip".to_owned());
    }
    NewJob::new(KINDS[i % KINDS.len()], payload, run_at)
        .and_then(|job| job.queue(QUEUES[(i / 3) % QUEUES.len()]))
        .and_then(|job| job.tags(tags))
        .expect("a valid job")
}

#[derive(Clone, Copy)]
enum Finish {
    Complete,
    Fail,
}

/// Claims `n` due jobs, [`CLAIM_BATCH`] at a time, and completes or fails each
/// (concurrently, so the store commits them in groups); returns one of them.
async fn finish(
    store: &Arc<dyn JobStore>,
    n: usize,
    how: Finish,
    now: OffsetDateTime,
) -> Option<JobId> {
    let queues: Vec<String> = QUEUES.iter().map(|q| (*q).to_owned()).collect();
    let lease_until = now + Duration::from_secs(600);
    let mut last = None;
    let mut done = 0;
    while done < n {
        let request = ClaimRequest::new("bench", &queues, CLAIM_BATCH.min(n - done), lease_until);
        let claimed: Vec<JobRecord> = store.claim(request, now).await.expect("the claim succeeds");
        if claimed.is_empty() {
            break;
        }
        done += claimed.len();
        last = claimed.last().map(|job| job.id);
        let mut writes = JoinSet::new();
        for job in claimed {
            let store = Arc::clone(store);
            writes.spawn(async move {
                match how {
                    Finish::Complete => {
                        let output = json!({ "sent": true });
                        store.complete_with_output(job.lease(), &output, now).await
                    }
                    Finish::Fail => {
                        let error = format!("smtp.example.com refused job {}: 550", job.id);
                        store.fail(job.lease(), &error, now).await
                    }
                }
            });
        }
        while let Some(write) = writes.join_next().await {
            write
                .expect("the write task ends")
                .expect("the write is stored");
        }
    }
    last
}

/// `samples` render times of `path` (after one warm-up) and the size of its page.
async fn render_times(app: &Router, path: &str, samples: usize) -> (Vec<Duration>, usize) {
    let mut bytes = get(app, path).await;
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        bytes = get(app, path).await;
        times.push(started.elapsed());
    }
    (times, bytes)
}

/// `GET path`, read to the end; its body's size.
async fn get(app: &Router, path: &str) -> usize {
    let request = Request::get(path).body(Body::empty()).expect("a request");
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body reads")
        .to_bytes();
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&body)
    );
    body.len()
}

/// The `numerator/denominator` quantile of `times` (nearest rank), which it sorts.
fn quantile(times: &mut [Duration], numerator: usize, denominator: usize) -> Duration {
    times.sort_unstable();
    let rank = (times.len() * numerator).div_ceil(denominator).max(1);
    times[rank - 1]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn rate(jobs: usize, elapsed: Duration) -> f64 {
    as_f64(jobs) / elapsed.as_secs_f64()
}

/// `n` as a float, for display (exact up to `u32::MAX`, which a bench stays under).
fn as_f64(n: usize) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The database file and its WAL, in bytes.
fn database_bytes(dir: &std::path::Path) -> f64 {
    ["jobs.db", "jobs.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(dir.join(name)).ok())
        .map(|meta| {
            let len = meta.len();
            f64::from(u32::try_from(len / 1024).unwrap_or(u32::MAX)) * 1024.0
        })
        .sum()
}
