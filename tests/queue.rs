//! The producer handle: typed enqueue, options, bad input, inspection.

use std::sync::Arc;
use std::time::Duration;

use leasehold::testing::conformance::t;
use leasehold::{
    EnqueueOptions, Error, Job, JobFilter, JobState, JobStore, ManualClock, NewJob, Queue,
};
use leasehold_memory::MemoryStore;
use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Greet {
    name: String,
}

impl Job for Greet {
    const KIND: &'static str = "greet";
}

/// A payload whose serialization always fails.
#[derive(Debug, Deserialize)]
struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this payload refuses to serialize",
        ))
    }
}

impl Job for Unserializable {
    const KIND: &'static str = "unserializable";
}

fn queue_at_t0() -> (Queue, ManualClock) {
    let clock = ManualClock::new(t(0));
    let store: Arc<dyn JobStore> = Arc::new(MemoryStore::new());
    (Queue::with_clock(store, Arc::new(clock.clone())), clock)
}

#[tokio::test]
async fn a_typed_job_is_stored_with_its_kind_payload_and_options() {
    let (queue, _clock) = queue_at_t0();
    let options = EnqueueOptions::new()
        .queue("greetings")
        .priority(3)
        .delay(Duration::from_secs(30))
        .max_attempts(4)
        .unique_key("greet:ada");

    let enqueued = queue
        .enqueue_with(&Greet { name: "Ada".into() }, options)
        .await
        .unwrap();

    let job = queue.get(enqueued.job.id).await.unwrap().unwrap();
    assert_eq!(job.kind, "greet");
    assert_eq!(job.payload, serde_json::json!({"name": "Ada"}));
    assert_eq!(job.queue, "greetings");
    assert_eq!(job.priority, 3);
    assert_eq!(job.run_at, t(30));
    assert_eq!(job.state, JobState::Scheduled);
    assert_eq!(job.max_attempts, 4);
    assert_eq!(job.unique_key.as_deref(), Some("greet:ada"));
}

#[tokio::test]
async fn run_at_wins_over_delay_and_is_truncated_to_microseconds() {
    let (queue, _clock) = queue_at_t0();
    let at = t(90) + Duration::from_nanos(1_999);

    let job = queue
        .enqueue_with(
            &Greet { name: "x".into() },
            EnqueueOptions::new()
                .delay(Duration::from_hours(1))
                .run_at(at),
        )
        .await
        .unwrap()
        .job;

    assert_eq!(job.run_at, t(90) + Duration::from_micros(1));
}

#[tokio::test]
async fn a_delay_past_the_last_representable_time_is_a_config_error() {
    let (queue, _clock) = queue_at_t0();

    let err = queue
        .enqueue_with(
            &Greet { name: "x".into() },
            EnqueueOptions::new().delay(Duration::MAX),
        )
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Config(_)), "{err}");
    assert_eq!(queue.count(&JobFilter::all()).await.unwrap(), 0);
}

#[tokio::test]
async fn bad_input_is_a_clear_error_and_stores_nothing() {
    let (queue, _clock) = queue_at_t0();
    let greet = Greet { name: "x".into() };

    let empty_queue = queue
        .enqueue_with(&greet, EnqueueOptions::new().queue(""))
        .await;
    let zero_attempts = queue
        .enqueue_with(&greet, EnqueueOptions::new().max_attempts(0))
        .await;
    let unserializable = queue.enqueue(&Unserializable).await;
    let empty_kind = NewJob::new("", serde_json::Value::Null, t(0));
    let batch = queue
        .enqueue_many([&greet, &greet], EnqueueOptions::new().max_attempts(0))
        .await;

    let message = |r: Result<_, Error>| r.map(|_: leasehold::Enqueued| ()).unwrap_err().to_string();
    assert_eq!(
        message(empty_queue),
        "invalid job: queue name must not be empty (job kind \"greet\")"
    );
    assert_eq!(
        message(zero_attempts),
        "invalid job: max_attempts must be at least 1 (job kind \"greet\")"
    );
    let unserializable = unserializable.unwrap_err();
    assert!(
        matches!(unserializable, Error::Serialize { ref kind, .. } if kind == "unserializable")
    );
    let source = std::error::Error::source(&unserializable)
        .unwrap()
        .to_string();
    assert!(source.contains("refuses to serialize"), "{source}");
    assert!(matches!(empty_kind, Err(Error::InvalidJob(_))));
    assert!(matches!(batch, Err(Error::InvalidJob(_))));
    assert_eq!(queue.count(&JobFilter::all()).await.unwrap(), 0);
}

