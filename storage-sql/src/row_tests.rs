//! Rows of plain values read back as the records they hold, and corrupt values named.

use std::collections::HashMap;
use std::time::Duration;

use leasehold::schedule::{MissedRunPolicy, ScheduleSpec};
use leasehold::testing::conformance::t;

use super::*;

/// A row as a map of columns; text columns hold `Some` text, integer ones `Some` numbers.
#[derive(Default)]
struct Row {
    id: Option<JobId>,
    integers: HashMap<&'static str, Option<i64>>,
    texts: HashMap<&'static str, Option<String>>,
}

impl Columns for Row {
    fn job_id(&self) -> Result<JobId, StoreError> {
        self.id.ok_or_else(|| StoreError::backend("no id column"))
    }

    fn integer(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.integers
            .get(column)
            .copied()
            .ok_or_else(|| StoreError::backend(format!("no integer column {column}")))
    }

    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.texts
            .get(column)
            .cloned()
            .ok_or_else(|| StoreError::backend(format!("no text column {column}")))
    }
}

fn job_row(id: JobId) -> Row {
    let mut row = Row {
        id: Some(id),
        ..Row::default()
    };
    for (column, value) in [
        ("priority", Some(-3)),
        ("run_at", Some(micros(t(60)))),
        ("attempt", Some(1)),
        ("max_attempts", Some(5)),
        ("lease_token", Some(2)),
        ("lease_until", Some(micros(t(90)))),
        ("created_at", Some(micros(t(0)))),
        ("finished_at", None),
        ("first_attempted_at", Some(micros(t(30)))),
        ("attempted_at", Some(micros(t(60)))),
    ] {
        row.integers.insert(column, value);
    }
    for (column, value) in [
        ("kind", Some("k")),
        ("queue", Some("q")),
        ("payload", Some(r#"{"n":1}"#)),
        ("state", Some("running")),
        ("worker", Some("w")),
        ("unique_key", None),
        ("last_error", Some("boom")),
        (
            "errors",
            Some(r#"[{"attempt":1,"at":946684840000000,"error":"boom"}]"#),
        ),
        ("output", None),
        ("tags", Some(r#"["a","b"]"#)),
        ("metadata", Some(r#"{"tenant":42}"#)),
        ("limit_key", Some("partner:acme")),
        (
            "depends_on",
            Some(r#"["0189c2b4-0000-7000-8000-000000000001"]"#),
        ),
        ("on_dependency_failure", Some("ignore")),
    ] {
        row.texts.insert(column, value.map(str::to_owned));
    }
    row
}

#[test]
fn a_jobs_row_reads_back_as_its_record() {
    let id = JobId::new(t(0));
    let row = job_row(id);

    let record = job_record(&row, t(70)).unwrap();

    assert_eq!(record.id, id);
    assert_eq!((record.kind.as_str(), record.queue.as_str()), ("k", "q"));
    assert_eq!(record.payload, serde_json::json!({"n": 1}));
    assert_eq!(record.priority, -3);
    assert_eq!(record.state, JobState::Running);
    assert_eq!((record.attempt, record.max_attempts), (1, 5));
    assert_eq!(record.lease_token, 2);
    assert_eq!(record.run_at, t(60));
    assert_eq!(record.lease_until, Some(t(90)));
    assert_eq!(record.worker.as_deref(), Some("w"));
    assert_eq!(record.unique_key, None);
    assert_eq!(record.last_error.as_deref(), Some("boom"));
    assert_eq!((record.created_at, record.finished_at), (t(0), None));
    assert_eq!(record.first_attempted_at, Some(t(30)));
    assert_eq!(record.attempted_at, Some(t(60)));
    assert_eq!(
        record.errors,
        [leasehold::AttemptError::new(1, t(40), "boom")]
    );
    assert_eq!(
        (record.output, record.tags),
        (None, vec!["a".into(), "b".into()])
    );
    assert_eq!(record.metadata["tenant"], serde_json::json!(42));
    assert_eq!(
        record.depends_on,
        ["0189c2b4-0000-7000-8000-000000000001"
            .parse::<JobId>()
            .unwrap()]
    );
    assert_eq!(record.on_dependency_failure, DependencyFailure::Ignore);
}

#[test]
fn a_pending_job_is_scheduled_or_available_by_the_time_given_in_either_dialect() {
    for stored in ["pending", "scheduled", "available"] {
        assert_eq!(state_of(stored, 10, 9).unwrap(), JobState::Scheduled);
        assert_eq!(state_of(stored, 10, 10).unwrap(), JobState::Available);
    }
    assert_eq!(state_of("waiting", 10, 10).unwrap(), JobState::Waiting);
    assert!(state_of("paused", 0, 0).is_err());
}

#[test]
fn a_corrupt_value_names_the_job_and_the_column() {
    let id = JobId::new(t(0));
    let mut row = job_row(id);
    row.integers.insert("attempt", Some(-1));

    let error = job_record(&row, t(0)).unwrap_err();

    let message = error.to_string();
    assert!(message.contains(&format!("job {id}")), "{message}");
    assert!(message.contains("attempt -1 is out of range"), "{message}");
}

#[test]
fn a_priority_beyond_an_i16_and_a_null_column_are_corrupt() {
    let mut row = job_row(JobId::new(t(0)));
    row.integers.insert("priority", Some(70_000));
    let priority = job_record(&row, t(0)).unwrap_err().to_string();
    let mut row = job_row(JobId::new(t(0)));
    row.texts.insert("kind", None);
    let kind = job_record(&row, t(0)).unwrap_err().to_string();

    assert!(
        priority.contains("priority 70000 is out of range"),
        "{priority}"
    );
    assert!(kind.contains("kind is NULL"), "{kind}");
}

#[test]
fn a_schedules_row_reads_back_as_its_record() {
    let spec = ScheduleSpec::interval(Duration::from_secs(5 * 60), t(0)).unwrap();
    let mut row = Row::default();
    for (column, value) in [
        ("priority", Some(1)),
        ("max_attempts", Some(3)),
        ("enabled", Some(0)),
        ("next_fire_at", Some(micros(t(300)))),
        ("last_fired_at", Some(micros(t(200)))),
        ("created_at", Some(micros(t(0)))),
        ("updated_at", Some(micros(t(10)))),
    ] {
        row.integers.insert(column, value);
    }
    for (column, value) in [
        ("name", "nightly".to_owned()),
        ("spec", serde_json::to_string(&spec).unwrap()),
        ("kind", "k".to_owned()),
        ("payload", "{}".to_owned()),
        ("queue", "q".to_owned()),
        (
            "missed",
            serde_json::to_string(&MissedRunPolicy::default()).unwrap(),
        ),
    ] {
        row.texts.insert(column, Some(value));
    }

    let record = schedule_record(&row).unwrap();

    assert_eq!(record.schedule.name, "nightly");
    assert_eq!(record.schedule.spec, spec);
    assert_eq!(record.schedule.priority, 1);
    assert!(!record.enabled);
    assert_eq!(record.next_fire_at, Some(t(300)));
    assert_eq!(record.last_fired_at, Some(t(200)));
    assert_eq!((record.created_at, record.updated_at), (t(0), t(10)));
}
