//! Jobs that wait for other jobs: what a dependent does when a dependency does not
//! complete, and the checks every store runs on an enqueue with dependencies.
//!
//! - [`DependencyFailure`]: a dependent's policy when a dependency ends `Failed` or
//!   `Cancelled`: cancel it (the default), fail it, or run it anyway.
//! - [`DependencyProblem`]: why a store refused a dependency
//!   ([`StoreError::InvalidDependency`]).
//! - For stores: [`dependency_order`] (no job of a call depends on itself or, through
//!   others, in a cycle; the order to settle them in) over [`dependency_graph`],
//!   [`DependencyFailure::start`]
//!   (how a dependent starts, from its dependencies' states) and [`DEPENDENCY_FAILED`]
//!   (the error a dependent ended by its policy records).
//!
//! A job enqueued with [`EnqueueOptions::depends_on`](crate::EnqueueOptions::depends_on)
//! is [`JobState::Waiting`] until every dependency has completed, then pending at once.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), leasehold::Error> {
//! use std::sync::Arc;
//! use leasehold::{DependencyFailure, EnqueueOptions, Job, JobState, Queue};
//! use leasehold_memory::MemoryStore;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct CheckPage { url: String }
//! impl Job for CheckPage { const KIND: &'static str = "check_page"; }
//!
//! #[derive(Serialize, Deserialize)]
//! struct SendDigest;
//! impl Job for SendDigest { const KIND: &'static str = "send_digest"; }
//!
//! let queue = Queue::new(Arc::new(MemoryStore::new()));
//! let pages = ["a", "b"].map(|url| CheckPage { url: url.into() });
//! let checks = queue.enqueue_many(&pages, EnqueueOptions::new()).await?;
//! let digest = EnqueueOptions::new()
//!     .depends_on(checks.iter().map(|check| check.job.id))
//!     .on_dependency_failure(DependencyFailure::Ignore);
//! let digest = queue.enqueue_with(SendDigest, digest).await?.job;
//! assert_eq!(digest.state, JobState::Waiting);
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::job::{JobId, JobState, NewJob};

/// What happens to a waiting job when one of its dependencies ends `Failed` or
/// `Cancelled` (chosen per dependent; visible on its record).
///
/// A dependent ended this way records [`DEPENDENCY_FAILED`] as its `last_error`, at the
/// time its dependency ended, and its own dependents follow their policies in turn, all
/// the way down, in the same transition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DependencyFailure {
    /// End the dependent `Cancelled` (the default, as in Oban's and River's workflows):
    /// what it needed will not be there.
    #[default]
    Cancel,
    /// End the dependent `Failed`, so that it shows among the failures.
    Fail,
    /// Run the dependent anyway, once every dependency has ended, however it ended
    /// (Oban's `ignore_cancelled` and `ignore_discarded`): a digest that reports what
    /// went wrong, a clean-up step.
    Ignore,
}

impl DependencyFailure {
    /// Every policy.
    pub const ALL: [DependencyFailure; 3] = [
        DependencyFailure::Cancel,
        DependencyFailure::Fail,
        DependencyFailure::Ignore,
    ];

    /// The lowercase name used in storage and messages (`"cancel"`, `"fail"`,
    /// `"ignore"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            DependencyFailure::Cancel => "cancel",
            DependencyFailure::Fail => "fail",
            DependencyFailure::Ignore => "ignore",
        }
    }

    /// The state a dependent under this policy ends in when a dependency fails or is
    /// cancelled; `None` for [`DependencyFailure::Ignore`], which waits on.
    pub const fn ends_as(self) -> Option<JobState> {
        match self {
            DependencyFailure::Cancel => Some(JobState::Cancelled),
            DependencyFailure::Fail => Some(JobState::Failed),
            DependencyFailure::Ignore => None,
        }
    }

    /// How a job under this policy starts, from the states its dependencies are in
    /// when it is stored (for stores).
    pub fn start(self, dependencies: impl IntoIterator<Item = JobState>) -> DependencyStart {
        let mut waiting = 0u32;
        for state in dependencies {
            match state {
                JobState::Completed => {}
                JobState::Failed | JobState::Cancelled => {
                    if let Some(end) = self.ends_as() {
                        return DependencyStart::Ended(end);
                    }
                }
                _ => waiting += 1,
            }
        }
        if waiting == 0 {
            DependencyStart::Ready
        } else {
            DependencyStart::Waiting(waiting)
        }
    }
}

