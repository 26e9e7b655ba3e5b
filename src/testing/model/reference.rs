//! The reference model: every job in a `Vec`, every rule spelled out plainly.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use super::WORKER;
use super::outcome::Outcome;
use crate::schedule::ScheduleRecord;
use crate::{JobFilter, JobId, JobRecord, JobState, JobUpdate, Lease, NewJob, QueueStats};

/// The reference model: every job in a `Vec`, every rule spelled out plainly.
#[derive(Debug, Default)]
pub(super) struct Model {
    pub(super) jobs: Vec<JobRecord>,
    pub(super) schedules: BTreeMap<String, ScheduleRecord>,
    /// Queues ever paused, and whether they are now.
    pub(super) paused: HashMap<String, bool>,
    /// Lock name -> (holder, until).
    pub(super) locks: HashMap<String, (String, OffsetDateTime)>,
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
        self.jobs.push(JobRecord::from_new(job, now));
        (id, false)
    }

    pub(super) fn claim(
        &mut self,
        queues: &[String],
        limit: usize,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Vec<JobId> {
        let paused = |q: &String| self.paused.get(q).copied().unwrap_or(false);
        let queues: Vec<&String> = queues.iter().filter(|q| !paused(q)).collect();
        let in_queues = |j: &JobRecord| queues.contains(&&j.queue);
        for job in self.jobs.iter_mut().filter(|j| in_queues(j)) {
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
        candidates.truncate(limit);
        for (_, _, id) in &candidates {
            let job = self.find(*id).expect("a candidate exists");
            job.state = JobState::Running;
            job.attempt += 1;
            job.lease_token += 1;
            job.lease_until = Some(until);
            job.worker = Some(WORKER.into());
            job.first_attempted_at.get_or_insert(now);
            job.attempted_at = Some(now);
        }
        candidates.into_iter().map(|(_, _, id)| id).collect()
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
        let job = match self.check(id, now, |s| s != JobState::Running) {
            Ok(job) => job.clone(),
            Err(e) => return e,
        };
        if self.key_taken(&job) {
            return Outcome::Conflict;
        }
        let job = self.find(id).expect("checked");
        Model::pend(job, now);
        job.finished_at = None;
        job.max_attempts = job.max_attempts.max(job.attempt + 1);
        Outcome::State(JobState::Available)
    }

    pub(super) fn delete_job(&mut self, id: JobId, now: OffsetDateTime) -> Outcome {
        match self.check(id, now, |s| s != JobState::Running) {
            Ok(job) => {
                let state = state_at(job, now);
                self.jobs.retain(|j| j.id != id);
                Outcome::State(state)
            }
            Err(e) => e,
        }
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
        acts_on: impl Fn(JobState) -> bool,
    ) -> Vec<JobId> {
        let mut jobs: Vec<JobRecord> = self
            .at(now)
            .into_iter()
            .filter(|j| filter.matches(j) && acts_on(j.state))
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
