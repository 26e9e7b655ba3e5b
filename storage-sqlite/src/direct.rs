//! [`Direct`]: the writer's own connection, which it runs on its own thread, for
//! groups of plain enqueues and of lease writes (completions and a simple claim).
//!
//! Every sqlx call is a hand-off to sqlx's connection thread and back: two thread
//! wake-ups, which cost more than a small insert does. A lone caller enqueueing one
//! job at a time paid them on every call and ran at 0.8x a raw sqlx `INSERT` loop.
//! This connection (rusqlite: SQLite's C API, wrapped safely) runs in the writer task
//! itself, so the caller, the writer and SQLite can share one runtime thread, with no
//! wake-up between them.
//!
//! A worker's lease writes come here too: a group of completions of distinct jobs
//! and at most one claim of one queue, made the simple way (no limit seen stored).
//! Through sqlx, such a group was four hand-offs (`BEGIN`, the completions, the
//! claim, `COMMIT`) and a copy of every column of every claimed row
//! (`sqlite3_value_dup`), read again by the writer; here the rows are copied once
//! as they are, and the caller of the claim reads them into jobs on its own task
//! ([`CopiedRows`]): the writer, which every claim and completion waits for, is what
//! limits a busy worker. An idle worker's pickup of a new job (p50) took 0.41-0.48
//! ms through sqlx and 0.29 ms here on a quiet machine; 0.80 and 0.62 ms in a slow
//! sitting. When the claim's guard refuses (a limit stored, a lease of the queue
//! expired), the group fails here and runs the ordinary way, which makes the full
//! claim. It remembers the rowid of each job it leased, and a completion here finds
//! that job's row by it, skipping the index of ids (the id is still checked); a job
//! leased elsewhere completes by its id.
//!
//! It never blocks that thread for long, nor differently from sqlx:
//! - while the writer is a task, a group of more than a few dozen rows runs through
//!   `block_in_place` on a multi-thread runtime, which hands the thread's other tasks
//!   to another thread meanwhile; from its first claim here on, the writer runs on a
//!   thread of its own (see `crate::writer`);
//! - its busy timeout is zero: when another process holds the write lock, its
//!   `BEGIN IMMEDIATE` fails at once and the writer runs the group the ordinary way,
//!   whose wait for the lock happens on sqlx's thread;
//! - it is opened only where a commit does not sync (`synchronous=NORMAL` in WAL
//!   mode, the default; with `Synchronous::Full` every group goes through sqlx), and
//!   it does not checkpoint (`wal_autocheckpoint=0`): a connection of its own does,
//!   on Tokio's blocking pool, mostly while the writer goes on writing
//!   ([`Direct::checkpoint`], [`crate::checkpoint`]).
//!
//! Whatever fails here (a busy lock, a full disk, an id already stored) is rolled back
//! and the group runs again the ordinary way, which answers each error at its stage
//! (see [`crate::writer`]): only success is answered from here.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use leasehold::{JobId, Lease, StoreError};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql, Transaction, TransactionBehavior};
use time::OffsetDateTime;

use leasehold_sql::Param;
use leasehold_sql::filter::sql_limit;
use leasehold_sql::row::{Columns, micros};

use crate::bulk::{
    completion_rows, completions_of, jobs_to_insert, settle_completed, settle_inserted,
};
use crate::checkpoint::Checkpoints;
use crate::enqueue::row_params;
use crate::row::{ColumnNames, CopiedRows, job_id};
use crate::sql;
use crate::transition::Request;
use crate::transition::claim::{Claim, Claimed};
use crate::{JobMap, JobSet, job_set};

/// How many insert statements (one per group size) stay prepared.
const PREPARED_STATEMENTS: usize = 64;

/// At most how many jobs' rowids [`Direct`] remembers: a job leased here and ended
/// another way (a failure, a retry, a completion run again through sqlx) leaves its
/// entry behind, so the map is emptied when it would grow past this (about 3 MiB).
pub(crate) const REMEMBERED_ROWIDS: usize = 65_536;

/// The writer's own connection to a file database (see the module docs).
pub(crate) struct Direct {
    conn: Connection,
    /// The checkpoints of what it wrote, as [`pages_of`] counts it.
    checkpoints: Checkpoints,
    /// Where the columns of `claim_simple_choose.sql`'s rows are, found at its first
    /// claim here.
    claim_columns: Option<Arc<ColumnNames>>,
    /// The rowid of each job a claim committed here leased, until a completion of it
    /// runs here, which finds its row by the rowid (`complete_row_by_rowid.sql`).
    leased_rowids: JobMap<i64>,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("checkpoints", &self.checkpoints)
            .finish_non_exhaustive()
    }
}

