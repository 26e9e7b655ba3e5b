//! The verbs an operator uses on [`Inner`]: jobs by hand, one at a time or by filter,
//! queue statistics and named locks; and the bookkeeping they share with the lifecycle
//! (taking a job out of every index, finding the holder of a unique key).

use std::collections::{BTreeMap, HashSet};

use leasehold::{JobFilter, JobId, JobRecord, JobState, JobUpdate, NewJob, QueueStats, StoreError};

use super::{Inner, selects};
use crate::index::{Entry, MaybeMicros, Micros, Phase, time_of};

/// The jobs a bulk verb acts on: those `filter` selects that `acts_on` accepts, at most
/// the filter's limit, lowest ids first; with `finished_before`, those that finished
/// first first (read from the index of finished jobs, so retention never walks the
/// jobs it keeps).
pub(super) fn chosen(
    inner: &Inner,
    filter: &JobFilter,
    now: Micros,
    acts_on: impl Fn(&Inner, JobId, &Entry) -> bool,
) -> Vec<JobId> {
    let acts = |id: &JobId| {
        let entry = &inner.jobs[id];
        selects(filter, entry, now) && acts_on(inner, *id, entry)
    };
    let limit = filter.limit.unwrap_or(usize::MAX);
    match filter.finished_before {
        Some(before) => inner
            .finished
            .range(..(super::micros(before), JobId::MIN))
            .map(|(_, id)| *id)
            .filter(acts)
            .take(limit)
            .collect(),
        None => inner
            .jobs
            .keys()
            .copied()
            .filter(acts)
            .take(limit)
            .collect(),
    }
}

impl Inner {
    /// `act` on each job that [`chosen`] picks; answers how many.
    pub(super) fn on_chosen(
        &mut self,
        filter: &JobFilter,
        now: Micros,
        acts_on: impl Fn(&Inner, JobId, &Entry) -> bool,
        mut act: impl FnMut(&mut Inner, JobId) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let ids = chosen(self, filter, now, acts_on);
        for &id in &ids {
            act(self, id)?;
        }
        Ok(count(&ids))
    }

    /// The job that keeps `job` from being inserted: the non-terminal holder of its
    /// unique key, or, with a unique period, the holder in a unique state that
    /// finished last within the period.
    pub(super) fn unique_holder(&self, job: &NewJob, now: Micros) -> Option<JobId> {
        let key = job.unique_key.as_deref()?;
        if let Some(&holder) = self.unique.get(key) {
            return Some(holder);
        }
        let period = i64::try_from(job.unique_period?.as_micros()).unwrap_or(i64::MAX);
        let since = now.saturating_sub(period);
        self.finished_keys
            .get(key)?
            .iter()
            .rev()
            .take_while(|(finished, _)| *finished > since)
            .map(|&(_, id)| id)
            .find(|id| job.unique_states.contains(&self.jobs[id].state(now)))
    }

    /// Takes job `id` out of the store and every index, whatever its phase.
    pub(super) fn take_any(&mut self, id: JobId) -> Option<Entry> {
        let entry = self.jobs.remove(&id)?;
        let index = self.queues.get_mut(&entry.queue).expect("indexed");
        match entry.phase {
            Phase::Waiting => {}
            Phase::Pending => index.remove_pending(id, &entry),
            Phase::Running => {
                index.running.remove(&(entry.leased_until(), id));
            }
            Phase::Completed | Phase::Failed | Phase::Cancelled => {
                let finished = entry
                    .finished_at
                    .get()
                    .expect("a finished job has a finish time");
                self.finished.remove(&(finished, id));
                if let Some(key) = &entry.unique_key
                    && let Some(holders) = self.finished_keys.get_mut(key)
                {
                    holders.remove(&(finished, id));
                    if holders.is_empty() {
                        self.finished_keys.remove(key);
                    }
                }
            }
        }
        if let Some(key) = &entry.unique_key
            && self.unique.get(key) == Some(&id)
        {
            self.unique.remove(key);
        }
        Some(entry)
    }

    /// Deletes job `id` (a verb's or retention's choice), with the record of what it
    /// depends on and what depends on it.
    pub(super) fn delete(&mut self, id: JobId) -> Option<Entry> {
        let entry = self.take_any(id)?;
        self.forget_dependencies(id, &entry);
        Some(entry)
    }

    /// The job `id` if `action` may act on it: `NotFound` for none, `WrongState` for
    /// a state `allowed` refuses.
    fn check(
        &self,
        id: JobId,
        now: Micros,
        action: &'static str,
        allowed: impl Fn(JobState) -> bool,
    ) -> Result<&Entry, StoreError> {
        let entry = self.jobs.get(&id).ok_or(StoreError::NotFound(id))?;
        let state = entry.state(now);
        if !allowed(state) {
            return Err(StoreError::WrongState {
                job: id,
                state,
                action,
            });
        }
        Ok(entry)
    }

    /// Cancels a pending or running job; leaves a terminal one as it is.
    pub(super) fn cancel(&mut self, id: JobId, now: Micros) -> Result<JobRecord, StoreError> {
        let entry = self.jobs.get(&id).ok_or(StoreError::NotFound(id))?;
        if matches!(
            entry.phase,
            Phase::Waiting | Phase::Pending | Phase::Running
        ) {
            let entry = self.take_any(id).expect("the job exists");
            self.put_finished(id, entry, Phase::Cancelled, now);
        }
        Ok(self.jobs[&id].to_record(id, now))
    }

