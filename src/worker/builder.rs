//! [`WorkerBuilder`]: a worker's store, clock, queues, handlers and timings.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Worker;
use super::context::{Data, IntoJobResult, JobContext, JobError};
use super::layer::{JobHook, Layer};
use super::retention::Retention;

/// The job of type `J` that `record`'s payload holds, read straight from the stored
/// text (no `Value` built on the way), or why it does not deserialize: what a worker's
/// handler of `J` gets, and the test kit's too.
pub(crate) fn decode_job<J: Job>(record: &JobRecord) -> Result<J, String> {
    record.payload.deserialize::<J>().map_err(|error| {
        format!(
            "payload does not deserialize as job kind {:?}: {error}",
            J::KIND
        )
    })
}

/// The default of [`WorkerBuilder::output_limit`]: 1 MiB.
pub const DEFAULT_OUTPUT_LIMIT: usize = 1 << 20;

/// The default of [`WorkerBuilder::claim_ahead`]: at most this many jobs per queue
/// claimed beyond the free slots. Only jobs shorter than 0.2 ms (at one slot) reach
/// it: the buffer holds about 100 ms of work. With 256, a worker of no-op jobs ran
/// its buffer dry while its refill waited behind the completions queued before it:
/// 512 ran 1.07x-1.17x the jobs a second at 8 slots on SQLite and about 1.2x on
/// PostgreSQL; 1,024 ran no faster than 256.
pub const DEFAULT_CLAIM_AHEAD: usize = 512;
use crate::error::Error;
use crate::job::DEFAULT_QUEUE;
use crate::job::{Job, JobRecord};
use crate::queue::Queue;
use crate::retry::RetryPolicy;

/// A running handler, type-erased.
pub(crate) type HandlerFuture = BoxFuture<'static, Result<(), JobError>>;

/// A handler, type-erased: decodes the payload of the context's job (or says why it
/// cannot) and starts.
pub(crate) type ErasedHandler =
    Arc<dyn Fn(JobContext) -> Result<HandlerFuture, String> + Send + Sync>;

/// Per-kind settings that override the worker's defaults.
#[derive(Debug, Clone, Default)]
pub(crate) struct KindSettings {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<RetryPolicy>,
}

/// Everything a built worker needs besides its store and clock; all validated.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) id: String,
    pub(crate) queues: Vec<(String, usize)>,
    pub(crate) lease: Duration,
    pub(crate) heartbeat: Duration,
    pub(crate) margin: Duration,
    pub(crate) poll: Duration,
    pub(crate) max_poll: Duration,
    pub(crate) grace: Duration,
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) kinds: HashMap<String, KindSettings>,
    pub(crate) event_capacity: usize,
    pub(crate) output_limit: usize,
    pub(crate) retention: Retention,
    pub(crate) claim_ahead: usize,
}

impl Settings {
    /// The timeout and the retry policy of `kind`: its own, else the worker's.
    pub(crate) fn of_kind(&self, kind: &str) -> (Option<Duration>, &RetryPolicy) {
        let own = self.kinds.get(kind);
        let timeout = own.and_then(|k| k.timeout).or(self.timeout);
        let retry = own.and_then(|k| k.retry.as_ref()).unwrap_or(&self.retry);
        (timeout, retry)
    }
}

/// What [`WorkerBuilder::build`] hands to [`Worker::from_parts`].
pub(crate) struct Parts {
    pub(crate) queue: Queue,
    pub(crate) settings: Settings,
    pub(crate) handlers: HashMap<String, ErasedHandler>,
    /// The layers added, outermost first, without the built-in span.
    pub(crate) layers: Vec<Arc<dyn Layer>>,
    /// Whether every job runs in the built-in span ([`TracingLayer`](super::TracingLayer)), outside them.
    pub(crate) tracing_span: bool,
    pub(crate) hooks: Vec<Arc<dyn JobHook>>,
    pub(crate) data: Data,
    pub(crate) enqueued: Vec<watch::Receiver<u64>>,
    pub(crate) stop: CancellationToken,
}

