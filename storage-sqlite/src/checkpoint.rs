//! [`Checkpoints`]: the checkpoints of what the writer's own connection
//! ([`crate::direct`]) wrote, which it does not checkpoint itself
//! (`wal_autocheckpoint=0`).
//!
//! A checkpoint copies the log's pages into the database file and syncs both. The
//! writer, which every claim and completion waits for, used to wait for each one
//! too: on `statement_cost`'s loop a `COMMIT` took 2.2-2.4 us a job with checkpoints
//! and 1.0 without. So most checkpoints now run beside it, on a connection of their
//! own on Tokio's blocking pool (on a 2-core machine, the core the writer leaves
//! idle), while the writer goes on writing.
//!
//! Run beside a busy writer, though, a checkpoint never catches up with the log: it
//! copies the pages logged when it began, and the writer has logged more by the time
//! it ends. SQLite restarts the log from its beginning only at a write that finds
//! every page copied, so the log would grow without bound. Every
//! [`WAIT_EVERY`]th checkpoint is therefore one the writer waits for, like the old
//! ones; the checkpoints beside it have copied most of the log by then, so it has
//! little left to copy, and the writer's next write restarts the log (unless a
//! reader of another process still reads its old pages, as before). The log stays
//! under about [`WAIT_EVERY`] x [`CHECKPOINT_AFTER_PAGES`] pages.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::task::JoinHandle;

use crate::sql;

/// About how many WAL pages the writer's own connection may write before a
/// checkpoint: half SQLite's own `wal_autocheckpoint` default, since the log grows
/// to [`WAIT_EVERY`] times as many pages before one the writer waits for.
pub(crate) const CHECKPOINT_AFTER_PAGES: usize = 500;

/// One checkpoint in this many is waited for by the writer (see the module docs).
pub(crate) const WAIT_EVERY: usize = 4;

/// The checkpoints of what the writer's own connection wrote (see the module docs).
pub(crate) struct Checkpoints {
    /// The connection that checkpoints, shared with the blocking task that runs it.
    conn: Arc<Mutex<Connection>>,
    /// WAL pages written since the last checkpoint, as the writer counts them.
    pages: usize,
    /// How many checkpoints started.
    started: usize,
    /// The last checkpoint run beside the writer, until it is seen finished.
    beside: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoints")
            .field("pages", &self.pages)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Checkpoints {
    /// Opens a connection to the file database at `path` (migrated, in WAL mode) to
    /// checkpoint it with; `None` when it cannot be opened.
    pub(crate) fn open(path: &Path) -> Option<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).ok()?;
        // A passive checkpoint never waits for a lock; nothing else runs here.
        conn.busy_timeout(Duration::ZERO).ok()?;
        conn.pragma_update(None, "wal_autocheckpoint", 0).ok()?;
        Some(Self {
            conn: Arc::new(Mutex::new(conn)),
            pages: 0,
            started: 0,
            beside: None,
        })
    }

    /// Counts `pages` more WAL pages written by the writer's own connection.
    pub(crate) fn wrote(&mut self, pages: usize) {
        self.pages += pages;
    }

    /// Starts a checkpoint when [`CHECKPOINT_AFTER_PAGES`] pages were written since
    /// the last one and that one has finished: beside the writer, or, every
    /// [`WAIT_EVERY`]th time, one whose handle it answers, for the writer to await.
    /// Must be called inside a Tokio runtime.
    pub(crate) fn start(&mut self) -> Option<JoinHandle<()>> {
        if self.pages < CHECKPOINT_AFTER_PAGES
            || self
                .beside
                .as_ref()
                .is_some_and(|beside| !beside.is_finished())
        {
            // A checkpoint still running beside the writer: the pages keep counting,
            // and the next group looks again.
            return None;
        }
        self.pages = 0;
        self.started += 1;
        let conn = Arc::clone(&self.conn);
        let checkpoint = tokio::task::spawn_blocking(move || {
            // A failure (another process checkpointing, a full disk) is left to the
            // next checkpoint, as SQLite leaves its own automatic ones.
            if let Ok(conn) = conn.lock() {
                let _ = conn.query_row(sql::CHECKPOINT_PASSIVE, [], |_| Ok(()));
            }
        });
        if self.started.is_multiple_of(WAIT_EVERY) {
            Some(checkpoint)
        } else {
            self.beside = Some(checkpoint);
            None
        }
    }

    /// The connection that checkpoints, for a test to keep busy.
    #[cfg(test)]
    pub(crate) fn connection(&self) -> Arc<Mutex<Connection>> {
        Arc::clone(&self.conn)
    }

    /// The checkpoint running beside the writer, if any, for the writer to await
    /// before it closes the connections: the last connection to the file to close
    /// checkpoints the log and removes it, and should be the pool's, within
    /// [`SqliteStore::close`](crate::SqliteStore::close).
    pub(crate) fn running(&mut self) -> Option<JoinHandle<()>> {
        self.beside.take()
    }
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
