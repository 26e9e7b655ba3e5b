//! The child side of the scenarios: how the parent spawns the test binary again, and
//! what the child does there, told by environment variables.

use std::process::Stdio;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::process::{Child, Command};

use super::{END, ProcessBackend, QUEUE, RunLog, START, block_on};
use crate::ClaimRequest;
use crate::clock::to_unix_micros;
use crate::testing::conformance::t;
use crate::{JobId, JobRecord, JobState, JobStore};

/// The name of the test a child runs; [`process_suite!`](crate::process_suite)
/// defines it.
const ENTRY: &str = "child_process_entry";
/// The child's role: `work` (claim and complete until nothing is left), `drain` (the
/// same until no job is waiting or pending, logging each end before its completion), `hang`
/// (claim, report, then wait to be killed) or `retain` (run retention once).
const ROLE: &str = "LEASEHOLD_PROCESSES_CHILD_ROLE";
/// [`ProcessBackend::location`].
const LOCATION: &str = "LEASEHOLD_PROCESSES_CHILD_LOCATION";
/// The store time the child works at, in seconds after 2000-01-01.
const NOW: &str = "LEASEHOLD_PROCESSES_CHILD_NOW";
/// How long the child's leases last, in seconds.
const LEASE: &str = "LEASEHOLD_PROCESSES_CHILD_LEASE";
/// How many jobs a `hang` child claims.
const CLAIM: &str = "LEASEHOLD_PROCESSES_CHILD_CLAIM";

/// What a `hang` child prints, followed by how many jobs it claimed.
pub(super) const CLAIMED_MARKER: &str = "LEASEHOLD-CHILD-CLAIMED";
/// A bound for every wait on a child, so a broken test fails, not hangs.
pub(super) const CHILD_TIMEOUT: Duration = Duration::from_secs(240);

/// A child on `db` in `role`, working at `t(now)` with leases of `lease` seconds; a
/// `hang` child claims `claim` jobs.
pub(super) fn spawn_child<B: ProcessBackend>(
    db: &B,
    role: &str,
    now: i64,
    lease: i64,
    claim: usize,
) -> Child {
    Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([ENTRY, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(LOCATION, db.location())
        .env(NOW, now.to_string())
        .env(LEASE, lease.to_string())
        .env(CLAIM, claim.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the child process starts")
}

/// The body of the `child_process_entry` test: in a child a scenario spawned, plays
/// the role it was given; anywhere else, does nothing.
///
/// # Panics
///
/// When the child's store or run log fails it.
pub fn child_process_entry<B: ProcessBackend>() {
    if let Ok(role) = std::env::var(ROLE) {
        block_on(child::<B>(&role));
    }
}

fn env_i64(name: &str) -> i64 {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is set"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is a number"))
}

fn ids(jobs: &[JobRecord]) -> Vec<JobId> {
    jobs.iter().map(|job| job.id).collect()
}

async fn child<B: ProcessBackend>(role: &str) {
    let location = std::env::var(LOCATION).expect("the location is set");
    let store = B::open(&location).await;
    let now = t(env_i64(NOW));
    let lease_until = now + time::Duration::seconds(env_i64(LEASE));
    let worker = format!("process-{}", std::process::id());
    match role {
        "hang" => {
            let limit = usize::try_from(env_i64(CLAIM)).expect("a claim size");
            let jobs = store
                .claim(
                    ClaimRequest::new(&worker, &[QUEUE.to_owned()], limit, lease_until),
                    now,
                )
                .await
                .expect("the claim succeeds");
            let mut log = B::open_log(&location).await;
            let at = to_unix_micros(now);
            log.append(&ids(&jobs), &worker, START, at).await;
            println!("{CLAIMED_MARKER} {}", jobs.len());
            // Holds the leases until the parent kills this process (bounded anyway).
            tokio::time::sleep(CHILD_TIMEOUT).await;
        }
        "retain" => super::retention::retain(store, now, &worker).await,
        "limited" => super::limits::work_limited::<B>(store, &location).await,
        "work" | "drain" => {
            // Two claim loops per process: claims race inside a process as well, and
            // completions of one process meet in group commits.
            let drain = role == "drain";
            let loops =
                (0..2).map(|_| work::<B>(&*store, &location, &worker, (now, lease_until), drain));
            futures::future::join_all(loops).await;
        }
        other => panic!("unknown child role {other}"),
    }
}

/// Claims and completes until nothing is left, logging each run's start and end
/// (after the completion; with `drain`, before it, and "nothing left" means no job of
/// the queue waiting or pending: another process's completion may release one).
async fn work<B: ProcessBackend>(
    store: &dyn JobStore,
    location: &str,
    worker: &str,
    (now, lease_until): (OffsetDateTime, OffsetDateTime),
    drain: bool,
) {
    let mut log = B::open_log(location).await;
    let at = to_unix_micros(now);
    loop {
        let jobs = store
            .claim(
                ClaimRequest::new(worker, &[QUEUE.to_owned()], 8, lease_until),
                now,
            )
            .await
            .expect("the claim succeeds");
        if jobs.is_empty() {
            let left = super::count(store, JobState::Waiting, now).await
                + super::count(store, JobState::Available, now).await;
            if !drain || left == 0 {
                // Every job is finished or leased to a live worker that will finish it.
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        log.append(&ids(&jobs), worker, START, at).await;
        if drain {
            log.append(&ids(&jobs), worker, END, at).await;
        }
        let completions = jobs.iter().map(|job| store.complete(job.lease(), now));
        for outcome in futures::future::join_all(completions).await {
            outcome.expect("a live lease completes");
        }
        if !drain {
            log.append(&ids(&jobs), worker, END, at).await;
        }
    }
}
