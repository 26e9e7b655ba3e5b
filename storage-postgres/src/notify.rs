//! Wake-ups across processes: every enqueue that stores a job notifies the schema's
//! channel (`<schema>_enqueued`, payload the job's queue) when its transaction
//! commits; [`PostgresStore::subscribe_enqueued`](crate::PostgresStore::subscribe_enqueued)
//! turns those notifications into a `watch` counter a worker waits on.
//!
//! One listener task per store (started by the first subscription) holds one
//! connection that `LISTEN`s. It takes every notification already buffered before it
//! bumps the counter once, and a `watch` receiver sees any number of bumps since its
//! last look as one change: a burst of enqueues wakes a worker once. When the
//! connection drops, notifications sent meanwhile are lost, so the task bumps the
//! counter after every reconnect too; a spurious wake-up costs one claim, a missed one
//! costs a poll interval (polling stays the fallback).

use std::sync::Mutex;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::options::enqueued_channel;
use crate::store::PostgresStore;

/// The first pause after the listener fails to connect or listen; doubles up to
/// [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);
/// The longest pause between attempts to reconnect.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// The enqueue listener of one store: the channel its schema's enqueues notify, the
/// counter subscribers watch, and the task that listens (started by the first
/// subscription, aborted when the store is dropped).
pub(crate) struct Listener {
    channel: String,
    wakeups: watch::Sender<u64>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// How long the listener may take to open its connection.
    connect_timeout: Duration,
    /// The runtime the store was opened in, for the task when `subscribe_enqueued` is
    /// called outside any runtime.
    runtime: Option<Handle>,
}

impl Listener {
    /// The listener of the store on `schema`, not yet listening.
    pub(crate) fn new(schema: &str, connect_timeout: Duration, runtime: Option<Handle>) -> Self {
        Self {
            channel: enqueued_channel(schema),
            wakeups: watch::channel(0).0,
            task: Mutex::new(None),
            connect_timeout,
            runtime,
        }
    }

    /// The channel the schema's enqueues notify.
    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let task = self
            .task
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(task) = task.take() {
            task.abort();
        }
    }
}

impl PostgresStore {
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
        let listener = self.listener();
        let receiver = listener.wakeups.subscribe();
        let mut task = listener
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if task.as_ref().is_none_or(JoinHandle::is_finished) {
            let runtime = Handle::try_current()
                .ok()
                .or_else(|| listener.runtime.clone());
            match runtime {
                Some(runtime) => {
                    *task = Some(runtime.spawn(listen(
                        self.pool().clone(),
                        listener.connect_timeout,
                        listener.channel.clone(),
                        listener.wakeups.clone(),
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
        self.listener().channel()
    }
}

/// Bumps the counter every receiver of `wakeups` watches.
fn bump(wakeups: &watch::Sender<u64>) {
    wakeups.send_modify(|n| *n = n.wrapping_add(1));
}

/// Listens on `channel` through a connection of its own (made with `pool`'s connect
/// options, outside `pool`, so it never takes a connection the store's calls need, and
/// carries the same `application_name` and `statement_timeout`; each attempt to open
/// it is bounded by `connect_timeout`), bumping `wakeups` for each burst of
/// notifications and after each (re)connect. Runs until `pool` is closed or the task
/// is aborted (when the store is dropped).
pub(crate) async fn listen(
    pool: PgPool,
    connect_timeout: Duration,
    channel: String,
    wakeups: watch::Sender<u64>,
) {
    let closed = pool.close_event();
    tokio::pin!(closed);
    if pool.is_closed() {
        return;
    }
    let own = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(connect_timeout)
        .connect_lazy_with((*pool.connect_options()).clone());
    tokio::select! {
        () = &mut closed => {}
        () = listen_on(&own, &channel, &wakeups) => {}
    }
    own.close().await;
}

async fn listen_on(pool: &PgPool, channel: &str, wakeups: &watch::Sender<u64>) {
    let mut delay = FIRST_RETRY_DELAY;
    loop {
        let mut listener = match connect(pool, channel).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, channel, "leasehold-postgres cannot listen for enqueues; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
                continue;
            }
        };
        delay = FIRST_RETRY_DELAY;
        // Listening from here on: anything enqueued before may have gone unnoticed.
        bump(wakeups);
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => {
                    while listener.next_buffered().is_some() {}
                    bump(wakeups);
                }
                // The connection dropped and sqlx reconnected (and listens again):
                // what was sent in between is lost.
                Ok(None) => bump(wakeups),
                Err(error) => {
                    tracing::warn!(%error, channel, "leasehold-postgres lost its enqueue listener; reconnecting");
                    tokio::time::sleep(delay).await;
                    break;
                }
            }
        }
    }
}

async fn connect(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}
