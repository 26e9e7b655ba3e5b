//! Flow-control limits: storing them, the claim that keeps within them, and when a
//! full one opens.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use leasehold::{ClaimRequest, JobId, JobRecord, Limit, LimitScope, StoreError};

use super::Inner;
use crate::index::{Micros, micros};

impl Inner {
    /// Stores `limit` for `scope`; a queue must be known (a stored job, a pause
    /// record or a limit already).
    pub(super) fn set_limit(&mut self, scope: &LimitScope, limit: Limit) -> Result<(), StoreError> {
        if let LimitScope::Queue(queue) = scope {
            let known = self.limits.contains_key(scope)
                || self.paused.contains_key(queue.as_str())
                || self.jobs.values().any(|entry| &*entry.queue == queue);
            if !known {
                return Err(StoreError::QueueNotFound(queue.clone()));
            }
        }
        self.limits.insert(scope.clone(), limit);
        Ok(())
    }

    /// Removes `scope`'s limit and the starts it counted.
    pub(super) fn remove_limit(&mut self, scope: &LimitScope) -> Result<(), StoreError> {
        if self.limits.remove(scope).is_none() {
            return Err(StoreError::LimitNotFound(scope.clone()));
        }
        self.starts.remove(scope);
        Ok(())
    }

    /// The key scope of a job's limit key, when that key has a limit.
    fn key_scope(&self, key: Option<&str>) -> Option<LimitScope> {
        let scope = LimitScope::Key(key?.to_owned());
        self.limits.contains_key(&scope).then_some(scope)
    }

    /// The queue scope of `queue`, when it has a limit.
    fn queue_scope(&self, queue: &str) -> Option<LimitScope> {
        let scope = LimitScope::Queue(queue.to_owned());
        self.limits.contains_key(&scope).then_some(scope)
    }

    /// Whether a running job belongs to `scope`.
    fn in_scope(scope: &LimitScope, queue: &str, key: Option<&str>) -> bool {
        match scope {
            LimitScope::Queue(name) => name == queue,
            LimitScope::Key(name) => key == Some(name.as_str()),
        }
    }

    /// The lease expiries of `scope`'s running jobs (live or not).
    fn leases_of(&self, scope: &LimitScope) -> Vec<Micros> {
        self.queues
            .values()
            .flat_map(|index| index.running.iter())
            .filter(|(_, id)| {
                let entry = &self.jobs[id];
                Self::in_scope(scope, &entry.queue, entry.limit_key.as_deref())
            })
            .map(|(until, _)| *until)
            .collect()
    }

    /// How many more claims `scope` allows at `now` (may be negative after a limit was
    /// lowered).
    fn allows(&self, scope: &LimitScope, now: Micros) -> i64 {
        let limit = self.limits[scope];
        let mut allows = i64::MAX;
        if let Some(max) = limit.max_running() {
            let live = self
                .leases_of(scope)
                .into_iter()
                .filter(|&until| until > now)
                .count();
            allows = allows.min(i64::from(max) - i64::try_from(live).unwrap_or(i64::MAX));
        }
        if let Some(rate) = limit.rate_limit() {
            let since = now - i64::try_from(rate.per().as_micros()).unwrap_or(i64::MAX);
            let counted = self
                .starts
                .get(scope)
                .map_or(0, |starts| starts.iter().filter(|&&at| at > since).count());
            allows = allows.min(i64::from(rate.starts()) - i64::try_from(counted).unwrap_or(0));
        }
        allows
    }

    /// A claim while limits are stored: every claimable job of the queues in claim
    /// order, kept within each limited key, then each limited queue, then the
    /// request's `limited`, then its `limit` (the contract's order).
    pub(super) fn claim_limited(
        &mut self,
        request: &ClaimRequest<'_>,
        now: Micros,
    ) -> Vec<JobRecord> {
        let until = micros(request.lease_until);
        let worker = self.intern(request.worker);
        let mut seen = HashSet::new();
        let queues: Vec<&String> = request
            .queues
            .iter()
            .filter(|q| seen.insert(q.as_str()) && !self.is_paused(q))
            .collect();
        // Expired leases: few, gathered and sorted; the last attempts among them fail.
        let mut expired = Vec::new();
        let mut exhausted = Vec::new();
        for queue in &queues {
            self.claim_candidates(queue, 0, now, &mut expired, &mut exhausted);
        }
        for id in exhausted {
            self.fail_expired(id, now);
        }
        expired.sort_unstable();
        let taken = self.select_limited(request, now, &queues, expired);
        let mut claimed = Vec::with_capacity(taken.len());
        for id in taken {
            let entry = self.lease(id, &worker, until, now);
            let (key, queue) = (entry.limit_key.clone(), Arc::clone(&entry.queue));
            claimed.push(entry.to_record(id, now));
            for scope in [self.key_scope(key.as_deref()), self.queue_scope(&queue)]
                .into_iter()
                .flatten()
            {
                self.count_start(scope, now);
            }
        }
        claimed
    }

