//! Opening a schema: it is created and migrated once however many stores connect at
//! once; what is not a leasehold schema (someone else's tables, a newer leasehold's
//! migrations, a bad name) is refused with a clear error, never a panic.

mod support;

use leasehold::testing::conformance::t;
use leasehold::{JobFilter, JobRecord, JobStore, NewJob, StoreError};
use leasehold_postgres::PostgresStore;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use support::{FreshSchema, Schemas, options, test_schema, test_url};

fn job(kind: &str) -> NewJob {
    NewJob::new(kind, serde_json::json!({"n": 1}), t(0)).expect("a valid job")
}

async fn execute(db: &FreshSchema, sql: String) {
    let mut conn = db.connection().await;
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("the statement runs");
}

async fn scalar(db: &FreshSchema, sql: String) -> i64 {
    let mut conn = db.connection().await;
    sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(&mut conn)
        .await
        .expect("the query runs")
}

/// Migrates `db`'s schema and stores one job in it through a store it then closes;
/// returns the job.
async fn schema_with_a_job(db: &FreshSchema) -> JobRecord {
    let store = db.open().await;
    let job = store.enqueue(job("kept"), t(0)).await.unwrap().job;
    store.close().await;
    job
}

/// Asserts that opening was refused as `Incompatible`, in a message that names each of
/// `names`.
fn assert_incompatible(opened: Result<PostgresStore, StoreError>, names: &[&str]) {
    match opened {
        Err(StoreError::Incompatible(message)) => {
            for name in names {
                assert!(message.contains(name), "{message}");
            }
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connects_migrate_the_schema_once() {
    let Some(db) = test_schema() else { return };

    let connects = (0..8).map(|_| PostgresStore::connect_with(db.options()));
    let stores = futures::future::join_all(connects).await;

    let stores: Vec<PostgresStore> = stores
        .into_iter()
        .map(|s| s.expect("every racing connect succeeds"))
        .collect();
    let migrations = format!("\"{}\"._leasehold_migrations", db.schema);
    let applied = scalar(&db, format!("SELECT count(*) FROM {migrations}")).await;
    let distinct = scalar(
        &db,
        format!("SELECT count(DISTINCT version) FROM {migrations}"),
    )
    .await;
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("the migrations directory")
        .count();
    let shipped = i64::try_from(shipped).expect("a handful of migrations");
    assert_eq!(applied, shipped, "each migration applied once");
    assert_eq!(distinct, shipped);
    let enqueued = stores[0].enqueue(job("shared"), t(0)).await.unwrap().job;
    assert_eq!(
        stores[7].get(enqueued.id, t(0)).await.unwrap(),
        Some(enqueued)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_migrated_by_a_newer_leasehold_is_refused() {
    let Some(db) = test_schema() else { return };
    let kept = schema_with_a_job(&db).await;
    let schema = &db.schema;
    execute(
        &db,
        format!(
            "INSERT INTO \"{schema}\"._leasehold_migrations \
             (version, description, installed_on, success, checksum, execution_time) \
             VALUES (99990101000000, 'from the future', '2000-01-01T00:00:00Z', TRUE, '\\x00', 0)"
        ),
    )
    .await;

    let refused = PostgresStore::connect_with(db.options()).await;

    assert_incompatible(refused, &["99990101000000", "newer leasehold-postgres"]);
    let jobs = scalar(&db, format!("SELECT count(*) FROM \"{schema}\".jobs")).await;
    assert_eq!(
        jobs, 1,
        "the refused schema was left as it was ({})",
        kept.id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_holding_someone_elses_tables_is_refused() {
    let Some(db) = test_schema() else { return };
    let schema = &db.schema;
    execute(
        &db,
        format!("CREATE SCHEMA \"{schema}\"; CREATE TABLE \"{schema}\".users (id int)"),
    )
    .await;

    let refused = PostgresStore::connect_with(db.options()).await;

    assert_incompatible(refused, &["not a leasehold schema", "users"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_schema_name_is_refused_before_connecting() {
    for bad in ["", "Jobs", "jobs; DROP TABLE x", "pg_jobs"] {
        let refused =
            PostgresStore::connect_with(options("postgres://nobody@127.0.0.1:1/none", bad)).await;

        match refused {
            Err(StoreError::Backend(error)) => {
                assert!(error.to_string().contains("invalid schema name"), "{error}");
            }
            other => panic!("expected an invalid schema name error, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_on_two_schemas_are_independent_whatever_the_pools_search_path() {
    let Some(url) = test_url() else { return };
    let schemas = Schemas::new(&url);
    let (first, second) = (schemas.fresh(), schemas.fresh());
    // A pool whose connections look elsewhere first: the statements name the schema.
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET search_path TO public")
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .unwrap();
    let a = PostgresStore::from_pool_in_schema(pool.clone(), &first)
        .await
        .unwrap();
    let b = PostgresStore::from_pool_in_schema(pool, &second)
        .await
        .unwrap();

    a.enqueue(job("only-in-a"), t(0)).await.unwrap();

    assert_eq!(a.count(&JobFilter::all(), t(0)).await.unwrap(), 1);
    assert_eq!(b.count(&JobFilter::all(), t(0)).await.unwrap(), 0);
    assert_eq!((a.schema(), b.schema()), (first.as_str(), second.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_survive_a_reconnect() {
    let Some(db) = test_schema() else { return };
    let enqueued = schema_with_a_job(&db).await;

    let reopened = db.open().await;

    assert_eq!(
        reopened.get(enqueued.id, t(0)).await.unwrap(),
        Some(enqueued)
    );
}
