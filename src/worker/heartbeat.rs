//! Heartbeats and the fence: one batched lease extension for all of a worker's
//! running jobs, and the local deadline that stops a job whose lease could not be
//! confirmed.
//!
//! A lease is a promise that nobody else runs the job until `lease_until`. The worker
//! holds it only as long as it can confirm it: each running job's deadline is its
//! last confirmed `lease_until` minus the lease margin, and when the deadline passes
//! the handler is stopped and the job given up, recording nothing, whatever the
//! heartbeat call is doing (waiting in a partition, failing, queued behind another
//! process's write lock). Heartbeat calls are bounded by the time left before the
//! first of their jobs' deadlines, so none can hang past it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use time::OffsetDateTime;

use super::held::{Phase, StopReason};
use super::{Inner, later, until};
use crate::error::StoreError;
use crate::job::Lease;
use crate::store::HeartbeatStatus;

/// The shortest sleep of the fence loop: keeps a deadline reached by the clock but not
/// yet by the timer from turning the loop into a spin.
const MIN_FENCE_WAIT: Duration = Duration::from_millis(1);

/// Starts the background task that heartbeats every interval while the worker has
/// running jobs, and stops every job whose deadline passes. It holds the worker only
/// weakly, and ends when the worker is gone or shut down with nothing running.
pub(crate) fn spawn_ticker(inner: &Arc<Inner>) {
    let weak = Arc::downgrade(inner);
    tokio::spawn(async move {
        // Two loops in one task: the fence never waits for a heartbeat call.
        tokio::join!(fence_loop(weak.clone()), heartbeat_loop(weak.clone()));
        if let Some(inner) = weak.upgrade() {
            inner.ticker_started.store(false, Ordering::SeqCst);
        }
    });
}

/// Whether the background loops should end.
fn finished(inner: &Inner) -> bool {
    inner.stop.is_cancelled() && inner.held().jobs.is_empty()
}

async fn heartbeat_loop(weak: Weak<Inner>) {
    let Some(interval) = weak.upgrade().map(|inner| inner.settings.heartbeat) else {
        return;
    };
    // After a failed heartbeat, try again sooner: the lease is running out.
    let retry = (interval / 4).max(Duration::from_millis(10)).min(interval);
    let mut wait = interval;
    loop {
        tokio::time::sleep(wait).await;
        let Some(inner) = weak.upgrade() else { return };
        if finished(&inner) {
            return;
        }
        wait = match inner.heartbeat_round().await {
            Ok(()) => interval,
            Err(_) => retry,
        };
    }
}

async fn fence_loop(weak: Weak<Inner>) {
    loop {
        let wait = {
            let Some(inner) = weak.upgrade() else { return };
            if finished(&inner) {
                return;
            }
            // Wake at the next deadline, and at least every heartbeat interval, so a
            // clock that moves on its own (a test's ManualClock) is noticed too.
            let cap = inner.settings.heartbeat;
            match inner.fence() {
                Some(deadline) => until(deadline, inner.clock.now()).min(cap),
                None => cap,
            }
        };
        tokio::time::sleep(wait.max(MIN_FENCE_WAIT)).await;
    }
}

