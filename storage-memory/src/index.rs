//! The stored form of a job and the per-queue indexes over it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use leasehold::time::OffsetDateTime;
use leasehold::time::{from_unix_micros, to_unix_micros};
use leasehold::{
    AttemptError, DependencyFailure, ERROR_HISTORY_LIMIT, JobId, JobRecord, JobState, NewJob,
    Payload,
};

/// Microseconds since the Unix epoch: the store's unit of time.
pub(crate) type Micros = i64;

/// The life phase as stored; `Pending` is reported as `Scheduled` or `Available`
/// depending on the `now` of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for its dependencies; in no queue index.
    Waiting,
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
    /// more memory per job than its text. A claimed job's record shares it.
    pub(crate) payload: Payload,
    pub(crate) priority: i16,
    pub(crate) phase: Phase,
    pub(crate) run_at: Micros,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) lease_token: u32,
    pub(crate) lease_until: MaybeMicros,
    pub(crate) worker: Option<Arc<str>>,
    pub(crate) unique_key: Option<Box<str>>,
    pub(crate) last_error: Option<Box<str>>,
    pub(crate) created_at: Micros,
    pub(crate) finished_at: MaybeMicros,
    pub(crate) first_attempted_at: MaybeMicros,
    pub(crate) attempted_at: MaybeMicros,
    /// The flow-control key.
    pub(crate) limit_key: Option<Box<str>>,
    /// What few jobs carry (tags, metadata, errors, output), boxed so that a plain job
    /// pays one pointer for it.
    pub(crate) extra: Option<Box<Extra>>,
}

/// An optional time in the eight bytes of a time: an `Option<Micros>` takes sixteen,
/// and an entry holds four of them (each entry's 32 bytes less came to about 60 a
/// queued job, with the map's nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaybeMicros(Micros);

impl MaybeMicros {
    /// No time: `i64::MIN` microseconds, long before any time `time` represents
    /// (year -9999 is about -3.8e17), so never a time a store is told.
    pub(crate) const NONE: Self = Self(Micros::MIN);

    pub(crate) fn some(at: Micros) -> Self {
        debug_assert_ne!(at, Micros::MIN, "no time a store is told");
        Self(at)
    }

    pub(crate) fn get(self) -> Option<Micros> {
        (self != Self::NONE).then_some(self.0)
    }

    /// The time, leaving none.
    pub(crate) fn take(&mut self) -> Option<Micros> {
        std::mem::replace(self, Self::NONE).get()
    }

    /// Sets `at` unless a time is set.
    pub(crate) fn get_or_insert(&mut self, at: Micros) {
        if *self == Self::NONE {
            *self = Self::some(at);
        }
    }
}

/// The parts of a job most jobs leave empty.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    pub(crate) tags: Vec<Box<str>>,
    /// A JSON object as text; empty text for none.
    pub(crate) metadata: Box<str>,
    pub(crate) errors: Vec<AttemptError>,
    /// JSON text.
    pub(crate) output: Option<Box<str>>,
    /// The jobs it waits (or waited) for.
    pub(crate) depends_on: Vec<JobId>,
    pub(crate) on_dependency_failure: DependencyFailure,
    /// While `Waiting`: how many of its dependencies have not ended.
    pub(crate) waiting_for: u32,
}

impl Extra {
    /// The extra parts of `job` (tags, metadata, dependencies), `None` when it has none.
    pub(crate) fn of(job: &mut NewJob) -> Option<Box<Extra>> {
        let (tags, metadata) = (std::mem::take(&mut job.tags), &job.metadata);
        if tags.is_empty() && metadata.is_empty() && job.depends_on.is_empty() {
            return None;
        }
        Some(Box::new(Extra {
            tags: tags.into_iter().map(String::into_boxed_str).collect(),
            metadata: if metadata.is_empty() {
                Box::default()
            } else {
                serde_json::to_string(metadata)
                    .expect("a JSON map serializes")
                    .into_boxed_str()
            },
            errors: Vec::new(),
            output: None,
            depends_on: std::mem::take(&mut job.depends_on),
            on_dependency_failure: job.on_dependency_failure,
            waiting_for: 0,
        }))
    }
}

impl Entry {
    /// The job as the API shows it, with its state as of `now`.
    pub(crate) fn to_record(&self, id: JobId, now: Micros) -> JobRecord {
        let mut record = JobRecord::new(
            id,
            &*self.kind,
            &*self.queue,
            self.payload.clone(),
            time_of(self.run_at),
            time_of(self.created_at),
        );
        record.priority = self.priority;
        record.state = self.state(now);
        record.attempt = self.attempt;
        record.max_attempts = self.max_attempts;
        record.lease_token = self.lease_token;
        record.lease_until = self.lease_until.get().map(time_of);
        record.worker = self.worker.as_deref().map(str::to_owned);
        record.unique_key = self.unique_key.as_deref().map(str::to_owned);
        record.last_error = self.last_error.as_deref().map(str::to_owned);
        record.finished_at = self.finished_at.get().map(time_of);
        record.first_attempted_at = self.first_attempted_at.get().map(time_of);
        record.attempted_at = self.attempted_at.get().map(time_of);
        record.limit_key = self.limit_key.as_deref().map(str::to_owned);
        if let Some(extra) = &self.extra {
            record.tags = extra.tags.iter().map(|t| t.to_string()).collect();
            if !extra.metadata.is_empty() {
                record.metadata =
                    serde_json::from_str(&extra.metadata).expect("written by serde_json");
            }
            record.errors.clone_from(&extra.errors);
            record.output = extra
                .output
                .as_deref()
                .map(|o| serde_json::from_str(o).expect("written by serde_json"));
            if !extra.depends_on.is_empty() {
                record.depends_on.clone_from(&extra.depends_on);
                record.on_dependency_failure = extra.on_dependency_failure;
            }
        }
        record
    }

