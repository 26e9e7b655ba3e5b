//! [`Expected`] jobs and the assertions that look for them in a queue.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Which jobs [`assert_enqueued`] and [`assert_not_enqueued`] look for: pending ones
/// (`Scheduled` or `Available`) of `J`'s kind, narrowed by each call.
///
/// ```
/// # use leasehold::testing::Expected;
/// # use leasehold::{Job, JobState};
/// # #[derive(serde::Serialize, serde::Deserialize)]
/// # struct SendEmail { to: String }
/// # impl Job for SendEmail { const KIND: &'static str = "send_email"; }
/// let welcome = Expected::new()
///     .matching(|email: &SendEmail| email.to.ends_with("@example.com"))
///     .queue("mail")
///     .priority(-1)
///     .tag("welcome");
/// let sent = Expected::job(SendEmail { to: "ada@example.com".into() })
///     .state(JobState::Completed);
/// # let _ = (welcome, sent);
/// ```
pub struct Expected<J> {
    /// `None`: any state.
    states: Option<Vec<JobState>>,
    queue: Option<String>,
    priority: Option<i16>,
    tags: Vec<String>,
    run_at: Option<OffsetDateTime>,
    max_attempts: Option<u32>,
    unique_key: Option<String>,
    payload: Option<serde_json::Value>,
    predicates: Vec<Predicate<J>>,
}

/// A test of a decoded payload, given to [`Expected::matching`].
type Predicate<J> = Arc<dyn Fn(&J) -> bool + Send + Sync>;

impl<J: Job> Expected<J> {
    /// A pending job of `J`'s kind.
    pub fn new() -> Self {
        Self {
            states: Some(vec![JobState::Scheduled, JobState::Available]),
            queue: None,
            priority: None,
            tags: Vec::new(),
            run_at: None,
            max_attempts: None,
            unique_key: None,
            payload: None,
            predicates: Vec::new(),
        }
    }

    /// A pending job whose payload is `job`'s (owned or borrowed), compared as JSON.
    ///
    /// # Panics
    ///
    /// When `job` does not serialize.
    pub fn job<M>(job: impl AsJob<M, Job = J>) -> Self {
        let payload = serde_json::to_value(job.as_job()).unwrap_or_else(|error| {
            panic!(
                "the expected job of kind {:?} does not serialize: {error}",
                J::KIND
            )
        });
        Self {
            payload: Some(payload),
            ..Self::new()
        }
    }

    /// Whose payload, decoded as `J`, satisfies `predicate` (and those given before).
    pub fn matching(mut self, predicate: impl Fn(&J) -> bool + Send + Sync + 'static) -> Self {
        self.predicates.push(Arc::new(predicate));
        self
    }

    /// In `state` instead of pending.
    pub fn state(mut self, state: JobState) -> Self {
        self.states = Some(vec![state]);
        self
    }

    /// In any state: run, finished or pending.
    pub fn any_state(mut self) -> Self {
        self.states = None;
        self
    }

    /// In `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// With `priority`.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Tagged `tag` (and the tags given before), among others.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Due at `run_at` (truncated to microseconds, as stored).
    pub fn run_at(mut self, run_at: OffsetDateTime) -> Self {
        self.run_at = Some(crate::clock::truncate_to_micros(run_at));
        self
    }

