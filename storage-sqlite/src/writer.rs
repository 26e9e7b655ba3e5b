//! [`Writer`]: the one task that writes, committing concurrent calls together.
//!
//! Every write call of a store becomes a [`Request`] sent to its writer task: a
//! [`Transition`] with a reply channel typed by what it answers. The task takes every
//! call waiting at that moment (heartbeats first, up to a bounded batch), runs them
//! one after another inside one `BEGIN IMMEDIATE` transaction and commits once: one
//! fsync and one lock round for the whole group; completions and plain enqueues of the
//! group share one statement each (see [`crate::bulk`]). Each call keeps its answer
//! until the group commits, and only then sends it. Calls whose transition fails with a
//! lease or key error answer that error and leave no trace (SQLite rolls back the
//! failed statement; an enqueue of several jobs runs in a savepoint); a backend error
//! in one call rolls the group back, answers that call, and runs the others again
//! without it.
//!
//! A call whose caller stops waiting (its future dropped) may still be committed: a
//! claim so abandoned holds its jobs until their leases expire.
//!
//! `BEGIN IMMEDIATE` takes the write lock up front, so a transaction never has to
//! upgrade a read lock, which SQLite refuses at once with `SQLITE_BUSY`; waiting for
//! other processes' writers is bounded by the busy timeout.
//!
//! A group that one statement does whole (plain enqueues, distinct completions, one
//! claim: see [`WholeGroup`]) goes to SQLite as one sqlx call, `BEGIN IMMEDIATE`, the
//! statement and `COMMIT` joined, since every sqlx call is a hand-off to sqlx's
//! connection thread and back (a claim counts its starts in the same call). If that
//! call fails anywhere, the
//! writer leaves the transaction as below and runs the group again the ordinary way,
//! statement by statement, which answers each error at its stage; only a busy database (another
//! writer held the lock past the busy timeout, which in WAL mode only `BEGIN IMMEDIATE`
//! waits for) is answered at once, so no call waits for the lock twice.
//!
//! No failure leaves a transaction behind. On some failures (a full disk, an I/O
//! error, at a statement or at `COMMIT`) SQLite rolls the whole transaction back by
//! itself. sqlx's `Transaction` does not notice: its `COMMIT` failed, so it still
//! counts a transaction open, and the `ROLLBACK` it sends then fails ("no transaction
//! is active") and leaves that count at 1, after which every `begin_with` on the
//! connection fails ("attempted to call begin_with at non-zero transaction depth"):
//! the store was wedged until the process restarted. So the writer runs its
//! transaction (a [`GroupTransaction`]) with plain statements, which sqlx does not
//! count, and asks SQLite itself: after a failure it rolls back, and when that
//! `ROLLBACK` fails it sends `BEGIN`, which SQLite accepts only outside a transaction.
//! A file database's connection that is still in a transaction after that is closed
//! (closing rolls back), and the pool opens a fresh one. The next group then succeeds
//! as soon as the cause (no space, no permission) is gone.

use std::sync::Arc;

use leasehold::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::runtime::RuntimeFlavor;
use tokio::sync::mpsc;

use crate::bulk::{Parts, WholeGroup, answer_in_bulk, for_own_connection};
use crate::direct::Direct;
use crate::error::{is_unique_violation, shared_store_error, writer_stopped};
use crate::row::Statement;
use crate::settle::settle;
use crate::sql;
use crate::transition::{Call, Request, Transition};

/// How many rows a group commit writes at most, beyond its first call: keeps a commit
/// short enough that a heartbeat queued behind it is answered in time.
pub(crate) const MAX_BATCH_WEIGHT: usize = 1024;

/// A group of at least this many enqueues makes the next one wait a moment for more
/// (one `yield_now`): they come from callers that enqueue again as soon as they are
/// answered (eight tasks each enqueueing one job at a time, say), and the tasks the
/// group's answers woke then join the next group instead of the one after. A lone
/// caller never waits, nor does a worker's stream of completions and claims, which
/// waiting measurably slowed (end to end, one slot: 0.88x).
const GATHER_AFTER: usize = 3;

