//! A job's span continues the trace that enqueued it: spans go through
//! tracing-opentelemetry to an SDK tracer that exports them to memory.

use std::sync::Arc;

use leasehold::otel::TraceContext;
use leasehold::worker::{JobContext, Worker};
use leasehold::{EnqueueOptions, Job, JobState, Queue};
use leasehold_memory::MemoryStore;
use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Serialize, Deserialize)]
struct Work;
impl Job for Work {
    const KIND: &'static str = "work";
}

/// Does its work in a span of its own.
async fn work(_: Work, _: JobContext) {
    tracing::info_span!("work").in_scope(|| {});
}

/// This thread's spans, exported to memory until the guard drops. The tests run on a
/// current-thread runtime, so the worker's tasks report to this subscriber too.
struct Traces {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    _subscriber: DefaultGuard,
}

impl Traces {
    fn install() -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("otel-test"));
        let subscriber = tracing_subscriber::registry().with(otel);
        Self {
            exporter,
            provider,
            _subscriber: tracing::subscriber::set_default(subscriber),
        }
    }

    /// The finished spans, by name; each name must be there once.
    fn finished(&self) -> impl Fn(&str) -> SpanData {
        self.provider.force_flush().unwrap();
        let spans = self.exporter.get_finished_spans().unwrap();
        move |name| {
            let mut named = spans.iter().filter(|span| span.name == name);
            let span = named.next().unwrap_or_else(|| panic!("a span {name}"));
            assert!(named.next().is_none(), "one span {name}");
            span.clone()
        }
    }
}

/// A queue and a worker with the trace continuation on both sides.
fn queue_and_worker() -> (Queue, Worker) {
    let queue = Queue::new(Arc::new(MemoryStore::new())).with_hook(TraceContext);
    let worker = Worker::builder(&queue)
        .tracing_span(false)
        .layer(TraceContext)
        .handler(work)
        .build()
        .unwrap();
    (queue, worker)
}

#[tokio::test]
async fn a_job_span_continues_the_trace_that_enqueued_it() {
    let traces = Traces::install();
    let (queue, worker) = queue_and_worker();

    let id = queue
        .enqueue(Work)
        .instrument(tracing::info_span!("request"))
        .await
        .unwrap()
        .job
        .id;
    worker.run_once().await.unwrap();

    let span = traces.finished();
    let (request, job, work) = (span("request"), span("leasehold.job"), span("work"));
    let trace_id = request.span_context.trace_id();
    assert_eq!(job.span_context.trace_id(), trace_id);
    assert_eq!(job.parent_span_id, request.span_context.span_id());
    assert_eq!(work.span_context.trace_id(), trace_id);
    assert_eq!(work.parent_span_id, job.span_context.span_id());
    let stored = queue.get(id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Completed);
    let traceparent = format!("00-{trace_id}-{}-01", request.span_context.span_id());
    assert_eq!(stored.metadata["otel"]["traceparent"], traceparent.as_str());
}

#[tokio::test]
async fn a_job_enqueued_outside_any_span_starts_a_fresh_trace() {
    let traces = Traces::install();
    let (queue, worker) = queue_and_worker();
    async {}.instrument(tracing::info_span!("request")).await;

    let id = queue.enqueue(Work).await.unwrap().job.id;
    worker.run_once().await.unwrap();

    let span = traces.finished();
    let (request, job, work) = (span("request"), span("leasehold.job"), span("work"));
    assert_eq!(job.parent_span_id, SpanId::INVALID);
    assert_ne!(job.span_context.trace_id(), request.span_context.trace_id());
    assert_eq!(work.span_context.trace_id(), job.span_context.trace_id());
    let stored = queue.get(id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Completed);
    assert!(!stored.metadata.contains_key("otel"));
}

#[tokio::test]
async fn a_job_with_a_malformed_trace_context_runs_in_a_fresh_trace() {
    let traces = Traces::install();
    let (queue, worker) = queue_and_worker();
    let garbled = serde_json::json!({ "otel": { "traceparent": "00-not-a-trace-01" } });

    let id = queue
        .enqueue_with(Work, EnqueueOptions::new().metadata(garbled))
        .await
        .unwrap()
        .job
        .id;
    worker.run_once().await.unwrap();

    let job = traces.finished()("leasehold.job");
    assert_eq!(job.parent_span_id, SpanId::INVALID);
    assert!(job.span_context.is_valid());
    let stored = queue.get(id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Completed);
}
