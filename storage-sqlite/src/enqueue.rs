//! Enqueueing on a connection: [`enqueue`] (the SQL of every enqueue: the writer's
//! `Enqueue`, a schedule's fire, and the caller's own transaction), [`insert_bulk`]
//! (one statement for jobs without unique keys, which a group commit also uses), and
//! [`TransactionalEnqueue`] for [`SqliteStore`].

use std::borrow::Cow;
use std::sync::Arc;

use leasehold::time::OffsetDateTime;
use leasehold::{Enqueued, JobId, JobRecord, NewJob, StoreError};
use leasehold_sql::dependency::{DependencyWrites, Start, start_dependents};
use leasehold_sql::enqueue::{Insert, insert_all, insert_error, json_text, params};
use leasehold_sql::row::{Columns, job_record, micros};
use leasehold_sql::{Param, TransactionalEnqueue};
use sqlx::SqliteConnection;

use crate::error::{is_unique_violation, store_error};
use crate::row::{Row, Statement, bind};
use crate::settle::settle;
use crate::sql;
use crate::store::SqliteStore;

/// Enqueue inside the caller's own transaction on the store's database file.
///
/// `conn` is any connection to this store's database, typically inside `pool.begin()`;
/// it holds the write lock until it commits, so keep the transaction short: the store's
/// own writes wait for it (up to the busy timeout). Workers see the jobs at their next
/// poll once the transaction commits. On an error, roll the transaction back: some of
/// the jobs may have been written in it.
///
/// ```no_run
/// # async fn example(store: leasehold_sqlite::SqliteStore, pool: sqlx::SqlitePool)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use leasehold::{Clock, EnqueueOptions, Job, SystemClock};
/// use leasehold_sql::TransactionalEnqueue;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct ShipOrder { order: i64 }
/// impl Job for ShipOrder { const KIND: &'static str = "ship_order"; }
///
/// let now = SystemClock.now();
/// let mut tx = pool.begin().await?;
/// sqlx::query("INSERT INTO orders (id) VALUES (42)").execute(&mut *tx).await?;
/// store.enqueue_in(&mut tx, &ShipOrder { order: 42 }, EnqueueOptions::new(), now).await?;
/// tx.commit().await?; // the order and its job, or neither
/// # Ok(())
/// # }
/// ```
impl TransactionalEnqueue for SqliteStore {
    type Connection = SqliteConnection;

    async fn enqueue_many_new_in(
        &self,
        conn: &mut SqliteConnection,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        enqueue(conn, &jobs, now).await
    }
}

/// Stores `jobs` enqueued at `now` on `conn`, answering each in order, and starts
/// those with dependencies. On an error, some jobs may be written: roll back.
pub(crate) async fn enqueue(
    conn: &mut SqliteConnection,
    jobs: &[NewJob],
    now: OffsetDateTime,
) -> Result<Vec<Enqueued>, StoreError> {
    if jobs.iter().any(|job| !job.depends_on.is_empty()) {
        // A dependency that ended earlier in this transaction (an earlier call of the
        // group commit) may still be queued to settle its dependents at the commit:
        // read as ended here, it would be counted off this one's dependents twice.
        settle(conn).await.map_err(store_error)?;
    }
    let mut inserts = Inserts { conn, now };
    let mut answers = insert_all(&mut inserts, jobs).await?;
    start_dependents(&mut inserts, jobs, &mut answers, now).await?;
    Ok(answers)
}

/// The enqueue statements on one connection, for jobs enqueued at `now`.
struct Inserts<'c> {
    conn: &'c mut SqliteConnection,
    now: OffsetDateTime,
}

impl Insert for Inserts<'_> {
    fn now(&self) -> OffsetDateTime {
        self.now
    }

    async fn insert_keyless(&mut self, jobs: &[&NewJob]) -> Result<bool, StoreError> {
        let jobs: Vec<_> = jobs.iter().map(|job| (*job, self.now)).collect();
        insert_bulk(self.conn, &jobs).await
    }

    async fn insert_one(&mut self, job: &NewJob) -> Result<Enqueued, StoreError> {
        let (conn, now) = (&mut *self.conn, self.now);
        let inserted = bind(sqlx::query(sql::ENQUEUE), params(job, now))
            .execute(&mut *conn)
            .await
            .map_err(|e| insert_error(e, job.id, is_unique_violation, store_error))?
            .rows_affected();
        if inserted > 0 {
            return Ok(Enqueued::inserted(JobRecord::from_new(job, now)));
        }
        // Nothing inserted: a non-terminal job holds the unique key, or else a job
        // that ended within the unique period.
        let [
            ..,
            unique_since,
            unique_states,
            _limit_key,
            _depends_on,
            _policy,
        ] = params(job, now);
        let mut holder = sqlx::query(sql::JOB_BY_UNIQUE_KEY)
            .bind(job.unique_key.as_deref())
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?;
        if holder.is_none() && unique_since != Param::Integer(None) {
            let statement = sqlx::query(sql::JOB_BY_UNIQUE_PERIOD).bind(job.unique_key.as_deref());
            holder = bind(statement, [unique_since, unique_states])
                .fetch_optional(&mut *conn)
                .await
                .map_err(store_error)?;
        }
        match holder {
            Some(row) => Ok(Enqueued::duplicate(job_record(&Row(&row), now)?)),
            None => Err(StoreError::backend(format!(
                "job {} was neither inserted nor held by another job's unique key",
                job.id
            ))),
        }
    }
}

