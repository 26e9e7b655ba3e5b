//! `GET /schedules`: every schedule, when it fires next in its own timezone, its
//! missed-run policy, and whether it is paused.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use leasehold::schedule::{MissedRunPolicy, ScheduleRecord, ScheduleSpec, Timezone};
use maud::{Markup, html};

use crate::dashboard::AppState;
use crate::format;
use crate::layout::{self, action_button, json_block};
use crate::notice::NoticeQuery;
use crate::pages::notice_of;
use crate::view::View;

/// How many fire times the page previews.
const PREVIEW: usize = 5;

/// `GET /schedules`.
pub(crate) async fn show(
    view: View,
    State(state): State<AppState>,
    notice: Result<Query<NoticeQuery>, QueryRejection>,
) -> Response {
    let notice = notice_of(notice);
    let page = async {
        let schedules = state.scheduler.list().await?;
        let body = html! {
            h1 { "Schedules" }
            @if schedules.is_empty() {
                p.empty { "No schedules: an application stores them with Scheduler::upsert." }
            }
            @for schedule in &schedules { (schedule_section(&view, schedule)) }
        };
        Ok(layout::page(&view, "Schedules", notice.as_ref(), body))
    };
    view.respond(page.await)
}

fn schedule_section(view: &View, record: &ScheduleRecord) -> Markup {
    let schedule = &record.schedule;
    let zone = timezone(&schedule.spec);
    let name = [("name", schedule.name.as_str())];
    html! {
        section.schedule {
            h2 {
                (schedule.name) " "
                @if record.enabled { span.badge.active { "active" } } @else { span.badge.paused { "paused" } }
            }
            div.actions {
                @if record.enabled {
                    (action_button(view, "/schedules/pause", "Pause", &name, "button warn"))
                } @else {
                    (action_button(view, "/schedules/resume", "Resume", &name, "button"))
                }
                (action_button(view, "/schedules/trigger", "Trigger now", &name, "button"))
            }
            dl.details {
                dt { "When" } dd { code { (spec_text(&schedule.spec)) } }
                dt { "Timezone" } dd { (zone.map_or("UTC", |zone| zone.name())) }
                dt { "Next fire times" }
                dd {
                    @let times = record.next_fire_times(PREVIEW);
                    @if times.is_empty() {
                        "none: the schedule has no slots left"
                    } @else {
                        ol.fire-times {
                            @for t in times {
                                li { (format::in_zone(t, zone)) " " span.relative { "(" (format::relative(t, view.now)) ")" } }
                            }
                        }
                    }
                }
                dt { "Missed runs" } dd { (missed_text(schedule.missed)) }
                dt { "Job" }
                dd { strong { (schedule.kind) } " in queue " (schedule.queue) ", priority " (schedule.priority) ", " (schedule.max_attempts) " attempts" }
                dt { "Payload" } dd { (json_block(&schedule.payload)) }
                dt { "Last fired" } dd { (format::maybe_when(record.last_fired_at, view.now)) }
                dt { "Last changed" } dd { (format::when(record.updated_at, view.now)) }
            }
        }
    }
}

/// The timezone a spec's times are shown in: a cron schedule's own; UTC otherwise.
fn timezone(spec: &ScheduleSpec) -> Option<Timezone> {
    match spec {
        ScheduleSpec::Cron { timezone, .. } => *timezone,
        ScheduleSpec::Interval { .. } | ScheduleSpec::Once { .. } => None,
    }
}

/// The spec without its timezone, which has its own line.
fn spec_text(spec: &ScheduleSpec) -> String {
    match spec {
        ScheduleSpec::Cron { expr, .. } => format!("cron {}", expr.as_str()),
        ScheduleSpec::Interval { every, anchor } => match time::Duration::try_from(*every) {
            Ok(every) => format!("every {every} from {}", format::utc(*anchor)),
            Err(_) => format!("every {every:?} from {}", format::utc(*anchor)),
        },
        ScheduleSpec::Once { at } => format!("once at {}", format::utc(*at)),
    }
}

fn missed_text(policy: MissedRunPolicy) -> String {
    match policy {
        MissedRunPolicy::Skip => "skipped (the next future slot fires)".into(),
        MissedRunPolicy::RunOnce => "run once for all that were missed".into(),
        MissedRunPolicy::CatchUp { max } => format!("caught up, at most {max} of them"),
    }
}