    /// Allowed `max_attempts` attempts.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = Some(max_attempts);
        self
    }

    /// Holding the unique key `key`.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Why `job` (of `J`'s kind) is not what is expected; `None` when it is.
    pub(super) fn mismatch(&self, job: &JobRecord) -> Option<String> {
        if let Some(states) = &self.states
            && !states.contains(&job.state)
        {
            return Some(format!("state is {}", job.state));
        }
        if let Some(queue) = &self.queue
            && *queue != job.queue
        {
            return Some(format!("queue is {:?}", job.queue));
        }
        if let Some(priority) = self.priority
            && priority != job.priority
        {
            return Some(format!("priority is {}", job.priority));
        }
        if let Some(tag) = self.tags.iter().find(|tag| !job.tags.contains(tag)) {
            return Some(format!("tag {tag:?} is missing"));
        }
        if let Some(run_at) = self.run_at
            && run_at != job.run_at
        {
            return Some(format!("run_at is {}", job.run_at));
        }
        if let Some(max_attempts) = self.max_attempts
            && max_attempts != job.max_attempts
        {
            return Some(format!("max_attempts is {}", job.max_attempts));
        }
        if let Some(key) = &self.unique_key
            && Some(key) != job.unique_key.as_ref()
        {
            return Some(format!("unique key is {:?}", job.unique_key));
        }
        if let Some(payload) = &self.payload
            && job.payload != *payload
        {
            return Some(format!("payload is not {payload}"));
        }
        if !self.predicates.is_empty() {
            let decoded = match job.payload.deserialize::<J>() {
                Ok(decoded) => decoded,
                Err(error) => return Some(format!("payload does not deserialize: {error}")),
            };
            if !self.predicates.iter().all(|predicate| predicate(&decoded)) {
                return Some("the predicate is false".to_owned());
            }
        }
        None
    }
}

impl<J: Job> Default for Expected<J> {
    fn default() -> Self {
        Self::new()
    }
}

impl<J> Clone for Expected<J> {
    fn clone(&self) -> Self {
        Self {
            states: self.states.clone(),
            queue: self.queue.clone(),
            priority: self.priority,
            tags: self.tags.clone(),
            run_at: self.run_at,
            max_attempts: self.max_attempts,
            unique_key: self.unique_key.clone(),
            payload: self.payload.clone(),
            predicates: self.predicates.clone(),
        }
    }
}

impl<J: Job> fmt::Display for Expected<J> {
    /// The job described without its article: `pending job of kind "send_email" in
    /// queue "mail"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.states.as_deref() {
            None => {}
            Some([JobState::Scheduled, JobState::Available]) => f.write_str("pending ")?,
            Some(states) => {
                let names: Vec<_> = states.iter().map(|s| s.as_str()).collect();
                write!(f, "{} ", names.join(" or "))?;
            }
        }
        write!(f, "job of kind {:?}", J::KIND)?;
        let mut parts = Vec::new();
        if let Some(queue) = &self.queue {
            parts.push(format!("in queue {queue:?}"));
        }
        if let Some(priority) = self.priority {
            parts.push(format!("with priority {priority}"));
        }
        if !self.tags.is_empty() {
            parts.push(format!("tagged {:?}", self.tags));
        }
        if let Some(run_at) = self.run_at {
            parts.push(format!("due at {run_at}"));
        }
        if let Some(max_attempts) = self.max_attempts {
            parts.push(format!("allowed {max_attempts} attempts"));
        }
        if let Some(key) = &self.unique_key {
            parts.push(format!("holding unique key {key:?}"));
        }
        if let Some(payload) = &self.payload {
            parts.push(format!("with payload {payload}"));
        }
        if !self.predicates.is_empty() {
            parts.push("whose payload satisfies the predicate".to_owned());
        }
        for part in parts {
            write!(f, " {part}")?;
        }
        Ok(())
    }
}

impl<J: Job> fmt::Debug for Expected<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expected({self})")
    }
}