impl DependencyWrites for Inserts<'_> {
    async fn depend_on(&mut self, ids: &[JobId]) -> Result<Vec<(JobId, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let hex: Vec<String> = ids
            .iter()
            .map(|id| id.as_uuid().simple().to_string())
            .collect();
        let rows = sqlx::query(sql::DEPEND_ON)
            .bind(json_text(&hex))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let row = Row(row);
                let state = row.text("state")?.unwrap_or_default();
                Ok((row.job_id()?, state))
            })
            .collect()
    }

    async fn start(&mut self, start: &Start<'_>) -> Result<(), StoreError> {
        let [id, _, _, depends_on, ..] = start.params();
        bind(sqlx::query(sql::START_DEPENDENT), start.params())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        bind(sqlx::query(sql::INSERT_DEPENDENCIES), [id, depends_on])
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// Inserts each `(job, now)` of `jobs` (none with a unique key), all or none.
/// Returns `false`, having inserted nothing, when an id already exists (or repeats):
/// the caller then inserts one by one to name it.
///
/// The rows go as bound parameters of multi-row `INSERT`s ([`sql::enqueue_rows`], each
/// size prepared once per connection): up to [`sql::ONE_STATEMENT_ROWS`] jobs in one
/// statement, more in several under a savepoint, so that a duplicate id in a later
/// one undoes the earlier ones.
pub(crate) async fn insert_bulk(
    conn: &mut SqliteConnection,
    jobs: &[(&NewJob, OffsetDateTime)],
) -> Result<bool, StoreError> {
    // Several statements go under a savepoint: all or none. No job, no statement.
    let several = jobs.len() > sql::ONE_STATEMENT_ROWS;
    if several {
        execute(conn, sql::SAVEPOINT_BULK).await?;
    }
    for chunk in jobs.chunks(sql::ONE_STATEMENT_ROWS) {
        let statement = bind_rows(sqlx::query(sql::enqueue_rows(chunk.len())), chunk);
        match statement.execute(&mut *conn).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                if several {
                    execute(conn, sql::ROLLBACK_BULK).await?;
                    execute(conn, sql::RELEASE_BULK).await?;
                }
                return Ok(false);
            }
            Err(e) => return Err(store_error(e)),
        }
    }
    if several {
        execute(conn, sql::RELEASE_BULK).await?;
    }
    Ok(true)
}

/// The twelve parameters of one row of `enqueue_row.sql`, in order, for `job`
/// enqueued at `now`: the one list that both [`bind_rows`] (sqlx) and the writer's
/// own connection (`crate::direct`) bind. No tags or no metadata bind NULL (the row
/// stores `[]` and `{}`), with no text to make.
pub(crate) fn row_params(job: &NewJob, now: OffsetDateTime) -> [Param<'_>; 12] {
    [
        Param::Id(Some(job.id)),
        Param::text(&job.kind),
        Param::text(&job.queue),
        Param::owned_text(json_text(&job.payload)),
        Param::SmallInteger(job.priority),
        Param::text(if job.run_at <= now {
            "available"
        } else {
            "scheduled"
        }),
        Param::integer(micros(job.run_at)),
        Param::integer(i64::from(job.max_attempts)),
        Param::integer(micros(now)),
        Param::Text((!job.tags.is_empty()).then(|| Cow::Owned(json_text(&job.tags)))),
        Param::Text((!job.metadata.is_empty()).then(|| Cow::Owned(json_text(&job.metadata)))),
        Param::optional_text(job.limit_key.as_deref()),
    ]
}

/// `statement` (a multi-row insert of [`sql::enqueue_rows`], maybe inside a group
/// commit's other statements) with the [`row_params`] of each `(job, now)` of `jobs`
/// bound in order.
///
/// Binding costs allocations, which were a third of a batched job's instructions:
/// sqlx copies a bound `&str` into a new `Arc<String>` (two of them) but takes an
/// `Arc<str>` as it is, so borrowed text (a kind, queue, state or limit key) the row
/// before had in the same column too goes as the same `Arc<str>` ([`Shared`]).
pub(crate) fn bind_rows<'q>(
    mut statement: Statement<'q>,
    jobs: &[(&NewJob, OffsetDateTime)],
) -> Statement<'q> {
    let mut columns: [Shared; 12] = Default::default();
    for &(job, now) in jobs {
        for (column, param) in columns.iter_mut().zip(row_params(job, now)) {
            statement = match param {
                Param::Text(Some(Cow::Borrowed(text))) => statement.bind(column.of(text)),
                other => bind(statement, [other]),
            };
        }
    }
    statement
}

/// The text a column of consecutive rows shares, bound as one `Arc<str>`.
#[derive(Default)]
struct Shared(Option<Arc<str>>);

impl Shared {
    /// `text` as an `Arc<str>`: the last one again when it is the same text.
    fn of(&mut self, text: &str) -> Arc<str> {
        match &self.0 {
            Some(last) if **last == *text => Arc::clone(last),
            _ => Arc::clone(self.0.insert(Arc::from(text))),
        }
    }
}

/// Runs one statement without parameters.
async fn execute(conn: &mut SqliteConnection, statement: &'static str) -> Result<(), StoreError> {
    sqlx::query(statement)
        .execute(&mut *conn)
        .await
        .map(drop)
        .map_err(store_error)
}
