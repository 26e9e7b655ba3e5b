//! Heartbeats: one batched lease extension for all of a worker's running jobs.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Inner, StopReason, later};
use crate::error::StoreError;
use crate::job::Lease;
use crate::store::HeartbeatStatus;

/// Starts the background task that heartbeats every interval while the worker has
/// running jobs. It holds the worker only weakly, and ends when the worker is gone or
/// shut down with nothing running.
pub(crate) fn spawn_ticker(inner: &Arc<Inner>) {
    let weak = Arc::downgrade(inner);
    let interval = inner.settings.heartbeat;
    // After a store error, try again sooner: the lease is running out.
    let retry = (interval / 4).max(Duration::from_millis(10)).min(interval);
    tokio::spawn(async move {
        let mut wait = interval;
        loop {
            tokio::time::sleep(wait).await;
            let Some(inner) = weak.upgrade() else { return };
            if inner.stop.is_cancelled() && inner.running().is_empty() {
                inner.ticker_started.store(false, Ordering::SeqCst);
                return;
            }
            wait = match inner.heartbeat_round().await {
                Ok(()) => interval,
                Err(_) => retry,
            };
        }
    });
}

impl Inner {
    /// Extends every running job's lease in one store call and stops the handlers
    /// whose lease is lost or whose job was cancelled. On a store error, abandons the
    /// jobs whose lease has expired by the clock (another worker may hold them now).
    pub(crate) async fn heartbeat_round(&self) -> Result<(), StoreError> {
        let leases: Vec<Lease> = self
            .running()
            .values()
            .filter(|r| r.stop.is_none())
            .map(|r| r.lease)
            .collect();
        if leases.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let lease_until = later(now, self.settings.lease);
        match self.store.heartbeat(&leases, lease_until).await {
            Ok(statuses) => {
                if statuses.len() != leases.len() {
                    tracing::error!(
                        leases = leases.len(),
                        answers = statuses.len(),
                        "the store's heartbeat answered a different number of leases"
                    );
                }
                let mut running = self.running();
                for (lease, status) in leases.iter().zip(statuses) {
                    let Some(entry) = running.get_mut(lease) else {
                        continue;
                    };
                    match status {
                        HeartbeatStatus::Extended => entry.lease_until = lease_until,
                        HeartbeatStatus::Cancelled => {
                            tracing::info!(job = %lease.job_id, "job cancelled while running");
                            entry.stop(StopReason::Cancelled);
                        }
                        _ => {
                            tracing::warn!(job = %lease.job_id, "heartbeat: {lease} is lost");
                            entry.stop(StopReason::Lost);
                        }
                    }
                }
                Ok(())
            }
            Err(error) => {
                let now = self.clock.now();
                let mut running = self.running();
                for entry in running.values_mut() {
                    if entry.stop.is_none() && !entry.finishing && entry.lease_until <= now {
                        tracing::warn!(
                            job = %entry.info.id,
                            %error,
                            "heartbeat failed until the lease expired: abandoning the job"
                        );
                        entry.stop(StopReason::Lost);
                    }
                }
                tracing::warn!(%error, "heartbeat failed; retrying until the leases expire");
                Err(error)
            }
        }
    }
}
