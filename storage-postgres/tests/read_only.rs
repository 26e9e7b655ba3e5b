//! A server that refuses writes is an error for an operator, saying what to do, and not
//! one the store retries: `StoreError::Permanent`. The store works again, through the
//! same handle, once the cause is gone.

mod support;

use leasehold::testing::conformance::t;
use leasehold::{JobStore, NewJob, StoreError};
use leasehold_postgres::PostgresStore;
use support::{options, test_schema};

fn job() -> NewJob {
    NewJob::new("k", serde_json::json!({}), t(0)).expect("a valid job")
}

async fn set_read_only(store: &PostgresStore, on: bool) {
    let statement = if on {
        "SET default_transaction_read_only = on"
    } else {
        "SET default_transaction_read_only = off"
    };
    // The store's only connection: the setting stays with it in the pool.
    let mut conn = store
        .pool()
        .acquire()
        .await
        .expect("the store's connection");
    sqlx::query(statement)
        .execute(&mut *conn)
        .await
        .expect("the setting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_on_a_read_only_connection_is_permanent_and_names_the_cause() {
    let Some(db) = test_schema() else { return };
    let store = db.open_with(|options| options.max_connections(1)).await;
    set_read_only(&store, true).await;

    let refused = store.enqueue(job(), t(0)).await;
    set_read_only(&store, false).await;
    let accepted = store.enqueue(job(), t(0)).await;

    let Err(error @ StoreError::Permanent { .. }) = &refused else {
        panic!("a read-only transaction is Permanent: {refused:?}");
    };
    let message = error.to_string();
    eprintln!("{message}");
    assert!(!error.is_transient());
    assert!(message.contains("refuses writes (read-only"), "{message}");
    assert!(message.contains("hot standby"), "{message}");
    assert!(
        message.contains("default_transaction_read_only"),
        "{message}"
    );
    let source = std::error::Error::source(error)
        .expect("the server's error")
        .to_string();
    assert!(source.contains("read-only transaction"), "{source}");
    assert!(accepted.is_ok(), "the same store works again: {accepted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_on_a_read_only_url_fails_to_open_and_says_why() {
    let Some(db) = test_schema() else { return };
    db.open().await; // creates the schema
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let read_only = format!(
        "{}{separator}options=-c%20default_transaction_read_only%3Don",
        db.url
    );

    let opened = PostgresStore::connect_with(options(&read_only, &db.schema)).await;

    match opened {
        Err(StoreError::Permanent { message, .. }) => {
            assert!(message.contains("read-only"), "{message}");
        }
        other => panic!("opening on a read-only connection is Permanent: {other:?}"),
    }
}
