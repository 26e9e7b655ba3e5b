//! Scenarios that drive a store directly: enqueue, claim at scale, heartbeats, memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use leasehold::{
    ClaimRequest, Clock, EnqueueOptions, Job, JobRecord, JobState, JobStore, Lease, Limit,
    LimitScope, NewJob, Queue, SystemClock,
};

use crate::Sizes;
use crate::report::{Report, Row, quantile_ms, rss_bytes};
use crate::stores::{fill, job, open_if_wanted, queues, rate};

/// Claims `limit` at a time until `n` jobs are claimed, completing each batch in
/// between (concurrently, so a SQLite store commits them together); returns the time
/// of each claim call alone.
async fn drain(store: &Arc<dyn JobStore>, n: usize, limit: usize) -> Vec<Duration> {
    drain_limited(store, n, limit, limit).await
}

/// [`drain`] with claims of which at most `limited` jobs may be ones a stored limit
/// governs (a worker claiming ahead of its free slots asks that).
async fn drain_limited(
    store: &Arc<dyn JobStore>,
    n: usize,
    limit: usize,
    limited: usize,
) -> Vec<Duration> {
    let mut claim_times = Vec::new();
    let mut done = 0;
    while done < n {
        let now = SystemClock.now();
        let started = Instant::now();
        let claimed = store
            .claim(
                ClaimRequest::new(
                    "bench",
                    &queues(),
                    limit.min(n - done),
                    now + Duration::from_mins(5),
                )
                .limited(limited),
                now,
            )
            .await
            .expect("claim");
        claim_times.push(started.elapsed());
        assert!(!claimed.is_empty(), "the store ran dry after {done} of {n}");
        let completions = claimed.iter().map(|job| store.complete(job.lease(), now));
        for completed in futures::future::join_all(completions).await {
            completed.expect("complete");
        }
        done += claimed.len();
    }
    claim_times
}

/// The scenarios that drive the store `name` directly.
pub(crate) async fn run(report: &mut Report, name: &str, sizes: Sizes) {
    enqueue_single(report, name, sizes.jobs, 1).await;
    enqueue_single(report, name, sizes.jobs, 8).await;
    enqueue_batch(report, name, sizes.jobs * 10, 100).await;
    enqueue_batch(report, name, sizes.jobs * 10, 1_000).await;
    claim_scale(report, name, sizes.scale_small, sizes.scale_small / 2).await;
    claim_scale(report, name, sizes.scale_large, sizes.scale_small / 2).await;
    for how in [Keyed::NoLimit, Keyed::Limited, Keyed::LimitedAhead] {
        claim_keyed(report, name, sizes.scale_small, sizes.scale_small / 2, how).await;
    }
    batch_of_1000(report, name).await;
    queue_stats(report, name, sizes.scale_large).await;
    heartbeat(report, name, sizes.running).await;
}

/// Scenarios of the memory store alone.
pub(crate) async fn run_memory_only(report: &mut Report, sizes: Sizes) {
    memory_per_job(report, sizes.memory_jobs).await;
}

async fn enqueue_single(report: &mut Report, store_name: &str, n: usize, callers: usize) {
    let scenario = format!("enqueue_one_per_call_x{callers}");
    let Some(bench) = open_if_wanted(report, &scenario, store_name).await else {
        return;
    };
    let store = &bench.store;
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in (c..n).step_by(callers) {
                    store
                        .enqueue(job(i), SystemClock.now())
                        .await
                        .expect("enqueue");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("caller");
    }
    let elapsed = started.elapsed();
    let jobs_per_sec = rate(n, elapsed);
    // SQLite's rows against the raw one-row INSERT loop of this run, when it ran.
    let raw = (store_name == "sqlite")
        .then(|| report.rate_of(crate::baseline::INSERT_ONE, crate::baseline::STORE))
        .flatten();
    report.push(Row {
        scenario,
        store: store_name.into(),
        jobs: n,
        concurrency: callers,
        jobs_per_sec,
        ratio_to_baseline: jobs_per_sec.zip(raw).map(|(ours, raw)| ours / raw),
        ..Row::default()
    });
    bench.close().await;
}

