//! Inspection and upkeep, from the [`JobStore`](crate::JobStore) contract: `list`,
//! `count`, `next_due` and `prune`.

use super::{
    StoreFactory, WORKER, claim_one, complete, default_queue, enqueue_at, ids, new_job, race, t,
};
use crate::ClaimRequest;
use crate::{JobFilter, JobState};

/// `list` and `count` select by queue, state and kind, and agree with what happened.
pub async fn list_and_count_agree_with_what_happened(f: &dyn StoreFactory) {
    let store = f.open().await;
    let mut made = Vec::new();
    for (i, queue) in ["a", "a", "a", "a", "b", "b"].iter().enumerate() {
        let job = new_job(if i % 2 == 0 { "even" } else { "odd" }, t(0))
            .queue(*queue)
            .expect("valid");
        made.push(enqueue_at(&*store, job, t(0)).await.id);
    }
    let later = enqueue_at(
        &*store,
        new_job("even", t(100)).queue("a").expect("valid"),
        t(0),
    )
    .await;
    let qa = vec!["a".to_owned()];
    let running = store
        .claim(ClaimRequest::new(WORKER, &qa, 3, t(60)), t(1))
        .await
        .expect("claim");
    complete(&*store, running[0].lease(), t(2)).await;
    store
        .fail(running[1].lease(), "x", t(2))
        .await
        .expect("fail");
    store.cancel(made[4], t(2)).await.expect("cancel");

    let now = t(3);
    let expect = [
        (JobFilter::all(), 7),
        (JobFilter::all().queue("a"), 5),
        (JobFilter::all().queue("b"), 2),
        (JobFilter::all().state(JobState::Running), 1),
        (JobFilter::all().state(JobState::Completed), 1),
        (JobFilter::all().state(JobState::Failed), 1),
        (JobFilter::all().state(JobState::Cancelled), 1),
        (JobFilter::all().state(JobState::Scheduled), 1),
        (JobFilter::all().state(JobState::Available), 2),
        (JobFilter::all().queue("a").state(JobState::Available), 1),
        (JobFilter::all().kind("even"), 4),
        (JobFilter::all().kind("odd").queue("b"), 1),
    ];

    for (filter, n) in expect {
        let listed = store.list(&filter, now).await.expect("list");
        let counted = store.count(&filter, now).await.expect("count");
        assert_eq!(listed.len(), n, "list {filter:?}");
        assert_eq!(
            counted,
            u64::try_from(n).expect("small"),
            "count {filter:?}"
        );
        assert!(
            listed.iter().all(|j| filter.matches(j)),
            "list {filter:?} selects only matches"
        );
        assert!(
            listed.windows(2).all(|w| w[0].id < w[1].id),
            "list is ordered by id"
        );
    }
    assert_eq!(
        store
            .list(&JobFilter::all().limit(2), now)
            .await
            .expect("list")
            .len(),
        2
    );
    assert_eq!(
        store
            .count(&JobFilter::all().limit(2), now)
            .await
            .expect("count"),
        7
    );
    let scheduled = store
        .list(&JobFilter::all().state(JobState::Scheduled), now)
        .await
        .expect("list");
    assert_eq!(ids(&scheduled), vec![later.id]);
}

