//! The whole store contract against a PostgreSQL server: each case on a fresh schema
//! (several independent stores on one schema for the concurrency cases).

mod support;

leasehold::conformance_suite!(match support::PgFactory::from_env() {
    Some(factory) => factory,
    None => return,
});
