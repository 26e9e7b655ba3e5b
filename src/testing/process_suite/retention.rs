//! Retention across processes: two processes run it at once over simulated days.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;

use super::child::{CHILD_TIMEOUT, spawn_child};
use super::{ProcessBackend, QUEUE, create_and_open};
use crate::testing::conformance::t;
use crate::testing::processes::{wait_for_marker, wait_success};
use crate::worker::Retention;
use crate::{ClaimRequest, JobFilter, JobId, JobState, JobStore, ManualClock, NewJob, Queue};

/// What a `retain` child prints, followed by how many jobs it deleted.
pub(super) const RETAINED_MARKER: &str = "LEASEHOLD-CHILD-RETAINED";

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// The body of a `retain` child: one retention run as of `now`, as `holder`, printing
/// how many jobs it deleted.
pub(super) async fn retain(store: std::sync::Arc<dyn JobStore>, now: OffsetDateTime, holder: &str) {
    let queue = Queue::with_clock(store, std::sync::Arc::new(ManualClock::new(now)));
    let deleted = Retention::default()
        .batch(7)
        .run_once(&queue, holder, Duration::from_secs(60))
        .await
        .expect("retention runs");
    println!("{RETAINED_MARKER} {deleted}");
}

/// A job of the scenario's queue, enqueued at `t(0)`.
fn job(n: usize) -> NewJob {
    NewJob::new("retained", json!({ "n": n }), t(0))
        .and_then(|job| job.queue(QUEUE))
        .expect("the scenario's jobs are valid")
}

/// Finished jobs: one completed, one failed and one cancelled every 12 hours over 10
/// days, plus a pending and a running job; returns every job with its state and finish
/// time (`None`: not finished).
async fn finished_jobs(store: &dyn JobStore) -> Vec<(JobId, JobState, Option<i64>)> {
    let queues = [QUEUE.to_owned()];
    let far = t(1000 * DAY);
    let mut jobs = Vec::new();
    for k in 0..20 {
        let at = k * 12 * HOUR;
        for state in [JobState::Completed, JobState::Failed, JobState::Cancelled] {
            let new = job(jobs.len()).max_attempts(1).expect("valid");
            let id = store.enqueue(new, t(0)).await.expect("enqueue").job.id;
            if state == JobState::Cancelled {
                store.cancel(id, t(at)).await.expect("cancel");
            } else {
                let claim = ClaimRequest::new("setup", &queues, 1, far);
                let claimed = store.claim(claim, t(0)).await.expect("claim");
                let lease = claimed[0].lease();
                if state == JobState::Completed {
                    store.complete(lease, t(at)).await.expect("complete");
                } else {
                    store.fail(lease, "boom", t(at)).await.expect("fail");
                }
            }
            jobs.push((id, state, Some(at)));
        }
    }
    let running = store.enqueue(job(jobs.len()), t(0)).await.expect("enqueue");
    let claim = ClaimRequest::new("setup", &queues, 1, far);
    assert_eq!(store.claim(claim, t(0)).await.expect("claim").len(), 1);
    jobs.push((running.job.id, JobState::Running, None));
    let pending = store.enqueue(job(jobs.len()), t(0)).await.expect("enqueue");
    jobs.push((pending.job.id, JobState::Available, None));
    jobs
}

/// Which of `jobs` retention's defaults keep at `now` (seconds): completed and
/// cancelled ones that finished less than a day before, failed ones less than 7 days
/// before, and every unfinished one.
fn kept(jobs: &[(JobId, JobState, Option<i64>)], now: i64) -> Vec<JobId> {
    let mut kept: Vec<JobId> = jobs
        .iter()
        .filter(|(_, state, finished)| match (state, finished) {
            (JobState::Failed, Some(at)) => *at >= now - 7 * DAY,
            (_, Some(at)) => *at >= now - DAY,
            (_, None) => true,
        })
        .map(|(id, _, _)| *id)
        .collect();
    kept.sort();
    kept
}

/// Two processes run retention at once, with a `ManualClock` on each simulated day:
/// after each day exactly the jobs past their age are gone (pending and running ones
/// never), and one process did the deleting while the other found the lock held.
///
/// # Panics
///
/// When retention breaks the property (that is the test failing).
pub async fn retention_in_two_processes_deletes_exactly_the_jobs_past_their_age<
    B: ProcessBackend,
>() {
    let Some((db, store)) = create_and_open::<B>().await else {
        return;
    };
    let jobs = finished_jobs(&*store).await;
    let mut left = jobs.len();
    for day in [1, 2, 3, 5, 8, 12, 17] {
        let now = day * DAY + 1;
        let mut children: Vec<_> = (0..2)
            .map(|_| spawn_child(&db, "retain", now, 60, 0))
            .collect();
        let mut deleted = Vec::new();
        for child in &mut children {
            let reported = wait_for_marker(child, RETAINED_MARKER, CHILD_TIMEOUT).await;
            deleted.push(reported.parse::<usize>().expect("a count"));
            wait_success(child, CHILD_TIMEOUT).await;
        }

        let want = kept(&jobs, now);
        let remaining = store
            .list(&JobFilter::all(), t(now))
            .await
            .expect("the store lists");
        let mut ids: Vec<JobId> = remaining.iter().map(|job| job.id).collect();
        ids.sort();
        assert_eq!(
            ids, want,
            "day {day}: exactly the jobs past their age are gone"
        );
        let gone = left - want.len();
        deleted.sort_unstable();
        if gone > 0 {
            assert_eq!(
                deleted,
                [0, gone],
                "day {day}: one process deleted them all"
            );
        }
        left = want.len();
    }
    assert_eq!(left, 2, "the running and the pending job stay");
}
