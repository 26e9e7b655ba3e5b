//! Prune deletes in small transactions, oldest first, up to its limit.

use leasehold::testing::claim_default;
use leasehold::testing::conformance::t;
use leasehold::{JobFilter, JobState, JobStore, NewJob};
use leasehold_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_of_more_than_one_batch_deletes_the_oldest_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let jobs: Vec<NewJob> = (0..1300)
        .map(|_| NewJob::new("k", serde_json::json!({}), t(0)).unwrap())
        .collect();
    store.enqueue_many(jobs, t(0)).await.unwrap();
    let claimed = claim_default(&store, 1300, t(0), t(60)).await.unwrap();
    // Job n finishes at t(n + 1), so "oldest first" has one answer.
    let completions = claimed
        .iter()
        .zip(1..)
        .map(|(job, n)| store.complete(job.lease(), t(n)));
    for outcome in futures::future::join_all(completions).await {
        outcome.unwrap();
    }

    let pruned = store.prune(t(2000), 1200).await.unwrap();

    let left = store.list(&JobFilter::all(), t(2000)).await.unwrap();
    assert_eq!(pruned, 1200);
    assert_eq!(left.len(), 100);
    assert!(left.iter().all(|j| j.state == JobState::Completed));
    assert!(
        left.iter().all(|j| j.finished_at > Some(t(1200))),
        "the newest 100 are left"
    );
    assert_eq!(store.prune(t(2000), 1200).await.unwrap(), 100);
}
