//! A deterministic simulation of workers and schedulers over one store, under faults.
//!
//! Seeded chaos on a `ManualClock`: three workers step their loops (`run_once`,
//! `heartbeat`) in an order drawn from the seed, handlers draw their outcome (success,
//! error, panic, snooze, permanent failure, or a run that stalls past its lease), workers
//! crash without releasing and come back under new names, the store fails calls at
//! random (before or after the write), and the clock jumps. Two schedulers fire an
//! interval schedule meanwhile. Then calm returns, and the clock moves on until every
//! job has ended.
//!
//! Checked over the store's whole lease history ([`FailingStore::history`], put in the
//! store's order of each job's changes by [`in_store_order`]: one group commit's
//! calls return together, in any order):
//! - no lease on a job is granted while another lease on it is live (no two workers
//!   ever hold one job at once), nor after a write ended the job for good;
//! - every retry waits its backoff (between the jittered bounds), and the job is not
//!   claimed again before it;
//! - every job ends Completed, Failed or Cancelled with attempts <= max, none is lost;
//! - every schedule slot yields one job;
//! - random workflows built meanwhile (dependency graphs with random policies, batches
//!   with a callback: [`workflows`]) keep their order and run their callbacks once.
//!
//! `LEASEHOLD_SIM_SEEDS=N` runs N seeds (default 4); a failure names its seed, and
//! `LEASEHOLD_SIM_SEED=S` replays that one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leasehold::retry::RetryPolicy;
use leasehold::schedule::{NewSchedule, ScheduleSpec, Scheduler};
use leasehold::testing::conformance::t;
use leasehold::testing::failing::{FailingStore, Faults, LeaseEvent, in_store_order};
use leasehold::time::OffsetDateTime;
use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{Clock, EnqueueOptions, Job, JobFilter, JobId, JobStore, ManualClock, Queue};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

#[path = "support/workflows.rs"]
mod workflows;
use workflows::{Digest, Flows, Reads, Step};

const JOBS: u32 = 40;
const STEPS: usize = 400;
const MAX_ATTEMPTS: u32 = 5;
const LEASE: Duration = Duration::from_secs(30);

/// What a handler does on one run.
#[derive(Debug, Clone, Copy)]
enum Act {
    Succeed,
    Err,
    Panic,
    Snooze,
    Permanent,
    Stall,
}

/// Shared by every handler: the seed, the gate stalled runs wait on, calm mode.
struct Script {
    seed: u64,
    gate: Notify,
    calm: AtomicBool,
    runs: Mutex<BTreeMap<(u32, u32), u32>>,
}

impl Script {
    fn act(&self, n: u32, attempt: u32) -> Act {
        if self.calm.load(Ordering::SeqCst) {
            return Act::Succeed;
        }
        let run = {
            let mut runs = self.runs.lock().unwrap();
            let run = runs.entry((n, attempt)).or_default();
            *run += 1;
            *run
        };
        let mut rng = fastrand::Rng::with_seed(
            self.seed ^ (u64::from(n) << 32) ^ (u64::from(attempt) << 16) ^ u64::from(run),
        );
        match rng.u32(0..100) {
            0..50 => Act::Succeed,
            50..65 => Act::Err,
            65..70 => Act::Panic,
            70..78 => Act::Snooze,
            78..82 => Act::Permanent,
            _ => Act::Stall,
        }
    }
}

/// A job of the simulation; its handler, [`sim`], does what the [`Script`] draws.
#[derive(Debug, Serialize, Deserialize)]
struct Sim {
    n: u32,
}

impl Job for Sim {
    const KIND: &'static str = "sim";
}

async fn sim(job: Sim, ctx: JobContext, script: Arc<Script>) -> Result<(), JobError> {
    perform(script.act(job.n, ctx.attempt()), job.n, &ctx, &script).await
}

/// A batch's callback: does what the script draws, but never fails for good.
async fn digest(ctx: JobContext, script: Arc<Script>, reads: Reads) -> Result<(), JobError> {
    let n = ctx.id().as_uuid().as_fields().0;
    let act = match script.act(n, ctx.attempt()) {
        Act::Permanent => Act::Err,
        act => act,
    };
    let progress = workflows::read(&ctx).await?;
    perform(act, n, &ctx, &script).await?;
    workflows::record(&reads, ctx.id(), progress);
    Ok(())
}