/// Configures a [`Worker`]; every setting has a default.
///
/// | setting | default |
/// |---|---|
/// | queues | `"default"` with concurrency 10 |
/// | lease duration | 30 s |
/// | heartbeat interval | a third of the lease |
/// | lease safety margin | a tenth of the lease |
/// | poll interval | 1 s, doubling while idle up to the max poll interval (10 s) |
/// | shutdown grace period | 30 s |
/// | timeout | none (per kind with [`WorkerBuilder::timeout_for`] or [`Job::timeout`]) |
/// | retry policy | [`RetryPolicy::default`] (per kind with [`WorkerBuilder::retry_policy_for`] or [`Job::retry_policy`]) |
/// | layers | [`TracingLayer`](super::TracingLayer) (see [`WorkerBuilder::layer`]) |
/// | hooks | none (see [`WorkerBuilder::hook`]) |
pub struct WorkerBuilder {
    queue: Queue,
    enqueued: Vec<watch::Receiver<u64>>,
    shutdown: Option<CancellationToken>,
    id: Option<String>,
    queues: Vec<(String, usize)>,
    handlers: HashMap<String, ErasedHandler>,
    lease: Duration,
    heartbeat: Option<Duration>,
    margin: Option<Duration>,
    poll: Duration,
    max_poll: Duration,
    grace: Duration,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    kinds: HashMap<String, KindSettings>,
    /// What the job types declare ([`Job::timeout`], [`Job::retry_policy`]); `kinds`
    /// wins over it.
    kind_defaults: HashMap<String, KindSettings>,
    layers: Vec<Arc<dyn Layer>>,
    hooks: Vec<Arc<dyn JobHook>>,
    tracing_span: bool,
    data: Data,
    event_capacity: usize,
    output_limit: usize,
    retention: Retention,
    claim_ahead: usize,
    problems: Vec<String>,
}

impl std::fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("id", &self.id)
            .field("queues", &self.queues)
            .field("kinds", &self.handlers.keys().collect::<Vec<_>>())
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

impl WorkerBuilder {
    /// A builder over `queue`'s store and clock that wakes when `queue` enqueues.
    pub(crate) fn from_queue(queue: &Queue) -> Self {
        Self {
            queue: queue.clone(),
            enqueued: vec![queue.subscribe_enqueued()],
            shutdown: None,
            id: None,
            queues: Vec::new(),
            handlers: HashMap::new(),
            lease: Duration::from_secs(30),
            heartbeat: None,
            margin: None,
            poll: Duration::from_secs(1),
            max_poll: Duration::from_secs(10),
            grace: Duration::from_secs(30),
            timeout: None,
            retry: RetryPolicy::default(),
            kinds: HashMap::new(),
            kind_defaults: HashMap::new(),
            layers: Vec::new(),
            hooks: Vec::new(),
            tracing_span: true,
            data: Data::default(),
            event_capacity: 1024,
            output_limit: DEFAULT_OUTPUT_LIMIT,
            retention: Retention::default(),
            claim_ahead: DEFAULT_CLAIM_AHEAD,
            problems: Vec::new(),
        }
    }

    /// Also wakes the worker whenever `signal` changes: a store's cross-process
    /// signal, say (`PostgresStore::subscribe_enqueued`). The worker still wakes when
    /// its own queue enqueues (see [`Queue::subscribe_enqueued`]), so this process's
    /// enqueues wake it directly, without the round trip through the database.
    pub fn enqueue_signal(mut self, signal: watch::Receiver<u64>) -> Self {
        self.enqueued.push(signal);
        self
    }

    /// Shuts the worker down gracefully when `token` is cancelled.
    pub fn shutdown_on(mut self, token: &CancellationToken) -> Self {
        self.shutdown = Some(token.child_token());
        self
    }

