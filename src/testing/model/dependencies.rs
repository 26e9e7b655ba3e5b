//! Dependencies in the reference model, spelled out plainly: an enqueue checks and
//! starts its dependents; after every operation, [`Model::settle`] applies the rules
//! until nothing changes, instead of counting dependencies off as stores do.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::outcome::Outcome;
use super::reference::Model;
use crate::{DEPENDENCY_FAILED, DependencyProblem, JobId, JobState, NewJob, dependency_order};

impl Model {
    /// `enqueue_with_dependencies`: each job's id and whether it was a duplicate, or
    /// the refusal (nothing stored then).
    pub(super) fn enqueue_with_dependencies(
        &mut self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<(JobId, bool)>, Outcome> {
        let before = self.jobs.clone();
        let answers: Vec<(JobId, bool)> =
            jobs.iter().map(|j| self.enqueue(j.clone(), now)).collect();
        let answering: HashMap<JobId, JobId> = jobs
            .iter()
            .zip(&answers)
            .map(|(job, (id, _))| (job.id, *id))
            .collect();
        let started = self.start_all(&jobs, &answers, &answering, now);
        if started.is_err() {
            self.jobs = before;
        }
        started.map(|()| answers)
    }

    /// Checks the dependencies of `jobs` as stored (a job of the call stands for the
    /// job that answered it) and starts each inserted dependent after those it
    /// depends on.
    fn start_all(
        &mut self,
        jobs: &[NewJob],
        answers: &[(JobId, bool)],
        answering: &HashMap<JobId, JobId>,
        now: OffsetDateTime,
    ) -> Result<(), Outcome> {
        let mut resolved: Vec<Vec<JobId>> = Vec::new();
        for job in jobs {
            let mut ids = Vec::new();
            for dependency in &job.depends_on {
                let id = match answering.get(dependency) {
                    Some(id) => *id,
                    None if self.jobs.iter().any(|j| j.id == *dependency) => *dependency,
                    None => return Err(Outcome::InvalidDependency(DependencyProblem::Unknown)),
                };
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            resolved.push(ids);
        }
        let graph: Vec<(JobId, &[JobId])> = jobs
            .iter()
            .zip(&resolved)
            .zip(answers)
            .map(|((job, ids), (_, duplicate))| (job.id, if *duplicate { &[][..] } else { ids }))
            .collect();
        let order = dependency_order(&graph).map_err(|e| Outcome::from(&e))?;
        for i in order {
            self.start(jobs[i].id, &resolved[i], now);
        }
        Ok(())
    }

    /// Starts the dependent `id`, stored `Waiting`, on `dependencies`: pending at its
    /// `run_at` as given when nothing is left to wait for.
    fn start(&mut self, id: JobId, dependencies: &[JobId], now: OffsetDateTime) {
        let job = self.find(id).expect("the dependent was stored");
        job.depends_on = dependencies.to_vec();
        let run_at = job.run_at;
        self.settle_one(id, now, run_at);
    }

    /// Applies the rules of dependencies at `now` until nothing changes: a waiting job
    /// with a failed or cancelled dependency ends by its policy (`Ignore` waits on);
    /// one whose dependencies have all ended, and all completed unless its policy is
    /// `Ignore`, is pending, due at the later of its `run_at` and `now`.
    pub(super) fn settle(&mut self, now: OffsetDateTime) {
        loop {
            let waiting: Vec<JobId> = self
                .jobs
                .iter()
                .filter(|j| j.state == JobState::Waiting)
                .map(|j| j.id)
                .collect();
            let mut changed = false;
            for id in waiting {
                changed |= self.settle_one(id, now, now);
            }
            if !changed {
                return;
            }
        }
    }

    /// Settles the waiting job `id` at `now`, due no earlier than `due` if it runs;
    /// whether it changed.
    fn settle_one(&mut self, id: JobId, now: OffsetDateTime, due: OffsetDateTime) -> bool {
        let job = self
            .jobs
            .iter()
            .find(|j| j.id == id)
            .expect("a waiting job");
        let states: Vec<JobState> = job
            .depends_on
            .iter()
            .map(|d| {
                self.jobs
                    .iter()
                    .find(|j| j.id == *d)
                    .expect("kept while waited on")
                    .state
            })
            .collect();
        let failed = states
            .iter()
            .any(|s| matches!(s, JobState::Failed | JobState::Cancelled));
        let policy_end = job.on_dependency_failure.ends_as();
        let job = self.find(id).expect("a waiting job");
        match policy_end {
            Some(end) if failed => {
                Model::finish(job, end, now);
                job.last_error = Some(DEPENDENCY_FAILED.to_owned());
                true
            }
            _ if states.iter().all(|s| s.is_terminal()) => {
                let run_at = job.run_at.max(due);
                Model::pend(job, run_at);
                true
            }
            _ => false,
        }
    }

    /// The ids of the jobs that depend on job `id`, ascending; none once it is
    /// deleted.
    pub(super) fn dependents(&self, id: JobId) -> Vec<JobId> {
        if !self.jobs.iter().any(|j| j.id == id) {
            return Vec::new();
        }
        let mut ids: Vec<JobId> = (self.jobs.iter())
            .filter(|j| j.depends_on.contains(&id))
            .map(|j| j.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Whether a job not finished (waiting, or released and not ended) depends on job
    /// `id`.
    pub(super) fn waited_on(&self, id: JobId) -> bool {
        self.jobs
            .iter()
            .any(|j| !j.state.is_terminal() && j.depends_on.contains(&id))
    }
}

/// Whether any of `jobs` depends on others: such a call goes through
/// `enqueue_with_dependencies`, as `Queue` sends it.
pub(super) fn with_dependencies(jobs: &[NewJob]) -> bool {
    jobs.iter().any(|job| !job.depends_on.is_empty())
}
