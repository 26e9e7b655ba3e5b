//! Schedules, from the [`JobStore`](crate::JobStore) contract: upsert by name, due
//! schedules, firing a slot as a compare-and-set, pause, resume and remove.

use std::time::Duration;

use serde_json::json;

use super::{StoreFactory, count_all, race, t};
use crate::Firing;
use crate::schedule::{MissedRunPolicy, NewSchedule, ScheduleRecord, ScheduleSpec};
use crate::{Enqueued, JobFilter, JobStore, NewJob, StoreError};

fn hourly(name: &str) -> NewSchedule {
    NewSchedule::untyped(
        name,
        ScheduleSpec::interval(Duration::from_hours(1), t(0)).expect("a valid interval"),
        "tick",
        json!({ "schedule": name }),
    )
    .expect("a valid schedule")
}

async fn upsert(
    store: &dyn JobStore,
    schedule: NewSchedule,
    next: i64,
    now: i64,
) -> ScheduleRecord {
    store
        .upsert_schedule(schedule, Some(t(next)), t(now))
        .await
        .expect("upsert_schedule")
}

/// The jobs a scheduler would fire for `slots` of `schedule`.
fn slot_jobs(schedule: &ScheduleRecord, slots: &[i64], now: i64) -> Vec<NewJob> {
    slots
        .iter()
        .map(|s| schedule.job_for_slot(t(*s), t(now)).expect("a valid job"))
        .collect()
}

/// Fires `slot` of `schedule` at `now` with that slot's one job, moving it on to `next`.
async fn fire_slot(
    store: &dyn JobStore,
    schedule: &ScheduleRecord,
    slot: i64,
    next: i64,
    now: i64,
) -> Result<Vec<Enqueued>, StoreError> {
    let jobs = slot_jobs(schedule, &[slot], now);
    store
        .fire_schedule(
            Firing::new(&schedule.schedule.name, t(slot), Some(t(next)), jobs),
            t(now),
        )
        .await
}

/// Upsert inserts a new name enabled, then replaces the definition of that name.
pub async fn upsert_schedule_inserts_then_updates_by_name(f: &dyn StoreFactory) {
    let store = f.open().await;
    let first = upsert(&*store, hourly("report"), 3600, 0).await;
    let daily = NewSchedule::untyped(
        "report",
        ScheduleSpec::cron("0 0 * * *", Some("Europe/Berlin")).expect("valid"),
        "report",
        json!({"n": 2}),
    )
    .expect("valid")
    .queue("reports")
    .expect("valid")
    .priority(-1)
    .max_attempts(3)
    .expect("valid")
    .missed(MissedRunPolicy::CatchUp { max: 5 });

    let second = upsert(&*store, daily.clone(), 7200, 10).await;

    assert!(first.enabled);
    assert_eq!(first.next_fire_at, Some(t(3600)));
    assert_eq!((first.created_at, first.updated_at), (t(0), t(0)));
    assert_eq!(second.schedule, daily);
    assert_eq!(
        second.next_fire_at,
        Some(t(7200)),
        "a changed spec takes the new slot"
    );
    assert_eq!((second.created_at, second.updated_at), (t(0), t(10)));
    assert_eq!(
        store.get_schedule("report").await.expect("get"),
        Some(second.clone())
    );
    upsert(&*store, hourly("another"), 3600, 11).await;
    let names: Vec<String> = store
        .list_schedules()
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.schedule.name)
        .collect();
    assert_eq!(names, ["another", "report"]);
    assert_eq!(store.get_schedule("missing").await.expect("get"), None);
}

/// Re-upserting an unchanged spec keeps the stored slot and a pause.
pub async fn upsert_schedule_keeps_the_slot_and_the_pause_when_the_spec_is_unchanged(
    f: &dyn StoreFactory,
) {
    let store = f.open().await;
    upsert(&*store, hourly("s"), 3600, 0).await;
    store.pause_schedule("s", t(1)).await.expect("pause");
    let changed_payload = NewSchedule {
        payload: json!({"new": true}),
        ..hourly("s")
    };

    let again = upsert(&*store, changed_payload.clone(), 99_999, 20_000).await;

    assert_eq!(
        again.next_fire_at,
        Some(t(3600)),
        "a missed slot is kept for the policy"
    );
    assert!(!again.enabled, "upsert never resumes a paused schedule");
    assert_eq!(again.schedule.payload, json!({"new": true}));
    assert_eq!(store.get_schedule("s").await.expect("get"), Some(again));
}

/// Due schedules are the enabled ones whose slot is at or before now, earliest first.
pub async fn due_schedules_returns_enabled_schedules_due_at_now(f: &dyn StoreFactory) {
    let store = f.open().await;
    upsert(&*store, hourly("late"), 200, 0).await;
    upsert(&*store, hourly("early"), 100, 0).await;
    upsert(&*store, hourly("future"), 301, 0).await;
    upsert(&*store, hourly("paused"), 50, 0).await;
    store.pause_schedule("paused", t(0)).await.expect("pause");

    let due = store.due_schedules(t(300), 10).await.expect("due");
    let first = store.due_schedules(t(300), 1).await.expect("due");
    let none = store.due_schedules(t(99), 10).await.expect("due");

    let names: Vec<&str> = due.iter().map(|s| s.schedule.name.as_str()).collect();
    assert_eq!(names, ["early", "late"]);
    assert_eq!(first.len(), 1);
    assert!(none.is_empty());
}