    /// The name the worker claims under (stored as the jobs' `worker`); by default
    /// `worker-<pid>-<random>`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Works `queue` with up to `concurrency` jobs at once. Without any call, the
    /// worker works `"default"` with concurrency 10.
    pub fn queue(mut self, queue: impl Into<String>, concurrency: usize) -> Self {
        self.queues.push((queue.into(), concurrency));
        self
    }

    /// Runs jobs of kind `J::KIND` with `handler`: an `async fn` or a closure returning
    /// a future whose output is `Result<(), JobError>` or `()` ([`IntoJobResult`]).
    ///
    /// A payload that does not deserialize into `J` fails the job at once. The job
    /// type's own timeout and retry policy ([`Job::timeout`], [`Job::retry_policy`])
    /// apply unless [`WorkerBuilder::timeout_for`] or
    /// [`WorkerBuilder::retry_policy_for`] set the kind's.
    ///
    /// A handler reaches shared state (a pool, a client) through
    /// [`JobContext::data`], given with [`WorkerBuilder::data`], and enqueues
    /// follow-up jobs with [`JobContext::queue`].
    pub fn handler<J, F, Fut>(mut self, handler: F) -> Self
    where
        J: Job,
        F: Fn(J, JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: IntoJobResult,
    {
        if self.handlers.contains_key(J::KIND) {
            self.problems.push(format!(
                "two handlers are registered for job kind {:?}",
                J::KIND
            ));
        }
        let handler = Arc::new(handler);
        let erased: ErasedHandler = Arc::new(move |ctx: JobContext| {
            let job = decode_job::<J>(ctx.record())?;
            let handler = Arc::clone(&handler);
            // The handler is called inside the future, so a panic in its synchronous
            // part is caught like one in its body.
            Ok(async move { handler(job, ctx).await.into_job_result() }.boxed())
        });
        self.handlers.insert(J::KIND.to_owned(), erased);
        let declared = KindSettings {
            timeout: J::timeout(),
            retry: J::retry_policy(),
        };
        if declared.timeout.is_some() || declared.retry.is_some() {
            self.kind_defaults.insert(J::KIND.to_owned(), declared);
        }
        self
    }

    /// Gives every job's handler `value`, read with [`JobContext::data`]: a database
    /// pool, an HTTP client, a configuration. One value per type (a second of the
    /// same type replaces the first); wrap two of one type in types of their own.
    pub fn data<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.data.insert(value);
        self
    }

    /// Runs every job through `layer`: middleware that sees the job before its handler
    /// starts and its recorded outcome after (a timer, metrics, a span of your own).
    /// Layers run in the order added, the first outermost, inside the built-in
    /// [`TracingLayer`](super::TracingLayer).
    pub fn layer(mut self, layer: impl Layer) -> Self {
        self.layers.push(Arc::new(layer));
        self
    }

    /// Calls `hook` before and after every job ([`JobHook`]): for code that observes
    /// jobs without wrapping them, such as [`Metrics`](crate::metrics::Metrics), at
    /// less cost than a layer. Hooks run outside the layers, in the order added.
    pub fn hook(mut self, hook: impl JobHook) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// Whether each job runs in the built-in `leasehold.job` tracing span that also
    /// logs its outcome ([`TracingLayer`](super::TracingLayer); default true). Turn it off to put a span
    /// of your own in its place with [`WorkerBuilder::layer`].
    pub fn tracing_span(mut self, on: bool) -> Self {
        self.tracing_span = on;
        self
    }

    /// How long a claim holds a job before another worker may take it; heartbeats
    /// extend it while the job runs (default 30 s).
    pub fn lease_duration(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How often running jobs' leases are extended (default a third of the lease).
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat = Some(interval);
        self
    }

