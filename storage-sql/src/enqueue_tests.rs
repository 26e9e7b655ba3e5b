//! Typed jobs are built as the queue builds them, and an enqueue of several jobs
//! inserts the keyless ones together and answers every job in order.

use futures::executor::block_on;
use leasehold::testing::conformance::t;
use serde::{Deserialize, Serialize, Serializer};
use std::time::Duration;

use super::*;

#[derive(Serialize, Deserialize)]
struct Ship {
    order: u32,
}

impl Job for Ship {
    const KIND: &'static str = "ship";
}

/// A payload that never serializes.
#[derive(Deserialize)]
struct Broken;

impl Serialize for Broken {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("cannot serialize"))
    }
}

impl Job for Broken {
    const KIND: &'static str = "broken";
}

/// A store whose "transaction" is the list of jobs written to it.
struct Recorder;

impl TransactionalEnqueue for Recorder {
    type Connection = Vec<NewJob>;

    async fn enqueue_many_new_in(
        &self,
        conn: &mut Vec<NewJob>,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        conn.extend(jobs.iter().cloned());
        Ok(jobs
            .into_iter()
            .map(|job| Enqueued::inserted(JobRecord::from_new(&job, now)))
            .collect())
    }
}

#[test]
fn a_typed_job_is_built_with_its_options_as_the_queue_builds_it() {
    let mut tx = Vec::new();
    let options = EnqueueOptions::new()
        .queue("shipping")
        .priority(-1)
        .delay(Duration::from_mins(5))
        .unique_key("order:7");

    let enqueued =
        block_on(Recorder.enqueue_in(&mut tx, &Ship { order: 7 }, options.clone(), t(0))).unwrap();

    let expected = options
        .build("ship", serde_json::json!({"order": 7}), t(0))
        .unwrap();
    assert_eq!(tx.len(), 1);
    assert_eq!(enqueued.job.id, tx[0].id);
    let mut stored = tx[0].clone();
    stored.id = expected.id;
    assert_eq!(stored, expected, "the same job but for its fresh id");
    assert_eq!(tx[0].run_at, t(300));
}

#[test]
fn many_typed_jobs_are_answered_in_order() {
    let mut tx = Vec::new();
    let jobs = [Ship { order: 1 }, Ship { order: 2 }];

    let enqueued =
        block_on(Recorder.enqueue_many_in(&mut tx, &jobs, EnqueueOptions::new(), t(0))).unwrap();

    let orders: Vec<_> = enqueued
        .iter()
        .map(|e| e.job.payload.to_value().unwrap()["order"].clone())
        .collect();
    assert_eq!(orders, [1, 2]);
}

#[test]
fn a_job_that_cannot_be_built_writes_nothing() {
    let mut tx = Vec::new();

    let broken = block_on(Recorder.enqueue_in(&mut tx, &Broken, EnqueueOptions::new(), t(0)));
    let invalid = block_on(Recorder.enqueue_many_in(
        &mut tx,
        &[Ship { order: 1 }],
        EnqueueOptions::new().max_attempts(0),
        t(0),
    ));

    assert!(matches!(broken, Err(Error::Serialize { kind, .. }) if kind == "broken"));
    assert!(matches!(invalid, Err(Error::InvalidJob(_))), "{invalid:?}");
    assert!(tx.is_empty());
}

/// An [`Insert`] that records its statements.
#[derive(Default)]
struct Statements {
    /// Each statement: the ids it inserted.
    ran: Vec<Vec<JobId>>,
    /// Whether the bulk statement finds a duplicate id.
    bulk_fails: bool,
}

impl Insert for Statements {
    fn now(&self) -> OffsetDateTime {
        t(0)
    }

    async fn insert_keyless(&mut self, jobs: &[&NewJob]) -> Result<bool, StoreError> {
        if self.bulk_fails {
            return Ok(false);
        }
        self.ran.push(jobs.iter().map(|job| job.id).collect());
        Ok(true)
    }

    async fn insert_one(&mut self, job: &NewJob) -> Result<Enqueued, StoreError> {
        self.ran.push(vec![job.id]);
        Ok(Enqueued::inserted(JobRecord::from_new(job, t(0))))
    }
}

fn job(key: Option<&str>) -> NewJob {
    let job = NewJob::new("k", serde_json::json!({}), t(0)).unwrap();
    match key {
        Some(key) => job.unique_key(key),
        None => job,
    }
}

#[test]
fn keyless_jobs_go_in_one_statement_and_keyed_ones_one_by_one_in_order() {
    let jobs = [job(None), job(Some("a")), job(None), job(Some("b"))];
    let mut insert = Statements::default();

    let answers = block_on(insert_all(&mut insert, &jobs)).unwrap();

    let ids: Vec<JobId> = jobs.iter().map(|job| job.id).collect();
    assert_eq!(
        insert.ran,
        [vec![ids[0], ids[2]], vec![ids[1]], vec![ids[3]]]
    );
    let answered: Vec<JobId> = answers.iter().map(|a| a.job.id).collect();
    assert_eq!(answered, ids);
}

#[test]
fn a_failed_bulk_statement_falls_back_to_one_by_one_and_one_keyless_job_goes_alone() {
    let jobs = [job(None), job(None)];
    let mut failing = Statements {
        bulk_fails: true,
        ..Statements::default()
    };
    let mut alone = Statements::default();

    block_on(insert_all(&mut failing, &jobs)).unwrap();
    block_on(insert_all(&mut alone, &jobs[..1])).unwrap();

    assert_eq!(failing.ran, [vec![jobs[0].id], vec![jobs[1].id]]);
    assert_eq!(alone.ran, [vec![jobs[0].id]]);
}

#[test]
fn the_parameters_of_enqueue_sql_are_in_its_order() {
    let job = job(Some("k1")).priority(3);

    let params = params(&job, t(1));

    assert_eq!(params[0], Param::Id(Some(job.id)));
    assert_eq!(params[4], Param::SmallInteger(3));
    assert_eq!(params[7], Param::text("k1"));
    assert_eq!(params[8], Param::integer(micros(t(1))));
}

#[test]
fn an_insert_refused_for_its_id_is_a_conflict_naming_the_job() {
    let id = JobId::new(t(0));

    let duplicate = insert_error("dup", id, |e| *e == "dup", StoreError::backend);
    let other = insert_error("disk", id, |e| *e == "dup", StoreError::backend);

    assert!(
        matches!(&duplicate, StoreError::Conflict(m) if *m == format!("job {id} already exists"))
    );
    assert!(matches!(other, StoreError::Backend(_)));
}
