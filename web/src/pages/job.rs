//! `GET /jobs/{id}`: one job whole, and a sentence saying why it is not running now.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use leasehold::time::OffsetDateTime;
use leasehold::{BatchProgress, DependencyFailure, JobId, JobRecord, JobState, Limit, LimitScope};
use maud::{Markup, html};

use crate::dashboard::AppState;
use crate::error::PageError;
use crate::filter::with_query;
use crate::format;
use crate::layout::{self, action_button, json_block};
use crate::notice::{Notice, NoticeQuery};
use crate::pages::{job_id, notice_of, state_badge};
use crate::view::View;

/// `GET /jobs/{id}`.
pub(crate) async fn show(
    view: View,
    State(state): State<AppState>,
    Path(id): Path<String>,
    notice: Result<Query<NoticeQuery>, QueryRejection>,
) -> Response {
    let notice = notice_of(notice);
    view.respond(render(&view, &state, &id, notice.as_ref()).await)
}

async fn render(
    view: &View,
    state: &AppState,
    id: &str,
    notice: Option<&Notice>,
) -> Result<Markup, PageError> {
    let id = job_id(id)?;
    let job = state.queue.get(id).await?.ok_or_else(|| {
        PageError::NotFound(format!(
            "job {id} not found: it was never enqueued, or was deleted"
        ))
    })?;
    // Only a pending job waits on its queue's pause. `next_due` leaves paused queues
    // out, and a pending job makes its unpaused queue's answer `Some`: so `None`
    // means paused, read through the index a claim uses rather than `queue_stats`, a
    // pass over every job.
    let queue_paused = matches!(job.state, JobState::Scheduled | JobState::Available)
        && state
            .queue
            .store()
            .next_due(std::slice::from_ref(&job.queue))
            .await
            .map_err(leasehold::Error::from)?
            .is_none();
    // The stored limits that can hold a pending job back: its key's and its queue's.
    let limits: Vec<(LimitScope, Limit)> = if matches!(job.state, JobState::Available) {
        let stored = state.queue.limits().await?;
        stored
            .into_iter()
            .filter(|(scope, _)| scope.governs(&job.queue, job.limit_key.as_deref()))
            .collect()
    } else {
        Vec::new()
    };
    let dependencies = records_of(state, &job.depends_on).await?;
    // A store written before the verb has none to show; the page still shows the job.
    let dependents = match state.queue.dependents(id).await {
        Err(leasehold::Error::Store(leasehold::StoreError::Unsupported(_))) => Vec::new(),
        other => other?,
    };
    let shown_dependents = records_of(state, &dependents).await?;
    // A batch's callback: the members' counts (no other job pays for them).
    let batch = state.queue.callback_progress(&job).await?;
    let now = view.now;
    let jobs_in =
        |field: &str, value: &str| with_query(view.mount.href("/jobs"), &[(field, value)]);
    let body = html! {
        h1 { "Job " code { (job.id) } }
        p.lede { (state_badge(job.state)) " " strong { (job.kind) } " in queue " a href=(jobs_in("queue", &job.queue)) { (job.queue) } }
        p.why { (why_not_running(&job, &dependencies, queue_paused, &limits, now)) }
        (actions(view, &job))
        h2 { "Details" }
        dl.details {
            dt { "Kind" } dd { a href=(jobs_in("kind", &job.kind)) { (job.kind) } }
            dt { "Priority" } dd { (job.priority) " (lower runs first)" }
            dt { "Attempt" } dd { (job.attempt) " of " (job.max_attempts) }
            dt { "Runs at" } dd { (format::when(job.run_at, now)) }
            dt { "Enqueued" } dd { (format::when(job.created_at, now)) }
            dt { "First attempt" } dd { (format::maybe_when(job.first_attempted_at, now)) }
            dt { "Latest attempt" } dd { (format::maybe_when(job.attempted_at, now)) }
            dt { "Finished" } dd { (format::maybe_when(job.finished_at, now)) }
            dt { "Lease holder" } dd { (job.worker.as_deref().unwrap_or("—")) }
            dt { "Lease until" } dd { (format::maybe_when(job.lease_until, now)) }
            dt { "Unique key" } dd { (job.unique_key.as_deref().unwrap_or("—")) }
            dt { "Limit key" } dd { (job.limit_key.as_deref().unwrap_or("—")) }
            dt { "Tags" }
            dd {
                @for tag in &job.tags { a.tag href=(jobs_in("tag", tag)) { (tag) } " " }
                @if job.tags.is_empty() { "—" }
            }
        }
        @if let Some(progress) = batch {
            h2 { "Batch" }
            (batch_progress(&progress, &jobs_in("tag", &state.queue.open_batch(job.id).tag())))
        }
        @if !job.depends_on.is_empty() {
            h2 { "Dependencies" }
            p { (if_one_fails(job.on_dependency_failure)) " (policy " code { (job.on_dependency_failure) } ")" }
            (jobs_table(view, &dependencies, job.depends_on.len()))
        }
        @if !dependents.is_empty() {
            h2 { "Dependents" }
            p { "Jobs that wait for this one, or ran after it." }
            (jobs_table(view, &shown_dependents, dependents.len()))
        }
        h2 { "Payload" }
        (json_block(&job.payload))
        h2 { "Output" }
        @match &job.output {
            Some(output) => (json_block(output)),
            None => p.none { "None recorded." },
        }
        h2 { "Errors" }
        (errors(&job, now))
        h2 { "Metadata" }
        @if job.metadata.is_empty() {
            p.none { "None." }
        } @else {
            (json_block(&serde_json::Value::Object(job.metadata.clone())))
        }
    };
    Ok(layout::page(view, &format!("Job {id}"), notice, body))
}

