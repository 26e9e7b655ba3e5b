//! The security headers on every response of the dashboard.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// Pages load only the dashboard's own stylesheet, run no script, post forms only to
/// the dashboard, and may not be framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'none'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the security headers to `response`, and `Cache-Control: no-store` unless the
/// handler chose a policy (pages show live state and carry the CSRF token).
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Job ids and filters in the dashboard's URLs stay out of other sites' logs.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
