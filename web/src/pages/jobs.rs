//! `GET /jobs`: the jobs a filter selects, newest first, [`PAGE_SIZE`] at a time.
//!
//! Pages are keyset pages: "Next page" links to the jobs after the last id shown
//! (`?after=ID`), so a page costs the same however deep it is and jobs enqueued
//! meanwhile do not shift it.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use leasehold::{JobRecord, JobState};
use maud::{Markup, html};
use serde::Deserialize;

use crate::actions::JobVerb;
use crate::dashboard::AppState;
use crate::error::{PageError, bad_query};
use crate::filter::FilterForm;
use crate::format;
use crate::layout;
use crate::notice::{Notice, NoticeQuery};
use crate::pages::{job_id, notice_of, state_badge};
use crate::view::View;

/// Jobs per page.
pub(crate) const PAGE_SIZE: usize = 50;

/// Where the page starts.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Cursor {
    /// The last id of the page before.
    after: Option<String>,
}

/// `GET /jobs?queue=&state=&kind=&tag=&after=`.
pub(crate) async fn show(
    view: View,
    State(state): State<AppState>,
    filter: Result<Query<FilterForm>, QueryRejection>,
    cursor: Result<Query<Cursor>, QueryRejection>,
    notice: Result<Query<NoticeQuery>, QueryRejection>,
) -> Response {
    let notice = notice_of(notice);
    let page = async {
        let Query(form) = filter.map_err(bad_query)?;
        let Query(cursor) = cursor.map_err(bad_query)?;
        render(&view, &state, &form, &cursor, notice.as_ref()).await
    };
    view.respond(page.await)
}

async fn render(
    view: &View,
    state: &AppState,
    form: &FilterForm,
    cursor: &Cursor,
    notice: Option<&Notice>,
) -> Result<Markup, PageError> {
    let filter = form.to_filter()?;
    let after = cursor
        .after
        .as_deref()
        .filter(|a| !a.is_empty())
        .map(job_id)
        .transpose()?;
    let matching = state.queue.count(&filter).await?;
    // One more than a page, to know whether there is a next one.
    let mut page = filter.clone().newest_first().limit(PAGE_SIZE + 1);
    if let Some(after) = after {
        page = page.after(after);
    }
    let mut jobs = state.queue.list(&page).await?;
    let more = jobs.len() > PAGE_SIZE;
    jobs.truncate(PAGE_SIZE);

    let body = html! {
        h1 { "Jobs" }
        (filter_form(view, form)?)
        p.count {
            (matching) " " (if matching == 1 { "job matches" } else { "jobs match" })
            @if after.is_some() {
                " · " a href=(form.href(&view.mount, "/jobs", &[])) { "back to the newest" }
            }
        }
        @if jobs.is_empty() {
            p.empty { "No jobs here." }
        } @else {
            (job_table(view, &jobs))
        }
        @if let Some(last) = jobs.last().filter(|_| more) {
            p.pager {
                a rel="next" href=(form.href(&view.mount, "/jobs", &[("after", &last.id.to_string())])) {
                    "Next page →"
                }
            }
        }
        @if view.csrf.is_some() && matching > 0 {
            (bulk_form(view, form))
        }
    };
    Ok(layout::page(view, "Jobs", notice, body))
}

fn filter_form(view: &View, form: &FilterForm) -> Result<Markup, PageError> {
    let selected = form.job_state()?;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    Ok(html! {
        form.filter method="get" action=(view.mount.href("/jobs")) {
            // A text field, not a list of the queues: naming them takes queue_stats,
            // a pass over every job, too slow for this page with a million of them.
            label { "Queue " input type="text" name="queue" value=(text(&form.queue)); }
            label {
                "State "
                select name="state" {
                    option value="" { "any" }
                    @for job_state in JobState::ALL {
                        option value=(job_state.as_str()) selected[selected == Some(job_state)] {
                            (job_state.as_str())
                        }
                    }
                }
            }
            label { "Kind " input type="text" name="kind" value=(text(&form.kind)); }
            label { "Tag " input type="text" name="tag" value=(text(&form.tag)); }
            button type="submit" { "Filter" }
            " "
            a href=(view.mount.href("/jobs")) { "Clear" }
        }
    })
}

fn job_table(view: &View, jobs: &[JobRecord]) -> Markup {
    html! {
        table.jobs {
            thead {
                tr {
                    th { "Id" } th { "Kind" } th { "Queue" } th { "State" }
                    th.num { "Attempt" } th { "Runs at" } th { "Enqueued" } th { "Tags" }
                }
            }
            tbody {
                @for job in jobs {
                    tr {
                        td { a.id href=(view.mount.href(&format!("/jobs/{}", job.id))) { (job.id) } }
                        td { (job.kind) }
                        td { (job.queue) }
                        td { (state_badge(job.state)) }
                        td.num { (job.attempt) "/" (job.max_attempts) }
                        td { (format::when(job.run_at, view.now)) }
                        td { (format::when(job.created_at, view.now)) }
                        td { @for tag in &job.tags { span.tag { (tag) } " " } }
                    }
                }
            }
        }
    }
}

/// The first step of a bulk action: pick the verb, then confirm on the next page.
fn bulk_form(view: &View, form: &FilterForm) -> Markup {
    html! {
        form.bulk method="get" action=(view.mount.href("/jobs/bulk")) {
            @for (name, value) in form.fields() {
                input type="hidden" name=(name) value=(value);
            }
            label {
                "Every job this filter selects: "
                select name="action" {
                    @for verb in JobVerb::ALL {
                        option value=(verb.as_str()) { (verb.title()) }
                    }
                }
            }
            " "
            button type="submit" { "Review…" }
        }
    }
}