    /// The jobs a limited claim takes, in claim order: see [`Inner::claim_limited`].
    fn select_limited(
        &self,
        request: &ClaimRequest<'_>,
        now: Micros,
        queues: &[&String],
        expired: Vec<(i16, Micros, JobId)>,
    ) -> Vec<JobId> {
        // Every queue's due jobs come out of its index in claim order: merged lazily,
        // the claim reads only as far as it takes jobs (and skips held-back ones).
        let mut streams: Vec<_> = queues
            .iter()
            .filter_map(|queue| self.queues.get(queue.as_str()))
            .map(|index| index.due(now, usize::MAX).peekable())
            .collect();
        let mut expired = expired.into_iter().peekable();
        let mut next = move || {
            let mut best: Option<(usize, (i16, Micros, JobId))> = None;
            for (i, stream) in streams.iter_mut().enumerate() {
                if let Some(&key) = stream.peek()
                    && best.is_none_or(|(_, b)| key < b)
                {
                    best = Some((i, key));
                }
            }
            match (best, expired.peek()) {
                (Some((_, b)), Some(&e)) if e < b => expired.next(),
                (Some((i, _)), _) => streams[i].next(),
                (None, _) => expired.next(),
            }
        };
        let mut allowed: HashMap<LimitScope, i64> = HashMap::new();
        let mut limited = request.limited;
        let mut taken: Vec<JobId> = Vec::new();
        while taken.len() < request.limit {
            let Some((_, _, id)) = next() else { break };
            let entry = &self.jobs[&id];
            let scopes = [
                self.key_scope(entry.limit_key.as_deref()),
                self.queue_scope(&entry.queue),
            ];
            let mut passes = true;
            for scope in scopes.iter().flatten() {
                let left = allowed
                    .entry(scope.clone())
                    .or_insert_with(|| self.allows(scope, now));
                if *left <= 0 {
                    passes = false;
                    break;
                }
                *left -= 1;
            }
            if !passes {
                continue;
            }
            if scopes.iter().any(Option::is_some) {
                if limited == 0 {
                    continue;
                }
                limited -= 1;
            }
            taken.push(id);
        }
        taken
    }

    /// Counts a claim at `now` for `scope` when its limit has a rate, keeping only the
    /// latest `starts` claims (enough: a window holding more allows nothing either way).
    fn count_start(&mut self, scope: LimitScope, now: Micros) {
        let Some(rate) = self.limits[&scope].rate_limit() else {
            return;
        };
        let starts = self.starts.entry(scope).or_default();
        starts.push_back(now);
        while starts.len() > rate.starts() as usize {
            starts.pop_front();
        }
    }

    /// When `scope`'s limit next allows a claim, if it is full now as far as the stored
    /// state tells without a clock: its `starts`-th latest start plus `per` for a full
    /// rate, its earliest lease expiry for a full `max_running`; `None` when not full.
    fn opens_at(&self, scope: &LimitScope) -> Option<Micros> {
        let limit = self.limits[scope];
        let mut opens = None;
        if let Some(max) = limit.max_running() {
            let leases = self.leases_of(scope);
            if leases.len() >= max as usize {
                opens = leases.into_iter().min();
            }
        }
        if let Some(rate) = limit.rate_limit()
            && let Some(starts) = self.starts.get(scope)
            && starts.len() >= rate.starts() as usize
        {
            let nth_latest = starts[starts.len() - rate.starts() as usize];
            let at = nth_latest + i64::try_from(rate.per().as_micros()).unwrap_or(i64::MAX);
            opens = Some(opens.map_or(at, |o: Micros| o.max(at)));
        }
        opens
    }

    /// `next_due` while limits are stored: each pending job no earlier than its key's
    /// and its queue's limits open, and every lease expiry.
    pub(super) fn next_due_limited(&self, queues: &[String]) -> Option<Micros> {
        let mut opens: HashMap<LimitScope, Option<Micros>> = HashMap::new();
        let mut earliest: Option<Micros> = None;
        for queue in queues.iter().filter(|q| !self.is_paused(q)) {
            let Some(index) = self.queues.get(queue.as_str()) else {
                continue;
            };
            let queue_opens = self.queue_scope(queue).and_then(|scope| {
                *opens
                    .entry(scope.clone())
                    .or_insert_with(|| self.opens_at(&scope))
            });
            for level in index.pending.values() {
                for &(run_at, id) in level {
                    let key_opens = self
                        .key_scope(self.jobs[&id].limit_key.as_deref())
                        .and_then(|scope| {
                            *opens
                                .entry(scope.clone())
                                .or_insert_with(|| self.opens_at(&scope))
                        });
                    let due = [queue_opens, key_opens]
                        .into_iter()
                        .flatten()
                        .fold(run_at, Micros::max);
                    earliest = Some(earliest.map_or(due, |e| e.min(due)));
                }
            }
            if let Some(&(until, _)) = index.running.first() {
                earliest = Some(earliest.map_or(until, |e| e.min(until)));
            }
        }
        earliest
    }
}