/// How many calls may wait for the writer before callers wait to send.
const CHANNEL_CAPACITY: usize = 1024;

const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";
/// Takes no lock; SQLite accepts it only outside a transaction.
const BEGIN_DEFERRED: &str = "BEGIN";
const COMMIT: &str = "COMMIT";
const ROLLBACK: &str = "ROLLBACK";

/// The handle to a writer task; clones share the task.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    heartbeats: mpsc::Sender<Request>,
    others: mpsc::Sender<Request>,
}

impl Writer {
    /// Starts a writer task on the current Tokio runtime that writes through `pool`
    /// (one connection at a time) and commits up to `max_batch` calls together.
    /// `in_memory`: the database lives in the pool's connection, which the writer must
    /// therefore never close.
    /// `hold`: the pool is the writer's alone, so the task keeps its connection
    /// between groups (see [`run`]).
    /// `direct`: the writer's own connection for groups of plain enqueues, if the
    /// database allows one ([`crate::direct`]).
    pub(crate) fn spawn(
        pool: SqlitePool,
        in_memory: bool,
        hold: bool,
        max_batch: usize,
        direct: Option<Direct>,
    ) -> Self {
        let (heartbeats, heartbeat_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (others, other_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let state = State {
            target: Target {
                pool,
                in_memory,
                hold,
            },
            direct,
            heartbeats: heartbeat_rx,
            others: other_rx,
            max_batch,
            held: None,
            gather: false,
            runtime: Some(tokio::runtime::Handle::current())
                .filter(|runtime| runtime.runtime_flavor() == RuntimeFlavor::MultiThread),
        };
        tokio::spawn(start(state));
        Self { heartbeats, others }
    }

    /// Runs `transition` in the writer's next group commit and answers once it is
    /// committed (or failed).
    pub(crate) async fn call<T: Transition>(&self, transition: T) -> Result<T::Answer, StoreError> {
        let (call, answer) = Call::new(transition);
        let request = T::request(call);
        let channel = if request.is_heartbeat() {
            &self.heartbeats
        } else {
            &self.others
        };
        channel.send(request).await.map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }
}

/// Where the writer writes.
#[derive(Debug, Clone)]
struct Target {
    pool: SqlitePool,
    /// Whether the database lives in the pool's one connection.
    in_memory: bool,
    /// Whether the writer keeps its connection between groups: the pool serves no
    /// one else.
    hold: bool,
}

/// Everything the writer carries from one group to the next, and so from the
/// runtime's threads to its own ([`on_own_thread`]).
struct State {
    target: Target,
    direct: Option<Direct>,
    heartbeats: mpsc::Receiver<Request>,
    others: mpsc::Receiver<Request>,
    max_batch: usize,
    held: Option<PoolConnection<Sqlite>>,
    /// Whether the last group held enqueues of several busy callers (GATHER_AFTER).
    gather: bool,
    /// The runtime the store was opened on, if a multi-thread one (which its threads
    /// drive at all times): on the writer's own thread, groups through sqlx run there.
    runtime: Option<tokio::runtime::Handle>,
}

/// The writer task: group commits until every handle is dropped; on a thread of its
/// own from its first claim on its own connection ([`on_own_thread`]).
async fn start(mut state: State) {
    while let Some(moving) = run(state, false).await {
        // The state comes back only if it could not move.
        let Some(back) = on_own_thread(moving) else {
            return;
        };
        state = back;
    }
}

/// Runs `state`'s writer on a thread of its own, on a current-thread runtime.
///
/// A worker's claims and completions are most of what a writer with its own connection
/// does once a worker runs in the process, and a group of them takes a millisecond or
/// more. As a task it shared the runtime's threads with the jobs' tasks, which its
/// answers woke, and it waited behind them: end to end with 8 slots on the 2-vCPU
/// bench machine the process used 1.3 of its 2 cores, no thread more than a third of
/// one. On a thread of its own it runs as soon as a call comes, beside the jobs:
/// 1.3x the jobs a second. Until then (a process that only enqueues) it stays a
/// task, where a lone caller's enqueue costs no thread wake-up: from its own thread,
/// a caller enqueueing one job at a time gets a third of the rate (two wake-ups a
/// call). See DESIGN.md. If the thread or its runtime cannot be had, the state
/// comes back, and the writer goes on as a task (and tries again at its next claim).
fn on_own_thread(state: State) -> Option<State> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Some(state);
    };
    // The runtime goes over with the state: one never handed over is shut down here
    // without blocking (dropping it would block this runtime's thread).
    let (hand_over, handed) = std::sync::mpsc::channel::<(tokio::runtime::Runtime, State)>();
    let started = std::thread::Builder::new()
        .name("leasehold-sqlite-writer".to_owned())
        .spawn(move || {
            if let Ok((runtime, state)) = handed.recv() {
                runtime.block_on(run(state, true));
            }
        });
    let unsent = match started {
        Ok(_) => hand_over
            .send((runtime, state))
            .err()
            .map(|unsent| unsent.0),
        Err(_) => Some((runtime, state)),
    };
    unsent.map(|(runtime, state)| {
        runtime.shutdown_background();
        state
    })
}

