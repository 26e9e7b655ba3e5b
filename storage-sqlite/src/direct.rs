//! [`Direct`]: the writer's own connection, which it runs on its own thread, for
//! groups of plain enqueues.
//!
//! Every sqlx call is a hand-off to sqlx's connection thread and back: two thread
//! wake-ups, which cost more than a small insert does. A lone caller enqueueing one
//! job at a time paid them on every call and ran at 0.8x a raw sqlx `INSERT` loop.
//! This connection (rusqlite: SQLite's C API, wrapped safely) runs in the writer task
//! itself, so the caller, the writer and SQLite can share one runtime thread, with no
//! wake-up between them.
//!
//! It never blocks that thread for long, nor differently from sqlx:
//! - its busy timeout is zero: when another process holds the write lock, its
//!   `BEGIN IMMEDIATE` fails at once and the writer runs the group the ordinary way,
//!   whose wait for the lock happens on sqlx's thread;
//! - it is opened only where a commit does not sync (`synchronous=NORMAL` in WAL
//!   mode, the default; with `Synchronous::Full` every group goes through sqlx), and
//!   it does not checkpoint (`wal_autocheckpoint=0`): the writer checkpoints through
//!   sqlx, on sqlx's thread, after every [`CHECKPOINT_AFTER_PAGES`] pages or so that
//!   this connection wrote ([`Direct::checkpoint_due`]).
//!
//! Whatever fails here (a busy lock, a full disk, an id already stored) is rolled back
//! and the group runs again the ordinary way, which answers each error at its stage
//! (see [`crate::writer`]): only success is answered from here.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql, TransactionBehavior};

use leasehold_sql::Param;

use crate::bulk::{jobs_to_insert, settle_inserted};
use crate::enqueue::row_params;
use crate::sql;
use crate::transition::Request;

/// About how many WAL pages this connection may write before the writer checkpoints:
/// SQLite's own `wal_autocheckpoint` default.
const CHECKPOINT_AFTER_PAGES: usize = 1000;

/// How many insert statements (one per group size) stay prepared.
const PREPARED_STATEMENTS: usize = 64;

/// The writer's own connection to a file database (see the module docs).
pub(crate) struct Direct {
    conn: Connection,
    /// WAL pages written since the last checkpoint, as [`pages_of`] counts them.
    pages: usize,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("pages", &self.pages)
            .finish_non_exhaustive()
    }
}

impl Direct {
    /// Opens the file database at `path`, which the store has opened and migrated
    /// with `synchronous=NORMAL`, for writing; `None` when it cannot be written.
    pub(crate) fn open(path: &Path) -> Option<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let opened = Connection::open_with_flags(path, flags).and_then(|conn| {
            conn.busy_timeout(Duration::ZERO)?;
            conn.pragma_update(None, "foreign_keys", true)?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            conn.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
            Ok(conn)
        });
        // Without it, every group runs through sqlx, as it did before.
        let conn = opened.ok()?;
        (!conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true)).then_some(Self { conn, pages: 0 })
    }

    /// Runs `batch`, a group of plain enqueues only
    /// ([`plain_enqueues`](crate::bulk::plain_enqueues)), in one transaction, a
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
        self.pages += pages_of(rows.len());
        for request in batch {
            if let Request::Enqueue(call) = request {
                settle_inserted(call);
            }
        }
        Ok(())
    }

    /// Whether this connection is still in a transaction: after a failure whose
    /// rollback failed too (SQLite rolls back by itself on most failures, and
    /// rusqlite sends `ROLLBACK` for the rest).
    pub(crate) fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Whether this connection wrote enough since the last checkpoint for the writer
    /// to run one; counts it done.
    pub(crate) fn checkpoint_due(&mut self) -> bool {
        let due = self.pages >= CHECKPOINT_AFTER_PAGES;
        if due {
            self.pages = 0;
        }
        due
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