    /// Until when its lease holds: a running job always has one.
    pub(crate) fn leased_until(&self) -> Micros {
        self.lease_until.get().expect("a running job has a lease")
    }

    /// The jobs it depends on.
    pub(crate) fn depends_on(&self) -> &[JobId] {
        self.extra.as_ref().map_or(&[], |extra| &extra.depends_on)
    }

    /// Whether it carries `tag`.
    pub(crate) fn has_tag(&self, tag: &str) -> bool {
        self.extra
            .as_ref()
            .is_some_and(|extra| extra.tags.iter().any(|t| &**t == tag))
    }

    /// Records that its current attempt failed at `now` with `error`.
    pub(crate) fn record_error(&mut self, error: &str, now: Micros) {
        self.last_error = Some(error.into());
        let errors = &mut self.extra.get_or_insert_with(Box::default).errors;
        if errors.len() >= ERROR_HISTORY_LIMIT {
            errors.drain(..=errors.len() - ERROR_HISTORY_LIMIT);
        }
        errors.push(AttemptError::new(self.attempt, time_of(now), error));
    }

    /// Its state as of `now`.
    pub(crate) fn state(&self, now: Micros) -> JobState {
        match self.phase {
            Phase::Waiting => JobState::Waiting,
            Phase::Pending if self.run_at > now => JobState::Scheduled,
            Phase::Pending => JobState::Available,
            Phase::Running => JobState::Running,
            Phase::Completed => JobState::Completed,
            Phase::Failed => JobState::Failed,
            Phase::Cancelled => JobState::Cancelled,
        }
    }

    /// The claim order: priority, then run_at, then id.
    pub(crate) fn claim_key(&self, id: JobId) -> (i16, Micros, JobId) {
        (self.priority, self.run_at, id)
    }
}

/// The indexes of one queue.
#[derive(Debug, Default)]
pub(crate) struct QueueIndex {
    /// Pending jobs by priority level, each level by `(run_at, id)`. Walking the levels
    /// in order and each level from its front while `run_at <= now` yields exactly
    /// the claim order (priority, run_at, id), with no pass that moves jobs from
    /// "scheduled" to "ready" as time goes by. Empty levels are removed.
    pub(crate) pending: BTreeMap<i16, BTreeSet<(Micros, JobId)>>,
    /// Running jobs by lease expiry.
    pub(crate) running: BTreeSet<(Micros, JobId)>,
}

impl QueueIndex {
    pub(crate) fn insert_pending(&mut self, id: JobId, entry: &Entry) {
        self.pending
            .entry(entry.priority)
            .or_default()
            .insert((entry.run_at, id));
    }

    pub(crate) fn remove_pending(&mut self, id: JobId, entry: &Entry) {
        if let Some(level) = self.pending.get_mut(&entry.priority) {
            level.remove(&(entry.run_at, id));
            if level.is_empty() {
                self.pending.remove(&entry.priority);
            }
        }
    }

    /// Up to `limit` pending jobs due at `now`, in claim order.
    pub(crate) fn due(
        &self,
        now: Micros,
        limit: usize,
    ) -> impl Iterator<Item = (i16, Micros, JobId)> {
        self.pending
            .iter()
            .flat_map(move |(&priority, level)| {
                level
                    .iter()
                    .take_while(move |(run_at, _)| *run_at <= now)
                    .map(move |&(run_at, id)| (priority, run_at, id))
            })
            .take(limit)
    }

    /// The earliest pending `run_at`.
    pub(crate) fn earliest_pending(&self) -> Option<Micros> {
        self.pending
            .values()
            .filter_map(|level| level.first().map(|(run_at, _)| *run_at))
            .min()
    }
}

pub(crate) fn micros(t: OffsetDateTime) -> Micros {
    to_unix_micros(t)
}

pub(crate) fn time_of(m: Micros) -> OffsetDateTime {
    from_unix_micros(m).expect("stored times came from OffsetDateTime values")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maybe_time_holds_every_time_a_store_is_told_in_eight_bytes() {
        assert_eq!(std::mem::size_of::<MaybeMicros>(), 8);
        // The first and last microseconds `time` represents (years -9999 and 9999).
        let (earliest, latest) = (-377_705_116_800_000_000, 253_402_300_799_999_999);
        assert!(from_unix_micros(earliest).is_some() && from_unix_micros(earliest - 1).is_none());
        for at in [earliest, -1, 0, 1, latest] {
            let mut maybe = MaybeMicros::some(at);
            assert_eq!(maybe.get(), Some(at));
            maybe.get_or_insert(at + 1);
            assert_eq!(maybe.take(), Some(at), "kept, then taken");
            assert_eq!((maybe, maybe.get()), (MaybeMicros::NONE, None));
            maybe.get_or_insert(at);
            assert_eq!(maybe.get(), Some(at));
        }
    }
}
