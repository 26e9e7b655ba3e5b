//! [`SqliteStoreOptions`]: where the database is and how hard it syncs.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use leasehold::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteSynchronous};

/// How many concurrent write calls one group commit takes at most, by default.
pub(crate) const DEFAULT_MAX_BATCH: usize = 128;

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
    fn to_sqlx(self) -> SqliteSynchronous {
        match self {
            Synchronous::Normal => SqliteSynchronous::Normal,
            Synchronous::Full => SqliteSynchronous::Full,
        }
    }

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
/// let same_file = SqliteStoreOptions::file("jobs.db");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteStoreOptions {
    target: Target,
    pub(crate) synchronous: Synchronous,
    busy_timeout: Duration,
    pub(crate) read_connections: u32,
    pub(crate) max_batch: usize,
}

impl SqliteStoreOptions {
    /// Options for the database at `url`: `sqlite://path/to/jobs.db` (created when
    /// missing), `sqlite:jobs.db`, `sqlite::memory:` for a private in-memory database
    /// that lives as long as the store, or a named one
    /// (`sqlite://name?mode=memory&cache=shared`).
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_target(Target::Url(url.into()))
    }

    /// Options for the database file at `path` (created when missing); any file name
    /// works, `?` and `#` included.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::with_target(Target::File(path.into()))
    }

    fn with_target(target: Target) -> Self {
        Self {
            target,
            synchronous: Synchronous::default(),
            busy_timeout: Duration::from_secs(5),
            read_connections: 4,
            max_batch: DEFAULT_MAX_BATCH,
        }
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

    /// Whether the options name an in-memory database (`sqlite::memory:`,
    /// `mode=memory`).
    pub(crate) fn is_in_memory(&self) -> bool {
        match &self.target {
            Target::Url(url) => is_memory_url(url),
            Target::File(_) => false,
        }
    }

    /// The file the writer may also open on its own ([`crate::direct`]): a file named
    /// plainly (a URL with parameters, `mode=ro` say, keeps every write in sqlx), whose
    /// commits do not sync (`synchronous=NORMAL`).
    pub(crate) fn direct_file(&self, base: &SqliteConnectOptions) -> Option<PathBuf> {
        let plain = match &self.target {
            Target::Url(url) => !url.contains('?') && !is_memory_url(url),
            Target::File(_) => true,
        };
        (plain && self.synchronous == Synchronous::Normal).then(|| base.get_filename().to_owned())
    }

    /// The sqlx options every connection of the store opens with.
    pub(crate) fn connect_options(&self) -> Result<SqliteConnectOptions, StoreError> {
        let options = match &self.target {
            Target::Url(url) => SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::backend(format!("invalid SQLite URL {url:?}: {e}")))?,
            Target::File(path) => SqliteConnectOptions::new().filename(path),
        };
        Ok(options
            .create_if_missing(true)
            .busy_timeout(self.busy_timeout)
            .foreign_keys(true)
            .synchronous(self.synchronous.to_sqlx()))
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

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Url(String),
    File(PathBuf),
}

/// Whether `url` names an in-memory database (`sqlite::memory:`, `mode=memory`).
fn is_memory_url(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

#[cfg(test)]
mod tests {
    use super::is_memory_url;

    #[test]
    fn memory_urls_are_recognized() {
        assert!(is_memory_url("sqlite::memory:"));
        assert!(is_memory_url("sqlite://:memory:"));
        assert!(is_memory_url("sqlite://jobs?mode=memory&cache=shared"));
        assert!(!is_memory_url("sqlite://jobs.db"));
        assert!(!is_memory_url("sqlite:memory.db"));
    }
}
