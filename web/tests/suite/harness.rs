//! [`Harness`]: a dashboard over a store on a manual clock, asked through
//! `tower::ServiceExt::oneshot` (no network), and [`Page`]: what it answered.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use leasehold::schedule::Scheduler;
use leasehold::time::OffsetDateTime;
use leasehold::{ClaimRequest, Clock, JobId, JobRecord, JobStore, ManualClock, NewJob, Queue};
use leasehold_memory::MemoryStore;
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions};
use leasehold_web::Dashboard;
use tempfile::TempDir;
use time::macros::datetime;
use tower::ServiceExt;

/// 2000-01-01 plus `seconds`.
pub(crate) fn t(seconds: i64) -> OffsetDateTime {
    datetime!(2000-01-01 0:00 UTC) + time::Duration::seconds(seconds)
}

/// The worker that holds the leases the harness takes.
pub(crate) const WORKER: &str = "worker-1";

/// A dashboard served at the root over one store, on a clock at `t(0)`.
pub(crate) struct Harness {
    pub(crate) app: Router,
    pub(crate) queue: Queue,
    pub(crate) scheduler: Scheduler,
    pub(crate) clock: ManualClock,
    _dir: Option<TempDir>,
}

impl Harness {
    /// Over a [`MemoryStore`].
    pub(crate) async fn memory() -> Self {
        Self::over(Arc::new(MemoryStore::new()), None)
    }

    /// Over a [`SqliteStore`] in a fresh file.
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = SqliteStoreOptions::file(dir.path().join("jobs.db"));
        let store = SqliteStore::connect_with(options)
            .await
            .expect("the SQLite store opens");
        Self::over(Arc::new(store), Some(dir))
    }

    /// Over `store`, which needs no directory kept.
    pub(crate) fn with_store(store: Arc<dyn JobStore>) -> Self {
        Self::over(store, None)
    }

    fn over(store: Arc<dyn JobStore>, dir: Option<TempDir>) -> Self {
        let clock = ManualClock::new(t(0));
        let queue = Queue::with_clock(store, Arc::new(clock.clone()));
        Self {
            app: Dashboard::new(queue.clone()).router(),
            scheduler: Scheduler::new(&queue),
            queue,
            clock,
            _dir: dir,
        }
    }

    /// The same store and clock, served by the router `build` makes of the queue.
    pub(crate) fn serving(mut self, build: impl FnOnce(Queue) -> Router) -> Self {
        self.app = build(self.queue.clone());
        self
    }

    /// Answers `request`.
    pub(crate) async fn send(&self, request: Request<Body>) -> Page {
        let response = self
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("the body reads")
            .to_bytes();
        let body = String::from_utf8(bytes.to_vec()).expect("the body is UTF-8");
        Page {
            status,
            headers,
            body,
        }
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).expect("a request"))
            .await
    }

    /// `POST path` of the urlencoded `fields`, as a same-origin browser sends it.
    pub(crate) async fn post(&self, path: &str, fields: &[(String, String)]) -> Page {
        let request = form_request(path)
            .header(header::HOST, "dashboard.test")
            .header(header::ORIGIN, "http://dashboard.test")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(
                serde_urlencoded::to_string(fields).expect("fields encode"),
            ))
            .expect("a request");
        self.send(request).await
    }

    /// Clicks the button of the form on `page` that posts to `action`.
    pub(crate) async fn submit(&self, page: &Page, action: &str) -> Page {
        let fields = page
            .form(action)
            .unwrap_or_else(|| panic!("no form posts to {action}:\n{}", page.body));
        self.post(action, &fields).await
    }

    /// A valid CSRF field, read from the form of a bulk confirmation.
    pub(crate) async fn csrf_field(&self) -> (String, String) {
        let form = self
            .get("/jobs/bulk?action=retry")
            .await
            .form("/jobs/bulk")
            .expect("a confirmation form");
        form.into_iter()
            .find(|(name, _)| name == "_csrf")
            .expect("the form carries the token")
    }

    /// Follows a redirect.
    pub(crate) async fn follow(&self, redirect: &Page) -> Page {
        assert_eq!(redirect.status, StatusCode::SEE_OTHER, "{}", redirect.body);
        self.get(redirect.location()).await
    }

    /// Enqueues a job of `kind` in `queue`, due now.
    pub(crate) async fn enqueue(&self, kind: &str, queue: &str) -> JobId {
        self.enqueue_new(self.new_job(kind, queue)).await
    }

    /// A job of `kind` in `queue` due now, to adjust before [`Harness::enqueue_new`].
    pub(crate) fn new_job(&self, kind: &str, queue: &str) -> NewJob {
        NewJob::new(kind, serde_json::json!({ "n": 1 }), self.clock.now())
            .and_then(|job| job.queue(queue))
            .expect("a valid job")
    }

    /// Enqueues `job`.
    pub(crate) async fn enqueue_new(&self, job: NewJob) -> JobId {
        self.queue
            .enqueue_new(job)
            .await
            .expect("the enqueue succeeds")
            .job
            .id
    }

    /// Leases the next due job of `queue` to [`WORKER`] for 30 s.
    pub(crate) async fn claim(&self, queue: &str) -> JobRecord {
        let now = self.clock.now();
        let queues = [queue.to_owned()];
        let request = ClaimRequest::new(WORKER, &queues, 1, now + time::Duration::seconds(30));
        let mut claimed = self
            .store()
            .claim(request, now)
            .await
            .expect("the claim succeeds");
        claimed
            .pop()
            .unwrap_or_else(|| panic!("no job of {queue} is due"))
    }

    /// Claims the next job of `queue` and fails its attempt with `error`, due again now.
    pub(crate) async fn fail_attempt(&self, queue: &str, error: &str) -> JobId {
        let job = self.claim(queue).await;
        let now = self.clock.now();
        self.store()
            .retry(job.lease(), now, error, now)
            .await
            .expect("the retry is recorded");
        job.id
    }

    /// Claims the next job of `queue` and ends it `Failed` with `error`.
    pub(crate) async fn fail(&self, queue: &str, error: &str) -> JobId {
        let job = self.claim(queue).await;
        self.store()
            .fail(job.lease(), error, self.clock.now())
            .await
            .expect("the failure is recorded");
        job.id
    }

    /// Claims the next job of `queue` and completes it with `output`.
    pub(crate) async fn complete(&self, queue: &str, output: serde_json::Value) -> JobId {
        let job = self.claim(queue).await;
        let now = self.clock.now();
        self.store()
            .complete_with_output(job.lease(), &output, now)
            .await
            .expect("the completion is recorded");
        job.id
    }

    /// The job `id`, which must exist.
    pub(crate) async fn job(&self, id: JobId) -> JobRecord {
        self.queue
            .get(id)
            .await
            .expect("the store answers")
            .expect("the job exists")
    }

    /// Moves the clock on by `seconds`.
    pub(crate) fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }

    fn store(&self) -> &Arc<dyn JobStore> {
        self.queue.store()
    }
}

