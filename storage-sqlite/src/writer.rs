//! [`Writer`]: the one task that writes, committing concurrent calls together.
//!
//! Every write call of a store becomes a [`Transition`] sent to its writer task. The
//! task takes every call waiting at that moment (heartbeats first, up to a bounded
//! batch), runs them one after another inside one `BEGIN IMMEDIATE` transaction and
//! commits once: one fsync and one lock round for the whole group; completions and
//! plain enqueues of the group share one statement each (see [`crate::bulk`]). Calls
//! whose transition fails with a lease or key error answer that error and leave no
//! trace (SQLite rolls back the failed statement; an enqueue of several jobs runs in a
//! savepoint); a backend error in one call rolls the group back, answers that call,
//! and runs the others again without it.
//!
//! A call whose caller stops waiting (its future dropped) may still be committed: a
//! claim so abandoned holds its jobs until their leases expire.
//!
//! `BEGIN IMMEDIATE` takes the write lock up front, so a transaction never has to
//! upgrade a read lock, which SQLite refuses at once with `SQLITE_BUSY`; waiting for
//! other processes' writers is bounded by the busy timeout.

use std::sync::Arc;

use leasehold::StoreError;
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::bulk::answer_in_bulk;
use crate::error::{shared_store_error, store_error, writer_stopped};
use crate::transition::{Outcome, Transition};

/// How many rows a group commit writes at most, beyond its first call: keeps a commit
/// short enough that a heartbeat queued behind it is answered in time.
const MAX_BATCH_WEIGHT: usize = 1024;

/// How many calls may wait for the writer before callers wait to send.
const CHANNEL_CAPACITY: usize = 1024;

/// The handle to a writer task; clones share the task.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    heartbeats: mpsc::Sender<Request>,
    others: mpsc::Sender<Request>,
}

#[derive(Debug)]
struct Request {
    transition: Transition,
    reply: oneshot::Sender<Result<Outcome, StoreError>>,
}

impl Writer {
    /// Starts a writer task on the current Tokio runtime that writes through `pool`
    /// (one connection at a time) and commits up to `max_batch` calls together.
    pub(crate) fn spawn(pool: SqlitePool, max_batch: usize) -> Self {
        let (heartbeats, heartbeat_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (others, other_rx) = mpsc::channel(CHANNEL_CAPACITY);
        tokio::spawn(run(pool, heartbeat_rx, other_rx, max_batch));
        Self { heartbeats, others }
    }

    /// Runs `transition` in the writer's next group commit and answers once it is
    /// committed (or failed).
    pub(crate) async fn call(&self, transition: Transition) -> Result<Outcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let channel = if transition.is_heartbeat() {
            &self.heartbeats
        } else {
            &self.others
        };
        channel
            .send(Request { transition, reply })
            .await
            .map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }
}

/// The writer task: group commits until every handle is dropped.
async fn run(
    pool: SqlitePool,
    mut heartbeats: mpsc::Receiver<Request>,
    mut others: mpsc::Receiver<Request>,
    max_batch: usize,
) {
    while let Some(batch) = next_batch(&mut heartbeats, &mut others, max_batch).await {
        commit_group(&pool, batch).await;
    }
}

/// The calls of the next group commit: every heartbeat waiting, then other calls
/// while the group stays under `max_batch` calls and [`MAX_BATCH_WEIGHT`] rows.
/// Waits for the first call; `None` once every handle is dropped.
async fn next_batch(
    heartbeats: &mut mpsc::Receiver<Request>,
    others: &mut mpsc::Receiver<Request>,
    max_batch: usize,
) -> Option<Vec<Request>> {
    let first = tokio::select! {
        biased;
        Some(request) = heartbeats.recv() => request,
        Some(request) = others.recv() => request,
        else => return None,
    };
    let mut weight = first.transition.weight();
    let mut batch = vec![first];
    while batch.len() < max_batch {
        match heartbeats.try_recv() {
            Ok(request) => {
                weight += request.transition.weight();
                batch.push(request);
            }
            Err(_) => break,
        }
    }
    while batch.len() < max_batch && weight < MAX_BATCH_WEIGHT {
        match others.try_recv() {
            Ok(request) => {
                weight += request.transition.weight();
                batch.push(request);
            }
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Runs `batch` in one transaction and answers every call.
async fn commit_group(pool: &SqlitePool, mut batch: Vec<Request>) {
    let mut bulk = true;
    // Each pass either commits, or removes the call that broke it, or stops running
    // calls in bulk, so this ends.
    while !batch.is_empty() {
        let mut conn = match pool.acquire().await {
            Ok(conn) => conn,
            Err(error) => return fail_all(batch, error),
        };
        let mut tx = match conn.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => tx,
            Err(error) => return fail_all(batch, error),
        };
        let mut settled = if bulk {
            let transitions: Vec<&Transition> = batch.iter().map(|r| &r.transition).collect();
            match answer_in_bulk(&mut tx, &transitions).await {
                Ok(settled) => settled,
                Err(_) => {
                    // Run every call on its own, so each answers its own error.
                    let _ = tx.rollback().await;
                    bulk = false;
                    continue;
                }
            }
        } else {
            batch.iter().map(|_| None).collect()
        };
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut broken = None;
        for (index, request) in batch.iter().enumerate() {
            if let Some(outcome) = settled[index].take() {
                outcomes.push(Ok(outcome));
                continue;
            }
            match apply(&mut tx, &request.transition).await {
                Err(error) if breaks_the_group(&error) => {
                    broken = Some((index, error));
                    break;
                }
                outcome => outcomes.push(outcome),
            }
        }
        if let Some((index, error)) = broken {
            // A failed rollback leaves the connection to sqlx, which rolls back before
            // its next use.
            let _ = tx.rollback().await;
            let request = batch.remove(index);
            let _ = request.reply.send(Err(error));
            continue;
        }
        match tx.commit().await {
            Ok(()) => {
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    // A caller that stopped waiting just misses its answer.
                    let _ = request.reply.send(outcome);
                }
            }
            Err(error) => fail_all(batch, error),
        }
        return;
    }
}

/// Runs one call inside the group's transaction, in a savepoint when it needs one.
async fn apply(
    conn: &mut SqliteConnection,
    transition: &Transition,
) -> Result<Outcome, StoreError> {
    if !transition.needs_savepoint() {
        return transition.apply(conn).await;
    }
    let mut savepoint = conn.begin().await.map_err(store_error)?;
    match transition.apply(&mut savepoint).await {
        Ok(outcome) => {
            savepoint.commit().await.map_err(store_error)?;
            Ok(outcome)
        }
        Err(error) => {
            savepoint.rollback().await.map_err(store_error)?;
            Err(error)
        }
    }
}

/// Whether an error may have left the transaction unusable (anything but the answers
/// of the contract: not found, lease lost, conflict).
fn breaks_the_group(error: &StoreError) -> bool {
    !matches!(
        error,
        StoreError::NotFound(_)
            | StoreError::ScheduleNotFound(_)
            | StoreError::LeaseLost(_)
            | StoreError::Conflict(_)
    )
}

fn fail_all(batch: Vec<Request>, error: sqlx::Error) {
    let error = Arc::new(error);
    for request in batch {
        let _ = request.reply.send(Err(shared_store_error(&error)));
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
