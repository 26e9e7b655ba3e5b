//! What users put in jobs is shown escaped; read-only mode changes nothing; a POST
//! needs the CSRF token and the same origin; the router works nested anywhere.

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use leasehold::schedule::{NewSchedule, ScheduleSpec};
use leasehold::{JobFilter, JobState, NewJob};
use leasehold_web::Dashboard;
use serde_json::json;

use super::harness::{Harness, form_request, t};

const SCRIPT: &str = "<script>alert(1)</script>";
const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

pub(crate) async fn what_users_put_in_jobs_is_shown_escaped(h: Harness) {
    let job = NewJob::new(SCRIPT, json!({ "html": SCRIPT }), t(0))
        .and_then(|job| job.queue(SCRIPT))
        .and_then(|job| job.tags([SCRIPT]))
        .unwrap();
    let id = h.enqueue_new(job).await;
    h.fail(SCRIPT, SCRIPT).await;
    let spec = ScheduleSpec::cron("0 * * * *", None).unwrap();
    h.scheduler
        .upsert(NewSchedule::untyped(SCRIPT, spec, SCRIPT, json!({ "html": SCRIPT })).unwrap())
        .await
        .unwrap();

    let pages = [
        h.get("/").await,
        h.get("/jobs").await,
        h.get(&format!("/jobs?kind={}", urlencode(SCRIPT))).await,
        h.get(&format!("/jobs/{id}")).await,
        h.get("/schedules").await,
        h.get(&format!(
            "/jobs/bulk?action=delete&tag={}",
            urlencode(SCRIPT)
        ))
        .await,
        h.get(&format!("/?done=paused&queue={}", urlencode(SCRIPT)))
            .await,
    ];

    for page in pages {
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(!page.has("<script"), "unescaped: {}", page.body);
        assert!(page.has(ESCAPED), "{}", page.body);
    }
}

pub(crate) async fn an_error_message_is_shown_escaped(h: Harness) {
    let token = h.csrf_field().await;

    let page = h
        .post("/queues/pause", &[token, ("queue".into(), SCRIPT.into())])
        .await;

    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.has("<script"));
    assert!(page.has(ESCAPED));
}

pub(crate) async fn read_only_mode_renders_no_buttons_and_refuses_every_post(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    h.fail("mail", "boom").await;
    let writable_token = h.csrf_field().await;
    let h = h.serving(|queue| Dashboard::new(queue).read_only(true).router());

    let pages = [
        h.get("/").await,
        h.get("/jobs").await,
        h.get(&format!("/jobs/{id}")).await,
    ];
    let confirm = h.get("/jobs/bulk?action=delete").await;
    let retry = h
        .post(
            &format!("/jobs/{id}/retry"),
            std::slice::from_ref(&writable_token),
        )
        .await;
    let bulk = h
        .post(
            "/jobs/bulk",
            &[writable_token, ("action".into(), "delete".into())],
        )
        .await;

    for page in pages {
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            !page.has(r#"method="post""#),
            "a read-only page has a form: {}",
            page.body
        );
        assert!(!page.has("_csrf"));
        assert!(page.has("read-only"));
    }
    assert_eq!(confirm.status, StatusCode::FORBIDDEN);
    assert_eq!(retry.status, StatusCode::FORBIDDEN);
    assert!(retry.has("read-only"));
    assert_eq!(bulk.status, StatusCode::FORBIDDEN);
    assert_eq!(h.job(id).await.state, JobState::Failed);
    assert_eq!(h.queue.count(&JobFilter::all()).await.unwrap(), 1);
}

