//! `POST /jobs/{id}/retry|cancel|delete` and `POST /jobs/bulk`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{Redirect, Response};
use leasehold::{JobFilter, JobId, JobRecord, JobState, Queue};
use serde::Deserialize;

use super::{JobVerb, redirect};
use crate::dashboard::AppState;
use crate::error::PageError;
use crate::filter::FilterForm;
use crate::notice::Notice;
use crate::pages::job_id;
use crate::view::View;

/// How many jobs one store call of a bulk cancel or delete acts on: each call is one
/// transaction, and on SQLite it holds the only writer until it ends.
const BULK_BATCH: usize = 1_000;

/// `POST /jobs/{id}/retry`: the job runs again now.
pub(crate) async fn retry(view: View, state: State<AppState>, Path(id): Path<String>) -> Response {
    on_job(view, &id, JobVerb::Retry, async |id| {
        Ok(state.queue.retry_job(id).await?)
    })
    .await
}

/// `POST /jobs/{id}/cancel`: a pending job ends cancelled, a running one at its next
/// heartbeat.
pub(crate) async fn cancel(view: View, state: State<AppState>, Path(id): Path<String>) -> Response {
    on_job(view, &id, JobVerb::Cancel, async |id| {
        let job = state.queue.cancel(id).await?;
        // The store leaves a finished job as it was: say so rather than claim a cancel.
        if matches!(job.state, JobState::Completed | JobState::Failed) {
            return Err(PageError::Conflict(format!(
                "job {id} already finished ({}): there is nothing to cancel",
                job.state
            )));
        }
        Ok(job)
    })
    .await
}

/// `POST /jobs/{id}/delete`: a job that is not running is removed.
pub(crate) async fn delete(view: View, state: State<AppState>, Path(id): Path<String>) -> Response {
    on_job(view, &id, JobVerb::Delete, async |id| {
        Ok(state.queue.delete_job(id).await?)
    })
    .await
}

/// Does `verb` to the job whose id is `id` (from the path) with `act`, then redirects
/// to the job's page, or to the list once it is deleted, with a notice saying so.
async fn on_job(
    view: View,
    id: &str,
    verb: JobVerb,
    act: impl AsyncFnOnce(JobId) -> Result<JobRecord, PageError>,
) -> Response {
    let done = async {
        let id = job_id(id)?;
        act(id).await?;
        let path = match verb {
            JobVerb::Retry | JobVerb::Cancel => format!("/jobs/{id}"),
            JobVerb::Delete => "/jobs".to_owned(),
        };
        Ok(redirect(&view, &path, &Notice::Job { verb, id }))
    };
    view.respond(done.await)
}

/// The verb of a bulk form.
#[derive(Debug, Deserialize)]
pub(crate) struct VerbField {
    /// `retry`, `cancel` or `delete`.
    pub(crate) action: Option<String>,
}

impl VerbField {
    /// The verb named.
    ///
    /// # Errors
    ///
    /// [`PageError::BadRequest`] when none or an unknown one is named.
    pub(crate) fn verb(&self) -> Result<JobVerb, PageError> {
        let name = self.action.as_deref().unwrap_or_default();
        JobVerb::parse(name).ok_or_else(|| {
            PageError::BadRequest(format!(
                "{name:?} is not a bulk action (retry, cancel or delete)"
            ))
        })
    }
}

/// `POST /jobs/bulk`: the confirmed verb on every job the form's filter selects;
/// redirects to the list under the same filter.
pub(crate) async fn bulk(view: View, State(state): State<AppState>, body: Bytes) -> Response {
    let done = async {
        let bad = |error: serde_urlencoded::de::Error| PageError::BadRequest(error.to_string());
        let form: FilterForm = serde_urlencoded::from_bytes(&body).map_err(bad)?;
        let verb = serde_urlencoded::from_bytes::<VerbField>(&body)
            .map_err(bad)?
            .verb()?;
        let filter = form.to_filter()?;
        let count = match verb {
            // A retried job stays selected by most filters, so batches would retry it
            // again: one call, as the user confirmed it.
            JobVerb::Retry => state.queue.retry_jobs(&filter).await?,
            JobVerb::Cancel => in_batches(&state.queue, Draining::Cancel, filter).await?,
            JobVerb::Delete => in_batches(&state.queue, Draining::Delete, filter).await?,
        };
        let notice = Notice::Jobs { verb, count }.to_query();
        let notice: Vec<(&str, &str)> = notice.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(Redirect::to(&form.href(&view.mount, "/jobs", &notice)))
    };
    view.respond(done.await)
}

/// A bulk verb after which a job is no longer one it acts on, so it can go in
/// batches: each batch takes new jobs.
#[derive(Debug, Clone, Copy)]
enum Draining {
    Cancel,
    Delete,
}

/// Cancels or deletes what `filter` selects, [`BULK_BATCH`] jobs per store call,
/// until a batch comes back short.
async fn in_batches(
    queue: &Queue,
    verb: Draining,
    filter: JobFilter,
) -> Result<u64, leasehold::Error> {
    let batch = filter.limit(BULK_BATCH);
    let full = u64::try_from(BULK_BATCH).expect("the batch size fits u64");
    let mut total = 0;
    loop {
        let n = match verb {
            Draining::Cancel => queue.cancel_jobs(&batch).await?,
            Draining::Delete => queue.delete_jobs(&batch).await?,
        };
        total += n;
        if n < full {
            return Ok(total);
        }
    }
}
