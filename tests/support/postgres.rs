//! A `PostgresStore` on a fresh schema of the server `LEASEHOLD_TEST_POSTGRES_URL`
//! names, dropped when the test ends; `None` (after saying so) when no server is set.

// Each test file that includes this module uses a part of it.
#![allow(dead_code)]

use std::sync::Arc;

use leasehold::JobStore;
use leasehold_postgres::{PostgresStore, PostgresStoreOptions};
use sqlx::{Connection, PgConnection};

/// Drops its schema when dropped.
pub(crate) struct SchemaGuard {
    url: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // A thread of its own: the test's runtime may still be running.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async {
                    let mut conn = PgConnection::connect(&url).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                    )))
                    .execute(&mut conn)
                    .await?;
                    Ok::<_, sqlx::Error>(())
                })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("test schema {} was left behind: {error}", self.schema);
        }
    }
}

/// A store on a fresh schema, or `None` when `LEASEHOLD_TEST_POSTGRES_URL` is unset.
pub(crate) async fn open() -> Option<(Arc<dyn JobStore>, SchemaGuard)> {
    let (store, guard) = open_store().await?;
    Some((Arc::new(store), guard))
}

/// A `PostgresStore` on a fresh schema, or `None` when `LEASEHOLD_TEST_POSTGRES_URL` is
/// unset.
pub(crate) async fn open_store() -> Option<(PostgresStore, SchemaGuard)> {
    let Ok(url) = std::env::var("LEASEHOLD_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: LEASEHOLD_TEST_POSTGRES_URL is not set");
        return None;
    };
    let suffix: String = (0..12).map(|_| fastrand::lowercase()).collect();
    let schema = format!("lh_test_{suffix}");
    let guard = SchemaGuard {
        url: url.clone(),
        schema: schema.clone(),
    };
    let store = PostgresStore::connect_with(
        PostgresStoreOptions::new(url)
            .schema(schema)
            .max_connections(4),
    )
    .await
    .expect("the store opens");
    Some((store, guard))
}
