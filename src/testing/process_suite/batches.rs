//! Batches across processes: three worker processes race through 200 batches of 50
//! members, and each batch's callback is released, and runs, exactly once, after its
//! last member.

use std::collections::HashMap;
use std::sync::Arc;

use super::{END, ProcessBackend, QUEUE, START, count, create_and_open, run_children};
use crate::testing::conformance::t;
use crate::testing::processes::runs_per_job;
use crate::{
    BATCH_TAG_PREFIX, EnqueueOptions, Job, JobFilter, JobId, JobState, JobStore, ManualClock, Queue,
};

/// Batches in the scenario.
const BATCHES: usize = 200;
/// Members of each batch.
const MEMBERS: usize = 50;

/// A member of a batch.
#[derive(serde::Serialize, serde::Deserialize)]
struct Member {
    batch: usize,
    member: usize,
}

impl Job for Member {
    const KIND: &'static str = "mp";
}

/// A batch's callback.
#[derive(serde::Serialize, serde::Deserialize)]
struct Callback {
    batch: usize,
}

impl Job for Callback {
    const KIND: &'static str = "batch_callback";
}

/// Opens `BATCHES` batches of `MEMBERS` members each on `store` (through the `Queue`,
/// as an application does) and seals each: the callbacks' ids.
async fn batches(store: Arc<dyn JobStore>) -> Vec<JobId> {
    let queue = Queue::with_clock(store, Arc::new(ManualClock::new(t(0))));
    let options = EnqueueOptions::new().queue(QUEUE);
    let mut callbacks = Vec::with_capacity(BATCHES);
    for batch_number in 0..BATCHES {
        let batch = queue.batch();
        let members: Vec<Member> = (0..MEMBERS)
            .map(|member| Member {
                batch: batch_number,
                member,
            })
            .collect();
        batch
            .add_many(&members, options.clone())
            .await
            .expect("the members enqueue");
        let callback = Callback {
            batch: batch_number,
        };
        let sealed = batch
            .seal(&callback, options.clone())
            .await
            .expect("the batch seals");
        assert_eq!(sealed.job.state, JobState::Waiting);
        callbacks.push(batch.id());
    }
    callbacks
}

/// Three worker processes complete 200 batches of 50 members: every job runs exactly
/// once, and each batch's callback starts only after every member's run has ended
/// (as the run log orders them), once: 200 callbacks, none twice.
///
/// # Panics
///
/// When the store breaks the property (that is the test failing).
pub async fn batch_callbacks_in_several_processes_run_once_after_their_members<
    B: ProcessBackend,
>() {
    let Some((db, store)) = create_and_open::<B>().await else {
        return;
    };
    let callbacks = batches(Arc::clone(&store)).await;

    // Each child claims until no job of the queue is waiting or pending: a callback is
    // released by whichever process ends its batch's last member. A `drain` child logs
    // a run's end before it completes the job (as a worker's handler returns before
    // its completion is written), so a member's end precedes, in the log, the start
    // of the callback its completion releases.
    run_children(&db, "drain", 3600).await;

    let log = db.read_log().await;
    let runs = runs_per_job(&log);
    let jobs = BATCHES * (MEMBERS + 1);
    assert_eq!(count(&*store, JobState::Completed, t(0)).await, jobs);
    assert_eq!(runs.len(), jobs, "every member and callback ran");
    assert!(
        runs.values().all(|r| r.len() == 1 && r[0].ended),
        "every job ran exactly once, start to end"
    );
    // Where in the log each job's run ended, and each callback's started.
    let mut ended_at = HashMap::new();
    let mut started_at = HashMap::new();
    for (seq, event) in log.iter().enumerate() {
        match event.event.as_str() {
            END => ended_at.insert(event.job, seq),
            START => started_at.insert(event.job, seq),
            _ => None,
        };
    }
    for callback in &callbacks {
        let tag = format!("{BATCH_TAG_PREFIX}{callback}");
        let members = store
            .list(&JobFilter::all().tag(tag), t(0))
            .await
            .expect("the store lists");
        assert_eq!(members.len(), MEMBERS);
        let last_member_end = members
            .iter()
            .map(|member| ended_at[&member.id])
            .max()
            .expect("members");
        assert!(
            started_at[callback] > last_member_end,
            "callback {callback} started after its last member ended"
        );
    }
    let callback_runs = log
        .iter()
        .filter(|event| event.event == START && callbacks.contains(&event.job))
        .count();
    assert_eq!(callback_runs, BATCHES, "{BATCHES} callbacks, none twice");
}
