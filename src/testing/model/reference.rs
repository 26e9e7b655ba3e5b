//! The reference model: every job in a `Vec`, every rule spelled out plainly.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use super::WORKER;
use super::outcome::Outcome;
use crate::schedule::ScheduleRecord;
use crate::{
    JobFilter, JobId, JobRecord, JobState, JobUpdate, Lease, Limit, LimitScope, NewJob, QueueStats,
};

/// The reference model: every job in a `Vec`, every rule spelled out plainly.
#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) jobs: Vec<JobRecord>,
    pub(super) schedules: BTreeMap<String, ScheduleRecord>,
    /// Queues ever paused, and whether they are now.
    pub(super) paused: HashMap<String, bool>,
    /// Lock name -> (holder, until).
    pub(super) locks: HashMap<String, (String, OffsetDateTime)>,
    pub(super) limits: BTreeMap<LimitScope, Limit>,
    /// The latest claims each rate counted, oldest first, at most its `starts`.
    pub(super) starts: HashMap<LimitScope, Vec<OffsetDateTime>>,
}

impl Model {
    pub(super) fn find(&mut self, id: JobId) -> Option<&mut JobRecord> {
        self.jobs.iter_mut().find(|j| j.id == id)
    }

    pub(super) fn enqueue(&mut self, job: NewJob, now: OffsetDateTime) -> (JobId, bool) {
        if let Some(key) = &job.unique_key
            && let Some(holder) = self
                .jobs
                .iter()
                .find(|j| j.unique_key.as_ref() == Some(key) && !j.state.is_terminal())
        {
            return (holder.id, true);
        }
        if let (Some(key), Some(period)) = (&job.unique_key, job.unique_period) {
            let since = now - period;
            let finished_holder = self
                .jobs
                .iter()
                .filter(|j| j.unique_key.as_ref() == Some(key))
                .filter(|j| job.unique_states.contains(&j.state))
                .filter(|j| j.finished_at.is_some_and(|at| at > since))
                .max_by_key(|j| (j.finished_at, j.id));
            if let Some(holder) = finished_holder {
                return (holder.id, true);
            }
        }
        let id = job.id;
        self.jobs.push(JobRecord::from_new(&job, now));
        (id, false)
    }

