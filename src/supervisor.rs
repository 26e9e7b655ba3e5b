//! [`Supervisor`]: the workers, schedulers and background tasks of one process, run
//! together and shut down together.

use std::future::Future;

use futures::future::BoxFuture;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::scheduler::Scheduler;
use crate::worker::Worker;

/// Runs a process's workers, schedulers and background tasks (queue metrics, say)
/// together, with one graceful shutdown: instead of a spawned task and a shutdown
/// idiom for each.
///
/// [`Supervisor::run_until`] starts everything, and when its signal resolves (or
/// [`Supervisor::shutdown_token`] is cancelled, or any part stops by itself, which is
/// logged as an error) stops it all: workers stop claiming, let running jobs finish
/// within their grace period and release the rest; schedulers and tasks are told
/// through their token. It returns once every part has stopped. Each worker still runs
/// its own maintenance (retention) as it does alone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), leasehold::Error> {
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use leasehold::schedule::{ScheduleSpec, Scheduler};
/// use leasehold::worker::{JobContext, Worker};
/// use leasehold::{Job, Queue, Supervisor};
/// use leasehold_memory::MemoryStore;
/// # #[derive(serde::Serialize, serde::Deserialize)]
/// # struct Ping;
/// # impl Job for Ping { const KIND: &'static str = "ping"; }
///
/// let queue = Queue::new(Arc::new(MemoryStore::new()));
/// let worker = Worker::builder(&queue)
///     .handler(|_: Ping, _: JobContext| async {})
///     .build()?;
/// let scheduler = Scheduler::new(&queue);
///
/// let supervisor = Supervisor::new()
///     .worker(worker)
///     .scheduler(scheduler)
///     .task(|stop| async move { stop.cancelled().await });
/// // In production: `supervisor.run_until(tokio::signal::ctrl_c()).await`.
/// supervisor.run_until(tokio::time::sleep(Duration::from_millis(10))).await;
/// # Ok(())
/// # }
/// ```
#[must_use = "a supervisor does nothing until `run_until`"]
pub struct Supervisor {
    workers: Vec<Worker>,
    schedulers: Vec<Scheduler>,
    tasks: Vec<BoxFuture<'static, ()>>,
    stop: CancellationToken,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("workers", &self.workers)
            .field("schedulers", &self.schedulers.len())
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// A supervisor with nothing to run yet.
    pub fn new() -> Self {
        Self {
            workers: Vec::new(),
            schedulers: Vec::new(),
            tasks: Vec::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Runs `worker` ([`Worker::run`]); at shutdown it drains as
    /// [`Worker::shutdown`] does.
    pub fn worker(mut self, worker: Worker) -> Self {
        self.workers.push(worker);
        self
    }

    /// Runs `scheduler` ([`Scheduler::run`]) until shutdown.
    pub fn scheduler(mut self, scheduler: Scheduler) -> Self {
        self.schedulers.push(scheduler);
        self
    }

    /// Runs the future `task` makes from the shutdown token: it must return soon after
    /// the token is cancelled (e.g. `Metrics::report_queues`).
    pub fn task<F, Fut>(mut self, task: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.push(Box::pin(task(self.stop.child_token())));
        self
    }

    /// The token that shuts everything down when cancelled (as the signal of
    /// [`Supervisor::run_until`] does).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Runs every part until `signal` resolves, the shutdown token is cancelled, or a
    /// part stops by itself; then shuts every part down and waits for all of them.
    pub async fn run_until<S: Future>(self, signal: S) {
        let Self {
            workers,
            schedulers,
            tasks,
            stop,
        } = self;
        let mut parts = JoinSet::new();
        for worker in workers {
            let stop = stop.clone();
            parts.spawn(async move {
                worker.run_until(stop.cancelled_owned()).await;
                "a worker"
            });
        }
        for scheduler in schedulers {
            let stop = stop.child_token();
            parts.spawn(async move {
                scheduler.run(stop).await;
                "a scheduler"
            });
        }
        for task in tasks {
            parts.spawn(async move {
                task.await;
                "a task"
            });
        }
        let running = parts.len();
        tokio::pin!(signal);
        tokio::select! {
            _ = &mut signal => {}
            () = stop.cancelled() => {}
            ended = parts.join_next(), if running > 0 => {
                tracing::error!(
                    part = ended_name(ended),
                    "a supervised part stopped by itself: shutting everything down"
                );
            }
        }
        stop.cancel();
        while let Some(ended) = parts.join_next().await {
            if let Err(error) = ended {
                tracing::error!(%error, "a supervised part ended abnormally");
            }
        }
    }
}

/// What ended, for the log.
fn ended_name(ended: Option<Result<&'static str, tokio::task::JoinError>>) -> String {
    match ended {
        Some(Ok(part)) => part.to_owned(),
        Some(Err(error)) => format!("a part that panicked or was cancelled ({error})"),
        None => "nothing".to_owned(),
    }
}
