//! The seam's growth policy: a verb a store lacks, a layer that forwards.

use super::*;
use time::macros::datetime;

/// A store written before any verb existed.
struct Empty;
#[async_trait]
impl JobStore for Empty {}

/// A layer that answers `count` itself and forwards everything else.
struct Counting<S>(S);
#[async_trait]
impl<S: JobStore> JobStore for Counting<S> {
    fn delegate(&self) -> Option<&dyn JobStore> {
        Some(&self.0)
    }
    async fn count(&self, _: &JobFilter, _: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(7)
    }
}

#[tokio::test]
async fn a_verb_a_store_lacks_is_unsupported_by_name_and_a_layer_forwards_the_rest() {
    let now = datetime!(2000-01-01 0:00 UTC);
    let layered = Counting(Counting(Empty));

    let missing = Empty.prune(now, 10).await;
    let dependents = Empty.enqueue_with_dependencies(Vec::new(), now).await;
    let forwarded = layered.list_schedules().await;
    let overridden = layered.count(&JobFilter::all(), now).await;

    assert!(matches!(missing, Err(StoreError::Unsupported("prune"))));
    assert!(matches!(
        dependents,
        Err(StoreError::Unsupported("enqueue_with_dependencies"))
    ));
    assert!(matches!(
        forwarded,
        Err(StoreError::Unsupported("list_schedules"))
    ));
    assert_eq!(overridden.unwrap(), 7);
    assert_eq!(
        StoreError::Unsupported("prune").to_string(),
        "this store does not support prune"
    );
    assert!(!StoreError::Unsupported("prune").is_transient());
    assert!(layered.clock().is_none());
}
