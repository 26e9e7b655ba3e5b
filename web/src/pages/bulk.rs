//! `GET /jobs/bulk?action=...&queue=...`: the confirmation step of a bulk action. It
//! says what the filter selects and what the verb will do; only its button POSTs.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};

use crate::actions::jobs::VerbField;
use crate::dashboard::AppState;
use crate::error::{PageError, bad_query};
use crate::filter::FilterForm;
use crate::layout::{self, csrf_field};
use crate::view::View;

/// `GET /jobs/bulk`.
pub(crate) async fn confirm(
    view: View,
    State(state): State<AppState>,
    form: Result<Query<FilterForm>, QueryRejection>,
    verb: Result<Query<VerbField>, QueryRejection>,
) -> Response {
    let page = async {
        if view.csrf.is_none() {
            return Err(PageError::Forbidden(
                "this dashboard is read-only: it has no bulk actions".into(),
            ));
        }
        let Query(form) = form.map_err(bad_query)?;
        let verb = verb.map_err(bad_query)?.0.verb()?;
        let selected = state.queue.count(&form.to_filter()?).await?;
        Ok(render(&view, &form, verb, selected))
    };
    view.respond(page.await)
}

fn render(view: &View, form: &FilterForm, verb: crate::actions::JobVerb, selected: u64) -> Markup {
    let fields = form.fields();
    let noun = if selected == 1 { "job" } else { "jobs" };
    let title = format!("{} {selected} {noun}?", verb.title());
    let body = html! {
        h1 { (title) }
        @if fields.is_empty() {
            p.warning { "No filter: this acts on every job in the store." }
        } @else {
            p { "The filter selects " (selected) " " (noun) ":" }
            ul.filter {
                @for (name, value) in &fields { li { (name) " = " code { (value) } } }
            }
        }
        p { (verb.effect()) }
        form.confirm method="post" action=(view.mount.href("/jobs/bulk")) {
            (csrf_field(view))
            input type="hidden" name="action" value=(verb.as_str());
            @for (name, value) in &fields {
                input type="hidden" name=(name) value=(value);
            }
            button.button.danger type="submit" { "Yes, " (verb.title().to_lowercase()) " them" }
            " "
            a href=(form.href(&view.mount, "/jobs", &[])) { "No, back to the list" }
        }
    };
    layout::page(view, &title, None, body)
}
