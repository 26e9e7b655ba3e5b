//! `GET /`: every queue's jobs counted by state, whether it is paused, and what
//! finished in the last hour.

use axum::extract::{Query, State};
use axum::response::Response;
use leasehold::{JobFilter, JobState, QueueStats};
use maud::{Markup, html};

use crate::dashboard::AppState;
use crate::error::PageError;
use crate::filter::with_query;
use crate::format;
use crate::layout;
use crate::notice::{Notice, NoticeQuery};
use crate::view::View;

/// The terminal states, whose last hour the page counts.
const FINISHED: [JobState; 3] = [JobState::Completed, JobState::Failed, JobState::Cancelled];

/// One queue's row.
struct QueueRow {
    stats: QueueStats,
    /// Per state of [`FINISHED`]: how many finished in the last hour.
    last_hour: [u64; 3],
}

/// `GET /`.
pub(crate) async fn show(
    view: View,
    State(state): State<AppState>,
    Query(notice): Query<NoticeQuery>,
) -> Response {
    let notice = Notice::from_query(notice);
    view.respond(render(&view, &state, notice.as_ref()).await)
}

async fn render(
    view: &View,
    state: &AppState,
    notice: Option<&Notice>,
) -> Result<Markup, PageError> {
    let hour_ago = view.now - time::Duration::HOUR;
    let mut rows = Vec::new();
    for stats in state.queue.queue_stats().await? {
        // Every terminal job has finished: those that finished before an hour ago
        // are the rest of the state's count.
        let mut last_hour = [0; 3];
        for (count, finished) in last_hour.iter_mut().zip(FINISHED) {
            if stats.count(finished) == 0 {
                continue; // nothing finished: no need to count
            }
            let older = JobFilter::all()
                .queue(stats.queue.clone())
                .state(finished)
                .finished_before(hour_ago);
            *count = stats
                .count(finished)
                .saturating_sub(state.queue.count(&older).await?);
        }
        rows.push(QueueRow { stats, last_hour });
    }
    // Waiting (for dependencies) is a column only while some queue has such jobs.
    let states: Vec<JobState> = JobState::ALL
        .into_iter()
        .filter(|s| *s != JobState::Waiting || rows.iter().any(|r| r.stats.waiting > 0))
        .collect();
    let body = html! {
        h1 { "Queues" }
        @if rows.is_empty() {
            p.empty { "No queues yet: a queue appears with its first job." }
        } @else {
            table.queues {
                thead {
                    tr {
                        th rowspan="2" { "Queue" }
                        th colspan=(states.len()) { "Jobs by state" }
                        th rowspan="2" { "Oldest pending" }
                        th colspan="3" { "Finished in the last hour" }
                        th rowspan="2" { "Status" }
                    }
                    tr {
                        @for job_state in &states { th.num { (job_state.as_str()) } }
                        @for job_state in FINISHED { th.num { (job_state.as_str()) } }
                    }
                }
                tbody {
                    @for row in &rows { (queue_row(view, row, &states)) }
                }
            }
        }
    };
    Ok(layout::page(view, "Overview", notice, body))
}

fn queue_row(view: &View, row: &QueueRow, states: &[JobState]) -> Markup {
    let stats = &row.stats;
    let jobs = |job_state: Option<JobState>| {
        let mut pairs = vec![("queue", stats.queue.as_str())];
        pairs.extend(job_state.map(|s| ("state", s.as_str())));
        with_query(view.mount.href("/jobs"), &pairs)
    };
    let queue_field = [("queue", stats.queue.as_str())];
    html! {
        tr {
            th scope="row" { a href=(jobs(None)) { (stats.queue) } }
            @for &job_state in states {
                td.num { a href=(jobs(Some(job_state))) { (stats.count(job_state)) } }
            }
            td { (format::maybe_when(stats.oldest_pending_run_at, view.now)) }
            @for count in row.last_hour { td.num { (count) } }
            td {
                @if stats.paused {
                    span.badge.paused { "paused" } " "
                    (layout::action_button(view, "/queues/resume", "Resume", &queue_field, "button"))
                } @else {
                    span.badge.active { "active" } " "
                    (layout::action_button(view, "/queues/pause", "Pause", &queue_field, "button warn"))
                }
                @if let Some(limit) = stats.limit {
                    " " span.badge title="the queue's stored limit" { "limit: " (limit.to_string()) }
                }
            }
        }
    }
}
