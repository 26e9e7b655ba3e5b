//! The built-in `leasehold.job` span: each job's layers and handler run inside it
//! unless the builder turns it off. The tests run on a current-thread runtime under
//! a thread-local subscriber, so the worker's tasks report to it.

use std::sync::{Arc, Mutex};

use leasehold::worker::{JobContext, Layer, Next, Outcome, Worker, WorkerBuilder};
use leasehold::{Job, JobRecord, Queue, async_trait};
use leasehold_memory::MemoryStore;
use serde::{Deserialize, Serialize};

/// Where the layer and the handler were: the current span's name at each, in order.
type Seen = Arc<Mutex<Vec<String>>>;

fn current_span(at: &str) -> String {
    let name = tracing::Span::current()
        .metadata()
        .map_or("no span", |metadata| metadata.name());
    format!("{at} in {name}")
}

#[derive(Serialize, Deserialize)]
struct Work;

impl Job for Work {
    const KIND: &'static str = "work";
}

/// Writes the span it runs in before its inner layers and the handler do.
struct Where(Seen);

#[async_trait]
impl Layer for Where {
    async fn call(&self, _job: &JobRecord, next: Next<'_>) -> Outcome {
        self.0.lock().unwrap().push(current_span("layer"));
        next.run().await
    }
}

/// Runs one `Work` job through the worker `configure` builds and returns where its
/// layer (if `configure` adds one) and its handler ran.
async fn run_one(configure: impl FnOnce(WorkerBuilder, Seen) -> WorkerBuilder) -> Vec<String> {
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
    let queue = Queue::new(Arc::new(MemoryStore::new()));
    let seen = Seen::default();
    let builder = Worker::builder(&queue).handler({
        let seen = Arc::clone(&seen);
        move |_: Work, _: JobContext| {
            seen.lock().unwrap().push(current_span("handler"));
            async { Ok(()) }
        }
    });
    let worker = configure(builder, Arc::clone(&seen)).build().unwrap();
    queue.enqueue(&Work).await.unwrap();

    let report = worker.run_once().await.unwrap();

    assert_eq!(report.completed(), 1, "{report:?}");
    seen.lock().unwrap().clone()
}

#[tokio::test]
async fn a_job_runs_in_its_span_by_default() {
    assert_eq!(
        run_one(|builder, _| builder).await,
        ["handler in leasehold.job"]
    );
}

#[tokio::test]
async fn the_span_is_outside_every_layer() {
    let seen = run_one(|builder, seen| builder.layer(Where(seen))).await;

    assert_eq!(seen, ["layer in leasehold.job", "handler in leasehold.job"]);
}

#[tokio::test]
async fn a_worker_without_the_span_runs_its_jobs_in_none() {
    let seen = run_one(|builder, seen| builder.tracing_span(false).layer(Where(seen))).await;
    assert_eq!(seen, ["layer in no span", "handler in no span"]);

    let seen = run_one(|builder, _| builder.tracing_span(false)).await;
    assert_eq!(seen, ["handler in no span"]);
}
