//! Limits on SQLite beyond the contract's cases: a full key's backlog holds back no
//! other job, and a rate keeps only the starts it needs.

use leasehold::testing::conformance::t;
use leasehold::{ClaimRequest, JobStore, Limit, LimitScope, NewJob};
use leasehold_sql::row::micros;
use leasehold_sqlite::SqliteStore;

/// A job due at t(0) in the default queue, under `limit_key` if any.
fn job(kind: &str, limit_key: Option<&str>) -> NewJob {
    let job = NewJob::new(kind, serde_json::json!({}), t(0)).expect("a valid job");
    match limit_key {
        Some(key) => job.limit_key(key).expect("a valid key"),
        None => job,
    }
}

async fn claim(store: &SqliteStore, limit: usize, now: i64) -> Vec<String> {
    let queues = ["default".to_owned()];
    let request = ClaimRequest::new("w", &queues, limit, t(now + 60));
    let claimed = store.claim(request, t(now)).await.expect("claims");
    claimed.into_iter().map(|job| job.kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_key_of_5000_jobs_ahead_holds_back_no_other_job() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let blocked = LimitScope::Key("blocked".to_owned());
    let one = Limit::running(1).unwrap();
    store
        .enqueue(job("holder", Some("blocked")), t(0))
        .await
        .unwrap();
    store.set_limit(&blocked, one, t(0)).await.unwrap();
    assert_eq!(claim(&store, 1, 0).await, ["holder"]);
    let backlog = (0..5_000)
        .map(|_| job("backlog", Some("blocked")))
        .collect();
    store.enqueue_many(backlog, t(0)).await.unwrap();
    store
        .enqueue(job("other key", Some("other")), t(0))
        .await
        .unwrap();
    store.enqueue(job("no key", None), t(0)).await.unwrap();

    let claimed = claim(&store, 10, 1).await;

    assert_eq!(claimed, ["other key", "no key"]);
    store
        .set_limit(&blocked, Limit::running(3).unwrap(), t(2))
        .await
        .unwrap();
    assert_eq!(
        claim(&store, 10, 2).await,
        ["backlog", "backlog"],
        "a key with room takes its first jobs, only as many as it allows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_keeps_only_its_latest_starts() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let jobs = (0..20).map(|_| job("rated", Some("rated"))).collect();
    store.enqueue_many(jobs, t(0)).await.unwrap();
    let rate = Limit::rate(3, std::time::Duration::from_secs(1)).unwrap();
    store
        .set_limit(&LimitScope::Key("rated".to_owned()), rate, t(0))
        .await
        .unwrap();

    let mut claimed = 0;
    for now in 0..6 {
        claimed += claim(&store, 10, now).await.len();
    }

    assert_eq!(claimed, 18, "three per second");
    let starts: Vec<i64> = sqlx::query_scalar("SELECT at FROM limit_starts ORDER BY at")
        .fetch_all(store.read_pool())
        .await
        .unwrap();
    assert_eq!(
        starts,
        [micros(t(5)); 3],
        "the latest three starts, at t(5)"
    );
}