async fn enqueue_batch(report: &mut Report, store_name: &str, n: usize, size: usize) {
    let scenario = format!("enqueue_batches_of_{size}");
    let Some(bench) = open_if_wanted(report, &scenario, store_name).await else {
        return;
    };
    let store = &bench.store;
    // Built before the clock starts, as an application builds its jobs once: the
    // timed loop is the enqueues alone, as the raw INSERT loop's is.
    let jobs: Vec<NewJob> = (0..n).map(job).collect();
    let batches: Vec<Vec<NewJob>> = jobs.chunks(size).map(<[NewJob]>::to_vec).collect();
    let started = Instant::now();
    for batch in batches {
        store
            .enqueue_many(batch, SystemClock.now())
            .await
            .expect("enqueue_many");
    }
    let elapsed = started.elapsed();
    report.push(Row {
        scenario,
        store: store_name.into(),
        jobs: n,
        concurrency: 1,
        jobs_per_sec: rate(n, elapsed),
        ..Row::default()
    });
    bench.close().await;
}

/// Claims (64 per call) `work` jobs out of `queued` waiting ones. Its jobs/s is the
/// claim rate at the median claim call (64 / p50): a claim takes tens of microseconds
/// on the memory store, so a total over a few hundred calls would measure the
/// scheduler's preemptions on a shared machine more than the store.
async fn claim_scale(report: &mut Report, store_name: &str, queued: usize, work: usize) {
    let scenario = format!("claim64_with_{}_queued", human(queued));
    let Some(bench) = open_if_wanted(report, "claim64_with", store_name).await else {
        return;
    };
    fill(&bench.store, queued).await;
    let store = &bench.store;
    let claim_times = drain(store, work, 64).await;
    let small = format!("claim64_with_{}_queued", human(10_000));
    push_claim_row(
        report,
        scenario,
        store_name,
        (work, claim_times, 64),
        &small,
    );
    bench.close().await;
}

/// The row of a claim scenario of `jobs` jobs whose claims take `per_claim` jobs each:
/// jobs/s at the median claim, and the ratio to the scenario `against` of the same
/// store in this run.
fn push_claim_row(
    report: &mut Report,
    scenario: String,
    store_name: &str,
    (jobs, mut claim_times, per_claim): (usize, Vec<Duration>, usize),
    against: &str,
) {
    let p50_ms = quantile_ms(&mut claim_times, 0.5);
    let jobs_per_sec = p50_ms.map(|ms| per_claim as f64 / (ms / 1e3));
    let ratio = report
        .rate_of(against, store_name)
        .zip(jobs_per_sec)
        .map(|(base, ours)| ours / base);
    report.push(Row {
        scenario,
        store: store_name.into(),
        jobs,
        concurrency: 1,
        jobs_per_sec,
        p50_ms,
        p99_ms: quantile_ms(&mut claim_times, 0.99),
        ratio_to_baseline: ratio,
        ..Row::default()
    });
}

/// Keys over which [`claim_keyed`] spreads its jobs.
const LIMIT_KEYS: usize = 16;

/// How [`claim_keyed`] claims its keyed jobs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keyed {
    /// No limit stored (`claim64_with_10k_queued_keyed`): what the keys alone cost
    /// (their jobs are kept in more indexes).
    NoLimit,
    /// Each key and the queue limited, to more than the run ever reaches, so every
    /// claim evaluates the limits and none holds a job back
    /// (`claim64_with_10k_queued_limited`): what limits cost a claim.
    Limited,
    /// As `Limited`, each claim of 64 allowing [`AHEAD_LIMITED`] governed jobs, as a
    /// worker with that many free slots claiming ahead of them asks
    /// (`claim64_with_10k_queued_limited_ahead`): every job is governed, so a claim
    /// takes that many; jobs/s counts those.
    LimitedAhead,
}

/// The governed jobs a [`Keyed::LimitedAhead`] claim may take: a worker's free slots.
const AHEAD_LIMITED: usize = 8;

