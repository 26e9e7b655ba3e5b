//! A heartbeat of many leases extends them in one statement and still answers each
//! lease, in order, as the contract says.

use leasehold::testing::conformance::t;
use leasehold::{HeartbeatStatus, JobId, JobStore, Lease};
use leasehold_sql::testing::claimed;
use leasehold_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_of_many_leases_answers_each_in_order() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let claimed = claimed(&store, 4, t(0), t(60)).await;
    let leases: Vec<Lease> = claimed.iter().map(|j| j.lease()).collect();
    store.cancel(leases[1].job_id, t(1)).await.unwrap();
    store.complete(leases[2], t(1)).await.unwrap();
    let stale = Lease {
        job_id: leases[3].job_id,
        token: leases[3].token + 1,
    };
    let unknown = Lease {
        job_id: JobId::new(t(0)),
        token: 1,
    };

    let answers = store
        .heartbeat(
            &[
                leases[0], leases[1], leases[2], stale, unknown, leases[3], leases[0],
            ],
            t(90),
        )
        .await
        .unwrap();

    use HeartbeatStatus::{Cancelled, Extended, Lost};
    assert_eq!(
        answers,
        [Extended, Cancelled, Lost, Lost, Lost, Extended, Extended]
    );
    for lease in [leases[0], leases[3]] {
        let job = store.get(lease.job_id, t(2)).await.unwrap().unwrap();
        assert_eq!(job.lease_until, Some(t(90)));
    }
}
