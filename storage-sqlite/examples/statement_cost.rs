//! What SQLite alone spends per job on the statements a worker's claims and
//! completions run, on the store's own schema, against the raw loop the `cargo bench`
//! end-to-end rows are compared with (one index, an integer key, nine columns).
//!
//! ```text
//! cargo run --release -p leasehold-sqlite --example statement_cost [jobs]
//! ```
//!
//! Each loop claims 128 jobs and completes the previous 128 in one `BEGIN IMMEDIATE`
//! transaction, on one connection of this thread (no sqlx, no worker, no thread
//! hand-off), until every job is completed. For the store's schema it prints the
//! microseconds per job of the completion (`complete_bulk.sql`), of the claim (its
//! guard, promotions, expiries and `claim_queue_simple.sql`) and of the `COMMIT`, with
//! SQLite's checkpoints and without them, and the raw loop's whole round. Medians of
//! three runs.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use leasehold_sqlite::SqliteStore;
use rusqlite::Connection;

/// Jobs claimed per round: what a worker claiming ahead takes at once.
const PER_ROUND: i64 = 128;
/// An instant after every job's run time (microseconds).
const NOW: i64 = 10_000_000_000;

const GUARD: &str = include_str!("../src/sql/claim_simple_guard.sql");
const PROMOTE: &str = include_str!("../src/sql/promote_due.sql");
const EXPIRE: &str = include_str!("../src/sql/fail_expired_leases.sql");
const COMPLETE: &str = include_str!("../src/sql/complete_bulk.sql");

/// claim_queue_simple.sql with its parts, as `sql.rs` fills it.
fn claim_statement() -> String {
    include_str!("../src/sql/claim_queue_simple.sql")
        .replace(
            "{claim_lease}",
            include_str!("../src/sql/parts/claim_lease.sql"),
        )
        .replace(
            "{claim_returning}",
            include_str!("../src/sql/parts/claim_returning.sql"),
        )
}

/// Microseconds per job of a loop's parts.
#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    complete: f64,
    claim: f64,
    commit: f64,
}

impl Cost {
    fn total(self) -> f64 {
        self.complete + self.claim + self.commit
    }
}

fn micros_per_job(seconds: f64, jobs: usize) -> f64 {
    // Job counts stay far below 2^52: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let jobs = jobs as f64;
    seconds * 1e6 / jobs
}

/// A new database at `path` with the store's schema and `jobs` due jobs.
async fn ours(path: &Path, jobs: usize, checkpoints: bool) -> rusqlite::Result<Connection> {
    let store = SqliteStore::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("the store's schema");
    store.close().await;
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    if !checkpoints {
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO jobs (id, kind, queue, payload, priority, state, run_at, attempt,
                               max_attempts, lease_token, created_at)
             VALUES (?1, 'noop', 'default', ?2, 0, 'available', ?3, 0, 3, 0, ?3)",
        )?;
        for i in 0..jobs {
            // Increasing ids, as the store's (UUIDv7) are: the jobs a claim takes lie
            // side by side in the table.
            let id = u128::try_from(i).expect("a job count").to_be_bytes();
            insert.execute((&id[..], format!("{{\"i\":{i}}}"), NOW - 1_000_000))?;
        }
    }
    tx.commit()?;
    Ok(conn)
}

