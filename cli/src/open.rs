//! Opening the store a `--db` URL names: [`backend_of`], [`open`] and [`Opened`].

use std::path::Path;
use std::sync::Arc;

use leasehold::{JobStore, Queue};
use leasehold_postgres::{PostgresStore, PostgresStoreOptions};
use leasehold_sqlite::{SqliteStore, SqliteStoreOptions};

use crate::args::{Backend, GlobalArgs};
use crate::error::CliError;

/// The store a command works on, and the queue over it.
pub(crate) struct Opened {
    /// The queue every command acts through.
    pub(crate) queue: Queue,
    store: Store,
}

/// The concrete store, for what `JobStore` does not offer: the schema version, a
/// clean close.
enum Store {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PostgresStore>),
}

/// Whether a command may create a SQLite file that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// `migrate`: a new file is what it is for.
    Allowed,
    /// Every other command: a missing file is most likely a typo in the path.
    Refused,
}

/// The database URL the options name.
///
/// # Errors
///
/// A usage error when neither `--db` nor `LEASEHOLD_DATABASE_URL` is given.
pub(crate) fn database_url(global: &GlobalArgs) -> Result<&str, CliError> {
    global.db.as_deref().ok_or_else(|| {
        CliError::Usage("no database given: pass --db URL or set LEASEHOLD_DATABASE_URL".into())
    })
}

/// The backend a URL's scheme names.
///
/// # Errors
///
/// [`CliError::Database`] for any other scheme.
pub(crate) fn backend_of(url: &str) -> Result<Backend, CliError> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    match scheme {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        _ => Err(CliError::Database(format!(
            "unknown database URL scheme {scheme:?} in {:?}: use sqlite://PATH or \
             postgres://USER@HOST/DATABASE",
            redact(url)
        ))),
    }
}

/// Opens (and, as every store does, migrates) the store `global` names.
///
/// # Errors
///
/// A usage error without a URL; [`CliError::Database`] for an unknown scheme or a
/// missing SQLite file (unless `create` allows it); the store's error otherwise.
pub(crate) async fn open(global: &GlobalArgs, create: Create) -> Result<Opened, CliError> {
    let url = database_url(global)?;
    let store = match backend_of(url)? {
        Backend::Sqlite => {
            if create == Create::Refused {
                refuse_missing_file(url)?;
            }
            let options = SqliteStoreOptions::new(url).busy_timeout(global.timeout);
            Store::Sqlite(Arc::new(SqliteStore::connect_with(options).await?))
        }
        Backend::Postgres => {
            let options = PostgresStoreOptions::new(url)
                .schema(&global.schema)
                .max_connections(2)
                .connect_timeout(global.timeout)
                .acquire_timeout(global.timeout)
                .application_name("leasehold-cli");
            Store::Postgres(Arc::new(PostgresStore::connect_with(options).await?))
        }
    };
    let dyn_store: Arc<dyn JobStore> = match &store {
        Store::Sqlite(store) => store.clone(),
        Store::Postgres(store) => store.clone(),
    };
    Ok(Opened {
        queue: Queue::new(dyn_store),
        store,
    })
}

impl Opened {
    /// The highest schema migration the database has applied.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub(crate) async fn schema_version(&self) -> Result<i64, CliError> {
        let read = |error: sqlx::Error| {
            CliError::Database(format!("cannot read the schema version: {error}"))
        };
        match &self.store {
            Store::Sqlite(store) => {
                sqlx::query_scalar("SELECT MAX(version) FROM _leasehold_migrations")
                    .fetch_one(store.read_pool())
                    .await
                    .map_err(read)
            }
            Store::Postgres(store) => {
                // The schema name was validated by the store's connect.
                let sql = format!(
                    "SELECT MAX(version) FROM \"{}\"._leasehold_migrations",
                    store.schema()
                );
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(store.pool())
                    .await
                    .map_err(read)
            }
        }
    }

    /// Where the store lives, for messages: the SQLite URL or the PostgreSQL schema.
    pub(crate) fn describe(&self, url: &str) -> String {
        match &self.store {
            Store::Sqlite(_) => format!("SQLite database {url}"),
            Store::Postgres(store) => format!("PostgreSQL schema {:?}", store.schema()),
        }
    }

    /// Closes the store's connections after its pending writes.
    pub(crate) async fn close(self) {
        match self.store {
            Store::Sqlite(store) => store.close().await,
            Store::Postgres(store) => store.close().await,
        }
    }
}

/// Refuses a SQLite URL whose file does not exist (in-memory databases pass).
fn refuse_missing_file(url: &str) -> Result<(), CliError> {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path == ":memory:" || params.split('&').any(|p| p == "mode=memory");
    if in_memory || Path::new(path).exists() {
        return Ok(());
    }
    Err(CliError::Database(format!(
        "SQLite database {path:?} does not exist (`leasehold migrate` creates it)"
    )))
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => match url[start + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..start + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(backend_of("sqlite://jobs.db").ok(), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite::memory:").ok(), Some(Backend::Sqlite));
        assert_eq!(
            backend_of("postgresql://db/app").ok(),
            Some(Backend::Postgres)
        );
        let error = backend_of("mysql://root:pw@db/app")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "unknown database URL scheme \"mysql\" in \"mysql://root:***@db/app\": use \
                 sqlite://PATH or postgres://USER@HOST/DATABASE"
            )
        );
    }

    #[test]
    fn only_an_existing_or_in_memory_database_opens_without_create() {
        assert!(refuse_missing_file("sqlite::memory:").is_ok());
        assert!(refuse_missing_file("sqlite://x?mode=memory&cache=shared").is_ok());
        assert!(refuse_missing_file("sqlite:///nonexistent/dir/jobs.db").is_err());
    }
}