/// Asserts that `queue` holds at least one job as `expected` says; returns every such
/// job, ordered by id. Call it with `.await`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), leasehold::Error> {
/// use std::sync::Arc;
/// use leasehold::testing::{Expected, assert_enqueued, assert_not_enqueued};
/// use leasehold::{EnqueueOptions, Job, Queue};
/// use leasehold_memory::MemoryStore;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct SendEmail { to: String }
/// impl Job for SendEmail { const KIND: &'static str = "send_email"; }
///
/// let queue = Queue::new(Arc::new(MemoryStore::new()));
/// let email = SendEmail { to: "ada@example.com".into() };
/// queue.enqueue_with(&email, EnqueueOptions::new().queue("mail")).await?;
///
/// let jobs = assert_enqueued(
///     &queue,
///     Expected::new().queue("mail").matching(|e: &SendEmail| e.to.starts_with("ada")),
/// )
/// .await;
/// assert_eq!(jobs.len(), 1);
/// assert_not_enqueued(&queue, Expected::<SendEmail>::new().queue("default")).await;
/// # Ok(())
/// # }
/// ```
///
/// # Panics
///
/// When no job is as expected, with a message that names the caller's line and lists
/// the jobs of that kind (else every job) with why each does not match; when the store
/// fails to list.
#[track_caller]
pub fn assert_enqueued<J: Job>(
    queue: &Queue,
    expected: Expected<J>,
) -> impl Future<Output = Vec<JobRecord>> + Send + '_ {
    // `#[track_caller]` has no effect on an `async fn`: the caller's line is read here,
    // before the future is made, and named in the message.
    let caller = Location::caller();
    async move {
        let jobs = list(
            queue,
            &JobFilter::all().kind(J::KIND),
            "assert_enqueued",
            caller,
        )
        .await;
        let found: Vec<_> = jobs
            .iter()
            .filter(|job| expected.mismatch(job).is_none())
            .cloned()
            .collect();
        if found.is_empty() {
            let mut message =
                format!("assert_enqueued at {caller}: expected a {expected}, found none; ");
            if jobs.is_empty() {
                let all = list(queue, &JobFilter::all(), "assert_enqueued", caller).await;
                if all.is_empty() {
                    message.push_str("the store holds no job");
                } else {
                    let _ = write!(message, "no job of that kind, but {}:", all.len());
                    describe_jobs(&mut message, &all, |_| None);
                }
            } else {
                let _ = write!(message, "the jobs of that kind ({}):", jobs.len());
                describe_jobs(&mut message, &jobs, |job| expected.mismatch(job));
            }
            panic!("{message}");
        }
        found
    }
}

/// Asserts that `queue` holds no job as `expected` says (see [`assert_enqueued`]).
/// Call it with `.await`.
///
/// # Panics
///
/// When a job is as expected, with a message that names the caller's line and lists
/// those jobs; when the store fails to list.
#[track_caller]
pub fn assert_not_enqueued<J: Job>(
    queue: &Queue,
    expected: Expected<J>,
) -> impl Future<Output = ()> + Send + '_ {
    let caller = Location::caller();
    async move {
        let filter = JobFilter::all().kind(J::KIND);
        let jobs = list(queue, &filter, "assert_not_enqueued", caller).await;
        let found: Vec<_> = jobs
            .into_iter()
            .filter(|job| expected.mismatch(job).is_none())
            .collect();
        if !found.is_empty() {
            let mut message = format!(
                "assert_not_enqueued at {caller}: expected no {expected}, found {}:",
                found.len()
            );
            describe_jobs(&mut message, &found, |_| None);
            panic!("{message}");
        }
    }
}

/// The jobs `filter` selects, or a panic naming `assertion` and its caller.
pub(super) async fn list(
    queue: &Queue,
    filter: &JobFilter,
    assertion: &str,
    caller: &Location<'_>,
) -> Vec<JobRecord> {
    queue.list(filter).await.unwrap_or_else(|error| {
        panic!("{assertion} at {caller}: the store failed to list the jobs: {error}")
    })
}

/// The most jobs a failed assertion lists.
const LISTED: usize = 50;

/// The most characters of a payload a failed assertion shows.
const PAYLOAD_SHOWN: usize = 200;

/// Appends one line per job of `jobs` (up to [`LISTED`]), each with why it does not
/// match when `why` says.
fn describe_jobs(out: &mut String, jobs: &[JobRecord], why: impl Fn(&JobRecord) -> Option<String>) {
    for job in jobs.iter().take(LISTED) {
        let mut payload = job.payload.to_string();
        if let Some((cut, _)) = payload.char_indices().nth(PAYLOAD_SHOWN) {
            payload.truncate(cut);
            payload.push_str("...");
        }
        let _ = write!(
            out,
            "\n  - {} {:?}, {}, queue {:?}, priority {}, attempt {}/{}, run_at {}, tags {:?}, payload {payload}",
            job.id,
            job.kind,
            job.state,
            job.queue,
            job.priority,
            job.attempt,
            job.max_attempts,
            job.run_at,
            job.tags,
        );
        if let Some(reason) = why(job) {
            let _ = write!(out, ": {reason}");
        }
    }
    if jobs.len() > LISTED {
        let _ = write!(out, "\n  ... and {} more", jobs.len() - LISTED);
    }
}
