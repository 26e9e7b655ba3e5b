//! The schema at connect: refuse what is not ours, create the schema, migrate.
//!
//! Migrations are embedded with `sqlx::migrate!` and recorded in a table of their own,
//! `<schema>._leasehold_migrations`, so an application's own sqlx migrations never
//! collide with them. Everything happens in one transaction that first takes an
//! advisory lock of the schema: connects racing on one schema check and migrate one
//! after another, so the schema is migrated exactly once. A schema is refused, before
//! anything in it changes, when it holds tables but no leasehold migrations table
//! (someone else's schema) or has applied a migration this build does not know
//! (written by a newer leasehold-postgres): the verdict is `leasehold_sql::schema`'s,
//! the reading of tables and versions, under the lock, is here.

use leasehold::StoreError;
use leasehold_sql::schema::{Home, MIGRATIONS_TABLE, ScriptDialect, ScriptMigration};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Connection, PgConnection};

use crate::error::store_error;
use crate::sql::{Statements, query, query_scalar};

/// The embedded migrations, recorded in [`MIGRATIONS_TABLE`] of the schema the
/// transaction's `search_path` names. Locking is ours (a per-schema advisory lock),
/// not sqlx's (one lock per database).
pub(crate) fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator.set_locking(false);
    migrator
}

/// The advisory lock key of `schema`: FNV-1a of a fixed prefix and the name, so
/// every build and every process computes the same key.
pub(crate) fn lock_key(schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "leasehold-postgres schema ".bytes().chain(schema.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Checks that `schema` is a leasehold one (or missing or empty), then creates and
/// migrates it, all in one transaction under the schema's advisory lock.
pub(crate) async fn prepare(
    conn: &mut PgConnection,
    sql: &Statements,
    schema: &str,
) -> Result<(), StoreError> {
    let mut tx = conn.begin().await.map_err(store_error)?;
    // Migrations and the wait for the lock may outlast the connections' statement
    // timeout, which is meant for the store's calls.
    query(&sql.no_statement_timeout)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    query(&sql.advisory_lock)
        .bind(lock_key(schema))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    check_compatible(&mut tx, sql, schema).await?;
    query(&sql.create_schema)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    query(&sql.set_search_path)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    // `run_direct` is `run` without the `Acquire` bound that makes the future not
    // `Send`-general (sqlx's own workaround).
    migrator()
        .run_direct(None, &mut *tx, false)
        .await
        .map_err(|error| migrate_error(error, schema))?;
    tx.commit().await.map_err(store_error)?;
    Ok(())
}

/// Where the store's tables live, as messages name it, and what this build migrates.
fn home(schema: &str) -> Home {
    let known = migrator().iter().map(|m| m.version).collect::<Vec<_>>();
    Home::new("leasehold-postgres", "schema", "a schema", known).named(schema)
}

/// Refuses a schema that holds tables but no leasehold migrations table, or that
/// applied a migration this build does not know.
async fn check_compatible(
    conn: &mut PgConnection,
    sql: &Statements,
    schema: &str,
) -> Result<(), StoreError> {
    let tables: Vec<String> = query_scalar(&sql.schema_tables)
        .bind(schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    let applied = move || async move {
        query_scalar(&sql.applied_migrations)
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)
    };
    home(schema).check(&tables, applied).await
}

fn migrate_error(error: MigrateError, schema: &str) -> StoreError {
    match error {
        MigrateError::Execute(error) => store_error(error),
        MigrateError::VersionMissing(version) => home(schema).newer(version),
        MigrateError::VersionMismatch(version) => home(schema).mismatch(version),
        MigrateError::Dirty(version) => StoreError::Incompatible(format!(
            "schema migration {version} was left half-applied; repair the schema by hand"
        )),
        other => StoreError::backend(other),
    }
}

/// The SQL of every migration this build applies to `schema`, in order, as one script
/// for an application that runs its own migration tool: it creates the schema, points
/// the transaction's `search_path` at it, runs the migrations and records them in
/// `<schema>._leasehold_migrations` (with sqlx's checksums), so that
/// [`PostgresStore::connect_with`](crate::PostgresStore::connect_with) on that schema
/// finds it migrated and changes nothing. Run it once, in one transaction (its
/// `SET LOCAL` lasts until the transaction ends).
///
/// ```
/// let script = leasehold_postgres::migration_script("leasehold")?;
/// assert!(script.contains("CREATE TABLE jobs"));
/// # Ok::<(), leasehold::StoreError>(())
/// ```
///
/// # Errors
///
/// [`StoreError::Backend`] for a schema name
/// [`PostgresStoreOptions::schema`](crate::PostgresStoreOptions::schema) refuses.
pub fn migration_script(schema: &str) -> Result<String, StoreError> {
    let sql = Statements::for_schema(&crate::options::quoted_schema(schema)?);
    let head = format!(
        "-- leasehold-postgres schema {schema:?}: run once, in one transaction.\n\
         -- Generated from the migrations this build embeds.\n\
         {};\n{};\n",
        sql.create_schema.trim_end(),
        sql.set_search_path.trim_end(),
    );
    let migrator = migrator();
    let migrations = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| ScriptMigration::new(m.version, &m.description, m.sql.as_str(), &m.checksum));
    let dialect = ScriptDialect {
        installed_on: "TIMESTAMPTZ NOT NULL DEFAULT now()",
        checksum_type: "BYTEA",
        checksum_literal: |hex| format!("decode('{hex}', 'hex')"),
    };
    Ok(leasehold_sql::schema::migration_script(
        &head, dialect, migrations,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_creates_the_schema_then_runs_and_records_every_migration() {
        let script = migration_script("jobs").expect("a valid schema name");

        assert!(script.contains("CREATE SCHEMA IF NOT EXISTS \"jobs\""));
        assert!(script.contains("SET LOCAL search_path TO \"jobs\""));
        for m in migrator().iter() {
            assert!(
                script.contains(m.sql.as_str().trim_end()),
                "migration {}",
                m.version
            );
            assert!(script.contains(&format!("VALUES ({}, '", m.version)));
        }
        assert!(migration_script("Jobs; DROP").is_err());
    }
}
