//! A claimed job whose row does not read back (here a payload that is not JSON,
//! written behind the store's back) fails its claim with an error that names the job,
//! and blocks no other job of its queue: the claim is committed before its rows are
//! read into jobs, so the job stays leased until its lease expires.

use leasehold::testing::conformance::t;
use leasehold::{ClaimRequest, JobStore, NewJob, StoreError};
use leasehold_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_row_that_does_not_read_back_fails_its_claim_and_blocks_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    let store = SqliteStore::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    let jobs: Vec<NewJob> = (0..2)
        .map(|i| NewJob::new("k", serde_json::json!({ "i": i }), t(0)).unwrap())
        .collect();
    let enqueued = store.enqueue_many(jobs, t(0)).await.unwrap();
    let (bad, good) = (enqueued[0].job.id, enqueued[1].job.id);
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer
        .execute(
            "UPDATE jobs SET payload = 'not json' WHERE id = ?1",
            [bad.as_uuid().as_bytes().as_slice()],
        )
        .unwrap();
    drop(writer);
    let queues = [leasehold::DEFAULT_QUEUE.to_owned()];
    let claim = || store.claim(ClaimRequest::new("w", &queues, 1, t(60)), t(1));

    let error = claim().await.expect_err("the bad row fails its claim");
    let again = claim().await.expect("the next claim takes the next job");

    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&bad.to_string()) && message.contains("payload is not JSON"),
        "{message}"
    );
    assert_eq!(again.iter().map(|job| job.id).collect::<Vec<_>>(), [good]);
    let leased = store.get(bad, t(2)).await;
    assert!(
        leased.is_err(),
        "reading the bad job fails the same way: {leased:?}"
    );
    store.close().await;
}
