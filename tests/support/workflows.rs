//! Random workflows for the simulation (tests/simulation.rs): dependency graphs of
//! [`Step`] jobs with random policies, and batches of steps with a [`Digest`] callback,
//! built while the chaos runs (so their enqueues, adds and seals meet store faults),
//! then checked against the store's records and lease history:
//! - a dependent is never claimed before every dependency has ended, nor (unless its
//!   policy is `Ignore`) when one did not complete; it then ends as its policy says;
//! - no job completes twice;
//! - every batch has one callback, depending on exactly its members, that completes
//!   exactly once, after every member ended, and reads counts that match the members.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use leasehold::testing::failing::LeaseEvent;
use leasehold::time::OffsetDateTime;
use leasehold::worker::{JobContext, JobError};
use leasehold::{
    Batch, BatchProgress, DependencyFailure, EnqueueOptions, Error, Job, JobId, JobRecord,
    JobState, Queue,
};
use serde::{Deserialize, Serialize};

/// The attempts a step may take.
const STEP_ATTEMPTS: u32 = 5;
/// The attempts a callback may take: enough that chaos never exhausts them.
const DIGEST_ATTEMPTS: u32 = 25;
/// The numbers of steps start here, apart from the simulation's own jobs.
const FIRST_STEP: u32 = 1_000_000;

/// A step of a workflow or a member of a batch; the simulation runs it like its own
/// jobs (success, errors, panics, snoozes, permanent failures, stalls).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Step {
    pub(crate) n: u32,
}

impl Job for Step {
    const KIND: &'static str = "step";
}

/// A batch's callback.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Digest;

impl Job for Digest {
    const KIND: &'static str = "digest";
}

/// What the callbacks read of their batches, by batch id, on every run that succeeded.
pub(crate) type Reads = Arc<Mutex<BTreeMap<JobId, Vec<BatchProgress>>>>;

/// What a batch callback's handler reads: its batch's progress.
pub(crate) async fn read(ctx: &JobContext) -> Result<BatchProgress, JobError> {
    let batch = ctx.queue().open_batch(ctx.id());
    batch.progress().await.map_err(JobError::retryable)
}

/// Notes what the callback `id` read on a run that succeeded.
pub(crate) fn record(reads: &Reads, id: JobId, progress: BatchProgress) {
    reads.lock().unwrap().entry(id).or_default().push(progress);
}

/// The workflows built so far, and what the driver knows of them.
pub(crate) struct Flows {
    next: u32,
    /// Steps whose enqueue or add answered Ok: stored for sure.
    stored: Vec<JobId>,
    /// Batches not yet sealed for sure.
    open: Vec<Batch>,
    /// Every batch opened.
    batches: Vec<Batch>,
    /// Jobs a hand cancel may have reached (it answered Ok, or failed ambiguously).
    cancelled: BTreeSet<JobId>,
    pub(crate) reads: Reads,
}

impl Flows {
    pub(crate) fn new() -> Self {
        Flows {
            next: FIRST_STEP,
            stored: Vec::new(),
            open: Vec::new(),
            batches: Vec::new(),
            cancelled: BTreeSet::new(),
            reads: Reads::default(),
        }
    }

    fn step(&mut self) -> Step {
        self.next += 1;
        Step { n: self.next }
    }

    /// A first graph and a first batch, so that every seed has both.
    pub(crate) async fn start(&mut self, queue: &Queue, rng: &mut fastrand::Rng) {
        self.enqueue_graph(queue, rng).await;
        self.add(queue, rng).await;
    }

    /// One random workflow operation: enqueue a dependency graph, add to a batch
    /// (opening one), or seal one.
    pub(crate) async fn act(&mut self, queue: &Queue, rng: &mut fastrand::Rng) {
        match rng.u32(0..100) {
            0..40 => self.enqueue_graph(queue, rng).await,
            40..75 => self.add(queue, rng).await,
            _ => {
                if !self.open.is_empty() {
                    let batch = self.open.swap_remove(rng.usize(0..self.open.len()));
                    self.seal(batch).await;
                }
            }
        }
    }

