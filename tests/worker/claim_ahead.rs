//! Claiming ahead of free slots: the jobs a worker buffers are leased like running
//! ones, heartbeated, never run beyond the concurrency, given up when cancelled, and
//! given back at shutdown; `claim_ahead(0)` claims only for free slots.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use leasehold::worker::{JobContext, Worker};
use leasehold::{EnqueueOptions, Job, JobFilter, JobId, JobState, JobStore};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::world::{Gate, Gated, World, spawn_run, within};

/// A worker of concurrency 1 that claims up to `ahead` jobs beyond its slot.
fn worker(world: &World, gate: &Gate, ahead: usize) -> Worker {
    Worker::builder(&world.queue)
        .id("a")
        .queue("default", 1)
        .claim_ahead(ahead)
        .handler(gate.handler())
        // Only the enqueue signal and freed slots wake it: no poll during a test.
        .poll_interval(Duration::from_secs(3600))
        .max_poll_interval(Duration::from_secs(3600))
        .shutdown_grace(Duration::from_secs(10))
        .build()
        .expect("a valid worker")
}

/// Enqueues `n` gated jobs in one call, so that one claim can see them all.
async fn enqueue_gated(world: &World, n: usize) -> Vec<JobId> {
    let jobs: Vec<Gated> = (0..n).map(|_| Gated).collect();
    let enqueued = world
        .queue
        .enqueue_many(&jobs, EnqueueOptions::new())
        .await
        .expect("enqueue works");
    enqueued.into_iter().map(|e| e.job.id).collect()
}

async fn count(world: &World, state: JobState) -> u64 {
    world
        .queue
        .count(&JobFilter::all().state(state))
        .await
        .expect("count works")
}

