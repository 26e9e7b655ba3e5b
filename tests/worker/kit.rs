//! The application author's kit: data shared with handlers, follow-up jobs enqueued
//! from a handler, layers around every job, and defaults a job type declares.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leasehold::retry::RetryPolicy;
use leasehold::schedule::Scheduler;
use leasehold::worker::{JobContext, JobError, JobHook, Layer, Next, Outcome, Worker};
use leasehold::{
    Clock, EnqueueHook, EnqueueOptions, Enqueued, Error, Job, JobFilter, JobRecord, JobState,
    JobStore, NewJob, StoreError, Supervisor, async_trait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::world::{AlwaysFails, Echo, World, always_fails, echo, only, within};

/// What the worker shares with its handlers in the scenarios: a counter.
#[derive(Default)]
struct Visits(AtomicUsize);

/// Enqueues `children` [`Echo`] jobs from its handler.
#[derive(Debug, Serialize, Deserialize)]
struct Parent {
    children: u32,
}
impl Job for Parent {
    const KIND: &'static str = "parent";
}

async fn parent(job: Parent, ctx: JobContext) -> Result<(), JobError> {
    ctx.data::<Arc<Visits>>()?.0.fetch_add(1, Ordering::SeqCst);
    let children = (0..job.children).map(|n| Echo { n });
    ctx.queue()
        .enqueue_many(children, EnqueueOptions::new().tags(["child"]))
        .await?;
    Ok(())
}

/// A handler reads the value given with `WorkerBuilder::data` and enqueues follow-up
/// jobs through its context's queue; the worker then runs them.
async fn handlers_read_the_workers_data_and_enqueue_follow_ups(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let visits = Arc::new(Visits::default());
    let worker = Worker::builder(&world.queue)
        .data(Arc::clone(&visits))
        .handler(parent)
        .handler(echo)
        .build()
        .unwrap();
    let id = world
        .enqueue(&Parent { children: 3 }, EnqueueOptions::new())
        .await;

    assert_eq!(only(&worker.run_once().await.unwrap()), &Outcome::Completed);

    assert_eq!(world.get(id).await.state, JobState::Completed);
    assert_eq!(visits.0.load(Ordering::SeqCst), 1);
    let children = world
        .queue
        .list(&JobFilter::all().tag("child"))
        .await
        .unwrap();
    assert_eq!(children.len(), 3);
    assert!(children.iter().all(|job| job.state == JobState::Available));
    let report = worker.run_once().await.unwrap();
    assert_eq!(report.completed(), 3);
}

/// Asked for a type it was not given, a handler's job fails at once, whatever attempts
/// remain, with an error naming the type and the builder call that gives it.
async fn a_handler_asking_for_data_the_worker_lacks_fails_permanently(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let worker = Worker::builder(&world.queue)
        .handler(parent)
        .build()
        .unwrap();
    let id = world
        .enqueue(
            &Parent { children: 1 },
            EnqueueOptions::new().max_attempts(5),
        )
        .await;

    let report = worker.run_once().await.unwrap();

    let Outcome::Failed { error } = only(&report) else {
        panic!("the job failed: {report:?}");
    };
    assert!(error.contains("Visits"), "{error}");
    assert!(error.contains("WorkerBuilder::data"), "{error}");
    let job = world.get(id).await;
    assert_eq!((job.state, job.attempt), (JobState::Failed, 1));
    let children = world.queue.list(&JobFilter::all().tag("child")).await;
    assert!(children.unwrap().is_empty(), "nothing was enqueued");
}

/// A layer that writes what it sees, in order, to a shared log.
struct Recorder {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Layer for Recorder {
    async fn call(&self, job: &JobRecord, next: Next<'_>) -> Outcome {
        self.write(format!("{} > {} #{}", self.name, job.kind, job.attempt));
        let outcome = next.run().await;
        let name = match &outcome {
            Outcome::Completed => "completed",
            Outcome::Retried { .. } => "retried",
            Outcome::Failed { .. } => "failed",
            _ => "other",
        };
        self.write(format!("{} < {name}", self.name));
        outcome
    }
}

impl Recorder {
    /// A recorder named `name` that writes to `log`.
    fn new(name: &'static str, log: &Arc<Mutex<Vec<String>>>) -> Self {
        Self {
            name,
            log: Arc::clone(log),
        }
    }

    fn write(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }
}

/// Runs an [`Echo`] job on `worker`, then an [`AlwaysFails`] job through each of its
/// `attempts` attempts.
async fn run_an_echo_then_a_failure(world: &World, worker: &Worker, attempts: u32) {
    world.enqueue(&Echo { n: 1 }, EnqueueOptions::new()).await;
    worker.run_once().await.unwrap();
    world
        .enqueue(&AlwaysFails, EnqueueOptions::new().max_attempts(attempts))
        .await;
    for _ in 0..attempts {
        worker.run_once().await.unwrap();
    }
}

/// Layers run around every job in the order added, the first outermost, and see the
/// outcome as recorded: retried while attempts remain, failed on the last.
async fn layers_wrap_every_job_in_order_and_see_the_recorded_outcome(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let log = Arc::new(Mutex::new(Vec::new()));
    let worker = Worker::builder(&world.queue)
        .layer(Recorder::new("outer", &log))
        .layer(Recorder::new("inner", &log))
        .handler(echo)
        .handler(always_fails)
        .retry_policy(RetryPolicy::constant(Duration::ZERO))
        .build()
        .unwrap();
    run_an_echo_then_a_failure(&world, &worker, 2).await;

    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            "outer > echo #1",
            "inner > echo #1",
            "inner < completed",
            "outer < completed",
            "outer > always_fails #1",
            "inner > always_fails #1",
            "inner < retried",
            "outer < retried",
            "outer > always_fails #2",
            "inner > always_fails #2",
            "inner < failed",
            "outer < failed",
        ]
    );
}

