//! `leasehold schedules`: every schedule with its next fire times in its own
//! timezone; pause, resume and trigger one.

use chrono::TimeZone;
use chrono_tz::Tz;
use leasehold::Queue;
use leasehold::schedule::{ScheduleRecord, ScheduleSpec, Scheduler};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::args::SchedulesCommand;
use crate::error::CliError;
use crate::output::{print_json, print_list, print_text, rfc3339};

/// Runs a `schedules` subcommand.
///
/// # Errors
///
/// The store's error; exit 3 for an unknown schedule name.
pub(super) async fn run(
    queue: &Queue,
    command: SchedulesCommand,
    json: bool,
) -> Result<(), CliError> {
    let scheduler = Scheduler::new(queue);
    match command {
        SchedulesCommand::List { next } => list(&scheduler, next, json).await,
        SchedulesCommand::Pause { name } => {
            let schedule = scheduler.pause(&name).await?;
            report(&schedule, "paused", json)
        }
        SchedulesCommand::Resume { name } => {
            let schedule = scheduler.resume(&name).await?;
            report(&schedule, "resumed", json)
        }
        SchedulesCommand::Trigger { name } => {
            let enqueued = scheduler.trigger(&name).await?;
            if json {
                return print_json(&json!({
                    "schedule": name,
                    "duplicate": enqueued.duplicate,
                    "job": enqueued.job,
                }));
            }
            let job = &enqueued.job;
            let line = if enqueued.duplicate {
                format!(
                    "schedule {name:?} already has job {} for this slot\n",
                    job.id
                )
            } else {
                format!(
                    "triggered schedule {name:?}: job {} ({} in queue {:?})\n",
                    job.id, job.kind, job.queue
                )
            };
            print_text(&line)
        }
    }
}

async fn list(scheduler: &Scheduler, next: usize, json: bool) -> Result<(), CliError> {
    let schedules = scheduler.list().await?;
    let mut shown = Vec::with_capacity(schedules.len());
    for schedule in &schedules {
        // From the record already read: no store call per schedule.
        shown.push((schedule, schedule.next_fire_times(next)));
    }
    print_list(
        json,
        || {
            shown
                .iter()
                .map(|(schedule, times)| to_json(schedule, times))
                .collect::<Vec<Value>>()
        },
        "no schedules\n",
        &[
            "NAME",
            "STATE",
            "KIND",
            "QUEUE",
            "LAST FIRED",
            "NEXT",
            "SPEC",
        ],
        shown.iter().map(|(schedule, times)| row(schedule, times)),
    )
}

/// A schedule's cells in `schedules list`, its times on its own wall clock.
fn row(schedule: &ScheduleRecord, times: &[OffsetDateTime]) -> Vec<String> {
    let zone = zone_of(&schedule.schedule.spec);
    let next = if times.is_empty() {
        "-".to_owned()
    } else {
        let times: Vec<String> = times.iter().map(|t| wall_time(*t, zone)).collect();
        times.join(", ")
    };
    vec![
        schedule.schedule.name.clone(),
        state(schedule).to_owned(),
        schedule.schedule.kind.clone(),
        schedule.schedule.queue.clone(),
        schedule
            .last_fired_at
            .map_or_else(|| "-".to_owned(), |t| wall_time(t, zone)),
        next,
        schedule.schedule.spec.to_string(),
    ]
}

fn report(schedule: &ScheduleRecord, what: &str, json: bool) -> Result<(), CliError> {
    let name = &schedule.schedule.name;
    let times = schedule.next_fire_times(1);
    if json {
        return print_json(&to_json(schedule, &times));
    }
    let zone = zone_of(&schedule.schedule.spec);
    let next = times
        .first()
        .map_or_else(|| "none".to_owned(), |t| wall_time(*t, zone));
    print_text(&format!("{what} schedule {name:?} (next slot: {next})\n"))
}

fn state(schedule: &ScheduleRecord) -> &'static str {
    if schedule.enabled { "active" } else { "paused" }
}

/// A schedule as JSON: its definition, whether it is paused, and its next fire times
/// in its own timezone.
fn to_json(schedule: &ScheduleRecord, times: &[OffsetDateTime]) -> Value {
    let s = &schedule.schedule;
    let zone = zone_of(&s.spec);
    json!({
        "name": s.name,
        "paused": !schedule.enabled,
        "spec": s.spec,
        "description": s.spec.to_string(),
        "timezone": zone.name(),
        "kind": s.kind,
        "queue": s.queue,
        "priority": s.priority,
        "max_attempts": s.max_attempts,
        "payload": s.payload,
        "missed": s.missed,
        "next_fire_times": times.iter().map(|t| zoned_rfc3339(*t, zone)).collect::<Vec<_>>(),
        "last_fired_at": schedule.last_fired_at.map(rfc3339),
        "created_at": rfc3339(schedule.created_at),
        "updated_at": rfc3339(schedule.updated_at),
    })
}

/// The timezone a schedule's times are shown in: a cron schedule's own, else UTC.
fn zone_of(spec: &ScheduleSpec) -> Tz {
    match spec {
        ScheduleSpec::Cron {
            timezone: Some(zone),
            ..
        } => zone.name().parse().unwrap_or(Tz::UTC),
        _ => Tz::UTC,
    }
}

/// `time` in `zone`, as chrono (which knows the timezone database) sees it.
fn in_zone(time: OffsetDateTime, zone: Tz) -> Option<chrono::DateTime<Tz>> {
    let utc = chrono::DateTime::from_timestamp(time.unix_timestamp(), time.nanosecond())?;
    Some(zone.from_utc_datetime(&utc.naive_utc()))
}

/// `time` on `zone`'s wall clock for a table: `2000-01-08 00:00 CET`.
fn wall_time(time: OffsetDateTime, zone: Tz) -> String {
    in_zone(time, zone).map_or_else(
        || rfc3339(time),
        |t| t.format("%Y-%m-%d %H:%M:%S %Z").to_string(),
    )
}

/// `time` in RFC 3339 with `zone`'s offset: `2000-01-08T00:00:00+01:00`.
fn zoned_rfc3339(time: OffsetDateTime, zone: Tz) -> String {
    in_zone(time, zone).map_or_else(|| rfc3339(time), |t| t.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_show_on_the_schedules_wall_clock() {
        let berlin: Tz = "Europe/Berlin".parse().expect("a zone");
        let saturday = datetime!(2000-01-07 23:00 UTC);

        assert_eq!(wall_time(saturday, berlin), "2000-01-08 00:00:00 CET");
        assert_eq!(zoned_rfc3339(saturday, berlin), "2000-01-08T00:00:00+01:00");
        assert_eq!(wall_time(saturday, Tz::UTC), "2000-01-07 23:00:00 UTC");
    }

    #[test]
    fn a_cron_schedule_is_shown_in_its_zone_and_others_in_utc() {
        let cron = ScheduleSpec::cron("0 0 * * 6", Some("Europe/Berlin")).expect("valid");
        let once = ScheduleSpec::once(datetime!(2100-01-01 0:00 UTC));

        assert_eq!(zone_of(&cron).name(), "Europe/Berlin");
        assert_eq!(zone_of(&once).name(), "UTC");
    }
}