impl Direct {
    /// Calls `hook` at each commit on this connection, on the thread that commits.
    #[cfg(test)]
    pub(crate) fn on_commit(&self, hook: impl FnMut() -> bool + Send + 'static) {
        self.conn
            .commit_hook(Some(hook))
            .expect("a commit hook on an open connection");
    }

    /// Opens the file database at `path`, which the store has opened and migrated
    /// with `synchronous=NORMAL`, for writing, and another to checkpoint it with;
    /// `None` when it cannot be written.
    pub(crate) fn open(path: &Path) -> Option<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let opened = Connection::open_with_flags(path, flags).and_then(|conn| {
            conn.busy_timeout(Duration::ZERO)?;
            conn.pragma_update(None, "foreign_keys", true)?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            conn.pragma_update(None, "temp_store", "MEMORY")?;
            conn.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
            Ok(conn)
        });
        // Without it, every group runs through sqlx, as it did before.
        let conn = opened.ok()?;
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
            return None;
        }
        Some(Self {
            conn,
            checkpoints: Checkpoints::open(path)?,
            claim_columns: None,
            leased_rowids: JobMap::default(),
        })
    }

    /// Runs `batch`, a group of plain enqueues only (the enqueues part of
    /// [`for_own_connection`](crate::bulk::for_own_connection)), in one transaction, a
    /// multi-row insert per [`sql::ONE_STATEMENT_ROWS`] jobs, and settles each call's
    /// answer.
    ///
    /// # Errors
    ///
    /// SQLite's error; the transaction is rolled back and no answer is settled.
    pub(crate) fn enqueues(&mut self, batch: &mut [Request]) -> rusqlite::Result<()> {
        let rows = jobs_to_insert(batch);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for chunk in rows.chunks(sql::ONE_STATEMENT_ROWS) {
            let mut insert = tx.prepare_cached(sql::enqueue_rows(chunk.len()))?;
            let params = chunk.iter().flat_map(|&(job, now)| row_params(job, now));
            for (at, param) in (1..).zip(params) {
                insert.raw_bind_parameter(at, Bound(&param))?;
            }
            insert.raw_execute()?;
        }
        tx.commit()?;
        self.checkpoints.wrote(pages_of(rows.len()));
        for request in batch {
            if let Request::Enqueue(call) = request {
                settle_inserted(call);
            }
        }
        Ok(())
    }

    /// Runs `batch`, a group of lease writes only
    /// ([`for_own_connection`](crate::bulk::for_own_connection)), in one
    /// transaction: its completions (`complete_row.sql`, or `complete_bulk.sql` when
    /// some lease was not live), then its claim the simple way (claim_simple_guard.sql,
    /// promote_due.sql, fail_expired_leases.sql, claim_simple_choose.sql,
    /// lease_rows.sql); settles the answers of the completions it wrote and of
    /// the claim. A completion whose lease was not live stays unanswered, for the
    /// writer to run again the ordinary way, which says why.
    ///
    /// # Errors
    ///
    /// SQLite's error (the guard's among them: a limit stored, or a lease of the queue
    /// expired, which only the full claim handles), or a claimed row that does not
    /// read back; the transaction is rolled back and no answer is settled.
    pub(crate) fn lease_writes(&mut self, batch: &mut [Request]) -> Result<(), Failed> {
        let completions = completions_of(batch);
        // Taken out whatever happens: a completion that fails here runs again through
        // sqlx, and ends the lease there.
        let rowids: Vec<Option<i64>> = completions
            .iter()
            .map(|(lease, _)| self.leased_rowids.remove(&lease.job_id))
            .collect();
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let completed = if complete_all(&tx, &completions, &rowids)? {
            completions.iter().map(|(lease, _)| lease.job_id).collect()
        } else {
            // Some lease was not live, or a job has dependents: the group starts over
            // and learns which jobs it completes.
            tx.rollback()?;
            tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            complete_answered(&tx, &completions)?
        };
        let mut claimed = None;
        for request in batch.iter() {
            if let Request::Claim(call) = request {
                claimed = Some(claim(&tx, call.transition(), &mut self.claim_columns)?);
            }
        }
        tx.commit()?;
        if let Some((_, _, rowids)) = &claimed {
            self.remember(rowids);
        }
        self.checkpoints.wrote(pages_of_lease_writes(
            completed.len() + claimed.as_ref().map_or(0, |(rows, ..)| rows.len()),
        ));
        settle_completed(batch, &completed);
        let claim = batch.iter_mut().find_map(|request| match request {
            Request::Claim(call) => Some(call),
            _ => None,
        });
        if let (Some(call), Some((rows, limited, _))) = (claim, claimed) {
            // What the rows say is stored picks the next claim's form.
            if let Some(limited) = limited {
                call.transition().limits_seen.set(limited);
            }
            let now = call.transition().now;
            call.settle(Claimed::Rows(rows, now));
        }
        Ok(())
    }

    /// The rowids it remembers, for tests to read and spoil.
    #[cfg(test)]
    pub(crate) fn leased_rowids(&mut self) -> &mut JobMap<i64> {
        &mut self.leased_rowids
    }

    /// Remembers the rowid of each job of `rowids` (its id and rowid), leased by a
    /// claim committed here, for its completion here.
    pub(crate) fn remember(&mut self, rowids: &[(JobId, i64)]) {
        if self.leased_rowids.len() + rowids.len() > REMEMBERED_ROWIDS {
            // Mostly jobs that ended another way; the rest complete by id.
            self.leased_rowids.clear();
        }
        self.leased_rowids.extend(rowids.iter().copied());
    }

    /// Whether this connection is still in a transaction: after a failure whose
    /// rollback failed too (SQLite rolls back by itself on most failures, and
    /// rusqlite sends `ROLLBACK` for the rest).
    pub(crate) fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Starts a checkpoint of what this connection wrote, when one is due: beside the
    /// writer, or now and then one whose handle it answers, for the writer to await
    /// ([`Checkpoints::start`]). Must be called inside a Tokio runtime.
    pub(crate) fn checkpoint(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        self.checkpoints.start()
    }

    /// The connection its checkpoints run on, for a test to keep busy.
    #[cfg(test)]
    pub(crate) fn checkpoint_connection(&self) -> Arc<std::sync::Mutex<Connection>> {
        self.checkpoints.connection()
    }

    /// The checkpoint running beside the writer, if any, for it to await before it
    /// closes this connection ([`Checkpoints::running`]).
    pub(crate) fn checkpoint_running(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        self.checkpoints.running()
    }
}