/// The writer's loop over `state`: group commits until every handle is dropped.
/// Returns the state, to go on on a thread of its own, after the first group with a
/// claim while it has its own connection, unless it is there already (`own_thread`).
///
/// With [`Target::hold`], the connection a group used stays with the task for the
/// next one while it is out of any transaction, and goes back to the pool only when
/// the pool is closed (or the task ends). Handing it back after every group cost a
/// spawned task and a ping, one more hand-off to sqlx's connection thread and back
/// per group: as much as the rest of a lone enqueue's round trip.
async fn run(mut state: State, own_thread: bool) -> Option<State> {
    let State {
        target,
        direct,
        heartbeats,
        others,
        max_batch,
        held,
        gather,
        runtime,
    } = &mut state;
    let max_batch = *max_batch;
    let runtime = runtime.as_ref().filter(|_| own_thread);
    let closed = target.pool.close_event();
    let mut closed = std::pin::pin!(closed);
    loop {
        if direct.is_some() && held.is_none() {
            // While the writer has its own connection it holds one of the pool's too:
            // closing the pool then waits for the writer, which closes its own first.
            match target.pool.acquire().await {
                Ok(conn) => *held = Some(conn),
                Err(_) => *direct = None,
            }
        }
        let next = next_batch(heartbeats, others, max_batch);
        let batch = if held.is_some() {
            tokio::select! {
                biased;
                batch = next => batch,
                () = &mut closed => {
                    // `close` waits for every connection: give this one back, once
                    // the writer's own is closed, so that the pool's last connection
                    // is the last to the file, which checkpoints the log and removes
                    // it. So a checkpoint still running beside the writer, on a
                    // connection of its own, ends first.
                    if let Some(running) = direct.as_mut().and_then(Direct::checkpoint_running) {
                        let _ = running.await;
                    }
                    *direct = None;
                    *held = None;
                    continue;
                }
            }
        } else {
            next.await
        };
        // Every handle dropped: the writer ends.
        let mut batch = batch?;
        // Outside the select above: a call taken is never dropped by its other arm.
        if *gather {
            gather_more(&mut batch, heartbeats, others, max_batch).await;
        }
        *gather = batch
            .iter()
            .filter(|request| matches!(request, Request::Enqueue(_)))
            .count()
            >= GATHER_AFTER;
        // A worker claims here: move once this group is answered.
        let moving = !own_thread
            && direct.is_some()
            && batch
                .iter()
                .any(|request| matches!(request, Request::Claim(_)));
        commit_group(target, held, direct, runtime, batch).await;
        // Unless the group lost the writer's own connection.
        if moving && direct.is_some() {
            break;
        }
    }
    Some(state)
}

