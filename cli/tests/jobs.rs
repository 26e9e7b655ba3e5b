//! `leasehold jobs`: list and its pages, show, and retry / cancel / delete by id and in
//! bulk, against a real SQLite file.

mod support;

use leasehold::{DependencyFailure, EnqueueOptions, JobFilter, JobId, Queue};
use serde_json::json;

/// A job of the batch test.
#[derive(serde::Serialize, serde::Deserialize)]
struct SendMail;

impl leasehold::Job for SendMail {
    const KIND: &'static str = "send_mail";
}
use support::{ids, leasehold, on, seeded_file, with_queue};

#[test]
fn list_shows_the_newest_jobs_first_as_a_table_and_as_json() {
    let (_dir, url, seeded) = seeded_file();

    let table = on(&url, &["jobs", "list"]);
    let json = on(&url, &["jobs", "list", "--json"]);

    assert_eq!(table.code, 0, "{table:?}");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("ID "), "{}", table.stdout);
    assert_eq!(lines.len(), 6, "a header and five jobs: {}", table.stdout);
    assert!(
        lines[1].starts_with(&seeded.failed.to_string()),
        "newest first"
    );
    assert!(table.stdout.contains("card declined"));
    assert_eq!(json.code, 0, "{json:?}");
    let page = json.json();
    let jobs = &page["jobs"];
    assert_eq!(ids(jobs)[0], seeded.failed.to_string());
    assert_eq!(jobs[0]["state"], "failed");
    assert_eq!(jobs[0]["last_error"], "card declined");
    assert_eq!(jobs[0]["payload"], json!({ "invoice": 7 }));
    for field in [
        "run_at",
        "created_at",
        "finished_at",
        "attempt",
        "max_attempts",
        "errors",
        "tags",
        "metadata",
    ] {
        assert!(jobs[0].get(field).is_some(), "field {field}");
    }
    time::OffsetDateTime::parse(
        jobs[0]["finished_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("times are RFC 3339");
    assert_eq!(
        page["next_after"],
        serde_json::Value::Null,
        "one short page"
    );
}

#[test]
fn filters_select_by_queue_state_kind_and_tag() {
    let (_dir, url, seeded) = seeded_file();

    let mail = on(&url, &["jobs", "list", "--queue", "mail", "--json"]).json();
    let scheduled = on(&url, &["jobs", "list", "--state", "scheduled", "--json"]).json();
    let reports = on(&url, &["jobs", "list", "--kind", "build_report", "--json"]).json();
    let tenant = on(
        &url,
        &[
            "jobs",
            "list",
            "--tag",
            "tenant:1",
            "--oldest-first",
            "--json",
        ],
    )
    .json();

    assert_eq!(ids(&mail["jobs"]).len(), 3);
    assert_eq!(ids(&scheduled["jobs"]), [seeded.scheduled.to_string()]);
    assert_eq!(ids(&reports["jobs"]), [seeded.scheduled.to_string()]);
    assert_eq!(
        ids(&tenant["jobs"]),
        [seeded.mail[0].to_string(), seeded.mail[1].to_string()]
    );
}

#[test]
fn pages_follow_one_another_through_after() {
    let (_dir, url, seeded) = seeded_file();
    let mut newest_first: Vec<String> = [
        seeded.mail[0],
        seeded.mail[1],
        seeded.mail[2],
        seeded.scheduled,
        seeded.failed,
    ]
    .iter()
    .map(JobId::to_string)
    .collect();
    newest_first.reverse();

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["jobs", "list", "--limit", "2", "--json"];
        if let Some(after) = &after {
            args.extend(["--after", after.as_str()]);
        }
        let page = on(&url, &args).json();
        seen.extend(ids(&page["jobs"]));
        pages += 1;
        match page["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let first_page = on(&url, &["jobs", "list", "--limit", "2"]);
    let oldest = on(
        &url,
        &["jobs", "list", "--limit", "2", "--oldest-first", "--json"],
    )
    .json();

    assert_eq!(seen, newest_first);
    assert_eq!(pages, 3, "2 + 2 + 1");
    assert!(
        first_page
            .stderr
            .contains(&format!("--after {}", newest_first[1])),
        "{first_page:?}"
    );
    assert_eq!(
        ids(&oldest["jobs"]),
        [seeded.mail[0].to_string(), seeded.mail[1].to_string()]
    );
}

#[test]
fn show_prints_every_field_of_one_job() {
    let (_dir, url, seeded) = seeded_file();
    let id = seeded.failed.to_string();

    let text = on(&url, &["jobs", "show", &id]);
    let json = on(&url, &["jobs", "show", &id, "--json"]);

    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("state:"), "{}", text.stdout);
    assert!(
        text.stdout.contains("attempt 1 at"),
        "the error history: {}",
        text.stdout
    );
    let job = json.json();
    assert_eq!(job["id"], id);
    assert_eq!(job["kind"], "sync_invoice");
    assert_eq!(job["errors"][0]["error"], "card declined");
}

#[test]
fn show_lists_what_a_waiting_job_depends_on_with_each_ones_state() {
    let (_dir, url, seeded) = seeded_file();
    let digest = with_queue(&url, async |queue: &Queue| {
        let options = EnqueueOptions::new()
            .depends_on([seeded.failed, seeded.mail[0]])
            .on_dependency_failure(DependencyFailure::Ignore);
        let digest = options
            .build("send_digest", json!({}), queue.clock().now())
            .unwrap();
        queue.enqueue_new(digest).await.unwrap().job.id
    })
    .to_string();

    let text = on(&url, &["jobs", "show", &digest]);
    let json = on(&url, &["jobs", "show", &digest, "--json"]);

    assert_eq!(text.code, 0, "{text:?}");
    // The fields' lines, their padding aside.
    let lines: Vec<String> = text
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    for line in [
        "state: waiting".to_owned(),
        format!("depends on: {} (failed)", seeded.failed),
        format!("depends on: {} (available)", seeded.mail[0]),
        "if one fails: ignore".to_owned(),
    ] {
        assert!(lines.contains(&line), "{line}: {}", text.stdout);
    }
    let job = json.json();
    assert_eq!(job["state"], "waiting");
    assert_eq!(job["depends_on"][0], seeded.failed.to_string());
    assert_eq!(job["on_dependency_failure"], "ignore");
    assert!(
        !lines.iter().any(|line| line.starts_with("batch:")),
        "no batch line for a job that is no batch's callback"
    );
    assert!(!lines.iter().any(|line| line.starts_with("dependent:")));
    // The failed dependency lists the digest that waits on it.
    let failed = on(&url, &["jobs", "show", &seeded.failed.to_string()]);
    let dependent = format!("dependent: {digest} (waiting)");
    assert!(
        failed
            .stdout
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>().join(" ") == dependent),
        "{dependent}: {}",
        failed.stdout
    );

    // A batch's callback: its members' counts, and how to list them.
    let batch = with_queue(&url, async |queue: &Queue| {
        let batch = queue.batch();
        for _ in 0..2 {
            batch
                .add_many([&SendMail], EnqueueOptions::new())
                .await
                .unwrap();
        }
        batch.seal(&SendMail, EnqueueOptions::new()).await.unwrap();
        (batch.id(), batch.tag())
    });
    let (batch_id, batch_tag) = batch;
    let text = on(&url, &["jobs", "show", &batch_id.to_string()]);
    let line = format!(
        "batch: 2 members: 0 completed, 0 failed, 0 cancelled, 2 not ended \
         (list them: jobs list --tag {batch_tag})"
    );
    let lines: Vec<String> = text
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(lines.contains(&line), "{line}: {}", text.stdout);
}

