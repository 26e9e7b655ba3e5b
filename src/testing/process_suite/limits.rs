//! Flow-control limits across processes: real workers in several processes, on the
//! system clock, share one key limited to 2 running jobs and one limited to 100
//! starts per second.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{END, ProcessBackend, QUEUE, RunLog, START, create_and_open, run_children};
use crate::clock::to_unix_micros;
use crate::worker::{JobContext, Worker};
use crate::{
    Clock, Job, JobFilter, JobId, JobState, JobStore, Limit, LimitScope, NewJob, Queue, SystemClock,
};

/// The key at most [`MAX_RUNNING`] jobs of which run at once.
const PARTNER: &str = "partner:acme";
/// The key at most [`RATE`] jobs of which start per second.
const TENANT: &str = "tenant:42";
const MAX_RUNNING: u32 = 2;
const RATE: u32 = 100;
const PARTNER_JOBS: usize = 2_000;
const TENANT_JOBS: usize = 300;
/// The event a tenant job logs at the time its claim was counted (`attempted_at`).
const CLAIMED: &str = "claimed";

/// A job under a limit key.
#[derive(Debug, Serialize, Deserialize)]
struct Limited {
    n: usize,
}

impl Job for Limited {
    const KIND: &'static str = "mp-limited";
}

/// A child's part: a worker of 4 slots on the scenario's queue, whose handler logs
/// its start and end (and, for the tenant's jobs, the time its claim counted), until
/// no job of the queue is pending or running.
pub(super) async fn work_limited<B: ProcessBackend>(store: Arc<dyn JobStore>, location: &str) {
    let log = Arc::new(Mutex::new(B::open_log(location).await));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let queue = Queue::with_clock(store, Arc::clone(&clock));
    let process = format!("process-{}", std::process::id());
    let handler = {
        let (log, clock, process) = (Arc::clone(&log), Arc::clone(&clock), process.clone());
        move |_: Limited, ctx: JobContext| {
            let (log, clock, process) = (Arc::clone(&log), Arc::clone(&clock), process.clone());
            async move {
                let job = ctx.record();
                let mut held = log.lock().await;
                if job.limit_key.as_deref() == Some(TENANT) {
                    let claimed = job.attempted_at.expect("a claimed job was attempted");
                    held.append(&[job.id], &process, CLAIMED, to_unix_micros(claimed))
                        .await;
                }
                held.append(&[job.id], &process, START, to_unix_micros(clock.now()))
                    .await;
                drop(held);
                tokio::time::sleep(Duration::from_millis(2)).await;
                let mut log = log.lock().await;
                log.append(&[job.id], &process, END, to_unix_micros(clock.now()))
                    .await;
            }
        }
    };
    let worker = Worker::builder(&queue)
        .id(process)
        .queue(QUEUE, 4)
        .handler(handler)
        .poll_interval(Duration::from_millis(50))
        .build()
        .expect("a valid worker");
    let stop = worker.shutdown_token();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut left = 0;
        for state in [JobState::Available, JobState::Scheduled, JobState::Running] {
            let filter = JobFilter::all().queue(QUEUE).state(state);
            left += queue.count(&filter).await.expect("the store counts");
        }
        if left == 0 {
            break;
        }
    }
    stop.cancel();
    running.await.expect("the worker ends");
}

/// Three worker processes share 2,000 jobs of a key limited to 2 running and 300 of a
/// key limited to 100 starts per second: the run log never shows more than 2 of the
/// first running at once, nor more than 100 claims of the second in any second.
///
/// # Panics
///
/// When the store breaks the property (that is the test failing).
pub async fn limits_hold_across_processes<B: ProcessBackend>() {
    let Some((db, store)) = create_and_open::<B>().await else {
        return;
    };
    let now = SystemClock.now();
    let job = |n: usize, key: &str| {
        NewJob::new(Limited::KIND, serde_json::json!({ "n": n }), now)
            .and_then(|job| job.queue(QUEUE))
            .and_then(|job| job.limit_key(key))
            .expect("the scenario's jobs are valid")
    };
    let mut jobs: Vec<NewJob> = (0..PARTNER_JOBS).map(|n| job(n, PARTNER)).collect();
    jobs.extend((0..TENANT_JOBS).map(|n| job(n, TENANT)));
    for chunk in jobs.chunks(500) {
        store
            .enqueue_many(chunk.to_vec(), now)
            .await
            .expect("the jobs enqueue");
    }
    let partner: std::collections::HashSet<JobId> =
        jobs[..PARTNER_JOBS].iter().map(|job| job.id).collect();
    let running = Limit::running(MAX_RUNNING).expect("valid");
    let rate = Limit::rate(RATE, Duration::from_secs(1)).expect("valid");
    let key = |name: &str| LimitScope::Key(name.to_owned());
    store
        .set_limit(&key(PARTNER), running, now)
        .await
        .expect("set");
    store.set_limit(&key(TENANT), rate, now).await.expect("set");

    run_children(&db, "limited", 0).await;

    let log = db.read_log().await;
    let completed = store
        .count(
            &JobFilter::all().queue(QUEUE).state(JobState::Completed),
            SystemClock.now(),
        )
        .await
        .expect("the store counts");
    assert_eq!(
        completed,
        (PARTNER_JOBS + TENANT_JOBS) as u64,
        "every job completed"
    );

    // The partner's runs: sweep starts and ends in time order, an end before a start
    // at the same microsecond (a slot freed, then taken).
    let mut edges: Vec<(i64, i32)> = log
        .iter()
        .filter(|e| partner.contains(&e.job))
        .filter_map(|e| match e.event.as_str() {
            START => Some((e.at, 1)),
            END => Some((e.at, -1)),
            _ => None,
        })
        .collect();
    edges.sort_unstable();
    let (mut now_running, mut most) = (0, 0);
    for (_, step) in &edges {
        now_running += step;
        most = most.max(now_running);
    }
    let processes: std::collections::HashSet<&str> =
        log.iter().map(|e| e.process.as_str()).collect();
    println!(
        "limits across {} processes: at most {most} of {PARTNER_JOBS} partner jobs ran at once",
        processes.len()
    );
    assert_eq!(
        edges.len(),
        2 * PARTNER_JOBS,
        "every partner job started and ended once"
    );
    assert_eq!(
        most, 2,
        "at most {MAX_RUNNING} partner jobs ran at once, and 2 did"
    );

    // The tenant's claims: no window of one second holds more than RATE.
    let per_window = |event: &str| {
        let mut times: Vec<i64> = log
            .iter()
            .filter(|e| e.event == event && !partner.contains(&e.job))
            .map(|e| e.at)
            .collect();
        times.sort_unstable();
        let mut most = 0;
        let mut first = 0;
        for last in 0..times.len() {
            while times[last] - times[first] >= 1_000_000 {
                first += 1;
            }
            most = most.max(last - first + 1);
        }
        (times.len(), most)
    };
    let (claims, most_claims) = per_window(CLAIMED);
    let (starts, most_starts) = per_window(START);
    println!(
        "limits across processes: at most {most_claims} tenant claims and {most_starts} \
         handler starts in any 1 s window (rate {RATE}/s)"
    );
    assert_eq!(claims, TENANT_JOBS, "every tenant job logged its claim");
    assert_eq!(starts, TENANT_JOBS);
    // On an idle machine the workers claim all 300 within a second, so a rate that
    // did not hold fails here; on a loaded one the rate may go unreached (printed).
    assert!(
        most_claims <= RATE as usize,
        "{most_claims} claims within 1 s"
    );
}
