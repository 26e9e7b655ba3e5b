//! Opening a [`SqliteStore`]: pools, schema, settings, the writer task.

use leasehold::StoreError;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::direct::Direct;
use crate::error::{at_database, store_error};
use crate::options::{DEFAULT_MAX_BATCH, SqliteStoreOptions};
use crate::schema::{Expected, prepare, verify_settings};
use crate::store::SqliteStore;
use crate::transition::claim::LimitsSeen;
use crate::writer::Writer;

impl SqliteStore {
    /// Opens (creating it when missing) and migrates the database at `url`, with the
    /// default [`SqliteStoreOptions`].
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::connect_with`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(SqliteStoreOptions::new(url)).await
    }

    /// Opens (creating it when missing) and migrates the database `options` name, and
    /// verifies its settings: WAL (for a file), the synchronous mode, the busy timeout,
    /// foreign keys on.
    ///
    /// Must be called inside a Tokio runtime, which then runs the store's writer task.
    ///
    /// # Errors
    ///
    /// [`StoreError::Incompatible`] for a file that is not a SQLite database, is
    /// corrupt, belongs to another application, or was migrated by a newer
    /// leasehold-sqlite; [`StoreError::Permanent`], naming the file and what to do,
    /// when it cannot be opened (a missing directory, a path that is a directory, no
    /// permission) or must be migrated but is read-only or on a full disk;
    /// [`StoreError::Busy`] when another writer held the database past the busy
    /// timeout; [`StoreError::Backend`] for anything else (a bad URL, a setting that
    /// does not read back as set).
    ///
    /// A database that needs no migration opens read-only (`?mode=ro`), for reads:
    /// its writes then fail with [`StoreError::Permanent`].
    pub async fn connect_with(options: SqliteStoreOptions) -> Result<Self, StoreError> {
        let busy_timeout = options.busy_timeout_millis()?;
        let base = options.connect_options()?;
        let path = base.get_filename().to_owned();
        Self::open(options, base, busy_timeout)
            .await
            .map_err(|error| at_database(error, &path))
    }

    async fn open(
        options: SqliteStoreOptions,
        base: SqliteConnectOptions,
        busy_timeout: i64,
    ) -> Result<Self, StoreError> {
        let memory = options.is_in_memory();
        let direct_file = options.direct_file(&base);
        // One connection that never closes: an in-memory database lives only as long
        // as a connection to it.
        let writer_pool = pool_options(1, memory)
            .connect_with(base.clone())
            .await
            .map_err(store_error)?;
        let mut conn = writer_pool.acquire().await.map_err(store_error)?;
        let in_memory = prepare(&mut conn).await?;
        let expected = Expected {
            journal_mode: if in_memory { "memory" } else { "wal" },
            synchronous: Some(options.synchronous),
            busy_timeout: Some(busy_timeout),
        };
        let settings = verify_settings(&mut conn, expected).await?;
        drop(conn);
        // Opened once the database is migrated and in WAL mode.
        let direct = direct_file
            .filter(|_| !in_memory)
            .and_then(|file| Direct::open(&file));

        let reader = if in_memory {
            writer_pool.clone()
        } else {
            let reader = pool_options(options.read_connections, false)
                .connect_with(base)
                .await
                .map_err(store_error)?;
            let mut conn = reader.acquire().await.map_err(store_error)?;
            verify_settings(&mut conn, expected).await?;
            drop(conn);
            reader
        };
        Ok(Self {
            reader,
            // The writer's pool is its own (but for an in-memory database, whose one
            // connection serves reads too).
            writer: Writer::spawn(
                writer_pool.clone(),
                in_memory,
                !in_memory,
                options.max_batch,
                direct,
            ),
            writer_pool,
            settings,
            limits_seen: LimitsSeen::default(),
        })
    }

    /// A store over an existing pool, which serves both reads and the writer (one
    /// connection at a time). Migrates the database and turns WAL on for a file; the
    /// synchronous mode and busy timeout are the pool's own.
    ///
    /// For an in-memory database the pool must keep one connection open for good
    /// (`min_connections(1)`, no idle timeout or lifetime).
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::connect_with`].
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        let path = pool.connect_options().get_filename().to_owned();
        Self::over_pool(pool)
            .await
            .map_err(|error| at_database(error, &path))
    }

    async fn over_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        let mut conn = pool.acquire().await.map_err(store_error)?;
        let in_memory = prepare(&mut conn).await?;
        let expected = Expected {
            journal_mode: if in_memory { "memory" } else { "wal" },
            synchronous: None,
            busy_timeout: None,
        };
        let settings = verify_settings(&mut conn, expected).await?;
        drop(conn);
        Ok(Self {
            reader: pool.clone(),
            // The application's pool: the writer hands its connection back after each group.
            writer: Writer::spawn(pool.clone(), in_memory, false, DEFAULT_MAX_BATCH, None),
            writer_pool: pool,
            settings,
            limits_seen: LimitsSeen::default(),
        })
    }
}

fn pool_options(connections: u32, keep_open: bool) -> SqlitePoolOptions {
    let options = SqlitePoolOptions::new()
        .max_connections(connections)
        // The connection is checked by its first statement; a ping per write would
        // double the round trips.
        .test_before_acquire(false);
    if keep_open {
        options
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        options
    }
}
