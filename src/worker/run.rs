//! The long-running side of a worker: [`Worker::run`], its idle backoff and wake-ups,
//! and graceful shutdown.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use std::sync::Arc;

use crate::error::StoreError;

use super::{Inner, StopReason, Worker, until};

/// The longest a round waits for the outcomes being written (see `Worker::settle`).
const SETTLE: Duration = Duration::from_millis(2);

impl Worker {
    /// Runs until [`Worker::shutdown_token`] is cancelled (or the token given to
    /// [`WorkerBuilder::shutdown_on`](super::WorkerBuilder::shutdown_on)), then shuts
    /// down gracefully: returns when every job it ran is recorded or released.
    ///
    /// Each round claims up to the free slots of each queue in one store call per
    /// queue. Then it waits for whichever comes first: the enqueue signal, a slot
    /// freeing up in a full queue, the next due job (`JobStore::next_due`), or the
    /// poll interval, which doubles while rounds find nothing, up to the max poll
    /// interval. Store errors are logged once and retried on the same idle backoff; an
    /// error that needs an operator (`StoreError::Permanent`, a full disk or a
    /// read-only file) is logged as an error and retried at the max poll interval.
    pub async fn run(&self) {
        let inner = &self.inner;
        let settings = &inner.settings;
        let mut enqueued = inner.enqueued.clone();
        if let Some(signal) = &mut enqueued {
            signal.borrow_and_update();
        }
        let mut slots = inner.running_count.subscribe();
        let mut idle = settings.poll;
        if settings.retention.is_on() {
            tokio::spawn(maintain(Arc::clone(inner)));
        }
        while !inner.stop.is_cancelled() {
            self.settle(&mut slots).await;
            let free: usize = settings
                .queues
                .iter()
                .map(|(queue, concurrency)| concurrency.saturating_sub(inner.running_in(queue)))
                .sum();
            let claimed = match self.claim_round().await {
                Ok(started) => Some(started.len()),
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
            slots.borrow_and_update();
            let open: Vec<String> = settings
                .queues
                .iter()
                .filter(|(queue, concurrency)| inner.running_in(queue) < *concurrency)
                .map(|(queue, _)| queue.clone())
                .collect();
            let some_full = open.len() < settings.queues.len();
            if claimed.is_some_and(|n| n > 0) {
                idle = settings.poll;
            }
            // The round filled every free slot and some have freed up since (short
            // jobs): more work is likely waiting, so claim again at once rather than
            // sleep until the next due time, which is already past.
            if free > 0 && claimed.is_some_and(|n| n >= free) && !open.is_empty() {
                continue;
            }
            let wait = if open.is_empty() {
                None
            } else {
                let mut wait = idle;
                if claimed.is_some() {
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
                if claimed.is_none_or(|n| n == 0) {
                    idle = (idle * 2).min(settings.max_poll);
                }
                Some(wait)
            };
            tokio::select! {
                () = inner.stop.cancelled() => break,
                open = enqueue_signal(&mut enqueued) => {
                    if open {
                        idle = settings.poll;
                    } else {
                        enqueued = None;
                    }
                }
                _ = slots.changed(), if some_full => {}
                () = sleep_or_forever(wait) => {}
            }
        }
        self.drain().await;
    }

    /// Waits (at most [`SETTLE`]) while running jobs are having their outcomes
    /// written, so that the slots they are about to free are claimed in the same store
    /// call as the ones free already, rather than one claim per finished job. The
    /// wait never holds back a slot for longer than that one write.
    async fn settle(&self, slots: &mut watch::Receiver<usize>) {
        let inner = &self.inner;
        let deadline = tokio::time::Instant::now() + SETTLE;
        while inner.running().values().any(|job| job.finishing) {
            tokio::select! {
                _ = slots.changed() => {}
                () = tokio::time::sleep_until(deadline) => break,
                () = inner.stop.cancelled() => break,
            }
        }
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
        let mut count = inner.running_count.subscribe();
        let finished = tokio::time::timeout(inner.settings.grace, async {
            count.wait_for(|n| *n == 0).await.map(|_| ())
        })
        .await;
        if finished.is_err() {
            for entry in inner.running().values_mut() {
                entry.stop(StopReason::Shutdown);
            }
            let _ = count.wait_for(|n| *n == 0).await;
        }
    }
}

/// Resolves when the enqueue signal changes (`true`) or closes (`false`); never
/// without a signal.
async fn enqueue_signal(signal: &mut Option<watch::Receiver<u64>>) -> bool {
    match signal {
        Some(signal) => signal.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// Runs retention every interval until the worker stops; a failed run is logged and
/// tried again at the next interval.
async fn maintain(inner: Arc<Inner>) {
    let settings = &inner.settings;
    loop {
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
        tokio::select! {
            () = inner.stop.cancelled() => return,
            () = tokio::time::sleep(settings.retention.every()) => {}
        }
    }
}