    pub(super) fn claim(
        &mut self,
        queues: &[String],
        (limit, limited): (usize, usize),
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Vec<JobId> {
        let paused = |q: &String| self.paused.get(q).copied().unwrap_or(false);
        let queues: Vec<&String> = queues.iter().filter(|q| !paused(q)).collect();
        let in_queues = |j: &JobRecord| queues.contains(&&j.queue);
        for job in self.jobs.iter_mut().filter(|j| in_queues(j)) {
            // Expired last attempts end here; `Model::settle` then settles dependents.
            let expired =
                job.state == JobState::Running && job.lease_until.is_some_and(|u| u <= now);
            if expired && job.attempt >= job.max_attempts {
                job.state = JobState::Failed;
                job.record_error("lease expired", now);
                job.lease_until = None;
                job.finished_at = Some(now);
            }
        }
        let mut candidates: Vec<(i16, OffsetDateTime, JobId)> = self
            .jobs
            .iter()
            .filter(|j| in_queues(j))
            .filter(|j| match j.state {
                JobState::Scheduled | JobState::Available => j.run_at <= now,
                JobState::Running => j.lease_until.is_some_and(|u| u <= now),
                _ => false,
            })
            .map(|j| (j.priority, j.run_at, j.id))
            .collect();
        candidates.sort();
        let mut candidates: Vec<JobId> = candidates.into_iter().map(|(_, _, id)| id).collect();
        // The contract's phases, one after the other: each limited key's first jobs,
        // then each limited queue's first, then the governed ones up to `limited`.
        let limited_scopes: Vec<LimitScope> = self.limits.keys().cloned().collect();
        for want_key in [true, false] {
            for scope in limited_scopes
                .iter()
                .filter(|s| matches!(s, LimitScope::Key(_)) == want_key)
            {
                let mut left = self.allows(scope, now);
                candidates.retain(|id| {
                    let job = self.get(*id);
                    if !scope.governs(&job.queue, job.limit_key.as_deref()) {
                        return true;
                    }
                    left -= 1;
                    left >= 0
                });
            }
        }
        let mut governed = 0;
        candidates.retain(|id| {
            if self.scopes_of(self.get(*id)).is_empty() {
                return true;
            }
            governed += 1;
            governed <= limited
        });
        candidates.truncate(limit);
        for id in &candidates {
            let scopes = self.scopes_of(self.get(*id));
            let job = self.find(*id).expect("a candidate exists");
            job.state = JobState::Running;
            job.attempt += 1;
            job.lease_token += 1;
            job.lease_until = Some(until);
            job.worker = Some(WORKER.into());
            job.first_attempted_at.get_or_insert(now);
            job.attempted_at = Some(now);
            for scope in scopes {
                if let Some(rate) = self.limits[&scope].rate_limit() {
                    let starts = self.starts.entry(scope).or_default();
                    starts.push(now);
                    let excess = starts.len().saturating_sub(rate.starts() as usize);
                    starts.drain(..excess);
                }
            }
        }
        candidates
    }

    fn get(&self, id: JobId) -> &JobRecord {
        self.jobs.iter().find(|j| j.id == id).expect("a known job")
    }

    /// Whether `job` counts for `scope`.
    /// The limited scopes `job` counts for.
    fn scopes_of(&self, job: &JobRecord) -> Vec<LimitScope> {
        self.limits
            .keys()
            .filter(|s| s.governs(&job.queue, job.limit_key.as_deref()))
            .cloned()
            .collect()
    }

    /// How many more claims `scope`'s limit allows at `now`.
    fn allows(&self, scope: &LimitScope, now: OffsetDateTime) -> i64 {
        let limit = self.limits[scope];
        let running = self
            .jobs
            .iter()
            .filter(|j| scope.governs(&j.queue, j.limit_key.as_deref()))
            .filter(|j| j.state == JobState::Running && j.lease_until.is_some_and(|u| u > now))
            .count();
        let running = i64::try_from(running).expect("a model's jobs are few");
        let by_running = limit.max_running().map(|max| i64::from(max) - running);
        let by_rate = limit.rate_limit().map(|rate| {
            let since = now - rate.per();
            let counted = self
                .starts
                .get(scope)
                .map_or(0, |s| s.iter().filter(|&&at| at > since).count());
            i64::from(rate.starts()) - i64::try_from(counted).expect("few starts")
        });
        by_running
            .into_iter()
            .chain(by_rate)
            .min()
            .expect("a limit has a part")
    }

    /// When `scope`'s limit opens, if full as the stored state tells.
    fn opens_at(&self, scope: &LimitScope) -> Option<OffsetDateTime> {
        let limit = self.limits[scope];
        let leases: Vec<OffsetDateTime> = self
            .jobs
            .iter()
            .filter(|j| {
                scope.governs(&j.queue, j.limit_key.as_deref()) && j.state == JobState::Running
            })
            .filter_map(|j| j.lease_until)
            .collect();
        let by_running = limit
            .max_running()
            .filter(|&max| leases.len() >= max as usize)
            .and_then(|_| leases.iter().min().copied());
        let by_rate = limit.rate_limit().and_then(|rate| {
            let starts = self.starts.get(scope)?;
            let n = rate.starts() as usize;
            (starts.len() >= n).then(|| starts[starts.len() - n] + rate.per())
        });
        by_running.into_iter().chain(by_rate).max()
    }

    /// The earliest time a claim of `queues` could return something.
    pub(super) fn next_due(&self, queues: &[String]) -> Option<OffsetDateTime> {
        let open = |q: &String| !self.paused.get(q).copied().unwrap_or(false);
        self.jobs
            .iter()
            .filter(|j| queues.iter().any(|q| *q == j.queue && open(q)))
            .filter_map(|j| match j.state {
                JobState::Running => j.lease_until,
                s if is_pending(s) => {
                    let opens = self
                        .scopes_of(j)
                        .iter()
                        .filter_map(|s| self.opens_at(s))
                        .max();
                    Some(opens.map_or(j.run_at, |o| o.max(j.run_at)))
                }
                _ => None,
            })
            .min()
    }

    /// Stores a limit; a queue must be known.
    pub(super) fn set_limit(&mut self, scope: &LimitScope, limit: Limit) -> Outcome {
        if let LimitScope::Queue(queue) = scope {
            let known = self.limits.contains_key(scope)
                || self.paused.contains_key(queue)
                || self.jobs.iter().any(|j| &j.queue == queue);
            if !known {
                return Outcome::QueueNotFound;
            }
        }
        self.limits.insert(scope.clone(), limit);
        Outcome::Ok
    }

    pub(super) fn remove_limit(&mut self, scope: &LimitScope) -> Outcome {
        if self.limits.remove(scope).is_none() {
            return Outcome::LimitNotFound;
        }
        self.starts.remove(scope);
        Outcome::Ok
    }

    /// The running job `lease` holds, or the error a store must return.
    pub(super) fn leased(&mut self, lease: Lease) -> Result<&mut JobRecord, Outcome> {
        let job = self.find(lease.job_id).ok_or(Outcome::NotFound)?;
        if job.state != JobState::Running || job.lease_token != lease.token {
            return Err(Outcome::LeaseLost);
        }
        Ok(job)
    }

    pub(super) fn finish(job: &mut JobRecord, state: JobState, now: OffsetDateTime) {
        job.state = state;
        job.lease_until = None;
        job.finished_at = Some(now);
    }

    pub(super) fn pend(job: &mut JobRecord, run_at: OffsetDateTime) {
        job.state = JobState::Scheduled; // normalized by `at` below
        job.run_at = run_at;
        job.lease_until = None;
    }

    /// Every job as a store would report it at `now`.
    pub(super) fn at(&self, now: OffsetDateTime) -> Vec<JobRecord> {
        let mut jobs: Vec<JobRecord> = self
            .jobs
            .iter()
            .cloned()
            .map(|mut j| {
                if matches!(j.state, JobState::Scheduled | JobState::Available) {
                    j.state = if j.run_at > now {
                        JobState::Scheduled
                    } else {
                        JobState::Available
                    };
                }
                j
            })
            .collect();
        jobs.sort_by_key(|j| j.id);
        jobs
    }

    /// The job `id` if `action` may act on it at `now`, or the error a store returns.
    fn check(
        &mut self,
        id: JobId,
        now: OffsetDateTime,
        allowed: impl Fn(JobState) -> bool,
    ) -> Result<&mut JobRecord, Outcome> {
        let job = self.find(id).ok_or(Outcome::NotFound)?;
        if !allowed(state_at(job, now)) {
            return Err(Outcome::WrongState(state_at(job, now)));
        }
        Ok(job)
    }

    /// Whether `job` would take a unique key that another non-terminal job holds.
    fn key_taken(&self, job: &JobRecord) -> bool {
        !is_pending(job.state)
            && job.unique_key.as_ref().is_some_and(|key| {
                self.jobs.iter().any(|j| {
                    j.id != job.id && j.unique_key.as_ref() == Some(key) && !j.state.is_terminal()
                })
            })
    }

    pub(super) fn retry_job(&mut self, id: JobId, now: OffsetDateTime) -> Outcome {
        let job = match self.check(id, now, |s| {
            !matches!(s, JobState::Running | JobState::Waiting)
        }) {
            Ok(job) => job.clone(),
            Err(e) => return e,
        };
        if self.waited_on(id) || self.key_taken(&job) {
            return Outcome::Conflict;
        }
        let job = self.find(id).expect("checked");
        Model::pend(job, now);
        job.finished_at = None;
        job.max_attempts = job.max_attempts.max(job.attempt + 1);
        Outcome::State(JobState::Available)
    }

    pub(super) fn delete_job(&mut self, id: JobId, now: OffsetDateTime) -> Outcome {
        let state = match self.check(id, now, |s| s != JobState::Running) {
            Ok(job) => state_at(job, now),
            Err(e) => return e,
        };
        if self.waited_on(id) {
            return Outcome::Conflict;
        }
        self.jobs.retain(|j| j.id != id);
        Outcome::State(state)
    }

    pub(super) fn update_job(
        &mut self,
        id: JobId,
        update: &JobUpdate,
        now: OffsetDateTime,
    ) -> Outcome {
        match self.check(id, now, is_pending) {
            Ok(job) => {
                update.apply(job);
                Outcome::State(state_at(job, now))
            }
            Err(e) => e,
        }
    }

    /// The ids of one page of `list`: selected by `filter`, past its cursor, in its
    /// order, at most its limit.
    pub(super) fn page(&self, filter: &JobFilter, now: OffsetDateTime) -> Vec<JobId> {
        let mut ids: Vec<JobId> = self
            .at(now)
            .into_iter()
            .filter(|j| filter.matches(j) && filter.is_after_cursor(j.id))
            .map(|j| j.id)
            .collect();
        ids.sort();
        if filter.newest_first {
            ids.reverse();
        }
        ids.truncate(filter.limit.unwrap_or(usize::MAX));
        ids
    }

    /// The ids a bulk verb acts on: selected by `filter`, accepted by `acts_on`, at
    /// most the limit, lowest first (with `finished_before`, by finish time first).
    pub(super) fn chosen(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
        acts_on: impl Fn(&JobRecord) -> bool,
    ) -> Vec<JobId> {
        let mut jobs: Vec<JobRecord> = self
            .at(now)
            .into_iter()
            .filter(|j| filter.matches(j) && acts_on(j))
            .collect();
        if filter.finished_before.is_some() {
            jobs.sort_by_key(|j| (j.finished_at, j.id));
        }
        jobs.truncate(filter.limit.unwrap_or(usize::MAX));
        jobs.into_iter().map(|j| j.id).collect()
    }

    pub(super) fn retry_jobs(&mut self, ids: &[JobId], now: OffsetDateTime) -> Outcome {
        let mut keys = std::collections::HashSet::new();
        for id in ids {
            let job = self
                .jobs
                .iter()
                .find(|j| j.id == *id)
                .expect("chosen")
                .clone();
            let takes_key = !is_pending(job.state) && job.unique_key.is_some();
            if self.key_taken(&job) || (takes_key && !keys.insert(job.unique_key.clone())) {
                return Outcome::Conflict;
            }
        }
        for id in ids {
            self.retry_job(*id, now);
        }
        Outcome::Count(ids.len() as u64)
    }

    pub(super) fn queue_stats(&self, now: OffsetDateTime) -> Vec<QueueStats> {
        let mut stats: BTreeMap<String, QueueStats> = self
            .paused
            .iter()
            .map(|(name, paused)| {
                let mut queue = QueueStats::new(name.as_str());
                queue.paused = *paused;
                (name.clone(), queue)
            })
            .collect();
        for (scope, limit) in &self.limits {
            if let LimitScope::Queue(name) = scope {
                stats
                    .entry(name.clone())
                    .or_insert_with(|| QueueStats::new(name.as_str()))
                    .limit = Some(*limit);
            }
        }
        for job in self.at(now) {
            let queue = stats
                .entry(job.queue.clone())
                .or_insert_with(|| QueueStats::new(job.queue.as_str()));
            queue.add(job.state, 1);
            if is_pending(job.state) {
                let oldest = queue.oldest_pending_run_at.get_or_insert(job.run_at);
                *oldest = (*oldest).min(job.run_at);
            }
        }
        stats.into_values().collect()
    }

    pub(super) fn take_lock(
        &mut self,
        holder: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> bool {
        match self.locks.get("lock") {
            Some((current, expiry)) if current != holder && *expiry > now => false,
            _ => {
                self.locks.insert("lock".into(), (holder.to_owned(), until));
                true
            }
        }
    }
}

pub(super) fn is_pending(state: JobState) -> bool {
    matches!(state, JobState::Scheduled | JobState::Available)
}

/// `job`'s state as a store reports it at `now`.
fn state_at(job: &JobRecord, now: OffsetDateTime) -> JobState {
    match job.state {
        s if is_pending(s) && job.run_at > now => JobState::Scheduled,
        s if is_pending(s) => JobState::Available,
        s => s,
    }
}
