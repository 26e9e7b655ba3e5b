//! The physical limit of the same work on the same PostgreSQL server: a minimal
//! hand-written queue on raw sqlx, on a schema of its own, with a minimal jobs table, a
//! partial index over ready rows and the same claim shape as `PostgresStore` (`FOR
//! UPDATE SKIP LOCKED` under a `LIMIT`, then `UPDATE ... RETURNING`).
//!
//! - one row per transaction: `BEGIN`, claim one job, complete it, `COMMIT`;
//! - 8 and 64 rows per statement: one claim statement, then one `UPDATE` that
//!   completes them all (`id = ANY($1)`).

use std::time::Instant;

use sqlx::postgres::PgArguments;
use sqlx::query::{Query, QueryScalar};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres};

use crate::baseline::{BATCH, SINGLE, SMALL_BATCH, assert_every_job_completed, push};
use crate::report::Report;
use crate::stores::{drop_schema, fresh_schema};

pub(crate) const STORE: &str = "raw-postgres";

/// The schema; `{s}` is the quoted schema name.
const SCHEMA: &str = "
CREATE SCHEMA {s};
CREATE TABLE {s}.jobs (
    id          BIGSERIAL PRIMARY KEY,
    queue       TEXT     NOT NULL,
    state       TEXT     NOT NULL,
    priority    SMALLINT NOT NULL,
    run_at      BIGINT   NOT NULL,
    payload     JSON     NOT NULL,
    attempt     BIGINT   NOT NULL,
    lease_until BIGINT,
    finished_at BIGINT
);
CREATE INDEX ON {s}.jobs (queue, priority, run_at, id) WHERE state = 'pending';
";

/// Inserts $3 jobs due at $1 with payloads `{\"i\": n}`.
const INSERT: &str = "INSERT INTO {s}.jobs (queue, state, priority, run_at, payload, attempt)
SELECT 'default', 'pending', 0, $1, json_build_object('i', n), 0
FROM generate_series(1, $2::bigint) AS n";

/// Leases up to $3 due jobs until $2.
const CLAIM: &str = "UPDATE {s}.jobs SET state = 'running', attempt = attempt + 1, lease_until = $2
WHERE id IN (
    SELECT id FROM {s}.jobs
    WHERE state = 'pending' AND queue = 'default' AND run_at <= $1
    ORDER BY priority, run_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
RETURNING id";

const COMPLETE_ONE: &str = "UPDATE {s}.jobs SET state = 'completed', finished_at = $2
WHERE id = $1 AND state = 'running'";

const COMPLETE_MANY: &str = "UPDATE {s}.jobs SET state = 'completed', finished_at = $2
WHERE id = ANY($1) AND state = 'running'";

/// A fixed time far from today: the baseline needs ordering, not wall time.
const NOW: i64 = 946_684_800_000_000;

fn sql(template: &str, schema: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(template.replace("{s}", &format!("\"{schema}\"")))
}

/// Runs the three baselines over `n` no-op jobs; the 64-row one's jobs/s is what every
/// PostgreSQL end-to-end row is compared with.
pub(crate) async fn run(report: &mut Report, url: &str, n: usize) {
    let schema = fresh_schema();
    let mut conn = prepare(url, &schema, n).await;
    let started = Instant::now();
    for _ in 0..n {
        let mut tx = conn.begin().await.expect("begin");
        let id = claim(&schema, 1)
            .fetch_one(&mut *tx)
            .await
            .expect("claim one");
        complete_one(&schema, id)
            .execute(&mut *tx)
            .await
            .expect("complete one");
        tx.commit().await.expect("commit");
    }
    let elapsed = started.elapsed();
    finish(conn, url, &schema, n).await;
    push(report, STORE, SINGLE, n, 1, elapsed);

    batches(report, url, SMALL_BATCH, n, 8).await;
    batches(report, url, BATCH, n, 64).await;
}

/// Claims `rows` jobs per statement and completes them in one, until `n` are done.
async fn batches(report: &mut Report, url: &str, scenario: &str, n: usize, rows: usize) {
    let schema = fresh_schema();
    let mut conn = prepare(url, &schema, n).await;
    let limit = i64::try_from(rows).expect("a small batch");
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let ids = claim(&schema, limit)
            .fetch_all(&mut conn)
            .await
            .expect("claim a batch");
        assert!(!ids.is_empty(), "the baseline ran dry after {done} of {n}");
        done += ids.len();
        sqlx::query(sql(COMPLETE_MANY, &schema))
            .bind(ids)
            .bind(NOW)
            .execute(&mut conn)
            .await
            .expect("complete a batch");
    }
    let elapsed = started.elapsed();
    finish(conn, url, &schema, n).await;
    push(report, STORE, scenario, n, rows, elapsed);
}

/// [`CLAIM`] on `schema` of up to `limit` jobs due at [`NOW`], leased for 30 s.
fn claim(schema: &str, limit: i64) -> QueryScalar<'static, Postgres, i64, PgArguments> {
    sqlx::query_scalar(sql(CLAIM, schema))
        .bind(NOW)
        .bind(NOW + 30_000_000)
        .bind(limit)
}

/// [`COMPLETE_ONE`] on `schema` of the job `id`, at [`NOW`].
fn complete_one(schema: &str, id: i64) -> Query<'static, Postgres, PgArguments> {
    sqlx::query(sql(COMPLETE_ONE, schema)).bind(id).bind(NOW)
}

/// A connection to a new schema with `n` pending jobs.
async fn prepare(url: &str, schema: &str, n: usize) -> PgConnection {
    let mut conn = PgConnection::connect(url).await.expect("a raw connection");
    sqlx::raw_sql(sql(SCHEMA, schema))
        .execute(&mut conn)
        .await
        .expect("the schema");
    sqlx::query(sql(INSERT, schema))
        .bind(NOW)
        .bind(i64::try_from(n).expect("a job count fits i64"))
        .execute(&mut conn)
        .await
        .expect("insert");
    sqlx::query(sql("ANALYZE {s}.jobs", schema))
        .execute(&mut conn)
        .await
        .expect("analyze");
    conn
}

/// Checks that every job completed, then drops the schema.
async fn finish(mut conn: PgConnection, url: &str, schema: &str, n: usize) {
    let completed: i64 = sqlx::query_scalar(sql(
        "SELECT count(*) FROM {s}.jobs WHERE state = 'completed'",
        schema,
    ))
    .fetch_one(&mut conn)
    .await
    .expect("count");
    assert_every_job_completed(completed, n);
    conn.close().await.expect("close");
    drop_schema(url, schema).await;
}