    pub(super) fn retry_job(&mut self, id: JobId, now: Micros) -> Result<JobRecord, StoreError> {
        let entry = self.check(id, now, "retry", |s| {
            !matches!(s, JobState::Running | JobState::Waiting)
        })?;
        if let Some(dependent) = self.waited_on(id) {
            return Err(StoreError::Conflict(format!(
                "job {id} cannot run again: job {dependent} counts it as ended and waits on"
            )));
        }
        if entry.phase != Phase::Pending
            && let Some(key) = &entry.unique_key
            && let Some(holder) = self.unique.get(key)
        {
            return Err(StoreError::Conflict(format!(
                "job {id} cannot run again: job {holder} holds its unique key {key:?}"
            )));
        }
        let mut entry = self.take_any(id).expect("the job exists");
        entry.max_attempts = entry.max_attempts.max(entry.attempt + 1);
        entry.finished_at = MaybeMicros::NONE;
        if let Some(key) = &entry.unique_key {
            self.unique.insert(key.clone(), id);
        }
        self.put_pending(id, entry, now);
        Ok(self.jobs[&id].to_record(id, now))
    }

    pub(super) fn delete_job(&mut self, id: JobId, now: Micros) -> Result<JobRecord, StoreError> {
        self.check(id, now, "delete", |s| s != JobState::Running)?;
        if let Some(dependent) = self.waited_on(id) {
            return Err(StoreError::Conflict(format!(
                "job {id} cannot be deleted: job {dependent} waits for it (cancel it instead)"
            )));
        }
        let entry = self.delete(id).expect("the job exists");
        Ok(entry.to_record(id, now))
    }

    pub(super) fn update_job(
        &mut self,
        id: JobId,
        update: &JobUpdate,
        now: Micros,
    ) -> Result<JobRecord, StoreError> {
        let pending = |s| matches!(s, JobState::Scheduled | JobState::Available);
        self.check(id, now, "update", pending)?;
        let mut entry = self.take_any(id).expect("the job exists");
        if let Some(unique_key) = &entry.unique_key {
            // Still pending: it keeps its key.
            self.unique.insert(unique_key.clone(), id);
        }
        if let Some(priority) = update.priority {
            entry.priority = priority;
        }
        if let Some(queue) = &update.queue {
            entry.queue = self.queue_mut(queue).0;
        }
        let run_at = update.run_at.map_or(entry.run_at, super::micros);
        self.put_pending(id, entry, run_at);
        Ok(self.jobs[&id].to_record(id, now))
    }

    /// `retry_job` for each of `ids`, all or none: a job that would take a unique key
    /// another job holds (or another of `ids` takes) refuses the whole call.
    pub(super) fn retry_jobs(&mut self, ids: &[JobId], now: Micros) -> Result<u64, StoreError> {
        let mut taken = HashSet::new();
        for id in ids {
            let entry = &self.jobs[id];
            if entry.phase == Phase::Pending {
                continue;
            }
            if let Some(key) = &entry.unique_key
                && (self.unique.contains_key(key) || !taken.insert(key.clone()))
            {
                return Err(StoreError::Conflict(format!(
                    "job {id} cannot run again: another job holds its unique key {key:?}"
                )));
            }
        }
        for &id in ids {
            self.retry_job(id, now)?;
        }
        Ok(count(ids))
    }

    pub(super) fn queue_stats(&self, now: Micros) -> Vec<QueueStats> {
        let mut stats: BTreeMap<&str, QueueStats> = BTreeMap::new();
        for (name, &paused) in &self.paused {
            let queue = stats
                .entry(name)
                .or_insert_with(|| QueueStats::new(name.as_str()));
            queue.paused = paused;
        }
        for (name, limit) in self.limits.queue_limits() {
            let queue = stats.entry(name).or_insert_with(|| QueueStats::new(name));
            queue.limit = Some(limit);
        }
        for entry in self.jobs.values() {
            let queue = stats
                .entry(&entry.queue)
                .or_insert_with(|| QueueStats::new(&*entry.queue));
            queue.add(entry.state(now), 1);
            if entry.phase == Phase::Pending {
                let oldest = queue
                    .oldest_pending_run_at
                    .get_or_insert(time_of(entry.run_at));
                *oldest = (*oldest).min(time_of(entry.run_at));
            }
        }
        stats.into_values().collect()
    }

    pub(super) fn take_lock(
        &mut self,
        name: &str,
        holder: &str,
        until: Micros,
        now: Micros,
    ) -> bool {
        match self.locks.get_mut(name) {
            Some((current, expiry)) if current != holder && *expiry > now => false,
            Some((current, expiry)) => {
                holder.clone_into(current);
                *expiry = until;
                true
            }
            None => {
                self.locks
                    .insert(name.to_owned(), (holder.to_owned(), until));
                true
            }
        }
    }
}

/// How many of `ids` there are, as the store answers counts.
pub(super) fn count(ids: &[JobId]) -> u64 {
    u64::try_from(ids.len()).expect("a count of in-memory jobs fits u64")
}
