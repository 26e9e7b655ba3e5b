//! The dashboard's scenarios on a `MemoryStore`.

mod suite;

dashboard_suite!(suite::Harness::memory);