    /// 2 to 5 steps, each depending on some before it in the same call (and now and
    /// then on a step stored earlier, which may have ended already), each with a
    /// random policy.
    async fn enqueue_graph(&mut self, queue: &Queue, rng: &mut fastrand::Rng) {
        let mut jobs: Vec<leasehold::NewJob> = Vec::new();
        for i in 0..rng.usize(2..=5) {
            let mut on: BTreeSet<JobId> = BTreeSet::new();
            for _ in 0..rng.usize(0..=i.min(3)) {
                on.insert(jobs[rng.usize(0..i)].id);
            }
            if !self.stored.is_empty() && rng.u32(0..5) == 0 {
                on.insert(self.stored[rng.usize(0..self.stored.len())]);
            }
            let policy = DependencyFailure::ALL[rng.usize(0..3)];
            let options = EnqueueOptions::new()
                .max_attempts(STEP_ATTEMPTS)
                .depends_on(on)
                .on_dependency_failure(policy);
            let step = self.step();
            jobs.push(queue.new_job(&step, options).expect("a valid step"));
        }
        if let Ok(enqueued) = queue.enqueue_many_new(jobs).await {
            self.stored.extend(enqueued.iter().map(|e| e.job.id));
        }
    }

    /// Adds 1 to 3 steps to an open batch, or to a new one.
    async fn add(&mut self, queue: &Queue, rng: &mut fastrand::Rng) {
        if self.open.is_empty() || (self.open.len() < 3 && rng.bool()) {
            let batch = queue.batch();
            self.batches.push(batch.clone());
            self.open.push(batch);
        }
        let at = rng.usize(0..self.open.len());
        let steps: Vec<Step> = (0..rng.usize(1..=3)).map(|_| self.step()).collect();
        let options = EnqueueOptions::new().max_attempts(STEP_ATTEMPTS);
        match self.open[at].add_many(&steps, options).await {
            Ok(added) => self.stored.extend(added.iter().map(|e| e.job.id)),
            // An ambiguous seal stored the callback after all.
            Err(Error::BatchSealed(_)) => {
                self.open.swap_remove(at);
            }
            Err(_) => {}
        }
    }

    /// Seals `batch`; keeps it open when the store failed before the write.
    async fn seal(&mut self, batch: Batch) {
        let options = EnqueueOptions::new().max_attempts(DIGEST_ATTEMPTS);
        match batch.seal(&Digest, options).await {
            Ok(_) | Err(Error::BatchSealed(_)) => {}
            Err(_) => self.open.push(batch),
        }
    }

    /// Seals every open batch (with the store calm, each succeeds).
    pub(crate) async fn seal_all(&mut self) {
        while let Some(batch) = self.open.pop() {
            let options = EnqueueOptions::new().max_attempts(DIGEST_ATTEMPTS);
            match batch.seal(&Digest, options).await {
                Ok(_) | Err(Error::BatchSealed(_)) => {}
                Err(error) => panic!("sealing {} in calm: {error}", batch.id()),
            }
        }
    }

    /// A stored step to cancel by hand, if any.
    pub(crate) fn pick(&self, rng: &mut fastrand::Rng) -> Option<JobId> {
        (!self.stored.is_empty()).then(|| self.stored[rng.usize(0..self.stored.len())])
    }

    /// Notes a hand cancel of `id` that may have happened.
    pub(crate) fn cancelled(&mut self, id: JobId) {
        self.cancelled.insert(id);
    }

