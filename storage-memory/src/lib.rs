//! `leasehold-memory`: an in-memory [`JobStore`](leasehold::JobStore).
//!
//! - [`MemoryStore`]: the reference implementation of the store contract, and a real
//!   product for tests and single-process applications that need no durability.
//!
//! Every operation is indexed: claim, heartbeat, complete, retry and release cost
//! O(log n) in the number of stored jobs (plus the jobs they touch), so a million
//! queued jobs cost no more per claim than ten. Only `list`, `count` and `cancel` of
//! many jobs scan.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), leasehold::StoreError> {
//! use leasehold::{ClaimRequest, JobStore, NewJob, time::OffsetDateTime};
//! use leasehold_memory::MemoryStore;
//!
//! let store = MemoryStore::new();
//! let now = OffsetDateTime::from_unix_timestamp(946_684_800).unwrap(); // 2000-01-01
//! let job = NewJob::new("greet", serde_json::json!({"name": "Ada"}), now).unwrap();
//! store.enqueue(job, now).await?;
//!
//! let later = now + leasehold::time::Duration::minutes(1);
//! let queues = ["default".to_owned()];
//! let request = ClaimRequest::new("worker-1", &queues, 10, later);
//! let claimed = store.claim(request, now).await?;
//! assert_eq!(claimed.len(), 1);
//! store.complete(claimed[0].lease(), now).await?;
//! # Ok(())
//! # }
//! ```

mod index;
mod limit_table;
mod store;

pub use store::MemoryStore;
