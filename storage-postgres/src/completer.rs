//! [`Completer`]: concurrent `complete` calls of one store, written together.
//!
//! A worker finishing many short jobs calls `complete` for each; one statement and one
//! commit (one WAL flush) per job is what bounds its throughput. The completer task
//! takes every completion waiting at that moment (up to [`MAX_BATCH`]) and ends them
//! all in one `UPDATE ... FROM UNNEST(...)`, each fenced by its own lease token, then
//! answers each caller whether its row was written. While one batch is in flight, the
//! next one gathers: group commit without a timer, so a lone completion waits for
//! nothing.

use std::collections::HashSet;
use std::sync::Arc;

use leasehold::time::OffsetDateTime;
use leasehold::{Lease, StoreError};
use leasehold_sql::lease::lease;
use leasehold_sql::row::micros;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::call::Calls;
use crate::error::{shared, store_error};
use crate::row::Row;
use crate::sql::{Statements, query};

/// The most completions one statement writes.
const MAX_BATCH: usize = 512;
/// How many completions may wait before callers wait to send.
const CHANNEL_CAPACITY: usize = 4096;

/// One caller's completion and where its answer goes: whether its row was written.
struct Call {
    lease: Lease,
    now: OffsetDateTime,
    reply: oneshot::Sender<Result<bool, StoreError>>,
}

/// The handle callers send completions through; the task ends with the last handle.
#[derive(Debug, Clone)]
pub(crate) struct Completer {
    calls: mpsc::Sender<Call>,
}

impl Completer {
    /// Starts the completer task on the current Tokio runtime; each batch is one call
    /// of `store_calls` (so bounded as every call of the store).
    pub(crate) fn spawn(store_calls: Calls, sql: Arc<Statements>) -> Self {
        let (calls, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        tokio::spawn(run(store_calls, sql, receiver));
        Self { calls }
    }

    /// Ends the leased job Completed at `now`; `Ok(false)` when `lease` is not the
    /// job's live lease (or the job is unknown), and nothing was written.
    pub(crate) async fn complete(
        &self,
        lease: Lease,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.calls
            .send(Call { lease, now, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::backend("the store's completer task has stopped (was its Tokio runtime shut down?)")
}

async fn run(store_calls: Calls, sql: Arc<Statements>, mut calls: mpsc::Receiver<Call>) {
    let mut carried: Vec<Call> = Vec::new();
    loop {
        let mut batch = std::mem::take(&mut carried);
        if batch.is_empty() {
            match calls.recv().await {
                Some(call) => batch.push(call),
                None => return,
            }
        }
        while batch.len() < MAX_BATCH {
            match calls.try_recv() {
                Ok(call) => batch.push(call),
                Err(_) => break,
            }
        }
        // One row per job in a statement: a second completion of a job waits for the
        // next one, so it is answered as if it came after the first (as it did).
        let mut jobs = HashSet::with_capacity(batch.len());
        let (now, later): (Vec<Call>, Vec<Call>) = batch
            .into_iter()
            .partition(|call| jobs.insert(call.lease.job_id));
        carried = later;
        write(&store_calls, &sql, now).await;
    }
}

/// Writes one batch and answers each of its callers.
async fn write(store_calls: &Calls, sql: &Statements, batch: Vec<Call>) {
    let ids: Vec<Uuid> = batch.iter().map(|c| *c.lease.job_id.as_uuid()).collect();
    let tokens: Vec<i64> = batch.iter().map(|c| i64::from(c.lease.token)).collect();
    let times: Vec<i64> = batch.iter().map(|c| micros(c.now)).collect();
    let written = store_calls
        .run("complete", async |conn| {
            let rows = query(&sql.complete_many)
                .bind(ids)
                .bind(tokens)
                .bind(times)
                .fetch_all(&mut *conn)
                .await
                .map_err(store_error)?;
            rows.iter()
                .map(|row| lease(&Row(row)))
                .collect::<Result<HashSet<Lease>, StoreError>>()
        })
        .await;
    match written {
        Ok(ended) => {
            for call in batch {
                let _ = call.reply.send(Ok(ended.contains(&call.lease)));
            }
        }
        Err(error) => {
            let error = shared(error);
            for call in batch {
                let _ = call.reply.send(Err(error()));
            }
        }
    }
}
