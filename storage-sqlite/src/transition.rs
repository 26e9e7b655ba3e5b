//! [`Transition`]: one kind of write call, with the type of its answer; [`Request`]:
//! one call on its way to the writer, with a reply channel of that type.
//!
//! - [`Transition`]: implemented by one struct per write verb of the store (its
//!   fields are the call's inputs); [`Transition::apply`] runs its SQL and answers
//!   [`Transition::Answer`]. The structs live by contract section, as the conformance
//!   suite does: [`enqueue`], [`claim`], [`lease_writes`], [`cancel`], [`prune`],
//!   [`queues`], [`limits`], [`by_hand`], [`locks`], [`schedules`]; [`statement`] holds how they
//!   run a statement (rows changed, the row returned, a statement on one job).
//! - [`Call`]: one call in flight: the transition, its reply channel (typed by the
//!   transition's answer) and, once run in a group, its answer, which the writer sends
//!   only after `COMMIT`.
//! - [`Request`]: what the writer's channel carries: one variant per transition, so
//!   a reply can never be of the wrong type and the writer needs no box per call.
//!
//! So a store method reads `self.writer.call(Complete { lease, now }).await`, the
//! compiler knows it answers `Result<(), StoreError>`, and `Complete`'s
//! [`Transition::apply`] is the SQL it runs.
//!
//! Each transition is one atomic change: a failure leaves nothing of it behind while
//! the other calls of the same group commit go through (see
//! [`Transition::needs_savepoint`] and [`crate::writer`]).

pub(crate) mod by_hand;
pub(crate) mod cancel;
pub(crate) mod claim;
pub(crate) mod enqueue;
pub(crate) mod lease_writes;
pub(crate) mod limits;
pub(crate) mod locks;
pub(crate) mod prune;
pub(crate) mod queues;
pub(crate) mod schedules;
mod statement;

use std::fmt;

use leasehold::StoreError;
use sqlx::SqliteConnection;
use tokio::sync::oneshot;

use crate::error::store_error;
use crate::writer::execute;

use self::by_hand::{ByFilter, DeleteJob, RetryJob, UpdateJob};
use self::cancel::Cancel;
use self::claim::Claim;
use self::enqueue::Enqueue;
use self::lease_writes::{Complete, CompleteWithOutput, Fail, Heartbeat, Release, Retry};
use self::limits::{RemoveLimit, SetLimit};
use self::locks::TakeLock;
use self::prune::Prune;
use self::queues::SetQueuePaused;
use self::schedules::{
    FireSchedule, PauseSchedule, RemoveSchedule, ResumeSchedule, UpsertSchedule,
};

const SAVEPOINT: &str = "SAVEPOINT call";
const RELEASE_SAVEPOINT: &str = "RELEASE call";
/// Undoes the savepoint's writes and keeps it open (`RELEASE` then ends it).
const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO call";

/// How a call of a transition becomes its [`Request`] variant; `request_variants!`
/// implements it for every transition, next to the enum.
pub(crate) trait IntoRequest: Sized {
    /// Wraps a call of this transition into the writer's message.
    fn request(call: Call<Self>) -> Request
    where
        Self: Transition;
}

/// One kind of write call: the implementing struct holds its inputs.
pub(crate) trait Transition: fmt::Debug + IntoRequest {
    /// What the call answers when it succeeds.
    type Answer;

    /// Roughly how many rows it writes, to bound a group commit.
    fn weight(&self) -> usize {
        1
    }

    /// Whether it needs a savepoint to stay all or none: only a call that can answer
    /// a contract error (a conflict) after it wrote something does. A backend error
    /// rolls the whole group back anyway; what a claim writes before it leases (due
    /// jobs promoted, expired leases failed) is right whatever follows.
    fn needs_savepoint(&self) -> bool {
        false
    }

    /// Runs the transition's SQL on `conn`, inside the writer's transaction.
    async fn apply(&self, conn: &mut SqliteConnection) -> Result<Self::Answer, StoreError>;
}

/// One write call in flight.
pub(crate) struct Call<T: Transition> {
    transition: T,
    reply: oneshot::Sender<Result<T::Answer, StoreError>>,
    /// Its answer in the group being run; sent only once the group commits.
    answer: Option<Result<T::Answer, StoreError>>,
}

