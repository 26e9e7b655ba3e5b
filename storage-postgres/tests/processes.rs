//! Several OS processes on one schema: each runs this test binary again (see
//! `child_process_entry`) as a worker with its own `PostgresStore` (its own pool).
//!
//! Every run of a job is logged in a `runs` table of the same schema (start before
//! the handler would run, end after `complete` answered), so the parent can check
//! that every job completed exactly once and that no two runs of a job overlapped,
//! even when a worker is SIGKILLed while holding leases.

mod support;

use std::process::Stdio;
use std::time::Duration;

use leasehold::testing::conformance::t;
use leasehold::testing::processes::{RunEvent, runs_per_job, wait_for_marker, wait_success};
use leasehold::{JobFilter, JobRecord, JobState, JobStore, Lease, NewJob, StoreError};
use leasehold_postgres::PostgresStore;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};
use support::{Schemas, options, test_url};
use tokio::process::{Child, Command};
use uuid::Uuid;

const QUEUE: &str = "multiprocess";
/// The child's role: `work` (claim and complete until nothing is left) or `hang`
/// (claim, report, then wait to be killed).
const ROLE: &str = "LEASEHOLD_POSTGRES_CHILD_ROLE";
const SCHEMA: &str = "LEASEHOLD_POSTGRES_CHILD_SCHEMA";
/// The store time the child works at, in seconds after 2000-01-01.
const NOW: &str = "LEASEHOLD_POSTGRES_CHILD_NOW";
/// How long the child's leases last, in seconds.
const LEASE: &str = "LEASEHOLD_POSTGRES_CHILD_LEASE";
/// How many jobs a `hang` child claims.
const CLAIM: &str = "LEASEHOLD_POSTGRES_CHILD_CLAIM";
const CLAIMED_MARKER: &str = "LEASEHOLD-CHILD-CLAIMED";

/// A bound for every wait on a child, so a broken test fails, not hangs.
const CHILD_TIMEOUT: Duration = Duration::from_secs(240);

fn env_i64(name: &str) -> i64 {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is set"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is a number"))
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
    let url = std::env::var(support::URL_VAR).expect("the server URL is passed on");
    let schema = std::env::var(SCHEMA).expect("the schema is set");
    let store = PostgresStore::connect_with(options(&url, &schema))
        .await
        .expect("the child opens the store");
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
            let mut log = PgConnection::connect(&url)
                .await
                .expect("the run log opens");
            log_runs(&mut log, &schema, &jobs, &worker, "start", now).await;
            println!("{CLAIMED_MARKER} {}", jobs.len());
            // Holds the leases until the parent kills this process (bounded anyway).
            std::thread::sleep(CHILD_TIMEOUT);
        }
        "work" => {
            // Two claim loops per process: claims race inside a process as well.
            let loops = (0..2).map(|_| work(&store, &url, &schema, &worker, now, lease_until));
            futures::future::join_all(loops).await;
        }
        other => panic!("unknown child role {other}"),
    }
}

async fn work(
    store: &PostgresStore,
    url: &str,
    schema: &str,
    worker: &str,
    now: leasehold::time::OffsetDateTime,
    lease_until: leasehold::time::OffsetDateTime,
) {
    let mut log = PgConnection::connect(url).await.expect("the run log opens");
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
        log_runs(&mut log, schema, &jobs, worker, "start", now).await;
        let completions = jobs.iter().map(|job| store.complete(job.lease(), now));
        for outcome in futures::future::join_all(completions).await {
            outcome.expect("a live lease completes");
        }
        log_runs(&mut log, schema, &jobs, worker, "end", now).await;
    }
}

async fn log_runs(
    log: &mut PgConnection,
    schema: &str,
    jobs: &[JobRecord],
    worker: &str,
    event: &str,
    now: leasehold::time::OffsetDateTime,
) {
    let ids: Vec<Uuid> = jobs.iter().map(|job| *job.id.as_uuid()).collect();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO \"{schema}\".runs (job_id, process, event, at) \
         SELECT id, $2, $3, $4 FROM UNNEST($1::uuid[]) AS ids (id)"
    )))
    .bind(ids)
    .bind(worker)
    .bind(event)
    .bind(leasehold::clock::to_unix_micros(now))
    .execute(log)
    .await
    .expect("the runs are logged");
}

