//! [`PostgresStoreOptions`]: which server, which schema, how many connections.

use std::time::Duration;

use leasehold::StoreError;

/// The schema a store keeps its tables in unless told otherwise.
pub const DEFAULT_SCHEMA: &str = "leasehold";

/// The longest schema name accepted: the notification channel is the schema name plus
/// `_enqueued`, and PostgreSQL identifiers stop at 63 bytes.
const MAX_SCHEMA_LEN: usize = 48;

/// How to open a [`PostgresStore`](crate::PostgresStore).
///
/// ```
/// use std::time::Duration;
/// use leasehold_postgres::PostgresStoreOptions;
///
/// let options = PostgresStoreOptions::new("postgres://app@db.internal/app")
///     .schema("jobs")
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(10));
/// assert_eq!(options.schema_name(), "jobs");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresStoreOptions {
    url: String,
    schema: String,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl PostgresStoreOptions {
    /// Options for the database at `url` (`postgres://user:password@host:port/database`,
    /// with any parameter sqlx's `PgConnectOptions` takes), schema
    /// [`DEFAULT_SCHEMA`].
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }

    /// Keeps the store's tables in `schema` (created when missing); `leasehold` by
    /// default. Lowercase ASCII letters, digits and `_`, starting with a letter or
    /// `_`, at most 48 bytes, not starting with `pg_`. Stores on different schemas of
    /// one database are independent.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// At most this many connections in the store's pool; 10 by default, at least 1.
    /// Waking up on enqueues ([`PostgresStore::subscribe_enqueued`](crate::PostgresStore::subscribe_enqueued))
    /// holds one more connection, outside the pool.
    pub fn max_connections(mut self, max_connections: u32) -> Self {
        self.max_connections = max_connections.max(1);
        self
    }

    /// How long a call waits for a free connection before it fails with
    /// [`StoreError::Busy`]; 5 s by default.
    pub fn acquire_timeout(mut self, acquire_timeout: Duration) -> Self {
        self.acquire_timeout = acquire_timeout;
        self
    }

    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema the store's tables live in.
    pub fn schema_name(&self) -> &str {
        &self.schema
    }

    pub(crate) fn max_connections_value(&self) -> u32 {
        self.max_connections
    }

    pub(crate) fn acquire_timeout_value(&self) -> Duration {
        self.acquire_timeout
    }
}

/// `schema` as a quoted identifier, if it is a name leasehold accepts.
///
/// The rules keep the name one PostgreSQL folds to itself, so the quoted and unquoted
/// forms name the same schema, and short enough for the notification channel.
pub(crate) fn quoted_schema(schema: &str) -> Result<String, StoreError> {
    let mut chars = schema.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let valid_rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_start || !valid_rest || schema.len() > MAX_SCHEMA_LEN || schema.starts_with("pg_") {
        return Err(StoreError::backend(format!(
            "invalid schema name {schema:?}: use 1 to {MAX_SCHEMA_LEN} lowercase ASCII \
             letters, digits and '_', starting with a letter or '_', not 'pg_'"
        )));
    }
    Ok(format!("\"{schema}\""))
}

/// The notification channel of the store on `schema`.
pub(crate) fn enqueued_channel(schema: &str) -> String {
    format!("{schema}_enqueued")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_lowercase_identifiers() {
        for good in ["leasehold", "_jobs", "lh_test_0123abcd", &"a".repeat(48)] {
            assert_eq!(quoted_schema(good).unwrap(), format!("\"{good}\""));
        }
        for bad in [
            "",
            "Jobs",
            "1jobs",
            "jobs-x",
            "jobs\"; DROP",
            "pg_jobs",
            &"a".repeat(49),
        ] {
            assert!(quoted_schema(bad).is_err(), "{bad:?} is refused");
        }
    }
}