/// Completes each `(lease, now)` of `completions` (of distinct jobs) in `tx`, those
/// whose rowid `rowids` knows (in the same order) by it (`complete_row_by_rowid.sql`),
/// the others by id (`complete_row.sql`; both through [`execute_padded`]); whether it
/// completed them all. When it did not, some did and others did not: the caller rolls
/// back.
fn complete_all(
    tx: &Transaction<'_>,
    completions: &[(Lease, OffsetDateTime)],
    rowids: &[Option<i64>],
) -> rusqlite::Result<bool> {
    let (by_rowid, by_id): (Vec<_>, Vec<_>) = completions
        .iter()
        .zip(rowids)
        .partition(|(_, rowid)| rowid.is_some());
    let bind_lease = |complete: &mut rusqlite::Statement<'_>, at, (lease, now): &(Lease, _)| {
        complete.raw_bind_parameter(at, &lease.job_id.as_uuid().as_bytes()[..])?;
        complete.raw_bind_parameter(at + 1, lease.token)?;
        complete.raw_bind_parameter(at + 2, micros(*now))
    };
    let completed = execute_padded(
        tx,
        &by_rowid,
        sql::complete_rows_by_rowid,
        Bind {
            first: 1,
            per_row: 4,
        },
        |_| Ok(()),
        |complete, at, (completion, rowid)| {
            complete.raw_bind_parameter(at, rowid)?;
            bind_lease(complete, at + 1, completion)
        },
    )? + execute_padded(
        tx,
        &by_id,
        sql::complete_rows,
        Bind {
            first: 1,
            per_row: 3,
        },
        |_| Ok(()),
        |complete, at, (completion, _)| bind_lease(complete, at, completion),
    )?;
    Ok(completed == completions.len())
}

/// Where a padded statement's rows are bound: from parameter `first` on, `per_row`
/// parameters a row.
#[derive(Debug, Clone, Copy)]
struct Bind {
    first: usize,
    per_row: usize,
}