impl JobHook for Recorder {
    fn before(&self, job: &JobRecord) {
        self.write(format!("{} > {} #{}", self.name, job.kind, job.attempt));
    }

    fn after(&self, _job: &JobRecord, outcome: &Outcome, _ran: Duration) {
        let name = match outcome {
            Outcome::Completed => "completed",
            Outcome::Failed { .. } => "failed",
            _ => "other",
        };
        self.write(format!("{} < {name}", self.name));
    }
}

/// Hooks are called before and after every job, in the order added, outside every
/// layer, with the outcome as recorded.
async fn hooks_run_outside_the_layers_in_order_and_see_the_recorded_outcome(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let log = Arc::new(Mutex::new(Vec::new()));
    let worker = Worker::builder(&world.queue)
        .layer(Recorder::new("layer", &log))
        .hook(Recorder::new("first", &log))
        .hook(Recorder::new("second", &log))
        .handler(echo)
        .handler(always_fails)
        .build()
        .unwrap();
    run_an_echo_then_a_failure(&world, &worker, 1).await;

    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            "first > echo #1",
            "second > echo #1",
            "layer > echo #1",
            "layer < completed",
            "first < completed",
            "second < completed",
            "first > always_fails #1",
            "second > always_fails #1",
            "layer > always_fails #1",
            "layer < failed",
            "first < failed",
            "second < failed",
        ]
    );
}

/// Declares its enqueue options.
#[derive(Debug, Serialize, Deserialize)]
struct Declared {
    user: u32,
}
impl Job for Declared {
    const KIND: &'static str = "declared";

    fn enqueue_options(&self) -> EnqueueOptions {
        EnqueueOptions::new()
            .queue("declared")
            .priority(3)
            .max_attempts(2)
            .unique_key(format!("user:{}", self.user))
            .tags(["typed"])
            .metadata(json!({"source": "type", "kept": true}))
    }
}

