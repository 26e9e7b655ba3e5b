//! Every page shows what the store holds.

use axum::http::{StatusCode, header};
use leasehold::EnqueueOptions;
use leasehold::schedule::{MissedRunPolicy, NewSchedule, ScheduleSpec};
use serde_json::json;

use super::harness::{Harness, WORKER, t};

pub(crate) async fn the_overview_counts_each_queues_jobs_by_state(h: Harness) {
    h.enqueue("send", "mail").await;
    h.enqueue("send", "mail").await;
    h.enqueue("send", "mail").await;
    h.claim("mail").await;
    h.enqueue_new(h.new_job("report", "reports").run_at(t(600)))
        .await;

    let page = h.get("/").await;

    assert_eq!(page.status, StatusCode::OK);
    // scheduled, available, running, completed, failed, cancelled, oldest pending,
    // finished in the last hour (completed, failed, cancelled), status
    let mail = page.row("mail");
    assert_eq!(mail[..6], ["0", "2", "1", "0", "0", "0"]);
    assert!(mail[6].starts_with("2000-01-01 00:00:00 UTC"), "{mail:?}");
    assert!(mail[10].contains("active"), "{mail:?}");
    assert_eq!(page.row("reports")[..6], ["1", "0", "0", "0", "0", "0"]);
    assert!(
        page.links()
            .contains(&"/jobs?queue=mail&state=running".to_owned())
    );
}

pub(crate) async fn the_overview_counts_what_finished_in_the_last_hour(h: Harness) {
    for _ in 0..4 {
        h.enqueue("send", "mail").await;
    }
    h.complete("mail", json!(null)).await;
    h.fail("mail", "boom").await;
    h.advance(2 * 3600);
    h.complete("mail", json!(null)).await;
    h.queue.cancel(h.claim("mail").await.id).await.unwrap();

    let page = h.get("/").await;

    let mail = page.row("mail");
    assert_eq!(mail[3..6], ["2", "1", "1"], "all finished jobs: {mail:?}");
    assert_eq!(mail[7..10], ["1", "0", "1"], "the last hour: {mail:?}");
}

pub(crate) async fn the_overview_says_when_there_are_no_queues(h: Harness) {
    let page = h.get("/").await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("No queues yet"));
}

