//! Two workers on one PostgreSQL schema, worker A cut off by a real network partition
//! that keeps its TCP connections open (A's store reaches the server through
//! `support/proxy.rs`; B's directly), with a 3 s lease and a heartbeat every second.
//!
//! A partition longer than the lease must stop A's handler before B starts the job,
//! whether it begins between heartbeats (the next heartbeat cannot get through) or
//! while a heartbeat is in flight (the request reaches the server, the answer never
//! comes back); the job completes once, by B, and A's late writes are refused after
//! the heal. A partition shorter than the time left on the lease loses nothing.
//!
//! Handlers mark their start, every 100 ms alive, and their end (when they finish or
//! are dropped) with `Instant`s in one log, so the test reads the overlap off it.

#[path = "support/proxy.rs"]
mod proxy;
mod support;
#[path = "support/takeover.rs"]
mod takeover;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leasehold::testing::observe::record_events;
use leasehold::worker::{JobContext, JobError, Worker, WorkerEvent};
use leasehold::{
    Clock, Job, JobId, JobRecord, JobState, JobStore, Lease, Queue, StoreError, SystemClock,
};
use leasehold_postgres::PostgresStore;
use proxy::PartitionProxy;
use serde::{Deserialize, Serialize};
use support::{Schemas, options, test_url};
use takeover::{HandlerLog, Mark, contender, spawn_run};

const LEASE: Duration = Duration::from_secs(3);
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long A's handler runs in the partition cases: far past the lease.
const A_RUNS: Duration = Duration::from_secs(20);
/// How long B's handler runs once it takes the job over.
const B_RUNS: Duration = Duration::from_secs(1);
/// Far longer than any step takes; a guard so a broken test fails, not hangs.
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug, Serialize, Deserialize)]
struct Long;
impl Job for Long {
    const KIND: &'static str = "long";
}

/// Every mark every handler made, and the lease each run started under.
#[derive(Clone, Default)]
struct Log {
    marks: HandlerLog,
    leases: Arc<Mutex<Vec<(&'static str, Lease)>>>,
}

impl Log {
    fn lease_of(&self, worker: &str) -> Option<Lease> {
        let leases = self.leases.lock().unwrap();
        leases.iter().find(|(w, _)| *w == worker).map(|(_, l)| *l)
    }

    async fn wait_for(&self, worker: &str, mark: Mark) -> (Instant, u32) {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(found) = self.marks.first(worker, mark) {
                    return found;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("worker {worker} made no {mark:?} mark within {PATIENCE:?}"))
    }
}

/// Marks `End` when the handler's future ends, however it ends.
struct EndMark {
    log: Log,
    worker: &'static str,
    attempt: u32,
}

impl Drop for EndMark {
    fn drop(&mut self) {
        self.log.marks.mark(self.worker, self.attempt, Mark::End);
    }
}

/// How often a running handler marks that it is alive.
const ALIVE_EVERY: Duration = Duration::from_millis(100);

/// Runs for `runs`, marking it is alive every [`ALIVE_EVERY`], until the worker stops it.
async fn run_long(
    log: Log,
    worker: &'static str,
    runs: Duration,
    ctx: JobContext,
) -> Result<(), JobError> {
    let attempt = ctx.attempt();
    log.leases
        .lock()
        .unwrap()
        .push((worker, ctx.record().lease()));
    log.marks.mark(worker, attempt, Mark::Start);
    let _end = EndMark {
        log: log.clone(),
        worker,
        attempt,
    };
    let until = Instant::now() + runs;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        tokio::select! {
            () = ctx.cancelled() => return Err(JobError::retryable("stopped by the worker")),
            () = tokio::time::sleep(ALIVE_EVERY.min(left)) => log.marks.mark(worker, attempt, Mark::Alive),
        }
    }
}

