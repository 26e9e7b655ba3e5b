//! The multi-process scenarios: several OS processes on one database, a worker
//! SIGKILLed while it holds leases, a queue paused from another process, and retention
//! run by two processes at once, batches whose callbacks several processes race to
//! release, written
//! once for every store that several
//! processes can share.
//!
//! - [`ProcessBackend`]: what a store's test file supplies: a fresh database, how a
//!   child opens the store on it, and a run log table (the only SQL that differs by
//!   dialect, behind [`RunLog`]).
//! - One `pub async fn` per scenario, named as the property it checks, and
//!   [`process_suite!`](crate::process_suite) to expand them into tests.
//!
//! Each scenario runs the test binary again as child processes (the test
//! `child_process_entry`, which the macro also defines) that claim and complete jobs
//! and log every run in the run log: start before the handler would run, end after
//! `complete` answered. From that log the parent checks that every job completed
//! exactly once and that no two runs of a job overlapped ([`runs_per_job`]).
//!
//! ```text
//! // tests/processes.rs, at the crate root of the test file:
//! leasehold::process_suite!(MyBackend);
//! ```

mod batches;
mod child;
mod limits;
mod retention;

pub use batches::batch_callbacks_in_several_processes_run_once_after_their_members;
pub use child::child_process_entry;
pub use limits::limits_hold_across_processes;
pub use retention::retention_in_two_processes_deletes_exactly_the_jobs_past_their_age;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use time::OffsetDateTime;
use tokio::process::Child;

use super::conformance::t;
use super::processes::{RunEvent, runs_per_job, wait_for_marker, wait_success};
use crate::clock::to_unix_micros;
use crate::{JobFilter, JobId, JobRecord, JobState, JobStore, Lease, NewJob, StoreError};
use child::{CHILD_TIMEOUT, CLAIMED_MARKER, spawn_child};

/// A database that several processes open at once, with a run log beside the store's
/// tables. An implementation lives in the store's `tests/processes.rs`.
#[async_trait]
pub trait ProcessBackend: Sized + Send + Sync + 'static {
    /// Worker processes in [`several_processes_complete_every_job_exactly_once`].
    const PROCESSES: usize = 3;
    /// Jobs in [`several_processes_complete_every_job_exactly_once`].
    const JOBS: usize = 3000;

    /// How a child appends to the run log.
    type Log: RunLog;

    /// A fresh database holding the store's tables and an empty run log table, removed
    /// when the value is dropped; `None` skips the scenario (after saying why).
    async fn create() -> Option<Self>;

    /// What a child needs to find this database: the `location` of [`Self::open`] and
    /// [`Self::open_log`]. Children inherit the parent's environment besides.
    fn location(&self) -> String;

    /// Opens the store on the database at `location`, in the parent or a child.
    async fn open(location: &str) -> Arc<dyn JobStore>;

    /// Opens the run log of the database at `location`, on a connection of its own.
    async fn open_log(location: &str) -> Self::Log;

    /// Every event of the run log, in the order they were appended.
    async fn read_log(&self) -> Vec<RunEvent<JobId>>;
}

/// A connection that appends to the run log.
#[async_trait]
pub trait RunLog: Send {
    /// Appends, in one transaction, a [`RunEvent`] for each of `jobs`: `process` ran
    /// `event` (`"start"` or `"end"`) at `at` (microseconds of store time).
    async fn append(&mut self, jobs: &[JobId], process: &str, event: &str, at: i64);
}

/// Expands to the multi-process scenarios as tests over `$backend` (a type that
/// implements [`ProcessBackend`]), and the `child_process_entry` test the children run.
/// Invoke it at the crate root of a test file: the children find their entry by its
/// exact name.
#[macro_export]
macro_rules! process_suite {
    ($backend:ty) => {
        /// Not a test of its own: the entry point of a child process, a no-op otherwise.
        #[test]
        fn child_process_entry() {
            $crate::testing::process_suite::child_process_entry::<$backend>();
        }

        $crate::__process_cases!($backend;
            several_processes_complete_every_job_exactly_once,
            a_killed_processs_leases_are_taken_over_after_they_expire,
            a_queue_paused_in_one_process_is_claimed_by_none_until_resumed,
            retention_in_two_processes_deletes_exactly_the_jobs_past_their_age,
            limits_hold_across_processes,
            batch_callbacks_in_several_processes_run_once_after_their_members,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __process_cases {
    ($backend:ty; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::testing::process_suite::block_on(
                    $crate::testing::process_suite::$case::<$backend>(),
                );
            }
        )*
    };
}

const QUEUE: &str = "multiprocess";
const START: &str = "start";
const END: &str = "end";

/// Runs `future` on a fresh multi-threaded runtime of two workers, as every scenario
/// and child does.
///
/// # Panics
///
/// When no runtime can be built.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a test runtime can be built")
        .block_on(future)
}

