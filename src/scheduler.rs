//! [`Scheduler`]: turns due schedule slots into jobs, once per slot across processes.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, StoreError};
use crate::queue::Queue;
use crate::schedule::{DEFAULT_MISFIRE_GRACE, NewSchedule, ScheduleRecord};
use crate::store::JobStore;
use crate::store::{Enqueued, Firing};

/// How many due schedules one [`Scheduler::tick`] takes from the store at a time.
const DUE_BATCH: usize = 64;

/// What one [`Scheduler::tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TickReport {
    /// Due schedules it looked at.
    pub due: usize,
    /// Jobs it inserted.
    pub jobs_inserted: usize,
    /// Slots whose job already existed (fired before by another scheduler's attempt).
    pub duplicates: usize,
    /// Schedules another scheduler fired first (compare-and-set lost): not an error.
    pub lost_races: usize,
}

/// Manages schedules and fires their due slots as jobs; cheap to clone.
///
/// Run any number of schedulers, in any number of processes, over one store: each
/// slot yields one job, because firing is a compare-and-set on the schedule's next
/// slot in the same transaction as the insert, and the job's unique key is
/// (schedule, slot).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), leasehold::Error> {
/// use std::sync::Arc;
/// use leasehold::schedule::{NewSchedule, ScheduleSpec, Scheduler};
/// use leasehold::{Job, Queue};
/// use leasehold_memory::MemoryStore;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct CheckPage { url: String }
/// impl Job for CheckPage { const KIND: &'static str = "check_page"; }
///
/// let queue = Queue::new(Arc::new(MemoryStore::new()));
/// let scheduler = Scheduler::new(&queue);
/// let check = CheckPage { url: "https://example.com".into() };
/// let spec = ScheduleSpec::cron("0 0 * * 6", Some("Europe/Berlin"))?; // midnight every Saturday
/// let stored = scheduler.upsert(NewSchedule::new("weekly-check", spec, &check)?).await?;
/// assert!(stored.next_fire_at.is_some());
///
/// // In production: tokio::spawn(async move { scheduler.run(shutdown_token).await });
/// let report = scheduler.tick().await?; // one pass: nothing is due yet
/// assert_eq!(report.jobs_inserted, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Scheduler {
    queue: Queue,
    poll_interval: Duration,
    misfire_grace: Duration,
}

impl Scheduler {
    /// A scheduler over `queue`'s store and clock; the jobs it fires wake `queue`'s
    /// workers.
    pub fn new(queue: &Queue) -> Self {
        Self {
            queue: queue.clone(),
            poll_interval: Duration::from_secs(1),
            misfire_grace: DEFAULT_MISFIRE_GRACE,
        }
    }

    /// How often [`Scheduler::run`] looks at the store at most (default 1 s); it also
    /// wakes at the earliest known slot.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How late a slot may fire and still count as on time rather than missed
    /// (default [`DEFAULT_MISFIRE_GRACE`]); see [`MissedRunPolicy`](crate::schedule::MissedRunPolicy).
    pub fn misfire_grace(mut self, grace: Duration) -> Self {
        self.misfire_grace = grace;
        self
    }

    fn store(&self) -> &Arc<dyn JobStore> {
        self.queue.store()
    }

    fn now(&self) -> OffsetDateTime {
        self.queue.clock().now()
    }

