//! `leasehold-sql`: the Rust (and the few SQL parts) that leasehold's SQL stores share,
//! written once.
//!
//! `leasehold-sqlite` and `leasehold-postgres` run the same contract over the same two
//! tables; what differs is the dialect: most of the SQL text, how sqlx reads a column
//! and binds a value, how connections are handled. Everything else lives here, on plain
//! values (integers, text, ids), so this crate does not depend on sqlx:
//!
//! - [`row`]: a row as plain values ([`row::Columns`], which each store implements over
//!   its sqlx row) into a [`JobRecord`](leasehold::JobRecord) or
//!   [`ScheduleRecord`](leasehold::schedule::ScheduleRecord); times as microseconds,
//!   counters, stored states.
//! - [`param`]: [`Param`], a value bound to a statement parameter; the statements of both
//!   dialects take their parameters in one order, listed here once.
//! - [`enqueue`]: [`TransactionalEnqueue`] (typed jobs into the caller's own
//!   transaction), the order in which an enqueue inserts its jobs, the parameters of
//!   `enqueue.sql`.
//! - [`dependency`]: starting the jobs of an enqueue that depend on others
//!   ([`dependency::start_dependents`] over a store's
//!   [`DependencyWrites`](dependency::DependencyWrites)).
//! - [`lease`]: why a fenced write matched no row, what a heartbeat answers.
//! - [`filter`]: a [`JobFilter`](leasehold::JobFilter) as the parameters of `list.sql`
//!   and `count.sql`; `LIMIT` values.
//! - [`limit`]: a stored [`Limit`](leasehold::Limit) as columns and back.
//! - [`prune`]: deleting old jobs in bounded batches.
//! - [`schedule`]: the parameters of the schedule statements and what a refused
//!   compare-and-set answers.
//! - [`sql`]: the SQL both dialects share (the `ON CONFLICT` clause of
//!   `upsert_schedule.sql`, the body of `queue_stats.sql`), and [`fill!`], which joins
//!   a statement's parts at compile time.
//! - [`schema`]: refusing a database or schema that is not leasehold's, or is newer.
//! - [`error`]: [`error::Class`], what a database error means for the caller, with
//!   advice for the operator.
//! - `testing` (feature `testing`): the checks a store's tests run over its `.sql` files.
//!
//! A store keeps its dialect: its `sql/` files (but the parts in [`sql`]), its
//! [`row::Columns`] implementation and its binding of a [`Param`], its connections and
//! its error codes.

pub mod dependency;
pub mod enqueue;
pub mod error;
pub mod filter;
pub mod lease;
pub mod limit;
pub mod param;
pub mod prune;
pub mod row;
pub mod schedule;
pub mod schema;
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;

pub use enqueue::TransactionalEnqueue;
pub use param::Param;
