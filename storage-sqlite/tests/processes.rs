//! Several OS processes on one database file: each runs this test binary again (see
//! `child_process_entry`) as a worker with its own `SqliteStore`.
//!
//! Every run of a job is logged in a `runs` table of the same database (start before
//! the handler would run, end after `complete` answered), so the parent can check that
//! every job completed exactly once and that no two runs of a job overlapped, even
//! when a worker is SIGKILLed while holding leases.

use std::process::Stdio;
use std::time::Duration;

use leasehold::testing::conformance::t;
use leasehold::testing::processes::{RunEvent, runs_per_job, wait_for_marker, wait_success};
use leasehold::{JobFilter, JobId, JobRecord, JobState, JobStore, Lease, NewJob, StoreError};
use leasehold_sqlite::SqliteStore;
use sqlx::{Connection, Row, SqliteConnection};
use tokio::process::{Child, Command};

const QUEUE: &str = "multiprocess";
/// The child's role: `work` (claim and complete until nothing is left) or `hang`
/// (claim, report, then wait to be killed).
const ROLE: &str = "LEASEHOLD_SQLITE_CHILD_ROLE";
const DB: &str = "LEASEHOLD_SQLITE_CHILD_DB";
/// The store time the child works at, in seconds after 2000-01-01.
const NOW: &str = "LEASEHOLD_SQLITE_CHILD_NOW";
/// How long the child's leases last, in seconds.
const LEASE: &str = "LEASEHOLD_SQLITE_CHILD_LEASE";
/// How many jobs a `hang` child claims.
const CLAIM: &str = "LEASEHOLD_SQLITE_CHILD_CLAIM";
const CLAIMED_MARKER: &str = "LEASEHOLD-CHILD-CLAIMED";
/// A file a `work` child waits for, after it reported ready, before it starts.
const GATE: &str = "LEASEHOLD_SQLITE_CHILD_GATE";
const READY_MARKER: &str = "LEASEHOLD-CHILD-READY";

/// Never ends: a bound for every wait on a child, so a broken test fails, not hangs.
const CHILD_TIMEOUT: Duration = Duration::from_secs(240);

fn env_i64(name: &str) -> i64 {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is set"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is a number"))
}

fn blob(id: JobId) -> Vec<u8> {
    id.as_uuid().as_bytes().to_vec()
}

/// Not a test of its own: the entry point of a child process, a no-op otherwise.
#[test]
fn child_process_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(child(&role));
}

async fn child(role: &str) {
    let url = std::env::var(DB).expect("the database URL is set");
    let store = SqliteStore::connect(&url)
        .await
        .expect("the child opens the store");
    let mut log = SqliteConnection::connect(&url)
        .await
        .expect("the run log opens");
    let now = t(env_i64(NOW));
    let lease_until = now + leasehold::time::Duration::seconds(env_i64(LEASE));
    let worker = format!("process-{}", std::process::id());
    let queues = [QUEUE.to_owned()];
    match role {
        "hang" => {
            let limit = usize::try_from(env_i64(CLAIM)).expect("a claim size");
            let jobs = store
                .claim(&queues, limit, &worker, now, lease_until)
                .await
                .expect("the claim succeeds");
            log_runs(&mut log, &jobs, &worker, "start", now).await;
            println!("{CLAIMED_MARKER} {}", jobs.len());
            // Holds the leases until the parent kills this process (bounded anyway).
            std::thread::sleep(CHILD_TIMEOUT);
        }
        "work" => {
            if let Ok(gate) = std::env::var(GATE) {
                println!("{READY_MARKER}");
                let opened = tokio::time::timeout(CHILD_TIMEOUT, async {
                    while !std::path::Path::new(&gate).exists() {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                });
                opened.await.expect("the parent opens the gate");
            }
            // Two claim loops per process, so completions of one process also meet in
            // group commits.
            let loops = (0..2).map(|_| work(&store, &url, &worker, now, lease_until));
            futures::future::join_all(loops).await;
        }
        other => panic!("unknown child role {other}"),
    }
}

async fn work(
    store: &SqliteStore,
    url: &str,
    worker: &str,
    now: leasehold::time::OffsetDateTime,
    lease_until: leasehold::time::OffsetDateTime,
) {
    let mut log = SqliteConnection::connect(url)
        .await
        .expect("the run log opens");
    let queues = [QUEUE.to_owned()];
    loop {
        let jobs = store
            .claim(&queues, 8, worker, now, lease_until)
            .await
            .expect("the claim succeeds");
        if jobs.is_empty() {
            // Every job is finished or leased to a live worker that will finish it.
            return;
        }
        log_runs(&mut log, &jobs, worker, "start", now).await;
        let completions = jobs.iter().map(|job| store.complete(job.lease(), now));
        for outcome in futures::future::join_all(completions).await {
            outcome.expect("a live lease completes");
        }
        log_runs(&mut log, &jobs, worker, "end", now).await;
    }
}

async fn log_runs(
    log: &mut SqliteConnection,
    jobs: &[JobRecord],
    worker: &str,
    event: &str,
    now: leasehold::time::OffsetDateTime,
) {
    let mut tx = log
        .begin_with("BEGIN IMMEDIATE")
        .await
        .expect("the run log is writable");
    for job in jobs {
        sqlx::query("INSERT INTO runs (job_id, process, event, at) VALUES (?1, ?2, ?3, ?4)")
            .bind(blob(job.id))
            .bind(worker)
            .bind(event)
            .bind(leasehold::clock::to_unix_micros(now))
            .execute(&mut *tx)
            .await
            .expect("a run is logged");
    }
    tx.commit().await.expect("the run log commits");
}

/// A database with the run log and `jobs` jobs in the queue, and the store over it.
async fn setup(dir: &tempfile::TempDir, jobs: usize) -> (String, SqliteStore) {
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id BLOB NOT NULL, \
         process TEXT NOT NULL, event TEXT NOT NULL, at INTEGER NOT NULL)",
    )
    .execute(store.read_pool())
    .await
    .unwrap();
    let new_jobs: Vec<NewJob> = (0..jobs)
        .map(|n| {
            NewJob::new("mp", serde_json::json!({ "n": n }), t(0))
                .and_then(|job| job.queue(QUEUE))
                .unwrap()
        })
        .collect();
    for chunk in new_jobs.chunks(500) {
        store.enqueue_many(chunk.to_vec(), t(0)).await.unwrap();
    }
    (url, store)
}

