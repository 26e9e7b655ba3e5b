//! Flow-control limits: storing them, the claim that keeps within them, and when a
//! full one opens.

use std::collections::{HashMap, HashSet};

use leasehold::{ClaimRequest, JobId, JobRecord, Limit, LimitScope, StoreError};

use super::{FastHash, Inner};
use crate::index::{Micros, QueueIndex, micros};
use crate::limit_table::ScopeRef;

impl Inner {
    /// Stores `limit` for `scope`; a queue must be known (a stored job, a pause
    /// record or a limit already).
    pub(super) fn set_limit(&mut self, scope: &LimitScope, limit: Limit) -> Result<(), StoreError> {
        if let LimitScope::Queue(queue) = scope {
            let known = self.limits.get(ScopeRef::of(scope)).is_some()
                || self.paused.contains_key(queue.as_str())
                || self.jobs.values().any(|entry| &*entry.queue == queue);
            if !known {
                return Err(StoreError::QueueNotFound(queue.clone()));
            }
        }
        self.limits.set(scope, limit);
        Ok(())
    }

    /// Removes `scope`'s limit and the starts it counted.
    pub(super) fn remove_limit(&mut self, scope: &LimitScope) -> Result<(), StoreError> {
        if !self.limits.remove(scope) {
            return Err(StoreError::LimitNotFound(scope.clone()));
        }
        Ok(())
    }

    /// The lease expiries of `scope`'s running jobs (live or not).
    fn leases_of(&self, scope: ScopeRef<'_>) -> Vec<Micros> {
        // A queue's leases are its own index's; a key's may be in any queue.
        let indexes: Vec<&QueueIndex> = match scope {
            ScopeRef::Queue(name) => self.queues.get(name).into_iter().collect(),
            ScopeRef::Key(_) => self.queues.values().collect(),
        };
        indexes
            .into_iter()
            .flat_map(|index| index.running.iter().copied())
            .filter(|(_, id)| {
                let entry = &self.jobs[id];
                scope.holds(&entry.queue, entry.limit_key.as_deref())
            })
            .map(|(until, _)| until)
            .collect()
    }