/// The calls of the next group commit: every heartbeat waiting, then other calls
/// while the group stays under `max_batch` calls and [`MAX_BATCH_WEIGHT`] rows.
/// Waits for the first call; `None` once every handle is dropped. Cancelled while it
/// waits, it holds no call: once it has one, it returns without awaiting.
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
    let mut batch = vec![first];
    top_up(&mut batch, heartbeats, others, max_batch);
    Some(batch)
}

/// Lets the tasks that are ready run first (the callers the last group's answers
/// woke, see [`GATHER_AFTER`]), then adds what they sent to `batch`.
async fn gather_more(
    batch: &mut Vec<Request>,
    heartbeats: &mut mpsc::Receiver<Request>,
    others: &mut mpsc::Receiver<Request>,
    max_batch: usize,
) {
    tokio::task::yield_now().await;
    top_up(batch, heartbeats, others, max_batch);
}

/// Adds to `batch` every heartbeat waiting, then other calls while it stays under
/// `max_batch` calls and [`MAX_BATCH_WEIGHT`] rows.
fn top_up(
    batch: &mut Vec<Request>,
    heartbeats: &mut mpsc::Receiver<Request>,
    others: &mut mpsc::Receiver<Request>,
    max_batch: usize,
) {
    let mut weight: usize = batch.iter().map(Request::weight).sum();
    while batch.len() < max_batch {
        match heartbeats.try_recv() {
            Ok(request) => {
                weight += request.weight();
                batch.push(request);
            }
            Err(_) => break,
        }
    }
    while batch.len() < max_batch && weight < MAX_BATCH_WEIGHT {
        match others.try_recv() {
            Ok(request) => {
                weight += request.weight();
                batch.push(request);
            }
            Err(_) => break,
        }
    }
}

/// Runs `batch` and answers every call: what the writer's own connection takes
/// ([`for_own_connection`]) there, the rest in one transaction through sqlx, on the
/// `held` connection if there is one (else one from the pool). With
/// [`Target::hold`], a connection left out of any transaction is held again for the
/// next group; otherwise it goes back to the pool.
///
/// A group that mixes calls the writer's own connection commits with others runs as
/// parts, each its own transaction: the others first (the ordinary way; a heartbeat
/// among them then finds the jobs whose completions share the group still running),
/// then the plain enqueues and the lease writes on the writer's own connection, then
/// the ordinary way again for any call those left unanswered.
async fn commit_group(
    target: &Target,
    held: &mut Option<PoolConnection<Sqlite>>,
    direct: &mut Option<Direct>,
    runtime: Option<&tokio::runtime::Handle>,
    batch: Vec<Request>,
) {
    let parts = if direct.is_some() && !target.pool.is_closed() {
        for_own_connection(batch)
    } else {
        Parts::ordinary(batch)
    };
    the_ordinary_way_here(target, held, runtime, parts.rest).await;
    let mut left = on_own_connection(target, direct, parts.enqueues, Direct::enqueues).await;
    left.extend(on_own_connection(target, direct, parts.leases, Direct::lease_writes).await);
    the_ordinary_way_here(target, held, runtime, left).await;
}

/// Commits `batch` with `write` on the writer's own connection, if it still has one;
/// returns the calls left unanswered (all of them, when it has none or the write
/// failed), for the ordinary way.
async fn on_own_connection<E>(
    target: &Target,
    direct: &mut Option<Direct>,
    mut batch: Vec<Request>,
    write: fn(&mut Direct, &mut [Request]) -> Result<(), E>,
) -> Vec<Request> {
    if batch.is_empty() {
        return batch;
    }
    let Some(own) = direct.as_mut().filter(|_| !target.pool.is_closed()) else {
        return batch;
    };
    let rows: usize = batch.iter().map(Request::weight).sum();
    if off_the_runtime_if_long(rows, || write(own, &mut batch)).is_ok() {
        // Completions it did not write (a lease that was not live) run again the
        // ordinary way, on their own, to say why.
        let left = answer_settled(batch);
        if let Some(checkpoint) = own.checkpoint() {
            // A panic there is a checkpoint not made: the next one makes it.
            let _ = checkpoint.await;
        }
        return left;
    }
    if own.in_transaction() {
        // Still in its transaction (its ROLLBACK failed too): closing it releases
        // the write lock it may hold, and the writer goes on without it.
        *direct = None;
    }
    // The ordinary way answers each error at its stage.
    batch
}

