//! The jobs of the workflow tests: a page check, and one digest of them.

use leasehold::Job;
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