/// `list` pages by id: `after` starts past a cursor in the list's order, lowest ids
/// first or, with `newest_first`, highest first; the filter and limit apply to each
/// page, and `count` ignores the cursor.
pub async fn list_pages_by_id_after_a_cursor_in_either_order(f: &dyn StoreFactory) {
    let store = f.open().await;
    let mut made = Vec::new();
    for i in 0..7 {
        let queue = if i == 3 { "other" } else { "a" };
        let job = new_job("page", t(0)).queue(queue).expect("valid");
        made.push(enqueue_at(&*store, job, t(i)).await.id);
    }
    let in_a: Vec<_> = made.iter().copied().filter(|id| *id != made[3]).collect();
    let now = t(10);
    let pages = |filter: JobFilter| {
        let store = &store;
        async move {
            let mut seen = Vec::new();
            let mut filter = filter.queue("a").limit(2);
            loop {
                let page = store.list(&filter, now).await.expect("list");
                assert!(page.len() <= 2, "a page holds at most the limit");
                let Some(last) = page.last() else { break };
                filter = filter.after(last.id);
                seen.extend(page.iter().map(|j| j.id));
            }
            seen
        }
    };

    assert_eq!(pages(JobFilter::all()).await, in_a, "oldest first");
    let newest: Vec<_> = in_a.iter().rev().copied().collect();
    assert_eq!(pages(JobFilter::all().newest_first()).await, newest);
    let past_third = JobFilter::all().after(made[2]);
    let listed = store.list(&past_third, now).await.expect("list");
    assert_eq!(ids(&listed), made[3..].to_vec());
    let before_third = JobFilter::all().newest_first().after(made[2]);
    let listed = store.list(&before_third, now).await.expect("list");
    assert_eq!(ids(&listed), vec![made[1], made[0]]);
    assert_eq!(store.count(&past_third, now).await.expect("count"), 7);
}
/// `next_due` is the earliest pending run_at or running lease expiry of the queues.
pub async fn next_due_is_the_earliest_run_at_or_lease_expiry(f: &dyn StoreFactory) {
    let store = f.open().await;
    assert_eq!(
        store.next_due(&default_queue()).await.expect("next_due"),
        None
    );
    enqueue_at(&*store, new_job("k", t(50)), t(0)).await;
    enqueue_at(&*store, new_job("k", t(80)), t(0)).await;
    enqueue_at(
        &*store,
        new_job("k", t(5)).queue("other").expect("valid"),
        t(0),
    )
    .await;

    let pending = store.next_due(&default_queue()).await.expect("next_due");
    claim_one(&*store, t(50), 10).await;
    let leased = store.next_due(&default_queue()).await.expect("next_due");
    let both = store
        .next_due(&["other".to_owned(), "default".to_owned()])
        .await
        .expect("next_due");

    assert_eq!(pending, Some(t(50)));
    assert_eq!(
        leased,
        Some(t(60)),
        "the lease of the claimed job expires first"
    );
    assert_eq!(both, Some(t(5)));
}

/// `prune` deletes up to `limit` terminal jobs finished before the time, nothing else.
pub async fn prune_removes_only_terminal_jobs_finished_before_the_time(f: &dyn StoreFactory) {
    let store = f.open().await;
    let mut terminal = Vec::new();
    for i in 0..5 {
        let job = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
        let claimed = claim_one(&*store, t(0), 1000).await;
        complete(&*store, claimed.lease(), t(10 + i)).await;
        terminal.push(job.id);
    }
    let pending = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    let running = enqueue_at(&*store, new_job("k", t(0)), t(0)).await;
    claim_one(&*store, t(0), 1000).await;

    let first = store.prune(t(13), 2).await.expect("prune");
    let oldest_gone = store.get(terminal[1], t(13)).await.expect("get").is_none();
    let third_kept = store.get(terminal[2], t(13)).await.expect("get").is_some();
    let second = store.prune(t(13), 100).await.expect("prune");
    let third = store.prune(t(1000), 100).await.expect("prune");

    assert_eq!((first, second, third), (2, 1, 2));
    assert!(oldest_gone && third_kept, "prune takes the oldest first");
    for id in &terminal {
        assert!(store.get(*id, t(1000)).await.expect("get").is_none());
    }
    assert!(store.get(pending.id, t(1000)).await.expect("get").is_some());
    assert!(store.get(running.id, t(1000)).await.expect("get").is_some());
}

/// `take_lock` gives a free lock to its first taker until the time it names: another
/// holder is refused until then, the holder renews it, and once it has expired anyone
/// takes it. Locks are independent by name.
pub async fn take_lock_gives_a_lock_to_one_holder_until_it_expires(f: &dyn StoreFactory) {
    let store = f.open().await;
    let take = |holder: &'static str, until: i64, now: i64| {
        let store = store.clone();
        async move {
            store
                .take_lock("retention", holder, t(until), t(now))
                .await
                .expect("take_lock")
        }
    };

    assert!(take("a", 60, 0).await, "a free lock is taken");
    assert!(!take("b", 70, 10).await, "held by a until t(60)");
    assert!(take("a", 120, 50).await, "its holder renews it");
    assert!(!take("b", 130, 110).await, "renewed until t(120)");
    assert!(take("b", 180, 120).await, "expired at t(120): b takes it");
    assert!(!take("a", 200, 130).await, "now b holds it");
    let other = store.take_lock("other", "a", t(200), t(130)).await;
    assert!(other.expect("take_lock"), "another name is another lock");
}

/// Racing takers of a free lock, through one handle or several, at one `now`: exactly
/// one holds it.
pub async fn concurrent_takers_of_a_free_lock_one_wins(f: &dyn StoreFactory) {
    let handles = f.open_shared(4).await;

    let results = race(&handles, 16, |i, store| async move {
        let holder = format!("holder-{i}");
        let taken = store.take_lock("race", &holder, t(60), t(0)).await;
        taken.expect("take_lock")
    })
    .await;

    let winners = results.into_iter().filter(|&taken| taken).count();
    assert_eq!(winners, 1, "exactly one taker holds the lock");
}
