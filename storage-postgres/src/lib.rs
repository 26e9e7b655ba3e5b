//! `leasehold-postgres`: a durable [`JobStore`](leasehold::JobStore) on PostgreSQL,
//! for applications that outgrow one machine.
//!
//! - [`PostgresStore`]: the store; [`PostgresStore::connect`] connects and migrates
//!   the store's schema (`leasehold` by default).
//! - [`PostgresStoreOptions`]: URL, schema, pool size, timeouts, application name and
//!   the server clock's settings.
//! - [`ServerClock`]: the clock the store offers (`JobStore::clock`, which
//!   `Queue::new` reads): it follows the server's clock, so workers on machines whose
//!   clocks disagree still judge leases on one clock.
//! - [`PostgresStore::subscribe_enqueued`]: `LISTEN/NOTIFY` wake-ups across machines.
//! - [`TransactionalEnqueue`](leasehold_sql::TransactionalEnqueue) for `PostgresStore`:
//!   typed jobs enqueued inside the caller's own transaction.
//!
//! Any number of stores, in processes on any number of machines, may work one schema:
//! a claim is one statement that locks the rows it takes with `FOR UPDATE SKIP
//! LOCKED`, so concurrent claims neither wait for each other nor take the same job;
//! every write under a lease checks the lease's token; schedule slots advance by
//! compare-and-set. Flow-control limits (`JobStore::set_limit`) hold across
//! processes: a claim that a stored limit bears on locks that limit's row and claims
//! within it in the same transaction, so claims of one limit take turns (claims no
//! limit bears on stay one statement). Like every store, it is told the time: no
//! statement about jobs reads the database's clock; only the server clock's probe
//! does, to follow it.
//!
//! Every call is bounded in time (the statement timeout, by the server and by the
//! store; the acquire timeout for a free connection), so a worker cut off by a network
//! partition gets an error instead of hanging; a connection that gave no answer is
//! closed, never reused. Errors say what to do: [`StoreError::Busy`] and
//! [`StoreError::Backend`] pass by themselves, [`StoreError::Permanent`] (a full disk,
//! a read-only server, missing privileges, a refused login, corrupted data) needs an
//! operator, and its message says what to do.
//!
//! [`StoreError::Busy`]: leasehold::StoreError::Busy
//! [`StoreError::Backend`]: leasehold::StoreError::Backend
//! [`StoreError::Permanent`]: leasehold::StoreError::Permanent
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), leasehold::StoreError> {
//! use leasehold::{ClaimRequest, JobStore, NewJob, time::Duration};
//! use leasehold_postgres::PostgresStore;
//! use time::macros::datetime;
//!
//! let store = PostgresStore::connect("postgres://app@127.0.0.1:5432/app").await?;
//! let now = datetime!(2000-01-01 0:00 UTC);
//! let job = NewJob::new("greet", serde_json::json!({"name": "Ada"}), now).unwrap();
//! store.enqueue(job, now).await?;
//!
//! let queues = ["default".to_owned()];
//! let request = ClaimRequest::new("worker-1", &queues, 10, now + Duration::minutes(1));
//! let claimed = store.claim(request, now).await?;
//! store.complete(claimed[0].lease(), now).await?;
//! # Ok(())
//! # }
//! ```

mod call;
mod clock;
mod completer;
mod connect;
mod enqueue;
mod error;
mod notify;
mod options;
mod row;
mod sampler;
mod schema;
mod sql;
mod store;

pub use clock::ServerClock;
pub use options::{DEFAULT_APPLICATION_NAME, DEFAULT_SCHEMA, PostgresStoreOptions};
pub use schema::migration_script;
pub use store::PostgresStore;
