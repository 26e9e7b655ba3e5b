//! [`Outcome`]: the part of a call's answer the model and the store must agree on.

use crate::schedule::ScheduleRecord;
use crate::{DependencyProblem, HeartbeatStatus, JobId, JobState, StoreError};

/// The part of a call's answer that must agree between the model and the store.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    Ok,
    Ids(Vec<JobId>),
    Duplicate(JobId),
    Beats(Vec<HeartbeatStatus>),
    State(JobState),
    Count(u64),
    Schedule(Box<ScheduleRecord>),
    Removed(bool),
    NotFound,
    ScheduleNotFound,
    QueueNotFound,
    LimitNotFound,
    LeaseLost,
    Conflict,
    WrongState(JobState),
    /// Which job and dependency a cycle is named by depends on the order a store finds
    /// it in, so only the problem must agree.
    InvalidDependency(DependencyProblem),
    Other(String),
}

impl From<&StoreError> for Outcome {
    fn from(e: &StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => Outcome::NotFound,
            StoreError::ScheduleNotFound(_) => Outcome::ScheduleNotFound,
            StoreError::QueueNotFound(_) => Outcome::QueueNotFound,
            StoreError::LimitNotFound(_) => Outcome::LimitNotFound,
            StoreError::LeaseLost(_) => Outcome::LeaseLost,
            StoreError::Conflict(_) => Outcome::Conflict,
            StoreError::WrongState { state, .. } => Outcome::WrongState(*state),
            StoreError::InvalidDependency { problem, .. } => Outcome::InvalidDependency(*problem),
            other => Outcome::Other(other.to_string()),
        }
    }
}

pub(super) fn answer<T>(result: Result<T, StoreError>, ok: impl FnOnce(T) -> Outcome) -> Outcome {
    match result {
        Ok(v) => ok(v),
        Err(e) => Outcome::from(&e),
    }
}