/// A urlencoded form POST to `path`, without the headers a browser adds.
pub(crate) fn form_request(path: &str) -> axum::http::request::Builder {
    Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
}

/// What the dashboard answered.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    /// The `Location` of a redirect.
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|location| location.to_str().ok())
            .unwrap_or_else(|| panic!("a {} without a Location:\n{}", self.status, self.body))
    }

    /// The hidden fields of the form that posts to `action`, as a browser submits them.
    pub(crate) fn form(&self, action: &str) -> Option<Vec<(String, String)>> {
        let start = self.body.find(&format!(r#"action="{action}""#))?;
        let form = &self.body[start..];
        let form = &form[..form.find("</form>")?];
        let fields = form
            .split("<input ")
            .skip(1)
            .filter(|input| input.contains(r#"type="hidden""#))
            .map(|input| (attribute(input, "name"), attribute(input, "value")))
            .collect();
        Some(fields)
    }

    /// Every `href` and form `action` on the page.
    pub(crate) fn links(&self) -> Vec<String> {
        ["href=\"", "action=\""]
            .iter()
            .flat_map(|marker| {
                self.body
                    .match_indices(marker)
                    .map(|(at, _)| attribute(&self.body[at..], marker.trim_end_matches("=\"")))
            })
            .collect()
    }

    /// The text of each cell of the table row whose header cell reads `row`.
    pub(crate) fn row(&self, row: &str) -> Vec<String> {
        let header = format!(">{row}</a></th>");
        let start = self
            .body
            .find(&header)
            .unwrap_or_else(|| panic!("no row {row}:\n{}", self.body));
        let rest = &self.body[start + header.len()..];
        let row = &rest[..rest.find("</tr>").expect("a row ends")];
        row.split("<td").skip(1).map(text).collect()
    }

    /// Whether the page holds `text` (as HTML: escaped where the page escapes it).
    pub(crate) fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

/// The unescaped value of `name="..."` in `tag`.
fn attribute(tag: &str, name: &str) -> String {
    let marker = format!(r#"{name}=""#);
    let start = tag
        .find(&marker)
        .map(|at| at + marker.len())
        .unwrap_or_else(|| panic!("no {name} in {tag}"));
    let value = &tag[start..];
    unescape(&value[..value.find('"').expect("an attribute ends")])
}

/// The text of an HTML fragment: its tags dropped, its entities unescaped.
fn text(fragment: &str) -> String {
    let mut text = String::new();
    let mut in_tag = true; // the fragment starts inside the `<td` it was split on
    for c in fragment.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    unescape(text.trim())
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