/// `lease_until - margin`.
pub(crate) fn deadline(lease_until: OffsetDateTime, margin: Duration) -> OffsetDateTime {
    time::Duration::try_from(margin)
        .ok()
        .and_then(|margin| lease_until.checked_sub(margin))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Inner {
    /// Stops every running job whose deadline (its last confirmed `lease_until` minus
    /// the margin) has passed by the clock; returns the earliest deadline left.
    pub(crate) fn fence(&self) -> Option<OffsetDateTime> {
        self.sweep(None)
    }

    /// [`Inner::fence`], and in the same pass over the held jobs, collects into
    /// `held` the leases still held: jobs buffered, running on, and jobs whose outcome
    /// is being recorded (kept under heartbeat until it is written, never stopped
    /// here). A buffered job past its deadline is given up at once.
    fn sweep(&self, mut leases: Option<&mut Vec<Lease>>) -> Option<OffsetDateTime> {
        let now = self.clock.now();
        let margin = self.settings.margin;
        let mut next: Option<OffsetDateTime> = None;
        let mut held = self.held();
        let mut given_up = Vec::new();
        for (lease, entry) in &mut held.jobs {
            if entry.stop.is_some() {
                continue;
            }
            let deadline = deadline(entry.lease_until, margin);
            if deadline <= now && entry.phase != Phase::Finishing {
                tracing::warn!(
                    job = %lease.job_id,
                    attempt = entry.attempt,
                    lease_until = %entry.lease_until,
                    ?margin,
                    "the lease could not be confirmed before its deadline: stopping the \
                     handler and giving the job up; it runs again once the lease expires"
                );
                if entry.phase == Phase::Buffered {
                    given_up.push(*lease);
                } else {
                    entry.stop(StopReason::Lost);
                }
                continue;
            }
            if deadline > now {
                next = Some(next.map_or(deadline, |next| next.min(deadline)));
            }
            if let Some(leases) = leases.as_deref_mut() {
                leases.push(*lease);
            }
        }
        self.give_up_buffered(&mut held, &given_up);
        next
    }

    /// Drops buffered jobs whose lease is lost or cancelled, and wakes the run loop to
    /// claim in their place.
    fn give_up_buffered(&self, held: &mut super::held::Held, leases: &[Lease]) {
        if leases.is_empty() {
            return;
        }
        for lease in leases {
            held.give_up(*lease);
        }
        self.publish_holds_none(held);
        self.wanted.notify_one();
    }

    /// Extends every running job's lease in one store call and stops the handlers
    /// whose lease is lost or whose job was cancelled. The call is bounded by the time
    /// left before the first of these jobs must stop; whatever it does, the jobs whose
    /// deadline passes are stopped.
    pub(crate) async fn heartbeat_round(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let margin = self.settings.margin;
        let mut leases = Vec::new();
        let first_deadline = self.sweep(Some(&mut leases));
        if leases.is_empty() {
            return Ok(());
        }
        let lease_until = later(now, self.settings.lease);
        // Only outcomes being recorded past their deadline are left when there is no
        // deadline ahead: give the call one heartbeat interval.
        let budget = first_deadline.map_or(self.settings.heartbeat, |first| until(first, now));
        let sent = tokio::time::Instant::now();
        let answer = tokio::time::timeout(budget, self.store.heartbeat(&leases, lease_until)).await;
        let took = sent.elapsed();
        if took > self.settings.lease / 3 {
            tracing::warn!(
                ?took,
                lease = ?self.settings.lease,
                "a heartbeat took more than a third of the lease: the store is slow or \
                 unreachable, and jobs are stopped when their leases cannot be confirmed"
            );
        }
        let statuses = match answer {
            Ok(Ok(statuses)) => statuses,
            Ok(Err(error)) => return Err(self.heartbeat_failed(error)),
            Err(_) => {
                let error = StoreError::Busy(
                    format!(
                        "the heartbeat got no answer within {budget:?}, the time left before \
                         the first running job's lease deadline (lease_until minus the \
                         {margin:?} margin)"
                    )
                    .into(),
                );
                return Err(self.heartbeat_failed(error));
            }
        };
        if statuses.len() != leases.len() {
            tracing::error!(
                leases = leases.len(),
                answers = statuses.len(),
                "the store's heartbeat answered a different number of leases"
            );
        }
        let mut held = self.held();
        let mut given_up = Vec::new();
        for (lease, status) in leases.iter().zip(statuses) {
            let Some(entry) = held.jobs.get_mut(lease) else {
                continue;
            };
            let reason = match status {
                // A job the fence stopped meanwhile stays stopped: it was given up.
                HeartbeatStatus::Extended => {
                    entry.lease_until = entry.lease_until.max(lease_until);
                    continue;
                }
                HeartbeatStatus::Cancelled => {
                    tracing::info!(job = %lease.job_id, "job cancelled while running");
                    StopReason::Cancelled
                }
                // Its outcome is being written, and that write says whether the lease
                // held: most often it has just ended the lease itself (a completion
                // committed before this heartbeat, its answer not yet read), which is
                // no loss to report.
                _ if entry.phase == Phase::Finishing => {
                    tracing::debug!(
                        job = %lease.job_id,
                        "heartbeat: {lease} ended while its outcome was being written"
                    );
                    continue;
                }
                _ => {
                    tracing::warn!(job = %lease.job_id, "heartbeat: {lease} is lost");
                    StopReason::Lost
                }
            };
            if entry.phase == Phase::Buffered {
                given_up.push(*lease);
            } else {
                entry.stop(reason);
            }
        }
        self.give_up_buffered(&mut held, &given_up);
        Ok(())
    }

    /// Stops the jobs whose deadline has passed, logs the failure once, and hands it
    /// back.
    fn heartbeat_failed(&self, error: StoreError) -> StoreError {
        self.fence();
        if error.is_transient() {
            tracing::warn!(
                %error,
                "heartbeat failed; retrying until the running jobs' lease deadlines"
            );
        } else {
            tracing::error!(
                %error,
                "heartbeat failed with an error that needs an operator; running jobs stop \
                 at their lease deadlines"
            );
        }
        error
    }
}
