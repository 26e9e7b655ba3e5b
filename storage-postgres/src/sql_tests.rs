//! The SQL as SQL: no statement reads the database clock (but the server clock's probe),
//! each file is one statement, and every statement names its tables through the schema
//! placeholder.

use std::sync::Arc;

use leasehold_sql::testing;
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgArguments, Postgres};

use super::*;

/// Words that read the database's clock wherever they appear, beyond the standard's
/// (PostgreSQL's SQL-standard time "functions" take no parentheses).
const CLOCK_WORDS: &[&str] = &[
    "localtimestamp",
    "localtime",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
];

/// The one file that reads the database's clock on purpose: the probe of the
/// `ServerClock`, which measures the server's time so that workers on hosts whose clocks
/// disagree can follow one clock. It decides nothing about jobs or schedules: those
/// statements are given their times, so a lease is never judged on two clocks at once.
const READS_THE_CLOCK_ON_PURPOSE: &str = "server_time.sql";

/// The clock-reading words in `sql`, comments and string literals included ('now' is
/// a timestamp literal PostgreSQL reads the clock for).
fn clock_reads(sql: &str) -> Vec<String> {
    testing::clock_reads(sql, CLOCK_WORDS, &[])
}

#[test]
fn the_clock_check_catches_every_way_to_read_the_clock() {
    let postgres_reads = [
        "SELECT clock_timestamp()",
        "SELECT statement_timestamp()",
        "SELECT transaction_timestamp()",
        "SELECT LOCALTIMESTAMP",
        "SELECT localtime",
        "SELECT 'now'::timestamptz",
        "SELECT extract(epoch from timeofday()::timestamptz)",
    ];

    testing::assert_catches_clock_reads(
        clock_reads,
        &postgres_reads,
        "SELECT run_at, known, nowhere FROM jobs -- the time given",
    );
}

#[test]
fn no_sql_file_reads_the_database_clock() {
    let files = testing::all_sql_files(env!("CARGO_MANIFEST_DIR"));

    let exempt = |path: &str| path.ends_with(&format!("src/sql/{READS_THE_CLOCK_ON_PURPOSE}"));
    testing::assert_no_clock_reads(&files, 20, clock_reads, exempt);
    let probe: Vec<_> = files.iter().filter(|(path, _)| exempt(path)).collect();
    assert_eq!(probe.len(), 1, "the exempt file exists, once");
    assert_eq!(
        clock_reads(&probe[0].1),
        ["clock_timestamp"],
        "the probe reads the clock, and only through clock_timestamp()"
    );
}

#[test]
fn every_sql_file_is_one_statement_in_use() {
    let files = testing::statement_files(env!("CARGO_MANIFEST_DIR"));

    testing::assert_one_statement_each(files.len(), ALL);
}

#[test]
fn statements_name_tables_only_through_the_schema_placeholder() {
    let sql = Statements::for_schema("\"custom\"");
    // The files as they are, and the statements as the store runs them, their parts
    // (parts/, leasehold-sql's) filled in.
    for (name, text) in ALL.iter().copied().chain(sql.all()) {
        let code = testing::code(text);
        for table in [
            "jobs",
            "schedules",
            "queues",
            "locks",
            "limits",
            "limit_starts",
            "_leasehold_migrations",
        ] {
            for keyword in ["FROM", "UPDATE", "INTO", "JOIN"] {
                let bare = format!("{keyword} {table}");
                assert!(
                    !code.contains(&bare),
                    "{name} names {table} without its schema ({bare:?})"
                );
            }
        }
    }
    assert!(sql.claim_queue.contains("\"custom\".jobs"));
    assert!(!sql.claim_queue.contains(SCHEMA_PLACEHOLDER));
}

#[test]
fn every_statement_has_its_parts_filled_in_with_dollar_parameters() {
    let sql = Statements::for_schema("\"custom\"");

    testing::assert_placeholders_filled(sql.all());
    for (name, text) in sql.all() {
        assert!(!text.contains("?1"), "{name} numbers its parameters $N");
    }
    assert!(sql.queue_stats.contains("run_at > $1"));
}

