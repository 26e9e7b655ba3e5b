//! `leasehold-sqlite`: a durable [`JobStore`](leasehold::JobStore) on SQLite.
//!
//! - [`SqliteStore`]: the store; [`SqliteStore::connect`] opens (and creates) a
//!   database file, migrates it and verifies its settings.
//! - [`SqliteStoreOptions`]: URL or path, [`Synchronous`] mode, busy timeout, pool and
//!   batch sizes.
//! - [`TransactionalEnqueue`](leasehold_sql::TransactionalEnqueue) for `SqliteStore`:
//!   typed jobs enqueued inside the caller's own transaction on the same file.
//!
//! Several processes may share one database file: WAL lets readers run beside the
//! writer, every write transaction starts with `BEGIN IMMEDIATE`, and every write under
//! a lease checks the lease's token, so a job is never leased to two workers at once and
//! a stale worker never overwrites the one that took over.
//!
//! Speed comes from batching. Concurrent calls of one store are committed together
//! (group commit, heartbeats first), and within a group all completions share one
//! statement, as do all enqueues of jobs without unique keys; a claim is one
//! `UPDATE ... RETURNING` that reads only the rows it takes, through partial indexes
//! (due jobs in claim order, leases by expiry). Flow-control limits
//! ([`JobStore::set_limit`](leasehold::JobStore::set_limit)) hold in the same statement:
//! a limited key's jobs are walked one index step each, only as many as its limit
//! allows, and the rows of a full key are passed over (a row read each); a trigger
//! counts the starts a rate limits. On a file database with [`Synchronous::Normal`],
//! a group of plain enqueues (no unique key, no dependencies), and a worker's group of
//! completions with at most one claim, commits on a SQLite connection the writer opens
//! for itself, with no hand-off to sqlx's connection thread; it never waits there for
//! a lock, and anything that fails there runs again through sqlx, which answers each
//! error. The writer is a task on the runtime the store was opened on until its first
//! claim there (a process that only enqueues keeps it so: a lone caller's enqueue then
//! costs no thread wake-up), and from then on runs on a thread of its own,
//! `leasehold-sqlite-writer`, beside the jobs' tasks rather than queued behind them.
//!
//! Durability: with [`Synchronous::Normal`] (the default) a committed call survives a
//! crash of the process; [`Synchronous::Full`] makes it survive power loss too.
//!
//! Give the store a database of its own: it refuses a database that holds other
//! tables, or that a newer leasehold-sqlite migrated, with
//! [`StoreError::Incompatible`](leasehold::StoreError::Incompatible). Every time in the
//! database is integer microseconds given by the caller; no statement reads the
//! database's clock.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), leasehold::StoreError> {
//! use leasehold::{ClaimRequest, JobStore, NewJob, time::Duration};
//! use leasehold_sqlite::SqliteStore;
//! use time::macros::datetime;
//!
//! let dir = std::env::temp_dir().join(format!("leasehold-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let store = SqliteStore::connect(&format!("sqlite://{}/jobs.db", dir.display())).await?;
//! let now = datetime!(2000-01-01 0:00 UTC);
//! let job = NewJob::new("greet", serde_json::json!({"name": "Ada"}), now).unwrap();
//! store.enqueue(job, now).await?;
//!
//! let queues = ["default".to_owned()];
//! let request = ClaimRequest::new("worker-1", &queues, 10, now + Duration::minutes(1));
//! let claimed = store.claim(request, now).await?;
//! store.complete(claimed[0].lease(), now).await?;
//! # drop(store);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```

mod bulk;
mod checkpoint;
mod connect;
mod direct;
mod enqueue;
mod error;
mod filter;
mod options;
mod row;
mod schema;
mod settle;
mod sql;
mod store;
mod transition;
mod writer;

/// Jobs by id, hashed with foldhash: the writer hashes each job of a group a few
/// times, and SipHash's defence against chosen keys buys nothing for ids the store
/// made.
pub(crate) type JobSet = std::collections::HashSet<leasehold::JobId, foldhash::fast::RandomState>;

/// An empty [`JobSet`] with room for `capacity` jobs.
pub(crate) fn job_set(capacity: usize) -> JobSet {
    JobSet::with_capacity_and_hasher(capacity, foldhash::fast::RandomState::default())
}

/// A map by job id, hashed as [`JobSet`] is.
pub(crate) type JobMap<V> =
    std::collections::HashMap<leasehold::JobId, V, foldhash::fast::RandomState>;

pub use options::{SqliteStoreOptions, Synchronous};
pub use schema::{EffectiveSettings, migration_script};
pub use store::SqliteStore;
