//! [`PostgresStoreOptions`]: which server, which schema, how many connections, how long
//! a call may take, and which clock the store offers.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use leasehold::{Clock, StoreError, SystemClock};
use sqlx::postgres::PgConnectOptions;

/// The schema a store keeps its tables in unless told otherwise.
pub const DEFAULT_SCHEMA: &str = "leasehold";

/// The `application_name` of the store's connections unless the URL or
/// [`PostgresStoreOptions::application_name`] names another.
pub const DEFAULT_APPLICATION_NAME: &str = "leasehold";

/// The longest schema name accepted: the notification channel is the schema name plus
/// `_enqueued`, and PostgreSQL identifiers stop at 63 bytes.
const MAX_SCHEMA_LEN: usize = 48;

/// How much longer than the statement timeout the store waits for a call's answer
/// before it gives up on the connection: time for the server's cancellation (an error
/// answer) to arrive, so that a slow statement ends as a clean `Busy` on a connection
/// that stays usable, and only a server that cannot answer at all meets the client's
/// bound.
const ANSWER_GRACE: Duration = Duration::from_secs(2);

/// How to open a [`PostgresStore`](crate::PostgresStore).
///
/// | setting | default |
/// |---|---|
/// | schema | [`DEFAULT_SCHEMA`] |
/// | max connections | 10 |
/// | acquire timeout | 5 s |
/// | connect timeout | 5 s |
/// | statement timeout | 10 s (the store gives up on a call 2 s later) |
/// | application name | the URL's, else [`DEFAULT_APPLICATION_NAME`] |
/// | server clock | on: sampled every 30 s, a skew above 1 s is logged |
///
/// ```
/// use std::time::Duration;
/// use leasehold_postgres::PostgresStoreOptions;
///
/// let options = PostgresStoreOptions::new("postgres://app@db.internal/app")
///     .schema("jobs")
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(10))
///     .statement_timeout(Duration::from_secs(5))
///     .application_name("billing-worker");
/// assert_eq!(options.schema_name(), "jobs");
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStoreOptions {
    url: String,
    schema: String,
    pub(crate) max_connections: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    statement_timeout: Duration,
    application_name: Option<String>,
    server_clock: bool,
    clock_sample_interval: Duration,
    clock_skew_warning: Duration,
    host_clock: Arc<dyn Clock>,
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
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
            application_name: None,
            server_clock: true,
            clock_sample_interval: Duration::from_secs(30),
            clock_skew_warning: Duration::from_secs(1),
            host_clock: Arc::new(SystemClock),
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
    /// A worker uses a few at once (its claim, its heartbeat, its group of completions
    /// and one per job failing or snoozing at that moment), plus one per call the
    /// application makes at the same time; the
    /// first call that finds every connection in use logs a warning saying so.
    /// Waking up on enqueues ([`PostgresStore::subscribe_enqueued`](crate::PostgresStore::subscribe_enqueued))
    /// holds one more connection, outside the pool.
    pub fn max_connections(mut self, max_connections: u32) -> Self {
        self.max_connections = max_connections.max(1);
        self
    }

    /// How long a call waits for a free connection before it fails with
    /// [`StoreError::Busy`]; 5 s by default. sqlx counts opening a new connection as
    /// part of acquiring one, so this also bounds the connects the pool makes during
    /// calls.
    pub fn acquire_timeout(mut self, acquire_timeout: Duration) -> Self {
        self.acquire_timeout = acquire_timeout;
        self
    }

    /// How long opening a connection outside a call may take: the store's first
    /// connection (in [`PostgresStore::connect_with`](crate::PostgresStore::connect_with))
    /// and the enqueue listener's; 5 s by default. A server that does not answer then
    /// fails the connect with [`StoreError::Busy`] instead of hanging it.
    pub fn connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// How long one statement may run; 10 s by default, which leaves room for lock waits
    /// yet stays well inside leases of tens of seconds. `Duration::ZERO` turns both
    /// bounds below off.
    ///
    /// Two bounds follow from it. The server's: every connection the store opens sets
    /// PostgreSQL's `statement_timeout` (after any `options` of the URL, so this one
    /// wins), so the server itself cancels a statement that runs too long (held up by a
    /// lock, say), and the call fails with [`StoreError::Busy`] on a connection that
    /// stays usable. The store's own: a call that gets no answer within the statement
    /// timeout plus 2 s (a network partition that keeps the TCP connection open, a dead
    /// connection, a stuck server) fails with [`StoreError::Backend`] whose message names
    /// the timeout, and its connection is closed rather than returned to the pool. Its
    /// outcome is unknown (the statement may have run), hence `Backend`, not `Busy`.
    /// Waiting for a free connection is bounded apart, by the acquire timeout.
    ///
    /// Migrations at connect are exempt from the server's bound (a migration of a large
    /// table may take longer); a pool handed to
    /// [`PostgresStore::from_pool`](crate::PostgresStore::from_pool) keeps its own
    /// server settings and gets the store's own bound at this default.
    pub fn statement_timeout(mut self, statement_timeout: Duration) -> Self {
        self.statement_timeout = statement_timeout;
        self
    }

    /// The `application_name` every connection of the store carries (its pool and its
    /// `LISTEN` connection), for `pg_stat_activity` and the server's logs; by default the
    /// URL's `application_name` if it names one, else [`DEFAULT_APPLICATION_NAME`].
    /// Operators find (and, if they must, `pg_terminate_backend`) a store's connections
    /// by it.
    pub fn application_name(mut self, application_name: impl Into<String>) -> Self {
        self.application_name = Some(application_name.into());
        self
    }

    /// Whether the store offers a [`ServerClock`](crate::ServerClock) (a clock that
    /// follows the PostgreSQL server's) through `JobStore::clock`, which
    /// `Queue::new` (and so every worker and scheduler built from that queue) reads;
    /// `true` by default. With `false` the store offers none, and a queue reads this
    /// host's `SystemClock`.
    ///
    /// Leave it on when workers run on several machines: their leases are then compared
    /// on one clock, the server's, and a host whose clock is off by seconds can neither
    /// take a job another host is running nor let its own lease lapse unnoticed.
    pub fn server_clock(mut self, enabled: bool) -> Self {
        self.server_clock = enabled;
        self
    }

    /// How often the server clock samples the server's time again; 30 s by default, at
    /// least 100 ms. Between samples it runs on this host's monotonic clock, which
    /// drifts by well under a millisecond a minute.
    pub fn clock_sample_interval(mut self, interval: Duration) -> Self {
        self.clock_sample_interval = interval.max(Duration::from_millis(100));
        self
    }

    /// A measured skew (the server's time minus this host's clock) larger than this is
    /// logged as a warning at every sample; 1 s by default.
    ///
    /// The store does not know the workers' leases; pick a small fraction of the
    /// shortest one (a tenth, the worker's default lease margin, is the most it can
    /// absorb). Workers reading the server clock do not suffer the skew, but anything
    /// that reads this host's clock directly does: other processes on the host, a
    /// `Queue::with_clock(.., SystemClock)`, a store opened with
    /// [`server_clock(false)`](Self::server_clock).
    pub fn clock_skew_warning(mut self, threshold: Duration) -> Self {
        self.clock_skew_warning = threshold;
        self
    }

    /// This host's wall clock, which the server clock measures the skew against
    /// ([`ServerClock::skew`](crate::ServerClock::skew)); `SystemClock` by default.
    /// Only the skew (and its warning) reads it: the server clock's time never does.
    /// Tests inject a clock that is off on purpose.
    pub fn host_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.host_clock = clock;
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

    /// The store's own bound on a call's answer: the statement timeout plus
    /// [`ANSWER_GRACE`], `None` when the statement timeout is off.
    pub(crate) fn call_timeout(&self) -> Option<Duration> {
        (!self.statement_timeout.is_zero()).then(|| self.statement_timeout + ANSWER_GRACE)
    }

    /// The server clock's settings, `None` when it is off.
    pub(crate) fn clock_settings(&self) -> Option<ClockSettings> {
        self.server_clock.then(|| ClockSettings {
            sample_interval: self.clock_sample_interval,
            skew_warning: self.clock_skew_warning,
            host: Arc::clone(&self.host_clock),
        })
    }

    /// The connect options of the URL, with the store's `application_name` and
    /// `statement_timeout`.
    pub(crate) fn connect_options(&self) -> Result<PgConnectOptions, StoreError> {
        let mut connect = PgConnectOptions::from_str(&self.url).map_err(|e| {
            StoreError::backend(format!(
                "invalid PostgreSQL URL {:?}: {e}",
                redact(&self.url)
            ))
        })?;
        match (&self.application_name, connect.get_application_name()) {
            (Some(name), _) => connect = connect.application_name(name),
            (None, Some(_)) => {}
            (None, None) => connect = connect.application_name(DEFAULT_APPLICATION_NAME),
        }
        if !self.statement_timeout.is_zero() {
            // Whole milliseconds, PostgreSQL's unit; never 0, which would mean "off".
            let millis = self.statement_timeout.as_millis().max(1);
            connect = connect.options([("statement_timeout", millis)]);
        }
        Ok(connect)
    }
}

