//! [`Claim`]: leasing due jobs, after promoting the jobs that came due and failing
//! (or retrying) the jobs whose lease expired, and counting the starts of the rates
//! the claimed jobs fall under.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leasehold::time::OffsetDateTime;
use leasehold::{JobRecord, StoreError};
use leasehold_sql::filter::sql_limit;
use leasehold_sql::row::{Columns, job_record, micros};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use crate::error::{is_check_violation, store_error};
use crate::row::{CopiedRows, Row, Statement};
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
    /// Whether a limit was stored at the writer's last claim that leased a job
    /// ([`LimitsSeen`]).
    pub(crate) limits_seen: LimitsSeen,
}

/// Whether the last claim that leased a job found a limit stored, shared by the
/// store's claims: then its claims take the full claim (claim_queue.sql), not the
/// simple one (claim_queue_simple.sql).
///
/// The simple claim's first statement fails when any limit is stored or a lease of its
/// queue expired (claim_simple_guard.sql); the writer then runs the full claim, which,
/// until a claim's rows say otherwise, marks a limit seen. Only a guess at what is
/// stored (another process may set or remove a limit at any time): the guard keeps it
/// safe, and it only saves the failed call.
#[derive(Debug, Clone, Default)]
pub(crate) struct LimitsSeen(Arc<AtomicBool>);

impl LimitsSeen {
    /// Whether the last claim that leased a job found a limit stored.
    pub(crate) fn limited(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self, limited: bool) {
        self.0.store(limited, Ordering::Relaxed);
    }

    /// Counts a limit seen until a claim's rows say otherwise: a claim that had to run
    /// the full way may have found one (or an expired lease).
    pub(crate) fn suspect_limited(&self) {
        self.set(true);
    }
}

/// How a claim sent whole goes (see [`Claim::whole`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WholeClaim {
    /// claim_simple_guard.sql and claim_queue_simple.sql: no limit seen, one queue.
    Simple,
    /// The full claim: its jobs chosen by claim_queue.sql (or claim_queues.sql), leased,
    /// and their starts counted.
    Full,
}

impl Claim {
    /// The whole claim, promotions, expiries and the count of its starts included, as
    /// a group commit in one call (`BEGIN IMMEDIATE`, its statements and `COMMIT`: see
    /// [`crate::bulk::WholeGroup`]). `None` for a claim of no job, which leases
    /// nothing.
    pub(crate) fn whole(&self, how: WholeClaim) -> Result<Option<Statement<'_>>, StoreError> {
        if self.limit == 0 {
            return Ok(None);
        }
        let one_queue = match how {
            WholeClaim::Simple => sql::CLAIM_QUEUE_SIMPLE_IN_ONE_CALL,
            WholeClaim::Full => sql::CLAIM_QUEUE_IN_ONE_CALL,
        };
        let queues_json = self.queues_json()?;
        Ok(Some(self.steps(
            &queues_json,
            one_queue,
            sql::CLAIM_QUEUES_IN_ONE_CALL,
        )))
    }

    /// Whether the claim goes the simple way (claim_simple_guard.sql, then
    /// claim_queue_simple.sql) when sent whole: of one queue, with no limit seen
    /// stored ([`LimitsSeen`]).
    pub(crate) fn goes_simple(&self) -> bool {
        self.queues.len() == 1 && !self.limits_seen.limited()
    }

    /// The claim's queues as the JSON array its statements take as ?1.
    pub(crate) fn queues_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(&self.queues).map_err(StoreError::backend)
    }

    /// `one_queue` (a claim of one queue, its name ?7) or `several`, bound with
    /// `queues_json` as ?1 and the claim's other parameters.
    fn steps(
        &self,
        queues_json: &str,
        one_queue: &'static str,
        several: &'static str,
    ) -> Statement<'_> {
        match self.queues.as_slice() {
            // The queue's name is ?7 (see `sql::CLAIM_QUEUE_STEPS`).
            [queue] => self
                .lease(sqlx::query(one_queue).bind(queues_json))
                .bind(queue.as_str()),
            _ => self.lease(sqlx::query(several).bind(queues_json)),
        }
    }

    /// Remembers in [`LimitsSeen`] what the claim's `rows` say is stored (`limited`,
    /// the same on every row); rows of no job say nothing.
    pub(crate) fn remember(&self, rows: &[SqliteRow]) -> Result<(), StoreError> {
        if let Some(first) = rows.first() {
            self.limits_seen.set(Row(first).flag("limited")?);
        }
        Ok(())
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
        in_claim_order(&mut jobs);
        Ok(jobs)
    }
}

