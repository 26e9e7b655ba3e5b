//! Limits under concurrent claims on PostgreSQL, beyond the conformance suite: several
//! stores (each its own pool, as separate processes would be) claim at the same
//! instant, round after round, and together never lease more than a key's
//! `max_running` live jobs, nor more than a rate's starts in any window, nor more than
//! a queue's limit; jobs without a limit keep flowing.

mod support;

use std::sync::Arc;
use std::time::Duration;

use leasehold::testing::conformance::t;
use leasehold::time::OffsetDateTime;
use leasehold::{
    ClaimRequest, JobFilter, JobRecord, JobState, JobStore, Limit, LimitScope, NewJob,
};
use leasehold_postgres::PostgresStore;
use support::test_schema;
use tokio::sync::Barrier;

const STORES: usize = 4;
const QUEUES: [&str; 2] = ["a", "b"];

/// The queues each store claims: one queue, the other, both.
fn queue_sets() -> Vec<Vec<String>> {
    let names = |names: &[&str]| names.iter().map(|&n| n.to_owned()).collect();
    vec![
        names(&["a"]),
        names(&["b"]),
        names(&["a", "b"]),
        names(&["b", "a"]),
    ]
}
const ROUNDS: usize = 60;

/// Round `round`'s time, in seconds after `t(0)`.
fn seconds(round: usize) -> i64 {
    i64::try_from(round).expect("a few rounds")
}

fn job(kind: &str, queue: &str, key: Option<&str>) -> NewJob {
    let job = NewJob::new(kind, serde_json::json!({}), t(0))
        .and_then(|job| job.queue(queue))
        .expect("a valid job");
    match key {
        Some(key) => job.limit_key(key).expect("a valid key"),
        None => job,
    }
}

/// Every store claims up to `limit` jobs at `now` at the same instant (leases of
/// `lease_secs`), each of its own queues (store `i` of `queues[i % queues.len()]`, so
/// the claims read different jobs of one key); answers all they leased.
async fn claim_together(
    stores: &[PostgresStore],
    queues: &[Vec<String>],
    limit: usize,
    now: OffsetDateTime,
    lease_secs: i64,
) -> Vec<JobRecord> {
    let barrier = Arc::new(Barrier::new(stores.len()));
    let tasks: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let queues = queues[i % queues.len()].clone();
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let until = now + leasehold::time::Duration::seconds(lease_secs);
                let request = ClaimRequest::new("w", &queues, limit, until);
                store.claim(request, now).await.expect("claim")
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.expect("the claim task ends"));
    }
    claimed
}

/// The jobs of `key` holding a live lease at `now`.
async fn live_of_key(store: &PostgresStore, key: &str, now: OffsetDateTime) -> usize {
    let running = store
        .list(&JobFilter::all().state(JobState::Running), now)
        .await
        .expect("list");
    running
        .iter()
        .filter(|job| job.limit_key.as_deref() == Some(key))
        .filter(|job| job.lease_until.is_some_and(|until| until > now))
        .count()
}

async fn stores(db: &support::FreshSchema) -> Vec<PostgresStore> {
    let mut stores = Vec::with_capacity(STORES);
    for _ in 0..STORES {
        stores.push(db.open().await);
    }
    stores
}

/// A key limited to 2 running, its jobs in two queues: concurrent claims of several
/// stores, of one queue, the other or both, round after round (some jobs completed,
/// some leases left to expire), never lease more than 2 live jobs of it together, and
/// the jobs without a key keep being claimed beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_run_more_than_a_keys_max_running() {
    let Some(db) = test_schema() else { return };
    let stores = stores(&db).await;
    let store = &stores[0];
    // The key's jobs in two queues, and jobs without a key in both.
    let mut jobs: Vec<NewJob> = (0..400)
        .map(|i| job(&format!("p{i}"), QUEUES[i % 2], Some("partner")))
        .collect();
    jobs.extend((0..200).map(|i| job(&format!("f{i}"), QUEUES[i % 2], None)));
    store.enqueue_many(jobs, t(0)).await.expect("enqueue");
    let two = Limit::running(2).expect("valid");
    store
        .set_limit(&LimitScope::Key("partner".into()), two, t(0))
        .await
        .expect("set");
    let queues = queue_sets();

    let (mut most, mut partner_claims, mut free_claims) = (0, 0, 0);
    for round in 0..ROUNDS {
        let now = t(seconds(round));
        // Leases of 3 s: a job left running frees its slot 3 rounds on.
        let claimed = claim_together(&stores, &queues, 3, now, 3).await;
        let live = live_of_key(store, "partner", now).await;
        assert!(live <= 2, "round {round}: {live} live partner jobs");
        most = most.max(live);
        for job in &claimed {
            if job.limit_key.is_some() {
                partner_claims += 1;
                // Most partner jobs complete; some are left to their lease's end.
                if fastrand::u8(0..4) == 0 {
                    continue;
                }
            } else {
                free_claims += 1;
            }
            store.complete(job.lease(), now).await.expect("complete");
        }
    }
    assert_eq!(most, 2, "the key's limit was reached");
    assert!(
        partner_claims >= ROUNDS,
        "the key's jobs kept flowing: {partner_claims}"
    );
    assert!(free_claims > 0, "jobs without a key were claimed beside it");
}

/// A key limited to 3 starts per 10 s (its jobs in two queues) and a queue limited to
/// 2 running: concurrent claims never count more than 3 starts of the key in any 10 s,
/// nor lease more than 2 live jobs of the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_keep_a_rate_and_a_queue_limit() {
    let Some(db) = test_schema() else { return };
    let stores = stores(&db).await;
    let store = &stores[0];
    let mut jobs: Vec<NewJob> = (0..100)
        .map(|i| job(&format!("r{i}"), QUEUES[i % 2], Some("tenant")))
        .collect();
    jobs.extend((0..100).map(|i| job(&format!("b{i}"), "bounded", None)));
    store.enqueue_many(jobs, t(0)).await.expect("enqueue");
    let rate = Limit::rate(3, Duration::from_secs(10)).expect("valid");
    store
        .set_limit(&LimitScope::Key("tenant".into()), rate, t(0))
        .await
        .expect("set");
    let two = Limit::running(2).expect("valid");
    store
        .set_limit(&LimitScope::Queue("bounded".into()), two, t(0))
        .await
        .expect("set");
    let queues: Vec<Vec<String>> = queue_sets()
        .into_iter()
        .map(|mut set| {
            set.push("bounded".to_owned());
            set
        })
        .collect();

    let mut starts: Vec<i64> = Vec::new();
    let mut most_bounded = 0;
    for round in 0..ROUNDS {
        let now = t(seconds(round));
        let claimed = claim_together(&stores, &queues, 4, now, 600).await;
        let running = store
            .count(
                &JobFilter::all().queue("bounded").state(JobState::Running),
                now,
            )
            .await
            .expect("count");
        assert!(
            running <= 2,
            "round {round}: {running} bounded jobs running"
        );
        most_bounded = most_bounded.max(running);
        for job in &claimed {
            if job.limit_key.is_some() {
                starts.push(seconds(round));
                store.complete(job.lease(), now).await.expect("complete");
            } else if fastrand::bool() {
                store.complete(job.lease(), now).await.expect("complete");
            }
        }
    }
    for window in starts.windows(4) {
        assert!(
            window[3] - window[0] >= 10,
            "four starts of the key within 10 s: {window:?}"
        );
    }
    assert!(
        starts.len() >= 3 * (ROUNDS / 10),
        "the rate was reached: {starts:?}"
    );
    assert_eq!(most_bounded, 2, "the queue's limit was reached");
}
