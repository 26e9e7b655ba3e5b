//! The operations of a model run: their shapes and the proptest strategies that
//! generate them.

use proptest::prelude::*;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::schedule::{NewSchedule, ScheduleSpec};
use crate::testing::conformance::t;
use crate::{DependencyFailure, JobId, JobState, LimitScope, NewJob};

/// The two queues jobs go to.
pub(super) const QUEUES: [&str; 2] = ["a", "b"];

/// The shape of a job to enqueue.
#[derive(Debug, Clone)]
pub struct JobSpec {
    queue: usize,
    priority: i16,
    delay_secs: i64,
    max_attempts: u32,
    unique: Option<u8>,
    /// With a unique key: a 10 s unique period over `[Completed]` (false) or
    /// `[Completed, Failed]` (true).
    unique_period: Option<bool>,
    tag: Option<u8>,
    /// A limit key of two.
    limit_key: Option<u8>,
    /// Dependencies, under a policy (an index into [`DependencyFailure::ALL`]).
    depends: Option<(Vec<Dependency>, usize)>,
}

/// What a dependency of a [`JobSpec`] points at.
#[derive(Debug, Clone, Copy)]
pub enum Dependency {
    /// A job of the run so far, by index (it may have been deleted since, or never
    /// stored).
    Seen(usize),
    /// A job of the same call, by index (itself, a later one: a cycle is possible).
    Call(usize),
    /// The `n`-th latest job of the run before this call (0: the latest): with
    /// `Ignore`, the shape of a batch's callback sealed over its members.
    Latest(usize),
}

/// One step of a generated sequence; indexes pick among jobs and leases seen so far.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // the variants' fields are self-describing test inputs
pub enum Op {
    Enqueue(JobSpec),
    EnqueueMany(Vec<JobSpec>),
    /// `queues` is a bit mask over the two queues.
    Claim {
        queues: u8,
        limit: usize,
        lease_secs: i64,
        limited: Option<usize>,
    },
    /// Sets a limit on scope `scope` (keys k0, k1, queues a, b, and c, which no job
    /// uses): at most `max_running`, at most `rate.0` starts per `rate.1` seconds.
    SetLimit {
        scope: usize,
        max_running: Option<u32>,
        rate: Option<(u32, u64)>,
    },
    RemoveLimit {
        scope: usize,
    },
    Heartbeat {
        leases: Vec<usize>,
        extend_secs: i64,
    },
    Complete {
        lease: usize,
    },
    Retry {
        lease: usize,
        delay_secs: i64,
    },
    Fail {
        lease: usize,
    },
    Release {
        lease: usize,
        delay_secs: i64,
    },
    Cancel {
        job: usize,
    },
    Prune {
        age_secs: i64,
        limit: usize,
    },
    Advance {
        secs: i64,
    },
    /// `spec` picks one of two interval specs; `next_secs` is the slot after now.
    UpsertSchedule {
        name: usize,
        spec: usize,
        next_secs: i64,
    },
    /// Fires the stored slot (`current`) or a stale one, with `jobs` slot jobs.
    FireSchedule {
        name: usize,
        current: bool,
        jobs: usize,
        next_secs: i64,
    },
    PauseSchedule {
        name: usize,
    },
    ResumeSchedule {
        name: usize,
        next_secs: i64,
    },
    /// Pauses (`pause`) or resumes queue `queue` of the two.
    PauseQueue {
        queue: usize,
        pause: bool,
    },
    RemoveSchedule {
        name: usize,
    },
    CompleteWithOutput {
        lease: usize,
    },
    RetryJob {
        job: usize,
    },
    DeleteJob {
        job: usize,
    },
    UpdateJob {
        job: usize,
        delay_secs: i64,
        priority: Option<i16>,
        queue: Option<usize>,
    },
    /// `verb` 0, 1, 2, 3: retry, cancel, delete or update the jobs of a filter on
    /// queue, state (an index into `JobState::ALL`) and tag, up to `limit`.
    Bulk {
        verb: u8,
        queue: Option<usize>,
        state: Option<usize>,
        tag: Option<u8>,
        limit: Option<usize>,
    },
    TakeLock {
        holder: usize,
        secs: i64,
    },
    /// One page of `list`: past the cursor of job `after` (if any) in the order
    /// `newest_first` picks, on queue `queue` (if any), at most `limit`.
    ListPage {
        queue: Option<usize>,
        after: Option<usize>,
        newest_first: bool,
        limit: usize,
    },
    /// The dependents of job `job`.
    Dependents {
        job: usize,
    },
}