/// Runs `batch`, if it holds a call, the ordinary way ([`the_ordinary_way`]): on the
/// writer's own thread, as a task of the runtime the store was opened on.
async fn the_ordinary_way_here(
    target: &Target,
    held: &mut Option<PoolConnection<Sqlite>>,
    runtime: Option<&tokio::runtime::Handle>,
    batch: Vec<Request>,
) {
    if batch.is_empty() {
        return;
    }
    match runtime {
        // On the writer's own thread, sqlx's hand-offs (a wake-up of this thread per
        // row and statement) cost more than on the runtime it was opened on, whose
        // threads are seldom all asleep: the group runs there, as a task, and hands
        // back the connection it held.
        Some(runtime) => {
            let (target, conn) = (target.clone(), held.take());
            let ordinary = runtime.spawn(async move {
                let mut held = conn;
                the_ordinary_way(&target, &mut held, batch).await;
                held
            });
            // A failed task (a panic, the runtime shut down) dropped its calls, whose
            // callers see the writer stopped, and the connection.
            *held = ordinary.await.ok().flatten();
        }
        None => the_ordinary_way(target, held, batch).await,
    }
}

/// Runs `batch` through sqlx in one transaction, and answers every call; see
/// [`commit_group`].
async fn the_ordinary_way(
    target: &Target,
    held: &mut Option<PoolConnection<Sqlite>>,
    mut batch: Vec<Request>,
) {
    let mut bulk = true;
    // Each pass either commits, or removes the call that broke it, or stops running
    // calls in bulk, so this ends.
    while !batch.is_empty() {
        // Answers of a pass that rolled back are of writes that never happened.
        batch.iter_mut().for_each(Request::forget_answer);
        let conn = match held.take() {
            Some(conn) => conn,
            None => match target.pool.acquire().await {
                Ok(conn) => conn,
                Err(error) => return fail_all(batch, "getting a connection", error),
            },
        };
        let keep = (target.hold && !target.pool.is_closed()).then_some(&mut *held);
        let whole = WholeGroup::of(&batch).filter(|_| bulk);
        if let Some((whole, Ok(statement))) = whole.map(|whole| (whole, whole.statement(&batch))) {
            // Whatever this pass does, the next one runs its calls one by one.
            bulk = false;
            match GroupTransaction::run_whole(conn, target.in_memory, keep, statement).await {
                Ok(rows) => {
                    if let Err(error) = whole.settle(&mut batch, &rows) {
                        return fail_unread(batch, &error);
                    }
                    // Calls it did not answer (a completion whose lease was not live)
                    // run again on their own, to say why.
                    batch = answer_settled(batch);
                }
                Err(error) => {
                    let error = Arc::new(error);
                    if matches!(
                        shared_store_error(BEGIN_IMMEDIATE, &error),
                        StoreError::Busy(_)
                    ) {
                        return fail_all_shared(batch, BEGIN_IMMEDIATE, &error);
                    }
                    whole.failed(&batch);
                }
            }
            continue;
        }
        let mut tx = match GroupTransaction::begin(conn, target.in_memory, keep).await {
            Ok(tx) => tx,
            Err(error) => return fail_all(batch, "BEGIN IMMEDIATE", error),
        };
        if bulk && answer_in_bulk(tx.conn(), &mut batch).await.is_err() {
            // Run every call on its own, so each answers its own error.
            tx.roll_back().await;
            bulk = false;
            continue;
        }
        let mut broken = None;
        for (index, request) in batch.iter_mut().enumerate() {
            if request.is_answered() {
                continue;
            }
            if let Err(error) = request.run(tx.conn()).await {
                broken = Some((index, error));
                break;
            }
        }
        if let Some((index, error)) = broken {
            tx.roll_back().await;
            batch.remove(index).fail(error);
            continue;
        }
        match tx.commit().await {
            Ok(()) => batch.into_iter().for_each(Request::answer),
            Err(error) => fail_all(batch, "COMMIT", error),
        }
        return;
    }
}

