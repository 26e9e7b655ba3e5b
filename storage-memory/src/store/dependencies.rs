//! Dependencies: enqueueing jobs that wait for others ([`Inner::enqueue_all`]), and
//! what the end of a job does to those waiting for it ([`Inner::settle_dependents`]).
//!
//! `Inner::dependents` maps each job to the jobs that depend on it, so a job's end
//! reads only its own dependents; a job without any costs one lookup in a map that
//! is empty unless dependencies were ever enqueued.

use std::collections::{HashMap, HashSet};

use leasehold::{
    DEPENDENCY_FAILED, DependencyProblem, DependencyStart, Enqueued, JobId, JobState, NewJob,
    StoreError, dependency_order,
};

use super::Inner;
use crate::index::{Micros, Phase};

impl Inner {
    /// Stores `jobs` enqueued at `now`, all or none, answering each in order: jobs
    /// with dependencies start `Waiting`, pending, or ended by their policy.
    pub(super) fn enqueue_all(
        &mut self,
        jobs: Vec<NewJob>,
        now: Micros,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.check_batch(&jobs)?;
        if jobs.iter().all(|job| job.depends_on.is_empty()) {
            return Ok(jobs.into_iter().map(|job| self.insert(job, now)).collect());
        }
        let answering = self.answering(&jobs, now);
        let resolved = self.resolve(&jobs, &answering)?;
        let graph: Vec<(JobId, &[JobId])> = jobs
            .iter()
            .zip(&resolved)
            .map(|(job, dependencies)| {
                let inserted = answering[&job.id] == job.id;
                (
                    job.id,
                    if inserted {
                        dependencies.as_slice()
                    } else {
                        &[]
                    },
                )
            })
            .collect();
        let order = dependency_order(&graph)?;
        // Every check passed: nothing below fails, so the call is all or none.
        let mut answers: Vec<Enqueued> =
            jobs.into_iter().map(|job| self.insert(job, now)).collect();
        for i in order {
            let id = answers[i].job.id;
            self.start_dependent(id, &resolved[i], now);
            answers[i] = Enqueued::inserted(self.jobs[&id].to_record(id, now));
        }
        Ok(answers)
    }

