//! What a handler's result does to its job: retries on the policy's schedule, failures
//! (panics, timeouts, unknown kinds, bad payloads, permanent errors) and snoozes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use leasehold::retry::RetryPolicy;
use leasehold::worker::{JobContext, JobError, Outcome, Worker, WorkerEvent};
use leasehold::{Clock, EnqueueOptions, Job, JobState, JobStore, NewJob};

use crate::world::{
    AlwaysFails, Echo, Hangs, Panics, World, always_fails, echo, hangs, only, panics, t, within,
};

/// Every retry is due exactly `now + policy(attempt)`, to the microsecond, not a
/// microsecond earlier; the last attempt ends the job Failed with its error.
async fn retries_follow_the_policy_to_the_microsecond_and_end_failed(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let policy = RetryPolicy::exponential(Duration::from_micros(1_000_008))
        .max_delay(Duration::from_secs(3))
        .jitter(0.5)
        .random_source(Arc::new(|| 0.25));
    let worker = Worker::builder(&world.queue)
        .handler(always_fails)
        .retry_policy(policy)
        .build()
        .unwrap();
    let mut events = worker.subscribe();
    let id = world
        .enqueue(&AlwaysFails, EnqueueOptions::new().max_attempts(4))
        .await;
    // initial * 2^(n-1), capped at 3 s, times (1 - 0.5 * 0.25).
    let expected_micros = [875_007, 1_750_014, 2_625_000];

    for (attempt, micros) in (1..).zip(expected_micros) {
        let report = worker.run_once().await.unwrap();

        let now = world.clock.now();
        let run_at = now + leasehold::time::Duration::microseconds(micros);
        let delay = Duration::from_micros(u64::try_from(micros).unwrap());
        assert_eq!(
            only(&report),
            &Outcome::Retried {
                delay,
                run_at,
                error: "boom".into()
            }
        );
        let job = world.get(id).await;
        assert_eq!(job.state, JobState::Scheduled);
        assert_eq!(job.run_at, run_at);
        assert_eq!(job.attempt, attempt);
        assert_eq!(job.last_error.as_deref(), Some("boom"));
        world
            .clock
            .set(run_at - leasehold::time::Duration::microseconds(1));
        assert!(worker.run_once().await.unwrap().claimed.is_empty());
        world.clock.set(run_at);
    }
    let report = worker.run_once().await.unwrap();

    assert_eq!(
        only(&report),
        &Outcome::Failed {
            error: "boom".into()
        }
    );
    let job = world.get(id).await;
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.attempt, 4);
    assert_eq!(job.last_error.as_deref(), Some("boom"));
    assert_eq!(job.finished_at, Some(world.clock.now()));
    let mut retried = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let WorkerEvent::Retried { delay, .. } = event {
            retried.push(delay);
        }
    }
    assert_eq!(
        retried,
        expected_micros.map(|m| Duration::from_micros(u64::try_from(m).unwrap()))
    );
}

/// Panics and timeouts are retryable failures with clear messages; an unknown kind and
/// a payload that does not deserialize fail the job at once; the worker goes on.
async fn panics_timeouts_unknown_kinds_and_bad_payloads_are_recorded_and_the_worker_goes_on(
    store: Arc<dyn JobStore>,
) {
    let world = World::new(store);
    let worker = Worker::builder(&world.queue)
        .handler(echo)
        .handler(panics)
        .handler(hangs)
        .timeout_for(Hangs::KIND, Duration::from_millis(20))
        .retry_policy(RetryPolicy::constant(Duration::from_secs(1)))
        .build()
        .unwrap();
    let retry = EnqueueOptions::new().max_attempts(3);
    let panicking = world.enqueue(&Panics, retry.clone()).await;
    let hanging = world.enqueue(&Hangs, retry).await;
    let now = world.clock.now();
    let unknown = world
        .queue
        .enqueue_new(NewJob::new("nobody_handles_this", serde_json::json!({}), now).unwrap())
        .await
        .unwrap()
        .job
        .id;
    let bad_payload = world
        .queue
        .enqueue_new(NewJob::new(Echo::KIND, serde_json::json!("not an echo"), now).unwrap())
        .await
        .unwrap()
        .job
        .id;
    let fine = world.enqueue(&Echo { n: 1 }, EnqueueOptions::new()).await;

    let report = within(worker.run_once()).await.unwrap();

    assert_eq!(report.claimed.len(), 5);
    assert_eq!(
        (report.completed(), report.retried(), report.failed()),
        (1, 2, 2)
    );
    let panicked = world.get(panicking).await;
    assert_eq!(panicked.state, JobState::Scheduled);
    assert_eq!(panicked.last_error.as_deref(), Some("panicked: kaboom"));
    let hung = world.get(hanging).await;
    assert_eq!(hung.state, JobState::Scheduled);
    assert_eq!(hung.last_error.as_deref(), Some("timed out after 20ms"));
    let unknown = world.get(unknown).await;
    assert_eq!(unknown.state, JobState::Failed);
    assert_eq!(
        unknown.last_error.as_deref(),
        Some("no handler is registered for job kind \"nobody_handles_this\"")
    );
    let bad = world.get(bad_payload).await;
    assert_eq!(bad.state, JobState::Failed);
    assert!(
        bad.last_error
            .as_deref()
            .unwrap()
            .starts_with("payload does not deserialize as job kind \"echo\": "),
        "{:?}",
        bad.last_error
    );
    assert_eq!(world.get(fine).await.state, JobState::Completed);

    world.clock.advance(Duration::from_secs(1));
    let again = within(worker.run_once()).await.unwrap();

    assert_eq!(again.claimed.len(), 2);
    assert_eq!(again.retried(), 2);
    assert_eq!(world.get(panicking).await.attempt, 2);
    assert_eq!(world.get(hanging).await.attempt, 2);
}

