//! A write that fails for want of room (a full disk or size limit, an I/O error) at a
//! statement or at `COMMIT` wedges nothing: the caller gets the classified error, the
//! same store handle and a `Worker` on it carry on once there is room again, nothing
//! committed is lost, and `PRAGMA integrity_check` says ok.
//!
//! Three ways to run out of room, none needing privileges:
//!
//! - At a statement: `PRAGMA max_page_count` caps the file; it is a setting of each
//!   connection, so the store runs over a pool of one connection (`from_pool`) that
//!   applies the current cap to every connection it opens. SQLite checks the cap when a
//!   statement needs a new page, so this fails the statement, never the `COMMIT`.
//! - At `COMMIT`, an I/O error: the file size limit (`RLIMIT_FSIZE`, set with
//!   `prlimit`) makes the write of the write-ahead log at `COMMIT` fail with `EFBIG`,
//!   which SQLite reports as `SQLITE_IOERR_WRITE`. A process past that limit gets
//!   `SIGXFSZ`, so the scenario runs in a child process that ignores it.
//! - At `COMMIT`, a full disk: a small tmpfs in the child's own user and mount
//!   namespaces (`unshare`), filled with a file until `ENOSPC`, and freed by deleting
//!   that file. Skipped, with a message, where unprivileged namespaces are not allowed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use leasehold::testing::observe::error_chain;
use leasehold::testing::processes::wait_success;
use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{Job, JobFilter, JobState, Queue, StoreError};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tokio::process::Command;
use tokio::task::JoinHandle;

/// The room the child process should take away: `fsize` or `tmpfs`.
const SQUEEZE: &str = "LEASEHOLD_SQLITE_FULL_DISK_SQUEEZE";
/// The directory the child's database lives in.
const DIR: &str = "LEASEHOLD_SQLITE_FULL_DISK_DIR";
/// SQLite's own default `max_page_count`: no cap to speak of.
const NO_CAP: i64 = 0xffff_fffe;

const CHILD_TIMEOUT: Duration = Duration::from_secs(120);
const WAIT: Duration = Duration::from_secs(60);

#[derive(Serialize, Deserialize)]
struct Task {
    n: u32,
    pad: String,
}

impl Job for Task {
    const KIND: &'static str = "task";
}

fn task(n: u32, pad: usize) -> Task {
    Task {
        n,
        pad: "x".repeat(pad),
    }
}

async fn run_task(_task: Task, _ctx: JobContext) -> Result<(), JobError> {
    Ok(())
}

fn worker(queue: &Queue) -> Worker {
    Worker::builder(queue)
        .queue("default", 4)
        .handler(run_task)
        .poll_interval(Duration::from_millis(10))
        .max_poll_interval(Duration::from_millis(100))
        .build()
        .expect("a valid worker")
}

async fn enqueue(queue: &Queue, numbers: std::ops::Range<u32>) {
    for n in numbers {
        queue
            .enqueue(&task(n, 10))
            .await
            .expect("the enqueue succeeds");
    }
}

