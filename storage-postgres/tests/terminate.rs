//! A store whose server connections are killed over and over keeps what it holds.
//!
//! Every connection of the store under test (its pool and its `LISTEN` connection)
//! carries one unique `application_name` (`PostgresStoreOptions::application_name`;
//! the test checks both kinds in `pg_stat_activity`), and a second connection runs
//! `pg_terminate_backend` on all of them every 300 ms while a worker runs 10,000 jobs
//! enqueued in batches and a scheduler fires an every-second schedule. Afterwards:
//! every job is `Completed`; each job's completion was accepted once, and a handler ran
//! again only after its earlier run was told it lost its lease (recording nothing);
//! the `LISTEN` connection is back, so an enqueue through another store wakes the idle
//! worker (whose poll interval is 30 s) within milliseconds; and the schedule fired
//! every slot, during the terminations and after.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leasehold::schedule::{NewSchedule, ScheduleSpec, Scheduler};
use leasehold::testing::observe::record_events;
use leasehold::worker::{CancellationToken, JobContext, JobError, Worker, WorkerEvent};
use leasehold::{
    Clock, Error, Job, JobFilter, JobId, JobState, JobStore, NewJob, Queue, StoreError, SystemClock,
};
use leasehold_postgres::PostgresStore;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection};
use support::{Schemas, capture_warnings, options, spawn_run, test_url};

const JOBS: usize = 10_000;
const BATCH: usize = 1_000;
/// Between two batches.
const BATCH_EVERY: Duration = Duration::from_millis(250);
/// Between two rounds of terminations.
const TERMINATE_EVERY: Duration = Duration::from_millis(300);
/// The terminations go on at least this long, and until every job is done.
const MIN_STORM: Duration = Duration::from_secs(5);
/// Short, so a job whose claim was answered by a killed connection (claimed in the
/// store, unknown to the worker) is claimed again soon.
const LEASE: Duration = Duration::from_secs(2);
/// An idle worker polls this rarely: only a notification wakes it sooner.
const POLL: Duration = Duration::from_secs(30);
/// How soon an enqueue must wake the idle worker once the terminations have stopped
/// (it takes a few milliseconds; the rest is room for a loaded machine).
const WAKE_WITHIN: Duration = Duration::from_millis(500);
const PROBES: u32 = 5;
/// Far longer than any step takes; a guard so a broken test fails, not hangs.
const PATIENCE: Duration = Duration::from_secs(45);

/// What the handlers saw.
#[derive(Default)]
struct Runs {
    /// Each run of a `work` job: its attempt, and whether the handler returned `Ok`.
    work: HashMap<JobId, Vec<(u32, bool)>>,
    /// How late (after its slot) each tick was enqueued, and how late it started.
    ticks: Vec<(leasehold::time::Duration, leasehold::time::Duration)>,
    /// When each probe's handler started.
    probes: HashMap<u32, Instant>,
}

type Shared<T> = Arc<Mutex<T>>;

/// One of the [`JOBS`] enqueued in batches during the terminations.
#[derive(Debug, Serialize, Deserialize)]
struct Work {
    n: usize,
}
impl Job for Work {
    const KIND: &'static str = "work";
}

/// Logs the run in [`Runs::work`], takes a few milliseconds, then logs that it returned.
async fn run_work(runs: Shared<Runs>, ctx: JobContext) -> Result<(), JobError> {
    let run = {
        let mut runs = runs.lock().unwrap();
        let attempts = runs.work.entry(ctx.id()).or_default();
        attempts.push((ctx.attempt(), false));
        attempts.len() - 1
    };
    // Long enough that terminations land on jobs in flight.
    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..4))).await;
    runs.lock()
        .unwrap()
        .work
        .get_mut(&ctx.id())
        .expect("logged")[run]
        .1 = true;
    Ok(())
}

/// The job of a slot of the every-second schedule.
#[derive(Debug, Serialize, Deserialize)]
struct Tick;
impl Job for Tick {
    const KIND: &'static str = "tick";
}