fn job_spec() -> impl Strategy<Value = JobSpec> {
    (
        0..2usize,
        -1i16..=1,
        0i64..=30,
        1u32..=3,
        proptest::option::weighted(0.3, 0u8..3),
        proptest::option::weighted(0.5, proptest::bool::ANY),
        proptest::option::weighted(0.4, 0u8..2),
        proptest::option::weighted(0.5, 0u8..2),
        proptest::option::weighted(
            0.35,
            (proptest::collection::vec(dependency(), 1..3), 0usize..3),
        ),
    )
        .prop_map(
            |(
                queue,
                priority,
                delay,
                max_attempts,
                unique,
                unique_period,
                tag,
                limit_key,
                depends,
            )| {
                JobSpec {
                    queue,
                    priority,
                    delay_secs: delay / 10 * 10,
                    max_attempts,
                    unique,
                    unique_period,
                    tag,
                    limit_key,
                    depends,
                }
            },
        )
}

/// A batch's seal (`Batch::seal`): a callback depending, under `Ignore`, on the
/// latest 1 to 5 jobs of the run (its members, whatever became of them since).
fn batch_seal() -> impl Strategy<Value = JobSpec> {
    (0..2usize, 1..6usize).prop_map(|(queue, members)| JobSpec {
        queue,
        priority: 0,
        delay_secs: 0,
        max_attempts: 2,
        unique: None,
        unique_period: None,
        tag: None,
        limit_key: None,
        depends: Some(((0..members).map(Dependency::Latest).collect(), 2)),
    })
}

fn dependency() -> impl Strategy<Value = Dependency> {
    prop_oneof![
        5 => (0usize..64).prop_map(Dependency::Seen),
        1 => (0usize..4).prop_map(Dependency::Call),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => job_spec().prop_map(Op::Enqueue),
        1 => batch_seal().prop_map(Op::Enqueue),
        1 => proptest::collection::vec(job_spec(), 0..4).prop_map(Op::EnqueueMany),
        4 => (1u8..4, 0usize..4, 1i64..30, proptest::option::weighted(0.2, 0usize..3)).prop_map(|(queues, limit, lease_secs, limited)| Op::Claim { queues, limit, lease_secs, limited }),
        1 => (0usize..5, proptest::option::of(1u32..3), proptest::option::of((1u32..3, 5u64..20)))
            .prop_map(|(scope, max_running, rate)| Op::SetLimit { scope, max_running, rate }),
        1 => (0usize..5).prop_map(|scope| Op::RemoveLimit { scope }),
        2 => (proptest::collection::vec(0usize..64, 1..4), 1i64..30).prop_map(|(leases, extend_secs)| Op::Heartbeat { leases, extend_secs }),
        3 => (0usize..64).prop_map(|lease| Op::Complete { lease }),
        2 => (0usize..64, 0i64..20).prop_map(|(lease, delay_secs)| Op::Retry { lease, delay_secs }),
        1 => (0usize..64).prop_map(|lease| Op::Fail { lease }),
        1 => (0usize..64, 0i64..20).prop_map(|(lease, delay_secs)| Op::Release { lease, delay_secs }),
        1 => (0usize..64).prop_map(|job| Op::Cancel { job }),
        1 => (0i64..40, 1usize..4).prop_map(|(age_secs, limit)| Op::Prune { age_secs, limit }),
        3 => (0i64..25).prop_map(|secs| Op::Advance { secs }),
        2 => (0usize..2, 0usize..2, 0i64..60).prop_map(|(name, spec, next_secs)| Op::UpsertSchedule { name, spec, next_secs }),
        2 => (0usize..2, proptest::bool::weighted(0.7), 0usize..3, 0i64..60).prop_map(|(name, current, jobs, next_secs)| Op::FireSchedule { name, current, jobs, next_secs }),
        1 => (0usize..2).prop_map(|name| Op::PauseSchedule { name }),
        1 => (0usize..2, 0i64..60).prop_map(|(name, next_secs)| Op::ResumeSchedule { name, next_secs }),
        1 => (0usize..2).prop_map(|name| Op::RemoveSchedule { name }),
        1 => (0usize..3, proptest::bool::weighted(0.6)).prop_map(|(queue, pause)| Op::PauseQueue { queue, pause }),
        1 => (0usize..64).prop_map(|lease| Op::CompleteWithOutput { lease }),
        1 => (0usize..64).prop_map(|job| Op::RetryJob { job }),
        1 => (0usize..64).prop_map(|job| Op::DeleteJob { job }),
        1 => (0usize..64, 0i64..30, proptest::option::of(-1i16..=1), proptest::option::of(0usize..2))
            .prop_map(|(job, delay_secs, priority, queue)| Op::UpdateJob { job, delay_secs, priority, queue }),
        1 => (0u8..4, proptest::option::of(0usize..2), proptest::option::of(0usize..7), proptest::option::weighted(0.3, 0u8..2), proptest::option::of(0usize..3))
            .prop_map(|(verb, queue, state, tag, limit)| Op::Bulk { verb, queue, state, tag, limit }),
        1 => (0usize..2, 0i64..20).prop_map(|(holder, secs)| Op::TakeLock { holder, secs }),
        1 => (proptest::option::of(0usize..2), proptest::option::weighted(0.7, 0usize..64), proptest::bool::ANY, 1usize..4)
            .prop_map(|(queue, after, newest_first, limit)| Op::ListPage { queue, after, newest_first, limit }),
        1 => (0usize..64).prop_map(|job| Op::Dependents { job }),
    ]
}

