//! Every action changes the store, redirects, and the page it lands on says what it
//! did; a refusal of the store is an error page.

use axum::http::StatusCode;
use leasehold::schedule::{NewSchedule, ScheduleSpec};
use leasehold::{JobFilter, JobState};
use serde_json::json;

use super::harness::{Harness, t};
use super::pages::shown_ids;

pub(crate) async fn retry_runs_a_failed_job_again(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    h.fail("mail", "boom").await;
    let page = h.get(&format!("/jobs/{id}")).await;

    let done = h.submit(&page, &format!("/jobs/{id}/retry")).await;
    let landed = h.follow(&done).await;

    assert_eq!(done.location(), format!("/jobs/{id}?done=retried&job={id}"));
    assert!(
        landed.has(&format!(r#"Retried job <a href="/jobs/{id}">{id}</a>"#)),
        "{}",
        landed.body
    );
    assert_eq!(h.job(id).await.state, JobState::Available);
}

pub(crate) async fn cancel_ends_a_pending_job(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    let page = h.get(&format!("/jobs/{id}")).await;

    let landed = h
        .follow(&h.submit(&page, &format!("/jobs/{id}/cancel")).await)
        .await;

    assert!(landed.has("Cancelled job"));
    assert!(landed.has("Cancelled at"));
    assert_eq!(h.job(id).await.state, JobState::Cancelled);
}

pub(crate) async fn cancelling_a_finished_job_is_a_conflict(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    h.complete("mail", json!(null)).await;
    let token = h
        .get(&format!("/jobs/{id}"))
        .await
        .form(&format!("/jobs/{id}/retry"))
        .unwrap();

    let refused = h.post(&format!("/jobs/{id}/cancel"), &token).await;

    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.has("already finished (completed)"));
    assert_eq!(h.job(id).await.state, JobState::Completed);
}

pub(crate) async fn delete_removes_a_job(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    let page = h.get(&format!("/jobs/{id}")).await;

    let done = h.submit(&page, &format!("/jobs/{id}/delete")).await;
    let landed = h.follow(&done).await;

    assert!(done.location().starts_with("/jobs?done=deleted"));
    assert!(landed.has(&format!("Deleted job <code>{id}</code>")));
    assert_eq!(
        h.get(&format!("/jobs/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

pub(crate) async fn the_store_refusing_an_action_is_an_error_page(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    let form = h
        .get(&format!("/jobs/{id}"))
        .await
        .form(&format!("/jobs/{id}/retry"))
        .unwrap();
    h.claim("mail").await;

    let retried = h.post(&format!("/jobs/{id}/retry"), &form).await;
    let deleted = h.post(&format!("/jobs/{id}/delete"), &form).await;
    let gone = h
        .post(&format!("/jobs/{}/retry", leasehold::JobId::MAX), &form)
        .await;
    let malformed = h.post("/jobs/nope/retry", &form).await;

    assert_eq!(retried.status, StatusCode::CONFLICT);
    assert!(retried.has(&format!("cannot retry job {id}: it is running")));
    assert_eq!(deleted.status, StatusCode::CONFLICT);
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.job(id).await.state, JobState::Running);
}

pub(crate) async fn a_bulk_retry_is_confirmed_then_retries_every_job_the_filter_selects(
    h: Harness,
) {
    for _ in 0..5 {
        h.enqueue("send", "mail").await;
        h.fail("mail", "boom").await;
    }
    let elsewhere = h.enqueue("send", "sms").await;
    h.fail("sms", "boom").await;
    let list = h.get("/jobs?queue=mail&state=failed").await;
    assert!(
        list.has(r#"action="/jobs/bulk""#),
        "the list offers bulk actions"
    );

    let confirm = h
        .get("/jobs/bulk?queue=mail&state=failed&action=retry")
        .await;
    assert!(confirm.has("Retry 5 jobs?"), "{}", confirm.body);
    assert!(confirm.has("<li>queue = <code>mail</code></li>"));
    assert_eq!(
        h.queue
            .count(&JobFilter::all().state(JobState::Failed))
            .await
            .unwrap(),
        6
    );

    let done = h.submit(&confirm, "/jobs/bulk").await;
    let landed = h.follow(&done).await;

    assert_eq!(
        done.location(),
        "/jobs?queue=mail&state=failed&done=retried&n=5"
    );
    assert!(landed.has("Retried 5 jobs"));
    assert_eq!(
        h.queue
            .count(&JobFilter::all().queue("mail").state(JobState::Available))
            .await
            .unwrap(),
        5
    );
    assert_eq!(h.job(elsewhere).await.state, JobState::Failed);
}

pub(crate) async fn a_bulk_cancel_and_delete_act_on_the_filter(h: Harness) {
    for kind in ["a", "a", "a", "b"] {
        h.enqueue(kind, "mail").await;
    }

    let cancel = h.get("/jobs/bulk?kind=a&action=cancel").await;
    let cancelled = h.follow(&h.submit(&cancel, "/jobs/bulk").await).await;
    let delete = h.get("/jobs/bulk?state=cancelled&action=delete").await;
    let deleted = h.follow(&h.submit(&delete, "/jobs/bulk").await).await;

    assert!(cancelled.has("Cancelled 3 jobs"));
    assert!(delete.has("Delete 3 jobs?"));
    assert!(deleted.has("Deleted 3 jobs"));
    assert_eq!(h.queue.count(&JobFilter::all()).await.unwrap(), 1);
    assert_eq!(
        shown_ids(&deleted).len(),
        0,
        "the list keeps the filter: no cancelled jobs left"
    );
}

pub(crate) async fn a_bulk_action_must_be_named(h: Harness) {
    h.enqueue("send", "mail").await;
    let form = h
        .get("/jobs/bulk?action=retry")
        .await
        .form("/jobs/bulk")
        .unwrap();
    let mut unnamed: Vec<(String, String)> = form
        .into_iter()
        .filter(|(name, _)| name != "action")
        .collect();

    let confirm = h.get("/jobs/bulk?action=explode").await;
    let posted = h.post("/jobs/bulk", &unnamed).await;
    unnamed.push(("state".into(), "asleep".into()));
    unnamed.push(("action".into(), "retry".into()));
    let bad_state = h.post("/jobs/bulk", &unnamed).await;

    assert_eq!(confirm.status, StatusCode::BAD_REQUEST);
    assert_eq!(posted.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_state.status, StatusCode::BAD_REQUEST);
}

pub(crate) async fn pausing_and_resuming_a_queue_from_the_overview(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    let overview = h.get("/").await;

    let paused = h.follow(&h.submit(&overview, "/queues/pause").await).await;
    let job = h.get(&format!("/jobs/{id}")).await;
    let resumed = h.follow(&h.submit(&paused, "/queues/resume").await).await;

    assert!(paused.has("Paused queue <strong>mail</strong>"));
    assert!(paused.row("mail")[10].contains("paused"));
    assert!(job.has("is paused: no worker claims its jobs"));
    assert!(resumed.has("Resumed queue <strong>mail</strong>"));
    assert!(!h.queue.queue_stats().await.unwrap()[0].paused);
}

pub(crate) async fn pausing_an_unknown_queue_is_a_404_page(h: Harness) {
    h.enqueue("send", "mail").await;
    let mut form = h.get("/").await.form("/queues/pause").unwrap();
    form.retain(|(name, _)| name != "queue");
    form.push(("queue".into(), "mial".into()));

    let page = h.post("/queues/pause", &form).await;

    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.has("queue &quot;mial&quot; not found"));
}

pub(crate) async fn pausing_resuming_and_triggering_a_schedule(h: Harness) {
    let spec = ScheduleSpec::cron("0 0 * * 6", Some("Europe/Berlin")).unwrap();
    let schedule =
        NewSchedule::untyped("weekly", spec, "check_page", json!({ "url": "x" })).unwrap();
    let next = h.scheduler.upsert(schedule).await.unwrap().next_fire_at;
    h.advance(30);

    let page = h.get("/schedules").await;
    let triggered = h.submit(&page, "/schedules/trigger").await;
    let landed = h.follow(&triggered).await;
    let paused = h.follow(&h.submit(&landed, "/schedules/pause").await).await;
    let resumed = h
        .follow(&h.submit(&paused, "/schedules/resume").await)
        .await;

    assert!(landed.has("Triggered schedule <strong>weekly</strong>: enqueued job"));
    let jobs = h
        .queue
        .list(&JobFilter::all().kind("check_page"))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].run_at, t(30), "due now");
    assert!(landed.has(&format!("/jobs/{}", jobs[0].id)));
    assert!(paused.has("Paused schedule <strong>weekly</strong>"));
    assert!(
        paused.form("/schedules/resume").is_some(),
        "a paused schedule offers resume"
    );
    assert!(resumed.has("Resumed schedule <strong>weekly</strong>"));
    let stored = h.scheduler.get("weekly").await.unwrap().unwrap();
    assert!(stored.enabled);
    assert_eq!(
        stored.next_fire_at, next,
        "a trigger leaves the next fire time"
    );
}

pub(crate) async fn acting_on_an_unknown_schedule_is_a_404_page(h: Harness) {
    let fields = [h.csrf_field().await, ("name".into(), "nightly".into())];

    let page = h.post("/schedules/trigger", &fields).await;

    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.has("schedule &quot;nightly&quot; not found"));
}