/// Logs in [`Runs::ticks`] how late after its slot the tick was enqueued and started.
async fn run_tick(runs: Shared<Runs>, ctx: JobContext) -> Result<(), JobError> {
    let slot = ctx.record().run_at;
    let fired = ctx.record().created_at - slot;
    runs.lock()
        .unwrap()
        .ticks
        .push((fired, SystemClock.now() - slot));
    Ok(())
}

/// Enqueued through another store once the terminations stop: how soon the idle
/// worker starts it shows whether the `LISTEN` connection is back.
#[derive(Debug, Serialize, Deserialize)]
struct Probe {
    n: u32,
}
impl Job for Probe {
    const KIND: &'static str = "probe";
}

fn worker(queue: &Queue, store: &PostgresStore, runs: &Shared<Runs>) -> Worker {
    let (work, tick, probe) = (Arc::clone(runs), Arc::clone(runs), Arc::clone(runs));
    Worker::builder(queue)
        // Only the store's notifications wake it (not the in-process signal of
        // `queue`): they are what must come back after the terminations.
        .enqueue_signal(store.subscribe_enqueued())
        .queue("default", 16)
        .lease_duration(LEASE)
        .heartbeat_interval(LEASE / 4)
        .poll_interval(POLL)
        .max_poll_interval(POLL)
        .shutdown_grace(Duration::from_secs(2))
        .event_capacity(1 << 16)
        .handler(move |_: Work, ctx| run_work(Arc::clone(&work), ctx))
        .handler(move |_: Tick, ctx| run_tick(Arc::clone(&tick), ctx))
        .handler(move |job: Probe, _| {
            let runs = Arc::clone(&probe);
            async move {
                runs.lock().unwrap().probes.insert(job.n, Instant::now());
                Ok(())
            }
        })
        .build()
        .expect("a valid worker")
}

/// How many of the server's connections are named `name`.
async fn named_connections(admin: &mut PgConnection, name: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
        .bind(name)
        .fetch_one(admin)
        .await
        .expect("pg_stat_activity reads")
}

/// What the terminations did.
struct Storm {
    rounds: u32,
    killed: usize,
    /// Listening connections killed (the listener reconnects after each).
    listeners_killed: usize,
    /// When the last round ran, after `stop`, and the connections it killed.
    last_round: Instant,
    last_killed: Vec<i32>,
}

/// Terminates every connection named `name` every [`TERMINATE_EVERY`] until `stop`,
/// then once more.
async fn terminate_until(url: String, name: String, stop: CancellationToken) -> Storm {
    let mut admin = PgConnection::connect(&url).await.expect("admin connects");
    let mut storm = Storm {
        rounds: 0,
        killed: 0,
        listeners_killed: 0,
        last_round: Instant::now(),
        last_killed: Vec::new(),
    };
    loop {
        let stopping = stop.is_cancelled();
        // The filter in WHERE, the termination in the select list: only named
        // connections are terminated (a condition beside it in WHERE could be
        // evaluated first and terminate this very connection).
        let answers: Vec<(i32, bool, bool)> = sqlx::query_as(
            "SELECT pid, pg_terminate_backend(pid), query LIKE 'LISTEN %' \
             FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&name)
        .fetch_all(&mut admin)
        .await
        .expect("the terminations run");
        storm.listeners_killed += answers
            .iter()
            .filter(|(_, terminated, listening)| *terminated && *listening)
            .count();
        let killed: Vec<i32> = answers
            .into_iter()
            .filter(|(_, terminated, _)| *terminated)
            .map(|(pid, _, _)| pid)
            .collect();
        storm.rounds += 1;
        storm.killed += killed.len();
        storm.last_round = Instant::now();
        storm.last_killed = killed;
        if stopping {
            return storm;
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(TERMINATE_EVERY) => {}
        }
    }
}

/// The process ids of the connections named `name` that `LISTEN`.
async fn listeners(admin: &mut PgConnection, name: &str) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity \
         WHERE application_name = $1 AND query LIKE 'LISTEN %'",
    )
    .bind(name)
    .fetch_all(admin)
    .await
    .expect("pg_stat_activity reads")
}

