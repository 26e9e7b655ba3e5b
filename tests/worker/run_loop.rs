//! The run loop: `run` polls, backs off and wakes on an enqueue; shutdown stops it and
//! releases or waits for its running jobs.

use std::sync::Arc;
use std::time::Duration;

use leasehold::testing::recording::RecordingStore;
use leasehold::time::OffsetDateTime;
use leasehold::worker::{CancellationToken, Outcome, Worker, WorkerEvent};
use leasehold::{Clock, EnqueueOptions, JobState, JobStore, Queue};

use crate::world::{
    Echo, Gate, Gated, World, echo, only, spawn_run, spawn_run_watched, t, within, worker,
};

/// Shutdown past its grace period cancels the running handler and releases the job,
/// due at once with its attempt given back; another worker then completes it.
async fn shutdown_releases_unfinished_jobs_and_another_worker_completes_them(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let (other_gate, _) = Gate::new();
    let a = Worker::builder(&world.queue)
        .id("a")
        .handler(gate.handler())
        .shutdown_grace(Duration::ZERO)
        .build()
        .unwrap();
    let b = worker(&world, "b", &other_gate);
    let (id, running) = world.start_gated(&a, &mut started).await;

    within(a.shutdown()).await;

    let report = within(running).await.unwrap().unwrap();
    assert_eq!(only(&report), &Outcome::Released);
    gate.assert_stopped_at_the_gate();
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Available);
    assert_eq!(job.attempt, 0);
    world.enqueue(&Gated, EnqueueOptions::new()).await;
    assert!(a.run_once().await.unwrap().claimed.is_empty());
    other_gate.open();
    other_gate.open();
    let taken = within(b.run_once()).await.unwrap();
    assert_eq!(taken.completed(), 2);
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.attempt, 1);
}