#[test]
fn shared_parameters_are_written_as_postgresql_numbers_them() {
    assert_eq!(
        dollar_parameters("run_at > ?1 AND tags ? ?12 AND tags ?| ?3"),
        "run_at > $1 AND tags ? $12 AND tags ?| $3"
    );
}

/// The plan PostgreSQL picks for `statement` with `bind`'s parameters, one line per
/// node.
async fn plan(
    conn: &mut sqlx::PgConnection,
    statement: &Arc<str>,
    bind: impl FnOnce(
        sqlx::query::Query<'static, Postgres, PgArguments>,
    ) -> sqlx::query::Query<'static, Postgres, PgArguments>,
) -> Vec<String> {
    let explain: Arc<str> = Arc::from(format!("EXPLAIN {statement}"));
    bind(query(&explain))
        .fetch_all(conn)
        .await
        .expect("the statement can be explained")
        .iter()
        .map(|row| sqlx::Row::try_get::<String, _>(row, 0).expect("a plan line"))
        .collect()
}

/// A fresh schema for a plan test on the server `LEASEHOLD_TEST_POSTGRES_URL` names,
/// and a runtime to drive it.
struct PlanDatabase {
    url: String,
    schema: String,
    runtime: tokio::runtime::Runtime,
}

impl PlanDatabase {
    /// `None`, having said so, when `LEASEHOLD_TEST_POSTGRES_URL` is not set.
    fn new(prefix: &str) -> Option<Self> {
        let Ok(url) = std::env::var("LEASEHOLD_TEST_POSTGRES_URL") else {
            eprintln!("SKIPPED: LEASEHOLD_TEST_POSTGRES_URL is not set");
            return None;
        };
        let suffix: String = (0..12).map(|_| fastrand::lowercase()).collect();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        Some(Self {
            url,
            schema: format!("{prefix}_{suffix}"),
            runtime,
        })
    }

    /// Runs `test` on a store over the schema, a connection of its own and the
    /// schema's name, then drops the schema; `None` without a database.
    fn run<T>(
        database: Option<Self>,
        test: impl AsyncFnOnce(&crate::PostgresStore, &mut sqlx::PgConnection, &str) -> T,
    ) -> Option<T> {
        use sqlx::Connection;

        let database = database?;
        let this = &database;
        Some(this.runtime.block_on(async {
            let store = crate::PostgresStore::connect_with(
                crate::PostgresStoreOptions::new(&this.url)
                    .schema(&this.schema)
                    .max_connections(2),
            )
            .await
            .expect("the store opens");
            let mut conn = sqlx::PgConnection::connect(&this.url)
                .await
                .expect("connect");
            let answer = test(&store, &mut conn, &this.schema).await;
            store.close().await;
            let drop_schema = format!("DROP SCHEMA \"{}\" CASCADE", this.schema);
            sqlx::query(AssertSqlSafe(drop_schema))
                .execute(&mut conn)
                .await
                .expect("drop the test schema");
            answer
        }))
    }
}

/// Stores `jobs` jobs of kind `k` due at `now`, each made from a plain one and its
/// number by `make`, 1,000 per call.
async fn enqueue_backlog(
    store: &crate::PostgresStore,
    jobs: usize,
    now: leasehold::time::OffsetDateTime,
    make: impl Fn(leasehold::NewJob, usize) -> Result<leasehold::NewJob, leasehold::Error>,
) {
    let jobs: Vec<leasehold::NewJob> = (0..jobs)
        .map(|i| {
            leasehold::NewJob::new("k", serde_json::json!({}), now)
                .and_then(|job| make(job, i))
                .expect("a valid job")
        })
        .collect();
    for chunk in jobs.chunks(1_000) {
        leasehold::JobStore::enqueue_many(store, chunk.to_vec(), now)
            .await
            .expect("enqueue");
    }
}

