//! The long-running side of a worker: [`Worker::run`], its idle backoff and wake-ups,
//! and graceful shutdown.

use std::future::Future;
use std::time::Duration;

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::watch;

/// How many jobs claimed ahead shutdown gives back at once.
const RELEASES_AT_ONCE: usize = 8;

/// How long after it starts a worker first runs retention (unless its interval is
/// shorter). Not at once: a pass is six store calls (a lock and a delete per finished
/// state), which went ahead of the worker's first claims and completions; on SQLite
/// they cost a worker starting on a backlog of 10,000 jobs 5-8 ms of its first 80.
const FIRST_RETENTION_AFTER: Duration = Duration::from_secs(1);

use crate::error::StoreError;

use super::claim::ClaimRound;
use super::held::StopReason;
use super::{Inner, Worker, until};

impl Worker {
    /// Runs until [`Worker::shutdown_token`] is cancelled (or the token given to
    /// [`WorkerBuilder::shutdown_on`](super::WorkerBuilder::shutdown_on)), then shuts
    /// down gracefully: returns when every job it ran is recorded or released.
    ///
    /// Each round claims, in one store call per queue, up to its free slots plus room
    /// in its buffer of jobs claimed ahead ([`WorkerBuilder::claim_ahead`](
    /// super::WorkerBuilder::claim_ahead)); a freed slot takes the next buffered job
    /// without a store call, and the buffer is refilled when half empty. Then it waits
    /// for whichever comes first: the enqueue signal, a slot freeing up in a full
    /// queue with nothing buffered, the next due job (`JobStore::next_due`), or the
    /// poll interval, which doubles while rounds find nothing, up to the max poll
    /// interval. Store errors are logged once and retried on the same idle backoff; an
    /// error that needs an operator (`StoreError::Permanent`, a full disk or a
    /// read-only file) is logged as an error and retried at the max poll interval.
    pub async fn run(&self) {
        let inner = &self.inner;
        let settings = &inner.settings;
        let mut enqueued = inner.enqueued.clone();
        for signal in &mut enqueued {
            signal.borrow_and_update();
        }
        let mut idle = settings.poll;
        if settings.retention.is_on() {
            tokio::spawn(maintain(Arc::clone(inner)));
        }
        while !inner.stop.is_cancelled() {
            let round = match inner.claim_round(true).await {
                Ok(round) => Some(round),
                // `claim_round` logged it. A permanent error (a full disk, a read-only
                // file) will not pass by itself: wait the longest poll before trying
                // again rather than repeat it at the poll rate.
                Err(leasehold_error) => {
                    if let crate::Error::Store(error) = &leasehold_error
                        && !error.is_transient()
                    {
                        idle = settings.max_poll;
                    }
                    None
                }
            };
            if round.as_ref().is_some_and(|round| round.got > 0) {
                idle = settings.poll;
            }
            // Every queue got all it asked for: more work is likely waiting, and a
            // slot or buffer room may have freed meanwhile (short jobs). Claim again
            // at once; a round that asks for nothing waits below.
            if round.as_ref().is_some_and(ClaimRound::filled) {
                continue;
            }
            let open: Vec<String> = {
                let held = inner.held();
                settings
                    .queues
                    .iter()
                    .zip(&held.queues)
                    .filter(|((_, concurrency), slots)| slots.busy < *concurrency)
                    .map(|((queue, _), _)| queue.clone())
                    .collect()
            };
            // Every queue full: only a freed slot (through `wanted`), the enqueue
            // signal or shutdown wakes the loop.
            let wait = if open.is_empty() {
                None
            } else {
                let mut wait = idle;
                if round.is_some() {
                    match inner.store.next_due(&open).await {
                        Ok(Some(due)) => {
                            let due_in = until(due, inner.clock.now());
                            wait = wait.min(due_in.max(Duration::from_millis(5)));
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::warn!(worker = %settings.id, %error, "next_due failed");
                        }
                    }
                }
                if round.as_ref().is_none_or(|round| round.got == 0) {
                    idle = (idle * 2).min(settings.max_poll);
                }
                Some(wait)
            };
            tokio::select! {
                () = inner.stop.cancelled() => break,
                () = enqueue_signal(&mut enqueued) => idle = settings.poll,
                () = inner.wanted.notified() => {}
                () = sleep_or_forever(wait) => {}
            }
        }
        self.drain().await;
    }

