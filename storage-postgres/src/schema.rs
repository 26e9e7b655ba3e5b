//! The schema at connect: refuse what is not ours, create the schema, migrate.
//!
//! Migrations are embedded with `sqlx::migrate!` and recorded in a table of their own,
//! `<schema>._leasehold_migrations`, so an application's own sqlx migrations never
//! collide with them. Everything happens in one transaction that first takes an
//! advisory lock of the schema: connects racing on one schema check and migrate one
//! after another, so the schema is migrated exactly once. A schema is refused, before
//! anything in it changes, when it holds tables but no leasehold migrations table
//! (someone else's schema) or has applied a migration this build does not know
//! (written by a newer leasehold-postgres).

use std::collections::BTreeSet;

use leasehold::StoreError;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Connection, PgConnection};

use crate::error::store_error;
use crate::sql::{Statements, query, query_scalar};

/// The table that records which migrations a schema has applied.
pub(crate) const MIGRATIONS_TABLE: &str = "_leasehold_migrations";

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
        .map_err(migrate_error)?;
    tx.commit().await.map_err(store_error)?;
    Ok(())
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
    if tables.is_empty() {
        return Ok(());
    }
    if !tables.iter().any(|t| t == MIGRATIONS_TABLE) {
        return Err(StoreError::Incompatible(format!(
            "schema {schema:?} is not a leasehold schema: it holds tables ({}) but no \
             {MIGRATIONS_TABLE} table; give leasehold a schema of its own",
            tables.join(", ")
        )));
    }
    let applied: Vec<i64> = query_scalar(&sql.applied_migrations)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    let known: BTreeSet<i64> = migrator().iter().map(|m| m.version).collect();
    if let Some(newer) = applied.iter().filter(|v| !known.contains(v)).max() {
        return Err(newer_schema(schema, *newer, &known));
    }
    Ok(())
}

fn newer_schema(schema: &str, version: i64, known: &BTreeSet<i64>) -> StoreError {
    StoreError::Incompatible(format!(
        "schema {schema:?} has schema version {version}, written by a newer \
         leasehold-postgres; this build knows versions up to {}: upgrade \
         leasehold-postgres or use another schema",
        known.last().copied().unwrap_or(0)
    ))
}

fn migrate_error(error: MigrateError) -> StoreError {
    match error {
        MigrateError::Execute(error) => store_error(error),
        MigrateError::VersionMissing(version) => StoreError::Incompatible(format!(
            "schema version {version} was written by a newer leasehold-postgres"
        )),
        MigrateError::VersionMismatch(version) => StoreError::Incompatible(format!(
            "schema migration {version} of this schema differs from this build's: \
             it was written by a different leasehold-postgres"
        )),
        MigrateError::Dirty(version) => StoreError::Incompatible(format!(
            "schema migration {version} was left half-applied; repair the schema by hand"
        )),
        other => StoreError::backend(other),
    }
}
