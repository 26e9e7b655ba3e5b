//! Flow-control limits on a [`PostgresStore`]: storing them, reading them back, and the
//! claim that keeps within them.
//!
//! A claim first runs the plain statement (`claim_queue.sql`, `claim_queues.sql`),
//! which leases nothing and says so when a stored limit bears on it: a limit of one of
//! its queues, or of a key that one of their claimable jobs carries. Only then does it
//! claim again in a transaction that first locks those limits' rows (`lock_limits.sql`,
//! in scope and name order) and then leases within them (`claim_limited.sql`, a
//! statement of its own, so it counts what the claims it waited for leased). Claims
//! that touch one limit so take turns and never overshoot it together; claims that
//! touch none run as concurrently as ever.

use std::time::Duration;

use leasehold::time::OffsetDateTime;
use leasehold::{Limit, LimitScope, StoreError};
use leasehold_sql::filter::sql_limit;
use leasehold_sql::limit::{LimitColumns, scope_of, scoped_limit};
use leasehold_sql::row::micros;
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::{PostgresStore, error_history_limit};
use crate::error::store_error;
use crate::row::Row;
use crate::sql::{Statements, query};

/// What a claim asks of `claim_limited.sql`, beside its connection.
pub(super) struct LimitedClaim<'a> {
    /// The distinct queues.
    pub(super) queues: &'a [String],
    pub(super) limit: usize,
    pub(super) limited: usize,
    pub(super) worker: &'a str,
    pub(super) lease_until: OffsetDateTime,
    pub(super) now: OffsetDateTime,
    /// How long the server lets the claim's transaction sit idle (the call's timeout;
    /// `None`: as the server is set).
    pub(super) idle_timeout: Option<Duration>,
}

/// Whether the rows of a plain claim say that a limit bears on it (and so it leased
/// nothing): the `limited` column its every row carries.
pub(super) fn limits_apply(rows: &[PgRow]) -> Result<bool, StoreError> {
    match rows.first() {
        Some(row) => sqlx::Row::try_get(row, "limited").map_err(store_error),
        None => Err(StoreError::backend(
            "the claim answered no row (it answers at least one)",
        )),
    }
}

/// Whether a row of a plain claim is a leased job (the row of a claim that leased
/// nothing has NULL job columns).
pub(super) fn is_job(row: &PgRow) -> Result<bool, StoreError> {
    let id: Option<Uuid> = sqlx::Row::try_get(row, "id").map_err(store_error)?;
    Ok(id.is_some())
}

/// The claim within the stored limits, in a transaction of its own on `conn`: locks
/// the limits that bear on it (and bounds how long the server keeps the transaction
/// open while the client is silent, so a client cut off mid-claim holds them no
/// longer than a call may take), then leases. Answers the leased jobs' rows, and
/// whether any limit bore on the claim.
pub(super) async fn claim_limited(
    conn: &mut PgConnection,
    sql: &Statements,
    claim: LimitedClaim<'_>,
) -> Result<(Vec<PgRow>, bool), StoreError> {
    let mut tx = conn.begin().await.map_err(store_error)?;
    let idle_millis = claim
        .idle_timeout
        .map(|idle| idle.as_millis().max(1).to_string());
    let locked = query(&sql.lock_limits)
        .bind(claim.queues.to_vec())
        .bind(micros(claim.now))
        .bind(idle_millis)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    let (mut keys, mut queues) = (Vec::new(), Vec::new());
    for row in &locked {
        match scope_of(&Row(row))? {
            LimitScope::Key(name) => keys.push(name),
            LimitScope::Queue(name) => queues.push(name),
        }
    }
    let rows = query(&sql.claim_limited)
        .bind(claim.queues.to_vec())
        .bind(micros(claim.now))
        .bind(sql_limit(claim.limit))
        .bind(micros(claim.lease_until))
        .bind(claim.worker)
        .bind(sql_limit(claim.limited))
        .bind(keys)
        .bind(queues)
        .bind(error_history_limit())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    Ok((rows, !locked.is_empty()))
}

impl PostgresStore {
    /// Stores `limit` for `scope`; `QueueNotFound` for an unknown queue.
    pub(super) async fn store_limit(
        &self,
        scope: &LimitScope,
        limit: Limit,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let columns = LimitColumns::from(limit);
        let statement = query(&self.inner.sql.set_limit)
            .bind(scope.kind())
            .bind(scope.name().to_owned())
            .bind(columns.max_running)
            .bind(columns.rate_starts)
            .bind(columns.rate_per)
            .bind(micros(now));
        match (self.execute("set_limit", statement).await?, scope) {
            (0, LimitScope::Queue(queue)) => Err(StoreError::QueueNotFound(queue.clone())),
            (0, LimitScope::Key(_)) => Err(StoreError::backend(format!(
                "the limit of {scope} was not stored"
            ))),
            _ => Ok(()),
        }
    }

    /// Deletes the limit of `scope` and its starts; `LimitNotFound` when it has none.
    pub(super) async fn delete_limit(&self, scope: &LimitScope) -> Result<(), StoreError> {
        let sql = &*self.inner.sql;
        self.calls()
            .run("remove_limit", async |conn| {
                let mut tx = conn.begin().await.map_err(store_error)?;
                let removed = query(&sql.remove_limit)
                    .bind(scope.kind())
                    .bind(scope.name().to_owned())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?
                    .rows_affected();
                if removed == 0 {
                    tx.rollback().await.map_err(store_error)?;
                    return Err(StoreError::LimitNotFound(scope.clone()));
                }
                query(&sql.remove_limit_starts)
                    .bind(scope.kind())
                    .bind(scope.name().to_owned())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)
            })
            .await
    }

    /// Every stored limit, keys first, each by name.
    pub(super) async fn stored_limits(&self) -> Result<Vec<(LimitScope, Limit)>, StoreError> {
        let rows = self
            .fetch_all("limits", query(&self.inner.sql.limits))
            .await?;
        rows.iter().map(|row| scoped_limit(&Row(row))).collect()
    }
}