/// Waits until `expected` jobs are completed, and none is anything else.
async fn wait_all_completed(queue: &Queue, expected: u64) {
    let done = tokio::time::timeout(WAIT, async {
        loop {
            let completed = queue
                .count(&JobFilter::all().state(JobState::Completed))
                .await;
            let all = queue.count(&JobFilter::all()).await;
            if let (Ok(completed), Ok(all)) = (completed, all)
                && completed == expected
                && all == expected
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let completed = queue
        .count(&JobFilter::all().state(JobState::Completed))
        .await;
    assert!(
        done.is_ok(),
        "the worker completes all {expected} jobs (completed: {completed:?})"
    );
}

/// Starts a [`worker`] on `store` and waits until it has completed ten jobs, enqueued
/// meanwhile: the store works before it runs out of room. Returns the queue, the
/// worker and its running task.
async fn work_off_ten_jobs(store: &SqliteStore) -> (Queue, Worker, JoinHandle<()>) {
    let queue = Queue::new(Arc::new(store.clone()));
    let worker = worker(&queue);
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    enqueue(&queue, 0..10).await;
    wait_all_completed(&queue, 10).await;
    (queue, worker, running)
}

fn store_error(error: leasehold::Error) -> StoreError {
    match error {
        leasehold::Error::Store(error) => error,
        other => panic!("a store error, not {other:?}"),
    }
}

async fn integrity(pool: &sqlx::SqlitePool) -> String {
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(pool)
        .await
        .expect("the integrity check runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_that_finds_the_file_full_fails_permanent_and_the_same_store_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let cap = Arc::new(AtomicI64::new(NO_CAP));
    let options = SqliteConnectOptions::from_str(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("jobs.db").display()
    ))
    .unwrap();
    let hook_cap = Arc::clone(&cap);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .after_connect(move |conn, _| {
            let cap = hook_cap.load(Ordering::SeqCst);
            Box::pin(async move {
                let pragma = format!("PRAGMA max_page_count = {cap}");
                sqlx::query(sqlx::AssertSqlSafe(pragma))
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect_with(options)
        .await
        .unwrap();
    let store = SqliteStore::from_pool(pool.clone()).await.unwrap();
    let (queue, worker, running) = work_off_ten_jobs(&store).await;
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&pool)
        .await
        .unwrap();
    cap.store(pages, Ordering::SeqCst);
    let capped: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "PRAGMA max_page_count = {pages}"
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(capped, pages, "the file may not grow");

    let big = task(10, 200_000);
    let error = store_error(queue.enqueue(&big).await.unwrap_err());
    let while_full = queue.enqueue(&task(11, 200_000)).await.map(|_| ());
    cap.store(NO_CAP, Ordering::SeqCst);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA max_page_count = {NO_CAP}"
    )))
    .execute(&pool)
    .await
    .unwrap();
    queue
        .enqueue(&big)
        .await
        .expect("the same store writes again");
    enqueue(&queue, 11..20).await;

    let StoreError::Permanent { message, .. } = &error else {
        panic!("a full file is Permanent, not {error:?}");
    };
    assert!(!error.is_transient());
    assert!(message.contains("free disk space"), "{message}");
    assert!(message.contains("carries on by itself"), "{message}");
    let chain = error_chain(&error);
    assert!(
        chain.contains("(code: 13) database or disk is full"),
        "{chain}"
    );
    assert!(
        !chain.contains("at COMMIT"),
        "a statement failed, not the commit: {chain}"
    );
    let while_full = store_error(while_full.unwrap_err());
    assert!(
        matches!(while_full, StoreError::Permanent { .. }),
        "still full, still the same answer (not a wedged writer): {while_full:?}"
    );
    wait_all_completed(&queue, 20).await;
    assert_eq!(integrity(&pool).await, "ok");
    worker.shutdown().await;
    running.await.unwrap();
}

/// Not a test of its own: a child process's scenario (see `run_child`), a no-op
/// otherwise.
#[test]
fn child_process_entry() {
    let Ok(squeeze) = std::env::var(SQUEEZE) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR).expect("the directory is set"));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(commit_fails_and_the_store_carries_on(&dir, &squeeze));
}

/// The child's scenario: a store and a worker on a file, then no room at `COMMIT`,
/// then room again.
async fn commit_fails_and_the_store_carries_on(dir: &Path, squeeze: &str) {
    let path = dir.join("jobs.db");
    let store = SqliteStore::connect_with(SqliteStoreOptions::file(&path))
        .await
        .expect("the store opens");
    let (queue, worker, running) = work_off_ten_jobs(&store).await;
    let filler = dir.join("filler");
    match squeeze {
        // Past the end of the write-ahead log: its next frame, written at COMMIT.
        "fsize" => {
            let wal = std::fs::metadata(dir.join("jobs.db-wal"))
                .expect("the store is in WAL mode")
                .len();
            set_file_size_limit(&wal.to_string()).await;
        }
        "tmpfs" => fill(&filler),
        other => panic!("unknown squeeze {other:?}"),
    }

    let small = task(10, 10);
    let error = store_error(queue.enqueue(&small).await.unwrap_err());
    let again = store_error(queue.enqueue(&small).await.unwrap_err());
    match squeeze {
        "fsize" => set_file_size_limit("unlimited").await,
        _ => std::fs::remove_file(&filler).expect("the filler is removed"),
    }
    queue
        .enqueue(&small)
        .await
        .expect("the same store writes again");
    enqueue(&queue, 11..20).await;

    let chain = error_chain(&error);
    eprintln!("the failed commit ({squeeze}): {error}; source: {chain}");
    assert!(chain.contains("at COMMIT"), "the commit failed: {chain}");
    if squeeze == "fsize" {
        assert!(chain.contains("(code: 778) disk I/O error"), "{chain}");
        assert!(
            matches!(error, StoreError::Backend(_)) && error.is_transient(),
            "an I/O error may pass: {error:?}"
        );
        assert!(chain.contains("check the disk"), "{chain}");
    } else {
        assert!(
            chain.contains("(code: 13) database or disk is full"),
            "{chain}"
        );
        assert!(
            matches!(&error, StoreError::Permanent { message, .. } if message.contains("free disk space")),
            "{error:?}"
        );
    }
    assert!(
        error_chain(&again).contains("at COMMIT"),
        "the next write is refused for the same reason, not a wedged writer: {again:?}"
    );
    wait_all_completed(&queue, 20).await;
    assert_eq!(integrity(store.read_pool()).await, "ok");
    worker.shutdown().await;
    running.await.expect("the worker stops");
}

/// Sets this process's soft file size limit with util-linux `prlimit` (the hard limit
/// stays, so raising the soft one again needs no privilege).
async fn set_file_size_limit(limit: &str) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--fsize={limit}:"))
        .status()
        .await
        .expect("prlimit runs");
    assert!(status.success(), "prlimit --fsize={limit}: {status}");
}

