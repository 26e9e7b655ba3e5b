//! Limits on SQLite beyond the contract's cases: a full key's backlog holds back no
//! other job, a rate keeps only the starts it needs (a row per claim, trimmed exactly),
//! and a claim counts its starts whichever way the writer sends it.

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
    let starts: Vec<i64> = kept_starts(&store)
        .await
        .iter()
        .flat_map(|&(at, starts)| std::iter::repeat_n(at, usize::try_from(starts).unwrap()))
        .collect();
    assert_eq!(
        starts,
        [micros(t(5)); 3],
        "the latest three starts, at t(5)"
    );
}

/// The starts the rates keep, oldest first: a row per claim and scope, its time and
/// its number of starts.
async fn kept_starts(store: &SqliteStore) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT at, starts FROM limit_starts ORDER BY at, rowid")
        .fetch_all(store.read_pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_counts_its_starts_in_one_row_and_the_oldest_are_trimmed_exactly() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let jobs = (0..20).map(|_| job("rated", Some("rated"))).collect();
    store.enqueue_many(jobs, t(0)).await.unwrap();
    let rated = LimitScope::Key("rated".to_owned());
    let rate = |starts| Limit::rate(starts, std::time::Duration::from_secs(10)).unwrap();
    store.set_limit(&rated, rate(5), t(0)).await.unwrap();

    assert_eq!(claim(&store, 3, 0).await.len(), 3);
    assert_eq!(claim(&store, 10, 1).await.len(), 2, "the rate's other two");
    assert_eq!(claim(&store, 10, 2).await.len(), 0, "the window is full");
    assert_eq!(
        kept_starts(&store).await,
        [(micros(t(0)), 3), (micros(t(1)), 2)],
        "a row per claim, not per job"
    );

    // Both rows left the window (10, 20]: five more may start; four do.
    assert_eq!(claim(&store, 4, 20).await.len(), 4);
    assert_eq!(
        kept_starts(&store).await,
        [(micros(t(1)), 1), (micros(t(20)), 4)],
        "the latest five starts: the oldest row gone, one of the next kept"
    );

    store.set_limit(&rated, rate(2), t(21)).await.unwrap();
    assert_eq!(
        kept_starts(&store).await,
        [(micros(t(20)), 2)],
        "lowering the rate keeps its latest two"
    );
    // The lowered rate is full until ten seconds on.
    assert_eq!(claim(&store, 10, 21).await.len(), 0);
    assert_eq!(claim(&store, 10, 30).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_counts_its_starts_when_another_store_set_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let claimer = SqliteStore::connect(&url).await.unwrap();
    let operator = SqliteStore::connect(&url).await.unwrap();
    let jobs = (0..10).map(|_| job("rated", Some("rated"))).collect();
    claimer.enqueue_many(jobs, t(0)).await.unwrap();
    // The claimer's last claim saw no rate: it sends its next claim whole, in one call.
    assert_eq!(claim(&claimer, 1, 0).await.len(), 1);

    let rate = Limit::rate(3, std::time::Duration::from_secs(10)).unwrap();
    operator
        .set_limit(&LimitScope::Key("rated".to_owned()), rate, t(1))
        .await
        .unwrap();

    assert_eq!(claim(&claimer, 10, 1).await.len(), 3, "as the rate allows");
    assert_eq!(
        kept_starts(&claimer).await,
        [(micros(t(1)), 3)],
        "the claim that found the rate counted its starts"
    );
    assert_eq!(claim(&claimer, 10, 2).await.len(), 0, "the rate is full");
    claimer.close().await;
    operator.close().await;
}
