//! The whole store contract, against MemoryStore.

use std::sync::Arc;

use leasehold::JobStore;
use leasehold_memory::MemoryStore;

leasehold::conformance_suite!(|| async { Arc::new(MemoryStore::new()) as Arc<dyn JobStore> });