/// Sends the answers of the calls of `batch` that a committed group settled; the
/// calls it did not settle, for the writer to run again.
fn answer_settled(batch: Vec<Request>) -> Vec<Request> {
    let (answered, rest): (Vec<_>, Vec<_>) = batch.into_iter().partition(Request::is_answered);
    answered.into_iter().for_each(Request::answer);
    rest
}

/// Groups of up to this many rows (as [`Request::weight`] counts them: a claim counts
/// the jobs it asks for) run on the writer's own connection in the writer task's
/// thread as it is (about 2 ms at most on a 2-vCPU EPYC); longer ones through
/// [`tokio::task::block_in_place`] ([`off_the_runtime_if_long`]).
const INLINE_ROWS: usize = 64;

/// Runs `write`, a group of `rows` rows on the writer's own connection, on this
/// thread. A long one (more than [`INLINE_ROWS`]) on a multi-thread runtime goes
/// through `block_in_place`, which hands the thread's other tasks to another thread
/// meanwhile, so that none waits behind the group.
fn off_the_runtime_if_long<T>(rows: usize, write: impl FnOnce() -> T) -> T {
    let flavor = tokio::runtime::Handle::current().runtime_flavor();
    if rows > INLINE_ROWS && flavor == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(write)
    } else {
        write()
    }
}

/// A group's `BEGIN IMMEDIATE` transaction on the writer's connection, run with plain
/// statements (see the module docs for why not sqlx's `Transaction`).
///
/// Ended by [`GroupTransaction::commit`] or [`GroupTransaction::roll_back`], each of
/// which leaves the connection out of any transaction, or closes it. Dropped before
/// that (the writer task dropped mid-group as its runtime shuts down), it closes a file
/// database's connection rather than hand it back to the pool holding the write lock.
/// A connection out of any transaction goes to the writer's `keep` slot, when it has
/// one, or back to the pool.
struct GroupTransaction<'a> {
    /// Taken only by `Drop`.
    conn: Option<PoolConnection<Sqlite>>,
    /// Whether the connection may still be in the transaction.
    open: bool,
    /// The database lives in this connection: never close it.
    in_memory: bool,
    /// Where the writer keeps its connection between groups.
    keep: Option<&'a mut Option<PoolConnection<Sqlite>>>,
}

impl<'a> GroupTransaction<'a> {
    fn new(
        conn: PoolConnection<Sqlite>,
        in_memory: bool,
        keep: Option<&'a mut Option<PoolConnection<Sqlite>>>,
    ) -> Self {
        Self {
            conn: Some(conn),
            open: true,
            in_memory,
            keep,
        }
    }

    /// Begins the transaction; on an error, the connection is left out of any
    /// transaction (or closed) as by [`GroupTransaction::roll_back`].
    async fn begin(
        conn: PoolConnection<Sqlite>,
        in_memory: bool,
        keep: Option<&'a mut Option<PoolConnection<Sqlite>>>,
    ) -> Result<Self, sqlx::Error> {
        let mut tx = Self::new(conn, in_memory, keep);
        match execute(tx.conn(), BEGIN_IMMEDIATE).await {
            Ok(()) => Ok(tx),
            Err(error) => {
                // A connection left in a transaction (which must not happen) fails its
                // BEGIN too: clear it for the next group.
                tx.roll_back().await;
                Err(error)
            }
        }
    }

