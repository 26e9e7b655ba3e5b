//! Schedules end to end: schedulers over a store on a ManualClock, on every store.
//!
//! Each scenario is a function over a fresh `Arc<dyn JobStore>`; `schedule_scenarios!`
//! runs them all on one backend.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use leasehold::schedule::{MissedRunPolicy, NewSchedule, ScheduleSpec, Scheduler};
use leasehold::testing::conformance::t;
use leasehold::time::OffsetDateTime;
use leasehold::{Job, JobFilter, JobRecord, JobState, JobStore, ManualClock, Queue};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Check {
    url: String,
}

impl Job for Check {
    const KIND: &'static str = "check";
}

fn check() -> Check {
    Check {
        url: "https://example.com".into(),
    }
}

struct World {
    clock: ManualClock,
    queue: Queue,
}

impl World {
    fn new(store: Arc<dyn JobStore>, start: OffsetDateTime) -> Self {
        let clock = ManualClock::new(start);
        let queue = Queue::with_clock(store, Arc::new(clock.clone()));
        Self { clock, queue }
    }

    fn scheduler(&self) -> Scheduler {
        Scheduler::new(&self.queue)
    }

    /// A scheduler with schedule "q" every 15 minutes from t(0), its first slot fired.
    async fn quarter_hourly_q(&self) -> Scheduler {
        let scheduler = self.scheduler();
        scheduler
            .upsert(NewSchedule::new("q", every(15, t(0)), &check()).unwrap())
            .await
            .unwrap();
        scheduler.tick().await.unwrap();
        scheduler
    }

    async fn jobs(&self) -> Vec<JobRecord> {
        let mut jobs = self
            .queue
            .list(&JobFilter::all().kind("check"))
            .await
            .unwrap();
        jobs.sort_by_key(|j| j.run_at);
        jobs
    }

    async fn slots(&self) -> Vec<OffsetDateTime> {
        self.jobs().await.iter().map(|j| j.run_at).collect()
    }
}

const DAY: Duration = Duration::from_hours(24);

fn every(minutes: u64, anchor: OffsetDateTime) -> ScheduleSpec {
    ScheduleSpec::interval(Duration::from_mins(minutes), anchor).unwrap()
}

/// Three schedulers tick concurrently every 7 minutes for two days: one job per slot;
/// a scheduler that loses a race counts a conflict, never fails.
async fn racing_schedulers_fire_each_slot_once(store: Arc<dyn JobStore>) {
    let world = World::new(store, t(0));
    // Ticks come every 7 minutes: a grace above that makes every slot on time.
    let scheduler = || world.scheduler().misfire_grace(Duration::from_mins(10));
    let schedulers = [scheduler(), scheduler(), scheduler()];
    let hourly = ScheduleSpec::cron("0 * * * *", None).unwrap();
    schedulers[0]
        .upsert(NewSchedule::new("hourly", hourly, &check()).unwrap())
        .await
        .unwrap();
    schedulers[1]
        .upsert(NewSchedule::new("quarter", every(15, t(0)), &check()).unwrap())
        .await
        .unwrap();

    let mut inserted = 0;
    for _ in 0..(2 * 24 * 60 / 7) {
        world.clock.advance(Duration::from_mins(7));
        let ticks = schedulers.iter().map(|s| {
            let s = s.clone();
            tokio::spawn(async move { s.tick().await })
        });
        for report in futures::future::join_all(ticks).await {
            let report = report.unwrap().unwrap();
            inserted += report.jobs_inserted;
        }
    }

    let jobs = world.jobs().await;
    let keys: BTreeSet<_> = jobs.iter().map(|j| j.unique_key.clone().unwrap()).collect();
    assert_eq!(keys.len(), jobs.len(), "no slot has two jobs");
    assert_eq!(inserted, jobs.len());
    let hourly = jobs
        .iter()
        .filter(|j| j.unique_key.as_ref().unwrap().contains("hourly"))
        .count();
    let quarter = jobs.len() - hourly;
    // 411 steps of 7 minutes end at 47:57; the first slot is the upsert time.
    assert_eq!(hourly, 48, "hourly slots 00:00 .. 47:00");
    assert_eq!(quarter, 192, "quarter-hour slots 00:00 .. 47:45");
}

