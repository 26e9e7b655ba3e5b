//! Cross-site request forgery protection for every request that is not a read.
//!
//! - [`CsrfToken`]: a random token made once per [`Dashboard`](crate::Dashboard),
//!   from the operating system's CSPRNG; every form that changes something carries
//!   it in the hidden field [`CSRF_FIELD`].
//! - [`guard_writes`]: the middleware in front of every route. A request other than
//!   GET or HEAD passes only when the dashboard is writable, the browser does not
//!   call it cross-site (`Sec-Fetch-Site`), its `Origin` (when sent) names the host it
//!   was sent to, and its urlencoded form carries the token.
//!
//! The token is the same for every visitor: it proves the form was read from the
//! dashboard, which another site cannot do. Who may read the dashboard at all is the
//! embedding application's authentication.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::dashboard::AppState;
use crate::error::PageError;
use crate::view::View;

/// The form field that carries the token.
pub(crate) const CSRF_FIELD: &str = "_csrf";

/// The largest form body read: the dashboard's forms hold a handful of short fields.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A random token, fixed for the life of a dashboard.
#[derive(Debug, Clone)]
pub(crate) struct CsrfToken(Arc<str>);

impl CsrfToken {
    /// A new token: two version-4 UUIDs (244 random bits) as hex.
    pub(crate) fn random() -> Self {
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        Self(token.into())
    }

    /// The token, for forms.
    pub(crate) fn value(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }

    /// Whether `candidate` is the token, in time that does not depend on where they
    /// differ.
    pub(crate) fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
    }
}

/// The middleware that refuses every write the dashboard must not do (see the
/// module docs); reads pass untouched.
pub(crate) async fn guard_writes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let view = View::of(&parts, &state);
    if state.read_only {
        return forbidden(&view, "this dashboard is read-only: it changes nothing");
    }
    if let Err(reason) = same_origin(&parts.headers, parts.uri.authority().map(|a| a.as_str())) {
        return forbidden(&view, reason);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return PageError::BadRequest("the form is too large or was cut short".into())
            .render(&view);
    };
    if !form_token(&bytes).is_some_and(|token| state.csrf.matches(&token)) {
        return forbidden(
            &view,
            "the form's CSRF token is missing or wrong: reload the page and try again",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn forbidden(view: &View, reason: &str) -> Response {
    PageError::Forbidden(format!("refused: {reason}")).render(view)
}

/// The value of [`CSRF_FIELD`] in an urlencoded form body.
fn form_token(body: &[u8]) -> Option<String> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    fields
        .into_iter()
        .find_map(|(name, value)| (name == CSRF_FIELD).then_some(value))
}

/// Whether the request comes from the dashboard's own site, as far as the browser
/// says: `Sec-Fetch-Site` is not `cross-site`, and `Origin`, when present, names the
/// host the request was sent to (`Host`, or the authority of an HTTP/2 request's
/// URI). A request without either header (an old browser, curl) passes here and is
/// left to the token.
fn same_origin(headers: &HeaderMap, uri_authority: Option<&str>) -> Result<(), &'static str> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return Err("the request came from another site");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or(uri_authority)
        .ok_or("the request names no host to compare its origin with")?;
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, authority)| authority);
    match origin_host {
        Some(origin_host) if origin_host.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err("the request's origin is not the host it was sent to"),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    axum::http::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn a_token_matches_only_itself() {
        let token = CsrfToken::random();

        assert!(token.matches(&token.value()));
        assert!(!token.matches(""));
        assert!(!token.matches(&CsrfToken::random().value()));
        assert_eq!(token.value().len(), 64);
    }

    #[test]
    fn the_token_is_read_from_the_form() {
        assert_eq!(form_token(b"a=1&_csrf=abc%20d"), Some("abc d".into()));
        assert_eq!(form_token(b"a=1"), None);
    }

    #[test]
    fn an_origin_must_name_the_host() {
        let same = headers(&[
            ("host", "jobs.example:8080"),
            ("origin", "https://jobs.example:8080"),
        ]);
        let other = headers(&[("host", "jobs.example"), ("origin", "https://evil.example")]);
        let opaque = headers(&[("host", "jobs.example"), ("origin", "null")]);

        assert_eq!(same_origin(&same, None), Ok(()));
        assert!(same_origin(&other, None).is_err());
        assert!(same_origin(&opaque, None).is_err());
        assert!(same_origin(&headers(&[("origin", "https://a.example")]), None).is_err());
        assert_eq!(
            same_origin(
                &headers(&[("origin", "https://a.example")]),
                Some("a.example")
            ),
            Ok(())
        );
    }

    #[test]
    fn a_cross_site_fetch_is_refused_and_a_bare_request_passes() {
        let cross = headers(&[("sec-fetch-site", "cross-site")]);
        let same = headers(&[("sec-fetch-site", "same-origin")]);

        assert!(same_origin(&cross, None).is_err());
        assert_eq!(same_origin(&same, None), Ok(()));
        assert_eq!(same_origin(&HeaderMap::new(), None), Ok(()));
    }
}