    /// How long before a running job's lease ends the worker stops its handler when
    /// it could not confirm an extension (default a tenth of the lease).
    ///
    /// Each running job has a local deadline: the `lease_until` its last successful
    /// heartbeat (or its claim) confirmed, minus this margin. When the deadline passes
    /// without a newer confirmation (a heartbeat that hangs in a network partition, a
    /// store that errors, a database locked by another process), the worker cancels
    /// the handler and gives the job up, recording nothing, so the handler has
    /// stopped before any other worker may claim the job. The margin absorbs how late
    /// the stop can happen here (timer and scheduling delays) and how far this host's
    /// clock may lag the clocks of the other workers; it must leave room for a
    /// heartbeat (`margin + heartbeat interval < lease`).
    pub fn lease_margin(mut self, margin: Duration) -> Self {
        self.margin = Some(margin);
        self
    }

    /// How often an idle worker looks for work another process enqueued (default 1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// The longest an idle worker's poll interval grows to (default 10 s).
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.max_poll = interval;
        self
    }

    /// How long shutdown lets running jobs finish before it cancels and releases them
    /// (default 30 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Fails an attempt (retryably) that runs longer than `timeout`, for every kind
    /// without its own (default: no timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Fails an attempt of `kind` (retryably) that runs longer than `timeout`.
    pub fn timeout_for(mut self, kind: impl Into<String>, timeout: Duration) -> Self {
        self.kinds.entry(kind.into()).or_default().timeout = Some(timeout);
        self
    }

    /// The retry policy for every kind without its own.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The retry policy for `kind`.
    pub fn retry_policy_for(mut self, kind: impl Into<String>, policy: RetryPolicy) -> Self {
        self.kinds.entry(kind.into()).or_default().retry = Some(policy);
        self
    }

    /// How many events a slow subscriber may lag before it loses the oldest
    /// (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// The largest output, serialized as JSON, a handler may record with
    /// [`JobContext::set_output`](super::JobContext::set_output) (default 1 MiB).
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }

    /// The most jobs per queue the worker claims beyond its free slots (default
    /// [`DEFAULT_CLAIM_AHEAD`]); 0 claims only for free slots.
    ///
    /// Claiming ahead turns many one-row claims into one claim of many rows: a worker
    /// of concurrency 1 claims a buffer's worth at once and starts the next job as
    /// soon as a slot frees, without a store call in between. How many it buffers
    /// follows the work: what the queue's slots get through in 100 ms at the average
    /// run time of its handlers, up to this number, and nothing before a first handler
    /// has ended. So short jobs are claimed by the hundred, while jobs of a second or
    /// more are hardly buffered and stay for other workers to take.
    ///
    /// The buffered jobs are leased, heartbeated and fenced like running ones (a
    /// crashed process holds them no longer than its running jobs: one lease), never
    /// count against the concurrency, are refilled when half are gone, and are given
    /// back at shutdown with their attempt returned. The cost: another worker cannot
    /// take the jobs buffered here, and a job enqueued with a better priority starts
    /// after at most the buffer already claimed (about 100 ms of work).
    pub fn claim_ahead(mut self, jobs: usize) -> Self {
        self.claim_ahead = jobs;
        self
    }

    /// How long finished jobs are kept before the worker's maintenance task deletes
    /// them (default [`Retention::default`]: completed and cancelled jobs for 24 h,
    /// failed ones for 7 days); [`Retention::off`] keeps them all.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The worker.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for: no handler; a queue named twice, with an empty name or
    /// with concurrency 0; a zero lease, heartbeat, poll interval, timeout or event
    /// capacity; a heartbeat interval not shorter than the lease, or that with the
    /// lease margin leaves no room before the lease ends; a max poll interval
    /// shorter than the poll interval; settings for a kind without a handler; an
    /// invalid retry policy.
    pub fn build(self) -> Result<Worker, Error> {
        let mut problems = self.problems;
        if self.handlers.is_empty() {
            problems.push("no job handler is registered".to_owned());
        }
        let queues = if self.queues.is_empty() {
            vec![(DEFAULT_QUEUE.to_owned(), 10)]
        } else {
            self.queues
        };
        for (i, (name, concurrency)) in queues.iter().enumerate() {
            if name.trim().is_empty() {
                problems.push("a queue name must not be empty".to_owned());
            }
            if *concurrency == 0 {
                problems.push(format!("queue {name:?} needs a concurrency of at least 1"));
            }
            if queues[..i].iter().any(|(other, _)| other == name) {
                problems.push(format!("queue {name:?} is configured twice"));
            }
        }
        let heartbeat = self.heartbeat.unwrap_or(self.lease / 3);
        let positive = [
            ("lease duration", Some(self.lease)),
            ("heartbeat interval", Some(heartbeat)),
            ("poll interval", Some(self.poll)),
            ("timeout", self.timeout),
        ];
        for (what, value) in positive {
            if value.is_some_and(|d| d < Duration::from_micros(1)) {
                problems.push(format!("the {what} must be at least 1 microsecond"));
            }
        }
        if heartbeat >= self.lease {
            problems.push(format!(
                "the heartbeat interval ({heartbeat:?}) must be shorter than the lease ({:?})",
                self.lease
            ));
        }
        let margin = self.margin.unwrap_or(self.lease / 10);
        if heartbeat < self.lease && heartbeat + margin >= self.lease {
            problems.push(format!(
                "the heartbeat interval ({heartbeat:?}) plus the lease margin ({margin:?}) \
                 must be shorter than the lease ({:?}): a heartbeat must confirm the lease \
                 before the worker has to stop the job",
                self.lease
            ));
        }
        if self.max_poll < self.poll {
            problems.push(format!(
                "the max poll interval ({:?}) must not be shorter than the poll interval ({:?})",
                self.max_poll, self.poll
            ));
        }
        if let Err(Error::Config(problem)) = self.retention.validate() {
            problems.push(problem);
        }
        if self.event_capacity == 0 {
            problems.push("the event capacity must be at least 1".to_owned());
        }
        if let Err(Error::Config(problem)) = self.retry.validate() {
            problems.push(problem);
        }
        // A kind's own settings from the builder win over its type's, field by field.
        let mut merged = self.kind_defaults;
        for (kind, own) in self.kinds.iter() {
            let entry = merged.entry(kind.clone()).or_default();
            entry.timeout = own.timeout.or(entry.timeout);
            if own.retry.is_some() {
                entry.retry.clone_from(&own.retry);
            }
        }
        let mut kinds: Vec<_> = merged.iter().collect();
        kinds.sort_by(|a, b| a.0.cmp(b.0));
        for (kind, settings) in kinds {
            if !self.handlers.contains_key(kind) {
                problems.push(format!(
                    "settings are given for job kind {kind:?}, which has no handler"
                ));
            }
            if settings
                .timeout
                .is_some_and(|d| d < Duration::from_micros(1))
            {
                problems.push(format!(
                    "the timeout of job kind {kind:?} must be at least 1 microsecond"
                ));
            }
            if let Some(Err(Error::Config(problem))) = settings.retry.as_ref().map(|r| r.validate())
            {
                problems.push(format!("job kind {kind:?}: {problem}"));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Config(format!("worker: {}", problems.join("; "))));
        }
        let id = self
            .id
            .unwrap_or_else(|| format!("worker-{}-{:08x}", std::process::id(), fastrand::u32(..)));
        let settings = Settings {
            id,
            queues,
            lease: self.lease,
            heartbeat,
            margin,
            poll: self.poll,
            max_poll: self.max_poll,
            grace: self.grace,
            timeout: self.timeout,
            retry: self.retry,
            kinds: merged,
            event_capacity: self.event_capacity,
            output_limit: self.output_limit,
            retention: self.retention,
            claim_ahead: self.claim_ahead,
        };
        self.queue.register_kinds(self.handlers.keys().cloned());
        Ok(Worker::from_parts(Parts {
            queue: self.queue,
            settings,
            handlers: self.handlers,
            layers: self.layers,
            tracing_span: self.tracing_span,
            hooks: self.hooks,
            data: self.data,
            enqueued: self.enqueued,
            stop: self.shutdown.unwrap_or_default(),
        }))
    }
}