/// A week down: Skip fires nothing missed, RunOnce fires one, CatchUp fires its bound.
async fn a_week_of_downtime_under_each_missed_run_policy(store: Arc<dyn JobStore>) {
    let world = World::new(store, t(0));
    let scheduler = world.scheduler();
    let daily = || ScheduleSpec::cron("0 12 * * *", None).unwrap();
    for (name, policy) in [
        ("skip", MissedRunPolicy::Skip),
        ("once", MissedRunPolicy::RunOnce),
        ("catch-up", MissedRunPolicy::CatchUp { max: 3 }),
        ("catch-up-all", MissedRunPolicy::CatchUp { max: 100 }),
    ] {
        let schedule = NewSchedule::new(name, daily(), &check())
            .unwrap()
            .missed(policy);
        scheduler.upsert(schedule).await.unwrap();
    }

    world.clock.advance(DAY * 7 + Duration::from_hours(1)); // 2000-01-08 01:00
    let report = scheduler.tick().await.unwrap();

    let per_schedule = |jobs: &[JobRecord], name: &str| {
        jobs.iter()
            .filter(|j| {
                j.unique_key
                    .as_ref()
                    .unwrap()
                    .starts_with(&format!("schedule:{name}@"))
            })
            .map(|j| j.run_at)
            .collect::<Vec<_>>()
    };
    let jobs = world.jobs().await;
    let noon = |day: u32| t(0) + DAY * day + Duration::from_hours(12);
    assert_eq!(per_schedule(&jobs, "skip"), Vec::<OffsetDateTime>::new());
    assert_eq!(per_schedule(&jobs, "once"), vec![noon(6)]);
    assert_eq!(
        per_schedule(&jobs, "catch-up"),
        vec![noon(4), noon(5), noon(6)]
    );
    assert_eq!(
        per_schedule(&jobs, "catch-up-all"),
        (0..7).map(noon).collect::<Vec<_>>()
    );
    assert_eq!(report.jobs_inserted, 11);
    for schedule in scheduler.list().await.unwrap() {
        assert_eq!(
            schedule.next_fire_at,
            Some(noon(7)),
            "{} goes on from the future",
            schedule.schedule.name
        );
    }
}

/// An interval schedule ticked late and irregularly stays on its anchor's grid.
async fn an_interval_schedule_stays_on_its_grid(store: Arc<dyn JobStore>) {
    let anchor = t(17);
    let world = World::new(store, t(0));
    let scheduler = world.scheduler().misfire_grace(Duration::from_mins(30));
    scheduler
        .upsert(NewSchedule::new("grid", every(10, anchor), &check()).unwrap())
        .await
        .unwrap();

    for step in [3, 11, 7, 29, 1, 13, 10, 10, 2] {
        world.clock.advance(Duration::from_mins(step));
        scheduler.tick().await.unwrap();
    }

    let slots = world.slots().await;
    assert!(!slots.is_empty());
    for (k, slot) in slots.iter().enumerate() {
        let k = u64::try_from(k).unwrap();
        assert_eq!(
            *slot,
            anchor + Duration::from_mins(10 * k),
            "slot {k} is on the grid"
        );
    }
    let next = scheduler
        .get("grid")
        .await
        .unwrap()
        .unwrap()
        .next_fire_at
        .unwrap();
    assert_eq!((next - anchor).whole_seconds() % 600, 0);
}

/// A restart re-registers its schedules: nothing is skipped, nothing fires twice.
async fn a_restart_picks_up_where_it_left_off(store: Arc<dyn JobStore>) {
    let world = World::new(store.clone(), t(0));
    let definition = || {
        NewSchedule::new(
            "nightly",
            ScheduleSpec::cron("0 0 * * *", None).unwrap(),
            &check(),
        )
        .unwrap()
        .missed(MissedRunPolicy::RunOnce)
    };
    world.scheduler().upsert(definition()).await.unwrap();
    world.clock.set(t(0) + DAY + Duration::from_mins(1));
    world.scheduler().tick().await.unwrap();
    assert_eq!(world.slots().await.len(), 1);

    // The process dies; it comes back three days later and registers again.
    let restarted = World::new(store, t(0) + DAY * 4 + Duration::from_hours(6));
    let again = restarted.scheduler().upsert(definition()).await.unwrap();
    restarted.scheduler().tick().await.unwrap();
    restarted.scheduler().tick().await.unwrap();

    assert_eq!(
        again.next_fire_at,
        Some(t(0) + DAY * 2),
        "the missed slot was kept"
    );
    let slots = restarted.slots().await;
    assert_eq!(
        slots,
        vec![t(0) + DAY, t(0) + DAY * 4],
        "RunOnce: one for the downtime"
    );
}