/// [`claim_scale`] over `queued` jobs spread over [`LIMIT_KEYS`] limit keys, claimed
/// as `how` says. The ratio of each row is against `claim64_with_10k_queued` of the
/// same run, jobs without keys or limits (the issue asks at least 0.5 of the limited
/// one).
async fn claim_keyed(
    report: &mut Report,
    store_name: &str,
    queued: usize,
    work: usize,
    how: Keyed,
) {
    let ending = match how {
        Keyed::NoLimit => "keyed",
        Keyed::Limited => "limited",
        Keyed::LimitedAhead => "limited_ahead",
    };
    let scenario = format!("claim64_with_{}_queued_{ending}", human(queued));
    let Some(bench) = open_if_wanted(report, "claim64_with", store_name).await else {
        return;
    };
    let store = &bench.store;
    let key = |i: usize| format!("tenant:{}", i % LIMIT_KEYS);
    let mut i = 0;
    while i < queued {
        let end = (i + 1_000).min(queued);
        let jobs = (i..end)
            .map(|i| job(i).limit_key(key(i)).expect("a valid key"))
            .collect();
        store
            .enqueue_many(jobs, SystemClock.now())
            .await
            .expect("fill");
        i = end;
    }
    if how == Keyed::NoLimit {
        let claim_times = drain(store, work, 64).await;
        let plain = format!("claim64_with_{}_queued", human(queued));
        push_claim_row(
            report,
            scenario,
            store_name,
            (work, claim_times, 64),
            &plain,
        );
        bench.close().await;
        return;
    }
    let limit = Limit::running(1_000)
        .and_then(|limit| limit.with_rate(1_000_000, Duration::from_secs(1)))
        .expect("a valid limit");
    let now = SystemClock.now();
    for k in 0..LIMIT_KEYS {
        let scope = LimitScope::Key(key(k));
        store
            .set_limit(&scope, limit, now)
            .await
            .expect("set_limit");
    }
    for name in queues() {
        let scope = LimitScope::Queue(name);
        store
            .set_limit(&scope, limit, now)
            .await
            .expect("set_limit");
    }
    let plain = format!("claim64_with_{}_queued", human(queued));
    let row = if how == Keyed::LimitedAhead {
        // Fewer jobs, each claim taking fewer: about as many claims as the others.
        let work = work / (64 / AHEAD_LIMITED);
        let claim_times = drain_limited(store, work, 64, AHEAD_LIMITED).await;
        (work, claim_times, AHEAD_LIMITED)
    } else {
        (work, drain(store, work, 64).await, 64)
    };
    push_claim_row(report, scenario, store_name, row, &plain);
    bench.close().await;
}

/// A member of a [`batch_of_1000`] batch, and its callback.
#[derive(serde::Serialize, serde::Deserialize)]
struct Member(usize);

impl Job for Member {
    const KIND: &'static str = "noop";
}

/// Batches of 1,000 members: `batch_1000_enqueue` adds the members (one `add_many`)
/// and seals the batch (the callback depends on all 1,000), jobs/s over the median
/// batch, its ratio to `enqueue_batches_of_1000` (plain jobs, one `enqueue_many`) of
/// this run; `batch_1000_complete` claims and completes every member, 64 at a time,
/// until the released callback is claimed and completed too, jobs/s of the median
/// batch over its 1,001 jobs, its ratio to 1,001 plain jobs worked off the same way in
/// the same run.
async fn batch_of_1000(report: &mut Report, store_name: &str) {
    const MEMBERS: usize = 1_000;
    const BATCHES: usize = 5;
    let Some(bench) = open_if_wanted(report, "batch_1000", store_name).await else {
        return;
    };
    let queue = Queue::new(Arc::clone(&bench.store));
    let members: Vec<Member> = (0..MEMBERS).map(Member).collect();
    let (mut enqueue_times, mut complete_times, mut plain_times) =
        (Vec::new(), Vec::new(), Vec::new());
    // Claims and completes 64 at a time until `jobs` jobs are done: the time it took.
    let work_off = async |jobs: usize| {
        let started = Instant::now();
        drain(&bench.store, jobs, 64).await;
        started.elapsed()
    };
    for _ in 0..BATCHES {
        let started = Instant::now();
        let batch = queue.batch();
        batch
            .add_many(&members, EnqueueOptions::new())
            .await
            .expect("the members enqueue");
        batch
            .seal(&Member(MEMBERS), EnqueueOptions::new())
            .await
            .expect("the batch seals");
        enqueue_times.push(started.elapsed());
        complete_times.push(work_off(MEMBERS + 1).await);
        let callback = queue.get(batch.id()).await.expect("get").expect("stored");
        assert_eq!(callback.state, JobState::Completed, "the callback ran last");

        // The same number of plain jobs, the same way: the batch's control.
        let plain: Vec<NewJob> = (0..=MEMBERS).map(job).collect();
        bench
            .store
            .enqueue_many(plain, SystemClock.now())
            .await
            .expect("enqueue_many");
        plain_times.push(work_off(MEMBERS + 1).await);
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort_unstable();
        times[times.len() / 2]
    };
    let enqueue_rate = rate(MEMBERS + 1, median(&mut enqueue_times));
    let plain = report.rate_of("enqueue_batches_of_1000", store_name);
    report.push(Row {
        scenario: format!("batch_{MEMBERS}_enqueue"),
        store: store_name.into(),
        jobs: MEMBERS + 1,
        concurrency: 1,
        jobs_per_sec: enqueue_rate,
        ratio_to_baseline: enqueue_rate.zip(plain).map(|(ours, plain)| ours / plain),
        ..Row::default()
    });
    let complete_rate = rate(MEMBERS + 1, median(&mut complete_times));
    let plain_rate = rate(MEMBERS + 1, median(&mut plain_times));
    report.push(Row {
        scenario: format!("batch_{MEMBERS}_complete"),
        store: store_name.into(),
        jobs: MEMBERS + 1,
        concurrency: 1,
        jobs_per_sec: complete_rate,
        ratio_to_baseline: complete_rate
            .zip(plain_rate)
            .map(|(ours, plain)| ours / plain),
        ..Row::default()
    });
    bench.close().await;
}

