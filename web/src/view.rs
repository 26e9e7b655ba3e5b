//! What a page needs to know about the request it answers.
//!
//! - [`Mount`]: the path the dashboard is served under, so links and form actions
//!   work wherever an application nests the router.
//! - [`View`]: the mount, the time of the request, and the CSRF token forms carry
//!   (none in read-only mode, where pages render no forms that change anything).

use std::sync::Arc;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::Uri;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use leasehold::time::OffsetDateTime;

use crate::dashboard::AppState;
use crate::error::PageError;

/// The path prefix the dashboard is served under: `""` at the root, `"/admin/jobs"`
/// when nested there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    prefix: String,
}

impl Mount {
    /// The prefix of a request whose full path is `original` and whose path inside
    /// the dashboard's router is `inner`.
    pub(crate) fn of(original: &Uri, inner: &Uri) -> Self {
        let (original, inner) = (original.path(), inner.path());
        let prefix = original
            .strip_suffix(inner)
            // Nested at `/admin/jobs`, a request for `/admin/jobs` reaches the router
            // as `/`.
            .or_else(|| (inner == "/").then_some(original))
            .unwrap_or_default()
            .trim_end_matches('/');
        // `//host/...` would be a link to another site.
        let prefix = format!("/{}", prefix.trim_start_matches('/'));
        Self {
            prefix: if prefix == "/" { String::new() } else { prefix },
        }
    }

    /// The link to `path` (which starts with `/`) inside the dashboard; `/` is the
    /// overview, at the prefix itself (nested at `/admin/jobs`, axum routes
    /// `/admin/jobs` to the dashboard, not `/admin/jobs/`).
    pub(crate) fn href(&self, path: &str) -> String {
        match (self.prefix.as_str(), path) {
            ("", _) => path.to_owned(),
            (prefix, "/") => prefix.to_owned(),
            (prefix, path) => format!("{prefix}{path}"),
        }
    }

    /// The link to the overview.
    pub(crate) fn home(&self) -> String {
        self.href("/")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct View {
    /// Where links point.
    pub(crate) mount: Mount,
    /// The time of the request, read once from the queue's clock.
    pub(crate) now: OffsetDateTime,
    /// The token every form that changes something carries; `None` when the dashboard
    /// is read-only, so no such form is rendered.
    pub(crate) csrf: Option<Arc<str>>,
}

impl View {
    /// The view of the request `parts` under the dashboard `state`.
    pub(crate) fn of(parts: &Parts, state: &AppState) -> Self {
        let original = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(&parts.uri, |original| &original.0);
        Self {
            mount: Mount::of(original, &parts.uri),
            now: state.queue.clock().now(),
            csrf: (!state.read_only).then(|| state.csrf.value()),
        }
    }

    /// `result` as a response: the page or redirect, or the error page.
    pub(crate) fn respond<T: IntoResponse>(&self, result: Result<T, PageError>) -> Response {
        match result {
            Ok(page) => page.into_response(),
            Err(error) => error.render(self),
        }
    }
}

impl FromRequestParts<AppState> for View {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(View::of(parts, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(original: &str, inner: &str) -> Mount {
        Mount::of(&original.parse().unwrap(), &inner.parse().unwrap())
    }

    #[test]
    fn the_prefix_is_the_original_path_less_the_inner_one() {
        assert_eq!(mount("/jobs/1", "/jobs/1").href("/jobs"), "/jobs");
        assert_eq!(
            mount("/admin/jobs/jobs/1", "/jobs/1").href("/jobs"),
            "/admin/jobs/jobs"
        );
        assert_eq!(mount("/admin/jobs", "/").home(), "/admin/jobs");
        assert_eq!(mount("/admin/jobs/", "/").home(), "/admin/jobs");
        assert_eq!(mount("/", "/").home(), "/");
        assert_eq!(mount("/admin/jobs", "/").href("/"), "/admin/jobs");
    }

    #[test]
    fn a_prefix_never_links_to_another_host() {
        assert_eq!(
            mount("//evil.example/jobs", "/jobs").href("/jobs"),
            "/evil.example/jobs"
        );
    }
}