impl<T: Transition> Call<T> {
    /// A call of `transition`, and where its answer will arrive.
    pub(crate) fn new(transition: T) -> (Self, oneshot::Receiver<Result<T::Answer, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let call = Self {
            transition,
            reply,
            answer: None,
        };
        (call, answer)
    }

    pub(crate) fn transition(&self) -> &T {
        &self.transition
    }

    /// Keeps `answer` as the call's answer in this group: a bulk statement ran it.
    pub(crate) fn settle(&mut self, answer: T::Answer) {
        self.answer = Some(Ok(answer));
    }

    /// Runs the call in the group's transaction, in a savepoint when it needs one, and
    /// keeps its answer, which may be an error of the contract (not found, lease lost,
    /// conflict) that left no trace.
    ///
    /// # Errors
    ///
    /// An error that breaks the group (see [`breaks_the_group`]); the call then keeps
    /// no answer.
    async fn run(&mut self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let answer = if self.transition.needs_savepoint() {
            in_savepoint(conn, &self.transition).await
        } else {
            self.transition.apply(conn).await
        };
        match answer {
            Err(error) if breaks_the_group(&error) => Err(error),
            answer => {
                self.answer = Some(answer);
                Ok(())
            }
        }
    }

    /// Sends the kept answer; a caller that stopped waiting just misses it.
    fn answer(self) {
        // Every call of a committed group has run, in bulk or on its own.
        let answer = self.answer.unwrap_or_else(|| {
            Err(StoreError::backend(
                "the writer committed a call it never ran (a bug in leasehold-sqlite)",
            ))
        });
        let _ = self.reply.send(answer);
    }

    fn fail(self, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

impl<T: Transition> fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("transition", &self.transition)
            .field("answered", &self.answer.is_some())
            .finish_non_exhaustive()
    }
}

/// Runs `transition` in a savepoint, so that it leaves nothing behind when it fails.
async fn in_savepoint<T: Transition>(
    conn: &mut SqliteConnection,
    transition: &T,
) -> Result<T::Answer, StoreError> {
    execute(conn, SAVEPOINT).await.map_err(store_error)?;
    match transition.apply(conn).await {
        Ok(answer) => {
            execute(conn, RELEASE_SAVEPOINT)
                .await
                .map_err(store_error)?;
            Ok(answer)
        }
        Err(error) => {
            let undone = match execute(conn, ROLLBACK_TO_SAVEPOINT).await {
                Ok(()) => execute(conn, RELEASE_SAVEPOINT).await,
                Err(undo) => Err(undo),
            };
            match undone {
                Ok(()) => Err(error),
                // The group is rolled back anyway: answer the call's own error.
                Err(_) if breaks_the_group(&error) => Err(error),
                Err(undo) => Err(store_error(undo)),
            }
        }
    }
}

/// Whether an error may have left the transaction unusable (anything but the answers
/// of the contract: not found, lease lost, conflict, wrong state).
fn breaks_the_group(error: &StoreError) -> bool {
    !matches!(
        error,
        StoreError::NotFound(_)
            | StoreError::ScheduleNotFound(_)
            | StoreError::QueueNotFound(_)
            | StoreError::LimitNotFound(_)
            | StoreError::LeaseLost(_)
            | StoreError::Conflict(_)
            | StoreError::WrongState { .. }
            | StoreError::InvalidDependency { .. }
    )
}

/// A write call on its way to the writer: one variant per [`Transition`], each
/// carrying the call typed by it.
///
/// Each call holds its answer slot inline, so a request is as large as the largest
/// answer (a `JobRecord`: about 300 bytes against about 100 for the inputs alone); that
/// is a copy into the channel, where a box per call or per answer would be an
/// allocation.
#[derive(Debug)]
pub(crate) enum Request {
    Enqueue(Call<Enqueue>),
    Claim(Call<Claim>),
    Heartbeat(Call<Heartbeat>),
    Complete(Call<Complete>),
    Retry(Call<Retry>),
    Fail(Call<Fail>),
    Release(Call<Release>),
    Cancel(Call<Cancel>),
    Prune(Call<Prune>),
    UpsertSchedule(Call<UpsertSchedule>),
    FireSchedule(Call<FireSchedule>),
    PauseSchedule(Call<PauseSchedule>),
    ResumeSchedule(Call<ResumeSchedule>),
    RemoveSchedule(Call<RemoveSchedule>),
    SetQueuePaused(Call<SetQueuePaused>),
    SetLimit(Call<SetLimit>),
    RemoveLimit(Call<RemoveLimit>),
    CompleteWithOutput(Call<CompleteWithOutput>),
    RetryJob(Call<RetryJob>),
    DeleteJob(Call<DeleteJob>),
    UpdateJob(Call<UpdateJob>),
    ByFilter(Call<ByFilter>),
    TakeLock(Call<TakeLock>),
}