/// `queue_stats` over a store holding `queued` jobs in every state
/// (mostly pending, some running and finished), timed over several calls: the one
/// query an operator's dashboard runs on every refresh.
async fn queue_stats(report: &mut Report, store_name: &str, queued: usize) {
    const CALLS: usize = 7;
    let scenario = format!("queue_stats_with_{}_jobs", human(queued));
    let Some(bench) = open_if_wanted(report, "queue_stats", store_name).await else {
        return;
    };
    fill(&bench.store, queued).await;
    let store = &bench.store;
    // Some of every state, so each count has rows to find.
    drain(store, queued / 100, 64).await;
    let now = SystemClock.now();
    let until = now + Duration::from_mins(5);
    let names = queues();
    let claim = ClaimRequest::new("bench", &names, 64, until);
    let running = store.claim(claim, now).await.expect("claim");
    for job in &running[..running.len() / 2] {
        store.fail(job.lease(), "bench", now).await.expect("fail");
    }
    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        let stats = store
            .queue_stats(SystemClock.now())
            .await
            .expect("queue_stats");
        times.push(started.elapsed());
        let total: u64 = stats.iter().map(leasehold::QueueStats::total).sum();
        assert_eq!(total, queued as u64, "every job is counted");
    }
    report.push(Row {
        scenario,
        store: store_name.into(),
        jobs: queued,
        concurrency: 1,
        p50_ms: quantile_ms(&mut times, 0.5),
        p99_ms: quantile_ms(&mut times, 0.99),
        ..Row::default()
    });
    bench.close().await;
}

/// One heartbeat call extending `running` leases, repeated; jobs/s = leases extended/s.
async fn heartbeat(report: &mut Report, store_name: &str, running: usize) {
    let scenario = format!("heartbeat_{running}_running");
    let Some(bench) = open_if_wanted(report, "heartbeat", store_name).await else {
        return;
    };
    fill(&bench.store, running).await;
    let store = &bench.store;
    let now = SystemClock.now();
    let claimed: Vec<JobRecord> = store
        .claim(
            ClaimRequest::new("bench", &queues(), running, now + Duration::from_mins(1)),
            now,
        )
        .await
        .expect("claim");
    let leases: Vec<Lease> = claimed.iter().map(JobRecord::lease).collect();
    let mut times = Vec::new();
    let rounds = 50;
    let started = Instant::now();
    for r in 0..rounds {
        let until = now + Duration::from_mins(2) + Duration::from_secs(r);
        let t0 = Instant::now();
        store.heartbeat(&leases, until).await.expect("heartbeat");
        times.push(t0.elapsed());
    }
    let elapsed = started.elapsed();
    report.push(Row {
        scenario,
        store: store_name.into(),
        jobs: running,
        concurrency: 1,
        jobs_per_sec: rate(running * 50, elapsed),
        p50_ms: quantile_ms(&mut times, 0.5),
        p99_ms: quantile_ms(&mut times, 0.99),
        ..Row::default()
    });
    bench.close().await;
}

/// Resident bytes per small queued job in a MemoryStore.
async fn memory_per_job(report: &mut Report, n: usize) {
    let scenario = "memory_bytes_per_queued_job".to_owned();
    let Some(bench) = open_if_wanted(report, &scenario, "memory").await else {
        return;
    };
    let store = &bench.store;
    // Jobs are built a batch at a time, so the growth measured is the store's, not
    // that of jobs waiting to be enqueued (whose freed memory the store would reuse).
    let before = rss_bytes();
    fill(store, n).await;
    let after = rss_bytes();
    #[allow(clippy::cast_precision_loss)]
    let per_job = before.zip(after).map(|(b, a)| (a - b) / n as f64);
    report.push(Row {
        scenario,
        store: "memory".into(),
        jobs: n,
        concurrency: 1,
        bytes_per_job: per_job,
        ..Row::default()
    });
    bench.close().await;
}

fn human(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}
