//! [`EnqueueOptions`]: how to enqueue a job (queue, priority, run time or delay,
//! attempts, unique key, tags, metadata, limit key, dependencies), and how they become
//! a [`NewJob`].

use std::time::Duration;

use time::OffsetDateTime;

use crate::dependency::DependencyFailure;
use crate::error::Error;
use crate::job::{Job, JobId, JobState, NewJob};

/// How to enqueue a job; every field has a default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnqueueOptions {
    /// The queue (default `"default"`).
    pub queue: Option<String>,
    /// Lower runs first (default 0).
    pub priority: Option<i16>,
    /// Not before this time (default: now). Wins over `delay`.
    pub run_at: Option<OffsetDateTime>,
    /// Not before now plus this (default: none).
    pub delay: Option<Duration>,
    /// Attempts before the job ends `Failed` (default 20).
    pub max_attempts: Option<u32>,
    /// Dedupes among non-terminal jobs.
    pub unique_key: Option<String>,
    /// With a unique key: how long it stays held after its holder finished, and in
    /// which terminal states (see [`NewJob::unique_for`]).
    pub unique_for: Option<(Duration, Vec<JobState>)>,
    /// Labels to find the job by.
    pub tags: Vec<String>,
    /// Free-form data kept with the job (a JSON object).
    pub metadata: Option<serde_json::Value>,
    /// The flow-control key whose stored [`Limit`](crate::Limit) holds the job back.
    pub limit_key: Option<String>,
    /// The jobs it waits for ([`EnqueueOptions::depends_on`]).
    pub depends_on: Vec<JobId>,
    /// What happens to it when a dependency fails or is cancelled (default: cancel it).
    pub on_dependency_failure: Option<DependencyFailure>,
}

