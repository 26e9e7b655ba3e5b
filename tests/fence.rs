//! A worker fences itself: a job whose lease it cannot confirm is stopped at its
//! deadline (the last confirmed `lease_until` minus the lease margin), whatever its
//! heartbeat call is doing, so its handler has stopped before another worker may
//! claim the job.
//!
//! Worker A reaches the store through a `FailingStore` whose calls can stall (a
//! request or an answer lost in a partition); worker B reaches it directly. These
//! run on the system clock with a 600 ms lease: the fence is about real time, and
//! `ManualClock` cases live in tests/worker/.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leasehold::testing::failing::{FailingStore, Stall};
use leasehold::worker::{JobContext, Worker, WorkerEvent};
use leasehold::{Job, JobId, JobState, JobStore, Queue, StoreError};
use leasehold_memory::MemoryStore;
use serde::{Deserialize, Serialize};

// The worker settings and handler log the PostgreSQL partition tests use too.
#[path = "../storage-postgres/tests/support/takeover.rs"]
mod takeover;

use takeover::{HandlerLog, Mark, contender, spawn_run};

const LEASE: Duration = Duration::from_millis(600);
const HEARTBEAT: Duration = Duration::from_millis(200);
/// The default margin: a tenth of the lease.
const MARGIN: Duration = Duration::from_millis(60);

/// Runs for `millis`, saying it is alive every 5 ms.
#[derive(Debug, Serialize, Deserialize)]
struct Long {
    millis: u64,
}
impl Job for Long {
    const KIND: &'static str = "long";
}

fn worker(queue: &Queue, id: &'static str, log: &HandlerLog) -> Worker {
    let log = log.clone();
    contender(queue, id, LEASE, HEARTBEAT)
        .poll_interval(Duration::from_millis(10))
        .max_poll_interval(Duration::from_millis(20))
        .shutdown_grace(Duration::ZERO)
        .handler(move |job: Long, ctx: JobContext| {
            let log = log.clone();
            async move {
                log.mark(id, ctx.attempt(), Mark::Start);
                let started = Instant::now();
                while started.elapsed() < Duration::from_millis(job.millis) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    log.mark(id, ctx.attempt(), Mark::Alive);
                }
                log.mark(id, ctx.attempt(), Mark::End);
                Ok(())
            }
        })
        .build()
        .expect("a valid worker")
}

struct World {
    store: MemoryStore,
    failing: FailingStore<MemoryStore>,
    log: HandlerLog,
    a: Worker,
    b: Worker,
    queue_b: Queue,
}

impl World {
    fn new() -> Self {
        let store = MemoryStore::new();
        let failing = FailingStore::new(store.clone());
        let log = HandlerLog::default();
        let queue_a = Queue::new(Arc::new(failing.clone()));
        let queue_b = Queue::new(Arc::new(store.clone()));
        let a = worker(&queue_a, "a", &log);
        let b = worker(&queue_b, "b", &log);
        Self {
            store,
            failing,
            log,
            a,
            b,
            queue_b,
        }
    }

    async fn enqueue(&self, millis: u64) -> JobId {
        self.queue_b
            .enqueue(&Long { millis })
            .await
            .expect("enqueue works")
            .job
            .id
    }

    /// Waits (at most 10 s) until `worker` has started a job.
    async fn started(&self, worker: &str) {
        wait_until(|| self.log.first_start(worker).is_some()).await;
    }

    async fn finished(&self, id: JobId) -> leasehold::JobRecord {
        finished(&self.store, id, Duration::from_secs(10)).await
    }
}

/// Waits (at most 10 s) until `done` holds.
async fn wait_until(mut done: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the condition held within 10 s");
}