/// Pause skips slots; resume goes on from the next future slot; preview shows it.
async fn pause_resume_and_preview(store: Arc<dyn JobStore>) {
    let world = World::new(store, t(0));
    let scheduler = world.quarter_hourly_q().await;

    scheduler.pause("q").await.unwrap();
    world.clock.advance(Duration::from_hours(1));
    let paused = scheduler.tick().await.unwrap();
    world.clock.advance(Duration::from_mins(5));
    let resumed = scheduler.resume("q").await.unwrap();
    let preview = scheduler.next_fire_times("q", 3).await.unwrap();

    assert_eq!(paused.due, 0);
    assert_eq!(world.slots().await, vec![t(0)]);
    assert_eq!(resumed.next_fire_at, Some(t(0) + Duration::from_mins(75)));
    let m = |mins: u64| t(0) + Duration::from_mins(mins);
    assert_eq!(preview, vec![m(75), m(90), m(105)]);
    assert!(scheduler.remove("q").await.unwrap());
    assert!(scheduler.next_fire_times("q", 3).await.is_err());
}

/// A trigger fires a paused schedule's job now and moves neither its next slot nor its
/// pause; an unknown name is an error.
async fn a_trigger_fires_now_and_keeps_the_next_slot(store: Arc<dyn JobStore>) {
    let world = World::new(store, t(0));
    let scheduler = world.quarter_hourly_q().await;
    scheduler.pause("q").await.unwrap();
    world.clock.advance(Duration::from_mins(7));
    let before = scheduler.get("q").await.unwrap().unwrap();

    let triggered = scheduler.trigger("q").await.unwrap();

    assert!(!triggered.duplicate);
    assert_eq!(triggered.job.run_at, t(0) + Duration::from_mins(7));
    assert_eq!(triggered.job.state, JobState::Available);
    let after = scheduler.get("q").await.unwrap().unwrap();
    assert_eq!(after.next_fire_at, before.next_fire_at);
    assert!(!after.enabled, "still paused");
    assert_eq!(
        world.slots().await,
        vec![t(0), t(0) + Duration::from_mins(7)]
    );
    assert!(scheduler.trigger("nope").await.is_err());
}

/// A once schedule fires once and then has no next slot.
async fn a_once_schedule_fires_once(store: Arc<dyn JobStore>) {
    let world = World::new(store, t(0));
    let scheduler = world.scheduler();
    let at = t(0) + Duration::from_hours(3);
    scheduler
        .upsert(NewSchedule::new("once", ScheduleSpec::once(at), &check()).unwrap())
        .await
        .unwrap();

    for _ in 0..10 {
        world.clock.advance(Duration::from_hours(1));
        scheduler.tick().await.unwrap();
    }

    assert_eq!(world.slots().await, vec![at]);
    let stored = scheduler.get("once").await.unwrap().unwrap();
    assert_eq!(stored.next_fire_at, None);
    let fired = world.jobs().await;
    assert_eq!(fired[0].state, JobState::Available);
}

#[macro_use]
#[path = "support/on_every_store.rs"]
mod on_every_store;

on_every_store!(
    racing_schedulers_fire_each_slot_once,
    a_week_of_downtime_under_each_missed_run_policy,
    an_interval_schedule_stays_on_its_grid,
    a_restart_picks_up_where_it_left_off,
    pause_resume_and_preview,
    a_trigger_fires_now_and_keeps_the_next_slot,
    a_once_schedule_fires_once,
);

#[path = "support/sqlite.rs"]
mod sqlite_support;

#[path = "support/postgres.rs"]
mod postgres_support;