/// A snooze gives the job back for later without spending its attempt; a permanent
/// error ends the job `Failed` at once, attempts left or not.
async fn a_snooze_keeps_the_attempt_and_a_permanent_error_fails_at_once(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let calls = Arc::new(AtomicUsize::new(0));
    let worker = Worker::builder(&world.queue)
        .handler({
            let calls = Arc::clone(&calls);
            move |_: Echo, _: JobContext| {
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    if first {
                        Err(JobError::snooze(Duration::from_secs(5)))
                    } else {
                        Ok(())
                    }
                }
            }
        })
        .handler(|_: AlwaysFails, _: JobContext| async {
            Err(JobError::permanent("the account is closed"))
        })
        .build()
        .unwrap();
    let sleepy = world.enqueue(&Echo { n: 1 }, EnqueueOptions::new()).await;
    let doomed = world
        .enqueue(&AlwaysFails, EnqueueOptions::new().max_attempts(5))
        .await;

    let first = within(worker.run_once()).await.unwrap();

    let outcomes: Vec<&Outcome> = first.outcomes.iter().map(|o| &o.outcome).collect();
    assert!(outcomes.contains(&&Outcome::Snoozed { run_at: t(5) }));
    let closed = Outcome::Failed {
        error: "the account is closed".into(),
    };
    assert!(outcomes.contains(&&closed), "{outcomes:?}");
    let job = world.get(sleepy).await;
    assert_eq!(
        (job.state, job.run_at, job.attempt),
        (JobState::Scheduled, t(5), 0)
    );
    let job = world.get(doomed).await;
    assert_eq!((job.state, job.attempt), (JobState::Failed, 1));
    assert_eq!(job.last_error.as_deref(), Some("the account is closed"));
    world
        .clock
        .set(t(5) - leasehold::time::Duration::microseconds(1));
    assert!(worker.run_once().await.unwrap().claimed.is_empty());
    world.clock.set(t(5));
    assert_eq!(within(worker.run_once()).await.unwrap().completed(), 1);
    let job = world.get(sleepy).await;
    assert_eq!((job.state, job.attempt), (JobState::Completed, 1));
}

/// A subscriber that comes after the worker has run jobs with no one listening gets
/// the events of the jobs after it (the worker skips building events while no one
/// has ever subscribed, and must notice the first subscriber).
async fn a_late_subscriber_gets_the_events_of_the_jobs_after_it(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let worker = Worker::builder(&world.queue).handler(echo).build().unwrap();
    world.enqueue(&Echo { n: 1 }, EnqueueOptions::new()).await;
    assert_eq!(within(worker.run_once()).await.unwrap().completed(), 1);

    let mut events = worker.subscribe();
    let id = world.enqueue(&Echo { n: 2 }, EnqueueOptions::new()).await;
    assert_eq!(within(worker.run_once()).await.unwrap().completed(), 1);

    let claimed = events.try_recv().expect("the claim's event");
    assert!(
        matches!(&claimed, WorkerEvent::Claimed(job) if job.id == id),
        "{claimed:?}"
    );
    let completed = events.try_recv().expect("the completion's event");
    assert!(
        matches!(&completed, WorkerEvent::Completed(job) if job.id == id),
        "{completed:?}"
    );
    assert!(events.try_recv().is_err(), "nothing of the first job");
}

/// A handler that cancels its own token stops nothing of the worker's: the handler's
/// result stands and the next job runs.
async fn a_handler_cancelling_its_own_token_stops_nothing_of_the_workers(store: Arc<dyn JobStore>) {
    let world = World::new(store);
    let worker = Worker::builder(&world.queue)
        .handler(|_: Echo, ctx: JobContext| {
            ctx.cancellation_token().cancel();
            let cancelled = ctx.is_cancelled();
            async move {
                assert!(cancelled, "its own cancel shows in its context");
                Ok::<(), JobError>(())
            }
        })
        .build()
        .unwrap();
    for n in 1..=2 {
        world.enqueue(&Echo { n }, EnqueueOptions::new()).await;
        let report = within(worker.run_once()).await.unwrap();
        assert_eq!(only(&report), &Outcome::Completed);
    }
}

worker_scenarios!(
    a_handler_cancelling_its_own_token_stops_nothing_of_the_workers,
    a_late_subscriber_gets_the_events_of_the_jobs_after_it,
    retries_follow_the_policy_to_the_microsecond_and_end_failed,
    panics_timeouts_unknown_kinds_and_bad_payloads_are_recorded_and_the_worker_goes_on,
    a_snooze_keeps_the_attempt_and_a_permanent_error_fails_at_once,
);
