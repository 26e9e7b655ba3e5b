//! Completions from concurrent callers are written together, and each caller is still
//! answered for its own lease: once per live lease, `LeaseLost` for a stale one or a
//! repeat, `NotFound` for an unknown job.

mod support;

use std::sync::Arc;

use leasehold::testing::conformance::t;
use leasehold::{JobFilter, JobId, JobState, JobStore, Lease, StoreError};
use leasehold_sql::testing::claimed;
use support::test_schema;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_completions_are_each_answered_for_their_own_lease() {
    let Some(db) = test_schema() else { return };
    let store = Arc::new(db.open().await);
    let claimed = claimed(&*store, 300, t(1), t(600)).await;
    let mut calls: Vec<(Lease, i64)> = claimed.iter().map(|j| (j.lease(), 10)).collect();
    // Repeats of live leases, stale leases, an unknown job.
    calls.extend(claimed[..50].iter().map(|j| (j.lease(), 20)));
    calls.extend(claimed[50..70].iter().map(|j| {
        let stale = Lease {
            job_id: j.id,
            token: j.lease_token - 1,
        };
        (stale, 30)
    }));
    let unknown = Lease {
        job_id: JobId::new(t(0)),
        token: 1,
    };
    calls.push((unknown, 40));
    fastrand::shuffle(&mut calls);

    let tasks = calls.iter().map(|&(lease, at)| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { (lease, store.complete(lease, t(at)).await) })
    });
    let answers = futures::future::join_all(tasks).await;

    let mut completed_once = std::collections::HashMap::new();
    for answer in answers {
        let (lease, result) = answer.unwrap();
        match result {
            Ok(()) => *completed_once.entry(lease.job_id).or_insert(0) += 1,
            Err(StoreError::LeaseLost(lost)) => assert_eq!(lost, lease),
            Err(StoreError::NotFound(id)) => assert_eq!(id, unknown.job_id),
            Err(other) => panic!("{lease}: {other}"),
        }
    }
    assert_eq!(completed_once.len(), 300, "every job completed");
    assert!(
        completed_once.values().all(|n| *n == 1),
        "each exactly once"
    );
    let done = store
        .list(&JobFilter::all().state(JobState::Completed), t(700))
        .await
        .unwrap();
    assert_eq!(done.len(), 300);
    assert!(
        done.iter()
            .all(|j| j.finished_at == Some(t(10)) || j.finished_at == Some(t(20))),
        "each finished at the time its completing call gave"
    );
}
