//! Every call of a store is bounded in time, and its connections can be found.
//!
//! - Each connection the store opens (pool and `LISTEN`) carries the store's
//!   `application_name` and `statement_timeout`, the latter winning over the URL's.
//! - A statement held up by a lock is cancelled by the server at the statement
//!   timeout: `Busy`, and the connection stays in use.
//! - A call that gets no answer at all (a network partition that keeps the TCP
//!   connection open, made by `support/proxy.rs`) fails at the statement timeout plus
//!   the grace, naming the timeout; its connection is closed, never reused; the store
//!   works again once the network heals.
//! - A connect to a server that does not answer fails at the connect timeout.

// Shared with the partition tests, which use all of it.
#[allow(dead_code)]
#[path = "support/proxy.rs"]
mod proxy;
mod support;

use std::time::{Duration, Instant};

use leasehold::testing::conformance::t;
use leasehold::{JobFilter, JobStore, StoreError};
use leasehold_postgres::{PostgresStore, PostgresStoreOptions};
use proxy::PartitionProxy;
use sqlx::PgConnection;
use support::{options, test_schema};

/// The statement timeout of the stores under test; the store's own bound is 2 s more.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(1);
const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Room for a loaded machine on top of a bound.
const SLACK: Duration = Duration::from_millis(1_500);

async fn backends_named(conn: &mut PgConnection, name: &str) -> Vec<i32> {
    sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
        .bind(name)
        .fetch_all(conn)
        .await
        .expect("pg_stat_activity")
}

/// The settings of the stores whose calls are held up: one connection (so each call
/// runs on the backend [`backend_pid`] names), the [`STATEMENT_TIMEOUT`], and no clock
/// sampler, whose statements would take that connection too.
fn under_test(options: PostgresStoreOptions) -> PostgresStoreOptions {
    options
        .max_connections(1)
        .statement_timeout(STATEMENT_TIMEOUT)
        .server_clock(false)
}

async fn backend_pid(store: &PostgresStore) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .expect("the store's connection answers")
}

