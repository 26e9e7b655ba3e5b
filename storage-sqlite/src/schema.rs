//! The schema at connect: refuse what is not ours, turn WAL on, migrate, verify.
//!
//! Migrations are embedded with `sqlx::migrate!` and recorded in a table of their own,
//! `_leasehold_migrations`, so an application's own sqlx migrations never collide with
//! them. A database is refused, before anything in it changes, when it holds tables
//! but no leasehold schema (another application's database) or has applied a
//! migration this build does not know (written by a newer leasehold-sqlite): the
//! verdict is `leasehold_sql::schema`'s, the reading of tables and versions is here.

use leasehold::StoreError;
use leasehold_sql::schema::{Home, MIGRATIONS_TABLE, ScriptDialect, ScriptMigration};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Connection, Row, SqliteConnection};

use crate::error::store_error;
use crate::options::Synchronous;
use crate::sql;

/// The embedded migrations, recorded in [`MIGRATIONS_TABLE`].
pub(crate) fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// Checks the database is a leasehold one (or empty), turns WAL on for a file
/// database, and applies the missing migrations in one `BEGIN IMMEDIATE` transaction
/// (so processes connecting at once migrate exactly once).
///
/// Returns whether the database lives in memory.
pub(crate) async fn prepare(conn: &mut SqliteConnection) -> Result<bool, StoreError> {
    check_compatible(conn).await?;
    let in_memory = journal_mode(conn).await? == "memory";
    if !in_memory {
        let mode = switch_to_wal(conn).await?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::backend(format!(
                "SQLite kept journal_mode={mode} when asked for WAL (is the file on a \
                 network or read-only filesystem?); leasehold needs WAL"
            )));
        }
    }
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(store_error)?;
    // Again under the write lock: another process may have written since.
    check_compatible(&mut tx).await?;
    // `run_direct` is `run` without the `Acquire` bound that makes the future not
    // `Send`-general (sqlx's own workaround).
    migrator()
        .run_direct(None, &mut *tx, false)
        .await
        .map_err(migrate_error)?;
    tx.commit().await.map_err(store_error)?;
    Ok(in_memory)
}

/// Asks for WAL; answers the journal mode SQLite then reports.
///
/// Switching a new file to WAL takes an exclusive lock that SQLite does not wait for
/// with its busy handler: when several connections open the same new file at once,
/// the switch answers `SQLITE_BUSY` at once. So a busy answer is tried again, every
/// 10 ms, for as long as the connection's busy timeout, as any other lock would be
/// waited for (another connection has usually switched the file meanwhile).
async fn switch_to_wal(conn: &mut SqliteConnection) -> Result<String, StoreError> {
    let timeout: i64 = setting(conn, "timeout").await?;
    let timeout = std::time::Duration::from_millis(u64::try_from(timeout).unwrap_or(0));
    let started = tokio::time::Instant::now();
    loop {
        match sqlx::query_scalar(sql::JOURNAL_MODE_WAL)
            .fetch_one(&mut *conn)
            .await
            .map_err(store_error)
        {
            Err(StoreError::Busy(_)) if started.elapsed() < timeout => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            answer => return answer,
        }
    }
}

async fn journal_mode(conn: &mut SqliteConnection) -> Result<String, StoreError> {
    let mode: String = setting(conn, "journal_mode").await?;
    Ok(mode.to_ascii_lowercase())
}

/// The connection's setting `column`, as `sql/settings.sql` reads it.
async fn setting<T>(conn: &mut SqliteConnection, column: &str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    let row = sqlx::query(sql::SETTINGS)
        .fetch_one(&mut *conn)
        .await
        .map_err(store_error)?;
    row.try_get(column).map_err(store_error)
}

/// Where the store's tables live, as messages name it, and what this build migrates.
fn home() -> Home {
    let known = migrator().iter().map(|m| m.version).collect::<Vec<_>>();
    Home::new("leasehold-sqlite", "database", "a database file", known)
}

/// Refuses a database that holds tables but no leasehold schema, or that applied a
/// migration this build does not know.
async fn check_compatible(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let tables: Vec<String> = sqlx::query_scalar(sql::USER_TABLES)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    let applied = move || async move {
        sqlx::query_scalar(sql::APPLIED_MIGRATIONS)
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)
    };
    home().check(&tables, applied).await
}

fn migrate_error(error: MigrateError) -> StoreError {
    match error {
        MigrateError::Execute(error) => store_error(error),
        MigrateError::VersionMissing(version) => home().newer(version),
        MigrateError::VersionMismatch(version) => home().mismatch(version),
        MigrateError::Dirty(version) => StoreError::Incompatible(format!(
            "schema migration {version} of this database failed part-way; restore a backup"
        )),
        other => StoreError::backend(other),
    }
}

