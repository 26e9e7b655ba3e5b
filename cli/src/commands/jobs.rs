//! `leasehold jobs`: list a page, show one, and retry, cancel or delete by id or by
//! filter.

use leasehold::{BatchProgress, JobFilter, JobId, JobRecord, JobState, Queue};
use serde_json::json;

use crate::args::{ActArgs, JobsCommand, ListArgs};
use crate::error::CliError;
use crate::output::{one_line, print_json, print_list, print_text, utc, utc_or_dash};

/// Runs a `jobs` subcommand.
///
/// # Errors
///
/// The store's error; exit 3 for an unknown id, exit 4 for a bulk action without
/// `--yes`.
pub(super) async fn run(queue: &Queue, command: JobsCommand, json: bool) -> Result<(), CliError> {
    match command {
        JobsCommand::List(args) => list(queue, &args, json).await,
        JobsCommand::Show { id } => show(queue, id, json).await,
        JobsCommand::Retry(args) => act(queue, Action::Retry, &args, json).await,
        JobsCommand::Cancel(args) => act(queue, Action::Cancel, &args, json).await,
        JobsCommand::Delete(args) => act(queue, Action::Delete, &args, json).await,
    }
}

async fn list(queue: &Queue, args: &ListArgs, json: bool) -> Result<(), CliError> {
    let mut filter = args.filter.filter().limit(args.limit);
    if !args.oldest_first {
        filter = filter.newest_first();
    }
    if let Some(after) = args.after {
        filter = filter.after(after);
    }
    let jobs = queue.list(&filter).await?;
    // A full page may have a next one; a short page is the last.
    let next_after = jobs
        .last()
        .filter(|_| args.limit > 0 && jobs.len() == args.limit)
        .map(|job| job.id);
    print_list(
        json,
        || json!({ "jobs": jobs, "next_after": next_after }),
        "no jobs\n",
        &[
            "ID",
            "STATE",
            "QUEUE",
            "KIND",
            "ATTEMPT",
            "RUN AT",
            "LAST ERROR",
        ],
        jobs.iter().map(list_row),
    )?;
    // With `--json`, `next_after` says it.
    if let Some(after) = next_after.filter(|_| !json) {
        eprintln!("more: add --after {after}");
    }
    Ok(())
}

/// A job's cells in `jobs list`.
fn list_row(job: &JobRecord) -> Vec<String> {
    vec![
        job.id.to_string(),
        job.state.to_string(),
        job.queue.clone(),
        job.kind.clone(),
        format!("{}/{}", job.attempt, job.max_attempts),
        utc(job.run_at),
        job.last_error
            .as_deref()
            .map_or_else(|| "-".to_owned(), |e| one_line(e, 60)),
    ]
}

async fn show(queue: &Queue, id: JobId, json: bool) -> Result<(), CliError> {
    let job = queue
        .get(id)
        .await?
        .ok_or(leasehold::StoreError::NotFound(id))?;
    if json {
        return print_json(&job);
    }
    let dependencies = states_of(queue, &job.depends_on).await?;
    // A store written before the verb has none to show.
    let dependents = match queue.dependents(id).await {
        Err(leasehold::Error::Store(leasehold::StoreError::Unsupported(_))) => Vec::new(),
        other => other?,
    };
    let shown = &dependents[..dependents.len().min(DEPENDENTS_SHOWN)];
    let batch = queue
        .callback_progress(&job)
        .await?
        .map(|progress| batch_line(&progress, &queue.open_batch(job.id).tag()));
    let related = Related {
        dependencies,
        dependents: states_of(queue, shown).await?,
        more_dependents: dependents.len() - shown.len(),
        batch,
    };
    print_text(&describe(&job, related))
}

/// Each job of `ids` with its state now (`None`: deleted since).
async fn states_of(
    queue: &Queue,
    ids: &[JobId],
) -> Result<Vec<(JobId, Option<JobState>)>, CliError> {
    let mut states = Vec::with_capacity(ids.len());
    for &id in ids {
        states.push((id, queue.get(id).await?.map(|job| job.state)));
    }
    Ok(states)
}

