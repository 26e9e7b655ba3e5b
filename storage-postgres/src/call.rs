//! [`Calls`]: every call of a store runs on one pool connection, bounded in time.
//!
//! A call acquires a connection (bounded by the pool's acquire timeout), runs its
//! statements on it, and gives up when no answer came within the call timeout (the
//! statement timeout plus a grace). A connection whose call did not finish, because it
//! timed out or because the caller dropped the call's future, is closed and never
//! returned to the pool. sqlx would return it, but only after testing it with a ping
//! that first waits for the answer of the abandoned statement; without a bound of its
//! own, that ping holds one of the pool's slots for as long as the statement runs on
//! the server, or, on a connection that a network partition left open, until TCP gives
//! up (about 15 minutes with Linux's defaults). A few abandoned calls would so starve
//! the pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use leasehold::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

use crate::error::{store_error, timed_out};

/// The store's pool and its bound on each call's answer.
#[derive(Debug, Clone)]
pub(crate) struct Calls {
    pool: PgPool,
    timeout: Option<Duration>,
    /// Whether a call found every connection in use yet: said once per store.
    saturated: Arc<AtomicBool>,
}

impl Calls {
    /// Calls on `pool`, each answered within `timeout` (`None`: unbounded).
    pub(crate) fn new(pool: PgPool, timeout: Option<Duration>) -> Self {
        Self {
            pool,
            timeout,
            saturated: Arc::default(),
        }
    }

    /// The same pool's calls bounded by `timeout` instead (sharing the once-per-store
    /// warning).
    pub(crate) fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// Warns, once per store, when a call finds every connection of the pool in use:
    /// it waits for one, and so do the heartbeats that keep its worker's leases.
    fn warn_when_saturated(&self) {
        // Said once: after that, every call pays one load of the flag.
        if self.saturated.load(Ordering::Relaxed) {
            return;
        }
        let max = self.pool.options().get_max_connections();
        if self.pool.size() >= max
            && self.pool.num_idle() == 0
            && !self.saturated.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                max_connections = max,
                "every connection of the PostgreSQL pool is in use and calls wait for \
                 one: raise PostgresStoreOptions::max_connections. A worker uses a few \
                 at once (its claim, its heartbeat, its group of completions, one per job \
                 failing or snoozing), plus one per concurrent call of the application"
            );
        }
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How long a call waits for its answer (`None`: unbounded).
    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Runs `call` (named `name` in errors) on a connection of the pool.
    ///
    /// # Errors
    ///
    /// `call`'s own errors; [`StoreError::Busy`] when no connection was free within the
    /// acquire timeout; [`StoreError::Backend`] naming the timeout when `call` got no
    /// answer in time.
    pub(crate) async fn run<T>(
        &self,
        name: &str,
        call: impl AsyncFnOnce(&mut PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.warn_when_saturated();
        let mut checkout = Checkout {
            conn: Some(self.pool.acquire().await.map_err(store_error)?),
        };
        let conn: &mut PgConnection = checkout.conn.as_mut().expect("checked out above");
        let answered = match self.timeout {
            Some(limit) => match tokio::time::timeout(limit, call(conn)).await {
                Ok(answer) => answer,
                Err(_) => return Err(timed_out(name, limit)),
            },
            None => call(conn).await,
        };
        checkout.finished();
        answered
    }
}

/// A pool connection that goes back to the pool only if the call on it finished; a
/// call that timed out or was dropped closes it.
struct Checkout {
    conn: Option<PoolConnection<Postgres>>,
}

impl Checkout {
    /// The call on the connection finished (with an answer or an error): it may go back
    /// to the pool.
    fn finished(mut self) {
        drop(self.conn.take());
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Detached: the pool forgets it (and may open another in its place), and
            // dropping it closes the socket at once.
            drop(conn.detach());
        }
    }
}