/// Waits (at most `within`) until job `id` is terminal in `store`; returns it.
async fn finished(store: &dyn JobStore, id: JobId, within: Duration) -> leasehold::JobRecord {
    let waited = tokio::time::timeout(within, async {
        loop {
            let job = store.get(id, now()).await.unwrap().unwrap();
            if job.state.is_terminal() {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("the job finished within {within:?}"))
}

/// Asserts that A's handler showed its last sign of life before B's started, and
/// returns the gap between them.
fn no_overlap(log: &HandlerLog) -> Duration {
    let a_last = log.last_sign_of_life("a").expect("a ran the job");
    let b_start = log.first_start("b").expect("b took the job over");
    assert!(
        a_last < b_start,
        "a's handler was alive {:?} after b started it",
        a_last - b_start
    );
    b_start - a_last
}

/// Asserts that attempt 1 (on whichever worker) showed its last sign of life before
/// attempt 2 started; returns that last sign of life and the gap to attempt 2.
fn attempts_apart(log: &HandlerLog) -> (Instant, Duration) {
    let marks = log.entries();
    let last_of_first = marks
        .iter()
        .filter(|m| m.2 == 1)
        .map(|m| m.0)
        .max()
        .expect("attempt 1 ran");
    let second_start = marks
        .iter()
        .filter(|m| m.2 == 2 && m.3 == Mark::Start)
        .map(|m| m.0)
        .min()
        .expect("attempt 2 started");
    assert!(
        last_of_first < second_start,
        "attempt 1 was alive {:?} after attempt 2 started",
        last_of_first - second_start
    );
    (last_of_first, second_start - last_of_first)
}

fn lease_lost(events: &mut tokio::sync::broadcast::Receiver<WorkerEvent>) -> bool {
    let mut lost = false;
    while let Ok(event) = events.try_recv() {
        lost |= matches!(event, WorkerEvent::LeaseLost(_));
    }
    lost
}

/// Runs the takeover story with A's heartbeats stalled at `stall`.
async fn takeover_after_a_stall(stall: Stall) {
    let world = World::new();
    let mut a_events = world.a.subscribe();
    let id = world.enqueue(2_000).await;
    let a = spawn_run(&world.a);
    world.started("a").await;
    let stale_lease = world.store.get(id, now()).await.unwrap().unwrap().lease();

    // A partition: nothing A sends gets an answer (and its claims never arrive).
    world.failing.stall("heartbeat", stall);
    world.failing.stall("claim", Stall::Before);
    world.failing.stall("next_due", Stall::Before);
    let stalled_at = Instant::now();
    let b = spawn_run(&world.b);
    let job = world.finished(id).await;
    world.failing.unstall();

    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.attempt, 2);
    assert_eq!(job.worker.as_deref(), Some("b"));
    let gap = no_overlap(&world.log);
    let a_stopped = world.log.last_sign_of_life("a").unwrap() - stalled_at;
    assert!(
        a_stopped < LEASE,
        "a stopped {a_stopped:?} after the stall began, within one lease"
    );
    assert!(
        !world
            .log
            .marks("a")
            .iter()
            .any(|(_, _, mark)| *mark == Mark::End),
        "a's handler never finished"
    );
    assert!(lease_lost(&mut a_events), "a reported the lease lost");
    assert!(matches!(
        world.store.complete(stale_lease, now()).await,
        Err(StoreError::LeaseLost(_))
    ));
    println!(
        "stall {stall:?}: a stopped {a_stopped:?} after the stall began; b started {gap:?} after a stopped"
    );
    world.a.shutdown().await;
    world.b.shutdown().await;
    a.await.unwrap();
    b.await.unwrap();
}

fn now() -> leasehold::time::OffsetDateTime {
    leasehold::Clock::now(&leasehold::SystemClock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_lost_on_its_way_stops_the_handler_before_another_worker_claims_the_job() {
    takeover_after_a_stall(Stall::Before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_whose_answer_is_lost_stops_the_handler_before_another_worker_claims_the_job() {
    takeover_after_a_stall(Stall::After).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shorter_than_the_remaining_lease_keeps_the_job() {
    let world = World::new();
    let id = world.enqueue(1_200).await;
    let a = spawn_run(&world.a);
    world.started("a").await;
    let b = spawn_run(&world.b);

    // Shorter than lease - margin - heartbeat: whenever it begins, the heartbeat it
    // holds up still confirms the lease before the deadline.
    world.failing.stall("heartbeat", Stall::Before);
    tokio::time::sleep(LEASE - MARGIN - HEARTBEAT - Duration::from_millis(100)).await;
    world.failing.unstall();
    let job = world.finished(id).await;

    assert_eq!(job.state, JobState::Completed);
    assert_eq!((job.attempt, job.worker.as_deref()), (1, Some("a")));
    assert!(world.log.first_start("b").is_none(), "b never ran the job");
    world.a.shutdown().await;
    world.b.shutdown().await;
    a.await.unwrap();
    b.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_answered_after_its_deadline_does_not_start_the_job() {
    let world = World::new();
    let id = world.enqueue(10).await;
    world.failing.stall("claim", Stall::After);
    let late = tokio::spawn({
        let a = world.a.clone();
        async move { a.run_once().await }
    });
    tokio::time::sleep(LEASE - MARGIN + Duration::from_millis(20)).await;
    world.failing.unstall();
    let late = late.await.unwrap().unwrap();

    assert_eq!(late.claimed.len(), 1);
    assert_eq!(
        late.outcomes[0].outcome,
        leasehold::worker::Outcome::LeaseLost
    );
    assert!(world.log.first_start("a").is_none(), "a never ran the job");
    let taken = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let report = world.b.run_once().await.unwrap();
            if !report.claimed.is_empty() {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("b claims the job once the lease expires");
    assert_eq!(taken.completed(), 1);
    let job = world.finished(id).await;
    assert_eq!((job.state, job.attempt), (JobState::Completed, 2));
}

// ---------------------------------------------------------------------------------
// SQLite: another process holds the write lock past the lease
// ---------------------------------------------------------------------------------

/// The variable that makes this test binary a lock-holding child: the database URL.
const HOLD_LOCK: &str = "LEASEHOLD_FENCE_HOLD_WRITE_LOCK";
/// How long the child holds the lock, in milliseconds.
const HOLD_FOR: &str = "LEASEHOLD_FENCE_HOLD_FOR_MS";

/// Not a test of its own: the entry point of the child process that takes the
/// database's write lock (`BEGIN IMMEDIATE`), says so, holds it, and lets go; a no-op
/// otherwise.
#[test]
fn child_process_entry() {
    let Ok(url) = std::env::var(HOLD_LOCK) else {
        return;
    };
    let hold: u64 = std::env::var(HOLD_FOR).unwrap().parse().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .unwrap();
            println!("WRITE-LOCK-HELD");
            tokio::time::sleep(Duration::from_millis(hold)).await;
            sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
        });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_held_up_by_another_process_holding_the_write_lock_stops_the_handler() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    // Two stores on one file, as two processes would have; A waits for the lock up
    // to its busy timeout (5 s), far past the lease.
    let store_a = leasehold_sqlite::SqliteStore::connect(&url).await.unwrap();
    let store_b = leasehold_sqlite::SqliteStore::connect(&url).await.unwrap();
    let log = HandlerLog::default();
    let queue_a = Queue::new(Arc::new(store_a));
    let queue_b = Queue::new(Arc::new(store_b.clone()));
    let a = worker(&queue_a, "a", &log);
    let b = worker(&queue_b, "b", &log);
    let id = queue_b
        .enqueue(&Long { millis: 3_000 })
        .await
        .unwrap()
        .job
        .id;
    let running_a = spawn_run(&a);
    wait_until(|| log.first_start("a").is_some()).await;

    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_LOCK, &url)
        .env(HOLD_FOR, "1500")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    leasehold::testing::processes::wait_for_marker(
        &mut child,
        "WRITE-LOCK-HELD",
        Duration::from_secs(10),
    )
    .await;
    let locked_at = Instant::now();
    let running_b = spawn_run(&b);
    let finished = finished(&store_b, id, Duration::from_secs(15)).await;
    assert!(child.wait().await.unwrap().success());

    assert_eq!(finished.state, JobState::Completed);
    // Either worker may take the job over once the lock is gone, A included.
    assert_eq!(finished.attempt, 2);
    // Attempt 1 was A's: it started before the lock was taken.
    let (first_stopped, gap) = attempts_apart(&log);
    let a_stopped = first_stopped - locked_at;
    assert!(
        a_stopped < LEASE,
        "a stopped {a_stopped:?} after the lock was taken, within one lease"
    );
    println!(
        "write lock: a stopped {a_stopped:?} after the lock was taken; attempt 2 started {gap:?} after that"
    );
    a.shutdown().await;
    b.shutdown().await;
    running_a.await.unwrap();
    running_b.await.unwrap();
}