/// Limit scope `i`: keys k0 and k1, queues a and b, and c, which no job uses.
pub(super) fn limit_scope(i: usize) -> LimitScope {
    match i {
        0 | 1 => LimitScope::Key(format!("k{i}")),
        2 | 3 => LimitScope::Queue(QUEUES[i - 2].to_owned()),
        _ => LimitScope::Queue("c".to_owned()),
    }
}

pub(super) fn schedule_name(i: usize) -> String {
    format!("schedule-{i}")
}

/// Schedule `name` on one of two interval specs.
pub(super) fn schedule_def(name: usize, spec: usize) -> NewSchedule {
    let every = std::time::Duration::from_secs(if spec == 0 { 10 } else { 15 });
    let spec = ScheduleSpec::interval(every, t(0)).expect("a valid interval");
    NewSchedule::untyped(schedule_name(name), spec, "tick", json!({ "s": name }))
        .expect("a valid schedule")
}

/// Sequences of up to `max_len` operations.
pub fn operations(max_len: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..max_len)
}

impl JobSpec {
    /// The job this spec describes, enqueued at `now`.
    pub(super) fn new_job(&self, now: OffsetDateTime) -> NewJob {
        let mut job = NewJob::new("model", json!({ "q": self.queue }), now)
            .expect("valid kind")
            .queue(QUEUES[self.queue])
            .expect("valid queue")
            .priority(self.priority)
            .run_at(now + Duration::seconds(self.delay_secs))
            .max_attempts(self.max_attempts)
            .expect("at least one attempt");
        if let Some(key) = self.unique {
            job = job.unique_key(format!("u{key}"));
            if let Some(failed_too) = self.unique_period {
                let states: &[JobState] = if failed_too {
                    &[JobState::Completed, JobState::Failed]
                } else {
                    &[JobState::Completed]
                };
                job = job
                    .unique_for(std::time::Duration::from_secs(10), states)
                    .expect("a valid unique period");
            }
        }
        if let Some(key) = self.limit_key {
            job = job.limit_key(format!("k{key}")).expect("a valid key");
        }
        if let Some(tag) = self.tag {
            job = job.tags([format!("t{tag}")]).expect("a valid tag");
            job = job.metadata(json!({ "tag": tag })).expect("an object");
        }
        job
    }

    /// `job` with this spec's dependencies among the jobs `seen` so far and the jobs
    /// of its `call` (itself included).
    pub(super) fn with_dependencies(&self, job: NewJob, seen: &[JobId], call: &[JobId]) -> NewJob {
        let Some((dependencies, policy)) = &self.depends else {
            return job;
        };
        let ids = dependencies
            .iter()
            .filter_map(|dependency| match dependency {
                Dependency::Seen(i) => (!seen.is_empty()).then(|| seen[i % seen.len()]),
                Dependency::Call(i) => (!call.is_empty()).then(|| call[i % call.len()]),
                Dependency::Latest(n) => {
                    (!seen.is_empty()).then(|| seen[seen.len() - 1 - n % seen.len()])
                }
            });
        job.depends_on(ids)
            .on_dependency_failure(DependencyFailure::ALL[*policy])
    }
}
