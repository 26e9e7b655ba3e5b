//! [`PostgresStore`]: opening a store on a PostgreSQL schema, and what it holds; its
//! `JobStore` verbs are in `crate::verbs`.

use std::fmt;
use std::sync::{Arc, Mutex};

use leasehold::StoreError;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::call::Calls;
use crate::clock::ServerClock;
use crate::completer::Completer;
use crate::error::store_error;
use crate::options::{PostgresStoreOptions, enqueued_channel, quoted_schema, redact};
use crate::schema::prepare;
use crate::sql::Statements;
use crate::{DEFAULT_SCHEMA, sampler};

/// A [`JobStore`](leasehold::JobStore) on a schema of a PostgreSQL database; clones
/// share the pool.
///
/// Any number of stores, in any number of processes on any number of machines, may
/// work one schema: claims lock the rows they take with `FOR UPDATE SKIP LOCKED`, so
/// they never wait for each other and never take the same job; every write under a
/// lease checks the lease's token. No statement about jobs reads the database's clock;
/// the store offers a [`ServerClock`] that follows it instead (see
/// [`JobStore::clock`](leasehold::JobStore::clock)), so workers on several machines
/// judge leases on one clock.
///
/// Every call is bounded: waiting for a connection by the acquire timeout, the call's
/// answer by the statement timeout plus a grace (see
/// [`PostgresStoreOptions::statement_timeout`]).
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) calls: Calls,
    schema: String,
    pub(crate) sql: Arc<Statements>,
    /// Writes concurrent completions together; `None` outside a Tokio runtime, where
    /// each completion is a statement of its own.
    pub(crate) completer: Option<Completer>,
    pub(crate) channel: String,
    wakeups: watch::Sender<u64>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// How long the listener may take to open its connection.
    connect_timeout: std::time::Duration,
    /// The runtime the store was opened in, for the listener task when
    /// `subscribe_enqueued` is called outside any runtime.
    runtime: Option<tokio::runtime::Handle>,
    /// The clock the store offers, `None` when the options turned it off.
    pub(crate) clock: Option<ServerClock>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let listener = self
            .listener
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(task) = listener.take() {
            task.abort();
        }
        if let Some(clock) = &self.clock {
            clock.state().stop_sampling();
        }
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.inner.schema)
            .field("pool", self.inner.calls.pool())
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

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
        let limit = options.connect_timeout_value();
        let pool = tokio::time::timeout(
            limit,
            PgPoolOptions::new()
                .max_connections(options.max_connections_value())
                .acquire_timeout(options.acquire_timeout_value())
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
        let (wakeups, _) = watch::channel(0);
        let completer = runtime
            .as_ref()
            .map(|_| Completer::spawn(calls.clone(), Arc::clone(&sql)));
        Ok(Self {
            inner: Arc::new(Inner {
                calls,
                schema: schema.to_owned(),
                sql,
                completer,
                channel: enqueued_channel(schema),
                wakeups,
                listener: Mutex::new(None),
                connect_timeout: options.connect_timeout_value(),
                runtime,
                clock,
            }),
        })
    }

    /// The pool the store works through (for inspection, tests and the caller's own
    /// transactions).
    pub fn pool(&self) -> &PgPool {
        self.inner.calls.pool()
    }

    /// The schema the store's tables live in.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// The clock that follows the server's, which
    /// [`JobStore::clock`](leasehold::JobStore::clock) offers; `None`
    /// when [`PostgresStoreOptions::server_clock`] turned it off.
    pub fn server_clock(&self) -> Option<&ServerClock> {
        self.inner.clock.as_ref()
    }

    /// Closes the store's pool, for this handle and every clone, once the calls in
    /// flight finish; later calls fail, and the enqueue listener and the server clock's
    /// sampling stop.
    pub async fn close(&self) {
        self.pool().close().await;
    }

    /// A counter that changes whenever a job is enqueued into this store's schema by
    /// any store handle, in any process: hand it to
    /// `WorkerBuilder::enqueue_signal` so a worker wakes at once instead of at its next
    /// poll.
    ///
    /// The first call starts a listener task (on the current Tokio runtime, else the
    /// one the store was opened in) that holds one connection of its own (outside the
    /// pool, made with the pool's connect options, within the connect timeout) and
    /// `LISTEN`s on the schema's channel; it stops when the store (every clone) is
    /// dropped or closed. Bursts are debounced: a receiver sees any number of enqueues
    /// since it last looked as one change. The counter also changes once the listener
    /// is connected and after every reconnect, since notifications sent while it was
    /// away are lost; polling remains the fallback for those.
    pub fn subscribe_enqueued(&self) -> watch::Receiver<u64> {
        let receiver = self.inner.wakeups.subscribe();
        let mut listener = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if listener.as_ref().is_none_or(JoinHandle::is_finished) {
            let runtime = tokio::runtime::Handle::try_current()
                .ok()
                .or_else(|| self.inner.runtime.clone());
            match runtime {
                Some(runtime) => {
                    *listener = Some(runtime.spawn(crate::notify::listen(
                        self.pool().clone(),
                        self.inner.connect_timeout,
                        self.inner.channel.clone(),
                        self.inner.wakeups.clone(),
                    )));
                }
                None => tracing::warn!(
                    "leasehold-postgres: no Tokio runtime to listen for enqueues in; \
                     workers fall back to polling"
                ),
            }
        }
        receiver
    }

    /// The notification channel enqueues into this schema signal on.
    pub fn enqueue_channel(&self) -> &str {
        &self.inner.channel
    }

    pub(crate) fn statements(&self) -> &Statements {
        &self.inner.sql
    }

    pub(crate) fn calls(&self) -> &Calls {
        &self.inner.calls
    }
}