    /// Runs `statement`, which begins the transaction, writes and commits (see
    /// [`WholeGroup`]), in one sqlx call; answers the rows it returned. On an error,
    /// wherever it struck, the connection is left out of any transaction (or closed)
    /// as by [`GroupTransaction::roll_back`].
    async fn run_whole(
        conn: PoolConnection<Sqlite>,
        in_memory: bool,
        keep: Option<&'a mut Option<PoolConnection<Sqlite>>>,
        statement: Statement<'_>,
    ) -> Result<Vec<SqliteRow>, sqlx::Error> {
        let mut tx = Self::new(conn, in_memory, keep);
        match statement.fetch_all(tx.conn()).await {
            Ok(rows) => {
                // Its last statement, COMMIT, ran.
                tx.open = false;
                Ok(rows)
            }
            Err(error) => {
                tx.roll_back().await;
                Err(error)
            }
        }
    }

    fn conn(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a group's connection is taken only when it is dropped")
    }

    /// Commits, having settled the dependents of the jobs that ended with some (see
    /// [`crate::settle`]); on an error, rolls back what SQLite has not already rolled
    /// back.
    async fn commit(mut self) -> Result<(), sqlx::Error> {
        let committed = match execute(self.conn(), sql::GUARDED_COMMIT).await {
            // The guard failed: dependents to settle, the transaction still open.
            Err(error) if is_unique_violation(&error) => match settle(self.conn()).await {
                Ok(()) => execute(self.conn(), COMMIT).await,
                Err(error) => Err(error),
            },
            committed => committed,
        };
        match committed {
            Ok(()) => {
                self.open = false;
                Ok(())
            }
            Err(error) => {
                self.roll_back().await;
                Err(error)
            }
        }
    }

    /// Rolls back, and hands the connection on only once it is out of any
    /// transaction; otherwise closes it, and the pool opens a fresh one.
    async fn roll_back(mut self) {
        if leave_transaction(self.conn()).await || self.in_memory {
            self.open = false;
        }
    }
}

impl Drop for GroupTransaction<'_> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.open && !self.in_memory {
            // Closing rolls back whatever is left.
            conn.close_on_drop();
        } else if let Some(keep) = self.keep.take() {
            *keep = Some(conn);
        }
    }
}

/// Rolls back whatever transaction `conn` is in, and answers whether it is now out
/// of any.
///
/// SQLite ends the whole transaction by itself on some failures, so a `ROLLBACK` that
/// fails may only mean there was nothing left to roll back: `BEGIN` tells, since SQLite
/// refuses it inside a transaction.
async fn leave_transaction(conn: &mut SqliteConnection) -> bool {
    if execute(conn, ROLLBACK).await.is_ok() {
        return true;
    }
    execute(conn, BEGIN_DEFERRED).await.is_ok() && execute(conn, ROLLBACK).await.is_ok()
}

/// Runs `statement`, which returns no rows.
pub(crate) async fn execute(
    conn: &mut SqliteConnection,
    statement: &'static str,
) -> Result<(), sqlx::Error> {
    sqlx::query(statement).execute(conn).await.map(|_| ())
}

/// Answers every call of `batch` with `error`, met at `stage` of the group.
fn fail_all(batch: Vec<Request>, stage: &'static str, error: sqlx::Error) {
    fail_all_shared(batch, stage, &Arc::new(error));
}

fn fail_all_shared(batch: Vec<Request>, stage: &'static str, error: &Arc<sqlx::Error>) {
    for request in batch {
        request.fail(shared_store_error(stage, error));
    }
}

/// Answers every call of `batch`, whose whole group committed but whose answers did
/// not read back (`error`: a corrupt row), saying so: the writes may have happened.
fn fail_unread(batch: Vec<Request>, error: &StoreError) {
    for request in batch {
        request.fail(StoreError::backend(format!(
            "the group was committed but its answer did not read back: {error}"
        )));
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "writer_answers_tests.rs"]
mod answers_tests;

#[cfg(test)]
#[path = "writer_one_call_tests.rs"]
mod one_call_tests;

#[cfg(test)]
#[path = "writer_direct_tests.rs"]
mod direct_tests;