/// Waits until the store holds `n` jobs in `state`.
async fn until_stored(world: &World, state: JobState, n: u64) {
    within(async {
        while count(world, state).await != n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// A worker of concurrency 1 claiming `ahead` jobs ahead, running over `jobs` gated
/// jobs: its first job has started and `held` jobs are running in the store.
struct Scene {
    world: World,
    gate: Gate,
    started: mpsc::UnboundedReceiver<JobId>,
    worker: Worker,
    ids: Vec<JobId>,
    running: JoinHandle<()>,
}

impl Scene {
    /// First runs one job through an open gate: a worker buffers only once it has
    /// seen how long its handlers run (this one: no time at all).
    async fn new(store: Arc<dyn JobStore>, ahead: usize, jobs: usize, held: u64) -> Self {
        let world = World::new(store);
        let (gate, mut started) = Gate::new();
        let worker = worker(&world, &gate, ahead);
        let running = spawn_run(&worker);
        gate.open();
        let prime = world.enqueue(&Gated, EnqueueOptions::new()).await;
        assert_eq!(within(started.recv()).await.unwrap(), prime);
        until_stored(&world, JobState::Completed, 1).await;

        let ids = enqueue_gated(&world, jobs).await;
        assert_eq!(within(started.recv()).await.unwrap(), ids[0]);
        until_stored(&world, JobState::Running, held).await;
        Self {
            world,
            gate,
            started,
            worker,
            ids,
            running,
        }
    }

    /// Lets `n` more runs through, waits until `completed` of the scene's jobs are, and
    /// shuts down.
    async fn finish(self, n: usize, completed: u64) {
        for _ in 0..n {
            self.gate.open();
        }
        until_stored(&self.world, JobState::Completed, completed + 1).await;
        self.worker.shutdown().await;
        within(self.running).await.unwrap();
    }
}

/// One claim takes the job for the free slot and four more into the buffer: five
/// jobs are running in the store, one handler runs, and each freed slot starts the
/// next buffered job, one at a time.
async fn claimed_ahead_jobs_wait_in_a_buffer_and_never_exceed_the_concurrency(
    store: Arc<dyn JobStore>,
) {
    let mut scene = Scene::new(store, 4, 6, 5).await;

    assert_eq!(scene.worker.running(), 1);
    assert!(scene.started.try_recv().is_err(), "one handler at a time");
    for id in &scene.ids[1..5] {
        scene.gate.open();
        assert_eq!(within(scene.started.recv()).await.unwrap(), *id);
        assert!(scene.started.try_recv().is_err(), "one handler at a time");
    }
    // The buffer fell to half (2 of 4): the last job was claimed ahead as well.
    scene.gate.open();
    assert_eq!(within(scene.started.recv()).await.unwrap(), scene.ids[5]);
    scene.finish(1, 6).await;
}

/// Shutdown lets the running job finish and gives the buffered ones back at once,
/// due now with their attempt returned, never having run.
async fn shutdown_gives_back_the_jobs_claimed_ahead_with_their_attempt(store: Arc<dyn JobStore>) {
    let mut scene = Scene::new(store, 4, 4, 4).await;

    let shutdown = tokio::spawn({
        let a = scene.worker.clone();
        async move { a.shutdown().await }
    });
    until_stored(&scene.world, JobState::Running, 1).await;
    scene.gate.open();
    within(shutdown).await.unwrap();

    assert_eq!(
        scene.world.get(scene.ids[0]).await.state,
        JobState::Completed
    );
    for id in &scene.ids[1..] {
        let job = scene.world.get(*id).await;
        assert_eq!((job.state, job.attempt), (JobState::Available, 0), "{id}");
    }
    assert!(scene.started.try_recv().is_err(), "no buffered job ran");
    scene.finish(0, 1).await;
}

/// Buffered jobs are under the same heartbeat as the running one: their leases are
/// extended together.
async fn jobs_claimed_ahead_are_heartbeated_with_the_running_ones(store: Arc<dyn JobStore>) {
    let scene = Scene::new(store, 2, 3, 3).await;
    let claimed_until = scene.world.get(scene.ids[2]).await.lease_until.unwrap();

    scene.world.clock.advance(Duration::from_secs(5));
    scene.worker.heartbeat().await.unwrap();

    for id in &scene.ids {
        let lease_until = scene.world.get(*id).await.lease_until.unwrap();
        assert_eq!(lease_until, claimed_until + Duration::from_secs(5), "{id}");
    }
    scene.finish(3, 3).await;
}

/// A buffered job cancelled in the store is given up at the next heartbeat and never
/// runs; the jobs behind it still do.
async fn a_buffered_job_cancelled_in_the_store_never_runs(store: Arc<dyn JobStore>) {
    let mut scene = Scene::new(store, 2, 3, 3).await;

    scene.world.queue.cancel(scene.ids[1]).await.unwrap();
    scene.worker.heartbeat().await.unwrap();
    scene.gate.open();

    assert_eq!(within(scene.started.recv()).await.unwrap(), scene.ids[2]);
    assert_eq!(
        scene.world.get(scene.ids[1]).await.state,
        JobState::Cancelled
    );
    scene.finish(1, 2).await;
}

/// `claim_ahead(0)` claims only for free slots: one job running, the rest available.
async fn claim_ahead_zero_claims_only_for_free_slots(store: Arc<dyn JobStore>) {
    let scene = Scene::new(store, 0, 3, 1).await;

    // Give a wrong extra claim the time to happen.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count(&scene.world, JobState::Running).await, 1);
    assert_eq!(count(&scene.world, JobState::Available).await, 2);
    scene.finish(3, 3).await;
}

/// Jobs that run long are hardly buffered: the buffer holds what the slot gets
/// through in 100 ms, so with 60 ms jobs a worker holds at most 1 running and 2
/// buffered, however large its `claim_ahead`, and leaves the rest for others.
async fn long_jobs_are_hardly_claimed_ahead(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let starts = Starts::default();
    let a = logging_worker(&world, "a", &starts, (1, 64), Duration::from_millis(60));
    enqueue_briefs(&world, 10, 0).await;
    let running = spawn_run(&a);

    let mut most = 0;
    while count(&world, JobState::Completed).await < 5 {
        most = most.max(count(&world, JobState::Running).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.shutdown().await;
    within(running).await.unwrap();

    assert!(most <= 3, "at most 1 running and 2 buffered: {most} held");
    assert!(count(&world, JobState::Available).await >= 2);
}

/// A job that takes a moment, so that workers sharing a backlog interleave.
#[derive(Debug, Serialize, Deserialize)]
struct Brief {
    n: u32,
}
impl Job for Brief {
    const KIND: &'static str = "brief";
}

/// Enqueues `n` [`Brief`] jobs of `priority` in one call.
async fn enqueue_briefs(world: &World, n: u32, priority: i16) {
    let jobs: Vec<Brief> = (0..n).map(|n| Brief { n }).collect();
    world
        .queue
        .enqueue_many(&jobs, EnqueueOptions::new().priority(priority))
        .await
        .expect("enqueue works");
}

/// The order jobs started in: (worker, job).
type Starts = Arc<Mutex<Vec<(&'static str, JobId)>>>;

/// A worker of `(concurrency, claim_ahead)` whose [`Brief`] handler logs its start
/// and takes `takes`.
fn logging_worker(
    world: &World,
    id: &'static str,
    starts: &Starts,
    (concurrency, ahead): (usize, usize),
    takes: Duration,
) -> Worker {
    let starts = Arc::clone(starts);
    Worker::builder(&world.queue)
        .id(id)
        .queue("default", concurrency)
        .claim_ahead(ahead)
        .handler(move |_: Brief, ctx: JobContext| {
            starts.lock().unwrap().push((id, ctx.id()));
            tokio::time::sleep(takes)
        })
        .build()
        .expect("a valid worker")
}

/// How the workers sharing a backlog run: 4 slots, 16 ahead, 2 ms jobs.
const SHARING: (usize, usize) = (4, 16);
const BRIEF: Duration = Duration::from_millis(2);

/// Two workers sharing one backlog each run a fair share of it, buffers and all: the
/// cost of claiming ahead to a second worker is bounded by one buffer.
async fn two_workers_claiming_ahead_share_one_backlog_fairly(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let starts = Starts::default();
    let a = logging_worker(&world, "a", &starts, SHARING, BRIEF);
    let b = logging_worker(&world, "b", &starts, SHARING, BRIEF);
    let (running_a, running_b) = (spawn_run(&a), spawn_run(&b));
    tokio::task::yield_now().await;

    enqueue_briefs(&world, 400, 0).await;
    until_stored(&world, JobState::Completed, 400).await;
    a.shutdown().await;
    b.shutdown().await;
    within(running_a).await.unwrap();
    within(running_b).await.unwrap();

    let by_a = starts
        .lock()
        .unwrap()
        .iter()
        .filter(|(w, _)| *w == "a")
        .count();
    eprintln!(
        "of 400 jobs, worker a ran {by_a} and worker b {}",
        400 - by_a
    );
    assert!(
        (120..=280).contains(&by_a),
        "each ran at least 30%: a ran {by_a} of 400"
    );
}

/// A job of a better priority enqueued into a busy queue starts after at most one
/// buffer's worth of the jobs claimed before it (and those running).
async fn an_urgent_job_waits_for_at_most_one_buffer_of_claimed_work(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let starts = Starts::default();
    let a = logging_worker(&world, "a", &starts, SHARING, BRIEF);
    enqueue_briefs(&world, 200, 10).await;
    let running = spawn_run(&a);
    within(async {
        while starts.lock().unwrap().len() < 20 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;

    let urgent = world
        .enqueue(&Brief { n: 999 }, EnqueueOptions::new().priority(0))
        .await;
    // Counted from when the urgent job is stored: jobs that start while its enqueue
    // is on its way (a slow store, a loaded machine) were claimed before it existed.
    let before = starts.lock().unwrap().len();
    let waited = within(async {
        loop {
            let log = starts.lock().unwrap().clone();
            if let Some(at) = log.iter().position(|(_, id)| *id == urgent) {
                return at.saturating_sub(before);
            }
            drop(log);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    a.shutdown().await;
    within(running).await.unwrap();

    eprintln!("the urgent job started after {waited} jobs already claimed");
    assert!(
        waited <= 16 + 4,
        "at most a buffer (16) and the running jobs (4): {waited}"
    );
}

worker_scenarios!(
    claimed_ahead_jobs_wait_in_a_buffer_and_never_exceed_the_concurrency,
    shutdown_gives_back_the_jobs_claimed_ahead_with_their_attempt,
    jobs_claimed_ahead_are_heartbeated_with_the_running_ones,
    a_buffered_job_cancelled_in_the_store_never_runs,
    claim_ahead_zero_claims_only_for_free_slots,
    long_jobs_are_hardly_claimed_ahead,
    two_workers_claiming_ahead_share_one_backlog_fairly,
    an_urgent_job_waits_for_at_most_one_buffer_of_claimed_work,
);