/// A job type's declared options apply to every enqueue; the call's own options win
/// field by field, their tags add up and their metadata merges key by key.
async fn a_job_types_enqueue_options_apply_and_the_calls_win(store: Arc<dyn JobStore>) {
    let world = World::new(store);

    let id = world
        .enqueue(&Declared { user: 7 }, EnqueueOptions::new())
        .await;
    let job = world.get(id).await;
    assert_eq!(job.queue, "declared");
    assert_eq!(job.priority, 3);
    assert_eq!(job.max_attempts, 2);
    assert_eq!(job.unique_key.as_deref(), Some("user:7"));
    assert_eq!(job.tags, ["typed"]);
    assert_eq!(json!(job.metadata), json!({"source": "type", "kept": true}));

    let options = EnqueueOptions::new()
        .queue("call")
        .tags(["call"])
        .metadata(json!({"source": "call"}));
    let id = world.enqueue(&Declared { user: 8 }, options).await;
    let job = world.get(id).await;
    assert_eq!(job.queue, "call");
    assert_eq!(job.priority, 3);
    assert_eq!(job.unique_key.as_deref(), Some("user:8"));
    assert_eq!(job.tags, ["typed", "call"]);
    assert_eq!(json!(job.metadata), json!({"source": "call", "kept": true}));

    // The declared unique key dedupes as if the call had given it.
    let again = world.queue.enqueue(&Declared { user: 7 }).await.unwrap();
    assert!(again.duplicate, "user 7's job is already pending");
}

/// Hangs, with a timeout and a retry policy of its own.
#[derive(Debug, Serialize, Deserialize)]
struct SlowTyped;
impl Job for SlowTyped {
    const KIND: &'static str = "slow_typed";

    fn timeout() -> Option<Duration> {
        Some(Duration::from_millis(20))
    }

    fn retry_policy() -> Option<RetryPolicy> {
        Some(RetryPolicy::constant(Duration::from_secs(7)))
    }
}

async fn slow_typed(_: SlowTyped, _: JobContext) -> Result<(), JobError> {
    std::future::pending().await
}

/// A job type's declared timeout and retry policy apply; the builder's per-kind
/// settings win over them.
async fn a_job_types_timeout_and_retry_policy_apply_unless_the_builder_sets_the_kinds(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let declared = Worker::builder(&world.queue)
        .handler(slow_typed)
        .build()
        .unwrap();
    world.enqueue(&SlowTyped, EnqueueOptions::new()).await;

    let report = declared.run_once().await.unwrap();

    let Outcome::Retried { delay, error, .. } = only(&report) else {
        panic!("the attempt timed out and is retried: {report:?}");
    };
    assert_eq!(error, "timed out after 20ms");
    assert_eq!(*delay, Duration::from_secs(7));

    let overridden = Worker::builder(&world.queue)
        .handler(slow_typed)
        .timeout_for(SlowTyped::KIND, Duration::from_millis(30))
        .retry_policy_for(
            SlowTyped::KIND,
            RetryPolicy::constant(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    world.clock.advance(Duration::from_secs(7));

    let report = overridden.run_once().await.unwrap();

    let Outcome::Retried { delay, error, .. } = only(&report) else {
        panic!("the attempt timed out and is retried: {report:?}");
    };
    assert_eq!(error, "timed out after 30ms");
    assert_eq!(*delay, Duration::from_secs(2));
}

/// Stamps every job with a mark and counts what the store answered; refuses jobs of
/// the kind it is told to.
struct Stamp {
    stored: Arc<AtomicUsize>,
    refuse: &'static str,
}

impl EnqueueHook for Stamp {
    fn before(&self, jobs: &mut [NewJob]) -> Result<(), Error> {
        for job in jobs {
            if job.kind == self.refuse {
                return Err(Error::InvalidJob(format!("{} jobs are refused", job.kind)));
            }
            job.metadata.insert("stamp".into(), json!("hooked"));
        }
        Ok(())
    }

    fn after(&self, enqueued: &[Enqueued]) {
        self.stored.fetch_add(enqueued.len(), Ordering::SeqCst);
    }
}

/// A queue's hooks see every enqueue through it, a handler's follow-up jobs
/// included: they change the jobs before they are stored, count what was stored,
/// and an error refuses the enqueue with nothing stored.
async fn enqueue_hooks_change_count_and_refuse_every_enqueue_through_the_queue(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let stored = Arc::new(AtomicUsize::new(0));
    let queue = world.queue.clone().with_hook(Stamp {
        stored: Arc::clone(&stored),
        refuse: AlwaysFails::KIND,
    });
    let worker = Worker::builder(&queue)
        .data(Arc::new(Visits::default()))
        .handler(parent)
        .build()
        .unwrap();

    let id = queue.enqueue(Parent { children: 2 }).await.unwrap().job.id;
    worker.run_once().await.unwrap();
    let refused = queue.enqueue(AlwaysFails).await.unwrap_err();

    assert_eq!(
        stored.load(Ordering::SeqCst),
        3,
        "the parent and its two children"
    );
    let jobs = world.queue.list(&JobFilter::all()).await.unwrap();
    assert_eq!(jobs.len(), 3, "nothing of the refused enqueue: {jobs:?}");
    assert!(jobs.iter().all(|job| job.metadata["stamp"] == "hooked"));
    assert_eq!(world.get(id).await.state, JobState::Completed);
    assert!(
        refused
            .to_string()
            .contains("always_fails jobs are refused"),
        "{refused}"
    );
}

/// `Queue::wait_for` returns a job once it is terminal (completed, or failed for
/// good) as the worker records it, and says so for an unknown id.
async fn wait_for_returns_the_job_once_its_outcome_is_recorded(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let worker = Worker::builder(&world.queue)
        .handler(echo)
        .handler(always_fails)
        .build()
        .unwrap();
    let run = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });

    let ok = world.enqueue(&Echo { n: 1 }, EnqueueOptions::new()).await;
    let bad = world
        .enqueue(&AlwaysFails, EnqueueOptions::new().max_attempts(1))
        .await;
    let ok = within(world.queue.wait_for(ok)).await.unwrap();
    let bad = within(world.queue.wait_for(bad)).await.unwrap();
    let unknown = world
        .queue
        .wait_for(leasehold::JobId::new(world.clock.now()))
        .await;

    assert_eq!(ok.state, JobState::Completed);
    assert_eq!(bad.state, JobState::Failed);
    assert!(
        matches!(unknown, Err(Error::Store(StoreError::NotFound(_)))),
        "{unknown:?}"
    );
    worker.shutdown().await;
    within(run).await.unwrap();
}