/// Within its grace period, shutdown waits for running jobs and records them.
async fn shutdown_lets_running_jobs_finish_within_the_grace_period(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, mut started) = Gate::new();
    let a = worker(&world, "a", &gate);
    let (id, running) = world.start_gated(&a, &mut started).await;

    let shutdown = tokio::spawn({
        let a = a.clone();
        async move { a.shutdown().await }
    });
    within(async {
        while !a.shutdown_token().is_cancelled() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(!shutdown.is_finished());
    gate.open();
    within(shutdown).await.unwrap();

    let report = within(running).await.unwrap().unwrap();
    assert_eq!(only(&report), &Outcome::Completed);
    assert_eq!(world.get(id).await.state, JobState::Completed);
}

/// Worker "a" running [`Echo`] that polls so rarely that only a wake-up signal can
/// explain a prompt pickup.
fn never_polling(world: &World) -> leasehold::worker::WorkerBuilder {
    Worker::builder(&world.queue)
        .id("a")
        .handler(echo)
        .poll_interval(Duration::from_secs(3600))
        .max_poll_interval(Duration::from_secs(3600))
}

/// `run` wakes at once when its queue enqueues and returns after shutdown.
async fn run_wakes_on_enqueue_and_returns_after_shutdown(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (gate, _) = Gate::new();
    let a = never_polling(&world)
        .handler(gate.handler())
        .build()
        .unwrap();
    let (mut events, running) = spawn_run_watched(&a);
    tokio::task::yield_now().await;

    let id = world.enqueue(&Echo { n: 7 }, EnqueueOptions::new()).await;

    loop {
        let event = within(events.recv()).await.unwrap();
        if let WorkerEvent::Completed(job) = event {
            assert_eq!(job.id, id);
            break;
        }
    }
    a.shutdown_token().cancel();
    within(running).await.unwrap();
    assert_eq!(world.get(id).await.state, JobState::Completed);
}

/// A worker given another wake-up signal (a store's cross-process one, say) still
/// wakes at once when its own queue enqueues, and also when that signal changes.
async fn an_added_enqueue_signal_wakes_the_worker_as_well_as_its_queue(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let (other, signal) = tokio::sync::watch::channel(0_u64);
    let a = never_polling(&world)
        .enqueue_signal(signal)
        .build()
        .unwrap();
    let (mut events, running) = spawn_run_watched(&a);
    tokio::task::yield_now().await;

    let mine = world.enqueue(&Echo { n: 1 }, EnqueueOptions::new()).await;
    let completed = async |events: &mut tokio::sync::broadcast::Receiver<WorkerEvent>| loop {
        if let WorkerEvent::Completed(job) = within(events.recv()).await.unwrap() {
            return job.id;
        }
    };
    assert_eq!(completed(&mut events).await, mine);
    // Another process's enqueue: stored behind this queue's back, announced by the
    // other signal only.
    let theirs = Queue::with_clock(Arc::clone(&world.store), Arc::new(world.clock.clone()))
        .enqueue(&Echo { n: 2 })
        .await
        .unwrap()
        .job
        .id;
    other.send_modify(|n| *n += 1);
    assert_eq!(completed(&mut events).await, theirs);

    a.shutdown_token().cancel();
    within(running).await.unwrap();
}

// MemoryStore only from here: paused tokio time would starve sqlx's threads.

/// Wall time that follows tokio's (paused) clock, from 2000-01-01.
#[derive(Debug)]
struct TokioClock {
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> OffsetDateTime {
        leasehold::time::truncate_to_micros(t(0) + self.start.elapsed())
    }
}

/// An idle `run` backs its polling off (1, 2, 4, 8, 8, ... s), wakes at once on an
/// enqueue, and sleeps until a delayed job is due rather than until its next poll.
#[tokio::test(start_paused = true)]
async fn an_idle_worker_backs_off_wakes_on_enqueue_and_sleeps_until_the_next_due_job() {
    let recording = Arc::new(RecordingStore::new(leasehold_memory::MemoryStore::new()));
    let clock = Arc::new(TokioClock {
        start: tokio::time::Instant::now(),
    });
    let queue = Queue::with_clock(Arc::clone(&recording) as Arc<dyn JobStore>, clock);
    let worker = Worker::builder(&queue)
        .handler(echo)
        .poll_interval(Duration::from_secs(1))
        .max_poll_interval(Duration::from_secs(8))
        .build()
        .unwrap();
    let (mut events, running) = spawn_run_watched(&worker);
    let completed = |events: &mut tokio::sync::broadcast::Receiver<WorkerEvent>| {
        let mut events = events.resubscribe();
        async move {
            loop {
                if let WorkerEvent::Completed(job) = events.recv().await.unwrap() {
                    return job.id;
                }
            }
        }
    };

    tokio::time::sleep(Duration::from_secs(60)).await;
    // Rounds at 0, 1, 3, 7, 15, 23, 31, 39, 47 and 55 s.
    assert_eq!(recording.claims().len(), 10);

    let at_once = completed(&mut events);
    let start = tokio::time::Instant::now();
    let id = queue.enqueue(&Echo { n: 1 }).await.unwrap().job.id;
    assert_eq!(at_once.await, id);
    assert_eq!(start.elapsed(), Duration::ZERO);

    let when_due = completed(&mut events);
    let start = tokio::time::Instant::now();
    let delay = EnqueueOptions::new().delay(Duration::from_secs(5));
    let id = queue
        .enqueue_with(&Echo { n: 2 }, delay)
        .await
        .unwrap()
        .job
        .id;
    assert_eq!(when_due.await, id);
    // Polls at +0 (the enqueue), +1 and +3 s, then sleeps until the job is due at +5 s
    // instead of polling at +7 s.
    assert_eq!(start.elapsed(), Duration::from_secs(5));

    worker.shutdown().await;
    running.await.unwrap();
}

/// `run_until` stops on its signal, and a worker built with `shutdown_on` stops when
/// that token is cancelled.
#[tokio::test]
async fn run_until_and_shutdown_on_stop_the_loop() {
    let world = World::new(Arc::new(leasehold_memory::MemoryStore::new()));
    let a = Worker::builder(&world.queue).handler(echo).build().unwrap();
    let token = CancellationToken::new();
    let b = Worker::builder(&world.queue)
        .handler(echo)
        .shutdown_on(&token)
        .build()
        .unwrap();
    let (signal, stopped) = tokio::sync::oneshot::channel::<()>();
    let a_running = tokio::spawn({
        let a = a.clone();
        async move { a.run_until(stopped).await }
    });
    let b_running = spawn_run(&b);

    signal.send(()).unwrap();
    token.cancel();

    within(a_running).await.unwrap();
    within(b_running).await.unwrap();
    assert!(a.shutdown_token().is_cancelled());
    assert!(b.shutdown_token().is_cancelled());
}

worker_scenarios!(
    shutdown_releases_unfinished_jobs_and_another_worker_completes_them,
    shutdown_lets_running_jobs_finish_within_the_grace_period,
    run_wakes_on_enqueue_and_returns_after_shutdown,
    an_added_enqueue_signal_wakes_the_worker_as_well_as_its_queue,
);
