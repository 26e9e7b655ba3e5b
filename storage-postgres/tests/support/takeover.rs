//! What the tests of a takeover share (this crate's `partition.rs`, the root crate's
//! `tests/fence.rs`): two workers contend for one job, one of them is cut off, and the
//! other takes the job over. The workers' common settings, and a log of when each
//! handler started, showed it was alive and ended, which the tests read the overlap of
//! the two runs off.

// Each test file that includes this module uses a part of it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leasehold::Queue;
use leasehold::worker::{Worker, WorkerBuilder};
use tokio::task::JoinHandle;

/// One of the two workers: `id` on `queue`, one job at a time on the default queue,
/// with `lease` and a heartbeat every `heartbeat`. The test adds its polling, grace and
/// handler.
pub(crate) fn contender(
    queue: &Queue,
    id: &'static str,
    lease: Duration,
    heartbeat: Duration,
) -> WorkerBuilder {
    Worker::builder(queue)
        .id(id)
        .queue("default", 1)
        .lease_duration(lease)
        .heartbeat_interval(heartbeat)
}

/// Runs `worker` in a task of its own until it is shut down.
pub(crate) fn spawn_run(worker: &Worker) -> JoinHandle<()> {
    let worker = worker.clone();
    tokio::spawn(async move { worker.run().await })
}

/// What a handler marks in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// The handler started.
    Start,
    /// The handler is still running.
    Alive,
    /// The handler finished (or, where a test marks it from a drop guard, its future was
    /// dropped).
    End,
}

/// A handler's mark: when, by which worker, for which attempt.
pub(crate) type Entry = (Instant, &'static str, u32, Mark);

/// Every mark every handler made; its clones share one log.
#[derive(Clone, Default)]
pub(crate) struct HandlerLog(Arc<Mutex<Vec<Entry>>>);

impl HandlerLog {
    /// Marks, now, that `worker`'s run of `attempt` did `mark`.
    pub(crate) fn mark(&self, worker: &'static str, attempt: u32, mark: Mark) {
        self.0
            .lock()
            .unwrap()
            .push((Instant::now(), worker, attempt, mark));
    }

    /// Every mark so far, in the order they were made.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        self.0.lock().unwrap().clone()
    }

    /// `worker`'s marks, in the order it made them.
    pub(crate) fn marks(&self, worker: &str) -> Vec<(Instant, u32, Mark)> {
        let log = self.0.lock().unwrap();
        log.iter()
            .filter(|(_, w, _, _)| *w == worker)
            .map(|&(at, _, attempt, mark)| (at, attempt, mark))
            .collect()
    }

    /// When `worker` first marked `wanted`, and for which attempt.
    pub(crate) fn first(&self, worker: &str, wanted: Mark) -> Option<(Instant, u32)> {
        self.marks(worker)
            .into_iter()
            .find(|(_, _, mark)| *mark == wanted)
            .map(|(at, attempt, _)| (at, attempt))
    }

    /// When `worker` first started a run.
    pub(crate) fn first_start(&self, worker: &str) -> Option<Instant> {
        self.first(worker, Mark::Start).map(|(at, _)| at)
    }

    /// When `worker`'s handler last marked anything.
    pub(crate) fn last_sign_of_life(&self, worker: &str) -> Option<Instant> {
        self.marks(worker).last().map(|(at, _, _)| *at)
    }
}
