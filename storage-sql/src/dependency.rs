//! Jobs with dependencies on their way in: once an enqueue has inserted its jobs (a
//! job with dependencies in `waiting`, for now), [`start_dependents`] checks every
//! dependency and starts each dependent, through a store's [`DependencyWrites`].
//!
//! What a dependency's end does to its dependents happens in each store's SQL, in the
//! transaction of that end (SQLite's writer settles them before it commits, PostgreSQL
//! in a trigger); this module is the enqueue's side, written once.
//!
//! A dependency is marked (`has_dependents`) by the statement that reads its state, so
//! that its end settles its dependents, and, on PostgreSQL, locked until the enqueue
//! commits: an end that comes later waits for the enqueue and then sees its dependents;
//! an end that came first is what the enqueue reads.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use leasehold::time::OffsetDateTime;
use leasehold::{
    DEPENDENCY_FAILED, DependencyProblem, DependencyStart, Enqueued, JobId, JobState, NewJob,
    StoreError, dependency_order,
};

use crate::enqueue::json_text;
use crate::param::Param;
use crate::row::{micros, state_of};

/// The stored state a job that nothing holds back any more starts in, for a store to
/// write in its dialect (`pending` on PostgreSQL; `scheduled` or `available`, by its
/// run time, on SQLite).
pub const PENDING: &str = "pending";

/// How one dependent starts, as `start_dependent.sql` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start<'a> {
    /// The dependent.
    pub id: JobId,
    /// What it depends on, as stored: each once, a job of the call standing for the
    /// job that answered it.
    pub depends_on: &'a [JobId],
    /// How it starts.
    pub start: DependencyStart,
    /// The time of the enqueue.
    pub now: OffsetDateTime,
}

impl Start<'_> {
    /// The parameters of `start_dependent.sql`, in order: the id; the stored state
    /// (`waiting`, [`PENDING`], `failed` or `cancelled`); how many dependencies it waits
    /// for; its dependencies (a JSON array of ids); its finish time (microseconds; NULL
    /// unless ended); its error (NULL unless ended); the time of the enqueue
    /// (microseconds).
    pub fn params(&self) -> [Param<'static>; 7] {
        let (state, waiting_for, ended) = match self.start {
            DependencyStart::Ready => (PENDING, 0, false),
            DependencyStart::Waiting(count) => ("waiting", count, false),
            DependencyStart::Ended(state) => (state.as_str(), 0, true),
        };
        [
            Param::Id(Some(self.id)),
            Param::text(state),
            Param::integer(i64::from(waiting_for)),
            Param::owned_text(json_text(&self.depends_on)),
            Param::Integer(ended.then(|| micros(self.now))),
            Param::Text(ended.then_some(DEPENDENCY_FAILED.into())),
            Param::integer(micros(self.now)),
        ]
    }
}

/// The statements that start dependents, in a store's dialect, on the connection its
/// enqueue runs on (inside its transaction).
pub trait DependencyWrites: Send {
    /// Marks each stored job of `ids` as depended on (locking it until the transaction
    /// ends, where the store locks rows) and answers its stored state; an id without
    /// a job is left out.
    fn depend_on(
        &mut self,
        ids: &[JobId],
    ) -> impl Future<Output = Result<Vec<(JobId, String)>, StoreError>> + Send;

    /// Starts a dependent as `start` says and records its dependencies.
    fn start(&mut self, start: &Start<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Starts the dependents among `jobs`, which an enqueue at `now` inserted (or answered
/// by a duplicate) as `answers` say, and sets their answers to how they started.
///
/// # Errors
///
/// `InvalidDependency` for a dependency on an unknown id (checked first, in the order
/// of the jobs and of their dependencies), on the job itself or in a cycle (once a job
/// of the call stands for the job that answered it); the errors of `writes`. The
/// caller's transaction must then be rolled back: the jobs are inserted.
pub async fn start_dependents(
    writes: &mut impl DependencyWrites,
    jobs: &[NewJob],
    answers: &mut [Enqueued],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    if jobs.iter().all(|job| job.depends_on.is_empty()) {
        return Ok(());
    }
    let answering: HashMap<JobId, JobId> = jobs
        .iter()
        .zip(answers.iter())
        .map(|(job, answer)| (job.id, answer.job.id))
        .collect();
    let inserted: HashSet<JobId> = answers
        .iter()
        .filter(|answer| !answer.duplicate)
        .map(|answer| answer.job.id)
        .collect();
    let resolved: Vec<Vec<JobId>> = jobs.iter().map(|job| resolve(job, &answering)).collect();
    // Jobs stored before the call: marked and read once, up front.
    let stored: Vec<JobId> = resolved
        .iter()
        .flatten()
        .filter(|id| !inserted.contains(id))
        .copied()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut states: HashMap<JobId, JobState> = HashMap::new();
    for (id, state) in writes.depend_on(&stored).await? {
        states.insert(id, state_of(&state, 0, 0)?);
    }
    for job in jobs {
        for dependency in &job.depends_on {
            let id = answering.get(dependency).unwrap_or(dependency);
            if !inserted.contains(id) && !states.contains_key(id) {
                return Err(StoreError::invalid_dependency(
                    job.id,
                    *dependency,
                    DependencyProblem::Unknown,
                ));
            }
        }
    }
    // The jobs of the call as inserted; each dependent's entry changes as it starts.
    for answer in answers.iter().filter(|answer| !answer.duplicate) {
        states.insert(answer.job.id, answer.job.state);
    }
    let graph: Vec<(JobId, &[JobId])> = jobs
        .iter()
        .zip(&resolved)
        .zip(answers.iter())
        .map(|((job, ids), answer)| (job.id, if answer.duplicate { &[][..] } else { ids }))
        .collect();
    for i in dependency_order(&graph)? {
        let ids = &resolved[i];
        let of_the_call: Vec<JobId> = ids
            .iter()
            .filter(|id| inserted.contains(id))
            .copied()
            .collect();
        // Marked only now: a job of the call that a policy ended as it started did so
        // with nothing to settle.
        writes.depend_on(&of_the_call).await?;
        let policy = jobs[i].on_dependency_failure;
        let start = policy.start(ids.iter().map(|id| states[id]));
        writes
            .start(&Start {
                id: jobs[i].id,
                depends_on: ids,
                start,
                now,
            })
            .await?;
        let record = &mut answers[i].job;
        record.depends_on.clone_from(ids);
        record.state = match start {
            DependencyStart::Ready if record.run_at > now => JobState::Scheduled,
            DependencyStart::Ready => JobState::Available,
            DependencyStart::Waiting(_) => JobState::Waiting,
            DependencyStart::Ended(state) => {
                record.finished_at = Some(now);
                record.last_error = Some(DEPENDENCY_FAILED.to_owned());
                state
            }
        };
        states.insert(record.id, record.state);
    }
    Ok(())
}

/// `job`'s dependencies as stored: each once, a job of the call standing for the job
/// that answered it (itself, or the holder of its unique key).
fn resolve(job: &NewJob, answering: &HashMap<JobId, JobId>) -> Vec<JobId> {
    let mut ids = Vec::with_capacity(job.depends_on.len());
    for dependency in &job.depends_on {
        let id = *answering.get(dependency).unwrap_or(dependency);
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}