#[test]
fn an_unknown_id_exits_3_and_a_bad_one_exits_2() {
    let (_dir, url, _) = seeded_file();
    let unknown = JobId::new(time::OffsetDateTime::UNIX_EPOCH).to_string();

    let show = on(&url, &["jobs", "show", &unknown]);
    let retry = on(&url, &["jobs", "retry", &unknown]);
    let bad = on(&url, &["jobs", "show", "not-a-uuid"]);

    assert_eq!(show.code, 3, "{show:?}");
    assert_eq!(
        show.stderr.trim(),
        format!("leasehold: job {unknown} not found")
    );
    assert_eq!(retry.code, 3, "{retry:?}");
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("is not a job id"), "{}", bad.stderr);
}

#[test]
fn retry_cancel_and_delete_act_on_each_id() {
    let (_dir, url, seeded) = seeded_file();
    let failed = seeded.failed.to_string();
    let (a, b) = (seeded.mail[0].to_string(), seeded.mail[1].to_string());

    let retried = on(&url, &["jobs", "retry", &failed, "--json"]);
    let cancelled = on(&url, &["jobs", "cancel", &a, &b]);
    let deleted = on(&url, &["jobs", "delete", &a, "--json"]);

    assert_eq!(retried.code, 0, "{retried:?}");
    assert_eq!(retried.json()["jobs"][0]["state"], "available");
    assert_eq!(cancelled.code, 0, "{cancelled:?}");
    assert_eq!(cancelled.stdout.lines().count(), 2, "{}", cancelled.stdout);
    assert!(
        cancelled
            .stdout
            .contains(&format!("cancelled job {b}: now cancelled"))
    );
    assert_eq!(deleted.code, 0, "{deleted:?}");
    assert_eq!(ids(&deleted.json()["jobs"]), [a]);
    let left = with_queue(&url, async |q: &leasehold::Queue| {
        q.count(&JobFilter::all()).await
    });
    assert_eq!(left.unwrap(), 4);
}

