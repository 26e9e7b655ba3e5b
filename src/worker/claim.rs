//! Claiming and starting: a claim round per queue, the buffer of jobs claimed ahead,
//! and the hand-over of a freed slot to the next buffered job.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::events::{JobInfo, WorkerEvent};
use super::execute::Buffered;
use super::held::{Held, Phase, Slots, StopReason};
use super::outcome::JobOutcome;
use super::{Inner, RunningGuard, execute, heartbeat, later};
use crate::error::Error;
use crate::job::{JobRecord, Lease};
use crate::store::ClaimRequest;

/// How much work, at the measured run time of a queue's handlers, a worker claims
/// ahead of its slots: enough to amortize a claim over many short jobs, little enough
/// that jobs of a second or more are hardly buffered at all.
pub(crate) const AHEAD_HORIZON: Duration = Duration::from_millis(100);

/// A started job: what it is, and its task.
pub(crate) type Started = (JobInfo, JoinHandle<JobOutcome>);

/// What a claim round did.
#[derive(Default)]
pub(crate) struct ClaimRound {
    /// The jobs it started.
    pub(crate) started: Vec<Started>,
    /// How many jobs it asked the store for, over all queues.
    pub(crate) asked: usize,
    /// How many the store gave.
    pub(crate) got: usize,
}

impl ClaimRound {
    /// Whether every queue asked got all it asked for: more work is likely waiting.
    pub(crate) fn filled(&self) -> bool {
        self.asked > 0 && self.got >= self.asked
    }
}

impl Inner {
    /// Claims, per queue, up to its free slots (and with `ahead`, enough to fill its
    /// buffer too, once the buffer is half empty), starts what the free slots take and
    /// buffers the rest. One store call per queue that wants jobs.
    ///
    /// # Errors
    ///
    /// The store's error when no claim succeeded (jobs claimed from other queues
    /// still start).
    pub(crate) async fn claim_round(self: &Arc<Self>, ahead: bool) -> Result<ClaimRound, Error> {
        let settings = &self.settings;
        let _claiming = self.claiming.lock().await;
        let mut round = ClaimRound::default();
        let mut failure = None;
        for (index, (queue, _)) in settings.queues.iter().enumerate() {
            if self.stop.is_cancelled() {
                break;
            }
            let (want, free) = self.wanted_from(&self.held(), index, ahead);
            if want == 0 {
                continue;
            }
            round.asked += want;
            let now = self.clock.now();
            let lease_until = later(now, settings.lease);
            // Jobs a stored limit governs only for free slots: buffered, they would
            // start later than the claim a rate counts.
            let request =
                ClaimRequest::new(&settings.id, std::slice::from_ref(queue), want, lease_until)
                    .limited(free);
            match self.store.claim(request, now).await {
                Ok(jobs) => {
                    round.got += jobs.len();
                    // A claim that answered after its own deadline (a slow or
                    // partitioned store) must not start its jobs: another worker may
                    // claim them soon. One clock read per claim, not per job.
                    let late = !jobs.is_empty()
                        && heartbeat::deadline(lease_until, settings.margin) <= self.clock.now();
                    self.take_claimed(jobs, index, lease_until, late, &mut round.started);
                }
                Err(error) => {
                    // Logged here, once, with its queue; `run` does not log it again.
                    if error.is_transient() {
                        tracing::warn!(worker = %settings.id, queue, %error, "claim failed");
                    } else {
                        tracing::error!(
                            worker = %settings.id,
                            queue,
                            %error,
                            "claim failed with an error that needs an operator; backing off"
                        );
                    }
                    failure.get_or_insert(error);
                }
            }
        }
        match failure {
            Some(error) if round.started.is_empty() => Err(error.into()),
            _ => Ok(round),
        }
    }

    /// How many jobs queue `index` asks for now: its free slots, plus (claiming
    /// ahead, once its buffer is at most half full) the room in its buffer; never so
    /// many that the jobs it holds in any phase exceed twice its slots and buffer.
    /// Also its free slots, which bound the limited jobs it takes.
    fn wanted_from(&self, held: &Held, index: usize, ahead: bool) -> (usize, usize) {
        let slots = &held.queues[index];
        let concurrency = self.settings.queues[index].1;
        let free = concurrency.saturating_sub(slots.busy + slots.buffer.len());
        let capacity = if ahead {
            self.buffer_capacity(slots, concurrency)
        } else {
            0
        };
        let room = if slots.buffer.len() <= capacity / 2 {
            capacity - slots.buffer.len()
        } else if free > 0 {
            0
        } else {
            return (0, 0);
        };
        let bound = 2 * (concurrency + capacity);
        let want = (free + room).min(bound.saturating_sub(slots.leases));
        (want, free.min(want))
    }

    /// How many jobs a queue buffers: what its slots get through in [`AHEAD_HORIZON`]
    /// at the average run time of its handlers, at most `claim_ahead`, and none before
    /// the first handler has ended (a worker starting on a backlog of long jobs must
    /// not take them all).
    fn buffer_capacity(&self, slots: &Slots, concurrency: usize) -> usize {
        let most = self.settings.claim_ahead;
        match slots.run_time {
            None => 0,
            Some(run_time) if run_time.is_zero() => most,
            Some(run_time) => {
                let jobs = AHEAD_HORIZON.as_nanos() * concurrency as u128 / run_time.as_nanos();
                usize::try_from(jobs).map_or(most, |jobs| jobs.min(most))
            }
        }
    }