#[test]
fn hot_statements_read_their_partial_indexes_not_the_whole_table() {
    // `next_due` is left out: it reads a queue's whole pending range for the earliest
    // run_at (as on SQLite), and runs only when a worker found nothing to claim.
    let database = PlanDatabase::new("lh_test_plan");
    let Some(plans) = PlanDatabase::run(database, async |store, conn, schema| {
        let now = leasehold::testing::conformance::t(0);
        // A backlog in two queues, some of it finished, and statistics about it.
        enqueue_backlog(store, 20_000, now, |job, i| {
            job.queue(if i % 2 == 0 { "a" } else { "b" })
        })
        .await;
        let lease_until = now + leasehold::time::Duration::minutes(1);
        let queues = ["a".to_owned()];
        let request = leasehold::ClaimRequest::new("w", &queues, 5_000, lease_until);
        leasehold::JobStore::claim(store, request, now)
            .await
            .expect("claim");
        let analyze = format!("ANALYZE \"{schema}\".jobs");
        sqlx::query(AssertSqlSafe(analyze))
            .execute(&mut *conn)
            .await
            .expect("analyze");
        let sql = store.statements();
        let t0 = leasehold_sql::row::micros(now);
        // The claims' parameters after the queues ($1): now, the limit, the lease's end,
        // the worker, the length of an error history.
        let after_queues = |q: sqlx::query::Query<'static, Postgres, PgArguments>| {
            q.bind(t0).bind(10_i64).bind(t0 + 1).bind("w").bind(20_i64)
        };
        let mut plans = Vec::new();
        plans.push((
            "claim_queue",
            plan(conn, &sql.claim_queue, |q| after_queues(q.bind("a"))).await,
        ));
        let queues = vec!["a".to_owned(), "b".to_owned()];
        plans.push((
            "claim_queues",
            plan(conn, &sql.claim_queues, |q| {
                after_queues(q.bind(queues.clone()))
            })
            .await,
        ));
        // The claim within limits, and the lock of the limits before it: a limited
        // key's jobs are read by key, the others from jobs_ready.
        let keys = vec!["k".to_owned()];
        plans.push((
            "lock_limits",
            plan(conn, &sql.lock_limits, |q| {
                q.bind(queues.clone()).bind(t0).bind(None::<String>)
            })
            .await,
        ));
        plans.push((
            "claim_limited",
            plan(conn, &sql.claim_limited, |q| {
                q.bind(queues.clone())
                    .bind(t0)
                    .bind(10_i64)
                    .bind(t0 + 1)
                    .bind("w")
                    .bind(10_i64)
                    .bind(keys)
                    .bind(Vec::<String>::new())
                    .bind(20_i64)
            })
            .await,
        ));
        plans.push((
            "prune",
            plan(conn, &sql.prune, |q| q.bind(t0).bind(100_i64)).await,
        ));
        let completed = r#"["completed"]"#;
        plans.push((
            "job_by_unique_key",
            plan(conn, &sql.job_by_unique_key, |q| {
                q.bind("k").bind(t0).bind(completed)
            })
            .await,
        ));
        // An enqueue with a unique period: the finished holders are looked up by key.
        let digest = leasehold::NewJob::new("k", serde_json::json!({}), now)
            .expect("a valid job")
            .unique_key("k")
            .unique_for(
                std::time::Duration::from_secs(60),
                &[leasehold::JobState::Completed],
            )
            .expect("a valid period");
        plans.push((
            "enqueue",
            plan(conn, &sql.enqueue, |q| {
                crate::row::bind(q, leasehold_sql::enqueue::params(&digest, now)).bind("channel")
            })
            .await,
        ));
        let id = uuid::Uuid::nil();
        plans.push((
            "complete",
            plan(conn, &sql.complete, |q| q.bind(id).bind(1_i64).bind(t0)).await,
        ));
        // Retention: the jobs that finished before a time, oldest first.
        plans.push((
            "delete_finished",
            plan(conn, &sql.delete_finished, |q| {
                q.bind(None::<String>)
                    .bind(None::<String>)
                    .bind("completed")
                    .bind(None::<bool>)
                    .bind(t0)
                    .bind(None::<String>)
                    .bind(t0)
                    .bind(1000_i64)
            })
            .await,
        ));
        plans.push((
            "complete_with_output",
            plan(conn, &sql.complete_with_output, |q| {
                q.bind(id).bind(1_i64).bind(t0).bind("{}")
            })
            .await,
        ));
        plans
    }) else {
        return;
    };

    testing::assert_plans_use_indexes(&plans, |line| line.contains("Seq Scan on jobs"));
    let claim = &plans[0].1;
    // The ready rows come out of the index in claim order: no sort of the backlog
    // before the limit (the only sort is of the few picked rows).
    let ready: Vec<&String> = claim
        .iter()
        .skip_while(|l| !l.contains("CTE ready"))
        .take_while(|l| !l.contains("CTE expired"))
        .collect();
    assert!(
        ready.iter().any(|l| l.contains("jobs_ready")) && !ready.iter().any(|l| l.contains("Sort")),
        "a one-queue claim reads ready rows in claim order: {claim:#?}"
    );
}

