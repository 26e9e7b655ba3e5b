//! `POST /schedules/pause`, `/schedules/resume` and `/schedules/trigger`, the
//! schedule named in the form.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::response::Response;
use serde::Deserialize;

use super::on_form;
use crate::dashboard::AppState;
use crate::notice::Notice;
use crate::view::View;

/// The schedule an action names.
#[derive(Debug, Deserialize)]
pub(crate) struct ScheduleField {
    name: String,
}

/// The form of a schedule action, or why it does not parse.
type ScheduleForm = Result<Form<ScheduleField>, FormRejection>;

/// What an action does to a schedule.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Pause,
    Resume,
    Trigger,
}

/// `POST /schedules/pause`: the schedule stops firing.
pub(crate) async fn pause(view: View, state: State<AppState>, form: ScheduleForm) -> Response {
    act(view, &state, form, Verb::Pause).await
}

/// `POST /schedules/resume`: the schedule fires again from its next slot after now.
pub(crate) async fn resume(view: View, state: State<AppState>, form: ScheduleForm) -> Response {
    act(view, &state, form, Verb::Resume).await
}

/// `POST /schedules/trigger`: the schedule's job is enqueued now; its next fire time
/// stays.
pub(crate) async fn trigger(view: View, state: State<AppState>, form: ScheduleForm) -> Response {
    act(view, &state, form, Verb::Trigger).await
}

/// Does `verb` to the schedule the form names; the schedules page says so.
async fn act(view: View, state: &AppState, form: ScheduleForm, verb: Verb) -> Response {
    on_form(view, form, "/schedules", async |ScheduleField { name }| {
        Ok(match verb {
            Verb::Pause => {
                state.scheduler.pause(&name).await?;
                Notice::Schedule { paused: true, name }
            }
            Verb::Resume => {
                state.scheduler.resume(&name).await?;
                Notice::Schedule {
                    paused: false,
                    name,
                }
            }
            Verb::Trigger => {
                let job = state.scheduler.trigger(&name).await?.job.id;
                Notice::Triggered { name, job }
            }
        })
    })
    .await
}
