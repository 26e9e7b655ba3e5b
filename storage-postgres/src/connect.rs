//! Opening a [`PostgresStore`]: the pool, the schema (created and migrated), the server
//! clock's first sample and its sampling, the completer.

use std::sync::Arc;

use leasehold::StoreError;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::call::Calls;
use crate::clock::ServerClock;
use crate::completer::Completer;
use crate::error::store_error;
use crate::notify::Listener;
use crate::options::{PostgresStoreOptions, quoted_schema, redact};
use crate::schema::prepare;
use crate::sql::Statements;
use crate::store::PostgresStore;
use crate::{DEFAULT_SCHEMA, sampler};

impl PostgresStore {
    /// Connects to the database at `url` and migrates schema `leasehold`, with the
    /// default [`PostgresStoreOptions`].
    ///
    /// # Errors
    ///
    /// As [`PostgresStore::connect_with`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(PostgresStoreOptions::new(url)).await
    }

    /// Connects to the database `options` names, creates (when missing) and migrates
    /// the store's schema in it, and takes the server clock's first sample (unless
    /// [`PostgresStoreOptions::server_clock`] is off).
    ///
    /// Must be called inside a Tokio runtime, which later runs the store's tasks: the
    /// completer, the server clock's sampling and the enqueue listener (see
    /// [`PostgresStore::subscribe_enqueued`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Incompatible`] for a schema that holds someone else's tables or
    /// was migrated by a newer leasehold-postgres; [`StoreError::Permanent`], saying
    /// what to do, when the server refuses the login, the database does not exist, the
    /// server is read-only or the role lacks privileges; [`StoreError::Busy`] when the
    /// server refuses more connections or does not answer within the connect timeout;
    /// [`StoreError::Backend`] for anything else (a bad URL or schema name, an
    /// unreachable server).
    pub async fn connect_with(options: PostgresStoreOptions) -> Result<Self, StoreError> {
        let connect = options.connect_options()?;
        quoted_schema(options.schema_name())?;
        let limit = options.connect_timeout;
        let pool = tokio::time::timeout(
            limit,
            PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect),
        )
        .await
        .map_err(|_| {
            StoreError::Busy(
                format!(
                    "no connection to PostgreSQL at {} within the connect timeout of {} ms",
                    redact(options.url()),
                    limit.as_millis()
                )
                .into(),
            )
        })?
        .map_err(store_error)?;
        Self::open(pool, &options).await
    }

    /// A store over an existing pool, in schema `leasehold` (created and migrated).
    ///
    /// # Errors
    ///
    /// As [`PostgresStore::connect_with`].
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        Self::from_pool_in_schema(pool, DEFAULT_SCHEMA).await
    }

    /// A store over an existing pool, in `schema` (created and migrated; named as
    /// [`PostgresStoreOptions::schema`] requires). Statements name the schema, so the
    /// pool's own `search_path` does not matter.
    ///
    /// The pool's connections keep their own settings (no `statement_timeout` or
    /// `application_name` is added to them); everything else is as the default
    /// [`PostgresStoreOptions`] say, the store's own bound on a call's answer and its
    /// server clock included.
    ///
    /// # Errors
    ///
    /// As [`PostgresStore::connect_with`].
    pub async fn from_pool_in_schema(pool: PgPool, schema: &str) -> Result<Self, StoreError> {
        Self::open(pool, &PostgresStoreOptions::new("").schema(schema)).await
    }

    async fn open(pool: PgPool, options: &PostgresStoreOptions) -> Result<Self, StoreError> {
        let schema = options.schema_name();
        let sql = Arc::new(Statements::for_schema(&quoted_schema(schema)?));
        let mut conn = pool.acquire().await.map_err(store_error)?;
        prepare(&mut conn, &sql, schema).await?;
        drop(conn);
        let calls = Calls::new(pool, options.call_timeout());
        let runtime = tokio::runtime::Handle::try_current().ok();
        let clock = match options.clock_settings() {
            Some(settings) => {
                let first = sampler::sample(&calls, &sql.server_time, &*settings.host).await?;
                let clock = ServerClock::new(settings, &first);
                match &runtime {
                    Some(runtime) => {
                        sampler::spawn(
                            runtime,
                            &clock,
                            calls.clone(),
                            Arc::clone(&sql.server_time),
                        );
                    }
                    None => tracing::warn!(
                        "leasehold-postgres: no Tokio runtime to sample the server's clock in; \
                         the ServerClock runs on from its first sample"
                    ),
                }
                Some(clock)
            }
            None => None,
        };
        let completer = runtime
            .as_ref()
            .map(|_| Completer::spawn(calls.clone(), Arc::clone(&sql)));
        let listener = Listener::new(schema, options.connect_timeout, runtime);
        Ok(Self::new(calls, schema, sql, completer, listener, clock))
    }
}
