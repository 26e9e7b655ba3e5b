//! The pages, one module each; every handler reads, none changes anything.
//!
//! - [`overview`]: `/`, every queue's jobs by state.
//! - [`jobs`]: `/jobs`, the filtered list, newest first, a page at a time.
//! - [`job`]: `/jobs/{id}`, one job and why it is not running now.
//! - [`bulk`]: `/jobs/bulk`, the confirmation of an action on every job a filter
//!   selects.
//! - [`schedules`]: `/schedules`, every schedule and its next fire times.

pub(crate) mod bulk;
pub(crate) mod job;
pub(crate) mod jobs;
pub(crate) mod overview;
pub(crate) mod schedules;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::response::Response;
use leasehold::{JobId, JobState};
use maud::{Markup, html};

use crate::error::PageError;
use crate::notice::{Notice, NoticeQuery};
use crate::view::View;

/// The fallback: a path the dashboard does not serve.
pub(crate) async fn not_found(view: View) -> Response {
    PageError::NotFound("the dashboard has no page here".into()).render(&view)
}

/// The job id in a path.
///
/// # Errors
///
/// [`PageError::BadRequest`] when it is not a UUID.
pub(crate) fn job_id(text: &str) -> Result<JobId, PageError> {
    text.parse()
        .map_err(|_| PageError::BadRequest(format!("{text:?} is not a job id (a UUID)")))
}

/// The notice in a page's query string; `None` when there is none or the query does
/// not parse (a notice is never worth an error page).
pub(crate) fn notice_of(query: Result<Query<NoticeQuery>, QueryRejection>) -> Option<Notice> {
    query
        .ok()
        .and_then(|Query(query)| Notice::from_query(query))
}

/// A state as a coloured label.
pub(crate) fn state_badge(state: JobState) -> Markup {
    html! { span class={ "badge state-" (state.as_str()) } { (state.as_str()) } }
}
