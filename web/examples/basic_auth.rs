//! The dashboard nested at `/admin/jobs` of an application, behind HTTP basic
//! authentication, over a SQLite file.
//!
//! ```sh
//! DASHBOARD_PASSWORD=change-me cargo run -p leasehold-web --example basic_auth
//! # then open http://127.0.0.1:3000/admin/jobs as `admin` / `change-me`
//! ```
//!
//! Authentication is the application's: the dashboard authenticates no one, so the
//! application wraps its router in its own middleware, here basic auth. Over anything
//! but localhost, serve it over TLS, since basic auth sends the password with every
//! request.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use leasehold::schedule::{NewSchedule, ScheduleSpec, Scheduler};
use leasehold::{EnqueueOptions, Job, Queue};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions};
use leasehold_web::Dashboard;
use serde::{Deserialize, Serialize};

/// The one user this example knows.
const USER: &str = "admin";

#[derive(Serialize, Deserialize)]
struct SendEmail {
    to: String,
}

impl Job for SendEmail {
    const KIND: &'static str = "send_email";
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let password = std::env::var("DASHBOARD_PASSWORD")
        .map_err(|_| "set DASHBOARD_PASSWORD to the password the dashboard asks for")?;
    let credentials: Arc<str> = format!("{USER}:{password}").into();

    let path = std::env::temp_dir().join("leasehold-dashboard-example.db");
    let store = SqliteStore::connect_with(SqliteStoreOptions::file(&path)).await?;
    let queue = Queue::new(Arc::new(store));
    // Something to look at: a job waiting in `mail`, and a schedule.
    let email = SendEmail {
        to: "ada@example.com".into(),
    };
    queue
        .enqueue_with(&email, EnqueueOptions::new().queue("mail"))
        .await?;
    let nightly = ScheduleSpec::cron("0 3 * * *", Some("Europe/Berlin"))?;
    Scheduler::new(&queue)
        .upsert(NewSchedule::new("nightly-digest", nightly, &email)?)
        .await?;

    let dashboard = Dashboard::new(queue)
        .router()
        .layer(middleware::from_fn_with_state(credentials, basic_auth));
    let app = Router::new()
        .route(
            "/",
            get(|| async { "the application; its dashboard is at /admin/jobs" }),
        )
        .nest("/admin/jobs", dashboard);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!(
        "dashboard on http://127.0.0.1:3000/admin/jobs (user {USER:?}), jobs in {}",
        path.display()
    );
    axum::serve(listener, app).await?;
    Ok(())
}

/// Lets a request through when its `Authorization: Basic` header holds `user:password`
/// as `expected`; answers `401` with a challenge otherwise.
async fn basic_auth(State(expected): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok());
    if given.is_some_and(|given| same_bytes(&given, expected.as_bytes())) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            r#"Basic realm="leasehold", charset="UTF-8""#,
        )],
        "authentication required",
    )
        .into_response()
}

/// Whether `a` equals `b`, in time that does not depend on where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}