/// The most dependencies, and dependents, a job page reads and lists (one store call
/// each).
const DEPENDENCIES_SHOWN: usize = 100;

/// The first [`DEPENDENCIES_SHOWN`] jobs of `ids`, each as stored now (`None`: deleted
/// since, which for a dependency only a job that no longer waits allows).
async fn records_of(
    state: &AppState,
    ids: &[JobId],
) -> Result<Vec<(JobId, Option<JobRecord>)>, PageError> {
    let mut records = Vec::new();
    for &id in ids.iter().take(DEPENDENCIES_SHOWN) {
        records.push((id, state.queue.get(id).await?));
    }
    Ok(records)
}

/// What a waiting job waits for, and what a failed dependency would do to it.
fn waits_for(job: &JobRecord, dependencies: &[(JobId, Option<JobRecord>)]) -> Markup {
    let open = dependencies
        .iter()
        .filter(|(_, dependency)| dependency.as_ref().is_some_and(|d| !d.state.is_terminal()))
        .count();
    let more = job.depends_on.len().saturating_sub(dependencies.len());
    html! {
        "Waiting for its dependencies: " (open) " of " (job.depends_on.len())
        @if more > 0 { " (of the first " (dependencies.len()) " shown)" }
        " have not ended. It is due once every one has completed. "
        (if_one_fails(job.on_dependency_failure))
    }
}

/// A batch callback's members by how they ended, linked to their list.
fn batch_progress(progress: &BatchProgress, members: &str) -> Markup {
    html! {
        p.batch {
            "This job is the callback of a batch of " a href=(members) { (progress.members) " members" } ": "
            (progress.completed) " completed, " (progress.failed) " failed, "
            (progress.cancelled) " cancelled, " (progress.remaining()) " not ended. "
            @if progress.remaining() == 0 { "It runs once, now that every member has ended." }
            @else { "It runs once every member has ended." }
        }
    }
}

/// What a dependency that fails or is cancelled does to a job under `policy`.
fn if_one_fails(policy: DependencyFailure) -> &'static str {
    match policy {
        DependencyFailure::Cancel => "If one fails or is cancelled, this job is cancelled.",
        DependencyFailure::Fail => "If one fails or is cancelled, this job fails.",
        DependencyFailure::Ignore => {
            "If one fails or is cancelled, this job runs anyway once every one has ended."
        }
        // A policy added to the library later: its name says what is known.
        _ => "If one fails or is cancelled, its policy decides.",
    }
}

/// Jobs related to one (the first `jobs` of `total`), each linked, with its state now.
fn jobs_table(view: &View, jobs: &[(JobId, Option<JobRecord>)], total: usize) -> Markup {
    let more = total.saturating_sub(jobs.len());
    html! {
        table.dependencies {
            thead { tr { th { "Job" } th { "Kind" } th { "State" } } }
            tbody {
                @for (id, dependency) in jobs {
                    tr {
                        td { a href=(view.mount.href(&format!("/jobs/{id}"))) { code { (id) } } }
                        @match dependency {
                            Some(dependency) => {
                                td { (dependency.kind) }
                                td { (state_badge(dependency.state)) }
                            }
                            None => { td { "—" } td { "deleted" } }
                        }
                    }
                }
            }
        }
        @if more > 0 { p.none { "And " (more) " more." } }
    }
}

