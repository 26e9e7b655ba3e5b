//! [`PageError`]: why a page or action could not be served, shown as an error page.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use leasehold::{Error, StoreError};
use maud::html;

use crate::layout;
use crate::view::View;

/// A request the dashboard refuses or a call that failed; rendered as a page whose
/// status says which.
#[derive(Debug)]
pub(crate) enum PageError {
    /// The request is malformed (an id that is not a UUID, an unknown state).
    BadRequest(String),
    /// The request is refused (read-only mode, a missing CSRF token, another site).
    Forbidden(String),
    /// The page names something that does not exist.
    NotFound(String),
    /// The action does not fit the state of what it acts on.
    Conflict(String),
    /// The library refused or failed.
    Leasehold(Error),
}

impl From<Error> for PageError {
    fn from(error: Error) -> Self {
        PageError::Leasehold(error)
    }
}

/// A query string that does not fit the page's parameters.
pub(crate) fn bad_query(rejection: QueryRejection) -> PageError {
    PageError::BadRequest(rejection.body_text())
}

/// A form that does not fit the action's fields.
pub(crate) fn bad_form(rejection: FormRejection) -> PageError {
    PageError::BadRequest(rejection.body_text())
}

impl PageError {
    /// The response status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Conflict(_) => StatusCode::CONFLICT,
            PageError::Leasehold(error) => library_status(error),
        }
    }

    /// The error as a page under `view`.
    pub(crate) fn render(&self, view: &View) -> Response {
        let status = self.status();
        let message = match self {
            PageError::BadRequest(message)
            | PageError::Forbidden(message)
            | PageError::NotFound(message)
            | PageError::Conflict(message) => message.clone(),
            PageError::Leasehold(error) => error.to_string(),
        };
        if status.is_server_error() {
            tracing::error!(error = %message, status = status.as_u16(), "dashboard request failed");
        }
        let title = status.canonical_reason().unwrap_or("Error");
        let body = html! {
            h1 { (status.as_u16()) " " (title) }
            p.error { (message) }
            p { a href=(view.mount.home()) { "Back to the overview" } }
        };
        (status, layout::page(view, title, None, body)).into_response()
    }
}

/// The status that tells a client what a library error means for its request.
fn library_status(error: &Error) -> StatusCode {
    match error {
        Error::Store(store) => match store {
            StoreError::NotFound(_)
            | StoreError::QueueNotFound(_)
            | StoreError::ScheduleNotFound(_) => StatusCode::NOT_FOUND,
            StoreError::WrongState { .. } | StoreError::Conflict(_) | StoreError::LeaseLost(_) => {
                StatusCode::CONFLICT
            }
            StoreError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
        Error::InvalidJob(_) | Error::Config(_) | Error::Cron { .. } | Error::Timezone(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