impl fmt::Display for DependencyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`DependencyFailure`]'s ([`DependencyFailure::as_str`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no dependency failure policy is named {0:?}: expected cancel, fail or ignore")]
pub struct UnknownDependencyFailure(pub String);

impl FromStr for DependencyFailure {
    type Err = UnknownDependencyFailure;

    /// The policy named `name` as [`DependencyFailure::as_str`] writes it.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        DependencyFailure::ALL
            .into_iter()
            .find(|policy| policy.as_str() == name)
            .ok_or_else(|| UnknownDependencyFailure(name.to_owned()))
    }
}

/// How a job with dependencies starts ([`DependencyFailure::start`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyStart {
    /// Nothing to wait for (every dependency completed, or under
    /// [`DependencyFailure::Ignore`] ended): pending at once, at its `run_at`.
    Ready,
    /// `Waiting` for this many dependencies that have not ended.
    Waiting(u32),
    /// A dependency failed or was cancelled and the policy ends the job at once, in
    /// this state, with [`DEPENDENCY_FAILED`].
    Ended(JobState),
}

/// The `last_error` of a dependent that its [`DependencyFailure`] policy ended because
/// a dependency failed or was cancelled.
pub const DEPENDENCY_FAILED: &str = "a dependency failed or was cancelled";

/// Why a store refused a dependency ([`StoreError::InvalidDependency`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DependencyProblem {
    /// No stored job has the id, nor does a job of the same call.
    Unknown,
    /// A job cannot depend on itself.
    Itself,
    /// The jobs of the call depend on each other in a cycle (stored jobs cannot depend
    /// on new ones, so a cycle can only form within one call).
    Cycle,
}

impl fmt::Display for DependencyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DependencyProblem::Unknown => "no job has that id",
            DependencyProblem::Itself => "a job cannot depend on itself",
            DependencyProblem::Cycle => "the jobs of the call depend on each other in a cycle",
        })
    }
}

/// Checks the dependencies among the jobs of one call, each given as its id and the
/// ids it depends on, and answers the indexes of the jobs that have dependencies, each
/// after every job of the call it depends on: the order in which a store settles how
/// they start (for stores).
///
/// A store passes the dependencies as it will store them: a job of the call whose
/// unique key was held stands for the job that holds it, and a job that was not
/// inserted (it was a duplicate) has none. What it cannot check is whether a
/// dependency outside the call exists: that is the store's
/// ([`DependencyProblem::Unknown`]).
///
/// # Errors
///
/// [`StoreError::InvalidDependency`] for a job that depends on itself
/// ([`DependencyProblem::Itself`]) or jobs that depend on each other in a cycle
/// ([`DependencyProblem::Cycle`], naming one dependency of the cycle).
pub fn dependency_order(jobs: &[(JobId, &[JobId])]) -> Result<Vec<usize>, StoreError> {
    let mut index: HashMap<JobId, usize> = HashMap::with_capacity(jobs.len());
    for (i, (id, _)) in jobs.iter().enumerate() {
        index.entry(*id).or_insert(i);
    }
    // For each job, the jobs of the call it depends on (Kahn's algorithm over them).
    let mut blocking = vec![0usize; jobs.len()];
    let mut dependents: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, (id, depends_on)) in jobs.iter().enumerate() {
        for dependency in *depends_on {
            if dependency == id {
                return Err(StoreError::invalid_dependency(
                    *id,
                    *dependency,
                    DependencyProblem::Itself,
                ));
            }
            if let Some(&d) = index.get(dependency) {
                blocking[i] += 1;
                dependents.entry(d).or_default().push(i);
            }
        }
    }
    let mut ready: Vec<usize> = (0..jobs.len()).filter(|&i| blocking[i] == 0).collect();
    let mut order = Vec::with_capacity(jobs.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for &dependent in dependents.get(&i).map_or(&[][..], Vec::as_slice) {
            blocking[dependent] -= 1;
            if blocking[dependent] == 0 {
                ready.push(dependent);
            }
        }
    }
    if let Some(stuck) = (0..jobs.len()).find(|&i| blocking[i] > 0) {
        let (id, depends_on) = jobs[stuck];
        let dependency = depends_on
            .iter()
            .find(|d| index.get(d).is_some_and(|&i| blocking[i] > 0))
            .copied()
            .unwrap_or(id);
        return Err(StoreError::invalid_dependency(
            id,
            dependency,
            DependencyProblem::Cycle,
        ));
    }
    // Ready jobs came off a stack: sort by that order, keeping only dependents.
    let position: HashMap<usize, usize> = order.iter().enumerate().map(|(p, &i)| (i, p)).collect();
    let mut with_dependencies: Vec<usize> =
        (0..jobs.len()).filter(|&i| !jobs[i].1.is_empty()).collect();
    with_dependencies.sort_by_key(|i| position[i]);
    Ok(with_dependencies)
}

