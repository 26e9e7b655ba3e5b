//! The dashboard in a real browser: headless Chromium, driven through chromedriver,
//! retries a failed job and sees a worker complete it.
//!
//! - Runs when `LEASEHOLD_TEST_CHROMEDRIVER` names a chromedriver binary (CI sets it);
//!   `LEASEHOLD_TEST_CHROMIUM` names the browser, `/usr/bin/chromium` by default.
//!   Without the first it says loudly that it skipped, and passes.
//! - Leaves two screenshots in the target directory (`$CARGO_TARGET_DIR`, else the
//!   workspace's `target/`): `dashboard-screenshot.png` (the completed job) and
//!   `dashboard-overview.png`, the pictures the README shows.
//!
//! What it checks is what a person sees: the text of each page, and the buttons and
//! links they would click; the store is asked only at the end.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use leasehold::worker::{JobContext, JobError, Worker};
use leasehold::{ClaimRequest, Job, JobId, JobState, NewJob, Queue};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions};
use leasehold_web::Dashboard;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How long chromedriver may take to listen, and Chromium to open a session.
const STARTUP: Duration = Duration::from_secs(30);
/// How long the worker may take to run the retried job.
const COMPLETION: Duration = Duration::from_secs(20);
/// The longest the whole scenario may take before the test fails rather than hangs.
const SCENARIO: Duration = Duration::from_secs(120);

type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[derive(Serialize, Deserialize)]
struct SendEmail {
    to: String,
    subject: String,
}

impl Job for SendEmail {
    const KIND: &'static str = "send_email";
}

#[derive(Serialize, Deserialize)]
struct SyncInvoice {
    invoice: u32,
}

impl Job for SyncInvoice {
    const KIND: &'static str = "sync_invoice";
}

/// The mail server is back: every email goes out now.
async fn send_email(job: SendEmail, ctx: JobContext) -> Result<(), JobError> {
    ctx.set_output(&json!({ "delivered_to": job.to, "smtp": "250 OK" }))?;
    Ok(())
}

async fn sync_invoice(_: SyncInvoice, _: JobContext) -> Result<(), JobError> {
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_is_retried_from_the_browser_and_completes() {
    let Some(chromedriver) = std::env::var_os("LEASEHOLD_TEST_CHROMEDRIVER") else {
        eprintln!(
            "\n\
             ************************************************************************\n\
             SKIPPED: LEASEHOLD_TEST_CHROMEDRIVER is unset (the browser test needs chromedriver)\n\
             ************************************************************************\n"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let queue = queue_in(dir.path()).await;
    let failed = seed(&queue).await;
    let base = serve(Dashboard::new(queue.clone()).router()).await;
    let worker = Worker::builder(&queue)
        .queue("mail", 2)
        .queue("billing", 2)
        .handler(send_email)
        .handler(sync_invoice)
        // The retry wakes the worker through the shared queue; polling is the net.
        .poll_interval(Duration::from_millis(200))
        .max_poll_interval(Duration::from_millis(500))
        .build()
        .expect("the worker builds");
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.run().await }
    });
    let driver = Chromedriver::start(Path::new(&chromedriver), dir.path());
    let client = driver.session(&dir.path().join("chromium-profile")).await;

    let scenario = tokio::spawn(tokio::time::timeout(
        SCENARIO,
        retry_from_the_browser(client.clone(), base, failed),
    ));
    let outcome = scenario.await;
    // The session ends (and Chromium with it) whatever the scenario did.
    let closed = client.close().await;
    worker.shutdown().await;
    running.await.expect("the worker task ends cleanly");

    match outcome {
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => panic!("the scenario task was cancelled: {join}"),
        Ok(Err(_)) => panic!("the scenario took longer than {SCENARIO:?}"),
        Ok(Ok(Err(error))) => panic!("the browser failed: {error}"),
        Ok(Ok(Ok(()))) => {}
    }
    closed.expect("the browser session closes");
    let job = queue
        .get(failed)
        .await
        .expect("the store answers")
        .expect("the job is still there");
    assert_eq!(job.state, JobState::Completed, "{job:?}");
}