/// A schema with the run log and `jobs` jobs in the queue, and the store over it.
async fn setup(schemas: &Schemas, jobs: usize) -> (String, PostgresStore) {
    let schema = schemas.fresh();
    let store = PostgresStore::connect_with(options(schemas.url(), &schema))
        .await
        .unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE \"{schema}\".runs (seq BIGSERIAL PRIMARY KEY, job_id UUID NOT NULL, \
         process TEXT NOT NULL, event TEXT NOT NULL, at BIGINT NOT NULL)"
    )))
    .execute(store.pool())
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
    (schema, store)
}

fn spawn_child(url: &str, schema: &str, role: &str, now: i64, lease: i64, claim: usize) -> Child {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(support::URL_VAR, url)
        .env(SCHEMA, schema)
        .env(NOW, now.to_string())
        .env(LEASE, lease.to_string())
        .env(CLAIM, claim.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command.spawn().expect("the child process starts")
}

async fn run_log(store: &PostgresStore) -> Vec<RunEvent<Uuid>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT job_id, process, event, at FROM \"{}\".runs ORDER BY seq",
        store.schema()
    )))
    .fetch_all(store.pool())
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

async fn count(
    store: &PostgresStore,
    state: JobState,
    now: leasehold::time::OffsetDateTime,
) -> u64 {
    store
        .count(&JobFilter::all().queue(QUEUE).state(state), now)
        .await
        .unwrap()
}

async fn scalar(store: &PostgresStore, sql: &str) -> i64 {
    let sql = sql.replace("{schema}", &format!("\"{}\"", store.schema()));
    sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_processes_complete_every_job_exactly_once() {
    let Some(url) = test_url() else { return };
    let schemas = Schemas::new(&url);
    let jobs = 4000;
    let (schema, store) = setup(&schemas, jobs).await;

    let mut children: Vec<Child> = (0..4)
        .map(|_| spawn_child(&url, &schema, "work", 0, 3600, 0))
        .collect();
    for child in &mut children {
        wait_success(child, CHILD_TIMEOUT).await;
    }

    let log = run_log(&store).await;
    let runs = runs_per_job(&log);
    assert_eq!(count(&store, JobState::Completed, t(0)).await, 4000);
    assert_eq!(store.count(&JobFilter::all(), t(0)).await.unwrap(), 4000);
    assert_eq!(runs.len(), jobs, "every job ran");
    assert!(
        runs.values().all(|r| r.len() == 1 && r[0].ended),
        "every job ran exactly once, start to end: no overlapping runs"
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM {schema}.jobs WHERE attempt <> 1 OR lease_token <> 1"
        )
        .await,
        0,
        "no job was claimed twice"
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM {schema}.jobs WHERE state = 'completed'"
        )
        .await,
        4000
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM {schema}.runs WHERE event = 'end'"
        )
        .await,
        4000,
        "4000 completions, no more"
    );
    let processes = scalar(&store, "SELECT count(DISTINCT process) FROM {schema}.runs").await;
    assert!(
        processes >= 2,
        "the processes shared the work ({processes} did any)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_processs_leases_are_taken_over_after_they_expire() {
    let Some(url) = test_url() else { return };
    let schemas = Schemas::new(&url);
    let (schema, store) = setup(&schemas, 200).await;
    let mut doomed = spawn_child(&url, &schema, "hang", 0, 60, 50);
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
    wait_success(
        &mut spawn_child(&url, &schema, "work", 30, 3600, 0),
        CHILD_TIMEOUT,
    )
    .await;
    assert_eq!(count(&store, JobState::Completed, t(30)).await, 150);
    assert_eq!(count(&store, JobState::Running, t(30)).await, 50);

    // After they expire: another process takes the dead one's jobs over.
    wait_success(
        &mut spawn_child(&url, &schema, "work", 120, 3600, 0),
        CHILD_TIMEOUT,
    )
    .await;

    assert_eq!(count(&store, JobState::Completed, t(120)).await, 200);
    let log = run_log(&store).await;
    let runs = runs_per_job(&log);
    let held_ids: Vec<Uuid> = held.iter().map(|l| *l.job_id.as_uuid()).collect();
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
