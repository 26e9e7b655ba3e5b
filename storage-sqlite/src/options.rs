//! [`SqliteStoreOptions`]: where the database is and how hard it syncs.

use std::time::Duration;

use leasehold::StoreError;

/// How hard a commit waits for the disk (`PRAGMA synchronous`) in WAL mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Synchronous {
    /// `synchronous=NORMAL`, the default: a commit is durable once it is in the
    /// write-ahead log, which is synced at checkpoints. Survives a crash or kill of the
    /// process at any point; a power loss or OS crash may lose the last commits (never
    /// corrupts the database).
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit syncs the write-ahead log before it returns.
    /// Also survives power loss and OS crashes, at the cost of one fsync per commit
    /// (group commit shares it among concurrent callers).
    Full,
}

impl Synchronous {
    /// The value `PRAGMA synchronous` reads back for this mode.
    pub(crate) const fn pragma_value(self) -> i64 {
        match self {
            Synchronous::Normal => 1,
            Synchronous::Full => 2,
        }
    }
}

/// How to open a [`SqliteStore`](crate::SqliteStore).
///
/// ```
/// use std::time::Duration;
/// use leasehold_sqlite::{SqliteStoreOptions, Synchronous};
///
/// let options = SqliteStoreOptions::new("sqlite://jobs.db")
///     .synchronous(Synchronous::Full)
///     .busy_timeout(Duration::from_secs(10));
/// assert_eq!(options.url(), "sqlite://jobs.db");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteStoreOptions {
    url: String,
    synchronous: Synchronous,
    busy_timeout: Duration,
    read_connections: u32,
    max_batch: usize,
}

impl SqliteStoreOptions {
    /// Options for the database at `url`: `sqlite://path/to/jobs.db` (created when
    /// missing), `sqlite:jobs.db`, or `sqlite::memory:` for a private in-memory
    /// database that lives as long as the store.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            synchronous: Synchronous::default(),
            busy_timeout: Duration::from_secs(5),
            read_connections: 4,
            max_batch: 128,
        }
    }

    /// Options for the database file at `path` (created when missing).
    pub fn file(path: impl AsRef<std::path::Path>) -> Self {
        Self::new(format!("sqlite://{}", path.as_ref().display()))
    }

    /// Sets how hard commits sync to disk; [`Synchronous::Normal`] by default.
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// How long a write waits for another connection's (or process's) write
    /// transaction before it fails with [`StoreError::Busy`]; 5 s by default.
    pub fn busy_timeout(mut self, busy_timeout: Duration) -> Self {
        self.busy_timeout = busy_timeout;
        self
    }

    /// How many connections serve reads (`get`, `list`, `count`, `next_due`); 4 by
    /// default, at least 1. An in-memory database uses its one connection for all.
    pub fn read_connections(mut self, read_connections: u32) -> Self {
        self.read_connections = read_connections.max(1);
        self
    }

    /// At most this many concurrent write calls are committed in one transaction
    /// (group commit); 128 by default, at least 1. Heartbeats go first in every batch.
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn synchronous_mode(&self) -> Synchronous {
        self.synchronous
    }

    pub(crate) fn busy_timeout_value(&self) -> Duration {
        self.busy_timeout
    }

    pub(crate) fn read_connections_value(&self) -> u32 {
        self.read_connections
    }

    pub(crate) fn max_batch_value(&self) -> usize {
        self.max_batch
    }

    /// The busy timeout in whole milliseconds, as `PRAGMA busy_timeout` reads it.
    pub(crate) fn busy_timeout_millis(&self) -> Result<i64, StoreError> {
        i64::try_from(self.busy_timeout.as_millis()).map_err(|_| {
            StoreError::backend(format!(
                "busy timeout {:?} is too long for SQLite",
                self.busy_timeout
            ))
        })
    }
}
