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

/// `n` jobs of `key`, kinds `{prefix}0` on, each queue of [`QUEUES`] in turn.
fn in_both_queues(prefix: &str, n: usize, key: Option<&str>) -> Vec<NewJob> {
    (0..n)
        .map(|i| job(&format!("{prefix}{i}"), QUEUES[i % 2], key))
        .collect()
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

/// [`STORES`] stores on `db`, through the first of which `jobs` are enqueued and
/// `limits` set, at `t(0)`.
async fn stores(
    db: &support::FreshSchema,
    jobs: Vec<NewJob>,
    limits: &[(LimitScope, Limit)],
) -> Vec<PostgresStore> {
    let mut stores = Vec::with_capacity(STORES);
    for _ in 0..STORES {
        stores.push(db.open().await);
    }
    let store = &stores[0];
    store.enqueue_many(jobs, t(0)).await.expect("enqueue");
    for (scope, limit) in limits {
        store.set_limit(scope, *limit, t(0)).await.expect("set");
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
    // The key's jobs in two queues, and jobs without a key in both.
    let mut jobs = in_both_queues("p", 400, Some("partner"));
    jobs.extend(in_both_queues("f", 200, None));
    let two = Limit::running(2).expect("valid");
    let stores = stores(&db, jobs, &[(LimitScope::Key("partner".into()), two)]).await;
    let store = &stores[0];
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
    let mut jobs = in_both_queues("r", 100, Some("tenant"));
    jobs.extend((0..100).map(|i| job(&format!("b{i}"), "bounded", None)));
    let rate = Limit::rate(3, Duration::from_secs(10)).expect("valid");
    let two = Limit::running(2).expect("valid");
    let limits = [
        (LimitScope::Key("tenant".into()), rate),
        (LimitScope::Queue("bounded".into()), two),
    ];
    let stores = stores(&db, jobs, &limits).await;
    let store = &stores[0];
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

/// A store whose last claim of a queue found a limit claims it next within the limits
/// at once, without the plain claim first; that claim still ends the expired leases on
/// their last attempt, and once no limit bears on the queue, claims go plain again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_after_a_limited_one_ends_expired_last_attempts_and_keeps_the_limits() {
    let Some(db) = test_schema() else { return };
    let store = db.open().await;
    let last_attempt = job("last", "a", None).max_attempts(1).expect("valid");
    store.enqueue(last_attempt, t(0)).await.expect("enqueue");
    let queues = ["a".to_owned()];
    let claim = async |limit, now| {
        let request = ClaimRequest::new("w", &queues, limit, t(now + 10));
        store.claim(request, t(now)).await.expect("claim")
    };
    assert_eq!(claim(1, 0).await.len(), 1, "the job, leased until t(10)");
    let keyed = (0..3).map(|i| job(&format!("k{i}"), "a", Some("partner")));
    store
        .enqueue_many(keyed.collect(), t(0))
        .await
        .expect("enqueue");
    let one = Limit::running(1).expect("valid");
    let partner = LimitScope::Key("partner".into());
    store.set_limit(&partner, one, t(0)).await.expect("set");
    assert_eq!(
        claim(5, 1).await.len(),
        1,
        "a limited claim: one partner job"
    );

    // The next claim goes to the limited claim at once.
    assert_eq!(
        claim(5, 20).await.len(),
        1,
        "the key's slot, freed at t(11)"
    );
    let last = store
        .list(&JobFilter::all().state(JobState::Failed), t(20))
        .await
        .expect("list");
    assert_eq!(last.len(), 1, "the expired last attempt ended");
    assert_eq!(last[0].last_error.as_deref(), Some("lease expired"));

    store.remove_limit(&partner, t(30)).await.expect("remove");
    assert_eq!(
        claim(5, 40).await.len(),
        3,
        "every partner job, no limit left"
    );
}

/// The starts a rate keeps on `schema`, oldest first: a row per claim and scope, its
/// time and its number of starts.
async fn kept_starts(db: &support::FreshSchema) -> Vec<(i64, i64)> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let statement = format!(
        "SELECT at, starts FROM \"{}\".limit_starts ORDER BY at, ctid",
        db.schema
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .fetch_all(&mut conn)
        .await
        .expect("the starts")
}

/// A claim counts its starts in one row per scope, and the oldest starts beyond the
/// rate are trimmed exactly (whole rows, then part of one); a lowered rate holds
/// claims back and opens when its rate_starts-th latest start leaves the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_counts_its_starts_in_one_row_and_the_oldest_are_trimmed_exactly() {
    let Some(db) = test_schema() else { return };
    let store = db.open().await;
    let jobs = (0..20).map(|i| job(&format!("r{i}"), "a", Some("rated")));
    store
        .enqueue_many(jobs.collect(), t(0))
        .await
        .expect("enqueue");
    let rated = LimitScope::Key("rated".to_owned());
    let rate = |starts| Limit::rate(starts, Duration::from_secs(10)).expect("valid");
    store.set_limit(&rated, rate(5), t(0)).await.expect("set");
    let queues = ["a".to_owned()];
    let claim = async |limit, now| {
        let request = ClaimRequest::new("w", &queues, limit, t(now + 60));
        store.claim(request, t(now)).await.expect("claim").len()
    };
    let micros = |seconds| leasehold_sql::row::micros(t(seconds));

    assert_eq!(claim(3, 0).await, 3);
    assert_eq!(claim(10, 1).await, 2, "the rate's other two");
    assert_eq!(claim(10, 2).await, 0, "the window is full");
    assert_eq!(kept_starts(&db).await, [(micros(0), 3), (micros(1), 2)]);

    // Both rows left the window (10, 20]: five more may start; four do.
    assert_eq!(claim(4, 20).await, 4);
    assert_eq!(
        kept_starts(&db).await,
        [(micros(1), 1), (micros(20), 4)],
        "the latest five starts: the oldest row gone, one of the next kept"
    );

    store
        .set_limit(&rated, rate(2), t(21))
        .await
        .expect("lower");
    assert_eq!(claim(10, 21).await, 0, "the lowered rate is full");
    assert_eq!(
        store.next_due(&queues).await.expect("next_due"),
        Some(t(30))
    );
    assert_eq!(
        claim(10, 30).await,
        2,
        "and opens when its second latest leaves"
    );
    assert_eq!(kept_starts(&db).await, [(micros(30), 2)]);
}