/// Writes `path` until the filesystem it is on has no room left.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("the filler is created");
    let block = vec![0u8; 4096];
    loop {
        if let Err(error) = file.write_all(&block).and_then(|()| file.sync_all()) {
            assert_eq!(error.raw_os_error(), Some(28), "ENOSPC, not {error}");
            return;
        }
    }
}

/// A shell command line, run by `sh` inside `namespaces` (a command prefix such as
/// `unshare ...`, or nothing).
fn shell(namespaces: &[&str], script: &str) -> Command {
    let mut argv: Vec<&str> = namespaces.to_vec();
    argv.extend(["sh", "-c", script]);
    let mut command = Command::new(argv[0]);
    command.args(&argv[1..]);
    command
}

/// Runs the child scenario with `squeeze`, in a shell (inside `namespaces`) that first
/// runs `setup`, then makes the child ignore `SIGXFSZ`, so a write past the file size
/// limit fails with `EFBIG` instead of killing it.
async fn run_child(squeeze: &str, dir: &Path, namespaces: &[&str], setup: &str) {
    let script = format!("{setup} trap '' XFSZ && exec \"$0\" \"$@\"");
    let mut child = shell(namespaces, &script)
        .arg(std::env::current_exe().expect("the test binary's path"))
        .args([
            "child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SQUEEZE, squeeze)
        .env(DIR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the child process starts");
    wait_success(&mut child, CHILD_TIMEOUT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_fails_to_write_its_log_is_transient_and_the_same_store_carries_on() {
    let dir = tempfile::tempdir().unwrap();

    run_child("fsize", dir.path(), &[], "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_finds_the_disk_full_is_permanent_and_the_same_store_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let namespaces = ["unshare", "--user", "--map-root-user", "--mount"];
    let mount = format!(
        "mount -t tmpfs -o size=4m tmpfs '{}' &&",
        dir.path().display()
    );
    let allowed = shell(&namespaces, &format!("{mount} true"))
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success());
    if !allowed {
        eprintln!(
            "skipped: this system does not let an unprivileged process mount a tmpfs of \
             its own (unshare --user --map-root-user --mount), so there is no disk to fill"
        );
        return;
    }

    run_child("tmpfs", dir.path(), &namespaces, &mount).await;
}