/// The store on `db`, with `jobs` jobs in the queue.
async fn setup<B: ProcessBackend>(db: &B, jobs: usize) -> Arc<dyn JobStore> {
    let store = B::open(&db.location()).await;
    let new_jobs: Vec<NewJob> = (0..jobs)
        .map(|n| {
            NewJob::new("mp", json!({ "n": n }), t(0))
                .and_then(|job| job.queue(QUEUE))
                .expect("the scenario's jobs are valid")
        })
        .collect();
    for chunk in new_jobs.chunks(500) {
        store
            .enqueue_many(chunk.to_vec(), t(0))
            .await
            .expect("the jobs enqueue");
    }
    store
}

/// A fresh database and the store opened on it; `None` skips the scenario, as
/// [`ProcessBackend::create`] says.
async fn create_and_open<B: ProcessBackend>() -> Option<(B, Arc<dyn JobStore>)> {
    let db = B::create().await?;
    let store = B::open(&db.location()).await;
    Some((db, store))
}

/// Runs `B::PROCESSES` children in `role` at `t(0)`, with leases of `lease` seconds,
/// and waits until each has succeeded.
async fn run_children<B: ProcessBackend>(db: &B, role: &str, lease: i64) {
    let mut children: Vec<Child> = (0..B::PROCESSES)
        .map(|_| spawn_child(db, role, 0, lease, 0))
        .collect();
    for child in &mut children {
        wait_success(child, CHILD_TIMEOUT).await;
    }
}

async fn count(store: &dyn JobStore, state: JobState, now: OffsetDateTime) -> usize {
    let count = store
        .count(&JobFilter::all().queue(QUEUE).state(state), now)
        .await
        .expect("the store counts");
    usize::try_from(count).expect("a count of this scenario's jobs fits in usize")
}

/// `B::PROCESSES` worker processes race for `B::JOBS` jobs: every job runs exactly
/// once, start to end, and no two runs of a job overlap.
///
/// # Panics
///
/// When the store breaks the property (that is the test failing).
pub async fn several_processes_complete_every_job_exactly_once<B: ProcessBackend>() {
    let Some(db) = B::create().await else { return };
    let store = setup(&db, B::JOBS).await;

    run_children(&db, "work", 3600).await;

    let log = db.read_log().await;
    let runs = runs_per_job(&log);
    let jobs = store
        .list(&JobFilter::all(), t(0))
        .await
        .expect("the store lists");
    assert_eq!(count(&*store, JobState::Completed, t(0)).await, B::JOBS);
    assert_eq!(jobs.len(), B::JOBS);
    assert!(
        jobs.iter().all(|job| job.state == JobState::Completed),
        "every job's record says completed"
    );
    assert_eq!(runs.len(), B::JOBS, "every job ran");
    assert!(
        runs.values().all(|r| r.len() == 1 && r[0].ended),
        "every job ran exactly once, start to end: no overlapping runs"
    );
    assert!(
        jobs.iter()
            .all(|job| job.attempt == 1 && job.lease_token == 1),
        "no job was claimed twice"
    );
    let ends = log.iter().filter(|event| event.event == END).count();
    assert_eq!(ends, B::JOBS, "{} completions, no more", B::JOBS);
    let processes: HashSet<&str> = log.iter().map(|event| event.process.as_str()).collect();
    assert!(
        processes.len() >= 2,
        "the processes shared the work ({} did any)",
        processes.len()
    );
}