/// What a person does: from the overview to the failed job, Retry, and watch it
/// complete.
async fn retry_from_the_browser(client: Client, base: String, failed: JobId) -> Outcome {
    client.goto(&base).await?;
    expect_title(&client, "Overview").await?;
    expect_text(&client, "h1", "Queues").await?;
    expect_text(&client, "main", "mail").await?;
    expect_text(&client, "main", "billing").await?;

    client
        .find(Locator::LinkText("Jobs"))
        .await?
        .click()
        .await?;
    expect_text(&client, "h1", "Jobs").await?;
    expect_text(&client, "main", "send_email").await?;

    // The failed job's row: its id is the link to its page.
    client
        .find(Locator::LinkText(&failed.to_string()))
        .await?
        .click()
        .await?;
    expect_text(&client, "h1", &failed.to_string()).await?;
    expect_text(&client, "main", "failed").await?;
    expect_text(&client, "main", "550 mailbox unavailable").await?;

    let retry =
        format!("//form[@action='/jobs/{failed}/retry']//button[normalize-space()='Retry']");
    client.find(Locator::XPath(&retry)).await?.click().await?;
    // The POST answers 303 to the job's page, whose notice says what was done.
    expect_text(&client, "main", &format!("Retried job {failed}")).await?;
    // The worker runs it in the background: reload until the page says so.
    wait_for_text(&client, "main", "Completed at", COMPLETION, Reload::Yes).await?;
    expect_text(&client, "main", "250 OK").await?;

    let job_png = save_screenshot(&client, "dashboard-screenshot.png").await?;
    client.goto(&base).await?;
    expect_title(&client, "Overview").await?;
    let overview_png = save_screenshot(&client, "dashboard-overview.png").await?;
    eprintln!(
        "screenshots: {} and {}",
        job_png.display(),
        overview_png.display()
    );
    Ok(())
}

/// A queue over a fresh SQLite file in `dir`, on the system clock.
async fn queue_in(dir: &Path) -> Queue {
    let store = SqliteStore::connect_with(SqliteStoreOptions::file(dir.join("jobs.db")))
        .await
        .expect("the SQLite store opens");
    Queue::new(Arc::new(store))
}

/// A `send_email` job that failed for good (returned), and around it what a
/// dashboard usually shows: jobs the worker will run, an invoice that failed for good
/// too, webhooks in a queue no worker serves, a report due in an hour.
async fn seed(queue: &Queue) -> JobId {
    let now = queue.clock().now();
    let email = |to: &str| {
        let payload = json!({ "to": to, "subject": "Welcome aboard" });
        NewJob::new(SendEmail::KIND, payload, now).and_then(|job| job.queue("mail"))
    };
    let invoice = |number: u32| {
        NewJob::new(SyncInvoice::KIND, json!({ "invoice": number }), now)
            .and_then(|job| job.queue("billing"))
    };

    let failed = add(queue, email("ada@example.com")).await;
    fail_for_good(
        queue,
        "mail",
        "smtp.example.com refused the message: 550 mailbox unavailable",
    )
    .await;
    add(queue, invoice(1040)).await;
    fail_for_good(
        queue,
        "billing",
        "billing API answered 422: invoice 1040 is void",
    )
    .await;

    for to in ["grace@example.com", "linus@example.com"] {
        add(queue, email(to).and_then(|job| job.tags(["welcome"]))).await;
    }
    for number in [1041, 1042, 1043] {
        add(queue, invoice(number)).await;
    }
    for shop in ["acme", "globex", "initech"] {
        let payload = json!({ "url": format!("https://{shop}.example/hooks/order") });
        let webhook = NewJob::new("deliver_webhook", payload, now);
        add(queue, webhook.and_then(|job| job.queue("webhooks"))).await;
    }
    let in_an_hour = now + Duration::from_secs(3600);
    let report = NewJob::new("build_report", json!({ "month": "2026-01" }), in_an_hour);
    add(queue, report.and_then(|job| job.queue("reports"))).await;
    failed
}

/// Enqueues `job`, which must be valid.
async fn add(queue: &Queue, job: Result<NewJob, leasehold::Error>) -> JobId {
    let job = job.expect("a valid job");
    queue
        .enqueue_new(job)
        .await
        .expect("the enqueue succeeds")
        .job
        .id
}

/// Claims the one due job of `queue_name` as a worker would, and ends it `Failed`.
async fn fail_for_good(queue: &Queue, queue_name: &str, error: &str) {
    let now = queue.clock().now();
    let queues = [queue_name.to_owned()];
    let request = ClaimRequest::new("seed-worker", &queues, 1, now + Duration::from_secs(30));
    let job = queue
        .store()
        .claim(request, now)
        .await
        .expect("the claim succeeds")
        .pop()
        .expect("the job is due");
    queue
        .store()
        .fail(job.lease(), error, queue.clock().now())
        .await
        .expect("the failure is recorded");
}

/// Serves `app` on a free loopback port in a background task; returns its URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("a free loopback port");
    let address = listener.local_addr().expect("the listener's address");
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the dashboard serves");
    });
    format!("http://{address}/")
}

