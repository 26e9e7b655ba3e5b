//! The frame every page shares: head, navigation, the notice of the last action, the
//! stylesheet, and the small forms that carry an action's button.

use axum::http::header;
use axum::response::IntoResponse;
use maud::{DOCTYPE, Markup, html};

use crate::csrf::CSRF_FIELD;
use crate::notice::Notice;
use crate::view::View;

/// Where the stylesheet is served, inside the dashboard.
pub(crate) const STYLESHEET_PATH: &str = "/assets/dashboard.css";

/// The only stylesheet: served by the dashboard itself, so it works offline and the
/// content security policy needs no other origin.
const STYLESHEET: &str = include_str!("assets/dashboard.css");

/// `GET /assets/dashboard.css`.
pub(crate) async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        STYLESHEET,
    )
}

/// A whole page titled `title` with `body` under the navigation, and `notice` (what
/// the last action did) above it.
pub(crate) fn page(view: &View, title: &str, notice: Option<&Notice>, body: Markup) -> Markup {
    let mount = &view.mount;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · leasehold" }
                link rel="stylesheet" href=(mount.href(STYLESHEET_PATH));
            }
            body {
                header {
                    nav {
                        a.brand href=(mount.home()) { "leasehold" }
                        a href=(mount.home()) { "Overview" }
                        a href=(mount.href("/jobs")) { "Jobs" }
                        a href=(mount.href("/schedules")) { "Schedules" }
                        @if view.csrf.is_none() {
                            span.badge.read-only title="This dashboard changes nothing" { "read-only" }
                        }
                    }
                }
                main {
                    @if let Some(notice) = notice {
                        p.notice role="status" { (notice.render(mount)) }
                    }
                    (body)
                }
            }
        }
    }
}

/// A one-button form that POSTs `fields` to `path` with the CSRF token; nothing in
/// read-only mode.
pub(crate) fn action_button(
    view: &View,
    path: &str,
    label: &str,
    fields: &[(&str, &str)],
    class: &str,
) -> Markup {
    let Some(token) = &view.csrf else {
        return html! {};
    };
    html! {
        form.inline method="post" action=(view.mount.href(path)) {
            input type="hidden" name=(CSRF_FIELD) value=(token);
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" class=(class) { (label) }
        }
    }
}

/// The hidden CSRF field of a form that changes something; nothing in read-only mode.
pub(crate) fn csrf_field(view: &View) -> Markup {
    html! {
        @if let Some(token) = &view.csrf {
            input type="hidden" name=(CSRF_FIELD) value=(token);
        }
    }
}

/// `value` (a `serde_json::Value` or a job's `Payload`) as pretty-printed JSON in a
/// block.
pub(crate) fn json_block(value: &(impl serde::Serialize + std::fmt::Display)) -> Markup {
    // A `Value` always serializes, a `Payload` unless nested too deep to read back;
    // the fallback, its text as it is, keeps the page up regardless.
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    html! { pre.json { (text) } }
}
