//! Watching a worker from a test: the events it broadcasts and the lines it logs.
//!
//! - [`record_events`]: every [`WorkerEvent`] a worker broadcasts from now on.
//! - [`CapturedLogs`]: a `tracing` subscriber that keeps each event's level and
//!   message, to assert what was logged and how loudly.
//! - [`error_chain`]: an error's message with its sources, to assert what caused it.
//!
//! ```
//! use leasehold::testing::observe::CapturedLogs;
//! use tracing::Level;
//!
//! let logs = CapturedLogs::at_most(Level::WARN);
//! tracing::subscriber::with_default(logs.clone(), || {
//!     tracing::warn!("claim failed");
//!     tracing::debug!("not kept: below the level");
//! });
//! assert_eq!(logs.levels_of("claim"), [Level::WARN]);
//! assert_eq!(logs.lines().len(), 1);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast::error::RecvError;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::worker::{Worker, WorkerEvent};

/// Every event `worker` broadcasts from now on, gathered by a task on the current
/// Tokio runtime.
///
/// # Panics
///
/// The gathering task panics when it lags behind the worker's event buffer: a count
/// taken from the log would be wrong.
pub fn record_events(worker: &Worker) -> Arc<Mutex<Vec<WorkerEvent>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut events = worker.subscribe();
    let sink = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => sink
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(event),
                Err(RecvError::Lagged(n)) => panic!("the event log lagged by {n}"),
                Err(RecvError::Closed) => return,
            }
        }
    });
    seen
}

/// A `tracing` subscriber that keeps the level and message of every event at or above
/// its level; clones share what was kept, so one goes to `set_default` (or
/// `set_global_default`) and the test reads another.
#[derive(Debug, Clone)]
pub struct CapturedLogs {
    max_level: Level,
    lines: Arc<Mutex<Vec<(Level, String)>>>,
    spans: Arc<AtomicU64>,
}

impl Default for CapturedLogs {
    fn default() -> Self {
        Self::at_most(Level::TRACE)
    }
}

impl CapturedLogs {
    /// Keeps events at `max_level` and above (`Level::WARN` keeps warnings and errors).
    pub fn at_most(max_level: Level) -> Self {
        Self {
            max_level,
            lines: Arc::default(),
            spans: Arc::default(),
        }
    }

    /// Every kept event, in order: its level and message.
    pub fn lines(&self) -> Vec<(Level, String)> {
        self.lock().clone()
    }

    /// The levels of the kept events whose message contains `text`, in order.
    pub fn levels_of(&self, text: &str) -> Vec<Level> {
        self.lock()
            .iter()
            .filter(|(_, message)| message.contains(text))
            .map(|(level, _)| *level)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Level, String)>> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `message` field of an event.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for CapturedLogs {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max_level
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.spans.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        self.lock().push((*event.metadata().level(), message.0));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// `error`'s message followed by each of its sources, outermost first, joined by
/// `": "`: what a test asserts the cause of a failure with.
///
/// ```
/// use leasehold::testing::observe::error_chain;
///
/// let io = std::io::Error::other("disk full");
/// let error = leasehold::StoreError::backend(io);
/// assert!(error_chain(&error).contains("disk full"));
/// ```
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}