/// Whether a plain claim checks for limits only on the jobs it chose (parts/pick_due.sql),
/// the lock of the limits (parts/limits_in_claim.sql) probes each limited key's own
/// index, and a completion of many (complete_many.sql) looks up the waiting dependents
/// by key, on a table whose statistics were never gathered: a backlog that just
/// arrived. As a hashed subplan, the check read every claimable job of the queue at
/// each claim (7,500 of them, 6 ms a claim, in the limits bench); the completion read
/// every job for the waiting ones.
#[test]
fn a_backlog_without_statistics_is_read_by_key_to_check_limits_and_dependents() {
    let database = PlanDatabase::new("lh_test_limit_plan");
    let Some(plans) = PlanDatabase::run(database, async |store, conn, _| {
        let now = leasehold::testing::conformance::t(0);
        let key = |i: usize| format!("tenant:{}", i % 16);
        enqueue_backlog(store, 10_000, now, |job, i| job.limit_key(key(i))).await;
        let limit = leasehold::Limit::running(1_000).expect("a valid limit");
        for i in 0..16 {
            let scope = leasehold::LimitScope::Key(key(i));
            leasehold::JobStore::set_limit(store, &scope, limit, now)
                .await
                .expect("set_limit");
        }
        let sql = store.statements();
        let t0 = leasehold_sql::row::micros(now);
        let claim_queue = plan(conn, &sql.claim_queue, |q| {
            q.bind("default")
                .bind(t0)
                .bind(64_i64)
                .bind(t0 + 1)
                .bind("w")
                .bind(20_i64)
        })
        .await;
        let lock_limits = plan(conn, &sql.lock_limits, |q| {
            q.bind(vec!["default".to_owned()])
                .bind(t0)
                .bind(None::<String>)
        })
        .await;
        let ids = vec![uuid::Uuid::nil(); 64];
        let complete_many = plan(conn, &sql.complete_many, |q| {
            q.bind(ids).bind(vec![1_i64; 64]).bind(vec![t0; 64])
        })
        .await;
        (claim_queue, lock_limits, complete_many)
    }) else {
        return;
    };

    let mentions = |plan: &[String], text: &str| plan.iter().any(|line| line.contains(text));
    let (claim_queue, lock_limits, complete_many) = &plans;
    assert!(
        !mentions(complete_many, "Seq Scan on jobs"),
        "a completion looks its waiting dependents up by key: {complete_many:#?}"
    );
    for (name, plan) in [("claim_queue", claim_queue), ("lock_limits", lock_limits)] {
        assert!(
            !mentions(plan, "hashed SubPlan"),
            "{name} hashes the backlog to check its limits: {plan:#?}"
        );
    }
    // The plain claim checks only the jobs it chose, each by key in limits; the lock
    // of the limits probes each stored key's ready jobs in their own index.
    assert!(
        !mentions(claim_queue, "jobs_limit_ready"),
        "the plain claim reads no key's backlog: {claim_queue:#?}"
    );
    assert!(
        mentions(lock_limits, "jobs_limit_ready"),
        "lock_limits probes a limited key's ready jobs by key: {lock_limits:#?}"
    );
}