/// [`IntoRequest`] for each transition: the variant of [`Request`] it travels in.
macro_rules! request_variants {
    ($($transition:ident),* $(,)?) => {
        $(
            impl IntoRequest for $transition {
                fn request(call: Call<Self>) -> Request {
                    Request::$transition(call)
                }
            }
        )*
    };
}

request_variants!(
    Enqueue,
    Claim,
    Heartbeat,
    Complete,
    Retry,
    Fail,
    Release,
    Cancel,
    Prune,
    UpsertSchedule,
    FireSchedule,
    PauseSchedule,
    ResumeSchedule,
    RemoveSchedule,
    SetQueuePaused,
    SetLimit,
    RemoveLimit,
    CompleteWithOutput,
    RetryJob,
    DeleteJob,
    UpdateJob,
    ByFilter,
    TakeLock,
);

/// `$body`, with `$call` bound to the typed [`Call`] inside `$request`, whichever
/// transition it is: the generic code each arm runs is checked for each answer type.
macro_rules! each_call {
    ($request:expr, $call:ident => $body:expr) => {
        match $request {
            Request::Enqueue($call) => $body,
            Request::Claim($call) => $body,
            Request::Heartbeat($call) => $body,
            Request::Complete($call) => $body,
            Request::Retry($call) => $body,
            Request::Fail($call) => $body,
            Request::Release($call) => $body,
            Request::Cancel($call) => $body,
            Request::Prune($call) => $body,
            Request::UpsertSchedule($call) => $body,
            Request::FireSchedule($call) => $body,
            Request::PauseSchedule($call) => $body,
            Request::ResumeSchedule($call) => $body,
            Request::RemoveSchedule($call) => $body,
            Request::SetQueuePaused($call) => $body,
            Request::SetLimit($call) => $body,
            Request::RemoveLimit($call) => $body,
            Request::CompleteWithOutput($call) => $body,
            Request::RetryJob($call) => $body,
            Request::DeleteJob($call) => $body,
            Request::UpdateJob($call) => $body,
            Request::ByFilter($call) => $body,
            Request::TakeLock($call) => $body,
        }
    };
}

impl Request {
    /// Whether a heartbeat: heartbeats go first in every group commit, so a big batch
    /// of other work never lets a lease expire.
    pub(crate) fn is_heartbeat(&self) -> bool {
        matches!(self, Request::Heartbeat(_))
    }

    /// Roughly how many rows it writes (at least 1), to bound a group commit.
    pub(crate) fn weight(&self) -> usize {
        each_call!(self, call => call.transition.weight()).max(1)
    }

    /// Whether it holds its answer in the group being run.
    pub(crate) fn is_answered(&self) -> bool {
        each_call!(self, call => call.answer.is_some())
    }

    /// Drops any answer it holds: the pass of the group that gave it was rolled back.
    pub(crate) fn forget_answer(&mut self) {
        each_call!(self, call => call.answer = None);
    }

    /// Runs the call in the group's transaction and keeps its answer (see
    /// [`Call::run`]).
    ///
    /// # Errors
    ///
    /// An error that breaks the group: roll it back and answer this call with it.
    pub(crate) async fn run(&mut self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        each_call!(self, call => call.run(conn).await)
    }

    /// Sends the answer it holds: its group committed.
    pub(crate) fn answer(self) {
        each_call!(self, call => call.answer());
    }

    /// Answers `error`, whatever answer it holds.
    pub(crate) fn fail(self, error: StoreError) {
        each_call!(self, call => call.fail(error));
    }
}