#[tokio::test]
async fn enqueue_many_stores_every_job_and_wakes_workers_once() {
    let (queue, _clock) = queue_at_t0();
    let mut woken = queue.subscribe_enqueued();
    let jobs: Vec<Greet> = (0..10)
        .map(|i| Greet {
            name: format!("n{i}"),
        })
        .collect();

    let stored = queue
        .enqueue_many(&jobs, EnqueueOptions::new())
        .await
        .unwrap();

    assert_eq!(stored.len(), 10);
    assert!(woken.has_changed().unwrap());
    woken.borrow_and_update();
    assert_eq!(
        queue.count(&JobFilter::all().kind("greet")).await.unwrap(),
        10
    );
    queue.enqueue(&jobs[0]).await.unwrap();
    assert!(woken.has_changed().unwrap());
}

#[tokio::test]
async fn jobs_are_enqueued_owned_or_borrowed_from_any_iterator() {
    let (queue, _clock) = queue_at_t0();
    let greet = |name: &str| Greet { name: name.into() };
    let jobs = vec![greet("a"), greet("b"), greet("c")];

    queue.enqueue(greet("owned")).await.unwrap();
    queue.enqueue(&jobs[0]).await.unwrap();
    let options = EnqueueOptions::new;
    queue.enqueue_many(&jobs, options()).await.unwrap();
    queue
        .enqueue_many([greet("d"), greet("e")], options())
        .await
        .unwrap();
    let all_but_b = jobs.iter().filter(|job| job.name != "b");
    queue.enqueue_many(all_but_b, options()).await.unwrap();
    queue.enqueue_many(jobs, options()).await.unwrap();

    let names: Vec<String> = queue
        .list(&JobFilter::all())
        .await
        .unwrap()
        .into_iter()
        .map(|job| {
            job.payload.to_value().unwrap()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let want = [
        "owned", "a", "a", "b", "c", "d", "e", "a", "c", "a", "b", "c",
    ];
    assert_eq!(names, want);
}

#[tokio::test]
async fn cancel_and_prune_use_the_queues_clock() {
    let (queue, clock) = queue_at_t0();
    let job = queue
        .enqueue(&Greet { name: "x".into() })
        .await
        .unwrap()
        .job;

    clock.advance(Duration::from_secs(5));
    let cancelled = queue.cancel(job.id).await.unwrap();
    clock.advance(Duration::from_hours(2));
    let kept = queue.prune(Duration::from_hours(3), 100).await.unwrap();
    let pruned = queue.prune(Duration::from_hours(1), 100).await.unwrap();

    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(cancelled.finished_at, Some(t(5)));
    assert_eq!((kept, pruned), (0, 1));
    assert!(queue.get(job.id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_worker_leaves_a_paused_queue_alone_until_it_is_resumed() {
    let (queue, _clock) = queue_at_t0();
    let job = queue.enqueue(Greet { name: "x".into() }).await.unwrap().job;
    let worker = leasehold::worker::Worker::builder(&queue)
        .handler(|_: Greet, _| async {})
        .build()
        .unwrap();

    queue.pause_queue(&job.queue).await.unwrap();
    let report = worker.run_once().await.unwrap();
    assert!(report.claimed.is_empty(), "a paused queue is not claimed");
    let state = queue.get(job.id).await.unwrap().unwrap().state;
    assert_eq!(state, JobState::Available);

    queue.resume_queue(&job.queue).await.unwrap();
    worker.run_once().await.unwrap();
    let state = queue.get(job.id).await.unwrap().unwrap().state;
    assert_eq!(state, JobState::Completed);

    let typo = queue.pause_queue("mial").await;
    assert!(
        matches!(&typo, Err(Error::Store(leasehold::StoreError::QueueNotFound(q))) if q == "mial"),
        "{typo:?}"
    );
}
