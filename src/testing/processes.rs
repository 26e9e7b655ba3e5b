//! Helpers for tests that run a store from several OS processes: waiting on child
//! processes, and replaying a run log to check that no job ran twice at once.
//!
//! - [`wait_for_marker`] / [`wait_success`]: drive a child (`tokio::process::Child`)
//!   with a deadline, so a hung child fails the test instead of hanging it.
//! - [`RunEvent`] and [`runs_per_job`]: the runs a log of "start"/"end" events
//!   describes, with overlapping or foreign runs rejected.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// Reads `child`'s stdout (piped) until a line holds `marker`; returns what follows it
/// on that line. Keeps draining the rest, so the child never meets a full or closed
/// pipe.
///
/// # Panics
///
/// When the child exits without printing `marker`, or not within `timeout`.
pub async fn wait_for_marker(child: &mut Child, marker: &str, timeout: Duration) -> String {
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(timeout, async {
        while let Some(line) = lines.next_line().await.expect("the child's stdout reads") {
            // libtest may have printed "test child_process_entry ... " on the same line.
            if let Some((_, rest)) = line.split_once(marker) {
                return rest.trim().to_owned();
            }
        }
        panic!("the child exited before printing {marker}");
    })
    .await
    .expect("the child reports in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    found
}

/// Waits for `child` to exit successfully, draining its stdout if it is piped.
///
/// # Panics
///
/// When the child fails, or does not exit within `timeout`.
pub async fn wait_success(child: &mut Child, timeout: Duration) {
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    }
    let status = tokio::time::timeout(timeout, child.wait())
        .await
        .expect("the child finishes in time")
        .expect("the child can be waited for");
    assert!(status.success(), "the child failed: {status}");
}

/// One logged event of a run of job `job`: `event` is `"start"` or `"end"`, `at` the
/// store time in microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEvent<K> {
    /// The job.
    pub job: K,
    /// The process (or worker) that ran it.
    pub process: String,
    /// `"start"` or `"end"`.
    pub event: String,
    /// When, in microseconds.
    pub at: i64,
}

/// One run of a job: who ran it, whether it ended, and when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The process that ran it.
    pub process: String,
    /// Whether it logged its end.
    pub ended: bool,
    /// When it started, in microseconds.
    pub started: i64,
}

/// Each job's runs, in log order.
///
/// # Panics
///
/// When a process starts a job it has an open run of, when a run ends that did not
/// start in the same process, or ends twice. (Another process may start a job whose
/// open run belongs to a dead process: whether that was after its lease expired is
/// the caller's check.)
pub fn runs_per_job<K: Hash + Eq + Clone>(log: &[RunEvent<K>]) -> HashMap<K, Vec<Run>> {
    let mut runs: HashMap<K, Vec<Run>> = HashMap::new();
    for event in log {
        let job_runs = runs.entry(event.job.clone()).or_default();
        match event.event.as_str() {
            "start" => {
                if let Some(open) = job_runs.last().filter(|run| !run.ended) {
                    assert_ne!(
                        open.process, event.process,
                        "a process restarted its own open run"
                    );
                }
                job_runs.push(Run {
                    process: event.process.clone(),
                    ended: false,
                    started: event.at,
                });
            }
            "end" => {
                let open = job_runs.last_mut().expect("a run ends after it started");
                assert_eq!(
                    open.process, event.process,
                    "a run ended by another process"
                );
                assert!(!open.ended, "a run ended twice");
                open.ended = true;
            }
            other => panic!("unknown event {other}"),
        }
    }
    runs
}