fn worker(queue: &Queue, id: &'static str, log: &Log, runs: Duration) -> Worker {
    let log = log.clone();
    contender(queue, id, LEASE, HEARTBEAT)
        .poll_interval(Duration::from_millis(200))
        .max_poll_interval(Duration::from_secs(1))
        .shutdown_grace(Duration::from_millis(500))
        .handler(move |_: Long, ctx| run_long(log.clone(), id, runs, ctx))
        .build()
        .expect("a valid worker")
}

fn count(events: &Mutex<Vec<WorkerEvent>>, pred: impl Fn(&WorkerEvent) -> bool) -> usize {
    events.lock().unwrap().iter().filter(|e| pred(e)).count()
}

fn now() -> leasehold::time::OffsetDateTime {
    SystemClock.now()
}

/// Waits until `done` holds, checking every 20 ms.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    tokio::time::timeout(PATIENCE, async {
        while !done().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within {PATIENCE:?}"));
}

/// Worker A behind the proxy, worker B direct, one job enqueued, nothing running yet.
struct Cluster {
    _schemas: Schemas,
    proxy: PartitionProxy,
    store_a: PostgresStore,
    store_b: PostgresStore,
    log: Log,
    a: Worker,
    b: Worker,
    events_a: Arc<Mutex<Vec<WorkerEvent>>>,
    events_b: Arc<Mutex<Vec<WorkerEvent>>>,
    job: JobId,
}

impl Cluster {
    async fn new(url: &str, a_runs: Duration) -> Self {
        let schemas = Schemas::new(url);
        let schema = schemas.fresh();
        let proxy = PartitionProxy::start(url).await;
        let store_b = PostgresStore::connect_with(options(url, &schema))
            .await
            .expect("B's store opens");
        let store_a = PostgresStore::connect_with(options(proxy.url(), &schema))
            .await
            .expect("A's store opens through the proxy");
        let queue_a = Queue::new(Arc::new(store_a.clone()) as Arc<dyn JobStore>);
        let queue_b = Queue::new(Arc::new(store_b.clone()) as Arc<dyn JobStore>);
        let log = Log::default();
        let a = worker(&queue_a, "A", &log, a_runs);
        let b = worker(&queue_b, "B", &log, B_RUNS);
        let events_a = record_events(&a);
        let events_b = record_events(&b);
        let job = queue_b.enqueue(&Long).await.expect("enqueued").job.id;
        Self {
            _schemas: schemas,
            proxy,
            store_a,
            store_b,
            log,
            a,
            b,
            events_a,
            events_b,
            job,
        }
    }

    async fn record(&self) -> JobRecord {
        self.store_b
            .get(self.job, now())
            .await
            .expect("B reads the job")
            .expect("the job exists")
    }

    /// Starts A, waits until its handler runs, then starts B (so A claims first).
    async fn start_a_then_b(&self) -> Instant {
        spawn_run(&self.a);
        let (a_start, _) = self.log.wait_for("A", Mark::Start).await;
        spawn_run(&self.b);
        a_start
    }

    async fn shut_down(&self) {
        for worker in [&self.a, &self.b] {
            if tokio::time::timeout(PATIENCE, worker.shutdown())
                .await
                .is_err()
            {
                eprintln!("worker {} did not shut down in time", worker.id());
            }
        }
    }
}

/// Where the partition starts.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// Half-way between two heartbeats: the next one cannot get through.
    BetweenHeartbeats,
    /// As the next heartbeat's statement reaches the server: its answer is held.
    DuringHeartbeat,
}

/// What a partition longer than the lease did.
struct Takeover {
    cut: Instant,
    a_start: Instant,
    /// When A's handler last showed a sign of life (its `End` when it was stopped).
    a_last: Instant,
    b_start: Instant,
    b_attempt: u32,
    healed: Instant,
    held_from_server: u64,
    record: JobRecord,
    stale_complete: Result<(), StoreError>,
    a_completed: usize,
    a_lease_lost: usize,
    b_completed: usize,
}