    /// Checks every workflow against the store's `jobs` (all of them, all ended) and
    /// lease `history`.
    pub(crate) fn check(&self, seed: u64, jobs: &[JobRecord], history: &[LeaseEvent]) {
        let by_id: BTreeMap<JobId, &JobRecord> = jobs.iter().map(|j| (j.id, j)).collect();
        let mut first_claim: BTreeMap<JobId, OffsetDateTime> = BTreeMap::new();
        let mut completions: BTreeMap<JobId, u32> = BTreeMap::new();
        for event in history {
            match *event {
                LeaseEvent::Claimed { lease, at, .. } => {
                    first_claim.entry(lease.job_id).or_insert(at);
                }
                LeaseEvent::Ended {
                    lease,
                    verb: "complete",
                    ..
                } => *completions.entry(lease.job_id).or_default() += 1,
                _ => {}
            }
        }
        for (id, n) in &completions {
            assert_eq!(*n, 1, "seed {seed}: job {id} completed {n} times");
        }
        for id in &self.stored {
            assert!(by_id.contains_key(id), "seed {seed}: step {id} is lost");
        }

        let mut dependents = 0;
        for job in jobs.iter().filter(|j| !j.depends_on.is_empty()) {
            dependents += 1;
            let deps: Vec<&JobRecord> = job
                .depends_on
                .iter()
                .map(|d| {
                    *by_id
                        .get(d)
                        .unwrap_or_else(|| panic!("seed {seed}: {} waits on a lost {d}", job.id))
                })
                .collect();
            let all_completed = deps.iter().all(|d| d.state == JobState::Completed);
            let claimed = first_claim.get(&job.id);
            if let Some(&at) = claimed {
                for dep in &deps {
                    let ended = dep.finished_at.filter(|_| dep.state.is_terminal());
                    assert!(
                        ended.is_some_and(|ended| ended <= at),
                        "seed {seed}: {} ({}) claimed at {at} before its dependency {} ended ({}, {:?})",
                        job.id,
                        job.kind,
                        dep.id,
                        dep.state,
                        dep.finished_at
                    );
                }
            }
            if job.on_dependency_failure == DependencyFailure::Ignore || all_completed {
                continue;
            }
            assert!(
                claimed.is_none(),
                "seed {seed}: {} ran though a dependency did not complete",
                job.id
            );
            let by_policy = match job.on_dependency_failure {
                DependencyFailure::Fail => JobState::Failed,
                _ => JobState::Cancelled,
            };
            assert!(
                job.state == by_policy
                    || (job.state == JobState::Cancelled && self.cancelled.contains(&job.id)),
                "seed {seed}: {} ended {} with policy {:?} after a dependency failed",
                job.id,
                job.state,
                job.on_dependency_failure
            );
        }
        assert!(dependents > 0, "seed {seed}: no workflow was stored");

        let reads = self.reads.lock().unwrap();
        let mut sealed = 0;
        for batch in &self.batches {
            let members: Vec<&JobRecord> = jobs
                .iter()
                .filter(|j| j.tags.contains(&batch.tag()))
                .collect();
            let Some(callback) = by_id.get(&batch.id()) else {
                assert!(
                    members.is_empty(),
                    "seed {seed}: batch {} has members but no callback",
                    batch.id()
                );
                continue;
            };
            sealed += 1;
            assert_eq!(callback.kind, Digest::KIND);
            let waited: BTreeSet<JobId> = callback.depends_on.iter().copied().collect();
            let ids: BTreeSet<JobId> = members.iter().map(|m| m.id).collect();
            assert_eq!(
                waited,
                ids,
                "seed {seed}: batch {}'s callback waits on other jobs than its members",
                batch.id()
            );
            assert_eq!(
                callback.state,
                JobState::Completed,
                "seed {seed}: batch {}'s callback",
                batch.id()
            );
            assert_eq!(completions.get(&batch.id()), Some(&1));
            let count = |state| members.iter().filter(|m| m.state == state).count() as u64;
            let seen = reads.get(&batch.id()).unwrap_or_else(|| {
                panic!("seed {seed}: batch {}'s callback never read", batch.id())
            });
            for progress in seen {
                assert!(progress.sealed && progress.remaining() == 0);
                assert_eq!(
                    (
                        progress.members,
                        progress.completed,
                        progress.failed,
                        progress.cancelled
                    ),
                    (
                        members.len() as u64,
                        count(JobState::Completed),
                        count(JobState::Failed),
                        count(JobState::Cancelled)
                    ),
                    "seed {seed}: batch {}'s callback read other counts",
                    batch.id()
                );
            }
        }
        assert!(sealed > 0, "seed {seed}: no batch was sealed");
        let ended_by_policy = jobs
            .iter()
            .filter(|j| j.last_error.as_deref() == Some(leasehold::DEPENDENCY_FAILED))
            .count();
        eprintln!(
            "seed {seed}: {} steps, {dependents} dependents ({ended_by_policy} ended by policy), {sealed} batches, {} hand cancels",
            self.stored.len(),
            self.cancelled.len()
        );
    }
}
