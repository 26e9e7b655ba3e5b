//! From sqlx errors to [`StoreError`], by what the caller should do about them.
//!
//! - Retry: serialization failures, deadlocks, lock and statement timeouts, too many
//!   connections and pool timeouts are [`StoreError::Busy`] (nothing was changed).
//! - An operator must act: a full disk (`53100`), a read-only server (`25006`: a hot
//!   standby, `default_transaction_read_only`), missing privileges (`42501`), a refused
//!   login (`28000`, `28P01`), a missing database (`3D000`) and corrupted data or
//!   indexes (`XX001`, `XX002`) are [`StoreError::Permanent`], whose message says what to
//!   do. The store holds no transaction open across calls, so the same store works
//!   again once the cause is gone.
//! - Anything else is [`StoreError::Backend`] (transient): a connection the server
//!   terminated (`57P01` admin shutdown, `57P02` crash shutdown, `57P03` cannot connect
//!   now), an I/O error, a call that got no answer in time. The server running out of
//!   memory (`53200`) stays transient too, with advice: it usually passes as load drops,
//!   and a worker that repeats the call recovers by itself when it does.
//!
//! A duplicate job id, and a unique key that a job run again by hand would share with
//! a pending or running job, are turned into `Conflict` where they can happen.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use leasehold::StoreError;
use leasehold_sql::error::Class;

/// `serialization_failure`.
const SERIALIZATION_FAILURE: &str = "40001";
/// `deadlock_detected`.
const DEADLOCK_DETECTED: &str = "40P01";
/// `lock_not_available` (a `lock_timeout` or `NOWAIT`).
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// `query_canceled` (a `statement_timeout`).
const QUERY_CANCELED: &str = "57014";
/// `too_many_connections`.
const TOO_MANY_CONNECTIONS: &str = "53300";
/// `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";
/// `disk_full`.
const DISK_FULL: &str = "53100";
/// `out_of_memory`.
const OUT_OF_MEMORY: &str = "53200";
/// `read_only_sql_transaction`.
const READ_ONLY_SQL_TRANSACTION: &str = "25006";
/// `insufficient_privilege`.
const INSUFFICIENT_PRIVILEGE: &str = "42501";
/// `invalid_authorization_specification`.
const INVALID_AUTHORIZATION: &str = "28000";
/// `invalid_password`.
const INVALID_PASSWORD: &str = "28P01";
/// `invalid_catalog_name` (the database does not exist).
const INVALID_CATALOG_NAME: &str = "3D000";
/// `data_corrupted`.
const DATA_CORRUPTED: &str = "XX001";
/// `index_corrupted`.
const INDEX_CORRUPTED: &str = "XX002";

/// The primary key of the jobs table, named by PostgreSQL's default.
const JOBS_PRIMARY_KEY: &str = "jobs_pkey";
/// The unique index that lets one non-terminal job hold a unique key.
const JOBS_UNIQUE_KEY: &str = "jobs_unique_key";

const DISK_FULL_ADVICE: &str = "the PostgreSQL server's disk is full: free space on the \
     volume of its data directory or write-ahead log (or raise the quota); the store carries \
     on by itself once there is room";
const READ_ONLY_ADVICE: &str = "the PostgreSQL server refuses writes (read-only \
     transaction): point the store at the primary, not a hot standby, or turn \
     default_transaction_read_only off for its database, role or connection";
const PRIVILEGE_ADVICE: &str = "permission denied: grant the store's role USAGE and CREATE \
     on its schema and SELECT, INSERT, UPDATE and DELETE on the schema's tables, or connect \
     as the role that owns the schema";
const LOGIN_ADVICE: &str = "the PostgreSQL server refused the login: check the user and \
     password in the URL and the server's pg_hba.conf";
const NO_DATABASE_ADVICE: &str = "the database named in the URL does not exist: create it or \
     fix the URL";
const CORRUPTED_ADVICE: &str = "the PostgreSQL server reports corrupted data: stop the \
     workers, REINDEX a corrupted index or restore the table from a backup, and check the \
     server's storage";
const OUT_OF_MEMORY_ADVICE: &str = "the PostgreSQL server ran out of memory: the call may \
     succeed when the load drops; if it keeps happening, lower work_mem or the number of \
     connections, or give the server more memory";

