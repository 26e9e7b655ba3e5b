//! [`drain`]: a worker run until nothing is due, on a `ManualClock`.

use super::expect::list;
#[allow(clippy::wildcard_imports)]
use super::*;

/// The most rounds [`drain`] runs before it panics: jobs that keep each other (or
/// themselves) due forever would otherwise never let it end.
pub const DRAIN_ROUND_LIMIT: usize = 10_000;

/// What [`drain`] did: every outcome of every round, in order.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct DrainReport {
    /// The worker's rounds ([`Worker::run_once`]), counting the last, which found
    /// nothing due.
    pub rounds: usize,
    /// How each attempt ended, in the order the rounds ran them.
    pub outcomes: Vec<JobOutcome>,
}

impl DrainReport {
    /// How many outcomes match `pred`.
    pub fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| pred(&o.outcome)).count()
    }

    /// How many attempts completed their job.
    pub fn completed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Completed))
    }

    /// How many attempts failed their job for good.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }

    /// How many attempts failed and scheduled a retry.
    pub fn retried(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Retried { .. }))
    }

    /// How many attempts snoozed.
    pub fn snoozed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Snoozed { .. }))
    }
}

/// Runs `worker` until nothing is due, moving `clock` forward to each scheduled job
/// (a retry, a snooze, a delayed follow-up) when a round found nothing to claim; call
/// it with `.await`.
///
/// `queue` is the queue the worker was built from, and `clock` the [`ManualClock`] it
/// reads. Each round is a [`Worker::run_once`]; when one claims nothing, the clock moves
/// to the earliest `run_at` of the `Scheduled` jobs (of any queue), and draining ends
/// when none is left. The clock only moves forward, and stays where the last job ran.
/// The worker must not be running ([`Worker::run`]) meanwhile.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), leasehold::Error> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use leasehold::retry::RetryPolicy;
/// use leasehold::testing::drain;
/// use leasehold::worker::{JobContext, JobError, Worker};
/// use leasehold::{Clock, Job, ManualClock, Queue};
/// use leasehold_memory::MemoryStore;
/// use serde::{Deserialize, Serialize};
/// use time::macros::datetime;
///
/// #[derive(Serialize, Deserialize)]
/// struct Flaky;
/// impl Job for Flaky { const KIND: &'static str = "flaky"; }
///
/// async fn flaky(_: Flaky, ctx: JobContext) -> Result<(), JobError> {
///     if ctx.attempt() < 3 {
///         return Err(JobError::retryable("not yet"));
///     }
///     Ok(())
/// }
///
/// let start = datetime!(2000-01-01 0:00 UTC);
/// let clock = ManualClock::new(start);
/// let queue = Queue::with_clock(Arc::new(MemoryStore::new()), Arc::new(clock.clone()));
/// let worker = Worker::builder(&queue)
///     .handler(flaky)
///     .retry_policy(RetryPolicy::constant(Duration::from_secs(60)))
///     .build()?;
/// queue.enqueue(Flaky).await?;
///
/// let report = drain(&worker, &queue, &clock).await;
///
/// assert_eq!((report.retried(), report.completed()), (2, 1));
/// assert_eq!(clock.now(), datetime!(2000-01-01 0:02 UTC)); // two retries, 60 s apart
/// # Ok(())
/// # }
/// ```
///
/// # Panics
///
/// When a round fails (the store's error), when `queue` does not read `clock`, and
/// after [`DRAIN_ROUND_LIMIT`] rounds; each message names the caller's line.
#[track_caller]
pub fn drain<'a>(
    worker: &'a Worker,
    queue: &'a Queue,
    clock: &'a ManualClock,
) -> impl Future<Output = DrainReport> + Send + 'a {
    drain_from(worker, queue, clock, None, Location::caller())
}

/// [`drain`], never moving `clock` past `until`: when the next scheduled job is due
/// later, the clock moves to `until` (if it is not there yet), what is due then runs,
/// and draining ends. For jobs that keep scheduling more (a job that re-enqueues
/// itself), which [`drain`] would follow until its round limit.
///
/// # Panics
///
/// As [`drain`].
#[track_caller]
pub fn drain_until<'a>(
    worker: &'a Worker,
    queue: &'a Queue,
    clock: &'a ManualClock,
    until: OffsetDateTime,
) -> impl Future<Output = DrainReport> + Send + 'a {
    drain_from(worker, queue, clock, Some(until), Location::caller())
}

async fn drain_from(
    worker: &Worker,
    queue: &Queue,
    clock: &ManualClock,
    until: Option<OffsetDateTime>,
    caller: &'static Location<'static>,
) -> DrainReport {
    let mut report = DrainReport::default();
    loop {
        if report.rounds == DRAIN_ROUND_LIMIT {
            panic!(
                "drain at {caller}: jobs were still due after {DRAIN_ROUND_LIMIT} rounds \
                 ({} outcomes, the clock at {}): do jobs keep scheduling more? drain_until \
                 stops at a time",
                report.outcomes.len(),
                clock.now()
            );
        }
        report.rounds += 1;
        let round = worker
            .run_once()
            .await
            .unwrap_or_else(|error| panic!("drain at {caller}: a round failed: {error}"));
        let claimed = !round.claimed.is_empty();
        report.outcomes.extend(round.outcomes);
        if claimed {
            continue;
        }
        let scheduled = JobFilter::all().state(JobState::Scheduled);
        let next = list(queue, &scheduled, "drain", caller)
            .await
            .iter()
            .map(|job| job.run_at)
            .min();
        let Some(next) = next else {
            return report;
        };
        let target = until.map_or(next, |until| next.min(until));
        if target <= clock.now() {
            return report; // at `until` already
        }
        clock.set(target);
        if queue.clock().now() != clock.now() {
            panic!(
                "drain at {caller}: the queue does not read the ManualClock given (it reads \
                 {}, the clock {}): pass the clock the queue was built with",
                queue.clock().now(),
                clock.now()
            );
        }
    }
}

/// A pending job like one [`Queue::enqueue_new`] stores: for tests of the kit itself.
#[cfg(test)]
fn stored(kind: &str, now: OffsetDateTime) -> JobRecord {
    let new_job =
        crate::job::NewJob::new(kind, serde_json::json!({}), now).expect("a kind is given");
    JobRecord::from_new(&new_job, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Ping;
    impl Job for Ping {
        const KIND: &'static str = "ping";
    }

    #[test]
    fn an_expected_job_describes_itself_as_asked() {
        let expected = Expected::<Ping>::new().queue("q").priority(-1).tag("a");

        assert_eq!(
            expected.to_string(),
            r#"pending job of kind "ping" in queue "q" with priority -1 tagged ["a"]"#
        );
        assert_eq!(
            Expected::<Ping>::new().any_state().to_string(),
            r#"job of kind "ping""#
        );
    }

    #[test]
    fn a_mismatch_names_the_first_field_that_differs() {
        let job = stored("ping", datetime!(2000-01-01 0:00 UTC));

        assert_eq!(Expected::<Ping>::new().mismatch(&job), None);
        assert_eq!(
            Expected::<Ping>::new().queue("mail").mismatch(&job),
            Some(r#"queue is "default""#.to_owned())
        );
        assert_eq!(
            Expected::<Ping>::new()
                .state(JobState::Completed)
                .mismatch(&job),
            Some("state is available".to_owned())
        );
    }
}
