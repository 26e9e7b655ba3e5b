//! The claim: the best claimable jobs of the queues, leased, and expired last
//! attempts failed on the way.

use std::collections::HashSet;
use std::sync::Arc;

use leasehold::{ClaimRequest, JobId, JobRecord};

use super::{Inner, LEASE_EXPIRED};
use crate::index::{Entry, MaybeMicros, Micros, Phase, micros};

impl Inner {
    /// Leases up to the request's `limit` jobs at `now` (through
    /// [`Inner::claim_limited`] while any limit is stored).
    pub(super) fn claim(&mut self, request: &ClaimRequest<'_>, now: Micros) -> Vec<JobRecord> {
        let ClaimRequest { queues, limit, .. } = *request;
        if !self.limits.is_empty() {
            return self.claim_limited(request, now);
        }
        let until = micros(request.lease_until);
        let worker = self.intern(request.worker);
        let mut candidates = Vec::new();
        let mut exhausted = Vec::new();
        let mut seen = HashSet::new();
        for queue in queues.iter().filter(|q| seen.insert(q.as_str())) {
            if self.is_paused(queue) {
                continue;
            }
            self.claim_candidates(queue, limit, now, &mut candidates, &mut exhausted);
        }
        candidates.sort_unstable();
        candidates.truncate(limit);
        for &id in &exhausted {
            self.fail_expired(id, now);
        }
        let claimed = candidates
            .into_iter()
            .map(|(_, _, id)| self.lease(id, &worker, until, now).to_record(id, now))
            .collect();
        self.settle_expired(&exhausted, now);
        claimed
    }

    /// Settles the dependents of the jobs `exhausted` a claim failed, after it took its
    /// jobs: as in one SQL statement, a dependent they release is due from the next
    /// claim on, not in this one.
    pub(super) fn settle_expired(&mut self, exhausted: &[JobId], now: Micros) {
        for &id in exhausted {
            self.settle_dependents(id, now);
        }
    }

    /// Adds the best `limit` claimable jobs of `queue` to
    /// `candidates` and its expired leases without attempts left to `exhausted`.
    pub(super) fn claim_candidates(
        &mut self,
        queue: &str,
        limit: usize,
        now: Micros,
        candidates: &mut Vec<(i16, Micros, JobId)>,
        exhausted: &mut Vec<JobId>,
    ) {
        let Some(index) = self.queues.get_mut(queue) else {
            return;
        };
        let jobs = &self.jobs;
        candidates.extend(index.due(now, limit));
        // Expired leases compete with ready jobs in the same order.
        for &(_, id) in index.running.iter().take_while(|(until, _)| *until <= now) {
            let entry = &jobs[&id];
            if entry.attempt >= entry.max_attempts {
                exhausted.push(id);
            } else {
                candidates.push(entry.claim_key(id));
            }
        }
    }

    /// Leases the pending or running job `id` to `worker` until `lease_until`; returns it.
    pub(super) fn lease(
        &mut self,
        id: JobId,
        worker: &Arc<str>,
        lease_until: Micros,
        now: Micros,
    ) -> &Entry {
        let entry = self.jobs.get_mut(&id).expect("a candidate job exists");
        let index = self
            .queues
            .get_mut(&entry.queue)
            .expect("every job's queue is indexed");
        match entry.phase {
            Phase::Pending => index.remove_pending(id, entry),
            Phase::Running => {
                index.running.remove(&(entry.leased_until(), id));
            }
            phase => unreachable!("a {phase:?} job is never a claim candidate"),
        }
        entry.phase = Phase::Running;
        entry.attempt += 1;
        entry.lease_token += 1;
        entry.lease_until = MaybeMicros::some(lease_until);
        entry.worker = Some(worker.clone());
        entry.first_attempted_at.get_or_insert(now);
        entry.attempted_at = MaybeMicros::some(now);
        index.running.insert((lease_until, id));
        entry
    }

    /// Ends the running job `id`, whose lease expired on its last attempt, `Failed`,
    /// leaving its dependents to [`Inner::settle_expired`].
    pub(super) fn fail_expired(&mut self, id: JobId, now: Micros) {
        let mut entry = self.jobs.remove(&id).expect("an expired job exists");
        let index = self
            .queues
            .get_mut(&entry.queue)
            .expect("every job's queue is indexed");
        index.running.remove(&(entry.leased_until(), id));
        entry.record_error(LEASE_EXPIRED, now);
        self.put_ended(id, entry, Phase::Failed, now);
    }
}