/// Each of `jobs` as [`dependency_order`] takes it: its id and its dependencies as
/// given.
pub fn dependency_graph(jobs: &[NewJob]) -> Vec<(JobId, &[JobId])> {
    jobs.iter()
        .map(|job| (job.id, job.depends_on.as_slice()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn job() -> NewJob {
        NewJob::new("k", serde_json::Value::Null, datetime!(2000-01-01 0:00 UTC)).unwrap()
    }

    #[test]
    fn dependents_come_after_the_jobs_of_the_call_they_depend_on() {
        let (a, b, c) = (job(), job(), job());
        let c = c.depends_on([a.id, b.id]);
        let a = a.depends_on([b.id]);
        let outside = job().depends_on([JobId::MIN]);

        let order = dependency_order(&dependency_graph(&[c, a, b, outside])).unwrap();

        assert_eq!(order.len(), 3);
        let at = |i| order.iter().position(|&o| o == i).unwrap();
        assert!(at(1) < at(0), "a before c, which depends on it");
    }

    #[test]
    fn a_dependency_on_itself_or_a_cycle_is_refused_naming_it() {
        let a = job();
        let own = a.clone().depends_on([a.id]);
        let (b, c) = (job(), job());
        let (b, c) = (b.clone().depends_on([c.id]), c.depends_on([b.id]));

        let itself = dependency_order(&dependency_graph(&[own])).unwrap_err();
        let cycle = dependency_order(&dependency_graph(&[a.clone(), b, c])).unwrap_err();

        assert!(matches!(
            itself,
            StoreError::InvalidDependency { problem: DependencyProblem::Itself, job, .. } if job == a.id
        ));
        assert!(matches!(
            cycle,
            StoreError::InvalidDependency {
                problem: DependencyProblem::Cycle,
                ..
            }
        ));
        assert!(cycle.to_string().contains("in a cycle"), "{cycle}");
    }

    #[test]
    fn a_policy_decides_how_a_dependent_starts() {
        use JobState::{Cancelled, Completed, Failed, Running};

        assert_eq!(
            DependencyFailure::Cancel.start([Completed, Running, Running]),
            DependencyStart::Waiting(2)
        );
        assert_eq!(
            DependencyFailure::Cancel.start([Completed]),
            DependencyStart::Ready
        );
        assert_eq!(
            DependencyFailure::Fail.start([Running, Cancelled]),
            DependencyStart::Ended(Failed)
        );
        assert_eq!(
            DependencyFailure::Ignore.start([Failed, Cancelled]),
            DependencyStart::Ready
        );
        assert_eq!(
            "ignore".parse::<DependencyFailure>(),
            Ok(DependencyFailure::Ignore)
        );
    }
}
