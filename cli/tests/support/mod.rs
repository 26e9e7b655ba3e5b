//! What the CLI tests share: running the real binary, and a SQLite file seeded
//! through the library.

// Each test file compiles this module on its own and uses a part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use leasehold::schedule::{NewSchedule, ScheduleSpec, Scheduler};
use leasehold::{ClaimRequest, EnqueueOptions, JobId, NewJob, Queue};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions};
use serde_json::{Value, json};

/// The binary's answer: its exit code and what it printed.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// stdout parsed as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is JSON ({e}): {self:?}"))
    }
}

/// Runs `leasehold` with `args`, with no database in the environment.
pub(crate) fn leasehold<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output: Output = Command::new(env!("CARGO_BIN_EXE_leasehold"))
        .args(args)
        .env_remove("LEASEHOLD_DATABASE_URL")
        .env_remove("LEASEHOLD_SCHEMA")
        .output()
        .expect("the binary runs");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

/// Runs `leasehold --db <url> <args...>`.
pub(crate) fn on(url: &str, args: &[&str]) -> Run {
    let mut all = vec!["--db", url];
    all.extend_from_slice(args);
    leasehold(all)
}

/// The ids of what [`seed`] stored.
#[derive(Debug, Clone)]
pub(crate) struct Seeded {
    /// Three available `send_email` jobs in `mail`, oldest first; the first two tagged
    /// `tenant:1`.
    pub(crate) mail: Vec<JobId>,
    /// A `build_report` job in `reports`, due in an hour.
    pub(crate) scheduled: JobId,
    /// A `sync_invoice` job in `billing` that failed: "card declined".
    pub(crate) failed: JobId,
}

/// The URL of `dir/jobs.db`.
pub(crate) fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("jobs.db").display())
}

/// A SQLite file in a temporary directory, seeded as [`seed`] does: the directory
/// (removed when dropped), the file's URL, and what was seeded.
pub(crate) fn seeded_file() -> (tempfile::TempDir, String, Seeded) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = sqlite_url(dir.path());
    let seeded = seed(&url);
    (dir, url, seeded)
}

/// Runs `f` on a queue over the store at `url`, then closes the store.
pub(crate) fn with_queue<T>(url: &str, f: impl AsyncFnOnce(&Queue) -> T) -> T {
    runtime().block_on(async {
        let store = Arc::new(
            SqliteStore::connect_with(SqliteStoreOptions::new(url))
                .await
                .expect("the store opens"),
        );
        let queue = Queue::new(store.clone());
        let result = f(&queue).await;
        store.close().await;
        result
    })
}

/// A runtime for seeding; the binary runs in a process of its own.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Seeds the SQLite file at `url`: the jobs [`Seeded`] names and a schedule
/// `nightly` (03:00 in Europe/Berlin, `cleanup` jobs in `maintenance`).
pub(crate) fn seed(url: &str) -> Seeded {
    with_queue(url, async |queue: &Queue| seed_queue(queue).await)
}

/// Seeds `queue`'s store as [`seed`] does.
pub(crate) async fn seed_queue(queue: &Queue) -> Seeded {
    let now = queue.clock().now();
    let mut mail = Vec::new();
    for (i, tags) in [vec!["tenant:1"], vec!["tenant:1"], vec![]]
        .into_iter()
        .enumerate()
    {
        let options = EnqueueOptions::new().queue("mail").tags(tags);
        let job = options
            .build(
                "send_email",
                json!({ "to": format!("user{i}@example.com") }),
                now,
            )
            .expect("a valid job");
        mail.push(queue.enqueue_new(job).await.expect("enqueued").job.id);
    }
    let report = NewJob::new("build_report", json!({}), now)
        .and_then(|job| job.queue("reports"))
        .expect("a valid job")
        .run_at(now + time::Duration::hours(1));
    let scheduled = queue.enqueue_new(report).await.expect("enqueued").job.id;
    let invoice = NewJob::new("sync_invoice", json!({ "invoice": 7 }), now)
        .and_then(|job| job.queue("billing"))
        .expect("a valid job");
    let failed = queue.enqueue_new(invoice).await.expect("enqueued").job.id;
    fail_one(queue, "billing", "card declined").await;
    let nightly = ScheduleSpec::cron("0 3 * * *", Some("Europe/Berlin")).expect("valid cron");
    let schedule = NewSchedule::untyped("nightly", nightly, "cleanup", json!({}))
        .and_then(|s| s.queue("maintenance"))
        .expect("a valid schedule");
    Scheduler::new(queue)
        .upsert(schedule)
        .await
        .expect("stored");
    Seeded {
        mail,
        scheduled,
        failed,
    }
}

/// Claims the next job of `queue_name` and fails it for good with `error`.
pub(crate) async fn fail_one(queue: &Queue, queue_name: &str, error: &str) {
    let store = queue.store();
    let now = queue.clock().now();
    let queues = [queue_name.to_owned()];
    let lease_until = now + time::Duration::minutes(5);
    let claimed = store
        .claim(
            ClaimRequest::new("test-worker", &queues, 1, lease_until),
            now,
        )
        .await
        .expect("claims");
    let job = claimed.first().expect("a job to claim");
    store.fail(job.lease(), error, now).await.expect("fails");
}

/// The `id` fields of a JSON array of jobs.
pub(crate) fn ids(jobs: &Value) -> Vec<String> {
    jobs.as_array()
        .expect("an array of jobs")
        .iter()
        .map(|job| job["id"].as_str().expect("ids are strings").to_owned())
        .collect()
}

/// The newest schema version this build migrates `backend` (`sqlite`, `postgres`)
/// to, read from `migrate --print`.
pub(crate) fn latest_version(backend: &str) -> i64 {
    let printed = leasehold(["migrate", "--print", "--backend", backend]);
    printed
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("-- migration "))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .max()
        .expect("the script names its migrations")
}