/// The most dependents `jobs show` reads and prints (one store call each).
const DEPENDENTS_SHOWN: usize = 100;

/// The jobs around one that `jobs show` prints: each with its state now (`None`:
/// deleted since).
struct Related {
    dependencies: Vec<(JobId, Option<JobState>)>,
    dependents: Vec<(JobId, Option<JobState>)>,
    /// Dependents past the ones shown.
    more_dependents: usize,
    /// The `batch` line of a batch's callback.
    batch: Option<String>,
}

/// A batch callback's `batch` line: its members by how they ended, and how to list
/// them.
fn batch_line(progress: &BatchProgress, tag: &str) -> String {
    format!(
        "{} members: {} completed, {} failed, {} cancelled, {} not ended \
         (list them: jobs list --tag {tag})",
        progress.members,
        progress.completed,
        progress.failed,
        progress.cancelled,
        progress.remaining()
    )
}

/// Every field of `job`, one per line, the payload and output as JSON, then the jobs
/// `related` to it.
fn describe(job: &JobRecord, related: Related) -> String {
    let Related {
        dependencies,
        dependents,
        more_dependents,
        batch,
    } = related;
    let or_dash = |value: Option<&str>| value.unwrap_or("-").to_owned();
    let mut lines = vec![
        ("id", job.id.to_string()),
        ("state", job.state.to_string()),
        ("kind", job.kind.clone()),
        ("queue", job.queue.clone()),
        ("priority", job.priority.to_string()),
        (
            "attempt",
            format!("{} of {}", job.attempt, job.max_attempts),
        ),
        ("run at", utc(job.run_at)),
        ("created at", utc(job.created_at)),
        ("first attempted", utc_or_dash(job.first_attempted_at)),
        ("attempted at", utc_or_dash(job.attempted_at)),
        ("finished at", utc_or_dash(job.finished_at)),
        ("lease until", utc_or_dash(job.lease_until)),
        ("lease token", job.lease_token.to_string()),
        ("worker", or_dash(job.worker.as_deref())),
        ("unique key", or_dash(job.unique_key.as_deref())),
        (
            "tags",
            if job.tags.is_empty() {
                "-".into()
            } else {
                job.tags.join(", ")
            },
        ),
        (
            "metadata",
            serde_json::Value::Object(job.metadata.clone()).to_string(),
        ),
        ("payload", job.payload.to_string()),
        (
            "output",
            job.output
                .as_ref()
                .map_or_else(|| "-".into(), ToString::to_string),
        ),
        ("last error", or_dash(job.last_error.as_deref())),
    ];
    for (dependency, state) in &dependencies {
        let state = state.map_or_else(|| "deleted".to_owned(), |state| state.to_string());
        lines.push(("depends on", format!("{dependency} ({state})")));
    }
    if !dependencies.is_empty() {
        let policy = job.on_dependency_failure.to_string();
        lines.push(("if one fails", policy));
    }
    if let Some(batch) = batch {
        lines.push(("batch", batch));
    }
    for error in &job.errors {
        lines.push((
            "error",
            format!(
                "attempt {} at {}: {}",
                error.attempt,
                utc(error.at),
                error.error
            ),
        ));
    }
    for (dependent, state) in dependents {
        let state = state.map_or_else(|| "deleted".to_owned(), |state| state.to_string());
        lines.push(("dependent", format!("{dependent} ({state})")));
    }
    if more_dependents > 0 {
        lines.push(("dependent", format!("and {more_dependents} more")));
    }
    let width = lines.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    lines
        .into_iter()
        .map(|(name, value)| {
            format!(
                "{:<width$}  {value}\n",
                format!("{name}:"),
                width = width + 1
            )
        })
        .collect()
}

