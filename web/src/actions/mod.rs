//! The actions: POST handlers that change something and redirect (303) to a page
//! whose notice says what they did. The guard in front of them
//! ([`guard_writes`](crate::csrf::guard_writes)) has already refused the read-only,
//! cross-site and tokenless requests.
//!
//! - [`jobs`]: retry, cancel, delete one job, or every job a filter selects.
//! - [`queues`]: pause and resume a queue.
//! - [`schedules`]: pause, resume, trigger a schedule.

pub(crate) mod jobs;
pub(crate) mod queues;
pub(crate) mod schedules;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::response::{Redirect, Response};

use crate::error::{PageError, bad_form};
use crate::filter::with_query;
use crate::notice::Notice;
use crate::view::View;

/// What an action does to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobVerb {
    /// Run it again now.
    Retry,
    /// End it cancelled.
    Cancel,
    /// Remove it from the store.
    Delete,
}

impl JobVerb {
    /// Every verb, in the order forms offer them.
    pub(crate) const ALL: [JobVerb; 3] = [JobVerb::Retry, JobVerb::Cancel, JobVerb::Delete];

    /// The name forms carry (`"retry"`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobVerb::Retry => "retry",
            JobVerb::Cancel => "cancel",
            JobVerb::Delete => "delete",
        }
    }

    /// The verb named `name` in a form.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|verb| verb.as_str() == name)
    }

    /// The label of its button (`"Retry"`).
    pub(crate) fn title(self) -> &'static str {
        match self {
            JobVerb::Retry => "Retry",
            JobVerb::Cancel => "Cancel",
            JobVerb::Delete => "Delete",
        }
    }

    /// Its past tense, as a notice's query carries it (`"retried"`).
    pub(crate) fn past(self) -> &'static str {
        match self {
            JobVerb::Retry => "retried",
            JobVerb::Cancel => "cancelled",
            JobVerb::Delete => "deleted",
        }
    }

    /// The verb whose past tense is `past`.
    pub(crate) fn from_past(past: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|verb| verb.past() == past)
    }

    /// Its past tense starting a sentence (`"Retried"`).
    pub(crate) fn past_title(self) -> &'static str {
        match self {
            JobVerb::Retry => "Retried",
            JobVerb::Cancel => "Cancelled",
            JobVerb::Delete => "Deleted",
        }
    }

    /// What it does to the jobs a filter selects, as a sentence.
    pub(crate) fn effect(self) -> &'static str {
        match self {
            JobVerb::Retry => {
                "Every selected job that is not running becomes available to run again now; \
                 a job that spent all its attempts gets one more. Running jobs are left alone."
            }
            JobVerb::Cancel => {
                "Every selected pending job ends cancelled now; every running one is told \
                 at its next heartbeat. Finished jobs are left alone."
            }
            JobVerb::Delete => {
                "Every selected job that is not running is removed from the store, its \
                 history with it. Running jobs are left alone."
            }
        }
    }
}

/// The answer to an action on what its form names: `act` does it and returns the
/// notice saying so, which a redirect to `path` carries; a form that does not parse,
/// or an action that fails, is an error page.
async fn on_form<T>(
    view: View,
    form: Result<Form<T>, FormRejection>,
    path: &str,
    act: impl AsyncFnOnce(T) -> Result<Notice, PageError>,
) -> Response {
    let done = async {
        let Form(field) = form.map_err(bad_form)?;
        let notice = act(field).await?;
        Ok(redirect(&view, path, &notice))
    };
    view.respond(done.await)
}

/// A 303 redirect to `path` inside the dashboard, carrying `notice`.
pub(crate) fn redirect(view: &View, path: &str, notice: &Notice) -> Redirect {
    Redirect::to(&with_query(view.mount.href(path), &notice.to_query()))
}
