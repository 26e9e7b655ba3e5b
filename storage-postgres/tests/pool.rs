//! A pool too small for its load says so: the first call that finds every connection
//! in use logs one warning naming `max_connections`, and only one.

mod support;

use std::time::Duration;

use leasehold::testing::conformance::t;
use leasehold::{JobFilter, JobStore};
use support::{capture_warnings, test_schema};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_pool_is_reported_once() {
    let Some(schema) = test_schema() else { return };
    let warnings = capture_warnings();
    let store = schema.open_with(|options| options.max_connections(1)).await;
    // A lock that holds the one connection's call until released.
    let mut admin = schema.connection().await;
    let lock = schema.lock_jobs(&mut admin).await;

    let held = tokio::spawn({
        let store = store.clone();
        async move { store.count(&JobFilter::all(), t(0)).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.count(&JobFilter::all(), t(0)).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock.rollback().await.expect("unlock");

    assert_eq!(held.await.unwrap().expect("the held call answers"), 0);
    for call in waiting {
        assert_eq!(call.await.unwrap().expect("a waiting call answers"), 0);
    }
    let said: Vec<String> = warnings
        .lines()
        .into_iter()
        .map(|(_, message)| message)
        .filter(|message| message.contains("max_connections"))
        .collect();
    assert_eq!(said.len(), 1, "one warning: {said:?}");
}
