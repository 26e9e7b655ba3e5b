//! The application author's kit (`leasehold::testing`): each helper does what it says,
//! and the assertions fail when they should, saying what was enqueued.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use leasehold::retry::RetryPolicy;
use leasehold::testing::conformance::t;
use leasehold::testing::{
    DRAIN_ROUND_LIMIT, Expected, TestContext, assert_enqueued, assert_not_enqueued, drain,
    drain_until, run_handler,
};
use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{Clock, EnqueueOptions, Job, JobFilter, JobState, JobStore, ManualClock, Queue};
use serde::{Deserialize, Serialize};
use serde_json::json;

// A database file, as in production (no paused tokio time with sqlx).
#[path = "support/sqlite.rs"]
mod sqlite_support;

/// Signs a user up: a welcome email follows.
#[derive(Debug, Serialize, Deserialize)]
struct Signup {
    user: u64,
}
impl Job for Signup {
    const KIND: &'static str = "signup";
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Welcome {
    user: u64,
}
impl Job for Welcome {
    const KIND: &'static str = "welcome";

    fn enqueue_options(&self) -> EnqueueOptions {
        EnqueueOptions::new()
            .queue("mail")
            .priority(-1)
            .max_attempts(5)
            .tags(["email"])
    }
}

/// What the handlers share: a greeting, standing for a pool or a client.
struct Greeting(&'static str);

async fn signup(job: Signup, ctx: JobContext) -> Result<(), JobError> {
    let greeting = ctx.data::<Greeting>()?.0;
    ctx.queue().enqueue(Welcome { user: job.user }).await?;
    ctx.set_output(&json!({ "greeting": greeting, "attempt": ctx.attempt() }))?;
    Ok(())
}

/// Fails until its third attempt.
#[derive(Debug, Serialize, Deserialize)]
struct Flaky;
impl Job for Flaky {
    const KIND: &'static str = "flaky";
}

async fn flaky(_: Flaky, ctx: JobContext) -> Result<(), JobError> {
    if ctx.attempt() < 3 {
        return Err(JobError::retryable(format!(
            "attempt {} failed",
            ctx.attempt()
        )));
    }
    Ok(())
}

/// Snoozes for a minute until two minutes past `t(0)`, then succeeds.
#[derive(Debug, Serialize, Deserialize)]
struct Sleepy;
impl Job for Sleepy {
    const KIND: &'static str = "sleepy";
}

async fn sleepy(_: Sleepy, ctx: JobContext) -> Result<(), JobError> {
    if ctx.queue().clock().now() < t(120) {
        return Err(JobError::snooze(Duration::from_secs(60)));
    }
    Ok(())
}

/// Re-enqueues itself a minute later, forever.
#[derive(Debug, Serialize, Deserialize)]
struct Tick;
impl Job for Tick {
    const KIND: &'static str = "tick";
}

async fn tick(_: Tick, ctx: JobContext) -> Result<(), JobError> {
    let later = EnqueueOptions::new().delay(Duration::from_secs(60));
    ctx.queue().enqueue_with(Tick, later).await?;
    Ok(())
}

/// A payload that serializes without a field it needs back.
#[derive(Debug, Serialize, Deserialize)]
struct Lossy {
    #[serde(skip_serializing)]
    secret: u64,
}
impl Job for Lossy {
    const KIND: &'static str = "lossy";
}

/// A memory store on a `ManualClock` at `t(0)`.
fn world() -> (Queue, ManualClock) {
    let clock = ManualClock::new(t(0));
    let store: Arc<dyn JobStore> = Arc::new(leasehold_memory::MemoryStore::new());
    (Queue::with_clock(store, Arc::new(clock.clone())), clock)
}

/// The message of the panic `future` ends with; fails when it does not panic.
async fn panic_message(future: impl Future) -> String {
    let payload: Box<dyn Any + Send> = match AssertUnwindSafe(future).catch_unwind().await {
        Ok(_) => panic!("expected a panic"),
        Err(payload) => payload,
    };
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => (*payload.downcast::<&str>().expect("a string panic")).to_owned(),
    }
}

// Handlers without a worker.

#[tokio::test]
async fn a_handler_runs_with_the_attempt_data_and_queue_the_test_gives() {
    let (queue, _) = world();
    let test = TestContext::new(&queue).attempt(2).data(Greeting("hello"));

    let result = run_handler(signup, Signup { user: 42 }, &test).await;

    assert!(result.is_ok());
    let output = json!({ "greeting": "hello", "attempt": 2 });
    assert_eq!(test.take_output(), Some(output));
    assert_eq!(test.take_output(), None);
    let welcome = assert_enqueued(&queue, Expected::job(Welcome { user: 42 })).await;
    assert_eq!(welcome[0].queue, "mail");
}

#[tokio::test]
async fn a_handler_without_the_data_it_needs_fails_permanently() {
    let (queue, _) = world();

    let error = run_handler(signup, Signup { user: 1 }, &TestContext::new(&queue))
        .await
        .unwrap_err();

    assert!(error.is_permanent());
    assert!(error.to_string().contains("Greeting"), "{error}");
    assert_not_enqueued(&queue, Expected::<Welcome>::new()).await;
}

#[tokio::test]
async fn a_handler_s_error_and_its_last_attempt_come_back_as_a_worker_would_see_them() {
    let (queue, _) = world();

    let early = run_handler(flaky, Flaky, &TestContext::new(&queue).attempt(1)).await;
    let third = run_handler(flaky, &Flaky, &TestContext::new(&queue).attempt(3)).await;
    let last = TestContext::new(&queue).attempt(5).max_attempts(5);
    let never_fails = run_handler(|_: Flaky, _: JobContext| async {}, Flaky, &last).await;

    let early = early.unwrap_err();
    assert!(!early.is_permanent());
    assert_eq!(early.to_string(), "attempt 1 failed");
    assert!(third.is_ok());
    assert!(never_fails.is_ok());
    assert!(last.build_for(Flaky).is_last_attempt());
}

#[tokio::test]
async fn a_payload_that_does_not_come_back_from_json_fails_permanently() {
    let (queue, _) = world();
    let handler = |job: Lossy, _: JobContext| async move {
        assert_eq!(job.secret, 7, "never reached: the payload lost the field");
        Ok(())
    };

    let error = run_handler(handler, Lossy { secret: 7 }, &TestContext::new(&queue))
        .await
        .unwrap_err();

    assert!(error.is_permanent());
    assert!(
        error.to_string().contains("missing field `secret`"),
        "{error}"
    );
}

#[tokio::test]
async fn a_context_s_job_is_running_with_the_options_its_type_declares() {
    let (queue, clock) = world();
    clock.set(t(30));

    let ctx = TestContext::new(&queue).build_for(&Welcome { user: 7 });

    let job = ctx.record();
    assert_eq!(job.kind, "welcome");
    assert_eq!(job.payload, json!({ "user": 7 }));
    assert_eq!(job.state, JobState::Running);
    assert_eq!(
        (job.queue.as_str(), job.priority, job.max_attempts),
        ("mail", -1, 5)
    );
    assert_eq!(job.tags, ["email"]);
    assert_eq!((ctx.attempt(), job.attempted_at), (1, Some(t(30))));
    assert_eq!(job.lease_until, Some(t(60)));
    assert_eq!(
        JobContext::for_test(&queue, Welcome { user: 7 }).attempt(),
        1
    );
}

#[tokio::test]
async fn a_stored_job_runs_as_its_next_attempt() {
    let (queue, _) = world();
    let stored = queue.enqueue(Welcome { user: 3 }).await.unwrap().job;

    let ctx = TestContext::new(&queue).build_for_record(&stored);

    assert_eq!(ctx.id(), stored.id);
    assert_eq!(ctx.attempt(), 1);
    assert_eq!(ctx.record().state, JobState::Running);
}

#[tokio::test]
async fn cancelling_the_builder_s_token_cancels_its_contexts() {
    let (queue, _) = world();
    let test = TestContext::new(&queue);
    let ctx = test.build_for(Flaky);

    test.cancellation_token().cancel();

    assert!(ctx.is_cancelled());
}

#[tokio::test]
async fn a_handler_cancelling_its_own_token_stops_its_attempt_and_nothing_else() {
    let (queue, _) = world();
    let test = TestContext::new(&queue);
    let (ctx, other) = (test.build_for(Flaky), test.build_for(Flaky));
    let clone = ctx.clone();
    assert!(!ctx.is_cancelled() && !clone.is_cancelled());

    ctx.cancellation_token().cancel();

    assert!(
        ctx.is_cancelled() && clone.is_cancelled(),
        "a clone shares it"
    );
    tokio::time::timeout(std::time::Duration::from_secs(10), clone.cancelled())
        .await
        .expect("the clone sees the cancel");
    assert!(!other.is_cancelled(), "another context's attempt goes on");
    assert!(
        !test.cancellation_token().is_cancelled(),
        "the worker's side goes on"
    );

    // The builder's token still stops a context whose own token was asked for.
    let asked = test.build_for(Flaky);
    let own = asked.cancellation_token().clone();
    test.cancellation_token().cancel();
    assert!(own.is_cancelled() && asked.is_cancelled() && other.is_cancelled());
}

#[tokio::test]
async fn an_output_over_the_limit_is_refused() {
    let (queue, _) = world();
    let test = TestContext::new(&queue).output_limit(8);
    let ctx = test.build_for(Flaky);

    let refused = ctx.set_output(&"far more than eight bytes");

    assert!(refused.is_err());
    assert_eq!(test.take_output(), None);
}

// assert_enqueued and assert_not_enqueued.

#[tokio::test]
async fn assert_enqueued_matches_kind_predicate_and_options_and_returns_the_jobs() {
    let (queue, clock) = world();
    queue.enqueue(Welcome { user: 1 }).await.unwrap();
    let later = EnqueueOptions::new()
        .delay(Duration::from_secs(60))
        .tags(["vip"]);
    let vip = queue
        .enqueue_with(Welcome { user: 2 }, later)
        .await
        .unwrap()
        .job;

    let all = assert_enqueued(&queue, Expected::<Welcome>::new().queue("mail")).await;
    let found = assert_enqueued(
        &queue,
        Expected::new()
            .matching(|job: &Welcome| job.user == 2)
            .priority(-1)
            .tag("vip")
            .run_at(t(60))
            .max_attempts(5)
            .state(JobState::Scheduled),
    )
    .await;

    assert_eq!(all.len(), 2);
    assert_eq!(found, [vip]);
    assert_not_enqueued(
        &queue,
        Expected::new().matching(|job: &Welcome| job.user == 3),
    )
    .await;
    assert_not_enqueued(&queue, Expected::<Welcome>::new().queue("default")).await;
    assert_not_enqueued(&queue, Expected::<Signup>::new()).await;
    clock.set(t(60));
    assert_not_enqueued(
        &queue,
        Expected::<Welcome>::new().state(JobState::Scheduled),
    )
    .await;
}

#[tokio::test]
async fn assert_enqueued_panics_listing_the_jobs_of_the_kind_and_why_each_differs() {
    let (queue, _) = world();
    queue.enqueue(Welcome { user: 1 }).await.unwrap();
    queue
        .enqueue_with(Welcome { user: 2 }, EnqueueOptions::new().queue("slow"))
        .await
        .unwrap();
    queue.enqueue(Signup { user: 9 }).await.unwrap();

    let expected = Expected::new()
        .matching(|job: &Welcome| job.user == 2)
        .queue("mail");
    let message = panic_message(assert_enqueued(&queue, expected)).await;

    assert!(
        message.starts_with("assert_enqueued at tests/app_testing.rs:"),
        "{message}"
    );
    assert!(
        message.contains(
            r#"expected a pending job of kind "welcome" in queue "mail" whose payload satisfies the predicate, found none; the jobs of that kind (2):"#
        ),
        "{message}"
    );
    assert!(
        message.contains(r#"payload {"user":1}: the predicate is false"#),
        "{message}"
    );
    assert!(
        message.contains(r#"payload {"user":2}: queue is "slow""#),
        "{message}"
    );
    assert!(!message.contains("signup"), "{message}");
}

#[tokio::test]
async fn assert_enqueued_on_a_kind_never_enqueued_lists_what_is_stored() {
    let (queue, _) = world();

    let empty = panic_message(assert_enqueued(&queue, Expected::<Welcome>::new())).await;
    queue.enqueue(Signup { user: 9 }).await.unwrap();
    let other = panic_message(assert_enqueued(&queue, Expected::<Welcome>::new())).await;

    assert!(
        empty.ends_with("found none; the store holds no job"),
        "{empty}"
    );
    assert!(other.contains("no job of that kind, but 1:"), "{other}");
    assert!(
        other.contains(r#""signup", available, queue "default""#),
        "{other}"
    );
}

#[tokio::test]
async fn a_finished_job_is_not_pending_unless_asked_for_in_its_state() {
    let (queue, _) = world();
    let worker = Worker::builder(&queue)
        .queue("mail", 1)
        .handler(|_: Welcome, _: JobContext| async {})
        .build()
        .unwrap();
    queue.enqueue(Welcome { user: 5 }).await.unwrap();
    worker.run_once().await.unwrap();

    let message = panic_message(assert_enqueued(&queue, Expected::<Welcome>::new())).await;

    assert!(message.contains("state is completed"), "{message}");
    assert_enqueued(
        &queue,
        Expected::job(Welcome { user: 5 }).state(JobState::Completed),
    )
    .await;
    assert_enqueued(&queue, Expected::<Welcome>::new().any_state()).await;
}

#[tokio::test]
#[should_panic(expected = r#"expected no pending job of kind "welcome", found 1:"#)]
async fn assert_not_enqueued_panics_naming_the_job_it_found() {
    let (queue, _) = world();
    queue.enqueue(Welcome { user: 1 }).await.unwrap();

    assert_not_enqueued(&queue, Expected::<Welcome>::new()).await;
}

// drain.

#[tokio::test]
async fn drain_moves_the_clock_through_retries_until_the_job_completes() {
    let (queue, clock) = world();
    let worker = Worker::builder(&queue)
        .handler(flaky)
        .retry_policy(RetryPolicy::constant(Duration::from_secs(60)))
        .build()
        .unwrap();
    let id = queue.enqueue(Flaky).await.unwrap().job.id;

    let report = drain(&worker, &queue, &clock).await;

    assert_eq!(
        (report.retried(), report.completed(), report.failed()),
        (2, 1, 0)
    );
    // Three attempts, each followed by a round that found nothing due: the first two
    // moved the clock to the retry, the last ended the drain.
    assert_eq!(report.rounds, 6);
    assert_eq!(clock.now(), t(120));
    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempt, job.errors.len()),
        (JobState::Completed, 3, 2)
    );
}

#[tokio::test]
async fn drain_follows_snoozes_failures_and_follow_up_jobs() {
    let (queue, clock) = world();
    let worker = Worker::builder(&queue)
        .queue("default", 2)
        .queue("mail", 1)
        .data(Greeting("hi"))
        .handler(sleepy)
        .handler(signup)
        .handler(|_: Welcome, _: JobContext| async { Err(JobError::permanent("bounced")) })
        .build()
        .unwrap();
    queue.enqueue(Sleepy).await.unwrap();
    queue.enqueue(Signup { user: 1 }).await.unwrap();

    let report = drain(&worker, &queue, &clock).await;

    assert_eq!(report.snoozed(), 2);
    assert_eq!(report.completed(), 2); // sleepy and signup
    assert_eq!(report.failed(), 1); // the welcome signup enqueued
    assert_eq!(clock.now(), t(120));
    let pending = JobFilter::all().state(JobState::Available);
    assert_eq!(queue.count(&pending).await.unwrap(), 0);
}

#[tokio::test]
async fn drain_leaves_the_clock_alone_when_nothing_is_scheduled() {
    let (queue, clock) = world();
    let worker = Worker::builder(&queue).handler(flaky).build().unwrap();

    let report = drain(&worker, &queue, &clock).await;

    assert_eq!((report.rounds, report.outcomes.len()), (1, 0));
    assert_eq!(clock.now(), t(0));
}

#[tokio::test]
async fn drain_until_stops_moving_the_clock_at_its_deadline() {
    let (queue, clock) = world();
    let worker = Worker::builder(&queue).handler(tick).build().unwrap();
    queue.enqueue(Tick).await.unwrap();

    let report = drain_until(&worker, &queue, &clock, t(150)).await;

    assert_eq!(report.completed(), 3); // at 0, 60 and 120 s
    assert_eq!(clock.now(), t(150));
    assert_enqueued(&queue, Expected::<Tick>::new().run_at(t(180))).await;
}

#[tokio::test]
async fn drain_gives_up_after_its_round_limit() {
    let (queue, clock) = world();
    let worker = Worker::builder(&queue).handler(tick).build().unwrap();
    queue.enqueue(Tick).await.unwrap();

    let message = panic_message(drain(&worker, &queue, &clock)).await;

    assert!(
        message.starts_with("drain at tests/app_testing.rs:"),
        "{message}"
    );
    let limit = format!("jobs were still due after {DRAIN_ROUND_LIMIT} rounds");
    assert!(message.contains(&limit), "{message}");
}

#[tokio::test]
#[should_panic(expected = "the queue does not read the ManualClock given")]
async fn drain_refuses_a_clock_its_queue_does_not_read() {
    let (queue, _) = world();
    let elsewhere = ManualClock::new(t(0));
    let worker = Worker::builder(&queue).handler(flaky).build().unwrap();
    queue
        .enqueue_with(Flaky, EnqueueOptions::new().delay(Duration::from_secs(5)))
        .await
        .unwrap();

    drain(&worker, &queue, &elsewhere).await;
}

// The same on a SQLite file.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_sqlite_file_a_handler_s_follow_up_is_found_and_drained_through_a_retry() {
    let (store, _dir) = sqlite_support::open_file().await.unwrap();
    let clock = ManualClock::new(t(0));
    let queue = Queue::with_clock(store, Arc::new(clock.clone()));
    let test = TestContext::new(&queue).data(Greeting("hello"));
    run_handler(signup, Signup { user: 8 }, &test)
        .await
        .unwrap();
    assert_enqueued(&queue, Expected::job(Welcome { user: 8 }).queue("mail")).await;
    let worker = Worker::builder(&queue)
        .queue("mail", 1)
        .handler(|_: Welcome, ctx: JobContext| async move {
            if ctx.attempt() == 1 {
                return Err(JobError::retryable("smtp down"));
            }
            Ok(())
        })
        .retry_policy(RetryPolicy::constant(Duration::from_secs(30)))
        .build()
        .unwrap();

    let report = drain(&worker, &queue, &clock).await;

    assert_eq!((report.retried(), report.completed()), (1, 1));
    assert_eq!(clock.now(), t(30));
    assert_enqueued(
        &queue,
        Expected::job(Welcome { user: 8 }).state(JobState::Completed),
    )
    .await;
}