/// Stores `batch`, repeating the call after an error (a batch whose commit was
/// answered by a killed connection is stored, and its repeat is a `Conflict` on a
/// duplicate id); returns how many calls failed and whether the last found the batch
/// stored already.
async fn enqueue_surely(queue: &Queue, batch: Vec<NewJob>) -> (u32, bool) {
    let mut errors = 0;
    loop {
        match queue.enqueue_many_new(batch.clone()).await {
            Ok(_) => return (errors, false),
            Err(Error::Store(StoreError::Conflict(_))) => return (errors, true),
            Err(error) => {
                errors += 1;
                assert!(errors < 50, "the batch cannot be stored: {error}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

async fn count(store: &PostgresStore, kind: &str, state: JobState) -> u64 {
    store
        .count(&JobFilter::all().kind(kind).state(state), SystemClock.now())
        .await
        .expect("the count runs")
}

/// Waits until `done` holds, checking every 50 ms; returns how long it took.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    tokio::time::timeout(PATIENCE, async {
        while !done().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within {PATIENCE:?}"));
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_lose_no_job_complete_none_twice_and_come_back() {
    let Some(url) = test_url() else { return };
    // Warnings and errors, to show that terminations hit calls in flight and that each
    // failed call is logged once.
    let warnings = capture_warnings();
    let schemas = Schemas::new(&url);
    let schema = schemas.fresh();
    let name = format!("lh_term_{}", &schema["lh_test_".len()..]);
    let store = PostgresStore::connect_with(
        options(&url, &schema)
            .max_connections(8)
            .application_name(name.clone()),
    )
    .await
    .expect("the store opens");
    // Another store on the schema, its connections named otherwise: it enqueues the
    // probes and reads the results.
    let other = PostgresStore::connect_with(options(&url, &schema))
        .await
        .expect("the other store opens");
    let mut admin = PgConnection::connect(&url).await.expect("admin connects");
    let queue = Queue::new(Arc::new(store.clone()) as Arc<dyn JobStore>);
    let other_queue = Queue::new(Arc::new(other.clone()) as Arc<dyn JobStore>);
    // The first subscription starts the listener, which changes the counter once it
    // listens.
    let mut listening = store.subscribe_enqueued();
    let runs: Shared<Runs> = Arc::default();
    let worker = worker(&queue, &store, &runs);
    let events = record_events(&worker);
    tokio::time::timeout(PATIENCE, listening.changed())
        .await
        .expect("the listener connects")
        .expect("the store is open");
    let named = named_connections(&mut admin, &name).await;
    let listening_at_start = listeners(&mut admin, &name).await.len();
    let scheduler = Scheduler::new(&queue);
    let started = SystemClock.now();
    scheduler
        .upsert(
            NewSchedule::new(
                "tick",
                ScheduleSpec::interval(Duration::from_secs(1), started).expect("a valid interval"),
                &Tick,
            )
            .expect("a valid schedule"),
        )
        .await
        .expect("the schedule is stored");
    let stop_scheduler = CancellationToken::new();
    let scheduling = tokio::spawn({
        let (scheduler, stop) = (scheduler.clone(), stop_scheduler.clone());
        async move { scheduler.run(stop).await }
    });
    let working = spawn_run(&worker);

    // The storm: terminations every 300 ms while the batches go in and are worked off.
    let stop_terminating = CancellationToken::new();
    let storm_start = Instant::now();
    let terminating = tokio::spawn(terminate_until(
        url.clone(),
        name.clone(),
        stop_terminating.clone(),
    ));
    let mut ids = Vec::with_capacity(JOBS);
    let (mut enqueue_errors, mut enqueue_conflicts) = (0, 0);
    for first in (0..JOBS).step_by(BATCH) {
        let now = SystemClock.now();
        let batch: Vec<NewJob> = (first..first + BATCH)
            .map(|n| {
                NewJob::new(Work::KIND, serde_json::json!(Work { n }), now).expect("a valid job")
            })
            .collect();
        ids.extend(batch.iter().map(|job| job.id));
        let (errors, stored_before) = enqueue_surely(&queue, batch).await;
        enqueue_errors += errors;
        enqueue_conflicts += u32::from(stored_before);
        tokio::time::sleep(BATCH_EVERY).await;
    }
    until("every job is completed", async || {
        count(&other, Work::KIND, JobState::Completed).await == JOBS as u64
    })
    .await;
    let worked_off = storm_start.elapsed();
    tokio::time::sleep_until((storm_start + MIN_STORM).into()).await;
    stop_terminating.cancel();
    let storm = terminating.await.expect("the terminations ran");

    // Calm: the listener comes back, and then an enqueue wakes the idle worker.
    until("the LISTEN connection is back", async || {
        listeners(&mut admin, &name)
            .await
            .iter()
            .any(|pid| !storm.last_killed.contains(pid))
    })
    .await;
    let listener_back = storm.last_round.elapsed();
    let mut latencies = Vec::new();
    for n in 0..PROBES {
        until("the worker is idle", async || worker.running() == 0).await;
        // Off the beat of the ticks, and long enough for the worker to go to sleep.
        tokio::time::sleep(Duration::from_millis(300 + fastrand::u64(0..300))).await;
        let sent = Instant::now();
        other_queue
            .enqueue(&Probe { n })
            .await
            .expect("the probe is enqueued");
        let started = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(at) = runs.lock().unwrap().probes.get(&n) {
                    return *at;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("probe {n}: no wake-up within 5 s (polling takes {POLL:?})"));
        latencies.push(started - sent);
    }
    // One more slot after the probes, so the schedule has fired well after the storm.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    stop_scheduler.cancel();
    let scheduler_stopped = SystemClock.now();
    scheduling.await.expect("the scheduler ran");
    until("the last tick is worked off", async || {
        worker.running() == 0
            && count(&other, Tick::KIND, JobState::Available).await == 0
            && count(&other, Tick::KIND, JobState::Running).await == 0
    })
    .await;
    worker.shutdown().await;
    working.await.expect("the worker ran");
    let work_jobs = other
        .list(&JobFilter::all().kind(Work::KIND), SystemClock.now())
        .await
        .expect("the jobs list");
    let tick_jobs = other
        .list(&JobFilter::all().kind(Tick::KIND), SystemClock.now())
        .await
        .expect("the ticks list");
    let events = std::mem::take(&mut *events.lock().unwrap());
    let runs = std::mem::take(&mut *runs.lock().unwrap());

    // Per work job: what the worker reported for each attempt it ran.
    let mut outcomes: HashMap<JobId, BTreeMap<u32, &'static str>> = HashMap::new();
    for event in &events {
        let outcome = match event {
            WorkerEvent::Claimed(_) => continue,
            WorkerEvent::Completed(_) => "completed",
            WorkerEvent::LeaseLost(_) => "lease lost",
            WorkerEvent::Abandoned { .. } => "abandoned",
            WorkerEvent::Retried { .. } => "retried",
            WorkerEvent::Failed { .. } => "failed",
            _ => "other",
        };
        let job = event.job();
        if job.kind == Work::KIND {
            let previous = outcomes
                .entry(job.id)
                .or_default()
                .insert(job.attempt, outcome);
            assert!(
                previous.is_none(),
                "{event:?}: two outcomes for one attempt"
            );
        }
    }
    let expected: HashSet<JobId> = ids.iter().copied().collect();
    let mut problems = Vec::new();
    let mut reruns = 0;
    let mut lost_claims = 0;
    for job in &work_jobs {
        let ran = runs
            .work
            .get(&job.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let told = outcomes.get(&job.id).cloned().unwrap_or_default();
        let completions: Vec<u32> = told
            .iter()
            .filter(|(_, outcome)| **outcome == "completed")
            .map(|(attempt, _)| *attempt)
            .collect();
        reruns += ran.len().saturating_sub(1);
        // Attempts spent without a run: claims whose answer a termination swallowed.
        lost_claims += (job.attempt as usize).saturating_sub(ran.len());
        let earlier_runs_recorded_nothing = ran.iter().all(|(attempt, _)| {
            completions.contains(attempt)
                || matches!(told.get(attempt), Some(&"lease lost" | &"abandoned"))
        });
        if job.state != JobState::Completed
            || completions != [job.attempt]
            || !ran.contains(&(job.attempt, true))
            || !earlier_runs_recorded_nothing
        {
            problems.push(format!(
                "{}: {:?} on attempt {}; handler runs (attempt, returned) {ran:?}; \
                 worker outcomes {told:?}",
                job.id, job.state, job.attempt
            ));
        }
    }
    let stored: HashSet<JobId> = work_jobs.iter().map(|job| job.id).collect();
    let mut slots: Vec<_> = tick_jobs.iter().map(|job| job.run_at).collect();
    slots.sort();
    let gaps = slots
        .windows(2)
        .filter(|w| w[1] - w[0] != leasehold::time::Duration::SECOND)
        .count();
    let latest_fire = runs.ticks.iter().map(|t| t.0).max().unwrap_or_default();
    let latest_start = runs.ticks.iter().map(|t| t.1).max().unwrap_or_default();
    let ticks_not_completed = tick_jobs
        .iter()
        .filter(|job| job.state != JobState::Completed)
        .count();
    let second = leasehold::time::Duration::SECOND;
    latencies.sort();
    let mut by_message = BTreeMap::<String, usize>::new();
    for (_, message) in warnings.lines() {
        *by_message.entry(message).or_default() += 1;
    }
    let warnings = by_message;
    eprintln!("warnings and errors logged meanwhile, by message: {warnings:#?}");
    eprintln!(
        "terminations: {} rounds killed {} connections ({} listening) over {} ms; \
         {JOBS} jobs worked off {} ms after the storm began ({enqueue_errors} batch \
         enqueues failed, {enqueue_conflicts} of them stored nonetheless; {reruns} \
         handler reruns, {lost_claims} claims lost in flight); LISTEN back {} ms after \
         the last termination; enqueue-to-start latencies (ms) {:?}; {} ticks, {gaps} \
         gaps, the latest enqueued {} ms and started {} ms after its slot",
        storm.rounds,
        storm.killed,
        storm.listeners_killed,
        (storm.last_round - storm_start).as_millis(),
        worked_off.as_millis(),
        listener_back.as_millis(),
        latencies
            .iter()
            .map(Duration::as_millis)
            .collect::<Vec<_>>(),
        slots.len(),
        latest_fire.whole_milliseconds(),
        latest_start.whole_milliseconds(),
    );

    assert!(
        named >= 2 && listening_at_start == 1,
        "the pool's connections and the listener carry the application name \
         ({named} named, {listening_at_start} listening)"
    );
    assert!(
        storm.rounds >= 10 && storm.killed >= 20 && storm.listeners_killed >= 5,
        "the storm killed connections, the listening one again and again"
    );
    assert_eq!(
        stored, expected,
        "every enqueued job is stored, and only those"
    );
    assert!(
        problems.is_empty(),
        "{} jobs were not completed exactly once by a run whose completion was accepted \
         (earlier runs recording nothing):\n{}",
        problems.len(),
        problems.join("\n")
    );
    let slowest = *latencies.last().expect("probes ran");
    assert!(
        slowest < WAKE_WITHIN,
        "the LISTEN connection is back: an enqueue wakes the idle worker within \
         {WAKE_WITHIN:?} (slowest {slowest:?})"
    );
    assert_eq!(gaps, 0, "the schedule fired every slot: {slots:?}");
    assert!(
        slots
            .first()
            .is_some_and(|first| *first <= started + second)
            && slots
                .last()
                .is_some_and(|last| *last >= scheduler_stopped - 2 * second),
        "the schedule kept firing, from its start ({started}) until the scheduler \
         stopped ({scheduler_stopped}): {slots:?}"
    );
    assert_eq!(ticks_not_completed, 0, "every tick job ran");
}
