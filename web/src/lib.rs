//! `leasehold-web`: a web dashboard for [`leasehold`] jobs, queues and
//! schedules, as an [axum] router to nest in your application.
//!
//! - [`Dashboard`]: built over a [`Queue`](leasehold::Queue), optionally
//!   [`read_only`](Dashboard::read_only), turned into a [`Router`](axum::Router) by
//!   [`Dashboard::router`].
//!
//! The pages are rendered on the server (maud templates, checked at compile time and
//! escaping everything they show), with one embedded stylesheet and no script: the
//! dashboard works offline and under a strict content security policy.
//!
//! | path | what it shows or does |
//! |---|---|
//! | `GET /` | every queue's jobs by state, paused or not, what finished in the last hour |
//! | `GET /jobs` | jobs by queue, state, kind and tag, newest first, 50 a page (`?after=ID`) |
//! | `GET /jobs/{id}` | one job: payload, errors of every attempt, output, lease, and why it is not running |
//! | `GET /jobs/bulk` | the confirmation of a bulk action on every job a filter selects |
//! | `GET /schedules` | every schedule, its next five fire times in its timezone |
//! | `POST /jobs/{id}/retry`, `/cancel`, `/delete` | one job |
//! | `POST /jobs/bulk` | retry, cancel or delete every job the form's filter selects |
//! | `POST /queues/pause`, `/queues/resume` | the queue named by the form field `queue` |
//! | `POST /schedules/pause`, `/resume`, `/trigger` | the schedule named by the form field `name` |
//!
//! Each action redirects (303) to a page saying what it did; a refusal of the store
//! (retrying a running job, say) is an error page with a 4xx or 5xx status.
//!
//! # Nesting
//!
//! Links and form actions are built from the path a request came in on, so the
//! router works nested at any path, or served alone:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use axum::Router;
//! use leasehold::Queue;
//! use leasehold_web::Dashboard;
//!
//! # async fn serve(store: Arc<dyn leasehold::JobStore>) -> std::io::Result<()> {
//! let queue = Queue::new(store);
//! let app = Router::new()
//!     // .route("/", get(home)) ... the application's own routes
//!     .nest("/admin/jobs", Dashboard::new(queue).router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! # Authentication is the application's
//!
//! The dashboard shows payloads and errors and can retry, cancel and delete jobs: put
//! it behind your application's authentication, as a middleware on the router you
//! nest (`examples/basic_auth.rs` does it with HTTP basic auth). The dashboard
//! authenticates no one itself.
//!
//! # Read-only mode
//!
//! [`Dashboard::read_only`] renders no buttons and answers every POST with
//! `403 Forbidden`: for a wider audience, or a replica that must change nothing.
//!
//! # CSRF and other protections
//!
//! - Every form that changes something carries a random token, made once per
//!   [`Dashboard`] from the operating system's CSPRNG; a POST without it, or with
//!   another, is refused with `403`. A new process has a new token, so a page left
//!   open across a restart needs a reload.
//! - A POST is also refused when the browser marks it cross-site (`Sec-Fetch-Site`),
//!   or its `Origin` names another host than its `Host` header: behind a reverse
//!   proxy, forward the original `Host`.
//! - Every response carries a content security policy (`default-src 'self'`, no
//!   script, no framing), `X-Frame-Options: DENY`, `Referrer-Policy: same-origin` (under `no-referrer` browsers send `Origin: null`, which the origin check must refuse),
//!   `X-Content-Type-Options: nosniff`, and pages `Cache-Control: no-store`.
//!
//! # Time
//!
//! "Now" (the relative times, the last hour of the overview) is read from the queue's
//! [`Clock`](leasehold::Clock), never from the system directly, so a dashboard over a
//! `ManualClock` (leasehold's `testing` feature) shows the time a test sets.

mod actions;
mod csrf;
mod dashboard;
mod error;
mod filter;
mod format;
mod headers;
mod layout;
mod notice;
mod pages;
mod view;

pub use dashboard::Dashboard;
