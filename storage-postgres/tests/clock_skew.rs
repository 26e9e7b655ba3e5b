//! Two hosts whose clocks disagree, one PostgreSQL schema: host A's clock is 10 s
//! ahead, leases last 5 s, jobs take 3 s. Each host has its own `PostgresStore` (its
//! own pool), as two machines would.
//!
//! On the store's `ServerClock` (what `Queue::new` reads), every job starts once. The
//! control runs the same setup with host A's workers reading host A's own clock: A
//! sees B's live leases as expired and takes over jobs B is running, so jobs start
//! twice. The server clock is what makes the difference.
//!
//! Handlers append every start (worker, job, attempt) to one log.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{Clock, Job, JobFilter, JobId, JobState, JobStore, Queue, SystemClock};
use leasehold_postgres::PostgresStore;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use support::{Schemas, options, spawn_run, test_schema, test_url};

/// How far host A's clock is ahead of the true time (and of host B's).
const AHEAD: Duration = Duration::from_secs(10);
const LEASE: Duration = Duration::from_secs(5);
/// How long each job runs: shorter than the lease, far shorter than the skew.
const RUNS: Duration = Duration::from_secs(3);
const JOBS: usize = 6;
/// Jobs each worker runs at once.
const CONCURRENCY: usize = 2;
/// Far longer than any step takes; a guard so a broken test fails, not hangs.
const PATIENCE: Duration = Duration::from_secs(25);

/// Host A's wall clock: the system clock plus [`AHEAD`].
#[derive(Debug)]
struct Ahead;

