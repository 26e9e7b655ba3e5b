//! [`Dashboard`]: the configuration an application builds and turns into a router.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use leasehold::Queue;
use leasehold::schedule::Scheduler;

use crate::csrf::{CsrfToken, guard_writes};
use crate::headers::security_headers;
use crate::{actions, layout, pages};

/// The dashboard over one [`Queue`]: its store's jobs, queues and schedules.
///
/// Build it, then [`nest`](axum::Router::nest) its [`router`](Dashboard::router) in
/// your application at any path, behind your own authentication middleware.
///
/// ```no_run
/// use axum::Router;
/// use leasehold::Queue;
/// use leasehold_web::Dashboard;
///
/// fn app(queue: Queue) -> Router {
///     Router::new().nest("/admin/jobs", Dashboard::new(queue).read_only(true).router())
/// }
/// ```
#[derive(Clone)]
pub struct Dashboard {
    queue: Queue,
    read_only: bool,
    csrf: CsrfToken,
}

impl fmt::Debug for Dashboard {
    // The CSRF token stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dashboard")
            .field("queue", &self.queue)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// A dashboard over `queue`'s store, on `queue`'s clock, with every action
    /// enabled and a fresh random CSRF token.
    pub fn new(queue: Queue) -> Self {
        Self {
            queue,
            read_only: false,
            csrf: CsrfToken::random(),
        }
    }

    /// With `read_only` set, pages show no buttons and every POST is answered
    /// `403 Forbidden`: the dashboard changes nothing.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The router serving the pages and actions, with its state applied: nest it at
    /// any path (`app.nest("/admin/jobs", dashboard.router())`) or serve it alone.
    ///
    /// Every response carries the security headers (a content security policy that
    /// allows no script, no framing, no referrer); every request that is not a GET
    /// or HEAD is refused unless the dashboard is writable, it comes from the same
    /// site, and its form carries the dashboard's CSRF token.
    pub fn router(self) -> Router {
        let shared = Arc::new(Shared {
            scheduler: Scheduler::new(&self.queue),
            queue: self.queue,
            read_only: self.read_only,
            csrf: self.csrf,
        });
        Router::new()
            .route("/", get(pages::overview::show))
            .route("/jobs", get(pages::jobs::show))
            .route(
                "/jobs/bulk",
                get(pages::bulk::confirm).post(actions::jobs::bulk),
            )
            .route("/jobs/{id}", get(pages::job::show))
            .route("/jobs/{id}/retry", post(actions::jobs::retry))
            .route("/jobs/{id}/cancel", post(actions::jobs::cancel))
            .route("/jobs/{id}/delete", post(actions::jobs::delete))
            .route("/queues/pause", post(actions::queues::pause))
            .route("/queues/resume", post(actions::queues::resume))
            .route("/schedules", get(pages::schedules::show))
            .route("/schedules/pause", post(actions::schedules::pause))
            .route("/schedules/resume", post(actions::schedules::resume))
            .route("/schedules/trigger", post(actions::schedules::trigger))
            .route(layout::STYLESHEET_PATH, get(layout::stylesheet))
            .fallback(pages::not_found)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&shared),
                guard_writes,
            ))
            .layer(axum::middleware::map_response(security_headers))
            .with_state(shared)
    }
}

/// What every handler shares: the dashboard as configured.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queue: Queue,
    pub(crate) scheduler: Scheduler,
    pub(crate) read_only: bool,
    pub(crate) csrf: CsrfToken,
}

/// The router's state.
pub(crate) type AppState = Arc<Shared>;