fn spawn_child(url: &str, role: &str, now: i64, lease: i64, claim: usize) -> Child {
    let mut command = child_command(url, role, now, lease, claim);
    command.spawn().expect("the child process starts")
}

fn child_command(url: &str, role: &str, now: i64, lease: i64, claim: usize) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(DB, url)
        .env(NOW, now.to_string())
        .env(LEASE, lease.to_string())
        .env(CLAIM, claim.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command
}

async fn run_log(store: &SqliteStore) -> Vec<RunEvent<Vec<u8>>> {
    sqlx::query("SELECT job_id, process, event, at FROM runs ORDER BY seq")
        .fetch_all(store.read_pool())
        .await
        .unwrap()
        .iter()
        .map(|row| RunEvent {
            job: row.get("job_id"),
            process: row.get("process"),
            event: row.get("event"),
            at: row.get("at"),
        })
        .collect()
}

async fn count(store: &SqliteStore, state: JobState, now: leasehold::time::OffsetDateTime) -> u64 {
    store
        .count(&JobFilter::all().queue(QUEUE).state(state), now)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_processes_complete_every_job_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = 3000;
    let (url, store) = setup(&dir, jobs).await;

    let mut children: Vec<Child> = (0..3)
        .map(|_| spawn_child(&url, "work", 0, 3600, 0))
        .collect();
    for child in &mut children {
        wait_success(child, CHILD_TIMEOUT).await;
    }

    let log = run_log(&store).await;
    let runs = runs_per_job(&log);
    assert_eq!(count(&store, JobState::Completed, t(0)).await, 3000);
    assert_eq!(store.count(&JobFilter::all(), t(0)).await.unwrap(), 3000);
    assert_eq!(runs.len(), jobs, "every job ran");
    assert!(
        runs.values().all(|r| r.len() == 1 && r[0].ended),
        "every job ran exactly once, start to end"
    );
    let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE attempt != 1")
        .fetch_one(store.read_pool())
        .await
        .unwrap();
    assert_eq!(attempts, 0, "no job was claimed twice");
    let processes: i64 = sqlx::query_scalar("SELECT count(DISTINCT process) FROM runs")
        .fetch_one(store.read_pool())
        .await
        .unwrap();
    assert!(
        processes >= 2,
        "the processes shared the work ({processes} did any)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_processs_leases_are_taken_over_after_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = setup(&dir, 200).await;
    let mut doomed = spawn_child(&url, "hang", 0, 60, 50);
    let claimed: usize = wait_for_marker(&mut doomed, CLAIMED_MARKER, CHILD_TIMEOUT)
        .await
        .parse()
        .expect("a count");

    doomed.start_kill().expect("SIGKILL is sent");
    let status = doomed.wait().await.unwrap();
    let held: Vec<Lease> = store
        .list(
            &JobFilter::all().queue(QUEUE).state(JobState::Running),
            t(0),
        )
        .await
        .unwrap()
        .iter()
        .map(JobRecord::lease)
        .collect();
    assert_eq!(claimed, 50);
    assert!(!status.success(), "the child was killed");
    assert_eq!(held.len(), 50, "the dead process's leases are still held");

    // Before the leases expire (t(30) < t(60)): only the free jobs are taken.
    wait_success(&mut spawn_child(&url, "work", 30, 3600, 0), CHILD_TIMEOUT).await;
    assert_eq!(count(&store, JobState::Completed, t(30)).await, 150);
    assert_eq!(count(&store, JobState::Running, t(30)).await, 50);

    // After they expire: another process takes the dead one's jobs over.
    wait_success(&mut spawn_child(&url, "work", 120, 3600, 0), CHILD_TIMEOUT).await;

    assert_eq!(count(&store, JobState::Completed, t(120)).await, 200);
    let log = run_log(&store).await;
    let runs = runs_per_job(&log);
    let held_ids: Vec<Vec<u8>> = held.iter().map(|l| blob(l.job_id)).collect();
    for (job, job_runs) in &runs {
        let ended: Vec<_> = job_runs.iter().filter(|r| r.ended).collect();
        assert_eq!(ended.len(), 1, "every job completed exactly once");
        if held_ids.contains(job) {
            assert_eq!(job_runs.len(), 2, "the killed run, then the takeover");
            assert!(!job_runs[0].ended, "the killed run never ended");
            let expiry = leasehold::clock::to_unix_micros(t(60));
            assert!(
                job_runs[1].started >= expiry,
                "the takeover started after the lease expired"
            );
        } else {
            assert_eq!(job_runs.len(), 1);
        }
    }
    assert_eq!(runs.len(), 200, "no job was lost");
    for lease in held {
        let job = store.get(lease.job_id, t(120)).await.unwrap().unwrap();
        assert_eq!(job.attempt, 2, "the dead process's attempt counts");
        assert!(
            matches!(
                store.complete(lease, t(120)).await,
                Err(StoreError::LeaseLost(_))
            ),
            "the dead process's lease never completes the job again"
        );
    }
}
