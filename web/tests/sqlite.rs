//! The dashboard's scenarios on a `SqliteStore` in a temporary file.

mod suite;

dashboard_suite!(suite::Harness::sqlite);
