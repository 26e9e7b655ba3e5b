//! [`MemoryStore`]: the store contract over hash maps and B-trees behind one mutex.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use leasehold::schedule::{NewSchedule, ScheduleRecord};
use leasehold::time::OffsetDateTime;
use leasehold::{
    ClaimRequest, Enqueued, Firing, HeartbeatStatus, JobFilter, JobId, JobRecord, JobState,
    JobStore, JobUpdate, Lease, Limit, LimitScope, NewJob, Payload, QueueStats, StoreError,
    async_trait,
};

use crate::index::{Entry, Extra, MaybeMicros, Micros, Phase, QueueIndex, micros, time_of};
use crate::limit_table::LimitTable;

mod claim;
mod dependencies;
mod limits;
mod operate;

/// The error a lease that outlived its claim records when it expires on its last attempt.
const LEASE_EXPIRED: &str = "lease expired";

/// An in-memory job store; clones share the same jobs.
///
/// Fast and exact, but nothing survives the process: use it for tests and for
/// work that may be lost on restart.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

/// The hasher of the maps every claim and write reads.
type FastHash = foldhash::fast::RandomState;

#[derive(Debug, Default)]
pub(crate) struct Inner {
    /// By id: ids are UUIDv7, so jobs enqueued together sit together, and a claim
    /// in FIFO order walks neighbouring entries instead of missing the cache on each.
    jobs: BTreeMap<JobId, Entry>,
    /// Hashed with foldhash: every claim and write looks its queue up, and SipHash's
    /// resistance to chosen keys buys nothing for names the application picks.
    queues: HashMap<Arc<str>, QueueIndex, FastHash>,
    /// Interned kind and worker names, so each job holds a pointer, not a copy.
    names: HashSet<Arc<str>, FastHash>,
    /// Unique key -> the non-terminal job that holds it.
    unique: HashMap<Box<str>, JobId>,
    /// Terminal jobs by finish time, for `prune`.
    finished: BTreeSet<(Micros, JobId)>,
    /// Schedules by name.
    schedules: BTreeMap<String, ScheduleRecord>,
    /// Queues ever paused, and whether they are paused now.
    paused: HashMap<String, bool, FastHash>,
    /// Unique key -> the terminal jobs that hold it, by finish time: what a unique
    /// period looks back over.
    finished_keys: HashMap<Box<str>, BTreeSet<(Micros, JobId)>>,
    /// Lock name -> (holder, until).
    locks: HashMap<String, (String, Micros)>,
    /// Stored flow-control limits and the claims their rates counted.
    limits: LimitTable,
    /// Job -> the jobs that depend on it (waiting or not): what its end settles.
    dependents: HashMap<JobId, Vec<JobId>, FastHash>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No method panics while holding the lock, so a poisoned lock still guards
        // consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(existing) = self.names.get(name) {
            return existing.clone();
        }
        let name: Arc<str> = Arc::from(name);
        self.names.insert(name.clone());
        name
    }

    fn queue_mut(&mut self, queue: &str) -> (Arc<str>, &mut QueueIndex) {
        let name = match self.queues.get_key_value(queue) {
            Some((name, _)) => name.clone(),
            None => {
                let name: Arc<str> = Arc::from(queue);
                self.queues.insert(name.clone(), QueueIndex::default());
                name
            }
        };
        let index = self.queues.get_mut(&name).expect("the queue is indexed");
        (name, index)
    }

    /// Checks `job` can be inserted: its id is new.
    fn check_new(&self, job: &NewJob) -> Result<(), StoreError> {
        if self.jobs.contains_key(&job.id) {
            return Err(StoreError::Conflict(format!(
                "job {} already exists",
                job.id
            )));
        }
        Ok(())
    }

    /// Checks every job of a batch can be inserted: ids new and distinct.
    fn check_batch(&self, jobs: &[NewJob]) -> Result<(), StoreError> {
        let mut ids = HashSet::with_capacity(jobs.len());
        for job in jobs {
            self.check_new(job)?;
            if !ids.insert(job.id) {
                return Err(StoreError::Conflict(format!(
                    "job {} appears twice in one batch",
                    job.id
                )));
            }
        }
        Ok(())
    }

    fn is_paused(&self, queue: &str) -> bool {
        self.paused.get(queue).copied().unwrap_or(false)
    }

    /// Pauses or resumes a known queue: one with a stored job, or paused before.
    fn set_paused(&mut self, queue: &str, paused: bool) -> Result<(), StoreError> {
        if let Some(state) = self.paused.get_mut(queue) {
            *state = paused;
            return Ok(());
        }
        if !self.jobs.values().any(|entry| &*entry.queue == queue) {
            return Err(StoreError::QueueNotFound(queue.to_owned()));
        }
        self.paused.insert(queue.to_owned(), paused);
        Ok(())
    }

    fn schedule_mut(&mut self, name: &str) -> Result<&mut ScheduleRecord, StoreError> {
        self.schedules
            .get_mut(name)
            .ok_or_else(|| StoreError::ScheduleNotFound(name.to_owned()))
    }

    /// Inserts `job`, or answers the job that holds its unique key. A job with
    /// dependencies goes in `Waiting`, in no queue index, for
    /// [`Inner::start_dependent`] to settle.
    fn insert(&mut self, mut job: NewJob, now: Micros) -> Enqueued {
        if let Some(holder) = self.unique_holder(&job, now) {
            let existing = &self.jobs[&holder];
            return Enqueued::duplicate(existing.to_record(holder, now));
        }
        let waits = !job.depends_on.is_empty();
        let extra = Extra::of(&mut job);
        let kind = self.intern(&job.kind);
        let (queue, index) = self.queue_mut(&job.queue);
        let entry = Entry {
            kind,
            queue,
            payload: Payload::from(&job.payload),
            priority: job.priority,
            phase: if waits {
                Phase::Waiting
            } else {
                Phase::Pending
            },
            run_at: micros(job.run_at),
            attempt: 0,
            max_attempts: job.max_attempts,
            lease_token: 0,
            lease_until: MaybeMicros::NONE,
            worker: None,
            unique_key: job.unique_key.map(String::into_boxed_str),
            last_error: None,
            created_at: now,
            finished_at: MaybeMicros::NONE,
            first_attempted_at: MaybeMicros::NONE,
            attempted_at: MaybeMicros::NONE,
            limit_key: job.limit_key.map(String::into_boxed_str),
            extra,
        };
        if !waits {
            index.insert_pending(job.id, &entry);
        }
        if let Some(key) = &entry.unique_key {
            self.unique.insert(key.clone(), job.id);
        }
        let record = entry.to_record(job.id, now);
        self.jobs.insert(job.id, entry);
        Enqueued::inserted(record)
    }

    /// The running entry `lease` holds, out of every index, or why not.
    fn take_leased(&mut self, lease: Lease) -> Result<Entry, StoreError> {
        let entry = self
            .jobs
            .get(&lease.job_id)
            .ok_or(StoreError::NotFound(lease.job_id))?;
        if entry.phase != Phase::Running || entry.lease_token != lease.token {
            return Err(StoreError::LeaseLost(lease));
        }
        let entry = self
            .jobs
            .remove(&lease.job_id)
            .expect("the entry was just found");
        let index = self
            .queues
            .get_mut(&entry.queue)
            .expect("every job's queue is indexed");
        let lease_until = entry.leased_until();
        index.running.remove(&(lease_until, lease.job_id));
        Ok(entry)
    }

    /// Ends the job under `lease` `Completed` at `now`, in place: the most common
    /// write, so it skips the removal and re-insertion of [`Inner::take_leased`] and
    /// [`Inner::put_finished`], with the same effect.
    fn complete(&mut self, lease: Lease, now: Micros) -> Result<(), StoreError> {
        let id = lease.job_id;
        let entry = self.jobs.get_mut(&id).ok_or(StoreError::NotFound(id))?;
        if entry.phase != Phase::Running || entry.lease_token != lease.token {
            return Err(StoreError::LeaseLost(lease));
        }
        let lease_until = entry.lease_until.take().expect("a running job has a lease");
        entry.phase = Phase::Completed;
        entry.finished_at = MaybeMicros::some(now);
        self.queues
            .get_mut(&entry.queue)
            .expect("every job's queue is indexed")
            .running
            .remove(&(lease_until, id));
        // Unique keys are rare: the clone ends the borrow of the entry.
        let key = entry.unique_key.clone();
        self.file_finished(key.as_deref(), id, now);
        self.settle_dependents(id, now);
        Ok(())
    }

    /// Indexes job `id`, finished at `now`, by finish time, and moves its unique key,
    /// if any, from the jobs that hold it to those that finished with it.
    fn file_finished(&mut self, key: Option<&str>, id: JobId, now: Micros) {
        if let Some(key) = key {
            if self.unique.get(key) == Some(&id) {
                self.unique.remove(key);
            }
            let holders = self.finished_keys.entry(key.into()).or_default();
            holders.insert((now, id));
        }
        self.finished.insert((now, id));
    }

    /// Puts a taken entry back as pending at `run_at`.
    fn put_pending(&mut self, id: JobId, mut entry: Entry, run_at: Micros) {
        entry.phase = Phase::Pending;
        entry.run_at = run_at;
        entry.lease_until = MaybeMicros::NONE;
        let index = self
            .queues
            .get_mut(&entry.queue)
            .expect("every job's queue is indexed");
        index.insert_pending(id, &entry);
        self.jobs.insert(id, entry);
    }

    /// Puts a taken entry back in a terminal phase at `now`, and settles its
    /// dependents.
    fn put_finished(&mut self, id: JobId, entry: Entry, phase: Phase, now: Micros) {
        self.put_ended(id, entry, phase, now);
        self.settle_dependents(id, now);
    }

    /// Puts a taken entry back in a terminal phase at `now`, leaving its dependents.
    fn put_ended(&mut self, id: JobId, mut entry: Entry, phase: Phase, now: Micros) {
        entry.phase = phase;
        entry.lease_until = MaybeMicros::NONE;
        entry.finished_at = MaybeMicros::some(now);
        self.file_finished(entry.unique_key.as_deref(), id, now);
        self.jobs.insert(id, entry);
    }
}