/// The class of a SQLSTATE.
fn class_of_code(code: &str) -> Class {
    match code {
        SERIALIZATION_FAILURE
        | DEADLOCK_DETECTED
        | LOCK_NOT_AVAILABLE
        | QUERY_CANCELED
        | TOO_MANY_CONNECTIONS => Class::Busy,
        DISK_FULL => Class::Permanent(DISK_FULL_ADVICE),
        READ_ONLY_SQL_TRANSACTION => Class::Permanent(READ_ONLY_ADVICE),
        INSUFFICIENT_PRIVILEGE => Class::Permanent(PRIVILEGE_ADVICE),
        INVALID_AUTHORIZATION | INVALID_PASSWORD => Class::Permanent(LOGIN_ADVICE),
        INVALID_CATALOG_NAME => Class::Permanent(NO_DATABASE_ADVICE),
        DATA_CORRUPTED | INDEX_CORRUPTED => Class::Permanent(CORRUPTED_ADVICE),
        OUT_OF_MEMORY => Class::Backend(Some(OUT_OF_MEMORY_ADVICE)),
        _ => Class::Backend(None),
    }
}

fn classify(error: &sqlx::Error) -> Class {
    if matches!(error, sqlx::Error::PoolTimedOut) {
        return Class::Busy;
    }
    sqlstate(error).map_or(Class::Backend(None), |code| class_of_code(&code))
}

/// The SQLSTATE of a database error.
fn sqlstate(error: &sqlx::Error) -> Option<String> {
    Some(error.as_database_error()?.code()?.into_owned())
}

/// Whether `error` is a second job with an existing id.
pub(crate) fn is_duplicate_job_id(error: &sqlx::Error) -> bool {
    violates_unique(error, JOBS_PRIMARY_KEY)
}

/// Whether `error` is a second pending or running job with a unique key that one
/// holds already.
pub(crate) fn is_held_unique_key(error: &sqlx::Error) -> bool {
    violates_unique(error, JOBS_UNIQUE_KEY)
}

/// Whether `error` is a unique violation of the index or constraint `constraint`.
fn violates_unique(error: &sqlx::Error, constraint: &str) -> bool {
    sqlstate(error).as_deref() == Some(UNIQUE_VIOLATION)
        && error
            .as_database_error()
            .and_then(|e| e.constraint())
            .is_some_and(|c| c == constraint)
}

/// PostgreSQL's detail of a unique violation (`Key (id)=(...) already exists.`), or
/// `otherwise` when it gave none.
pub(crate) fn violation_detail(error: &sqlx::Error, otherwise: &str) -> String {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
        .and_then(|e| e.detail())
        .unwrap_or(otherwise)
        .to_owned()
}

/// The [`StoreError`] for a sqlx error.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    classify(&error).store_error(Box::new(error))
}

/// One error for several callers (the completions of one batch): each call of the
/// returned function builds a [`StoreError`] of the same variant (and message) whose
/// source is the one shared error.
pub(crate) fn shared(error: StoreError) -> impl Fn() -> StoreError {
    let permanent = match &error {
        StoreError::Permanent { message, .. } => Some(message.clone()),
        _ => None,
    };
    let busy = matches!(error, StoreError::Busy(_));
    let error = SharedError(Arc::new(error));
    move || {
        let source = Box::new(error.clone());
        match &permanent {
            Some(message) => StoreError::permanent(message.clone(), source),
            None if busy => StoreError::Busy(source),
            None => StoreError::Backend(source),
        }
    }
}

/// The error of a call that got no answer within `limit`: the connection was closed,
/// and whether the call took effect is unknown, so it is `Backend`, not `Busy`.
pub(crate) fn timed_out(call: &str, limit: Duration) -> StoreError {
    StoreError::backend(format!(
        "no answer from PostgreSQL to {call} within the store's call timeout of {} ms \
         (its statement timeout plus a grace for the answer to arrive): the connection was \
         closed, not reused, and the call may or may not have taken effect (a network \
         partition, a dead connection or a stuck server)",
        limit.as_millis()
    ))
}

/// One failure shared by the callers of one batch.
#[derive(Debug, Clone)]
struct SharedError(Arc<StoreError>);

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a batch of completions failed: {}", self.0)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