/// A partitioned from the moment `cut` says until B has completed the job, then healed.
async fn takeover(url: &str, cut: Cut) -> Takeover {
    let cluster = Cluster::new(url, A_RUNS).await;
    let a_start = cluster.start_a_then_b().await;

    let cut_at = match cut {
        Cut::BetweenHeartbeats => {
            tokio::time::sleep_until((a_start + HEARTBEAT * 3 / 2).into()).await;
            cluster.proxy.partition()
        }
        Cut::DuringHeartbeat => {
            // Armed after the first heartbeat confirmed the lease: the second is cut.
            tokio::time::sleep_until((a_start + HEARTBEAT * 6 / 5).into()).await;
            cluster.proxy.partition_after_next_request();
            tokio::time::timeout(HEARTBEAT * 3, cluster.proxy.partitioned())
                .await
                .expect("A's next heartbeat goes out within three intervals")
        }
    };
    until("B completes the job", async || {
        cluster.record().await.state == JobState::Completed
    })
    .await;
    let held_from_server = cluster.proxy.held_from_server();
    cluster.proxy.heal();
    let healed = Instant::now();
    until("A reports the outcome of its run", async || {
        count(&cluster.events_a, |e| {
            !matches!(e, WorkerEvent::Claimed(_)) && e.job().id == cluster.job
        }) > 0
    })
    .await;
    let a_lease = cluster.log.lease_of("A").expect("A's run logged its lease");
    let stale_complete = tokio::time::timeout(PATIENCE, cluster.store_a.complete(a_lease, now()))
        .await
        .expect("A's store answers after the heal");
    let record = cluster.record().await;
    cluster.shut_down().await;

    let (b_start, b_attempt) = cluster
        .log
        .marks
        .first("B", Mark::Start)
        .expect("B ran the job");
    Takeover {
        cut: cut_at,
        a_start,
        a_last: cluster.log.marks.last_sign_of_life("A").expect("A ran"),
        b_start,
        b_attempt,
        healed,
        held_from_server,
        record,
        stale_complete,
        a_completed: count(&cluster.events_a, |e| {
            matches!(e, WorkerEvent::Completed(_))
        }),
        a_lease_lost: count(&cluster.events_a, |e| {
            matches!(e, WorkerEvent::LeaseLost(_))
        }),
        b_completed: count(&cluster.events_b, |e| {
            matches!(e, WorkerEvent::Completed(_))
        }),
    }
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

/// The signed span from `from` to `to`, in milliseconds.
fn signed_ms(from: Instant, to: Instant) -> i128 {
    if to >= from {
        i128::try_from(millis(to - from)).expect("a test span fits i128")
    } else {
        -i128::try_from(millis(from - to)).expect("a test span fits i128")
    }
}

fn assert_taken_over_without_overlap(how: &str, run: &Takeover) {
    eprintln!(
        "{how}: partition at A start + {} ms; A's handler stopped {} ms after the cut; \
         B started {} ms after the cut (attempt {}); gap between A's last sign of life \
         and B's start {} ms (negative = overlap); healed {} ms after the cut; \
         {} bytes of answers held",
        millis(run.cut - run.a_start),
        signed_ms(run.cut, run.a_last),
        signed_ms(run.cut, run.b_start),
        run.b_attempt,
        signed_ms(run.a_last, run.b_start),
        millis(run.healed - run.cut),
        run.held_from_server,
    );

    assert!(
        run.a_last < run.b_start,
        "{how}: A's handler ran {} ms beside B's run of the same job",
        millis(run.a_last - run.b_start)
    );
    assert_eq!(run.b_attempt, 2, "B's run is the job's second attempt");
    assert_eq!(
        (
            run.record.state,
            run.record.attempt,
            run.record.worker.as_deref()
        ),
        (JobState::Completed, 2, Some("B")),
        "the job ends Completed by B's attempt"
    );
    assert_eq!(
        (run.a_completed, run.a_lease_lost, run.b_completed),
        (0, 1, 1),
        "A records nothing (its run ends LeaseLost); B completes the job once"
    );
    assert!(
        matches!(run.stale_complete, Err(StoreError::LeaseLost(_))),
        "A's late complete is refused: {:?}",
        run.stale_complete
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_between_heartbeats_stops_the_handler_before_another_worker_takes_over() {
    let Some(url) = test_url() else { return };

    let run = takeover(&url, Cut::BetweenHeartbeats).await;

    assert_taken_over_without_overlap("between heartbeats", &run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_during_a_heartbeat_stops_the_handler_before_another_worker_takes_over() {
    let Some(url) = test_url() else { return };

    let run = takeover(&url, Cut::DuringHeartbeat).await;

    assert!(
        run.held_from_server > 0,
        "the heartbeat reached the server and its answer was held"
    );
    // Had it not run, B would have started a heartbeat interval sooner.
    assert!(
        run.b_start - run.cut >= LEASE - HEARTBEAT / 2,
        "the held heartbeat ran on the server: B could claim the job only once the \
         lease it set had ended, {} ms after the cut",
        millis(run.b_start - run.cut)
    );
    assert_taken_over_without_overlap("during a heartbeat", &run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_shorter_than_the_remaining_lease_loses_nothing() {
    let Some(url) = test_url() else { return };
    // Long enough for both partitions below and the heartbeats between them.
    let a_runs = Duration::from_secs(7);
    let cut_for = Duration::from_secs(1);
    let cluster = Cluster::new(&url, a_runs).await;
    let a_start = cluster.start_a_then_b().await;

    // A heartbeat's answer held for a second: the tightest case, as its budget (the
    // time left before the deadline) is counted from when it was sent.
    tokio::time::sleep_until((a_start + HEARTBEAT * 6 / 5).into()).await;
    cluster.proxy.partition_after_next_request();
    let in_flight_cut = tokio::time::timeout(HEARTBEAT * 3, cluster.proxy.partitioned())
        .await
        .expect("A's next heartbeat goes out within three intervals");
    tokio::time::sleep(cut_for).await;
    let held_in_flight = cluster.proxy.held_from_server();
    cluster.proxy.heal();
    let in_flight_healed = Instant::now();
    // Then a second without any link, half-way between two heartbeats.
    tokio::time::sleep(HEARTBEAT * 3 / 2).await;
    let held_before = cluster.proxy.held_from_clients();
    let between_cut = cluster.proxy.partition();
    tokio::time::sleep(cut_for).await;
    let held_between = cluster.proxy.held_from_clients() - held_before;
    cluster.proxy.heal();
    let between_healed = Instant::now();
    until("the job ends", async || {
        cluster.record().await.state.is_terminal()
    })
    .await;
    let record = cluster.record().await;
    let b_ran = cluster.log.marks.first("B", Mark::Start);
    cluster.shut_down().await;

    eprintln!(
        "short partitions: {} ms with a heartbeat's answer held ({held_in_flight} bytes), \
         from A start + {} ms; {} ms without any link ({held_between} bytes held from A), \
         from A start + {} ms; the job ended {:?} on attempt {}",
        millis(in_flight_healed - in_flight_cut),
        millis(in_flight_cut - a_start),
        millis(between_healed - between_cut),
        millis(between_cut - a_start),
        record.state,
        record.attempt,
    );
    assert!(held_in_flight > 0, "a heartbeat's answer was held");
    assert!(held_between > 0, "a heartbeat was held on its way out");
    assert!(b_ran.is_none(), "B never starts the job");
    assert_eq!(
        (record.state, record.attempt, record.worker.as_deref()),
        (JobState::Completed, 1, Some("A")),
        "A completes the job on its first attempt"
    );
    assert_eq!(
        (
            count(&cluster.events_a, |e| matches!(
                e,
                WorkerEvent::Completed(_)
            )),
            count(&cluster.events_a, |e| matches!(
                e,
                WorkerEvent::LeaseLost(_)
            )),
            count(&cluster.events_b, |e| matches!(e, WorkerEvent::Claimed(_))),
        ),
        (1, 0, 0),
        "A's run is recorded once and B claims nothing"
    );
}