/// What a connection's settings must read back as.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected {
    /// `wal` for a file database, `memory` for an in-memory one.
    pub(crate) journal_mode: &'static str,
    /// `None`: not checked (a pool the caller configured).
    pub(crate) synchronous: Option<Synchronous>,
    /// In milliseconds; `None`: not checked.
    pub(crate) busy_timeout: Option<i64>,
}

/// Reads the connection's settings back and fails unless they are `expected`, with
/// foreign keys on.
pub(crate) async fn verify_settings(
    conn: &mut SqliteConnection,
    expected: Expected,
) -> Result<EffectiveSettings, StoreError> {
    let row = sqlx::query(sql::SETTINGS)
        .fetch_one(&mut *conn)
        .await
        .map_err(store_error)?;
    let journal_mode: String = row.try_get("journal_mode").map_err(store_error)?;
    let synchronous: i64 = row.try_get("synchronous").map_err(store_error)?;
    let busy_timeout: i64 = row.try_get("timeout").map_err(store_error)?;
    let foreign_keys: i64 = row.try_get("foreign_keys").map_err(store_error)?;
    let mismatch = |setting: &str, found: String, wanted: String| {
        Err(StoreError::backend(format!(
            "SQLite setting {setting} reads back as {found}, expected {wanted}"
        )))
    };
    if !journal_mode.eq_ignore_ascii_case(expected.journal_mode) {
        return mismatch("journal_mode", journal_mode, expected.journal_mode.into());
    }
    if let Some(wanted) = expected.synchronous
        && synchronous != wanted.pragma_value()
    {
        return mismatch(
            "synchronous",
            synchronous.to_string(),
            wanted.pragma_value().to_string(),
        );
    }
    if let Some(wanted) = expected.busy_timeout
        && busy_timeout != wanted
    {
        return mismatch("busy_timeout", busy_timeout.to_string(), wanted.to_string());
    }
    if foreign_keys != 1 {
        return mismatch("foreign_keys", foreign_keys.to_string(), "1".into());
    }
    let synchronous = match synchronous {
        0 => "off",
        1 => "normal",
        2 => "full",
        3 => "extra",
        _ => "unknown",
    };
    Ok(EffectiveSettings {
        journal_mode: journal_mode.to_ascii_lowercase(),
        synchronous: synchronous.to_owned(),
        busy_timeout: std::time::Duration::from_millis(u64::try_from(busy_timeout).unwrap_or(0)),
    })
}

/// The settings a store's connections run with, as SQLite reads them back at connect
/// (see [`SqliteStore::settings`](crate::SqliteStore::settings)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EffectiveSettings {
    /// `PRAGMA journal_mode`: `wal` for a file, `memory` for an in-memory database.
    pub journal_mode: String,
    /// `PRAGMA synchronous`: `normal` (the default: durable across a process crash,
    /// the last commits may be lost on power loss), `full`, `off` or `extra`.
    pub synchronous: String,
    /// `PRAGMA busy_timeout`: how long a write waits for another process's lock.
    pub busy_timeout: std::time::Duration,
}

/// The SQL of every migration this build applies, in order, as one script for an
/// application that runs its own migration tool, followed by the statements that
/// record them in `_leasehold_migrations` (with sqlx's checksums), so that
/// [`SqliteStore::connect`](crate::SqliteStore::connect) finds the database migrated
/// and changes nothing. Run it once, in one transaction, on a database without
/// leasehold's tables; WAL mode is turned on by the first connect, not by the script.
///
/// ```
/// let script = leasehold_sqlite::migration_script();
/// assert!(script.contains("CREATE TABLE jobs"));
/// ```
pub fn migration_script() -> String {
    let migrator = migrator();
    leasehold_sql::schema::migration_script(
        "-- leasehold-sqlite schema: run once, in one transaction.\n\
         -- Generated from the migrations this build embeds.\n",
        ScriptDialect {
            installed_on: "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP",
            checksum_type: "BLOB",
            checksum_literal: |hex| format!("X'{hex}'"),
        },
        migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| ScriptMigration::new(m.version, &m.description, m.sql.as_str(), &m.checksum)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_database_migrated_by_the_script_opens_unchanged() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("jobs.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut conn = SqliteConnection::connect(&url).await.expect("opens");

        let mut tx = conn.begin().await.expect("begins");
        sqlx::raw_sql(sqlx::AssertSqlSafe(migration_script()))
            .execute(&mut *tx)
            .await
            .expect("the script runs");
        tx.commit().await.expect("commits");
        conn.close().await.expect("closes");

        let store = crate::SqliteStore::connect(&url)
            .await
            .expect("no migration left");
        let applied: Vec<i64> = sqlx::query_scalar(crate::sql::APPLIED_MIGRATIONS)
            .fetch_all(store.read_pool())
            .await
            .expect("reads");
        let known: Vec<i64> = migrator().iter().map(|m| m.version).collect();
        assert_eq!(applied, known);
    }
}