/// A supervisor runs its workers and tasks until its signal, then stops them all: the
/// task sees its token cancelled, the worker stops claiming. A part that stops by
/// itself shuts the others down too.
async fn a_supervisor_runs_its_parts_and_stops_them_together(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let worker = Worker::builder(&world.queue).handler(echo).build().unwrap();
    let task_stopped = Arc::new(AtomicUsize::new(0));
    let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
    let supervisor = Supervisor::new()
        .worker(worker.clone())
        .scheduler(Scheduler::new(&world.queue))
        .task({
            let task_stopped = Arc::clone(&task_stopped);
            move |stop| async move {
                stop.cancelled().await;
                task_stopped.fetch_add(1, Ordering::SeqCst);
            }
        });
    let running = tokio::spawn(supervisor.run_until(signalled));

    let id = world.enqueue(&Echo { n: 1 }, EnqueueOptions::new()).await;
    let job = within(world.queue.wait_for(id)).await.unwrap();
    signal.send(()).unwrap();
    within(running).await.unwrap();

    assert_eq!(job.state, JobState::Completed);
    assert_eq!(task_stopped.load(Ordering::SeqCst), 1);
    assert!(
        worker.shutdown_token().is_cancelled(),
        "the worker was shut down"
    );

    // A task that ends by itself: everything stops although no signal came.
    let worker = Worker::builder(&world.queue).handler(echo).build().unwrap();
    let supervisor = Supervisor::new()
        .worker(worker.clone())
        .task(|_stop| async {});
    within(supervisor.run_until(std::future::pending::<()>())).await;
    assert!(worker.shutdown_token().is_cancelled());
}

worker_scenarios!(
    wait_for_returns_the_job_once_its_outcome_is_recorded,
    a_supervisor_runs_its_parts_and_stops_them_together,
    enqueue_hooks_change_count_and_refuse_every_enqueue_through_the_queue,
    handlers_read_the_workers_data_and_enqueue_follow_ups,
    a_handler_asking_for_data_the_worker_lacks_fails_permanently,
    layers_wrap_every_job_in_order_and_see_the_recorded_outcome,
    hooks_run_outside_the_layers_in_order_and_see_the_recorded_outcome,
    a_job_types_enqueue_options_apply_and_the_calls_win,
    a_job_types_timeout_and_retry_policy_apply_unless_the_builder_sets_the_kinds,
);
