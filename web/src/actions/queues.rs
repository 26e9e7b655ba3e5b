//! `POST /queues/pause` and `POST /queues/resume`, the queue named in the form.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::response::Response;
use serde::Deserialize;

use super::redirect;
use crate::dashboard::AppState;
use crate::error::bad_form;
use crate::notice::Notice;
use crate::view::View;

/// The queue an action names. A form field rather than a path segment: a queue's
/// name is free text.
#[derive(Debug, Deserialize)]
pub(crate) struct QueueField {
    queue: String,
}

/// `POST /queues/pause`: no worker claims the queue's jobs until it is resumed.
pub(crate) async fn pause(
    view: View,
    State(state): State<AppState>,
    form: Result<Form<QueueField>, FormRejection>,
) -> Response {
    let done = async {
        let Form(QueueField { queue }) = form.map_err(bad_form)?;
        state.queue.pause_queue(&queue).await?;
        Ok(redirect(
            &view,
            "/",
            &Notice::Queue {
                paused: true,
                queue,
            },
        ))
    };
    view.respond(done.await)
}

/// `POST /queues/resume`: workers claim the queue's jobs again.
pub(crate) async fn resume(
    view: View,
    State(state): State<AppState>,
    form: Result<Form<QueueField>, FormRejection>,
) -> Response {
    let done = async {
        let Form(QueueField { queue }) = form.map_err(bad_form)?;
        state.queue.resume_queue(&queue).await?;
        Ok(redirect(
            &view,
            "/",
            &Notice::Queue {
                paused: false,
                queue,
            },
        ))
    };
    view.respond(done.await)
}
