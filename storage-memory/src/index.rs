//! The stored form of a job and the per-queue indexes over it.

use std::collections::BTreeSet;
use std::sync::Arc;

use leasehold::clock::{from_unix_micros, to_unix_micros};
use leasehold::time::OffsetDateTime;
use leasehold::{JobId, JobRecord, JobState};

/// Microseconds since the Unix epoch: the store's unit of time.
pub(crate) type Micros = i64;

/// The life phase as stored; `Pending` is reported as `Scheduled` or `Available`
/// depending on the `now` of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

/// One job, compact: shared names, JSON text, integer times.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) kind: Arc<str>,
    pub(crate) queue: Arc<str>,
    /// The payload as JSON text: a parsed `serde_json::Value` map costs several times
    /// more memory per job than its text.
    pub(crate) payload: Box<str>,
    pub(crate) priority: i16,
    pub(crate) phase: Phase,
    pub(crate) run_at: Micros,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) lease_token: u32,
    pub(crate) lease_until: Option<Micros>,
    pub(crate) worker: Option<Arc<str>>,
    pub(crate) unique_key: Option<Box<str>>,
    pub(crate) last_error: Option<Box<str>>,
    pub(crate) created_at: Micros,
    pub(crate) finished_at: Option<Micros>,
}

impl Entry {
    /// The job as the API shows it, with its state as of `now`.
    pub(crate) fn to_record(&self, id: JobId, now: Micros) -> JobRecord {
        let state = match self.phase {
            Phase::Pending if self.run_at > now => JobState::Scheduled,
            Phase::Pending => JobState::Available,
            Phase::Running => JobState::Running,
            Phase::Completed => JobState::Completed,
            Phase::Failed => JobState::Failed,
            Phase::Cancelled => JobState::Cancelled,
        };
        JobRecord {
            id,
            kind: self.kind.to_string(),
            queue: self.queue.to_string(),
            payload: serde_json::from_str(&self.payload)
                .expect("the payload text was written by serde_json"),
            priority: self.priority,
            state,
            run_at: time_of(self.run_at),
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            lease_token: self.lease_token,
            lease_until: self.lease_until.map(time_of),
            worker: self.worker.as_deref().map(str::to_owned),
            unique_key: self.unique_key.as_deref().map(str::to_owned),
            last_error: self.last_error.as_deref().map(str::to_owned),
            created_at: time_of(self.created_at),
            finished_at: self.finished_at.map(time_of),
        }
    }

    /// The claim order: priority, then run_at, then id.
    pub(crate) fn ready_key(&self, id: JobId) -> (i16, Micros, JobId) {
        (self.priority, self.run_at, id)
    }
}

/// The indexes of one queue.
#[derive(Debug, Default)]
pub(crate) struct QueueIndex {
    /// Every pending job by run time: for promotion and `next_due`.
    pub(crate) pending: BTreeSet<(Micros, JobId)>,
    /// Pending jobs that were due at `promoted_until`, in claim order.
    pub(crate) ready: BTreeSet<(i16, Micros, JobId)>,
    /// Every pending job with `run_at <= promoted_until` is in `ready`.
    pub(crate) promoted_until: Micros,
    /// Running jobs by lease expiry.
    pub(crate) running: BTreeSet<(Micros, JobId)>,
}

impl QueueIndex {
    /// Moves every pending job due at `now` into `ready`.
    ///
    /// `now` may go backwards between calls; `ready` then holds jobs that are not due
    /// yet, and the claim skips them.
    pub(crate) fn promote(&mut self, now: Micros, key_of: impl Fn(JobId) -> (i16, Micros, JobId)) {
        if now <= self.promoted_until {
            return;
        }
        let from = (self.promoted_until.saturating_add(1), JobId::MIN);
        for &(_, id) in self
            .pending
            .range(from..)
            .take_while(|(run_at, _)| *run_at <= now)
        {
            self.ready.insert(key_of(id));
        }
        self.promoted_until = now;
    }

    pub(crate) fn insert_pending(&mut self, id: JobId, entry: &Entry) {
        self.pending.insert((entry.run_at, id));
        if entry.run_at <= self.promoted_until {
            self.ready.insert(entry.ready_key(id));
        }
    }

    pub(crate) fn remove_pending(&mut self, id: JobId, entry: &Entry) {
        self.pending.remove(&(entry.run_at, id));
        self.ready.remove(&entry.ready_key(id));
    }
}

pub(crate) fn micros(t: OffsetDateTime) -> Micros {
    to_unix_micros(t)
}

pub(crate) fn time_of(m: Micros) -> OffsetDateTime {
    from_unix_micros(m).expect("stored times came from OffsetDateTime values")
}