/// Puts a claim's `jobs` in the order it answers them: by priority, then run time,
/// then id (`RETURNING` gives its rows in no particular order).
pub(crate) fn in_claim_order(jobs: &mut [JobRecord]) {
    jobs.sort_by_key(|job| (job.priority, job.run_at, job.id));
}

/// What a claim answers: its jobs, or, from the writer's own connection, their rows as
/// copied, which the caller reads into jobs on its own task ([`CopiedRows`]).
#[derive(Debug)]
pub(crate) enum Claimed {
    Jobs(Vec<JobRecord>),
    /// The rows, and the claim's time, as of which their states are read.
    Rows(CopiedRows, OffsetDateTime),
}

impl Claimed {
    /// The claimed jobs, by priority, then run time, then id.
    ///
    /// # Errors
    ///
    /// When a copied row does not read back as a job (a corrupt row). The claim is
    /// committed by then: its jobs stay leased until their leases expire, and then run
    /// again (the attempt counted), so that a row that never reads back ends Failed
    /// rather than fail every claim of its queue.
    pub(crate) fn into_jobs(self) -> Result<Vec<JobRecord>, StoreError> {
        match self {
            Self::Jobs(jobs) => Ok(jobs),
            Self::Rows(rows, now) => {
                let mut jobs = (0..rows.len())
                    .map(|index| job_record(&rows.row(index), now))
                    .collect::<Result<Vec<_>, _>>()?;
                in_claim_order(&mut jobs);
                Ok(jobs)
            }
        }
    }
}

impl Transition for Claim {
    /// The claimed jobs, or their rows to read ([`Claimed::into_jobs`]).
    type Answer = Claimed;

    fn weight(&self) -> usize {
        self.limit
    }

    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Claimed, StoreError> {
        self.leased(conn).await.map(Claimed::Jobs)
    }
}

impl Claim {
    /// [`Transition::apply`], its jobs read.
    async fn leased(&self, conn: &mut SqliteConnection) -> Result<Vec<JobRecord>, StoreError> {
        let queues_json = self.queues_json()?;
        if let ([_], false, true) = (
            self.queues.as_slice(),
            self.limits_seen.limited(),
            self.limit > 0,
        ) {
            // The simple claim, its promotions and expiries in one call; its guard comes
            // first, and its failure undoes its own statement, the only one that ran:
            // the full claim follows. (One queue: `several` is never taken here.)
            let statement = self.steps(
                &queues_json,
                sql::CLAIM_QUEUE_SIMPLE_STEPS,
                sql::CLAIM_QUEUES_STEPS,
            );
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
        if self.limit == 0 {
            // Nothing to lease: the promotions and expiries alone, which say nothing of
            // the limits stored.
            for statement in [sql::PROMOTE_DUE, sql::FAIL_EXPIRED_LEASES] {
                let statement = sqlx::query(statement)
                    .bind(queues_json.as_str())
                    .bind(micros(self.now));
                rows_changed(conn, statement).await?;
            }
            return Ok(Vec::new());
        }
        self.limits_seen.suspect_limited();
        let rows: Vec<SqliteRow> = self
            .steps(
                &queues_json,
                sql::CLAIM_QUEUE_STEPS,
                sql::CLAIM_QUEUES_STEPS,
            )
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        self.remember(&rows)?;
        self.jobs(&rows)
    }
}
