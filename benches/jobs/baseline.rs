//! The physical limit of the same work on the same machine: a minimal hand-written
//! queue on raw sqlx, with the pragmas `SqliteStore` uses (WAL, `synchronous=NORMAL`),
//! one connection, a minimal jobs table and a partial index over ready rows.
//!
//! - one row per transaction: `BEGIN IMMEDIATE`, claim one job, complete it, commit;
//! - one INSERT per statement, the raw form of an enqueue of one job per call;
//! - 64 rows per statement: `UPDATE ... WHERE id IN (SELECT ... LIMIT 64) RETURNING id`,
//!   then one `UPDATE` that completes all 64 (and the same with 8 rows: the most a
//!   worker of concurrency 8 can claim at once).

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::query::{Query, QueryScalar};
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Sqlite, SqliteConnection};
use tempfile::TempDir;

use crate::report::{Report, Row};
use crate::stores::rate;

pub(crate) const STORE: &str = "raw-sqlx";
pub(crate) const SINGLE: &str = "baseline_claim1_complete1_per_tx";
pub(crate) const BATCH: &str = "baseline_claim64_complete64";
/// One INSERT per statement (each its own transaction), one caller: what an enqueue
/// of one job per call is compared with.
pub(crate) const INSERT_ONE: &str = "baseline_insert1_per_tx";
pub(crate) const SMALL_BATCH: &str = "baseline_claim8_complete8";

const SCHEMA: &str = "
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    queue       TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    priority    INTEGER NOT NULL,
    run_at      INTEGER NOT NULL,
    payload     TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    lease_until INTEGER,
    finished_at INTEGER
) STRICT;
CREATE INDEX jobs_ready ON jobs (queue, priority, run_at, id) WHERE state = 'pending';
";

const INSERT: &str = "INSERT INTO jobs (queue, state, priority, run_at, payload, attempt)
VALUES ('default', 'pending', 0, ?1, ?2, 0)";

/// Leases up to ?3 due jobs until ?2.
const CLAIM: &str = "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_until = ?2
WHERE id IN (
    SELECT id FROM jobs
    WHERE state = 'pending' AND queue = 'default' AND run_at <= ?1
    ORDER BY priority, run_at, id
    LIMIT ?3
)
RETURNING id";

const COMPLETE_ONE: &str = "UPDATE jobs SET state = 'completed', finished_at = ?2
WHERE id = ?1 AND state = 'running'";

/// Completes every job whose id is in the JSON array ?1.
const COMPLETE_MANY: &str = "UPDATE jobs SET state = 'completed', finished_at = ?2
WHERE id IN (SELECT value FROM json_each(?1)) AND state = 'running'";

/// A fixed time far from today: the baseline needs ordering, not wall time.
const NOW: i64 = 946_684_800_000_000;

/// Runs both baselines over `n` no-op jobs; the 64-row one's jobs/s is what every
/// SQLite end-to-end row is compared with.
pub(crate) async fn run(report: &mut Report, n: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut conn = prepare(&dir, n).await;
    let started = Instant::now();
    for _ in 0..n {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.expect("begin");
        let id = claim(1).fetch_one(&mut *tx).await.expect("claim one");
        complete_one(id)
            .execute(&mut *tx)
            .await
            .expect("complete one");
        tx.commit().await.expect("commit");
    }
    let elapsed = started.elapsed();
    finish(conn, n).await;
    push(report, STORE, SINGLE, n, 1, elapsed);

    // 8 rows per statement: what a worker of concurrency 8 could claim at most.
    batches(report, SMALL_BATCH, n, 8).await;
    batches(report, BATCH, n, 64).await;
    inserts(report, n).await;
}

/// Inserts `n` jobs one statement (and so one transaction) at a time.
async fn inserts(report: &mut Report, n: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut conn = prepare(&dir, 0).await;
    let started = Instant::now();
    for i in 0..n {
        sqlx::query(INSERT)
            .bind(NOW)
            .bind(format!("{{\"i\":{i}}}"))
            .execute(&mut conn)
            .await
            .expect("insert");
    }
    let elapsed = started.elapsed();
    conn.close().await.expect("close");
    push(report, STORE, INSERT_ONE, n, 1, elapsed);
}

/// Claims `rows` jobs per statement and completes them in one, until `n` are done.
async fn batches(report: &mut Report, scenario: &str, n: usize, rows: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut conn = prepare(&dir, n).await;
    let limit = i64::try_from(rows).expect("a small batch");
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let ids = claim(limit)
            .fetch_all(&mut conn)
            .await
            .expect("claim a batch");
        assert!(!ids.is_empty(), "the baseline ran dry after {done} of {n}");
        let ids_json = serde_json::to_string(&ids).expect("ids serialize");
        sqlx::query(COMPLETE_MANY)
            .bind(ids_json)
            .bind(NOW)
            .execute(&mut conn)
            .await
            .expect("complete a batch");
        done += ids.len();
    }
    let elapsed = started.elapsed();
    finish(conn, n).await;
    push(report, STORE, scenario, n, rows, elapsed);
}

/// [`CLAIM`] of up to `limit` jobs due at [`NOW`], leased for 30 s.
fn claim(limit: i64) -> QueryScalar<'static, Sqlite, i64, SqliteArguments> {
    sqlx::query_scalar(CLAIM)
        .bind(NOW)
        .bind(NOW + 30_000_000)
        .bind(limit)
}

/// [`COMPLETE_ONE`] of the job `id`, at [`NOW`].
fn complete_one(id: i64) -> Query<'static, Sqlite, SqliteArguments> {
    sqlx::query(COMPLETE_ONE).bind(id).bind(NOW)
}

/// A connection to a new database in `dir` with `n` pending jobs.
async fn prepare(dir: &TempDir, n: usize) -> SqliteConnection {
    let url = format!("sqlite://{}", dir.path().join("raw.db").display());
    let mut conn = SqliteConnectOptions::from_str(&url)
        .expect("a SQLite URL")
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("a raw connection");
    sqlx::raw_sql(SCHEMA)
        .execute(&mut conn)
        .await
        .expect("the schema");
    let mut tx = conn.begin().await.expect("begin");
    for i in 0..n {
        sqlx::query(INSERT)
            .bind(NOW)
            .bind(format!("{{\"i\":{i}}}"))
            .execute(&mut *tx)
            .await
            .expect("insert");
    }
    tx.commit().await.expect("commit");
    conn
}

/// Checks that every job completed, then closes the connection.
async fn finish(mut conn: SqliteConnection, n: usize) {
    let completed: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'completed'")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_every_job_completed(completed, n);
    conn.close().await.expect("close");
}

/// Checks the count of completed jobs after a baseline of `n`.
pub(crate) fn assert_every_job_completed(completed: i64, n: usize) {
    assert_eq!(
        usize::try_from(completed).ok(),
        Some(n),
        "every job completed"
    );
}

/// Reports a baseline of `n` jobs on `store` that took `elapsed`.
pub(crate) fn push(
    report: &mut Report,
    store: &str,
    scenario: &str,
    n: usize,
    concurrency: usize,
    elapsed: Duration,
) {
    report.push(Row {
        scenario: scenario.into(),
        store: store.into(),
        jobs: n,
        concurrency,
        jobs_per_sec: rate(n, elapsed),
        ..Row::default()
    });
}