    /// Stores `schedule` by its name: inserted, or its definition replaced. An
    /// unchanged spec keeps its next slot (re-registering at every start skips and
    /// repeats nothing) and a paused schedule stays paused.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn upsert(&self, schedule: NewSchedule) -> Result<ScheduleRecord, Error> {
        let now = self.now();
        let next = schedule.spec.first_at_or_after(now);
        Ok(self.store().upsert_schedule(schedule, next, now).await?)
    }

    /// The schedule named `name`.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn get(&self, name: &str) -> Result<Option<ScheduleRecord>, Error> {
        Ok(self.store().get_schedule(name).await?)
    }

    /// The schedule named `name`, or [`StoreError::ScheduleNotFound`].
    async fn existing(&self, name: &str) -> Result<ScheduleRecord, Error> {
        let schedule = self.get(name).await?;
        Ok(schedule.ok_or_else(|| StoreError::ScheduleNotFound(name.to_owned()))?)
    }

    /// Every schedule, by name.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn list(&self) -> Result<Vec<ScheduleRecord>, Error> {
        Ok(self.store().list_schedules().await?)
    }

    /// Stops the schedule firing until [`Scheduler::resume`].
    ///
    /// # Errors
    ///
    /// [`StoreError::ScheduleNotFound`] for an unknown name.
    pub async fn pause(&self, name: &str) -> Result<ScheduleRecord, Error> {
        Ok(self.store().pause_schedule(name, self.now()).await?)
    }

    /// Lets a paused schedule fire again from its next slot after now; the slots
    /// during the pause do not fire.
    ///
    /// # Errors
    ///
    /// [`StoreError::ScheduleNotFound`] for an unknown name.
    pub async fn resume(&self, name: &str) -> Result<ScheduleRecord, Error> {
        let now = self.now();
        let schedule = self.existing(name).await?;
        let next = schedule.schedule.spec.first_at_or_after(now);
        Ok(self.store().resume_schedule(name, next, now).await?)
    }

    /// Fires the schedule once now, by hand: enqueues its job for the slot "now" (due at
    /// once, through the queue, so workers wake) and leaves its next slot and its
    /// pause as they are. A paused schedule can be triggered. The job's unique key is
    /// the slot's, so a trigger at the very instant of a stored slot is that slot's
    /// job (answered as a duplicate), never a second one.
    ///
    /// # Errors
    ///
    /// [`StoreError::ScheduleNotFound`] for an unknown name; the store's error.
    pub async fn trigger(&self, name: &str) -> Result<Enqueued, Error> {
        let now = self.now();
        let schedule = self.existing(name).await?;
        let job = schedule.job_for_slot(now, now)?;
        self.queue.enqueue_new(job).await
    }

    /// Deletes the schedule; the jobs it fired stay. `false` if there was none.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn remove(&self, name: &str) -> Result<bool, Error> {
        Ok(self.store().remove_schedule(name).await?)
    }

    /// The next `n` slots of the schedule, starting with its stored next slot.
    ///
    /// # Errors
    ///
    /// [`StoreError::ScheduleNotFound`] for an unknown name.
    pub async fn next_fire_times(
        &self,
        name: &str,
        n: usize,
    ) -> Result<Vec<OffsetDateTime>, Error> {
        let schedule = self.existing(name).await?;
        Ok(schedule.next_fire_times(n))
    }

    /// One pass: fires every due slot of every due schedule under its missed-run
    /// policy, and stores each schedule's next slot.
    ///
    /// # Errors
    ///
    /// The store's error (other than a lost compare-and-set, which is counted).
    pub async fn tick(&self) -> Result<TickReport, Error> {
        let mut report = TickReport::default();
        let now = self.now();
        let mut seen = std::collections::HashSet::new();
        loop {
            let due = self.store().due_schedules(now, DUE_BATCH).await?;
            let fresh: Vec<ScheduleRecord> = due
                .into_iter()
                .filter(|s| seen.insert(s.schedule.name.clone()))
                .collect();
            if fresh.is_empty() {
                break;
            }
            for schedule in fresh {
                report.due += 1;
                self.fire(&schedule, now, &mut report).await?;
            }
        }
        if report.jobs_inserted > 0 {
            self.queue.notify_enqueued();
        }
        Ok(report)
    }

    async fn fire(
        &self,
        schedule: &ScheduleRecord,
        now: OffsetDateTime,
        report: &mut TickReport,
    ) -> Result<(), Error> {
        let Some(slot) = schedule.next_fire_at else {
            return Ok(());
        };
        let plan =
            schedule
                .schedule
                .missed
                .plan(&schedule.schedule.spec, slot, now, self.misfire_grace);
        let jobs = plan
            .fire
            .iter()
            .map(|at| schedule.job_for_slot(*at, now))
            .collect::<Result<Vec<_>, Error>>()?;
        let name = &schedule.schedule.name;
        match self
            .store()
            .fire_schedule(Firing::new(name, slot, plan.next_slot, jobs), now)
            .await
        {
            Ok(fired) => {
                let duplicates = fired.iter().filter(|e| e.duplicate).count();
                report.duplicates += duplicates;
                report.jobs_inserted += fired.len() - duplicates;
                tracing::debug!(schedule = %name, slots = plan.fire.len(), next = ?plan.next_slot, "schedule fired");
                Ok(())
            }
            Err(StoreError::Conflict(_)) => {
                report.lost_races += 1;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Fires due slots until `shutdown` is cancelled: a [`Scheduler::tick`] at every
    /// poll interval, or earlier at the earliest known slot. A store error is logged
    /// and retried at the next poll; it never ends the loop.
    pub async fn run(&self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            if let Err(error) = self.tick().await {
                tracing::warn!(%error, "scheduler tick failed; retrying at the next poll");
            }
            let wait = self.until_next_slot().await.unwrap_or(self.poll_interval);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait.min(self.poll_interval)) => {}
            }
        }
    }

    /// How long until the earliest enabled schedule's next slot, if any.
    async fn until_next_slot(&self) -> Option<Duration> {
        let schedules = self.list().await.ok()?;
        let earliest = schedules
            .iter()
            .filter(|s| s.enabled)
            .filter_map(|s| s.next_fire_at)
            .min()?;
        let wait = earliest - self.now();
        Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
    }
}
