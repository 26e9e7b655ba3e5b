//! `leasehold queues`: every queue's jobs by state; pause and resume one.

use leasehold::{Queue, QueueStats};
use serde_json::json;

use crate::args::QueuesCommand;
use crate::error::CliError;
use crate::output::{print_json, print_list, print_text, utc_or_dash};

/// Runs a `queues` subcommand.
///
/// # Errors
///
/// The store's error; exit 3 for a queue no job has used.
pub(super) async fn run(queue: &Queue, command: QueuesCommand, json: bool) -> Result<(), CliError> {
    match command {
        QueuesCommand::List => list(queue, json).await,
        QueuesCommand::Pause { name } => {
            queue.pause_queue(&name).await?;
            report(&name, true, json)
        }
        QueuesCommand::Resume { name } => {
            queue.resume_queue(&name).await?;
            report(&name, false, json)
        }
    }
}

async fn list(queue: &Queue, json: bool) -> Result<(), CliError> {
    let stats = queue.queue_stats().await?;
    print_list(
        json,
        || &stats,
        "no queues\n",
        &[
            "QUEUE",
            "PAUSED",
            "SCHEDULED",
            "AVAILABLE",
            "RUNNING",
            "COMPLETED",
            "FAILED",
            "CANCELLED",
            "OLDEST PENDING",
            "LIMIT",
        ],
        stats.iter().map(row),
    )
}

/// A queue's cells in `queues list`.
fn row(q: &QueueStats) -> Vec<String> {
    vec![
        q.queue.clone(),
        if q.paused { "yes" } else { "no" }.to_owned(),
        q.scheduled.to_string(),
        q.available.to_string(),
        q.running.to_string(),
        q.completed.to_string(),
        q.failed.to_string(),
        q.cancelled.to_string(),
        utc_or_dash(q.oldest_pending_run_at),
        q.limit.map_or("-".to_owned(), |limit| limit.to_string()),
    ]
}

fn report(name: &str, paused: bool, json: bool) -> Result<(), CliError> {
    if json {
        return print_json(&json!({ "queue": name, "paused": paused }));
    }
    let what = if paused { "paused" } else { "resumed" };
    print_text(&format!("{what} queue {name:?}\n"))
}
