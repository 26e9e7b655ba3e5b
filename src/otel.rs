//! OpenTelemetry trace continuation (feature `opentelemetry`): a job's span continues
//! the trace of the code that enqueued it, when the application reports its `tracing`
//! spans to OpenTelemetry through `tracing-opentelemetry`.
//!
//! - [`TraceContext`] is an [`EnqueueHook`]: it stores the W3C trace context of the
//!   span current at the enqueue in each job's metadata, under the key `"otel"`, as
//!   `{"traceparent": "00-...", "tracestate": "..."}`. Outside any span (or with no
//!   OpenTelemetry layer installed) it stores nothing.
//! - [`TraceContext`] is also a worker [`Layer`] that takes the place of the built-in
//!   [`TracingLayer`]: it makes the job's `leasehold.job` span (the same fields, and
//!   the same outcome events inside it) with the stored context as its OpenTelemetry
//!   parent. So the enqueuing span is the parent of `leasehold.job`, and the
//!   handler's spans are children of `leasehold.job`, all in one trace. A job without
//!   a stored context gets a span in the worker's current span, as `TracingLayer`
//!   would make it, so a job enqueued outside any span starts a fresh trace.
//!
//! Why it replaces `TracingLayer` rather than nesting in it: `tracing-opentelemetry`
//! starts a span's OpenTelemetry counterpart when the span is first entered, and from
//! then on its parent is fixed. `TracingLayer` is the outermost layer and has entered
//! its span before any other layer runs, so only a layer that makes the job's span
//! itself can give that span a parent. Build the worker with
//! [`tracing_span(false)`](crate::worker::WorkerBuilder::tracing_span) and
//! `.layer(TraceContext)`; with the built-in span left on, each job gets two
//! `leasehold.job` spans, the built-in one alone in a trace of its own.
//!
//! The context is written and read in the W3C format whatever propagator the
//! application installed globally: the process that runs the job must read what the
//! enqueuing one wrote. Sampling follows the stored `traceparent` flags, as it would
//! across an HTTP call.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), leasehold::Error> {
//! use std::sync::Arc;
//!
//! use leasehold::otel::TraceContext;
//! use leasehold::worker::{JobContext, Worker};
//! use leasehold::{Job, Queue};
//! use leasehold_memory::MemoryStore;
//! use tracing::Instrument;
//! # #[derive(serde::Serialize, serde::Deserialize)]
//! # struct Ping;
//! # impl Job for Ping { const KIND: &'static str = "ping"; }
//!
//! // (Install a subscriber with a tracing-opentelemetry layer first.)
//! let queue = Queue::new(Arc::new(MemoryStore::new())).with_hook(TraceContext);
//! let worker = Worker::builder(&queue)
//!     .tracing_span(false) // TraceContext makes the job's span in its place
//!     .layer(TraceContext)
//!     .handler(|_: Ping, _: JobContext| async {})
//!     .build()?;
//!
//! // The job carries the trace of `request`...
//! queue.enqueue(Ping).instrument(tracing::info_span!("request")).await?;
//! // ...and its `leasehold.job` span continues it.
//! worker.run_once().await?;
//! # Ok(())
//! # }
//! ```

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use serde_json::{Map, Value};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::error::Error;
use crate::job::{JobRecord, NewJob};
use crate::queue::EnqueueHook;
#[cfg(doc)]
use crate::worker::TracingLayer;
use crate::worker::{Layer, Next, Outcome};

/// The metadata key of the stored trace context.
const KEY: &str = "otel";

/// Carries the trace of an enqueue into the job's span: add it to a queue with
/// [`Queue::with_hook`](crate::Queue::with_hook) and, in place of the built-in span,
/// to a worker with `.tracing_span(false).layer(TraceContext)` (see the [module
/// docs](self)).
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContext;

impl EnqueueHook for TraceContext {
    fn before(&self, jobs: &mut [NewJob]) -> Result<(), Error> {
        let context = tracing::Span::current().context();
        if !context.span().span_context().is_valid() {
            return Ok(());
        }
        let mut fields = Map::new();
        TraceContextPropagator::new().inject_context(&context, &mut Carrier(&mut fields));
        for job in jobs {
            job.metadata
                .insert(KEY.to_owned(), Value::Object(fields.clone()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Layer for TraceContext {
    async fn call(&self, job: &JobRecord, next: Next<'_>) -> Outcome {
        let span = super::worker::job_span(job);
        if let Some(parent) = stored_context(job) {
            // The span is new, so it cannot have started yet: this fails only when no
            // OpenTelemetry layer sees the span (none installed, or the span filtered
            // out), and then there is no trace to continue.
            let _ = span.set_parent(parent);
        }
        super::worker::logged_in(span, next.run()).await
    }
}

/// The valid trace context stored in `job`'s metadata, if any.
fn stored_context(job: &JobRecord) -> Option<opentelemetry::Context> {
    let Some(Value::Object(fields)) = job.metadata.get(KEY) else {
        return None;
    };
    // Extracted over an empty context, not the current one: a missing or malformed
    // `traceparent` must leave the job's span where `TracingLayer` would put it.
    let context = TraceContextPropagator::new()
        .extract_with_context(&opentelemetry::Context::new(), &Fields(fields));
    context.span().span_context().is_valid().then_some(context)
}

/// The stored fields, written by a propagator.
struct Carrier<'a>(&'a mut Map<String, Value>);

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), Value::String(value));
    }
}

/// The stored fields, read by a propagator; a field that is not a string is absent.
struct Fields<'a>(&'a Map<String, Value>);

impl Extractor for Fields<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}