/// Claims and completes every job of `conn` (see the module docs).
fn ours_loop(conn: &Connection, jobs: usize) -> rusqlite::Result<Cost> {
    let claim = claim_statement();
    let queues = "[\"default\"]";
    let (mut complete, mut claiming, mut commit) = (0.0, 0.0, 0.0);
    let mut leased: Vec<(Vec<u8>, i64)> = Vec::new();
    let mut done = 0;
    loop {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let started = Instant::now();
        if !leased.is_empty() {
            let mut rows = String::from("[");
            for (i, (id, token)) in leased.iter().enumerate() {
                let hex: String = id.iter().fold(String::new(), |mut hex, byte| {
                    let _ = write!(hex, "{byte:02X}");
                    hex
                });
                let comma = if i == 0 { "" } else { "," };
                let _ = write!(rows, "{comma}[\"{hex}\",{token},{NOW}]");
            }
            rows.push(']');
            let mut statement = conn.prepare_cached(COMPLETE)?;
            let completed = statement.query_map([&rows], |_| Ok(()))?.count();
            assert_eq!(completed, leased.len(), "every lease was live");
            done += completed;
            leased.clear();
        }
        complete += started.elapsed().as_secs_f64();
        let started = Instant::now();
        conn.prepare_cached(GUARD)?.execute((queues, NOW))?;
        conn.prepare_cached(PROMOTE)?.execute((queues, NOW))?;
        conn.prepare_cached(EXPIRE)?.execute((queues, NOW))?;
        {
            let mut statement = conn.prepare_cached(&claim)?;
            statement.raw_bind_parameter(1, "default")?;
            statement.raw_bind_parameter(2, NOW)?;
            statement.raw_bind_parameter(3, PER_ROUND)?;
            statement.raw_bind_parameter(4, NOW + 30_000_000)?;
            statement.raw_bind_parameter(5, "statement_cost")?;
            let mut rows = statement.raw_query();
            while let Some(row) = rows.next()? {
                // Every column read, as the store reads a claimed job's row.
                for column in 0..row.as_ref().column_count() {
                    row.get_ref(column)?;
                }
                leased.push((row.get("id")?, row.get("lease_token")?));
            }
        }
        claiming += started.elapsed().as_secs_f64();
        let started = Instant::now();
        conn.execute_batch("COMMIT")?;
        commit += started.elapsed().as_secs_f64();
        if leased.is_empty() {
            break;
        }
    }
    assert_eq!(done, jobs, "every job completed");
    Ok(Cost {
        complete: micros_per_job(complete, jobs),
        claim: micros_per_job(claiming, jobs),
        commit: micros_per_job(commit, jobs),
    })
}

/// The raw loop of `benches/jobs/baseline.rs`, 128 jobs a round: microseconds per job.
fn raw(path: &Path, jobs: usize) -> rusqlite::Result<f64> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, state TEXT NOT NULL,
                            priority INTEGER NOT NULL, run_at INTEGER NOT NULL,
                            payload TEXT NOT NULL, attempt INTEGER NOT NULL,
                            lease_until INTEGER, finished_at INTEGER) STRICT;
         CREATE INDEX jobs_ready ON jobs (queue, priority, run_at, id) WHERE state = 'pending';",
    )?;
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO jobs (queue, state, priority, run_at, payload, attempt)
             VALUES ('default', 'pending', 0, ?1, ?2, 0)",
        )?;
        for i in 0..jobs {
            insert.execute((NOW - 1_000_000, format!("{{\"i\":{i}}}")))?;
        }
    }
    tx.commit()?;
    let started = Instant::now();
    let mut done = 0;
    while done < jobs {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let ids: Vec<i64> = conn
            .prepare_cached(
                "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_until = ?2
                 WHERE id IN (SELECT id FROM jobs
                              WHERE state = 'pending' AND queue = 'default' AND run_at <= ?1
                              ORDER BY priority, run_at, id LIMIT ?3)
                 RETURNING id",
            )?
            .query_map((NOW, NOW + 30_000_000, PER_ROUND), |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let ids_json = format!(
            "[{}]",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        conn.prepare_cached(
            "UPDATE jobs SET state = 'completed', finished_at = ?2
             WHERE id IN (SELECT value FROM json_each(?1)) AND state = 'running'",
        )?
        .execute((ids_json, NOW))?;
        conn.execute_batch("COMMIT")?;
        done += ids.len();
    }
    Ok(micros_per_job(started.elapsed().as_secs_f64(), jobs))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> rusqlite::Result<()> {
    let jobs: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |n| n.parse().expect("a number of jobs"));
    for checkpoints in [true, false] {
        let mut costs = Vec::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let conn = ours(&dir.path().join("ours.db"), jobs, checkpoints).await?;
            costs.push(ours_loop(&conn, jobs)?);
        }
        let part = |of: fn(&Cost) -> f64| median(costs.iter().map(of).collect());
        println!(
            "store's schema{}: {:.1} us/job (complete {:.1}, claim {:.1}, commit {:.1})",
            if checkpoints { "" } else { ", no checkpoint" },
            part(|cost| cost.total()),
            part(|cost| cost.complete),
            part(|cost| cost.claim),
            part(|cost| cost.commit),
        );
    }
    let mut runs = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().expect("a temporary directory");
        runs.push(raw(&dir.path().join("raw.db"), jobs)?);
    }
    println!("raw loop: {:.1} us/job", median(runs));
    Ok(())
}