#[test]
fn one_unknown_id_among_several_is_reported_and_the_rest_are_done() {
    let (_dir, url, seeded) = seeded_file();
    let unknown = JobId::new(time::OffsetDateTime::UNIX_EPOCH).to_string();
    let known = seeded.mail[2].to_string();

    let run = on(&url, &["jobs", "cancel", &unknown, &known]);

    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stdout.contains(&known), "{}", run.stdout);
}

#[test]
fn a_bulk_action_without_yes_only_counts_and_exits_4() {
    let (_dir, url, _) = seeded_file();

    let dry = on(&url, &["jobs", "cancel", "--queue", "mail"]);
    let dry_json = on(&url, &["jobs", "delete", "--state", "failed", "--json"]);

    assert_eq!(dry.code, 4, "{dry:?}");
    assert_eq!(dry.stdout, "would cancel 3 jobs (nothing changed)\n");
    assert!(dry.stderr.contains("--yes"), "{}", dry.stderr);
    assert_eq!(dry_json.code, 4, "{dry_json:?}");
    assert_eq!(
        dry_json.json(),
        json!({ "action": "delete", "count": 1, "applied": false })
    );
    let mail = on(
        &url,
        &[
            "jobs",
            "list",
            "--queue",
            "mail",
            "--state",
            "available",
            "--json",
        ],
    );
    assert_eq!(ids(&mail.json()["jobs"]).len(), 3, "nothing changed");
}

#[test]
fn a_bulk_action_with_yes_acts_and_counts() {
    let (_dir, url, seeded) = seeded_file();

    let retried = on(
        &url,
        &[
            "jobs", "retry", "--state", "failed", "--queue", "billing", "--yes",
        ],
    );
    let cancelled = on(
        &url,
        &[
            "jobs", "cancel", "--tag", "tenant:1", "--limit", "1", "--yes", "--json",
        ],
    );
    let deleted = on(&url, &["jobs", "delete", "--state", "cancelled", "--yes"]);

    assert_eq!(retried.code, 0, "{retried:?}");
    assert_eq!(retried.stdout, "retried 1 job\n");
    assert_eq!(
        cancelled.json(),
        json!({ "action": "cancel", "count": 1, "applied": true })
    );
    assert_eq!(deleted.stdout, "deleted 1 job\n");
    let gone = on(&url, &["jobs", "show", &seeded.mail[0].to_string()]);
    assert_eq!(gone.code, 3, "the lowest id was cancelled, then deleted");
}

#[test]
fn a_bulk_action_needs_a_filter_or_ids() {
    let (_dir, url, _) = seeded_file();

    let neither = on(&url, &["jobs", "delete", "--yes"]);
    let both = on(
        &url,
        &[
            "jobs",
            "delete",
            "--queue",
            "mail",
            &JobId::new(time::OffsetDateTime::UNIX_EPOCH).to_string(),
        ],
    );
    let bad_state = leasehold(["jobs", "list", "--state", "pending"]);

    assert_eq!(neither.code, 2, "{neither:?}");
    assert_eq!(both.code, 2, "{both:?}");
    assert_eq!(bad_state.code, 2, "{bad_state:?}");
    assert!(
        bad_state.stderr.contains("expected one of scheduled"),
        "{}",
        bad_state.stderr
    );
}
