//! `leasehold queues`, `schedules`, `stats` and `prune`, against a real SQLite file.

mod support;

use leasehold::{JobFilter, JobState, Queue};
use support::{on, seeded_file, with_queue};

#[test]
fn queues_list_counts_each_queues_jobs_by_state() {
    let (_dir, url, _) = seeded_file();

    let table = on(&url, &["queues", "list"]);
    let json = on(&url, &["queues", "list", "--json"]);

    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.starts_with("QUEUE "), "{}", table.stdout);
    let mail = table
        .stdout
        .lines()
        .find(|l| l.starts_with("mail"))
        .expect("a mail row");
    assert_eq!(
        mail.split_whitespace().take(8).collect::<Vec<_>>(),
        ["mail", "no", "0", "3", "0", "0", "0", "0"]
    );
    let queues = json.json();
    let billing = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "billing")
        .expect("billing");
    assert_eq!(billing["failed"], 1);
    assert_eq!(billing["paused"], false);
}

#[test]
fn a_queue_pauses_and_resumes_and_an_unknown_one_exits_3() {
    let (_dir, url, _) = seeded_file();

    let paused = on(&url, &["queues", "pause", "mail"]);
    let listed = on(&url, &["queues", "list", "--json"]).json();
    let resumed = on(&url, &["queues", "resume", "mail", "--json"]);
    let unknown = on(&url, &["queues", "pause", "mial"]);

    assert_eq!(paused.code, 0, "{paused:?}");
    assert_eq!(paused.stdout, "paused queue \"mail\"\n");
    let mail = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "mail")
        .unwrap();
    assert_eq!(mail["paused"], true);
    assert_eq!(
        resumed.json(),
        serde_json::json!({ "queue": "mail", "paused": false })
    );
    assert_eq!(unknown.code, 3, "{unknown:?}");
    assert!(
        unknown.stderr.contains("\"mial\" not found"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn schedules_list_shows_next_fire_times_in_the_schedules_timezone() {
    let (_dir, url, _) = seeded_file();

    let table = on(&url, &["schedules", "list"]);
    let json = on(&url, &["schedules", "list", "--next", "3", "--json"]);

    assert_eq!(table.code, 0, "{table:?}");
    let row = table.stdout.lines().nth(1).expect("a schedule row");
    assert!(row.starts_with("nightly"), "{row}");
    assert!(
        row.contains("03:00:00 CE"),
        "Berlin wall time (CET or CEST): {row}"
    );
    let schedules = json.json();
    let nightly = &schedules[0];
    assert_eq!(nightly["name"], "nightly");
    assert_eq!(nightly["paused"], false);
    assert_eq!(nightly["timezone"], "Europe/Berlin");
    let times = nightly["next_fire_times"].as_array().unwrap();
    assert_eq!(times.len(), 3);
    for t in times {
        let t = t.as_str().unwrap();
        assert!(
            t.contains("T03:00:00+0"),
            "RFC 3339 with Berlin's offset: {t}"
        );
    }
}

#[test]
fn a_schedule_pauses_resumes_and_triggers_and_an_unknown_one_exits_3() {
    let (_dir, url, _) = seeded_file();

    let paused = on(&url, &["schedules", "pause", "nightly", "--json"]);
    let triggered = on(&url, &["schedules", "trigger", "nightly", "--json"]);
    let resumed = on(&url, &["schedules", "resume", "nightly"]);
    let unknown = on(&url, &["schedules", "trigger", "nightlly"]);

    assert_eq!(paused.code, 0, "{paused:?}");
    assert_eq!(paused.json()["paused"], true);
    assert_eq!(triggered.code, 0, "{triggered:?}");
    let job = &triggered.json()["job"];
    assert_eq!(job["kind"], "cleanup");
    assert_eq!(job["queue"], "maintenance");
    assert_eq!(job["state"], "available");
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert!(
        resumed.stdout.starts_with("resumed schedule \"nightly\""),
        "{}",
        resumed.stdout
    );
    assert_eq!(unknown.code, 3, "{unknown:?}");
    assert_eq!(
        unknown.stderr,
        "leasehold: schedule \"nightlly\" not found\n"
    );
}

#[test]
fn stats_sums_every_queue_by_state() {
    let (_dir, url, _) = seeded_file();

    let table = on(&url, &["stats"]);
    let json = on(&url, &["stats", "--json"]).json();

    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("available  3"), "{}", table.stdout);
    assert!(
        table.stdout.contains("3 queues, 0 paused"),
        "{}",
        table.stdout
    );
    assert_eq!(json["available"], 3);
    assert_eq!(json["scheduled"], 1);
    assert_eq!(json["failed"], 1);
    assert_eq!(json["total"], 5);
}

#[test]
fn prune_deletes_only_jobs_finished_longer_ago_than_asked() {
    let (_dir, url, _) = seeded_file();

    let too_young = on(&url, &["prune", "--older-than", "7d", "--json"]);
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let old_enough = on(&url, &["prune", "--older-than", "1s", "--limit", "10"]);
    let bad = on(&url, &["prune", "--older-than", "7 days"]);

    assert_eq!(too_young.json(), serde_json::json!({ "deleted": 0 }));
    assert_eq!(old_enough.code, 0, "{old_enough:?}");
    assert_eq!(old_enough.stdout, "pruned 1 finished jobs\n");
    let failed = with_queue(&url, async |q: &Queue| {
        q.count(&JobFilter::all().state(JobState::Failed)).await
    });
    assert_eq!(failed.unwrap(), 0);
    assert_eq!(bad.code, 2, "{bad:?}");
}

#[test]
fn limits_are_set_listed_shown_on_their_queue_and_removed() {
    let (_dir, url, _) = seeded_file();

    let key = on(
        &url,
        &[
            "limits",
            "set",
            "--key",
            "partner:acme",
            "--max-running",
            "2",
        ],
    );
    let queue = on(
        &url,
        &[
            "limits",
            "set",
            "--queue",
            "mail",
            "--rate",
            "100/1m",
            "--max-running",
            "5",
        ],
    );
    let table = on(&url, &["limits", "list"]);
    let json = on(&url, &["limits", "list", "--json"]).json();
    let queues = on(&url, &["queues", "list"]);
    let zero = on(&url, &["limits", "set", "--key", "k", "--max-running", "0"]);
    let neither = on(&url, &["limits", "set", "--key", "k"]);
    let bad_rate = on(&url, &["limits", "set", "--key", "k", "--rate", "100"]);
    let unknown_queue = on(
        &url,
        &["limits", "set", "--queue", "mial", "--max-running", "1"],
    );
    let removed = on(&url, &["limits", "remove", "--key", "partner:acme"]);
    let again = on(&url, &["limits", "remove", "--key", "partner:acme"]);
    let after = on(&url, &["limits", "list", "--json"]).json();

    assert_eq!(key.code, 0, "{key:?}");
    assert_eq!(key.stdout, "key \"partner:acme\": at most 2 running\n");
    assert_eq!(queue.code, 0, "{queue:?}");
    assert!(table.stdout.starts_with("SCOPE "), "{}", table.stdout);
    let rows: Vec<Vec<&str>> = table
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["key", "partner:acme", "2", "-"],
            vec!["queue", "mail", "5", "100/1m"]
        ]
    );
    assert_eq!(json[1]["limit"]["rate"]["starts"], 100);
    assert_eq!(json[1]["limit"]["rate"]["per_seconds"], 60.0);
    let mail = queues
        .stdout
        .lines()
        .find(|l| l.starts_with("mail"))
        .unwrap();
    assert!(
        mail.ends_with("at most 5 running, at most 100 started per 60s"),
        "{mail}"
    );
    for refused in [&zero, &neither, &bad_rate] {
        assert_eq!(refused.code, 2, "{refused:?}");
    }
    assert!(zero.stderr.contains("at least 1"), "{}", zero.stderr);
    assert_eq!(unknown_queue.code, 3, "{unknown_queue:?}");
    assert_eq!(removed.code, 0, "{removed:?}");
    assert_eq!(again.code, 3, "{again:?}");
    assert!(
        again.stderr.contains("no limit is stored for key"),
        "{}",
        again.stderr
    );
    assert_eq!(
        after.as_array().unwrap().len(),
        1,
        "only the queue's is left: {after}"
    );
}
