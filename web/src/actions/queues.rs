//! `POST /queues/pause` and `POST /queues/resume`, the queue named in the form.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::response::Response;
use serde::Deserialize;

use super::on_form;
use crate::dashboard::AppState;
use crate::notice::Notice;
use crate::view::View;

/// The queue an action names. A form field rather than a path segment: a queue's
/// name is free text.
#[derive(Debug, Deserialize)]
pub(crate) struct QueueField {
    queue: String,
}

/// The form of a queue action, or why it does not parse.
type QueueForm = Result<Form<QueueField>, FormRejection>;

/// `POST /queues/pause`: no worker claims the queue's jobs until it is resumed.
pub(crate) async fn pause(view: View, state: State<AppState>, form: QueueForm) -> Response {
    set_paused(view, &state, form, true).await
}

/// `POST /queues/resume`: workers claim the queue's jobs again.
pub(crate) async fn resume(view: View, state: State<AppState>, form: QueueForm) -> Response {
    set_paused(view, &state, form, false).await
}

/// Pauses or resumes the queue the form names; the overview says so.
async fn set_paused(view: View, state: &AppState, form: QueueForm, paused: bool) -> Response {
    on_form(view, form, "/", async |QueueField { queue }| {
        if paused {
            state.queue.pause_queue(&queue).await?;
        } else {
            state.queue.resume_queue(&queue).await?;
        }
        Ok(Notice::Queue { paused, queue })
    })
    .await
}