/// Runs `statement` (one of nine sizes: `statement(rows)` for a power of two of rows
/// up to [`sql::PADDED_STATEMENT_ROWS`]) over `items` in `tx`, as few times as their
/// count allows, each run's last rows padded with nulls (which match no row); the
/// rows it changed in all. `each_run` binds what every run of it takes, `bind_row`
/// one item's row from the parameter given.
fn execute_padded<T>(
    tx: &Transaction<'_>,
    items: &[T],
    statement: fn(usize) -> &'static str,
    bind: Bind,
    each_run: impl Fn(&mut rusqlite::Statement<'_>) -> rusqlite::Result<()>,
    bind_row: impl Fn(&mut rusqlite::Statement<'_>, usize, &T) -> rusqlite::Result<()>,
) -> rusqlite::Result<usize> {
    let mut changed = 0;
    for group in items.chunks(sql::PADDED_STATEMENT_ROWS) {
        let rows = group.len().next_power_of_two();
        let mut run = tx.prepare_cached(statement(rows))?;
        each_run(&mut run)?;
        for (at, item) in (bind.first..).step_by(bind.per_row).zip(group) {
            bind_row(&mut run, at, item)?;
        }
        // The padding: a cached statement keeps the values of its last run.
        let end = bind.first + bind.per_row * rows;
        for at in bind.first + bind.per_row * group.len()..end {
            run.raw_bind_parameter(at, rusqlite::types::Null)?;
        }
        changed += run.raw_execute()?;
    }
    Ok(changed)
}

/// Completes each `(lease, now)` of `completions` (of distinct jobs) whose lease is
/// live, in one `complete_bulk.sql` in `tx`; the ids of the jobs it completed.
fn complete_answered(
    tx: &Transaction<'_>,
    completions: &[(Lease, OffsetDateTime)],
) -> Result<JobSet, Failed> {
    let mut completed = job_set(completions.len());
    let mut complete = tx.prepare_cached(sql::COMPLETE_BULK)?;
    let mut ids = complete.query([completion_rows(completions)])?;
    while let Some(row) = ids.next()? {
        // complete_bulk.sql answers one column, the id.
        completed.insert(job_id(row.get_ref(0)?.as_blob()?)?);
    }
    Ok(completed)
}

/// The columns a simple claim sets to values it was given, which its statement here
/// does not answer (`claim_simple_choose.sql`): the rows' state, queue, lease, worker
/// and attempt time, as `parts/claim_lease.sql` writes them.
const CLAIM_KNOWS: [&str; 5] = ["state", "queue", "lease_until", "worker", "attempted_at"];

/// What a claim made here answers: its jobs' rows as copied (for the caller to read,
/// see [`CopiedRows`]), what they say of the limits stored (`None` when it took no
/// job), and each job's id and rowid.
type ClaimedHere = (CopiedRows, Option<bool>, Vec<(JobId, i64)>);

/// Runs `claim` the simple way in `tx` (see [`ClaimedHere`]). `columns`: where the
/// claim's columns are, found at the first claim.
///
/// The jobs are chosen and read as leased first (`claim_simple_choose.sql`), then
/// leased by rowid (`lease_rows.sql`), rather than leased by `claim_queue_simple.sql`,
/// whose `RETURNING` kept every row in a temporary table.
fn claim(
    tx: &Transaction<'_>,
    claim: &Claim,
    columns: &mut Option<Arc<ColumnNames>>,
) -> Result<ClaimedHere, Failed> {
    let queues = claim.queues_json()?;
    let now = micros(claim.now);
    for statement in [
        sql::CLAIM_SIMPLE_GUARD,
        sql::PROMOTE_DUE,
        sql::FAIL_EXPIRED_LEASES,
    ] {
        tx.prepare_cached(statement)?
            .execute((queues.as_str(), now))?;
    }
    let mut choose = tx.prepare_cached(sql::CLAIM_SIMPLE_CHOOSE)?;
    let columns =
        columns.get_or_insert_with(|| Arc::new(ColumnNames::of(&choose).and_known(&CLAIM_KNOWS)));
    let mut copied = CopiedRows::new(Arc::clone(columns), claim.limit);
    let queue = claim.queues.first().map_or("", String::as_str);
    let lease_until = micros(claim.lease_until);
    // In the order of CLAIM_KNOWS.
    copied.know(&[
        ValueRef::Text(b"running"),
        ValueRef::Text(queue.as_bytes()),
        ValueRef::Integer(lease_until),
        ValueRef::Text(claim.worker.as_bytes()),
        ValueRef::Integer(now),
    ]);
    let mut rowids = Vec::with_capacity(claim.limit.min(sql::PADDED_STATEMENT_ROWS));
    let mut rows = choose.query((queue, now, sql_limit(claim.limit)))?;
    while let Some(row) = rows.next()? {
        // claim_simple_choose.sql's first columns: the rowid, the id.
        let id = job_id(&row.get::<_, [u8; 16]>(1)?)?;
        rowids.push((id, row.get::<_, i64>(0)?));
        copied.push(row)?;
    }
    drop(rows);
    lease_rows(tx, &rowids, now, lease_until, &claim.worker)?;
    // The same on every row.
    let limited = (copied.len() > 0)
        .then(|| copied.row(0).flag("limited"))
        .transpose()?;
    Ok((copied, limited, rowids))
}

/// Leases the jobs of `rowids` (each job's id and rowid) in `tx` (`lease_rows.sql`,
/// see [`execute_padded`]) at `now` until `lease_until` to `worker`.
///
/// # Errors
///
/// SQLite's, or [`Failed`] when a job was not available, which its choice in the same
/// transaction rules out.
fn lease_rows(
    tx: &Transaction<'_>,
    rowids: &[(JobId, i64)],
    now: i64,
    lease_until: i64,
    worker: &str,
) -> Result<(), Failed> {
    let leased = execute_padded(
        tx,
        rowids,
        sql::lease_rows,
        Bind {
            first: 6,
            per_row: 1,
        },
        |lease| {
            lease.raw_bind_parameter(2, now)?;
            lease.raw_bind_parameter(4, lease_until)?;
            lease.raw_bind_parameter(5, worker)
        },
        |lease, at, (_, rowid)| lease.raw_bind_parameter(at, rowid),
    )?;
    if leased == rowids.len() {
        Ok(())
    } else {
        Err(Failed)
    }
}

/// A group of lease writes the writer's own connection did not commit: SQLite failed,
/// or a row or parameter of the group did not read back or encode. The cause is not
/// kept: the writer runs the group again the ordinary way, which answers each error at
/// its stage.
#[derive(Debug)]
pub(crate) struct Failed;

impl From<rusqlite::Error> for Failed {
    fn from(_: rusqlite::Error) -> Self {
        Self
    }
}

impl From<rusqlite::types::FromSqlError> for Failed {
    fn from(_: rusqlite::types::FromSqlError) -> Self {
        Self
    }
}

impl From<StoreError> for Failed {
    fn from(_: StoreError) -> Self {
        Self
    }
}

/// A [`Param`] as rusqlite binds it, in SQLite's types as `crate::row::bind` binds
/// it through sqlx: an id as a 16-byte blob, a priority or flag as an integer.
struct Bound<'p>(&'p Param<'p>);

impl ToSql for Bound<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let null = || ToSqlOutput::Owned(Value::Null);
        Ok(match self.0 {
            Param::Id(id) => id.as_ref().map_or_else(null, |id| {
                ToSqlOutput::Borrowed(ValueRef::Blob(id.as_uuid().as_bytes()))
            }),
            Param::SmallInteger(priority) => ToSqlOutput::from(i64::from(*priority)),
            Param::Integer(value) => value.map_or_else(null, ToSqlOutput::from),
            Param::Text(text) => text.as_deref().map_or_else(null, ToSqlOutput::from),
            Param::Flag(flag) => flag.map_or_else(null, ToSqlOutput::from),
        })
    }
}

/// About how many WAL pages a commit of `rows` new jobs writes: the pages its rows
/// fill (a job's row and index entries take a few hundred bytes) and the few it
/// rewrites whatever the count (the last page of the table and of each index it
/// touches, and their parents).
fn pages_of(rows: usize) -> usize {
    6 + rows / 8
}

/// About how many WAL pages a commit of lease writes of `jobs` jobs writes: a claim
/// or completion rewrites a job's row where it lies, and its entries in two or three
/// indexes. Claims and completions of 128 jobs each, of jobs enqueued side by side,
/// wrote about 90 pages: this counts more, so checkpoints come early, never late.
fn pages_of_lease_writes(jobs: usize) -> usize {
    6 + jobs / 2
}
