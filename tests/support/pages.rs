//! The jobs of the workflow tests: a page check, and one digest of them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use leasehold::Job;
use leasehold::worker::{JobContext, JobError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CheckPage {
    pub(crate) url: String,
}

impl Job for CheckPage {
    const KIND: &'static str = "check_page";
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SendDigest;

impl Job for SendDigest {
    const KIND: &'static str = "send_digest";
}

/// A check of the page `url`.
pub(crate) fn page(url: &str) -> CheckPage {
    CheckPage { url: url.into() }
}

/// A page check's run, as [`check_pages`] returns it.
pub(crate) type Checked = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

/// A handler of page checks that counts each check in `checked`; the page `gone`
/// fails for good with `error`, every other one succeeds.
pub(crate) fn check_pages(
    checked: &Arc<AtomicUsize>,
    gone: &'static str,
    error: &'static str,
) -> impl Fn(CheckPage, JobContext) -> Checked + Send + Sync + 'static {
    let checked = Arc::clone(checked);
    move |job: CheckPage, _: JobContext| {
        let checked = Arc::clone(&checked);
        Box::pin(async move {
            checked.fetch_add(1, Ordering::SeqCst);
            if job.url == gone {
                return Err(JobError::permanent(error));
            }
            Ok(())
        })
    }
}
