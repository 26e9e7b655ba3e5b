//! Several OS processes run schedulers on one SQLite file at once: every slot yields
//! exactly one job.
//!
//! The test re-runs its own binary as child processes (`scheduler_process_entry`).
//! Each child drives a `ManualClock` through the same two simulated days in steps of
//! 7 minutes and ticks its scheduler at each step, so the children race on every slot
//! through the database, as servers sharing one file would.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use leasehold::schedule::{NewSchedule, ScheduleSpec, Scheduler};
use leasehold::testing::conformance::t;
use leasehold::{Job, JobFilter, JobStore, ManualClock, Queue};
use leasehold_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};

const DB: &str = "LEASEHOLD_SCHEDULE_CHILD_DB";
const PROCESSES: usize = 3;
const STEPS: u64 = 2 * 24 * 60 / 7;

#[derive(Debug, Serialize, Deserialize)]
struct Tick;

impl Job for Tick {
    const KIND: &'static str = "tick";
}

fn schedules() -> Vec<NewSchedule> {
    let hourly = ScheduleSpec::cron("0 * * * *", None).unwrap();
    let quarter = ScheduleSpec::interval(Duration::from_mins(15), t(0)).unwrap();
    vec![
        NewSchedule::new("hourly", hourly, &Tick).unwrap(),
        NewSchedule::new("quarter", quarter, &Tick).unwrap(),
    ]
}

/// Not a test of its own: the entry point of a child process, a no-op otherwise.
#[test]
fn scheduler_process_entry() {
    let Ok(url) = std::env::var(DB) else {
        return;
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store: Arc<dyn JobStore> = Arc::new(SqliteStore::connect(&url).await.unwrap());
            let clock = ManualClock::new(t(0));
            let queue = Queue::with_clock(store, Arc::new(clock.clone()));
            // Ticks come every 7 minutes: a grace above that makes every slot on time.
            let scheduler = Scheduler::new(&queue).misfire_grace(Duration::from_mins(10));
            // Every process registers the schedules at its start, as a server does.
            for schedule in schedules() {
                scheduler.upsert(schedule).await.unwrap();
            }
            let mut lost = 0;
            for step in 1..=STEPS {
                clock.set(t(0) + Duration::from_mins(7 * step));
                lost += scheduler.tick().await.unwrap().lost_races;
            }
            println!(
                "scheduler process {}: {lost} slots lost to another process",
                std::process::id()
            );
        });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedulers_in_several_processes_fire_each_slot_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();

    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "scheduler_process_entry",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(DB, &url)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(
            child.wait().unwrap().success(),
            "a scheduler process failed"
        );
    }

    let jobs = store
        .list(&JobFilter::all().kind("tick"), t(0))
        .await
        .unwrap();
    let slots: BTreeSet<String> = jobs.iter().map(|j| j.unique_key.clone().unwrap()).collect();
    assert_eq!(slots.len(), jobs.len(), "no slot has two jobs");
    let hourly = slots
        .iter()
        .filter(|k| k.starts_with("schedule:hourly@"))
        .count();
    let quarter = slots
        .iter()
        .filter(|k| k.starts_with("schedule:quarter@"))
        .count();
    // 411 steps of 7 minutes end at 47:57; the first slot is the registration time.
    assert_eq!(hourly, 48, "hourly slots 00:00 .. 47:00");
    assert_eq!(quarter, 192, "quarter-hour slots 00:00 .. 47:45");
}