    /// The dependencies of each of `jobs` as stored (each once): a job of the call
    /// stands for the job that answers it (`answering`), itself or the holder of its
    /// unique key.
    ///
    /// # Errors
    ///
    /// `InvalidDependency` (`Unknown`) for a dependency that is neither stored nor in
    /// the call.
    fn resolve(
        &self,
        jobs: &[NewJob],
        answering: &HashMap<JobId, JobId>,
    ) -> Result<Vec<Vec<JobId>>, StoreError> {
        let mut resolved = Vec::with_capacity(jobs.len());
        for job in jobs {
            let mut ids = Vec::with_capacity(job.depends_on.len());
            for &dependency in &job.depends_on {
                let id = match answering.get(&dependency) {
                    Some(&answer) => answer,
                    None if self.jobs.contains_key(&dependency) => dependency,
                    None => {
                        return Err(StoreError::invalid_dependency(
                            job.id,
                            dependency,
                            DependencyProblem::Unknown,
                        ));
                    }
                };
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            resolved.push(ids);
        }
        Ok(resolved)
    }

    /// For each job of `jobs`, the job that will answer it, as [`Inner::insert`] will
    /// find it: itself, or the holder of its unique key (stored, or an earlier job of
    /// the call, which holds its key from its insert on).
    fn answering(&self, jobs: &[NewJob], now: Micros) -> HashMap<JobId, JobId> {
        let mut first_with_key: HashMap<&str, JobId> = HashMap::new();
        let mut answering = HashMap::with_capacity(jobs.len());
        for job in jobs {
            let earlier = job
                .unique_key
                .as_deref()
                .and_then(|key| first_with_key.get(key).copied());
            match self.unique_holder(job, now).or(earlier) {
                Some(holder) => answering.insert(job.id, holder),
                None => {
                    if let Some(key) = job.unique_key.as_deref() {
                        first_with_key.insert(key, job.id);
                    }
                    answering.insert(job.id, job.id)
                }
            };
        }
        answering
    }

    /// Starts the inserted job `id`, `Waiting` for `dependencies`: by their states now,
    /// it waits on, is pending at once, or ends by its policy.
    fn start_dependent(&mut self, id: JobId, dependencies: &[JobId], now: Micros) {
        let states: Vec<JobState> = dependencies
            .iter()
            .map(|dependency| self.jobs[dependency].state(now))
            .collect();
        for &dependency in dependencies {
            self.dependents.entry(dependency).or_default().push(id);
        }
        let entry = self.jobs.get_mut(&id).expect("the dependent was inserted");
        let extra = entry
            .extra
            .as_mut()
            .expect("a job with dependencies has extra");
        extra.depends_on = dependencies.to_vec();
        match extra.on_dependency_failure.start(states) {
            DependencyStart::Ready => self.put_pending_waiting(id, entry_run_at(self, id)),
            DependencyStart::Waiting(count) => extra.waiting_for = count,
            DependencyStart::Ended(state) => {
                let mut entry = self.jobs.remove(&id).expect("the dependent was inserted");
                entry.last_error = Some(DEPENDENCY_FAILED.into());
                self.put_ended(id, entry, ended_phase(state), now);
            }
        }
    }

    /// Settles the dependents of job `id`, which ended at `now`: each waiting one
    /// counts it off and is pending once none is left (due at the later of its
    /// `run_at` and `now`), or, when `id` did not complete, ends by its policy, and
    /// so on down its own dependents.
    pub(super) fn settle_dependents(&mut self, id: JobId, now: Micros) {
        if self.dependents.is_empty() {
            return;
        }
        let mut ended = vec![id];
        while let Some(id) = ended.pop() {
            let Some(dependents) = self.dependents.get(&id).cloned() else {
                continue;
            };
            let completed = self.jobs[&id].phase == Phase::Completed;
            for dependent in dependents {
                let Some(entry) = self.jobs.get_mut(&dependent) else {
                    continue;
                };
                if entry.phase != Phase::Waiting {
                    continue;
                }
                let extra = entry.extra.as_mut().expect("a waiting job has extra");
                match extra.on_dependency_failure.ends_as() {
                    Some(end) if !completed => {
                        let mut entry = self.jobs.remove(&dependent).expect("found");
                        entry.last_error = Some(DEPENDENCY_FAILED.into());
                        self.put_ended(dependent, entry, ended_phase(end), now);
                        ended.push(dependent);
                    }
                    _ => {
                        extra.waiting_for -= 1;
                        if extra.waiting_for == 0 {
                            let run_at = entry.run_at.max(now);
                            self.put_pending_waiting(dependent, run_at);
                        }
                    }
                }
            }
        }
    }

    /// Makes the waiting job `id` pending at `run_at`.
    fn put_pending_waiting(&mut self, id: JobId, run_at: Micros) {
        let entry = self.jobs.remove(&id).expect("a waiting job exists");
        self.put_pending(id, entry, run_at);
    }

    /// A job not finished (waiting, or released and not ended yet: it may still read
    /// this one's output) that depends on `id`, if any: `id` must not be deleted.
    pub(super) fn waited_on(&self, id: JobId) -> Option<JobId> {
        self.dependents.get(&id)?.iter().copied().find(|dependent| {
            self.jobs.get(dependent).is_some_and(|entry| {
                matches!(
                    entry.phase,
                    Phase::Waiting | Phase::Pending | Phase::Running
                )
            })
        })
    }

    /// Forgets the dependencies of the deleted job `id`, and what depended on it.
    pub(super) fn forget_dependencies(&mut self, id: JobId, entry: &crate::index::Entry) {
        let mut emptied = HashSet::new();
        for dependency in entry.depends_on() {
            if let Some(dependents) = self.dependents.get_mut(dependency) {
                dependents.retain(|dependent| *dependent != id);
                if dependents.is_empty() {
                    emptied.insert(*dependency);
                }
            }
        }
        for dependency in emptied {
            self.dependents.remove(&dependency);
        }
        self.dependents.remove(&id);
    }
}

/// The run time of stored job `id`.
fn entry_run_at(inner: &Inner, id: JobId) -> Micros {
    inner.jobs[&id].run_at
}

/// The stored phase of a job a policy ended in `state`.
fn ended_phase(state: JobState) -> Phase {
    if state == JobState::Failed {
        Phase::Failed
    } else {
        Phase::Cancelled
    }
}
