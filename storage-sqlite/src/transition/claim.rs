//! [`Claim`]: leasing due jobs, after promoting the jobs that came due and failing
//! (or retrying) the jobs whose lease expired, and counting the starts of the rates
//! the claimed jobs fall under.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leasehold::time::OffsetDateTime;
use leasehold::{JobRecord, StoreError};
use leasehold_sql::filter::sql_limit;
use leasehold_sql::row::{Columns, job_record, micros};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::{is_check_violation, store_error};
use crate::row::{Row, Statement};
use crate::sql;
use crate::transition::Transition;
use crate::transition::statement::rows_changed;

/// `claim`: leases up to `limit` due jobs of `queues` to `worker` until
/// `lease_until`, at most `limited` of them governed by a stored limit.
#[derive(Debug)]
pub(crate) struct Claim {
    pub(crate) queues: Vec<String>,
    pub(crate) limit: usize,
    pub(crate) limited: usize,
    pub(crate) worker: String,
    pub(crate) now: OffsetDateTime,
    pub(crate) lease_until: OffsetDateTime,
    /// Whether a rate was stored at the writer's last claim that leased a job
    /// ([`LimitsSeen`]).
    pub(crate) limits_seen: LimitsSeen,
}

/// What the last claim that leased a job found stored, shared by the store's claims:
/// whether any limit was (then its claims take claim_queue.sql, not
/// claim_queue_simple.sql), and whether one had a rate (then they go in two calls).
///
/// A claim sent whole in one call cannot count its starts, so its first statement
/// fails when a rate is stored (claim_rate_guard.sql), and the simple claim's fails
/// when any limit is stored or a lease of its queue expired (claim_simple_guard.sql);
/// the writer then runs it again the ordinary way, which counts the starts and, until
/// a claim's rows say otherwise, marks a limit seen. Only a guess at what is stored
/// (another process may set or remove a limit at any time): the guards keep it safe,
/// and it only saves the failed call.
#[derive(Debug, Clone, Default)]
pub(crate) struct LimitsSeen(Arc<Flags>);

/// [`LimitsSeen`]'s two flags.
#[derive(Debug, Default)]
struct Flags {
    limited: AtomicBool,
    rated: AtomicBool,
}

impl LimitsSeen {
    /// Whether the last claim that leased a job found a limit stored.
    pub(crate) fn limited(&self) -> bool {
        self.0.limited.load(Ordering::Relaxed)
    }

    /// Whether the last claim that leased a job found a rate stored.
    pub(crate) fn rated(&self) -> bool {
        self.0.rated.load(Ordering::Relaxed)
    }

    fn set(&self, limited: bool, rated: bool) {
        self.0.limited.store(limited, Ordering::Relaxed);
        self.0.rated.store(rated, Ordering::Relaxed);
    }

    /// Counts a limit seen until a claim's rows say otherwise: a claim that had to run
    /// the ordinary way may have found one (or an expired lease).
    pub(crate) fn suspect_limited(&self) {
        self.0.limited.store(true, Ordering::Relaxed);
    }
}

/// How a claim sent whole goes (see [`Claim::whole`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WholeClaim {
    /// claim_simple_guard.sql and claim_queue_simple.sql, in one call: no limit seen,
    /// one queue.
    Simple,
    /// claim_rate_guard.sql and claim_queue.sql (or claim_queues.sql), in one call.
    Guarded,
    /// The claim, then the count of its starts and `COMMIT`, in two calls: a rate seen.
    Rated,
}