#[async_trait]
impl JobStore for MemoryStore {
    async fn enqueue(&self, job: NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        let mut inner = self.lock();
        if !job.depends_on.is_empty() {
            let mut answers = inner.enqueue_all(vec![job], micros(now))?;
            return Ok(answers.remove(0));
        }
        inner.check_new(&job)?;
        Ok(inner.insert(job, micros(now)))
    }

    async fn enqueue_many(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.lock().enqueue_all(jobs, micros(now))
    }

    async fn enqueue_with_dependencies(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        self.lock().enqueue_all(jobs, micros(now))
    }

    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        Ok(self.lock().claim(&request, micros(now)))
    }

    async fn heartbeat(
        &self,
        leases: &[Lease],
        lease_until: OffsetDateTime,
    ) -> Result<Vec<HeartbeatStatus>, StoreError> {
        let mut inner = self.lock();
        let until = micros(lease_until);
        let mut answers = Vec::with_capacity(leases.len());
        for lease in leases {
            let Some(entry) = inner.jobs.get_mut(&lease.job_id) else {
                answers.push(HeartbeatStatus::Lost);
                continue;
            };
            let answer = match entry.phase {
                _ if entry.lease_token != lease.token => HeartbeatStatus::Lost,
                Phase::Running => {
                    // Never shorter: a heartbeat may land after a later one.
                    let old = entry.leased_until();
                    let until = old.max(until);
                    entry.lease_until = MaybeMicros::some(until);
                    let queue = entry.queue.clone();
                    let index = inner.queues.get_mut(&queue).expect("indexed");
                    index.running.remove(&(old, lease.job_id));
                    index.running.insert((until, lease.job_id));
                    HeartbeatStatus::Extended
                }
                Phase::Cancelled => HeartbeatStatus::Cancelled,
                _ => HeartbeatStatus::Lost,
            };
            answers.push(answer);
        }
        Ok(answers)
    }

    async fn complete(&self, lease: Lease, now: OffsetDateTime) -> Result<(), StoreError> {
        self.lock().complete(lease, micros(now))
    }

    async fn retry(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<JobState, StoreError> {
        let mut inner = self.lock();
        let mut entry = inner.take_leased(lease)?;
        entry.record_error(error, micros(now));
        if entry.attempt >= entry.max_attempts {
            inner.put_finished(lease.job_id, entry, Phase::Failed, micros(now));
            return Ok(JobState::Failed);
        }
        let run_at = micros(run_at);
        inner.put_pending(lease.job_id, entry, run_at);
        Ok(if run_at > micros(now) {
            JobState::Scheduled
        } else {
            JobState::Available
        })
    }

    async fn fail(&self, lease: Lease, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let mut entry = inner.take_leased(lease)?;
        entry.record_error(error, micros(now));
        inner.put_finished(lease.job_id, entry, Phase::Failed, micros(now));
        Ok(())
    }

    async fn release(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let mut entry = inner.take_leased(lease)?;
        entry.attempt = entry.attempt.saturating_sub(1);
        inner.put_pending(lease.job_id, entry, micros(run_at));
        Ok(())
    }

    async fn cancel(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        self.lock().cancel(id, micros(now))
    }

    async fn dependents(&self, id: JobId) -> Result<Vec<JobId>, StoreError> {
        // Deleting a job forgets both sides of its edges, so the map holds stored jobs
        // only, each dependent once (`depends_on` names a job once).
        let mut ids = self.lock().dependents.get(&id).cloned().unwrap_or_default();
        ids.sort_unstable();
        Ok(ids)
    }

    async fn get(&self, id: JobId, now: OffsetDateTime) -> Result<Option<JobRecord>, StoreError> {
        let inner = self.lock();
        Ok(inner.jobs.get(&id).map(|e| e.to_record(id, micros(now))))
    }

    async fn list(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        use std::ops::Bound::{Excluded, Unbounded};

        let inner = self.lock();
        let now = micros(now);
        // The map is ordered by id: the list comes out in id order as it is read,
        // starting past the page cursor.
        let jobs: Box<dyn Iterator<Item = (&JobId, &Entry)>> =
            match (filter.after, filter.newest_first) {
                (None, false) => Box::new(inner.jobs.iter()),
                (None, true) => Box::new(inner.jobs.iter().rev()),
                (Some(after), false) => Box::new(inner.jobs.range((Excluded(after), Unbounded))),
                (Some(after), true) => Box::new(inner.jobs.range(..after).rev()),
            };
        Ok(jobs
            .filter(|(_, e)| selects(filter, e, now))
            .take(filter.limit.unwrap_or(usize::MAX))
            .map(|(id, e)| e.to_record(*id, now))
            .collect())
    }

    async fn count(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        let inner = self.lock();
        let now = micros(now);
        let n = inner
            .jobs
            .iter()
            .filter(|(_, e)| selects(filter, e, now))
            .count();
        Ok(u64::try_from(n).expect("a count of in-memory jobs fits u64"))
    }

    async fn next_due(&self, queues: &[String]) -> Result<Option<OffsetDateTime>, StoreError> {
        let inner = self.lock();
        let earliest = queues
            .iter()
            .filter(|q| !inner.is_paused(q))
            .filter_map(|q| inner.queues.get(q.as_str()))
            .flat_map(|index| {
                let pending = index.earliest_pending();
                let running = index.running.first().map(|(until, _)| *until);
                pending.into_iter().chain(running)
            })
            .min();
        if inner.limits.is_empty() {
            return Ok(earliest.map(time_of));
        }
        Ok(inner.next_due_limited(queues).map(time_of))
    }

    async fn prune(&self, before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let before = micros(before);
        let doomed: Vec<(Micros, JobId)> = inner
            .finished
            .iter()
            .take_while(|(finished, _)| *finished < before)
            .filter(|(_, id)| inner.waited_on(*id).is_none())
            .take(limit)
            .copied()
            .collect();
        for &(_, id) in &doomed {
            inner.delete(id);
        }
        Ok(u64::try_from(doomed.len()).expect("a count of in-memory jobs fits u64"))
    }

    async fn upsert_schedule(
        &self,
        schedule: NewSchedule,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let mut inner = self.lock();
        let record = match inner.schedules.remove(&schedule.name) {
            Some(mut record) => {
                if record.schedule.spec != schedule.spec {
                    record.next_fire_at = next_fire_at;
                }
                record.schedule = schedule;
                record.updated_at = now;
                record
            }
            None => {
                let mut record = ScheduleRecord::new(schedule, now);
                record.next_fire_at = next_fire_at;
                record
            }
        };
        inner
            .schedules
            .insert(record.schedule.name.clone(), record.clone());
        Ok(record)
    }

    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        Ok(self.lock().schedules.get(name).cloned())
    }

    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        Ok(self.lock().schedules.values().cloned().collect())
    }

    async fn due_schedules(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let inner = self.lock();
        let mut due: Vec<ScheduleRecord> = inner
            .schedules
            .values()
            .filter(|s| s.enabled && s.next_fire_at.is_some_and(|at| at <= now))
            .cloned()
            .collect();
        due.sort_by(|a, b| {
            (a.next_fire_at, &a.schedule.name).cmp(&(b.next_fire_at, &b.schedule.name))
        });
        due.truncate(limit);
        Ok(due)
    }

    async fn fire_schedule(
        &self,
        firing: Firing<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let Firing {
            name,
            slot,
            next,
            jobs,
            ..
        } = firing;
        let mut inner = self.lock();
        let schedule = inner.schedule_mut(name)?;
        if !schedule.enabled || schedule.next_fire_at != Some(slot) {
            return Err(StoreError::Conflict(format!(
                "schedule {name:?} is no longer due at {slot}"
            )));
        }
        inner.check_batch(&jobs)?;
        let schedule = inner.schedule_mut(name)?;
        schedule.next_fire_at = next;
        schedule.last_fired_at = Some(now);
        schedule.updated_at = now;
        let now = micros(now);
        Ok(jobs.into_iter().map(|job| inner.insert(job, now)).collect())
    }

    async fn pause_schedule(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let mut inner = self.lock();
        let schedule = inner.schedule_mut(name)?;
        if schedule.enabled {
            schedule.enabled = false;
            schedule.updated_at = now;
        }
        Ok(schedule.clone())
    }

    async fn resume_schedule(
        &self,
        name: &str,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        let mut inner = self.lock();
        let schedule = inner.schedule_mut(name)?;
        if !schedule.enabled {
            schedule.enabled = true;
            schedule.next_fire_at = next_fire_at;
            schedule.updated_at = now;
        }
        Ok(schedule.clone())
    }

    async fn remove_schedule(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.lock().schedules.remove(name).is_some())
    }

    async fn pause_queue(&self, queue: &str, _now: OffsetDateTime) -> Result<(), StoreError> {
        self.lock().set_paused(queue, true)
    }

    async fn resume_queue(&self, queue: &str, _now: OffsetDateTime) -> Result<(), StoreError> {
        self.lock().set_paused(queue, false)
    }

    async fn queue_stats(&self, now: OffsetDateTime) -> Result<Vec<QueueStats>, StoreError> {
        Ok(self.lock().queue_stats(micros(now)))
    }

    async fn set_limit(
        &self,
        scope: &LimitScope,
        limit: Limit,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.lock().set_limit(scope, limit)
    }

    async fn remove_limit(
        &self,
        scope: &LimitScope,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.lock().remove_limit(scope)
    }

    async fn limits(&self) -> Result<Vec<(LimitScope, Limit)>, StoreError> {
        Ok(self.lock().limits.iter().collect())
    }

    async fn complete_with_output(
        &self,
        lease: Lease,
        output: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let mut entry = inner.take_leased(lease)?;
        entry.extra.get_or_insert_with(Box::default).output =
            Some(output.to_string().into_boxed_str());
        inner.put_finished(lease.job_id, entry, Phase::Completed, micros(now));
        Ok(())
    }

    async fn retry_job(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        self.lock().retry_job(id, micros(now))
    }

    async fn delete_job(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        self.lock().delete_job(id, micros(now))
    }

    async fn update_job(
        &self,
        id: JobId,
        update: &JobUpdate,
        now: OffsetDateTime,
    ) -> Result<JobRecord, StoreError> {
        self.lock().update_job(id, update, micros(now))
    }

    async fn retry_jobs(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let now = micros(now);
        let not_running = |inner: &Inner, id: JobId, e: &Entry| {
            !matches!(e.phase, Phase::Running | Phase::Waiting) && inner.waited_on(id).is_none()
        };
        let ids = operate::chosen(&inner, filter, now, not_running);
        inner.retry_jobs(&ids, now)
    }

    async fn update_jobs(
        &self,
        filter: &JobFilter,
        update: &JobUpdate,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let now = micros(now);
        let pending = |_: &Inner, _: JobId, e: &Entry| e.phase == Phase::Pending;
        self.lock().on_chosen(filter, now, pending, |inner, id| {
            inner.update_job(id, update, now).map(drop)
        })
    }

    async fn cancel_jobs(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let now = micros(now);
        let active = |_: &Inner, _: JobId, e: &Entry| {
            matches!(e.phase, Phase::Waiting | Phase::Pending | Phase::Running)
        };
        let mut inner = self.lock();
        let ids = operate::chosen(&inner, filter, now, active);
        // All of them end, then their dependents settle: a chosen job is cancelled by
        // the call, whatever the order, never by a dependency's end.
        for &id in &ids {
            let entry = inner.take_any(id).expect("a chosen job exists");
            inner.put_ended(id, entry, Phase::Cancelled, now);
        }
        for &id in &ids {
            inner.settle_dependents(id, now);
        }
        Ok(operate::count(&ids))
    }

    async fn delete_jobs(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        // Chosen as the call found them: a job something waits on stays.
        self.lock().on_chosen(
            filter,
            micros(now),
            |inner, id, e| e.phase != Phase::Running && inner.waited_on(id).is_none(),
            |inner, id| {
                inner.delete(id);
                Ok(())
            },
        )
    }

    async fn take_lock(
        &self,
        name: &str,
        holder: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .take_lock(name, holder, micros(until), micros(now)))
    }
}

/// Whether `filter` selects `entry` as of `now` (ignoring its limit), without building
/// a record: `JobFilter::matches` on the entry's fields.
fn selects(filter: &JobFilter, entry: &Entry, now: Micros) -> bool {
    filter.queue.as_deref().is_none_or(|q| q == &*entry.queue)
        && filter.kind.as_deref().is_none_or(|k| k == &*entry.kind)
        && filter.state.is_none_or(|s| s == entry.state(now))
        && filter.tag.as_deref().is_none_or(|t| entry.has_tag(t))
        && filter.finished_before.is_none_or(|before| {
            entry
                .finished_at
                .get()
                .is_some_and(|at| at < micros(before))
        })
}