/// What `retry`, `cancel` and `delete` do.
#[derive(Debug, Clone, Copy)]
enum Action {
    Retry,
    Cancel,
    Delete,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Retry => "retry",
            Action::Cancel => "cancel",
            Action::Delete => "delete",
        }
    }

    fn past(self) -> &'static str {
        match self {
            Action::Retry => "retried",
            Action::Cancel => "cancelled",
            Action::Delete => "deleted",
        }
    }

    /// Whether the bulk form acts on a job in `state` (the others it passes over, as
    /// the store's bulk verbs do).
    fn acts_on(self, state: JobState) -> bool {
        match self {
            Action::Retry | Action::Delete => state != JobState::Running,
            Action::Cancel => !state.is_terminal(),
        }
    }

    async fn one(self, queue: &Queue, id: JobId) -> Result<JobRecord, leasehold::Error> {
        match self {
            Action::Retry => queue.retry_job(id).await,
            Action::Cancel => queue.cancel(id).await,
            Action::Delete => queue.delete_job(id).await,
        }
    }

    async fn bulk(self, queue: &Queue, filter: &JobFilter) -> Result<u64, leasehold::Error> {
        match self {
            Action::Retry => queue.retry_jobs(filter).await,
            Action::Cancel => queue.cancel_jobs(filter).await,
            Action::Delete => queue.delete_jobs(filter).await,
        }
    }
}

async fn act(queue: &Queue, action: Action, args: &ActArgs, json: bool) -> Result<(), CliError> {
    if args.ids.is_empty() {
        bulk(queue, action, args, json).await
    } else {
        by_id(queue, action, &args.ids, json).await
    }
}

/// Acts on each id in turn, going on past failures, each reported on stderr; ends
/// with the exit code of the first.
async fn by_id(queue: &Queue, action: Action, ids: &[JobId], json: bool) -> Result<(), CliError> {
    let mut done = Vec::new();
    let mut first_failure = None;
    for &id in ids {
        match action.one(queue, id).await {
            Ok(job) => {
                if !json {
                    // A deleted job is reported as it was; the others as they are now.
                    let line = match action {
                        Action::Delete => format!("deleted job {id} (it was {})\n", job.state),
                        _ => format!("{} job {id}: now {}\n", action.past(), job.state),
                    };
                    print_text(&line)?;
                }
                done.push(job);
            }
            Err(error) => {
                let error = CliError::from(error);
                eprintln!("leasehold: {error}");
                first_failure.get_or_insert(error.code());
            }
        }
    }
    if json {
        print_json(&json!({ "action": action.verb(), "jobs": done }))?;
    }
    first_failure.map_or(Ok(()), |code| Err(CliError::Reported(code)))
}

/// Acts on what the filter selects with `--yes`; without it, counts and refuses.
async fn bulk(queue: &Queue, action: Action, args: &ActArgs, json: bool) -> Result<(), CliError> {
    let mut filter = args.filter.filter();
    if let Some(limit) = args.limit {
        filter = filter.limit(limit);
    }
    if args.yes {
        let n = action.bulk(queue, &filter).await?;
        if json {
            return print_json(&json!({ "action": action.verb(), "count": n, "applied": true }));
        }
        return print_text(&format!("{} {n} {}\n", action.past(), jobs_noun(n)));
    }
    let n = would_touch(queue, action, &filter).await?;
    if json {
        print_json(&json!({ "action": action.verb(), "count": n, "applied": false }))?;
    } else {
        print_text(&format!(
            "would {} {n} {} (nothing changed)\n",
            action.verb(),
            jobs_noun(n)
        ))?;
    }
    Err(CliError::Refused(format!(
        "a bulk {} needs --yes; run it again with --yes to {} them",
        action.verb(),
        action.verb()
    )))
}

/// How many jobs the bulk form would act on: those the filter selects in a state it
/// acts on, at most the limit.
async fn would_touch(queue: &Queue, action: Action, filter: &JobFilter) -> Result<u64, CliError> {
    let states: Vec<JobState> = match filter.state {
        Some(state) => vec![state],
        None => JobState::ALL.to_vec(),
    };
    let mut n = 0;
    for state in states.into_iter().filter(|s| action.acts_on(*s)) {
        n += queue.count(&filter.clone().state(state)).await?;
    }
    let limit = filter
        .limit
        .map_or(u64::MAX, |l| u64::try_from(l).unwrap_or(u64::MAX));
    Ok(n.min(limit))
}

fn jobs_noun(n: u64) -> &'static str {
    if n == 1 { "job" } else { "jobs" }
}