/// Why the job is not running now, or who runs it, as a plain sentence.
fn why_not_running(
    job: &JobRecord,
    dependencies: &[(JobId, Option<JobRecord>)],
    queue_paused: bool,
    limits: &[(LimitScope, Limit)],
    now: OffsetDateTime,
) -> Markup {
    let paused = html! {
        "Queue " strong { (job.queue) } " is paused: no worker claims its jobs until it is resumed."
    };
    let finished = |verb: &str| match job.finished_at {
        Some(at) => html! { (verb) " at " (format::when(at, now)) "." },
        None => html! { (verb) "." },
    };
    let last_error = html! {
        @if let Some(error) = &job.last_error { " Last error: " code.error { (error) } }
    };
    let sentence = match job.state {
        JobState::Scheduled if queue_paused => {
            html! { (paused) " It is due at " (format::when(job.run_at, now)) "." }
        }
        JobState::Scheduled => {
            html! { "Scheduled in the future: due at " (format::when(job.run_at, now)) "." }
        }
        JobState::Available if queue_paused => paused,
        JobState::Available if limits.is_empty() => html! {
            "Available since " (format::when(job.run_at, now)) ": waiting for a free worker slot."
        },
        JobState::Available => html! {
            "Available since " (format::when(job.run_at, now)) ": waiting for a free worker slot, or for "
            @for (i, (scope, limit)) in limits.iter().enumerate() {
                @if i > 0 { " and " }
                "the limit of " (scope.to_string()) " (" (limit.to_string()) ")"
            }
            " to allow it."
        },
        JobState::Running => {
            let worker = job.worker.as_deref().unwrap_or("an unknown worker");
            match job.lease_until {
                Some(until) if until > now => html! {
                    "Running: leased by " code { (worker) } " until " (format::when(until, now)) "."
                },
                Some(until) => html! {
                    "Running, but the lease of " code { (worker) } " expired at "
                    (format::when(until, now)) ": the next claim takes the job over."
                },
                None => html! { "Running: leased by " code { (worker) } "." },
            }
        }
        JobState::Completed => finished("Completed"),
        JobState::Failed => html! {
            (finished("Failed")) " It ran " (job.attempt) " of " (job.max_attempts) " attempts." (last_error)
        },
        JobState::Cancelled => html! { (finished("Cancelled")) (last_error) },
        JobState::Waiting => waits_for(job, dependencies),
        // A state added to the library later: its name says what is known.
        _ => html! { "The job is " (job.state) "." },
    };
    // A unique key never holds a stored job back (a second enqueue with the key is
    // answered with the job that holds it, not stored), so what it does is said from
    // the holder's side.
    html! {
        (sentence)
        @if let (Some(key), false) = (&job.unique_key, job.state.is_terminal()) {
            " It holds unique key " code { (key) }
            ": an enqueue with that key returns this job instead of adding another."
        }
    }
}

/// The buttons for what can be done to the job in its state.
fn actions(view: &View, job: &JobRecord) -> Markup {
    let path = |verb: &str| format!("/jobs/{}/{verb}", job.id);
    let (running, terminal) = (job.state == JobState::Running, job.state.is_terminal());
    let retry_label = if terminal { "Retry" } else { "Run now" };
    // A waiting job runs once its dependencies have completed, not by hand.
    let runs_by_hand = !running && job.state != JobState::Waiting;
    html! {
        div.actions {
            @if runs_by_hand { (action_button(view, &path("retry"), retry_label, &[], "button")) }
            @if !terminal { (action_button(view, &path("cancel"), "Cancel", &[], "button warn")) }
            @if !running { (action_button(view, &path("delete"), "Delete", &[], "button danger")) }
        }
    }
}

/// Every failed attempt the job keeps, oldest first.
fn errors(job: &JobRecord, now: OffsetDateTime) -> Markup {
    html! {
        @if job.errors.is_empty() {
            p.none { "No failed attempts." }
        } @else {
            table.errors {
                thead { tr { th.num { "Attempt" } th { "At" } th { "Error" } } }
                tbody {
                    @for error in &job.errors {
                        tr {
                            td.num { (error.attempt) }
                            td { (format::when(error.at, now)) }
                            td { pre.error { (error.error) } }
                        }
                    }
                }
            }
        }
    }
}
