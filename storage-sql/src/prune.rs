//! Deleting old finished jobs in bounded batches: [`in_batches`].
//!
//! One `prune` may be asked to delete millions of jobs. Each batch is a transaction (or
//! a statement) of its own, so the locks it takes (SQLite's write lock, PostgreSQL's row
//! locks and its burst of write-ahead log) stay short, and workers' heartbeats and
//! completions slip in between.

use std::future::Future;

use leasehold::StoreError;

/// How many jobs one batch deletes at most.
pub const BATCH: usize = 500;

/// Deletes up to `limit` jobs by calling `batch` with up to [`BATCH`] at a time, until
/// `limit` is reached or a batch deletes fewer than it was allowed (nothing old is
/// left); answers how many were deleted in all.
///
/// # Errors
///
/// The first error of `batch`; the batches before it stay deleted.
pub async fn in_batches<F, Batch>(limit: usize, mut batch: F) -> Result<u64, StoreError>
where
    // A closure returning a future rather than an async closure: the future of a
    // generic async closure cannot be proven `Send`, and a store's must be.
    F: FnMut(usize) -> Batch,
    Batch: Future<Output = Result<u64, StoreError>>,
{
    let mut deleted = 0u64;
    let mut remaining = limit;
    while remaining > 0 {
        let size = remaining.min(BATCH);
        let pruned = batch(size).await?;
        deleted += pruned;
        if pruned < u64::try_from(size).unwrap_or(u64::MAX) {
            break;
        }
        remaining -= size;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn batches_run_until_the_limit_or_a_short_batch() {
        let mut asked = Vec::new();
        let mut left = 1_200u64;

        let deleted = block_on(in_batches(5_000, |size| {
            asked.push(size);
            let taken = left.min(u64::try_from(size).unwrap());
            left -= taken;
            async move { Ok(taken) }
        }))
        .unwrap();

        assert_eq!(deleted, 1_200);
        assert_eq!(asked, [500, 500, 500], "the short third batch ends it");
    }

    #[test]
    fn the_last_batch_is_cut_to_the_limit() {
        let mut asked = Vec::new();

        let deleted = block_on(in_batches(700, |size| {
            asked.push(size);
            async move { Ok(u64::try_from(size).unwrap()) }
        }))
        .unwrap();

        assert_eq!(deleted, 700);
        assert_eq!(asked, [500, 200]);
        assert_eq!(
            block_on(in_batches(0, |_| async { Ok(1) })).unwrap(),
            0,
            "a limit of 0 deletes nothing"
        );
    }
}
