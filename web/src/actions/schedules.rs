//! `POST /schedules/pause`, `/schedules/resume` and `/schedules/trigger`, the
//! schedule named in the form.

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

/// The schedule an action names.
#[derive(Debug, Deserialize)]
pub(crate) struct ScheduleField {
    name: String,
}

/// `POST /schedules/pause`: the schedule stops firing.
pub(crate) async fn pause(
    view: View,
    State(state): State<AppState>,
    form: Result<Form<ScheduleField>, FormRejection>,
) -> Response {
    let done = async {
        let Form(ScheduleField { name }) = form.map_err(bad_form)?;
        state.scheduler.pause(&name).await?;
        Ok(redirect(
            &view,
            "/schedules",
            &Notice::Schedule { paused: true, name },
        ))
    };
    view.respond(done.await)
}

/// `POST /schedules/resume`: the schedule fires again from its next slot after now.
pub(crate) async fn resume(
    view: View,
    State(state): State<AppState>,
    form: Result<Form<ScheduleField>, FormRejection>,
) -> Response {
    let done = async {
        let Form(ScheduleField { name }) = form.map_err(bad_form)?;
        state.scheduler.resume(&name).await?;
        Ok(redirect(
            &view,
            "/schedules",
            &Notice::Schedule {
                paused: false,
                name,
            },
        ))
    };
    view.respond(done.await)
}

/// `POST /schedules/trigger`: the schedule's job is enqueued now; its next fire time
/// stays.
pub(crate) async fn trigger(
    view: View,
    State(state): State<AppState>,
    form: Result<Form<ScheduleField>, FormRejection>,
) -> Response {
    let done = async {
        let Form(ScheduleField { name }) = form.map_err(bad_form)?;
        let job = state.scheduler.trigger(&name).await?.job.id;
        Ok(redirect(
            &view,
            "/schedules",
            &Notice::Triggered { name, job },
        ))
    };
    view.respond(done.await)
}