    /// How many jobs of each limited scope hold a live lease at `now`: one pass over
    /// every running job, however many scopes a claim looks at.
    fn live_counts(&self, now: Micros) -> HashMap<ScopeRef<'_>, i64, FastHash> {
        let mut live: HashMap<ScopeRef<'_>, i64, FastHash> = HashMap::default();
        let running = self.queues.values().flat_map(|index| index.running.iter());
        for &(_, id) in running.filter(|&&(until, _)| until > now) {
            let entry = &self.jobs[&id];
            let key = self.limits.key(entry.limit_key.as_deref());
            for scope in [key, self.limits.queue(&entry.queue)].into_iter().flatten() {
                *live.entry(scope).or_default() += 1;
            }
        }
        live
    }

    /// How many more claims `scope` allows at `now` (may be negative after a limit was
    /// lowered); `live` is [`Inner::live_counts`], computed on first need.
    fn allows<'s>(
        &'s self,
        scope: ScopeRef<'s>,
        now: Micros,
        live: &mut Option<HashMap<ScopeRef<'s>, i64, FastHash>>,
    ) -> i64 {
        let slot = self.limits.get(scope).expect("a limited scope");
        let mut allows = i64::MAX;
        if let Some(max) = slot.limit.max_running() {
            let live = live.get_or_insert_with(|| self.live_counts(now));
            let running = live.get(&scope).copied().unwrap_or(0);
            allows = allows.min(i64::from(max) - running);
        }
        if let Some(rate) = slot.limit.rate_limit() {
            let since = now - i64::try_from(rate.per().as_micros()).unwrap_or(i64::MAX);
            let counted = slot.starts_after(since);
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
        for &id in &exhausted {
            self.fail_expired(id, now);
        }
        expired.sort_unstable();
        let (taken, starts) = self.select_limited(request, now, &queues, expired);
        // Each limited scope counts its taken jobs as starts, once per claim.
        for (scope, claims) in &starts {
            if let Some(slot) = self.limits.get_mut(ScopeRef::of(scope)) {
                slot.count(now, *claims);
            }
        }
        let mut claimed = Vec::with_capacity(taken.len());
        for id in taken {
            claimed.push(self.lease(id, &worker, until, now).to_record(id, now));
        }
        self.settle_expired(&exhausted, now);
        claimed
    }

    /// The jobs a limited claim takes, in claim order (see [`Inner::claim_limited`]), and
    /// how many of them each limited scope holds: the starts the claim counts.
    fn select_limited(
        &self,
        request: &ClaimRequest<'_>,
        now: Micros,
        queues: &[&String],
        expired: Vec<(i16, Micros, JobId)>,
    ) -> (Vec<JobId>, Vec<(LimitScope, usize)>) {
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
        // What each scope still allows, computed once per claim; the names are
        // borrowed from the limit table, so a candidate costs no allocation.
        let mut allowed: HashMap<ScopeRef<'_>, i64, FastHash> = HashMap::default();
        let mut live = None;
        let mut limited = request.limited;
        let mut taken: Vec<JobId> = Vec::new();
        let mut starts: HashMap<ScopeRef<'_>, usize, FastHash> = HashMap::default();
        // When every queue claimed is limited, every job is governed: once `limited`
        // are taken, no later job can be (a worker claiming ahead of its free slots
        // asks for more than `limited`; reading on would pass the whole backlog).
        let all_governed = queues
            .iter()
            .all(|queue| self.limits.queue(queue).is_some());
        while taken.len() < request.limit && !(all_governed && limited == 0) {
            let Some((_, _, id)) = next() else { break };
            let entry = &self.jobs[&id];
            let scopes = [
                self.limits.key(entry.limit_key.as_deref()),
                self.limits.queue(&entry.queue),
            ];
            let mut passes = true;
            for &scope in scopes.iter().flatten() {
                let left = allowed
                    .entry(scope)
                    .or_insert_with(|| self.allows(scope, now, &mut live));
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
            for &scope in scopes.iter().flatten() {
                *starts.entry(scope).or_default() += 1;
            }
        }
        let starts = starts
            .into_iter()
            .map(|(scope, claims)| {
                let scope = match scope {
                    ScopeRef::Key(name) => LimitScope::Key(name.to_owned()),
                    ScopeRef::Queue(name) => LimitScope::Queue(name.to_owned()),
                };
                (scope, claims)
            })
            .collect();
        (taken, starts)
    }

    /// When `scope`'s limit next allows a claim, if it is full now as far as the stored
    /// state tells without a clock: its `starts`-th latest start plus `per` for a full
    /// rate, its earliest lease expiry for a full `max_running`; `None` when not full.
    fn opens_at(&self, scope: ScopeRef<'_>) -> Option<Micros> {
        let slot = self.limits.get(scope).expect("a limited scope");
        let mut opens = None;
        if let Some(max) = slot.limit.max_running() {
            let leases = self.leases_of(scope);
            if leases.len() >= max as usize {
                opens = leases.into_iter().min();
            }
        }
        if let Some(rate) = slot.limit.rate_limit()
            && let Some(nth_latest) = slot.nth_latest(rate.starts() as usize)
        {
            let at = nth_latest + i64::try_from(rate.per().as_micros()).unwrap_or(i64::MAX);
            opens = Some(opens.map_or(at, |o: Micros| o.max(at)));
        }
        opens
    }

    /// `next_due` while limits are stored: each pending job no earlier than its key's
    /// and its queue's limits open, and every lease expiry.
    pub(super) fn next_due_limited<'a>(&'a self, queues: &[String]) -> Option<Micros> {
        let mut opens: HashMap<ScopeRef<'_>, Option<Micros>, FastHash> = HashMap::default();
        let mut opens_at = |scope: Option<ScopeRef<'a>>| {
            let scope = scope?;
            *opens.entry(scope).or_insert_with(|| self.opens_at(scope))
        };
        let mut earliest: Option<Micros> = None;
        for queue in queues.iter().filter(|q| !self.is_paused(q)) {
            let Some(index) = self.queues.get(queue.as_str()) else {
                continue;
            };
            let queue_opens = opens_at(self.limits.queue(queue));
            for level in index.pending.values() {
                for &(run_at, id) in level {
                    let key_opens = opens_at(self.limits.key(self.jobs[&id].limit_key.as_deref()));
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
