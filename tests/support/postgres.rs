//! A `PostgresStore` on a fresh schema of the server `LEASEHOLD_TEST_POSTGRES_URL`
//! names, dropped when the test ends; `None` (after saying so) when no server is set.

// Each test file that includes this module uses a part of it.
#![allow(dead_code)]

use std::sync::Arc;

use leasehold::JobStore;
use leasehold_postgres::PostgresStore;

// The PostgreSQL store's own test support: the server's URL, fresh schemas, and
// dropping them when the test ends.
#[path = "../../storage-postgres/tests/support/mod.rs"]
mod store_support;

use store_support::Schemas;

/// A store on a fresh schema, or `None` when `LEASEHOLD_TEST_POSTGRES_URL` is unset.
pub(crate) async fn open() -> Option<(Arc<dyn JobStore>, Schemas)> {
    let (store, guard) = open_store().await?;
    Some((Arc::new(store), guard))
}

/// A `PostgresStore` on a fresh schema (dropped with the `Schemas`), or `None` when
/// `LEASEHOLD_TEST_POSTGRES_URL` is unset.
pub(crate) async fn open_store() -> Option<(PostgresStore, Schemas)> {
    let schemas = Schemas::new(&store_support::test_url()?);
    let schema = schemas.fresh();
    let store = PostgresStore::connect_with(store_support::options(schemas.url(), &schema))
        .await
        .expect("the store opens");
    Some((store, schemas))
}