pub(crate) async fn a_post_without_the_csrf_token_or_from_another_site_is_refused(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    h.fail("mail", "boom").await;
    let path = format!("/jobs/{id}/retry");
    let good = h.csrf_field().await;
    let another = Harness::memory().await.csrf_field().await;
    let with = |builder: axum::http::request::Builder, fields: &[(String, String)]| {
        builder
            .body(Body::from(serde_urlencoded::to_string(fields).unwrap()))
            .unwrap()
    };

    let missing = h.post(&path, &[]).await;
    let wrong = h.post(&path, &[another]).await;
    let cross_site = h
        .send(with(
            form_request(&path).header("sec-fetch-site", "cross-site"),
            std::slice::from_ref(&good),
        ))
        .await;
    let from_origin = async |origin: &str| {
        h.send(with(
            form_request(&path)
                .header(header::HOST, "dashboard.test")
                .header(header::ORIGIN, origin),
            std::slice::from_ref(&good),
        ))
        .await
    };
    let other_origin = from_origin("https://evil.test").await;
    let opaque_origin = from_origin("null").await;

    for refused in [&missing, &wrong, &cross_site, &other_origin, &opaque_origin] {
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    }
    assert!(missing.has("CSRF token is missing or wrong"));
    assert!(cross_site.has("another site"));
    assert_eq!(
        h.job(id).await.state,
        JobState::Failed,
        "nothing was retried"
    );

    // The same token from a tool that sends no browser headers passes.
    let plain = h.send(with(form_request(&path), &[good])).await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER);
    assert_eq!(h.job(id).await.state, JobState::Available);
}

pub(crate) async fn every_response_carries_the_security_headers(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    let token = h.csrf_field().await;

    let responses = [
        h.get("/").await,
        h.get("/jobs/12345").await,
        h.get("/assets/dashboard.css").await,
        h.post(&format!("/jobs/{id}/cancel"), &[token]).await,
        h.post(&format!("/jobs/{id}/cancel"), &[]).await,
    ];

    for response in responses {
        let csp = response.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'none'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(response.headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(response.headers[header::REFERRER_POLICY], "same-origin");
        assert_eq!(response.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    assert_eq!(h.get("/").await.headers[header::CACHE_CONTROL], "no-store");
}

pub(crate) async fn nested_at_a_path_every_link_and_form_stays_under_it(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    h.fail("mail", "boom").await;
    h.scheduler
        .upsert(
            NewSchedule::untyped(
                "hourly",
                ScheduleSpec::cron("0 * * * *", None).unwrap(),
                "tick",
                json!(null),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let h = h.serving(|queue| Router::new().nest("/admin/jobs", Dashboard::new(queue).router()));

    let pages = [
        h.get("/admin/jobs").await,
        h.get("/admin/jobs/jobs").await,
        h.get(&format!("/admin/jobs/jobs/{id}")).await,
        h.get("/admin/jobs/schedules").await,
        h.get("/admin/jobs/jobs/bulk?action=retry").await,
        h.get("/admin/jobs/jobs/not-an-id").await,
    ];
    let job = h.get(&format!("/admin/jobs/jobs/{id}")).await;
    let retried = h
        .submit(&job, &format!("/admin/jobs/jobs/{id}/retry"))
        .await;
    let landed = h.follow(&retried).await;
    let css = h.get("/admin/jobs/assets/dashboard.css").await;
    let overview = h.get("/admin/jobs").await;
    let paused = h.submit(&overview, "/admin/jobs/queues/pause").await;
    let paused_page = h.follow(&paused).await;

    for page in &pages {
        for link in page.links() {
            assert!(
                link.starts_with("/admin/jobs"),
                "{link} leaves the mount:\n{}",
                page.body
            );
        }
    }
    assert!(
        pages[0]
            .links()
            .contains(&"/admin/jobs/jobs?queue=mail&state=failed".to_owned())
    );
    assert!(
        retried
            .location()
            .starts_with(&format!("/admin/jobs/jobs/{id}?done=retried"))
    );
    assert!(landed.has("Retried job"));
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(paused.location(), "/admin/jobs?done=paused&queue=mail");
    assert!(paused_page.has("Paused queue <strong>mail</strong>"));
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).unwrap()[2..].to_owned()
}
