//! What a worker holds: every job it has a lease on, from its claim until its outcome
//! is recorded, and each queue's busy slots and buffer of jobs claimed ahead.
//!
//! A held job is in one of three phases: buffered (claimed ahead of a free slot, not
//! started), running (its handler owns a slot) or finishing (its handler is done and
//! its outcome is being written; the slot is free again). Every phase is leased and
//! heartbeated alike; only running jobs count against a queue's concurrency.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::job::{JobRecord, Lease};

/// Where a held job is between its claim and its recorded outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Claimed ahead of a free slot; not started.
    Buffered,
    /// Its handler holds one of the queue's slots.
    Running,
    /// Its handler is done and its outcome is being recorded.
    Finishing,
}

/// Why the worker stopped a job's handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The lease is no longer ours (or could not be kept): record nothing.
    Lost,
    /// The job was cancelled: record nothing.
    Cancelled,
    /// Shutdown's grace period ran out: give the job back.
    Shutdown,
}

/// A job this worker holds a lease on.
pub(crate) struct HeldJob {
    /// The attempt it holds (for logs; the job's id is in its lease).
    pub(crate) attempt: u32,
    /// The index of its queue in the worker's settings.
    pub(crate) queue: usize,
    /// The latest `lease_until` the store confirmed.
    pub(crate) lease_until: OffsetDateTime,
    pub(crate) token: CancellationToken,
    pub(crate) stop: Option<StopReason>,
    pub(crate) phase: Phase,
    /// When its handler took a slot (measured with Tokio's clock, not the wall clock).
    pub(crate) started: Option<tokio::time::Instant>,
}

impl HeldJob {
    /// Stops the handler for `reason`, unless its outcome is already being recorded
    /// (then the write itself finds out whether the lease still holds). A buffered
    /// job has no handler: [`Held::give_up`] drops it instead.
    pub(crate) fn stop(&mut self, reason: StopReason) {
        if self.stop.is_none() && self.phase == Phase::Running {
            self.stop = Some(reason);
            self.token.cancel();
        }
    }
}

/// One queue's slots and buffer.
#[derive(Default)]
pub(crate) struct Slots {
    /// Jobs whose handler runs: at most the queue's concurrency.
    pub(crate) busy: usize,
    /// Jobs claimed ahead, oldest claim first. Held by value: the slot that takes
    /// one puts it in its `Arc`, so the thread that runs the job allocates what it
    /// frees when the job ends (a free into another thread's allocator arena takes
    /// that arena's lock, against that thread's own allocations).
    pub(crate) buffer: VecDeque<JobRecord>,
    /// Every job of the queue held, whatever its phase.
    pub(crate) leases: usize,
    /// How long its handlers run, a moving average (`None` before the first ends).
    pub(crate) run_time: Option<Duration>,
}

impl Slots {
    /// Folds one handler's run time into the average (weight 1/8: a few slow jobs
    /// shrink the buffer within a few jobs, and one outlier does not empty it).
    pub(crate) fn ran_for(&mut self, took: Duration) {
        self.run_time = Some(match self.run_time {
            None => took,
            Some(average) => average - average / 8 + took / 8,
        });
    }
}

/// Everything a worker holds, behind one lock.
pub(crate) struct Held {
    /// Hashed with foldhash: a job passes through this map four times, and its keys
    /// are leases the store handed out, not input to defend against.
    pub(crate) jobs: HashMap<Lease, HeldJob, foldhash::fast::RandomState>,
    pub(crate) queues: Vec<Slots>,
    /// Whether the worker last told its drain that it holds no job.
    pub(crate) published_none: bool,
}

impl Held {
    pub(crate) fn new(queues: usize) -> Self {
        Self {
            jobs: HashMap::default(),
            queues: (0..queues).map(|_| Slots::default()).collect(),
            published_none: true,
        }
    }

    /// Jobs held in any phase but buffered.
    pub(crate) fn started(&self) -> usize {
        self.jobs.len() - self.queues.iter().map(|q| q.buffer.len()).sum::<usize>()
    }

    /// Registers `job`, claimed from queue `queue` until `lease_until`, at the back of
    /// that queue's buffer.
    pub(crate) fn buffer(&mut self, job: JobRecord, queue: usize, lease_until: OffsetDateTime) {
        self.hold(&job, queue, lease_until, Phase::Buffered);
        self.queues[queue].buffer.push_back(job);
    }

    /// Registers `job`, whose claim answered after its lease deadline, as running but
    /// already stopped: its task reports the lease lost without running the handler.
    pub(crate) fn start_stopped(
        &mut self,
        job: &JobRecord,
        queue: usize,
        lease_until: OffsetDateTime,
    ) -> CancellationToken {
        let entry = self.hold(job, queue, lease_until, Phase::Running);
        entry.stop = Some(StopReason::Lost);
        entry.token.cancel();
        let token = entry.token.clone();
        self.queues[queue].busy += 1;
        token
    }

    fn hold(
        &mut self,
        job: &JobRecord,
        queue: usize,
        lease_until: OffsetDateTime,
        phase: Phase,
    ) -> &mut HeldJob {
        self.queues[queue].leases += 1;
        let lease = job.lease();
        let entry = HeldJob {
            attempt: job.attempt,
            queue,
            lease_until: job.lease_until.unwrap_or(lease_until),
            token: CancellationToken::new(),
            stop: None,
            phase,
            started: (phase == Phase::Running).then(tokio::time::Instant::now),
        };
        // Lease tokens are unique: a claim never replaces a held job.
        self.jobs.entry(lease).insert_entry(entry).into_mut()
    }

    /// Takes the oldest buffered job of `queue` into a slot: the job and its token.
    pub(crate) fn start_next(
        &mut self,
        queue: usize,
    ) -> Option<(Arc<JobRecord>, CancellationToken)> {
        let slots = &mut self.queues[queue];
        let job = slots.buffer.pop_front()?;
        slots.busy += 1;
        let entry = self
            .jobs
            .get_mut(&job.lease())
            .expect("a buffered job is held until it leaves the buffer");
        entry.phase = Phase::Running;
        entry.started = Some(tokio::time::Instant::now());
        Some((Arc::new(job), entry.token.clone()))
    }

    /// Drops a buffered job whose lease is lost, cancelled or given back: it never
    /// started, so nothing is recorded.
    pub(crate) fn give_up(&mut self, lease: Lease) {
        let Some(entry) = self.jobs.remove(&lease) else {
            return;
        };
        let slots = &mut self.queues[entry.queue];
        slots.buffer.retain(|job| job.lease() != lease);
        slots.leases -= 1;
    }

    /// Removes every buffered job; returns their leases.
    pub(crate) fn take_buffered(&mut self) -> Vec<Lease> {
        let mut leases = Vec::new();
        for slots in &mut self.queues {
            for job in slots.buffer.drain(..) {
                leases.push(job.lease());
                slots.leases -= 1;
            }
        }
        for lease in &leases {
            self.jobs.remove(lease);
        }
        leases
    }

    /// Forgets a started job whose task has ended; frees its slot if its handler
    /// never reported done (a task that ended abnormally). Returns its queue when a
    /// slot was freed.
    pub(crate) fn remove(&mut self, lease: Lease) -> Option<usize> {
        let entry = self.jobs.remove(&lease)?;
        let slots = &mut self.queues[entry.queue];
        slots.leases -= 1;
        (entry.phase == Phase::Running).then(|| {
            slots.busy -= 1;
            entry.queue
        })
    }
}