/// What the server clock of a store needs from its options.
#[derive(Debug, Clone)]
pub(crate) struct ClockSettings {
    pub(crate) sample_interval: Duration,
    pub(crate) skew_warning: Duration,
    pub(crate) host: Arc<dyn Clock>,
}

/// `url` without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
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
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/app"),
            "postgres://app:***@db:5432/app"
        );
        assert_eq!(redact("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(redact("postgres:///app"), "postgres:///app");
    }

    #[test]
    fn every_connection_carries_the_statement_timeout_and_an_application_name() {
        let plain = PostgresStoreOptions::new("postgres://app@db/app");
        let named = PostgresStoreOptions::new("postgres://app@db/app?application_name=billing");
        let chosen = PostgresStoreOptions::new("postgres://app@db/app?application_name=billing")
            .application_name("worker-7")
            .statement_timeout(Duration::from_millis(1_500));

        let plain = plain.connect_options().unwrap();
        let named = named.connect_options().unwrap();
        let chosen = chosen.connect_options().unwrap();

        assert_eq!(plain.get_application_name(), Some(DEFAULT_APPLICATION_NAME));
        assert_eq!(plain.get_options(), Some("-c statement_timeout=10000"));
        assert_eq!(
            named.get_application_name(),
            Some("billing"),
            "the URL's name stays"
        );
        assert_eq!(chosen.get_application_name(), Some("worker-7"));
        assert_eq!(chosen.get_options(), Some("-c statement_timeout=1500"));
    }

    #[test]
    fn the_stores_statement_timeout_comes_after_the_urls_options() {
        let options = PostgresStoreOptions::new(
            "postgres://app@db/app?options=-c%20statement_timeout%3D1min%20-c%20geqo%3Doff",
        );

        let connect = options.connect_options().unwrap();

        assert_eq!(
            connect.get_options(),
            Some("-c statement_timeout=1min -c geqo=off -c statement_timeout=10000"),
            "PostgreSQL applies the last setting of a name"
        );
    }

    #[test]
    fn the_call_timeout_is_the_statement_timeout_plus_a_grace_or_none() {
        let options = PostgresStoreOptions::new("postgres:///app");

        assert_eq!(options.call_timeout(), Some(Duration::from_secs(12)));
        assert_eq!(
            options
                .clone()
                .statement_timeout(Duration::from_millis(500))
                .call_timeout(),
            Some(Duration::from_millis(2_500))
        );
        assert_eq!(
            options.statement_timeout(Duration::ZERO).call_timeout(),
            None
        );
    }

    #[test]
    fn the_server_clock_is_on_unless_turned_off() {
        let options = PostgresStoreOptions::new("postgres:///app");

        let settings = options.clock_settings().expect("on by default");

        assert_eq!(settings.sample_interval, Duration::from_secs(30));
        assert_eq!(settings.skew_warning, Duration::from_secs(1));
        assert!(options.server_clock(false).clock_settings().is_none());
    }

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
