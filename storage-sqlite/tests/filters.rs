//! `list` and `count` write their SQL per filter (only the terms a filter sets, so
//! SQLite can use an index): every combination of filter fields selects exactly the
//! jobs `JobFilter::matches` selects, in either order and past a cursor, on a real
//! file.

use leasehold::testing::conformance::t;
use leasehold::time::OffsetDateTime;
use leasehold::{ClaimRequest, JobFilter, JobId, JobRecord, JobState, JobStore, NewJob};
use leasehold_sqlite::SqliteStore;

/// Twenty-four jobs in two queues, two kinds, some tagged, some due later; then some
/// completed, failed, cancelled and running, finished at different times.
async fn seeded(store: &SqliteStore) {
    for i in 0..24_i64 {
        let run_at = if i % 5 == 0 { t(100) } else { t(0) };
        let mut tags = vec![format!("n{i}")];
        if i % 3 == 0 {
            tags.push("vip".to_owned());
        }
        let job = NewJob::new(
            if i % 2 == 0 { "x" } else { "y" },
            serde_json::json!({ "i": i }),
            run_at,
        )
        .and_then(|job| job.queue(if i % 4 < 2 { "a" } else { "b" }))
        .and_then(|job| job.tags(tags))
        .expect("a valid job");
        store.enqueue(job, t(0)).await.expect("enqueued");
    }
    let queues = ["a".to_owned(), "b".to_owned()];
    let request = ClaimRequest::new("w", &queues, 12, t(600));
    let claimed = store.claim(request, t(1)).await.expect("claimed");
    for (n, job) in (0_i64..).zip(&claimed) {
        match n % 4 {
            0 => store
                .complete(job.lease(), t(2 + n))
                .await
                .expect("completed"),
            1 => store
                .fail(job.lease(), "boom", t(2 + n))
                .await
                .expect("failed"),
            2 => drop(store.cancel(job.id, t(2 + n)).await.expect("cancelled")),
            _ => {} // left running
        }
    }
}

/// The ids `filter` lists, in id order whichever order it asks for.
async fn ids_by_id(store: &SqliteStore, filter: &JobFilter, now: OffsetDateTime) -> Vec<JobId> {
    let mut ids: Vec<JobId> = store
        .list(filter, now)
        .await
        .unwrap()
        .iter()
        .map(|job| job.id)
        .collect();
    if filter.newest_first {
        ids.reverse();
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_combination_of_filter_fields_selects_what_matches_says() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    seeded(&store).await;
    let now = t(50);
    let everything: Vec<JobRecord> = store.list(&JobFilter::all(), now).await.unwrap();
    assert_eq!(everything.len(), 24);
    let states = [None]
        .into_iter()
        .chain(JobState::ALL.iter().copied().map(Some));

    let mut checked = 0;
    for state in states {
        for queue in [None, Some("a"), Some("b")] {
            for kind in [None, Some("x")] {
                for tag in [None, Some("vip")] {
                    for finished_before in [None, Some(t(5))] {
                        let mut filter = JobFilter::all();
                        filter.state = state;
                        filter.queue = queue.map(str::to_owned);
                        filter.kind = kind.map(str::to_owned);
                        filter.tag = tag.map(str::to_owned);
                        filter.finished_before = finished_before;
                        let expected: Vec<_> = everything
                            .iter()
                            .filter(|job| filter.matches(job))
                            .map(|job| job.id)
                            .collect();

                        let oldest = ids_by_id(&store, &filter, now).await;
                        let newest = ids_by_id(&store, &filter.clone().newest_first(), now).await;
                        let counted = store.count(&filter, now).await.unwrap();

                        assert_eq!(oldest, expected, "list {filter:?}");
                        assert_eq!(newest, expected, "list newest first {filter:?}");
                        assert_eq!(counted, expected.len() as u64, "count {filter:?}");
                        if let (Some(first), Some(last)) = (expected.first(), expected.last()) {
                            let after_first = filter.clone().after(*first);
                            let after_first = ids_by_id(&store, &after_first, now).await;
                            let before_last = filter.clone().newest_first().after(*last);
                            let before_last = ids_by_id(&store, &before_last, now).await;
                            let n = expected.len();
                            assert_eq!(after_first, expected[1..], "after {filter:?}");
                            assert_eq!(before_last, expected[..n - 1], "before {filter:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(
        checked > 50,
        "most combinations select some job ({checked})"
    );
}
