//! The dashboard's scenarios on a `MemoryStore`.

mod suite;

dashboard_suite!(suite::Harness::memory);

use std::sync::Arc;

use axum::http::StatusCode;
use leasehold::{JobId, JobStore, StoreError};
use leasehold_memory::MemoryStore;

/// A store written before the `dependents` verb: it answers `Unsupported`.
struct BeforeDependents(MemoryStore);

#[async_trait::async_trait]
impl JobStore for BeforeDependents {
    fn delegate(&self) -> Option<&dyn JobStore> {
        Some(&self.0)
    }

    async fn dependents(&self, _: JobId) -> Result<Vec<JobId>, StoreError> {
        Err(StoreError::Unsupported("dependents"))
    }
}

/// A job page on a store without `dependents` shows the job, with no dependents.
#[tokio::test]
async fn a_job_page_on_a_store_without_dependents_shows_the_job() {
    let h = suite::Harness::with_store(Arc::new(BeforeDependents(MemoryStore::new())));
    let job = h.enqueue("fetch", "pages").await;

    let page = h.get(&format!("/jobs/{job}")).await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.has("fetch"), "{}", page.body);
    assert!(!page.has("<h2>Dependents</h2>"));
}