impl Claim {
    /// The whole claim, promotions and expiries included, as a group commit in one
    /// call (`BEGIN IMMEDIATE`, its statements and `COMMIT`: see
    /// [`crate::bulk::WholeGroup`]), or, [`WholeClaim::Rated`], the first of two calls,
    /// which leaves the transaction open for [`Claim::count_and_commit`]. `None` for a
    /// claim of no job, which leases nothing.
    pub(crate) fn whole(&self, how: WholeClaim) -> Result<Option<Statement<'_>>, StoreError> {
        if self.limit == 0 {
            return Ok(None);
        }
        let queues_json = serde_json::to_string(&self.queues).map_err(StoreError::backend)?;
        let (one_queue, several) = match how {
            WholeClaim::Simple => (
                sql::CLAIM_QUEUE_SIMPLE_IN_ONE_CALL,
                sql::CLAIM_QUEUES_IN_ONE_CALL,
            ),
            WholeClaim::Guarded => (sql::CLAIM_QUEUE_IN_ONE_CALL, sql::CLAIM_QUEUES_IN_ONE_CALL),
            WholeClaim::Rated => (sql::CLAIM_QUEUE_BEGUN, sql::CLAIM_QUEUES_BEGUN),
        };
        let statement = match self.queues.as_slice() {
            // The queue's name is ?7 (see `sql::CLAIM_QUEUE_IN_ONE_CALL`).
            [queue] => self
                .lease(sqlx::query(one_queue).bind(queues_json))
                .bind(queue.as_str()),
            _ => self.lease(sqlx::query(several).bind(queues_json)),
        };
        Ok(Some(statement))
    }

    /// The second call of a whole claim while a rate is stored: counts the starts of
    /// the jobs of `rows` (what the first call leased), then commits.
    pub(crate) fn count_and_commit(
        &self,
        rows: &[SqliteRow],
    ) -> Result<Statement<'static>, StoreError> {
        let starts = self.starts(rows)?.unwrap_or_else(|| "[]".to_owned());
        Ok(sqlx::query(sql::COUNT_STARTS_AND_COMMIT)
            .bind(starts)
            .bind(micros(self.now)))
    }

    /// Remembers in [`LimitsSeen`] what the claim's `rows` say is stored (`limited`,
    /// `rated`, the same on every row); rows of no job say nothing.
    pub(crate) fn remember(&self, rows: &[SqliteRow]) -> Result<(), StoreError> {
        if let Some(first) = rows.first() {
            let row = Row(first);
            self.limits_seen
                .set(row.flag("limited")?, row.flag("rated")?);
        }
        Ok(())
    }

    /// The starts to count for the jobs of `rows`, which this claim leased, as
    /// count_starts.sql takes them (a JSON array of `[scope, name, starts]`, one per
    /// queue and per key); `None` when no rate is stored (their `rated` column).
    /// [`LimitsSeen`] remembers what the rows say is stored (`limited`, `rated`).
    fn starts(&self, rows: &[SqliteRow]) -> Result<Option<String>, StoreError> {
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        self.remember(rows)?;
        if !Row(first).flag("rated")? {
            return Ok(None);
        }
        let claimed = rows
            .iter()
            .map(|row| Ok((Row(row).text("queue")?, Row(row).text("limit_key")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut starts: HashMap<(&str, &str), u64> = HashMap::new();
        for (queue, key) in &claimed {
            let queue = queue.as_deref().unwrap_or_default();
            *starts.entry(("queue", queue)).or_default() += 1;
            if let Some(key) = key {
                *starts.entry(("key", key.as_str())).or_default() += 1;
            }
        }
        let starts: Vec<(&str, &str, u64)> = starts
            .into_iter()
            .map(|((scope, name), count)| (scope, name, count))
            .collect();
        serde_json::to_string(&starts)
            .map(Some)
            .map_err(StoreError::backend)
    }

    /// `statement`, bound with the queue parameter (?1), with the rest of the claim's
    /// parameters: ?2 now, ?3 limit, ?4 lease_until, ?5 worker, ?6 limited.
    fn lease<'q>(&'q self, statement: Statement<'q>) -> Statement<'q> {
        statement
            .bind(micros(self.now))
            .bind(sql_limit(self.limit))
            .bind(micros(self.lease_until))
            .bind(self.worker.as_str())
            .bind(sql_limit(self.limited))
    }

    /// The claimed jobs of the claim's `rows`, in answer order.
    pub(crate) fn jobs(&self, rows: &[SqliteRow]) -> Result<Vec<JobRecord>, StoreError> {
        let mut jobs = rows
            .iter()
            .map(|row| job_record(&Row(row), self.now))
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING comes in no particular order.
        jobs.sort_by_key(|job| (job.priority, job.run_at, job.id));
        Ok(jobs)
    }
}

impl Transition for Claim {
    /// The claimed jobs, by priority, then run time, then id.
    type Answer = Vec<JobRecord>;

    fn weight(&self) -> usize {
        self.limit
    }

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Vec<JobRecord>, StoreError> {
        let queues_json = serde_json::to_string(&self.queues).map_err(StoreError::backend)?;
        if let ([queue], false, true) = (
            self.queues.as_slice(),
            self.limits_seen.limited(),
            self.limit > 0,
        ) {
            // The simple claim, its promotions and expiries in one call; its guard's
            // failure undoes only the guard's statement, and the full claim follows.
            let statement = self
                .lease(sqlx::query(sql::CLAIM_QUEUE_SIMPLE_STEPS).bind(queues_json.as_str()))
                .bind(queue.as_str());
            match statement.fetch_all(&mut *conn).await {
                Ok(rows) => {
                    // No limit was stored: no start to count.
                    self.remember(&rows)?;
                    return self.jobs(&rows);
                }
                Err(error) if is_check_violation(&error) => {}
                Err(error) => return Err(store_error(error)),
            }
        }
        self.limits_seen.suspect_limited();
        for statement in [sql::PROMOTE_DUE, sql::FAIL_EXPIRED_LEASES] {
            let statement = sqlx::query(statement)
                .bind(queues_json.as_str())
                .bind(micros(self.now));
            rows_changed(conn, statement).await?;
        }
        if self.limit == 0 {
            return Ok(Vec::new());
        }
        let (statement, queue_param) = match self.queues.as_slice() {
            [queue] => (sql::CLAIM_QUEUE, queue.as_str()),
            _ => (sql::CLAIM_QUEUES, queues_json.as_str()),
        };
        let rows: Vec<SqliteRow> = self
            .lease(sqlx::query(statement).bind(queue_param))
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        let jobs = self.jobs(&rows)?;
        if let Some(starts) = self.starts(&rows)? {
            let statement = sqlx::query(sql::COUNT_STARTS)
                .bind(starts)
                .bind(micros(self.now));
            rows_changed(conn, statement).await?;
        }
        Ok(jobs)
    }
}