/// A worker process SIGKILLed while it holds leases: its jobs stay leased until the
/// leases expire, then another process runs them, and the dead lease never completes a
/// job again.
///
/// # Panics
///
/// When the store breaks the property (that is the test failing).
pub async fn a_killed_processs_leases_are_taken_over_after_they_expire<B: ProcessBackend>() {
    let Some(db) = B::create().await else { return };
    let store = setup(&db, 200).await;
    let mut doomed = spawn_child(&db, "hang", 0, 60, 50);
    let claimed: usize = wait_for_marker(&mut doomed, CLAIMED_MARKER, CHILD_TIMEOUT)
        .await
        .parse()
        .expect("a count");

    doomed.start_kill().expect("SIGKILL is sent");
    let status = doomed.wait().await.expect("the child can be waited for");
    let running = JobFilter::all().queue(QUEUE).state(JobState::Running);
    let held: Vec<Lease> = store
        .list(&running, t(0))
        .await
        .expect("the store lists")
        .iter()
        .map(JobRecord::lease)
        .collect();
    assert_eq!(claimed, 50);
    assert!(!status.success(), "the child was killed");
    assert_eq!(held.len(), 50, "the dead process's leases are still held");

    // Before the leases expire (t(30) < t(60)): only the free jobs are taken.
    wait_success(&mut spawn_child(&db, "work", 30, 3600, 0), CHILD_TIMEOUT).await;
    assert_eq!(count(&*store, JobState::Completed, t(30)).await, 150);
    assert_eq!(count(&*store, JobState::Running, t(30)).await, 50);

    // After they expire: another process takes the dead one's jobs over.
    wait_success(&mut spawn_child(&db, "work", 120, 3600, 0), CHILD_TIMEOUT).await;

    assert_eq!(count(&*store, JobState::Completed, t(120)).await, 200);
    let runs = runs_per_job(&db.read_log().await);
    let held_ids: Vec<JobId> = held.iter().map(|lease| lease.job_id).collect();
    for (job, job_runs) in &runs {
        let ended = job_runs.iter().filter(|r| r.ended).count();
        assert_eq!(ended, 1, "every job completed exactly once");
        if held_ids.contains(job) {
            assert_eq!(job_runs.len(), 2, "the killed run, then the takeover");
            assert!(!job_runs[0].ended, "the killed run never ended");
            assert!(
                job_runs[1].started >= to_unix_micros(t(60)),
                "the takeover started after the lease expired"
            );
        } else {
            assert_eq!(job_runs.len(), 1);
        }
    }
    assert_eq!(runs.len(), 200, "no job was lost");
    for lease in held {
        let job = store
            .get(lease.job_id, t(120))
            .await
            .expect("the store reads")
            .expect("the job exists");
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

/// The parent process pauses the queue: `B::PROCESSES` worker processes then claim
/// none of its `B::JOBS` jobs; once the parent resumes it, processes claim them all
/// again, sharing the work, each job once.
///
/// # Panics
///
/// When the store breaks the property (that is the test failing).
pub async fn a_queue_paused_in_one_process_is_claimed_by_none_until_resumed<B: ProcessBackend>() {
    let Some(db) = B::create().await else { return };
    let store = setup(&db, B::JOBS).await;
    store
        .pause_queue(QUEUE, t(0))
        .await
        .expect("the queue pauses");
    run_children(&db, "work", 3600).await;
    assert!(db.read_log().await.is_empty(), "no process ran a job");
    assert_eq!(count(&*store, JobState::Available, t(0)).await, B::JOBS);
    assert_eq!(count(&*store, JobState::Running, t(0)).await, 0);

    store
        .resume_queue(QUEUE, t(0))
        .await
        .expect("the queue resumes");
    run_children(&db, "work", 3600).await;
    assert_eq!(count(&*store, JobState::Completed, t(0)).await, B::JOBS);
    let log = db.read_log().await;
    let runs = runs_per_job(&log);
    assert_eq!(runs.len(), B::JOBS, "every job ran after the resume");
    assert!(runs.values().all(|r| r.len() == 1 && r[0].ended));
    let processes: HashSet<&str> = log.iter().map(|event| event.process.as_str()).collect();
    assert!(
        processes.len() >= 2,
        "the processes shared the work ({} did any)",
        processes.len()
    );
}
