//! Time, from the [`JobStore`](crate::JobStore) contract: a store reads no clock, and
//! returns every time exactly as it was given.

use time::Duration;

use super::{StoreFactory, claim, claim_one, complete, enqueue_at, get, new_job, t, t2100};
use crate::JobState;

/// The store reads no clock: the same story in 2000 and in 2100 gives the same answers.
pub async fn the_store_uses_only_the_time_it_is_given(f: &dyn StoreFactory) {
    for base in [t(0), t2100(0)] {
        let store = f.open().await;
        let at = |s: i64| base + Duration::seconds(s);
        let job = enqueue_at(&*store, new_job("k", at(60)), at(0)).await;

        assert_eq!(get(&*store, job.id, at(0)).await.state, JobState::Scheduled);
        assert!(claim(&*store, 10, at(59), 30).await.is_empty());
        let claimed = claim_one(&*store, at(60), 30).await;
        assert_eq!(claimed.lease_until, Some(at(90)));
        assert!(claim(&*store, 10, at(89), 30).await.is_empty());
        let reclaimed = claim_one(&*store, at(90), 30).await;
        assert_eq!(reclaimed.attempt, 2);
        complete(&*store, reclaimed.lease(), at(100)).await;
        assert_eq!(
            get(&*store, job.id, at(100)).await.finished_at,
            Some(at(100))
        );
        assert_eq!(store.prune(at(100), 10).await.expect("prune"), 0);
        assert_eq!(store.prune(at(101), 10).await.expect("prune"), 1);
    }
}

/// Times come back exactly as given, to the microsecond, before 1970 and after 2100.
pub async fn timestamps_round_trip_exactly(f: &dyn StoreFactory) {
    let store = f.open().await;
    let times = [
        t(0) + Duration::microseconds(1),
        t2100(0) + Duration::microseconds(999_999),
        time::macros::datetime!(1969-07-20 20:17:40.123_456 UTC),
        time::macros::datetime!(2999-12-31 23:59:59.999_999 UTC),
    ];
    for (i, &run_at) in times.iter().enumerate() {
        let now = run_at - Duration::microseconds(7);
        let job = new_job(&format!("k{i}"), now).run_at(run_at);

        let stored = enqueue_at(&*store, job, now).await;

        let read = get(&*store, stored.id, now).await;
        assert_eq!(read.run_at, run_at);
        assert_eq!(read.created_at, now);
        assert_eq!(read, stored);
    }
}