    /// [`Worker::run`] until `signal` resolves, then shuts down gracefully.
    pub async fn run_until<F: Future>(&self, signal: F) {
        let run = self.run();
        tokio::pin!(run);
        tokio::select! {
            () = &mut run => return,
            _ = signal => self.inner.stop.cancel(),
        }
        run.await;
    }

    /// Stops claiming, lets running jobs finish within the grace period, then cancels
    /// the rest and releases their leases (due at once, attempt given back). Returns
    /// when every job is recorded or released; a [`Worker::run`] in progress returns
    /// too.
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        self.drain().await;
    }

    async fn drain(&self) {
        let inner = &self.inner;
        // A claim round in progress starts its jobs before we wait for them.
        drop(inner.claiming.lock().await);
        // Jobs claimed ahead never started: give them back at once, attempt returned.
        let buffered = {
            let mut held = inner.held();
            let leases = held.take_buffered();
            inner.publish_holds_none(&mut held);
            leases
        };
        if !buffered.is_empty() {
            let now = inner.clock.now();
            // A few at a time: a SQL store's pool need not hold them all at once.
            let releases = buffered
                .iter()
                .copied()
                .map(|lease| super::execute::persist(move || inner.store.release(lease, now, now)));
            let released: Vec<_> = futures::stream::iter(releases)
                .buffer_unordered(RELEASES_AT_ONCE)
                .collect()
                .await;
            let failed = released.iter().filter(|r| r.is_err()).count();
            tracing::info!(
                worker = %inner.settings.id,
                released = buffered.len() - failed,
                failed,
                "gave back the jobs claimed ahead; those not given back run again once their \
                 leases expire"
            );
        }
        let mut none = inner.holds_none.subscribe();
        let finished = tokio::time::timeout(inner.settings.grace, async {
            none.wait_for(|none| *none).await.map(|_| ())
        })
        .await;
        if finished.is_err() {
            for entry in inner.held().jobs.values_mut() {
                entry.stop(StopReason::Shutdown);
            }
            let _ = none.wait_for(|none| *none).await;
        }
        inner.flush_layers_and_hooks();
    }
}

/// Resolves when one of the enqueue signals changes; a signal that closes is dropped
/// and waited for no more. Never resolves without an open signal.
async fn enqueue_signal(signals: &mut Vec<watch::Receiver<u64>>) {
    loop {
        if signals.is_empty() {
            return std::future::pending().await;
        }
        let changed = signals.iter_mut().map(|signal| Box::pin(signal.changed()));
        let (result, index, _) = futures::future::select_all(changed).await;
        if result.is_ok() {
            return;
        }
        signals.swap_remove(index);
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// Runs retention every interval until the worker stops, the first time
/// [`FIRST_RETENTION_AFTER`] after the worker starts (or one interval, if shorter); a
/// failed run is logged and tried again at the next interval.
async fn maintain(inner: Arc<Inner>) {
    let settings = &inner.settings;
    let mut wait = settings.retention.every().min(FIRST_RETENTION_AFTER);
    loop {
        tokio::select! {
            () = inner.stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = settings.retention.every();
        let run = settings.retention.delete_old(
            &*inner.store,
            &*inner.clock,
            &settings.id,
            settings.lease,
        );
        match run.await {
            Ok(_) => {}
            Err(StoreError::Unsupported(verb)) => {
                tracing::info!(worker = %settings.id, verb, "the store cannot run retention");
                return;
            }
            Err(error) => {
                tracing::warn!(worker = %settings.id, %error, "retention failed; trying again later");
            }
        }
    }
}