async fn count(store: &PostgresStore) -> Result<u64, StoreError> {
    store.count(&JobFilter::all(), t(0)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_of_a_store_carries_its_application_name_and_statement_timeout() {
    let Some(db) = test_schema() else { return };
    let (url, schema) = (&db.url, &db.schema);
    let name = format!("{schema}_app");
    let separator = if url.contains('?') { '&' } else { '?' };
    // The URL asks for another statement timeout: the store's option wins.
    let with_timeout = format!("{url}{separator}options=-c%20statement_timeout%3D1min");
    let store = PostgresStore::connect_with(
        options(&with_timeout, schema)
            .application_name(&name)
            .statement_timeout(Duration::from_millis(1_500)),
    )
    .await
    .expect("the store opens");
    let mut woken = store.subscribe_enqueued();
    tokio::time::timeout(Duration::from_secs(10), woken.changed())
        .await
        .expect("the listener connects")
        .expect("the store lives");
    let mut conn = db.connection().await;

    let settings: (String, String) = sqlx::query_as(
        "SELECT current_setting('statement_timeout'), current_setting('application_name')",
    )
    .fetch_one(store.pool())
    .await
    .expect("the settings");
    let pool_pid = backend_pid(&store).await;
    let named = backends_named(&mut conn, &name).await;

    assert_eq!(settings, ("1500ms".to_owned(), name.clone()));
    assert!(named.contains(&pool_pid), "the pool's connection is named");
    assert!(
        named.len() >= 2,
        "the LISTEN connection is named too: {named:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_held_up_by_a_lock_is_cancelled_by_the_server_and_its_connection_stays() {
    let Some(db) = test_schema() else { return };
    let store = db.open_with(under_test).await;
    let pid_before = backend_pid(&store).await;
    let mut locker = db.connection().await;
    let tx = db.lock_jobs(&mut locker).await;

    let started = Instant::now();
    let held_up = count(&store).await;
    let took = started.elapsed();
    tx.rollback().await.expect("the lock goes");
    let after = count(&store).await;
    let pid_after = backend_pid(&store).await;

    eprintln!("the server cancelled the held-up count after {took:?}");
    assert!(
        matches!(held_up, Err(StoreError::Busy(_))),
        "cancelled by the server's statement timeout: {held_up:?}"
    );
    assert!(
        took >= STATEMENT_TIMEOUT && took < CALL_TIMEOUT,
        "the server's bound, not the store's: {took:?}"
    );
    assert_eq!(after.expect("the store works again"), 0);
    assert_eq!(
        pid_before, pid_after,
        "a cancelled statement leaves its connection usable: it stays in the pool"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_an_answer_fails_at_the_call_timeout_and_its_connection_is_closed() {
    let Some(db) = test_schema() else { return };
    let name = format!("{}_cut", db.schema);
    let proxy = PartitionProxy::start(&db.url).await;
    let store = PostgresStore::connect_with(
        under_test(options(proxy.url(), &db.schema))
            .acquire_timeout(Duration::from_secs(1))
            .application_name(&name),
    )
    .await
    .expect("the store opens through the proxy");
    let mut observer = db.connection().await;
    let pid_before = backend_pid(&store).await;

    // Cut after the next statement went out (the pool's ping of its idle connection
    // before it goes through): the statement runs, its answer never comes back.
    proxy.partition_after_next_request();
    let started = Instant::now();
    let cut_off = count(&store).await;
    let first_took = started.elapsed();
    // The pool's one connection is gone: the next calls try to open another, which
    // cannot get through either, and give up at the acquire timeout.
    let mut later = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let answer = count(&store).await;
        later.push((started.elapsed(), answer));
    }
    proxy.heal();
    let healed = Instant::now();
    let mut recovered = count(&store).await;
    while recovered.is_err() && healed.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        recovered = count(&store).await;
    }
    let recovered_after = healed.elapsed();
    let pid_after = backend_pid(&store).await;
    let mut old_backend_left = false;
    for _ in 0..100 {
        if !backends_named(&mut observer, &name)
            .await
            .contains(&pid_before)
        {
            old_backend_left = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    eprintln!(
        "the cut-off call failed after {first_took:?}; later calls after {:?}; the store \
         answered again {recovered_after:?} after the heal",
        later.iter().map(|(took, _)| *took).collect::<Vec<_>>()
    );
    let message = match &cut_off {
        Err(error @ StoreError::Backend(_)) => error.to_string(),
        other => panic!("a call without an answer is a Backend error: {other:?}"),
    };
    assert!(message.contains("call timeout of 3000 ms"), "{message}");
    assert!(
        first_took >= CALL_TIMEOUT && first_took < CALL_TIMEOUT + SLACK,
        "bounded by the statement timeout plus the grace: {first_took:?}"
    );
    for (took, answer) in &later {
        assert!(
            answer.as_ref().is_err_and(StoreError::is_transient),
            "{answer:?}"
        );
        assert!(*took < CALL_TIMEOUT + SLACK, "never hangs: {took:?}");
    }
    assert_eq!(recovered.expect("the store works after the heal"), 0);
    assert_ne!(
        pid_before, pid_after,
        "the cut-off connection was not reused"
    );
    assert!(
        old_backend_left,
        "the cut-off connection was closed (its server process ended after the heal)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_to_a_server_that_does_not_answer_fails_at_the_connect_timeout() {
    let Some(db) = test_schema() else { return };
    let proxy = PartitionProxy::start(&db.url).await;
    proxy.partition();

    let started = Instant::now();
    let opened = PostgresStore::connect_with(
        options(proxy.url(), &db.schema)
            .connect_timeout(Duration::from_secs(1))
            .acquire_timeout(Duration::from_secs(30)),
    )
    .await;
    let took = started.elapsed();

    let message = match &opened {
        Err(error @ StoreError::Busy(_)) => error.to_string(),
        other => panic!("a connect without an answer is Busy: {other:?}"),
    };
    assert!(message.contains("connect timeout of 1000 ms"), "{message}");
    assert!(
        !message.contains("postgres://postgres:"),
        "no password: {message}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(1) + SLACK,
        "{took:?}"
    );
}