    /// Holds the jobs a claim of queue `index` returned: fills its free slots, oldest
    /// buffered first, and buffers the rest. A `late` claim's jobs never run: those
    /// a slot would take are started stopped (they report a lost lease), the others
    /// dropped.
    fn take_claimed(
        self: &Arc<Self>,
        jobs: Vec<JobRecord>,
        index: usize,
        lease_until: OffsetDateTime,
        late: bool,
        started: &mut Vec<Started>,
    ) {
        let concurrency = self.settings.queues[index].1;
        let mut to_start = Vec::new();
        {
            let mut held = self.held();
            if late {
                let free = concurrency.saturating_sub(held.queues[index].busy);
                for (i, job) in jobs.into_iter().enumerate() {
                    tracing::warn!(
                        job = %job.id,
                        %lease_until,
                        "the claim answered after the lease deadline: not starting the job; \
                         it runs again once the lease expires"
                    );
                    // The first to fill the free slots report their lease lost; the rest
                    // are never held.
                    if i < free {
                        let token = held.start_stopped(&job, index, lease_until);
                        to_start.push((Arc::new(job), token));
                    }
                }
            } else {
                // Jobs under a limit key take the free slots first: the claim gave at
                // most as many governed jobs as there are free slots, and a rate
                // counts their start at the claim, so none of them may wait in the
                // buffer. (A queue limit governs every job of the queue, so its claim
                // never returns more than the free slots.)
                let mut jobs = jobs;
                if jobs.iter().any(|job| job.limit_key.is_some()) {
                    jobs.sort_by_key(|job| job.limit_key.is_none()); // stable
                }
                for job in jobs {
                    held.buffer(job, index, lease_until);
                }
                while held.queues[index].busy < concurrency {
                    let Some(next) = held.start_next(index) else {
                        break;
                    };
                    to_start.push(next);
                }
            }
            self.publish_holds_none(&mut held);
        }
        for (job, token) in to_start {
            started.push(self.spawn_job(job, token));
        }
    }

    /// Spawns the task of a job [`Held::start_next`] took into a slot; returns what
    /// it is, and the task.
    fn spawn_job(self: &Arc<Self>, job: Arc<JobRecord>, token: CancellationToken) -> Started {
        (JobInfo::from(&*job), self.spawn_task(job, token))
    }

    /// Spawns the task of a job [`Held::start_next`] took into a slot.
    pub(crate) fn spawn_task(
        self: &Arc<Self>,
        job: Arc<JobRecord>,
        token: CancellationToken,
    ) -> JoinHandle<JobOutcome> {
        let guard = self.begin(&job);
        // Boxed: the task then holds a pointer, not the whole state machine, which
        // spawning would otherwise copy several times.
        tokio::spawn(Box::pin(execute::run_job(
            Arc::clone(self),
            job,
            token,
            guard,
        )))
    }

    /// Starts a job a slot took: announces it, makes sure heartbeats run, and returns
    /// the guard that keeps it held until its task ends.
    pub(crate) fn begin(self: &Arc<Self>, job: &JobRecord) -> RunningGuard {
        self.emit(|| WorkerEvent::Claimed(JobInfo::from(job)));
        // Read before written: a swap on every job would move the flag's cache line
        // between the runtime threads each time.
        if !self.ticker_started.load(Ordering::SeqCst)
            && !self.ticker_started.swap(true, Ordering::SeqCst)
        {
            heartbeat::spawn_ticker(self);
        }
        RunningGuard {
            inner: Arc::clone(self),
            lease: job.lease(),
            armed: true,
        }
    }

    /// The job `guard` keeps held ended while still in its slot, its outcome already
    /// written: [`Inner::handler_done`] and the guard's drop, under one lock instead
    /// of two. Returns the buffered job its slot took, for the caller to run.
    pub(crate) fn finish_at_once(&self, mut guard: RunningGuard) -> Option<Buffered> {
        guard.armed = false;
        let mut held = self.held();
        let (_, next) = self.handler_done_in(&mut held, guard.lease);
        self.forget(&mut held, guard.lease);
        next
    }

    /// The handler of the job under `lease` is done: marks its outcome as being
    /// recorded and hands its slot to the next buffered job (unless the worker is
    /// stopping). Returns why the job was stopped, if it was, and that next job, for
    /// the caller to run.
    pub(crate) fn handler_done(&self, lease: Lease) -> (Option<StopReason>, Option<Buffered>) {
        self.handler_done_in(&mut self.held(), lease)
    }

    /// [`Inner::handler_done`] on `held`, whose lock the caller has.
    fn handler_done_in(
        &self,
        held: &mut Held,
        lease: Lease,
    ) -> (Option<StopReason>, Option<Buffered>) {
        let Some(entry) = held.jobs.get_mut(&lease) else {
            return (None, None);
        };
        let stop = entry.stop;
        let queue = entry.queue;
        if entry.phase != Phase::Running {
            return (stop, None);
        }
        entry.phase = Phase::Finishing;
        let took = entry.started.map(|started| started.elapsed());
        let slots = &mut held.queues[queue];
        slots.busy -= 1;
        if let Some(took) = took {
            slots.ran_for(took);
        }
        let next = if self.stop.is_cancelled() {
            None
        } else {
            held.start_next(queue)
        };
        self.slot_freed(held, queue, next.is_some());
        (stop, next)
    }

    /// A slot of queue `index` freed (`refilled` when a buffered job took it): wakes
    /// the run loop when the queue was full and nothing took the slot, or when the
    /// buffer just fell to half.
    pub(crate) fn slot_freed(&self, held: &Held, index: usize, refilled: bool) {
        let slots = &held.queues[index];
        let concurrency = self.settings.queues[index].1;
        let wake = if refilled {
            slots.buffer.len() == self.buffer_capacity(slots, concurrency) / 2
        } else {
            slots.busy + 1 == concurrency
        };
        if wake {
            self.wanted.notify_one();
        }
    }
}