impl Clock for Ahead {
    fn now(&self) -> leasehold::time::OffsetDateTime {
        SystemClock.now() + AHEAD
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Slow {
    n: usize,
}
impl Job for Slow {
    const KIND: &'static str = "slow";
}

/// Every start of every job: which worker, which job, which attempt.
type Starts = Arc<Mutex<Vec<(&'static str, JobId, u32)>>>;

async fn run_slow(starts: Starts, worker: &'static str, ctx: JobContext) -> Result<(), JobError> {
    starts
        .lock()
        .unwrap()
        .push((worker, ctx.id(), ctx.attempt()));
    tokio::time::sleep(RUNS).await;
    Ok(())
}

fn worker(queue: &Queue, id: &'static str, starts: &Starts) -> Worker {
    let starts = Arc::clone(starts);
    Worker::builder(queue)
        .id(id)
        .queue("default", CONCURRENCY)
        // Claiming only for free slots: B must leave jobs for A to arrive at, so that
        // A meets B's live leases rather than an empty queue.
        .claim_ahead(0)
        .lease_duration(LEASE)
        .poll_interval(Duration::from_millis(100))
        .max_poll_interval(Duration::from_millis(200))
        .shutdown_grace(Duration::from_secs(5))
        .handler(move |_: Slow, ctx| run_slow(Arc::clone(&starts), id, ctx))
        .build()
        .expect("a valid worker")
}

/// Which clock host A's workers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostAReads {
    /// What `Queue::new` reads: the store's `ServerClock`.
    TheServerClock,
    /// Host A's own (skewed) clock: the control.
    ItsOwnClock,
}

/// What one run did.
struct Run {
    /// Each job's starts, in order: (worker, attempt).
    starts: BTreeMap<JobId, Vec<(&'static str, u32)>>,
    completed: u64,
    /// Host A's and host B's measured skews, in milliseconds.
    skews_ms: (i128, i128),
}

async fn run(url: &str, host_a_reads: HostAReads) -> Run {
    let schemas = Schemas::new(url);
    let schema = schemas.fresh();
    let store_b = PostgresStore::connect_with(options(url, &schema))
        .await
        .expect("host B's store opens");
    let store_a = PostgresStore::connect_with(options(url, &schema).host_clock(Arc::new(Ahead)))
        .await
        .expect("host A's store opens");
    let skews_ms = (
        store_a
            .server_clock()
            .expect("on")
            .skew()
            .whole_milliseconds(),
        store_b
            .server_clock()
            .expect("on")
            .skew()
            .whole_milliseconds(),
    );
    let queue_b = Queue::new(Arc::new(store_b.clone()) as Arc<dyn JobStore>);
    let store_a: Arc<dyn JobStore> = Arc::new(store_a);
    let queue_a = match host_a_reads {
        HostAReads::TheServerClock => Queue::new(store_a),
        HostAReads::ItsOwnClock => Queue::with_clock(store_a, Arc::new(Ahead)),
    };
    for n in 0..JOBS {
        queue_b.enqueue(&Slow { n }).await.expect("enqueued");
    }
    let starts = Starts::default();
    let b = worker(&queue_b, "B", &starts);
    let a = worker(&queue_a, "A", &starts);

    // B first, so that A arrives while B runs jobs under live leases.
    let running_b = spawn_run(&b);
    tokio::time::timeout(PATIENCE, async {
        while starts.lock().unwrap().len() < CONCURRENCY {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("B starts its first jobs");
    let running_a = spawn_run(&a);
    let completed_filter = JobFilter::all().state(JobState::Completed);
    let all_done = tokio::time::timeout(PATIENCE, async {
        loop {
            let jobs = store_b
                .list(&JobFilter::all(), SystemClock.now())
                .await
                .expect("B lists the jobs");
            if jobs.iter().all(|job| job.state.is_terminal()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
    running_a.await.expect("A's run ends");
    running_b.await.expect("B's run ends");
    assert!(all_done.is_ok(), "every job ends within {PATIENCE:?}");
    let completed = store_b
        .count(&completed_filter, SystemClock.now())
        .await
        .expect("B counts the jobs");

    let mut per_job: BTreeMap<JobId, Vec<(&'static str, u32)>> = BTreeMap::new();
    for &(worker, id, attempt) in starts.lock().unwrap().iter() {
        per_job.entry(id).or_default().push((worker, attempt));
    }
    Run {
        starts: per_job,
        completed,
        skews_ms,
    }
}

fn report(how: &str, run: &Run) {
    let starts: Vec<String> = run
        .starts
        .values()
        .map(|s| {
            s.iter()
                .map(|(w, attempt)| format!("{w}#{attempt}"))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    eprintln!(
        "{how}: measured skew host A {} ms, host B {} ms; starts per job {starts:?}; \
         {} of {JOBS} completed",
        run.skews_ms.0, run.skews_ms.1, run.completed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_server_clock_a_host_whose_clock_is_ahead_never_starts_a_running_job() {
    let Some(url) = test_url() else { return };

    let run = run(&url, HostAReads::TheServerClock).await;

    report("on the server clock", &run);
    assert!(
        (run.skews_ms.0 + 10_000).abs() < 500,
        "host A's clock is measured 10 s ahead of the server's: {} ms",
        run.skews_ms.0
    );
    assert!(
        run.skews_ms.1.abs() < 500,
        "host B's clock agrees with the server's: {} ms",
        run.skews_ms.1
    );
    assert_eq!(run.starts.len(), JOBS, "every job started");
    for (job, starts) in &run.starts {
        assert_eq!(starts.len(), 1, "job {job} started once: {starts:?}");
    }
    assert_eq!(run.completed, u64::try_from(JOBS).unwrap());
    let by_a = run
        .starts
        .values()
        .filter(|starts| starts[0].0 == "A")
        .count();
    assert!(
        by_a > 0 && by_a < JOBS,
        "both hosts ran jobs (A ran {by_a} of {JOBS})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_its_own_clock_a_host_whose_clock_is_ahead_starts_jobs_another_host_is_running() {
    let Some(url) = test_url() else { return };

    let run = run(&url, HostAReads::ItsOwnClock).await;

    report("on host A's own clock (the control)", &run);
    let twice: Vec<&Vec<(&str, u32)>> = run.starts.values().filter(|s| s.len() > 1).collect();
    assert!(
        !twice.is_empty(),
        "host A took over jobs B was running under live leases: {:?}",
        run.starts
    );
    for starts in twice {
        assert_eq!(
            starts[..2].iter().map(|(w, _)| *w).collect::<Vec<_>>(),
            ["B", "A"],
            "B started the job, then A started it again: {starts:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_clock_reads_the_servers_time_and_is_what_a_queue_reads() {
    let Some(db) = test_schema() else { return };
    let store = db
        .open_with(|options| {
            options
                .host_clock(Arc::new(Ahead))
                .clock_sample_interval(Duration::from_millis(100))
        })
        .await;
    let mut conn = db.connection().await;
    let queue = Queue::new(Arc::new(store.clone()) as Arc<dyn JobStore>);
    let clock = store.server_clock().expect("on by default").clone();

    let mut worst_ms = 0_i128;
    let mut last = clock.now();
    // Long enough for several samples at 100 ms.
    for _ in 0..20 {
        let before = clock.now();
        let server: i64 =
            sqlx::query_scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
                .fetch_one(&mut conn)
                .await
                .expect("the server's time");
        let after = clock.now();
        let server = leasehold::time::from_unix_micros(server).expect("a time");
        // The server's reading lies between the two readings of the clock, give or
        // take the clock's error.
        let off = if server < before {
            (before - server).whole_milliseconds()
        } else if server > after {
            (server - after).whole_milliseconds()
        } else {
            0
        };
        worst_ms = worst_ms.max(off);
        assert!(before >= last && after >= before, "never backwards");
        last = after;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queue_now = queue.clock().now();
    let host_now = Ahead.now();

    eprintln!(
        "the server clock was at most {worst_ms} ms off the server's readings; skew {} ms, \
         round trip {:?}",
        clock.skew().whole_milliseconds(),
        clock.round_trip()
    );
    assert!(
        worst_ms < 50,
        "the clock follows the server: {worst_ms} ms off"
    );
    assert!(
        (host_now - queue_now).whole_milliseconds() > 9_000,
        "Queue::new reads the server clock, not host A's clock"
    );
    assert!(
        db.open_with(|options| options.server_clock(false))
            .await
            .clock()
            .is_none(),
        "server_clock(false) offers no clock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_stops_its_tasks_and_closes_its_connections() {
    let Some(db) = test_schema() else { return };
    let name = format!("{}_drop", db.schema);
    let store = db
        .open_with(|options| {
            options
                .application_name(&name)
                .clock_sample_interval(Duration::from_millis(100))
        })
        .await;
    let clock = store.server_clock().expect("on").clone();
    let mut conn = db.connection().await;
    let connections = async |conn: &mut PgConnection| -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(&name)
            .fetch_one(conn)
            .await
            .expect("pg_stat_activity")
    };
    // Let the sampler run a few times.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let while_open = connections(&mut conn).await;

    drop(store);
    let mut left = while_open;
    for _ in 0..100 {
        left = connections(&mut conn).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = clock.now();
    tokio::time::sleep(Duration::from_millis(20)).await;

    assert!(while_open >= 1, "the store had connections open");
    assert_eq!(
        left, 0,
        "no task kept the pool (and its connections) alive after the store was dropped"
    );
    assert!(
        clock.now() > before,
        "a clock that outlives its store runs on from its last sample"
    );
}