/// Checks the window's title holds `text`; fails with the page's source.
async fn expect_title(client: &Client, text: &str) -> Outcome {
    let title = client.title().await?;
    if title.contains(text) {
        return Ok(());
    }
    let source = client.source().await?;
    Err(format!("the title {title:?} does not hold {text:?}\npage source:\n{source}").into())
}

/// Checks that `selector`'s text holds `text`, waiting up to 10 s for a navigation
/// in flight; fails with the page's source.
async fn expect_text(client: &Client, selector: &str, text: &str) -> Outcome {
    wait_for_text(client, selector, text, Duration::from_secs(10), Reload::No).await
}

/// Whether waiting for a text reloads the page between looks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reload {
    /// Looks again at the page as it is: for a navigation still in flight.
    No,
    /// Loads the page's URL again (a GET: never the resubmission of a form that
    /// `refresh` would be after a POST answered without a redirect).
    Yes,
}

/// Looks at `selector`'s text until it holds `text`, for at most `limit`; fails with
/// what it shows and the page's source.
async fn wait_for_text(
    client: &Client,
    selector: &str,
    text: &str,
    limit: Duration,
    reload: Reload,
) -> Outcome {
    let started = Instant::now();
    loop {
        // An element found just before a navigation replaces the page goes stale
        // before its text is read: look again, as when it was not found.
        let shown = match client.find(Locator::Css(selector)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if shown.contains(text) {
            return Ok(());
        }
        let url = client.current_url().await?;
        if started.elapsed() > limit {
            let source = client.source().await?;
            return Err(format!(
                "after {limit:?}, {selector} of {url} does not show {text:?}\n\
                 it shows: {shown:?}\n\
                 page source:\n{source}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        if reload == Reload::Yes {
            client.goto(url.as_str()).await?;
        }
    }
}

/// Saves a screenshot of the window as `name` in the target directory; checks it is
/// a PNG.
async fn save_screenshot(
    client: &Client,
    name: &str,
) -> Result<PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let png = client.screenshot().await?;
    if png.len() < 1024 || !png.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(format!("the screenshot {name} is no PNG ({} bytes)", png.len()).into());
    }
    let dir = target_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    std::fs::write(&path, &png)?;
    let written = std::fs::metadata(&path)?.len();
    if written == 0 {
        return Err(format!("{} is empty", path.display()).into());
    }
    Ok(path)
}

/// `$CARGO_TARGET_DIR` (a relative one from the workspace root), else the
/// workspace's `target/`.
fn target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the web package sits in the workspace");
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir),
        _ => workspace.join("target"),
    }
}

/// A chromedriver child process, killed (with the browsers it started) when dropped,
/// so a failing test leaves nothing running.
struct Chromedriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Chromedriver {
    /// Starts `binary` on a free loopback port, logging to a file in `dir`, and waits
    /// until it listens.
    fn start(binary: &Path, dir: &Path) -> Self {
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let mut command = Command::new(binary);
        command
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that Drop can end Chromium too.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().unwrap_or_else(|error| {
            panic!("chromedriver {} does not start: {error}", binary.display())
        });
        let mut driver = Self { child, port, log };
        driver.wait_until_listening();
        driver
    }

    fn wait_until_listening(&mut self) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let started = Instant::now();
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited ({status}) before listening\n{}",
                    self.log_text()
                );
            }
            assert!(
                started.elapsed() < STARTUP,
                "chromedriver did not listen on port {} within {STARTUP:?}\n{}",
                self.port,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new browser session: headless Chromium with a fresh profile in `profile`.
    async fn session(&self, profile: &Path) -> Client {
        let chromium = std::env::var("LEASEHOLD_TEST_CHROMIUM")
            .unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let capabilities: Capabilities = json!({
            "browserName": "chrome",
            "timeouts": { "pageLoad": 30_000, "script": 30_000, "implicit": 0 },
            "goog:chromeOptions": {
                "binary": chromium,
                // No network here: without the background-networking switches
                // Chromium waits on connections that are refused.
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        })
        .as_object()
        .cloned()
        .expect("the capabilities are an object");
        let url = format!("http://127.0.0.1:{}", self.port);
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        match tokio::time::timeout(STARTUP, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => panic!(
                "chromedriver opened no Chromium session ({chromium}): {error}\n{}",
                self.log_text()
            ),
            Err(_) => panic!(
                "Chromium did not start within {STARTUP:?} ({chromium})\n{}",
                self.log_text()
            ),
        }
    }

    /// The end of chromedriver's log, to explain a failure.
    fn log_text(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "chromedriver log ({}):\n{}",
            self.log.display(),
            tail.join("\n")
        )
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any Chromium it left behind.
        let group = format!("-{}", self.child.id());
        let killed_group = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !killed_group {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}
