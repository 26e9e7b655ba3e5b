//! What every PostgreSQL test shares: the server's URL from the environment (or a
//! loud skip), a fresh schema per test, dropped when the test ends.

// Each test file compiles this module on its own and uses a part of it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use leasehold::testing::conformance::StoreFactory;
use leasehold::testing::observe::CapturedLogs;
use leasehold::worker::Worker;
use leasehold::{JobStore, async_trait};
use leasehold_postgres::{PostgresStore, PostgresStoreOptions};
use sqlx::{Connection, PgConnection};
use tokio::task::JoinHandle;

/// The variable that points the tests at a PostgreSQL server.
pub(crate) const URL_VAR: &str = "LEASEHOLD_TEST_POSTGRES_URL";

/// The test server's URL, or `None` after saying loudly that the test is skipped.
pub(crate) fn test_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("SKIPPED: {URL_VAR} is not set");
            None
        }
    }
}

/// A schema name no other test uses.
pub(crate) fn fresh_schema() -> String {
    let suffix: String = (0..12).map(|_| fastrand::lowercase()).collect();
    format!("lh_test_{suffix}")
}

/// The options of a test store on `schema`: a small pool, so parallel tests stay far
/// below the server's connection limit.
pub(crate) fn options(url: &str, schema: &str) -> PostgresStoreOptions {
    PostgresStoreOptions::new(url)
        .schema(schema)
        .max_connections(4)
}

/// Keeps the warnings and errors logged from now on, on every thread (a store's tasks
/// run on the runtime's workers): the one global subscriber of the test binary, so at
/// most one test of a binary calls it.
pub(crate) fn capture_warnings() -> CapturedLogs {
    let warnings = CapturedLogs::at_most(tracing::Level::WARN);
    tracing::subscriber::set_global_default(warnings.clone())
        .expect("the only subscriber of this test binary");
    warnings
}

/// Runs `worker` in a task of its own until it is shut down.
pub(crate) fn spawn_run(worker: &Worker) -> JoinHandle<()> {
    let worker = worker.clone();
    tokio::spawn(async move { worker.run().await })
}

/// Schemas to drop when the test ends.
pub(crate) struct Schemas {
    url: String,
    names: Mutex<Vec<String>>,
}

impl Schemas {
    pub(crate) fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            names: Mutex::new(Vec::new()),
        }
    }

    /// A fresh schema name, dropped with `self`.
    pub(crate) fn fresh(&self) -> String {
        let schema = fresh_schema();
        self.names
            .lock()
            .expect("not poisoned")
            .push(schema.clone());
        schema
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Schemas {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.names.lock().unwrap_or_else(|p| p.into_inner()));
        if names.is_empty() {
            return;
        }
        let url = self.url.clone();
        // A thread of its own: the test may still be inside a runtime.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async {
                    let mut conn = PgConnection::connect(&url).await?;
                    for name in names {
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                        )))
                        .execute(&mut conn)
                        .await?;
                    }
                    Ok::<_, sqlx::Error>(())
                })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("a test schema was left behind: {error}");
        }
    }
}

/// A fresh schema on the test server, dropped with this value: where most tests start.
pub(crate) struct FreshSchema {
    /// The test server's URL.
    pub(crate) url: String,
    /// The schema's name.
    pub(crate) schema: String,
    _dropped_with: Schemas,
}

/// A fresh schema on the test server, or `None` after saying loudly that the test is
/// skipped.
pub(crate) fn test_schema() -> Option<FreshSchema> {
    let url = test_url()?;
    let schemas = Schemas::new(&url);
    let schema = schemas.fresh();
    Some(FreshSchema {
        url,
        schema,
        _dropped_with: schemas,
    })
}

impl FreshSchema {
    /// The [`options`] of a test store on this schema.
    pub(crate) fn options(&self) -> PostgresStoreOptions {
        options(&self.url, &self.schema)
    }

    /// A store on this schema with the test [`options`].
    pub(crate) async fn open(&self) -> PostgresStore {
        self.open_with(|options| options).await
    }

    /// A store on this schema with the test [`options`] as `adjust` changes them.
    pub(crate) async fn open_with(
        &self,
        adjust: impl FnOnce(PostgresStoreOptions) -> PostgresStoreOptions,
    ) -> PostgresStore {
        PostgresStore::connect_with(adjust(self.options()))
            .await
            .expect("the store opens")
    }

    /// A new connection to the test server, outside any store.
    pub(crate) async fn connection(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("the server answers")
    }

    /// A transaction on `conn` holding an exclusive lock on this schema's jobs table,
    /// which holds up every statement on it until rolled back.
    pub(crate) async fn lock_jobs<'c>(
        &self,
        conn: &'c mut PgConnection,
    ) -> sqlx::Transaction<'c, sqlx::Postgres> {
        let mut tx = conn.begin().await.expect("a transaction");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "LOCK TABLE \"{}\".jobs IN ACCESS EXCLUSIVE MODE",
            self.schema
        )))
        .execute(&mut *tx)
        .await
        .expect("the lock");
        tx
    }
}

/// Opens stores on fresh schemas of the test server, dropped with the factory.
pub(crate) struct PgFactory {
    schemas: Schemas,
}

impl PgFactory {
    /// A factory on the test server, or `None` (after saying so) when none is set.
    pub(crate) fn from_env() -> Option<Self> {
        test_url().map(|url| Self {
            schemas: Schemas::new(&url),
        })
    }
}

#[async_trait]
impl StoreFactory for PgFactory {
    async fn open(&self) -> Arc<dyn JobStore> {
        let schema = self.schemas.fresh();
        Arc::new(
            PostgresStore::connect_with(options(self.schemas.url(), &schema))
                .await
                .expect("the store opens"),
        )
    }

    async fn open_shared(&self, handles: usize) -> Vec<Arc<dyn JobStore>> {
        let schema = self.schemas.fresh();
        let mut stores: Vec<Arc<dyn JobStore>> = Vec::with_capacity(handles);
        for _ in 0..handles {
            stores.push(Arc::new(
                PostgresStore::connect_with(options(self.schemas.url(), &schema))
                    .await
                    .expect("the store opens"),
            ));
        }
        stores
    }
}