impl EnqueueOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// In `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// With `priority`; lower runs first.
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Not before `run_at`.
    pub fn run_at(mut self, run_at: OffsetDateTime) -> Self {
        self.run_at = Some(run_at);
        self
    }

    /// Not before now plus `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// At most `max_attempts` attempts.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = Some(max_attempts);
        self
    }

    /// Deduplicated by `key` among non-terminal jobs.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// With a unique key, also blocks while a job holding it ended `Completed` less
    /// than `period` ago: at most one such job per period ("one digest per user per
    /// hour"). [`EnqueueOptions::unique_for_states`] picks other terminal states.
    ///
    /// The finished holder is what blocks, so a period only holds while that job is
    /// kept: retention (24 hours for completed jobs by default) or `prune` deleting it
    /// ends the period early. Keep finished jobs at least as long as the longest
    /// period ([`Retention::keep`](crate::worker::Retention::keep)).
    pub fn unique_for(self, period: Duration) -> Self {
        self.unique_for_states(period, &[JobState::Completed])
    }

    /// As [`EnqueueOptions::unique_for`], blocking while a holder ended in one of
    /// `states` (terminal states) less than `period` ago.
    pub fn unique_for_states(mut self, period: Duration, states: &[JobState]) -> Self {
        self.unique_for = Some((period, states.to_vec()));
        self
    }

    /// Labels the job with `tags` (added to those set before); a
    /// [`JobFilter::tag`](crate::JobFilter::tag) finds it.
    pub fn tags<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Keeps `metadata`, a JSON object, with the job.
    pub fn metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Under the flow-control key `key` (`partner:acme`, `tenant:42`): a
    /// [`Limit`](crate::Limit) stored for it with [`Queue::set_limit`](crate::Queue::set_limit) bounds how many
    /// of its jobs run at once and start per period, across every worker.
    pub fn limit_key(mut self, key: impl Into<String>) -> Self {
        self.limit_key = Some(key.into());
        self
    }

    /// Waits for the jobs `ids` (added to those set before): it is
    /// [`Waiting`](JobState::Waiting), never claimed, until every one has completed,
    /// then due at once (at its run time, if that is later). The ids are of stored
    /// jobs, or of jobs enqueued in the same call
    /// ([`Queue::new_job`](crate::Queue::new_job) builds a job with its id first).
    ///
    /// A store that predates dependencies refuses such a job
    /// ([`StoreError::Unsupported`](crate::StoreError::Unsupported)) rather than run
    /// it early.
    pub fn depends_on(mut self, ids: impl IntoIterator<Item = JobId>) -> Self {
        self.depends_on.extend(ids);
        self
    }

    /// What happens to the job when one of its dependencies ends `Failed` or
    /// `Cancelled`: [`DependencyFailure::Cancel`] (the default) cancels it,
    /// [`DependencyFailure::Fail`] fails it, [`DependencyFailure::Ignore`] runs it
    /// anyway once every dependency has ended.
    pub fn on_dependency_failure(mut self, policy: DependencyFailure) -> Self {
        self.on_dependency_failure = Some(policy);
        self
    }

    /// The validated job for `kind` and `payload`, as of `now`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJob`] for an empty kind, queue, tag or limit key, zero `max_attempts`,
    /// metadata that is not a JSON object, or a unique period that is zero, names a
    /// state that is not terminal or comes without a unique key;
    /// [`Error::Config`] for a `delay` that ends past the last time `time` can represent.
    pub fn build(
        &self,
        kind: &str,
        payload: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<NewJob, Error> {
        let mut job = NewJob::new(kind, payload, now)?;
        if let Some(queue) = &self.queue {
            job = job.queue(queue.clone())?;
        }
        if let Some(priority) = self.priority {
            job = job.priority(priority);
        }
        if let Some(run_at) = self.run_at {
            job = job.run_at(run_at);
        } else if let Some(delay) = self.delay {
            let run_at = time::Duration::try_from(delay)
                .ok()
                .and_then(|delay| now.checked_add(delay))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "enqueue delay {delay:?} ends past the last representable time"
                    ))
                })?;
            job = job.run_at(run_at);
        }
        if let Some(max_attempts) = self.max_attempts {
            job = job.max_attempts(max_attempts)?;
        }
        if let Some(key) = &self.unique_key {
            job = job.unique_key(key.clone());
        }
        if let Some((period, states)) = &self.unique_for {
            if self.unique_key.is_none() {
                return Err(Error::InvalidJob(format!(
                    "a unique period needs a unique key (job kind {kind:?})"
                )));
            }
            job = job.unique_for(*period, states)?;
        }
        job = job.tags(self.tags.iter().cloned())?;
        if let Some(metadata) = &self.metadata {
            job = job.metadata(metadata.clone())?;
        }
        if let Some(key) = &self.limit_key {
            job = job.limit_key(key.clone())?;
        }
        job = job.depends_on(self.depends_on.iter().copied());
        if let Some(policy) = self.on_dependency_failure {
            job = job.on_dependency_failure(policy);
        }
        Ok(job)
    }

    /// [`EnqueueOptions::build`] for a typed job: its kind and its payload as JSON,
    /// these options over the job's own ([`Job::enqueue_options`]). What every typed
    /// enqueue builds, a SQL store's transactional `enqueue_in` included.
    ///
    /// # Errors
    ///
    /// [`Error::Serialize`] for a payload that does not serialize; otherwise as
    /// [`EnqueueOptions::build`].
    pub fn build_job<J: Job>(&self, job: &J, now: OffsetDateTime) -> Result<NewJob, Error> {
        let payload = serde_json::to_value(job).map_err(|source| Error::Serialize {
            kind: J::KIND.to_owned(),
            source,
        })?;
        self.over(job.enqueue_options())
            .build(J::KIND, payload, now)
    }

    /// These options over `defaults`: a field set here wins, tags and dependencies add
    /// up, metadata objects merge key by key (this one's keys winning).
    fn over(&self, defaults: EnqueueOptions) -> EnqueueOptions {
        let mut tags = defaults.tags;
        tags.extend(self.tags.iter().cloned());
        let mut depends_on = defaults.depends_on;
        depends_on.extend(self.depends_on.iter().copied());
        let metadata = match (defaults.metadata, &self.metadata) {
            (Some(serde_json::Value::Object(mut base)), Some(serde_json::Value::Object(own))) => {
                base.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
                Some(serde_json::Value::Object(base))
            }
            (base, own) => own.clone().or(base),
        };
        // When the call says when, the job type's run time and delay both give way.
        let (run_at, delay) = if self.run_at.is_some() || self.delay.is_some() {
            (self.run_at, self.delay)
        } else {
            (defaults.run_at, defaults.delay)
        };
        EnqueueOptions {
            queue: self.queue.clone().or(defaults.queue),
            priority: self.priority.or(defaults.priority),
            run_at,
            delay,
            max_attempts: self.max_attempts.or(defaults.max_attempts),
            unique_key: self.unique_key.clone().or(defaults.unique_key),
            unique_for: self.unique_for.clone().or(defaults.unique_for),
            tags,
            metadata,
            limit_key: self.limit_key.clone().or(defaults.limit_key),
            depends_on,
            on_dependency_failure: self
                .on_dependency_failure
                .or(defaults.on_dependency_failure),
        }
    }
}