async fn perform(act: Act, n: u32, ctx: &JobContext, script: &Script) -> Result<(), JobError> {
    match act {
        Act::Succeed => Ok(()),
        Act::Err => Err(JobError::retryable(format!("job {n} failed"))),
        Act::Panic => panic!("job {n} panicked"),
        Act::Snooze => Err(JobError::snooze(Duration::from_secs(5))),
        Act::Permanent => Err(JobError::permanent("bad input")),
        Act::Stall => {
            // Stalls until the driver opens the gate (time may pass meanwhile).
            tokio::select! {
                () = script.gate.notified() => Ok(()),
                () = ctx.cancelled() => Ok(()),
            }
        }
    }
}

/// The job of a slot of the schedulers' interval schedule; its handler does nothing.
#[derive(Debug, Serialize, Deserialize)]
struct Tick;

impl Job for Tick {
    const KIND: &'static str = "tick";
}

fn retry_policy() -> RetryPolicy {
    RetryPolicy::exponential(Duration::from_secs(2))
        .max_delay(Duration::from_secs(60))
        .jitter(0.5)
}

struct Cluster<S: JobStore + Clone> {
    store: FailingStore<S>,
    clock: ManualClock,
    queue: Queue,
    script: Arc<Script>,
    flows: Flows,
    workers: Vec<Worker>,
    rounds: Vec<Option<JoinHandle<()>>>,
    crashed: Vec<JoinHandle<()>>,
    next_worker: usize,
}

impl<S: JobStore + Clone> Cluster<S> {
    fn worker(&mut self) -> Worker {
        let script = self.script.clone();
        let steps = self.script.clone();
        let digests = self.script.clone();
        let reads = self.flows.reads.clone();
        let id = format!("w{}", self.next_worker);
        self.next_worker += 1;
        Worker::builder(&self.queue)
            .id(id)
            .queue("default", 2)
            .handler(move |job: Sim, ctx| sim(job, ctx, script.clone()))
            .handler(move |job: Step, ctx| sim(Sim { n: job.n }, ctx, steps.clone()))
            .handler(move |_: Digest, ctx| digest(ctx, digests.clone(), reads.clone()))
            .handler(|_: Tick, _| async { Ok(()) })
            .lease_duration(LEASE)
            .retry_policy(retry_policy())
            .shutdown_grace(Duration::ZERO)
            .build()
            .expect("a valid worker")
    }

    /// Starts a round on worker `i` unless one is under way.
    fn start_round(&mut self, i: usize) {
        if self.rounds[i].as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let worker = self.workers[i].clone();
        self.rounds[i] = Some(tokio::spawn(async move {
            let _ = worker.run_once().await;
        }));
    }