/// Firing the planned slot inserts the jobs and stores the next slot and the time it
/// fired, atomically.
pub async fn fire_schedule_inserts_the_jobs_and_advances_the_slot(f: &dyn StoreFactory) {
    let store = f.open().await;
    let schedule = upsert(&*store, hourly("s"), 3600, 0).await;
    assert_eq!(schedule.last_fired_at, None, "never fired yet");
    let jobs = slot_jobs(&schedule, &[3600, 7200], 7300);

    let fired = store
        .fire_schedule(Firing::new("s", t(3600), Some(t(10_800)), jobs), t(7300))
        .await
        .expect("fire");

    assert_eq!(fired.len(), 2);
    assert!(fired.iter().all(|e| !e.duplicate));
    assert_eq!(fired[0].job.unique_key, Some(schedule.slot_key(t(3600))));
    assert_eq!(fired[1].job.run_at, t(7200));
    assert_eq!(fired[0].job.kind, "tick");
    let stored = store.get_schedule("s").await.expect("get").expect("exists");
    assert_eq!(stored.next_fire_at, Some(t(10_800)));
    assert_eq!(stored.last_fired_at, Some(t(7300)));
    assert_eq!(stored.updated_at, t(7300));
    assert_eq!(
        store
            .count(&JobFilter::all().kind("tick"), t(7300))
            .await
            .expect("count"),
        2
    );
    let last = store
        .fire_schedule(Firing::new("s", t(10_800), None, Vec::new()), t(10_800))
        .await
        .expect("fire with no jobs (a skipped slot)");
    assert!(last.is_empty());
    let over = store.get_schedule("s").await.expect("get").expect("exists");
    assert_eq!(over.next_fire_at, None);
    assert!(
        store
            .due_schedules(t(1_000_000), 10)
            .await
            .expect("due")
            .is_empty()
    );
}

/// Firing from a slot that moved, or a paused schedule, is a conflict and inserts nothing.
pub async fn fire_schedule_from_a_stale_slot_is_a_conflict_and_inserts_nothing(
    f: &dyn StoreFactory,
) {
    let store = f.open().await;
    let schedule = upsert(&*store, hourly("s"), 3600, 0).await;
    fire_slot(&*store, &schedule, 3600, 7200, 3600)
        .await
        .expect("fire");

    let stale = fire_slot(&*store, &schedule, 3600, 7200, 3601).await;
    store.pause_schedule("s", t(3602)).await.expect("pause");
    let paused = fire_slot(&*store, &schedule, 7200, 10_800, 7200).await;
    let unknown = store
        .fire_schedule(Firing::new("nope", t(0), None, Vec::new()), t(0))
        .await;

    assert!(
        matches!(stale, Err(StoreError::Conflict(_))),
        "got {stale:?}"
    );
    assert!(
        matches!(paused, Err(StoreError::Conflict(_))),
        "got {paused:?}"
    );
    assert!(
        matches!(unknown, Err(StoreError::ScheduleNotFound(_))),
        "got {unknown:?}"
    );
    assert_eq!(count_all(&*store, t(7200)).await, 1);
    let stored = store.get_schedule("s").await.expect("get").expect("exists");
    assert_eq!(stored.next_fire_at, Some(t(7200)));
    assert_eq!(
        stored.last_fired_at,
        Some(t(3600)),
        "the refused fires left it"
    );
}

/// Schedulers racing on one slot, through one handle or several, fire it once.
pub async fn concurrent_fires_of_one_slot_insert_once(f: &dyn StoreFactory) {
    let handles = f.open_shared(4).await;
    let schedule = upsert(&*handles[0], hourly("s"), 3600, 0).await;

    let results = race(&handles, 12, |_, store| {
        let schedule = schedule.clone();
        async move { fire_slot(&*store, &schedule, 3600, 7200, 3600).await }
    })
    .await;

    let mut won = 0;
    for result in results {
        match result {
            Ok(fired) => {
                won += 1;
                assert_eq!(fired.len(), 1);
            }
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("a racing fire failed with {other}"),
        }
    }
    assert_eq!(won, 1, "exactly one scheduler fires the slot");
    assert_eq!(count_all(&*handles[0], t(3600)).await, 1);
}

/// Pause stops firing, resume restarts from the given slot, remove keeps the jobs.
pub async fn pause_resume_and_remove_a_schedule(f: &dyn StoreFactory) {
    let store = f.open().await;
    let schedule = upsert(&*store, hourly("s"), 3600, 0).await;
    fire_slot(&*store, &schedule, 3600, 7200, 3600)
        .await
        .expect("fire");

    let paused = store.pause_schedule("s", t(4000)).await.expect("pause");
    let paused_again = store.pause_schedule("s", t(4001)).await.expect("pause");
    let not_due = store.due_schedules(t(100_000), 10).await.expect("due");
    let resumed = store
        .resume_schedule("s", Some(t(18_000)), t(17_000))
        .await
        .expect("resume");
    let resumed_again = store
        .resume_schedule("s", Some(t(99_000)), t(17_001))
        .await
        .expect("resume");
    let removed = store.remove_schedule("s").await.expect("remove");
    let removed_again = store.remove_schedule("s").await.expect("remove");

    assert!(!paused.enabled);
    assert_eq!(paused.updated_at, t(4000));
    assert_eq!(paused_again, paused);
    assert!(not_due.is_empty());
    assert!(resumed.enabled);
    assert_eq!(
        resumed.next_fire_at,
        Some(t(18_000)),
        "slots during the pause are not fired"
    );
    assert_eq!(resumed_again, resumed);
    assert!(removed && !removed_again);
    assert_eq!(store.get_schedule("s").await.expect("get"), None);
    assert_eq!(count_all(&*store, t(0)).await, 1);
    let unknown = [
        store.pause_schedule("s", t(0)).await.err(),
        store.resume_schedule("s", None, t(0)).await.err(),
    ];
    assert!(
        unknown
            .iter()
            .all(|e| matches!(e, Some(StoreError::ScheduleNotFound(_))))
    );
}