pub(crate) async fn the_jobs_page_lists_the_newest_first_a_page_at_a_time(h: Harness) {
    let mut ids = Vec::new();
    for _ in 0..120 {
        ids.push(h.enqueue("send", "mail").await);
    }
    let newest_first: Vec<String> = ids.iter().rev().map(ToString::to_string).collect();

    let first = h.get("/jobs").await;
    let next = next_page(&first);
    let second = h.get(&next).await;
    let third = h.get(&next_page(&second)).await;

    assert!(first.has("120 jobs match"));
    assert_eq!(shown_ids(&first), newest_first[..50]);
    assert_eq!(next, format!("/jobs?after={}", newest_first[49]));
    assert_eq!(shown_ids(&second), newest_first[50..100]);
    assert_eq!(shown_ids(&third), newest_first[100..]);
    assert!(
        !third.has(r#"rel="next""#),
        "the last page has no next page"
    );
}

pub(crate) async fn the_jobs_page_filters_by_queue_state_kind_and_tag(h: Harness) {
    let tagged = h.new_job("send", "mail").tags(["vip"]).unwrap();
    let wanted = h.enqueue_new(tagged).await;
    let other_tag = h.enqueue("send", "mail").await;
    let other_kind = h
        .enqueue_new(h.new_job("digest", "mail").tags(["vip"]).unwrap())
        .await;
    let other_queue = h
        .enqueue_new(h.new_job("send", "sms").tags(["vip"]).unwrap())
        .await;

    let page = h
        .get("/jobs?queue=mail&state=available&kind=send&tag=vip")
        .await;
    let running = h.get("/jobs?state=running").await;

    assert_eq!(shown_ids(&page), [wanted.to_string()]);
    for id in [other_tag, other_kind, other_queue] {
        assert!(!page.has(&id.to_string()));
    }
    assert!(
        page.has(r#"<option value="available" selected>"#),
        "the form keeps the filter"
    );
    assert!(running.has("0 jobs match"));
    assert_eq!(
        h.get("/jobs?state=asleep").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.get("/jobs?after=not-an-id").await.status,
        StatusCode::BAD_REQUEST
    );
}

pub(crate) async fn the_job_page_shows_the_whole_job(h: Harness) {
    let options = EnqueueOptions::new()
        .queue("mail")
        .priority(-3)
        .max_attempts(5)
        .unique_key("welcome:ada")
        .tags(["vip", "welcome"])
        .metadata(json!({ "release": "v42" }));
    let payload = json!({ "to": "ada@example.com", "lines": [1, 2] });
    let new_job = options.build("send_email", payload, t(0)).unwrap();
    let id = h.enqueue_new(new_job).await;
    h.fail_attempt("mail", "smtp timeout").await;
    h.advance(60);
    h.fail_attempt("mail", "connection refused").await;
    h.claim("mail").await;

    let page = h.get(&format!("/jobs/{id}")).await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("send_email"));
    assert!(
        page.has("&quot;to&quot;: &quot;ada@example.com&quot;"),
        "pretty JSON payload"
    );
    assert!(page.has("smtp timeout") && page.has("connection refused"));
    assert!(page.has("welcome:ada"));
    assert!(page.has("&quot;release&quot;: &quot;v42&quot;"));
    assert!(page.has("3 of 5"));
    assert!(page.has("-3"));
    assert!(page.has(r#"href="/jobs?tag=vip""#));
    assert!(page.has(&format!("Running: leased by <code>{WORKER}</code> until")));
    assert!(page.has("2000-01-01 00:01:30 UTC"), "the lease's expiry");
}

pub(crate) async fn the_job_page_shows_the_output_of_a_completed_job(h: Harness) {
    let id = h.enqueue("send", "mail").await;
    h.complete("mail", json!({ "delivered": true })).await;

    let page = h.get(&format!("/jobs/{id}")).await;

    assert!(page.has("&quot;delivered&quot;: true"));
    assert!(page.has("Completed at"));
    assert!(page.has("No failed attempts."));
}

pub(crate) async fn the_job_page_says_why_a_job_is_not_running(h: Harness) {
    let scheduled = h
        .enqueue_new(h.new_job("send", "later").run_at(t(600)))
        .await;
    let available = h.enqueue("send", "mail").await;
    let failed = h.enqueue("send", "failing").await;
    h.fail("failing", "the server said no").await;
    let cancelled = h.enqueue("send", "mail").await;
    h.queue.cancel(cancelled).await.unwrap();
    let paused = h.enqueue("send", "held").await;
    h.queue.pause_queue("held").await.unwrap();

    let expired = h.enqueue("send", "stuck").await;
    h.claim("stuck").await;
    h.advance(60);
    let unique = h
        .enqueue_new(h.new_job("send", "mail").unique_key("digest:<42>"))
        .await;

    let why = async |id| h.get(&format!("/jobs/{id}")).await;

    assert!(why(scheduled).await.has("Scheduled in the future: due at"));
    assert!(why(available).await.has("waiting for a free worker slot"));
    let failed = why(failed).await;
    assert!(
        failed.has("Failed at") && failed.has("Last error") && failed.has("the server said no")
    );
    assert!(why(cancelled).await.has("Cancelled at"));
    assert!(why(paused).await.has("<strong>held</strong> is paused"));
    let expired = why(expired).await;
    assert!(expired.has("Running, but the lease of <code>worker-1</code> expired at"));
    assert!(expired.has("the next claim takes the job over"));
    let unique = why(unique).await;
    assert!(unique.has("waiting for a free worker slot"));
    assert!(unique.has(
        "It holds unique key <code>digest:&lt;42&gt;</code>: an enqueue with that key returns this job"
    ));
    assert!(!why(available).await.has("unique key"));
}

pub(crate) async fn a_job_held_back_by_a_limit_says_so_and_the_overview_shows_the_queues(
    h: Harness,
) {
    let keyed = h
        .enqueue_new(
            h.new_job("call", "partners")
                .limit_key("partner:<acme>")
                .unwrap(),
        )
        .await;
    let two = leasehold::Limit::running(2).unwrap();
    let key = leasehold::LimitScope::Key("partner:<acme>".into());
    h.queue.set_limit(&key, two).await.unwrap();
    let queue = leasehold::LimitScope::Queue("partners".into());
    h.queue.set_limit(&queue, two).await.unwrap();

    let job = h.get(&format!("/jobs/{keyed}")).await;
    let overview = h.get("/").await;

    assert!(
        job.has("waiting for a free worker slot, or for the limit of key"),
        "{}",
        job.body
    );
    assert!(
        job.has("partner:&lt;acme&gt;"),
        "the key is escaped: {}",
        job.body
    );
    assert!(job.has("and the limit of queue"));
    assert!(job.has("(at most 2 running) to allow it."));
    assert!(
        overview.has("limit: at most 2 running"),
        "{}",
        overview.body
    );
}

pub(crate) async fn a_job_that_does_not_exist_is_a_404_page_and_a_malformed_id_a_400(h: Harness) {
    let unknown = h.get(&format!("/jobs/{}", leasehold::JobId::MAX)).await;
    let malformed = h.get("/jobs/12345").await;
    let nowhere = h.get("/nowhere").await;

    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.has("not found"));
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(malformed.has("is not a job id"));
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert!(nowhere.has("<nav>"), "error pages keep the navigation");
}

pub(crate) async fn the_schedules_page_shows_the_next_fire_times_in_the_schedules_timezone(
    h: Harness,
) {
    let spec = ScheduleSpec::cron("0 0 * * 6", Some("Europe/Berlin")).unwrap();
    let weekly = NewSchedule::untyped("weekly-check", spec, "check_page", json!({ "url": "x" }))
        .unwrap()
        .missed(MissedRunPolicy::CatchUp { max: 3 });
    h.scheduler.upsert(weekly).await.unwrap();
    let every = ScheduleSpec::interval(std::time::Duration::from_secs(900), t(0)).unwrap();
    h.scheduler
        .upsert(NewSchedule::untyped("quarterly", every, "tick", json!(null)).unwrap())
        .await
        .unwrap();
    h.scheduler.pause("quarterly").await.unwrap();

    let page = h.get("/schedules").await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("cron 0 0 * * 6") && page.has("Europe/Berlin"));
    // Saturdays at midnight in Berlin; t(0) is a Saturday at 01:00 there.
    for day in ["01-08", "01-15", "01-22", "01-29", "02-05"] {
        assert!(
            page.has(&format!("2000-{day} 00:00:00 CET")),
            "{day}: {}",
            page.body
        );
    }
    assert!(
        !page.has("2000-02-12 00:00:00 CET"),
        "five fire times, no more"
    );
    assert!(page.has("caught up, at most 3"));
    assert!(page.has("every 15m from 2000-01-01 00:00:00 UTC"));
    assert!(page.has("paused") && page.has("active"));
}

pub(crate) async fn the_stylesheet_is_served_by_the_dashboard(h: Harness) {
    let page = h.get("/").await;
    let css = h.get("/assets/dashboard.css").await;

    assert!(page.links().contains(&"/assets/dashboard.css".to_owned()));
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(css.has(".badge"));
}

/// The ids of the jobs a jobs page lists, in order.
pub(crate) fn shown_ids(page: &super::harness::Page) -> Vec<String> {
    page.links()
        .into_iter()
        .filter_map(|link| link.strip_prefix("/jobs/").map(str::to_owned))
        .filter(|id| id.parse::<leasehold::JobId>().is_ok())
        .collect()
}

/// The "Next page" link of a jobs page.
fn next_page(page: &super::harness::Page) -> String {
    let at = page
        .body
        .find(r#"rel="next" href=""#)
        .unwrap_or_else(|| panic!("no next page:\n{}", page.body));
    let link = &page.body[at + r#"rel="next" href=""#.len()..];
    link[..link.find('"').unwrap()].replace("&amp;", "&")
}

pub(crate) async fn a_waiting_jobs_page_says_what_it_waits_for(h: Harness) {
    let done = h.enqueue("fetch", "pages").await;
    h.complete("pages", json!(null)).await;
    let open = h.enqueue("fetch", "pages").await;
    let digest = h
        .new_job("digest", "mail")
        .depends_on([done, open])
        .on_dependency_failure(leasehold::DependencyFailure::Ignore);
    let digest = h.enqueue_new(digest).await;

    let page = h.get(&format!("/jobs/{digest}")).await;
    let overview = h.get("/").await;
    let dependency = h.get(&format!("/jobs/{done}")).await;

    assert!(dependency.has("<h2>Dependents</h2>"), "{}", dependency.body);
    assert!(
        dependency.links().contains(&format!("/jobs/{digest}")),
        "the dependency's page links its dependent"
    );
    assert!(dependency.has("waiting"), "the dependent's state");
    assert!(
        !page.has("<h2>Dependents</h2>"),
        "nothing waits on the digest"
    );

    assert!(
        page.has("Waiting for its dependencies: 1 of 2 have not ended"),
        "{}",
        page.body
    );
    assert!(page.has("runs anyway once every one has ended"));
    assert!(page.has("<h2>Dependencies</h2>"));
    for dependency in [done, open] {
        assert!(
            page.links().contains(&format!("/jobs/{dependency}")),
            "links {dependency}"
        );
    }
    assert!(
        page.has("completed") && page.has("available"),
        "each one's state"
    );
    assert!(
        page.form(&format!("/jobs/{digest}/retry")).is_none(),
        "it runs by itself"
    );
    assert!(page.form(&format!("/jobs/{digest}/cancel")).is_some());
    assert!(
        overview.has("<th class=\"num\">waiting</th>"),
        "{}",
        overview.body
    );
    assert_eq!(
        overview.row("mail")[6],
        "1",
        "the waiting column, last of the states"
    );
}

pub(crate) async fn a_batch_callbacks_page_shows_the_batchs_progress(h: Harness) {
    let batch = h.queue.batch();
    let members: Vec<leasehold::NewJob> = (0..3).map(|_| h.new_job("fetch", "pages")).collect();
    let tag = batch.tag();
    let members: Vec<leasehold::NewJob> = members
        .into_iter()
        .map(|job| job.tags([tag.clone()]).unwrap())
        .collect();
    h.queue.enqueue_many_new(members).await.unwrap();
    h.complete("pages", json!(null)).await;
    let callback = h
        .new_job("digest", "mail")
        .depends_on(batch.members().await.unwrap())
        .on_dependency_failure(leasehold::DependencyFailure::Ignore);
    let mut callback = callback;
    callback.id = batch.id();
    h.enqueue_new(callback).await;
    let plain = h.enqueue("fetch", "pages").await;

    let page = h.get(&format!("/jobs/{}", batch.id())).await;
    let member = h.get(&format!("/jobs/{plain}")).await;

    assert!(page.has("<h2>Batch</h2>"), "{}", page.body);
    assert!(page.has("the callback of a batch of"), "{}", page.body);
    assert!(page.has("3 members"), "{}", page.body);
    assert!(
        page.has("1 completed, 0 failed, 0 cancelled, 2 not ended"),
        "{}",
        page.body
    );
    let members_link = format!("/jobs?tag={}", tag.replace(':', "%3A"));
    assert!(
        page.links().iter().any(|link| link == &members_link),
        "links the members' list {members_link}: {:?}",
        page.links()
    );
    assert!(!member.has("<h2>Batch</h2>"), "a job that is no callback");
}