    /// Worker `i` dies without releasing anything; a new one takes its place. Its
    /// handlers may still finish later, as a stalled process would.
    fn crash(&mut self, i: usize) {
        if let Some(round) = self.rounds[i].take() {
            self.crashed.push(round);
        }
        self.workers[i] = self.worker();
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn simulate<S: JobStore + Clone>(inner: S, seed: u64) {
    let store = FailingStore::new(inner);
    let clock = ManualClock::new(t(0));
    let shared: Arc<dyn JobStore> = Arc::new(store.clone());
    let queue = Queue::with_clock(shared, Arc::new(clock.clone()));
    let script = Arc::new(Script {
        seed,
        gate: Notify::new(),
        calm: AtomicBool::new(false),
        runs: Mutex::new(BTreeMap::new()),
    });
    let mut cluster = Cluster {
        store,
        clock,
        queue,
        script,
        flows: Flows::new(),
        workers: Vec::new(),
        rounds: vec![None, None, None],
        crashed: Vec::new(),
        next_worker: 0,
    };
    for _ in 0..3 {
        let worker = cluster.worker();
        cluster.workers.push(worker);
    }
    let options = EnqueueOptions::new().max_attempts(MAX_ATTEMPTS);
    let jobs: Vec<Sim> = (0..JOBS).map(|n| Sim { n }).collect();
    let mut ids: Vec<JobId> = cluster
        .queue
        .enqueue_many(&jobs, options.clone())
        .await
        .expect("enqueue")
        .into_iter()
        .map(|e| e.job.id)
        .collect();
    let schedulers = [
        Scheduler::new(&cluster.queue),
        Scheduler::new(&cluster.queue),
    ];
    let every_ten = ScheduleSpec::interval(Duration::from_secs(10), t(0)).unwrap();
    schedulers[0]
        .upsert(NewSchedule::new("ticks", every_ten, &Tick).unwrap())
        .await
        .unwrap();

    let mut maybe = Vec::new();
    let mut rng = fastrand::Rng::with_seed(seed);
    cluster.flows.start(&cluster.queue, &mut rng).await;
    for step in 0..STEPS {
        let w = rng.usize(0..3);
        match rng.u32(0..100) {
            0..30 => cluster.start_round(w),
            30..45 => {
                let _ = cluster.workers[w].heartbeat().await;
            }
            45..65 => cluster.clock.advance(Duration::from_secs(rng.u64(1..20))),
            65..75 => cluster.script.gate.notify_waiters(),
            75..78 => cluster.crash(w),
            78..84 => {
                let faults = if rng.bool() {
                    Faults::Random {
                        seed: rng.u64(..),
                        rate: 0.1,
                    }
                } else {
                    Faults::None
                };
                cluster.store.set_fail_after_write(rng.bool());
                cluster.store.set_faults(faults);
            }
            84..90 => {
                let _ = schedulers[rng.usize(0..2)].tick().await;
            }
            90..93 if step < STEPS / 2 => {
                let n = JOBS + u32::try_from(step).unwrap();
                let payload = serde_json::to_value(Sim { n }).unwrap();
                let job = options
                    .build(Sim::KIND, payload, cluster.clock.now())
                    .unwrap();
                match cluster.queue.enqueue_new(job.clone()).await {
                    Ok(_) => ids.push(job.id),
                    // An ambiguous failure: the store may have written it.
                    Err(_) => maybe.push(job.id),
                }
            }
            93..98 => cluster.flows.act(&cluster.queue, &mut rng).await,
            _ => {
                let id = if rng.bool() {
                    ids.get(rng.usize(0..ids.len())).copied()
                } else {
                    cluster.flows.pick(&mut rng)
                };
                if let Some(id) = id
                    && !matches!(
                        cluster.queue.cancel(id).await,
                        Err(leasehold::Error::Store(
                            leasehold::StoreError::WrongState { .. }
                        ))
                    )
                {
                    cluster.flows.cancelled(id);
                }
            }
        }
        Cluster::<S>::settle().await;
    }

    // Calm: no faults, every stalled run released, handlers succeed, time moves on.
    cluster.store.set_faults(Faults::None);
    cluster.flows.seal_all().await;
    cluster.script.calm.store(true, Ordering::SeqCst);
    for round in cluster
        .rounds
        .iter_mut()
        .filter_map(Option::take)
        .chain(cluster.crashed.drain(..))
    {
        for _ in 0..1000 {
            if round.is_finished() {
                break;
            }
            cluster.script.gate.notify_waiters();
            Cluster::<S>::settle().await;
        }
        assert!(
            round.is_finished(),
            "seed {seed}: a stalled round never ended"
        );
    }
    let finisher = cluster.worker();
    for _ in 0..500 {
        let open = cluster
            .queue
            .list(&JobFilter::all())
            .await
            .unwrap()
            .into_iter()
            .filter(|j| !j.state.is_terminal())
            .count();
        if open == 0 {
            break;
        }
        cluster.clock.advance(Duration::from_secs(61));
        finisher.run_once().await.unwrap();
    }

    check(seed, &cluster, &ids, &maybe).await;
}

async fn check<S: JobStore + Clone>(
    seed: u64,
    cluster: &Cluster<S>,
    ids: &[JobId],
    maybe: &[JobId],
) {
    let jobs = cluster
        .queue
        .list(&JobFilter::all().kind("sim"))
        .await
        .unwrap();
    let stored: BTreeSet<JobId> = jobs.iter().map(|j| j.id).collect();
    for id in ids {
        assert!(stored.contains(id), "seed {seed}: job {id} is lost");
    }
    for id in &stored {
        assert!(
            ids.contains(id) || maybe.contains(id),
            "seed {seed}: job {id} came from nowhere"
        );
    }
    for job in &jobs {
        assert!(
            job.state.is_terminal(),
            "seed {seed}: job {} ended {}",
            job.id,
            job.state
        );
        assert!(
            job.attempt <= job.max_attempts,
            "seed {seed}: job {} ran {} attempts",
            job.id,
            job.attempt
        );
    }

    // Replay the lease history per job, in the store's order.
    #[derive(Default)]
    struct Leases {
        /// token -> (attempt, latest until, ended at)
        held: BTreeMap<u32, (u32, OffsetDateTime, Option<OffsetDateTime>)>,
        due_again: Option<OffsetDateTime>,
        /// The write that ended the job for good (complete, fail), if one did.
        finished: Option<&'static str>,
    }
    let policy = retry_policy();
    let mut by_job: BTreeMap<JobId, Leases> = BTreeMap::new();
    let recorded = cluster.store.history();
    assert!(!recorded.is_empty());
    // A failure shows the job's events as recorded, in the order the calls returned.
    let events_of = |id: JobId| -> Vec<String> {
        recorded
            .iter()
            .filter(|event| event.lease().job_id == id)
            .map(|event| format!("{event:?}"))
            .collect()
    };
    let history = in_store_order(&recorded);
    for event in &history {
        match *event {
            LeaseEvent::Claimed {
                lease,
                attempt,
                at,
                until,
            } => {
                let leases = by_job.entry(lease.job_id).or_default();
                assert!(
                    leases.finished.is_none(),
                    "seed {seed}: {lease} granted at {at} after {:?} ended the job: {:#?}",
                    leases.finished,
                    events_of(lease.job_id)
                );
                if let Some((&prev, &(_, prev_until, prev_end))) = leases.held.last_key_value() {
                    assert!(lease.token > prev, "seed {seed}: one claim per token");
                    assert!(
                        prev_end.is_some() || prev_until <= at,
                        "seed {seed}: {lease} granted at {at} while lease {prev} was live until {prev_until}: {:#?}",
                        events_of(lease.job_id)
                    );
                }
                if let Some(due) = leases.due_again.take() {
                    assert!(
                        at >= due,
                        "seed {seed}: {lease} claimed at {at} before its retry time {due}"
                    );
                }
                leases.held.insert(lease.token, (attempt, until, None));
            }
            LeaseEvent::Extended { lease, until } => {
                let leases = by_job
                    .get_mut(&lease.job_id)
                    .expect("extended after a claim");
                // The store keeps the later time: heartbeats may land out of order.
                let held = &mut leases.held.get_mut(&lease.token).expect("held").1;
                *held = (*held).max(until);
            }
            LeaseEvent::Ended {
                lease,
                verb,
                at,
                run_at,
            } => {
                let leases = by_job.get_mut(&lease.job_id).expect("ended after a claim");
                let held = leases.held.get_mut(&lease.token).expect("held");
                assert!(held.2.is_none(), "seed {seed}: {lease} ended twice");
                held.2 = Some(at);
                if matches!(verb, "complete" | "fail") {
                    leases.finished = Some(verb);
                }
                if verb == "retry" {
                    let run_at = run_at.expect("a retry has a run time");
                    let waited = run_at - at;
                    let longest = policy.delay_with(held.0, 0.0);
                    let shortest = policy.delay_with(held.0, 1.0);
                    assert!(
                        waited >= shortest && waited <= longest,
                        "seed {seed}: retry of {lease} after attempt {} waits {waited}, not within {shortest:?}..={longest:?}",
                        held.0
                    );
                    leases.due_again = Some(run_at);
                } else if verb == "release" {
                    leases.due_again = run_at;
                }
            }
            _ => {}
        }
    }

    let ticks = cluster
        .queue
        .list(&JobFilter::all().kind("tick"))
        .await
        .unwrap();
    let slots: BTreeSet<_> = ticks
        .iter()
        .map(|j| j.unique_key.clone().unwrap())
        .collect();
    assert_eq!(
        slots.len(),
        ticks.len(),
        "seed {seed}: every slot yields one job"
    );
    assert!(!ticks.is_empty(), "seed {seed}: the schedulers fired");

    let everything = cluster.queue.list(&JobFilter::all()).await.unwrap();
    for job in &everything {
        assert!(
            job.state.is_terminal(),
            "seed {seed}: {} {} ended {}",
            job.kind,
            job.id,
            job.state
        );
    }
    cluster.flows.check(seed, &everything, &history);
}

fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("LEASEHOLD_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![seed];
    }
    let n: u64 = std::env::var("LEASEHOLD_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    (1..=n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_under_chaos_on_the_memory_store() {
    for seed in seeds() {
        simulate(leasehold_memory::MemoryStore::new(), seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_under_chaos_on_a_sqlite_file() {
    for seed in seeds() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
        let store = leasehold_sqlite::SqliteStore::connect(&url).await.unwrap();
        simulate(store, seed).await;
    }
}

#[path = "support/postgres.rs"]
mod postgres_support;

/// On a fresh schema of the server LEASEHOLD_TEST_POSTGRES_URL names (skipped without
/// it): the same simulation through a pool of real connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_under_chaos_on_postgres() {
    for seed in seeds() {
        let Some((store, _schema)) = postgres_support::open_store().await else {
            return;
        };
        simulate(store, seed).await;
    }
}
