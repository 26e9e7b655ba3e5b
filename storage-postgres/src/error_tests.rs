//! Each SQLSTATE lands in the class that says what to do about it.

use std::borrow::Cow;
use std::error::Error as _;

use leasehold_sql::error::is_advice;

use super::*;

/// A database error with a SQLSTATE, as the server would send it.
#[derive(Debug)]
struct ServerError(&'static str);

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server error {}", self.0)
    }
}

impl std::error::Error for ServerError {}

impl sqlx::error::DatabaseError for ServerError {
    fn message(&self) -> &str {
        "server error"
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.0))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::Other
    }
}

fn server(code: &'static str) -> sqlx::Error {
    sqlx::Error::Database(Box::new(ServerError(code)))
}

fn is_permanent_with(code: &'static str, words: &str) -> bool {
    match store_error(server(code)) {
        StoreError::Permanent { message, .. } => message.contains(words),
        _ => false,
    }
}

#[test]
fn conflicts_lock_and_statement_timeouts_and_a_full_pool_are_busy() {
    for code in ["40001", "40P01", "55P03", "57014", "53300"] {
        assert_eq!(class_of_code(code), Class::Busy, "{code}");
    }
    assert!(matches!(
        store_error(sqlx::Error::PoolTimedOut),
        StoreError::Busy(_)
    ));
}

#[test]
fn a_full_disk_is_permanent_and_says_to_free_space() {
    assert!(is_permanent_with("53100", "disk is full"));
    assert!(is_permanent_with("53100", "free space"));
    assert!(is_permanent_with("53100", "carries on by itself"));
}

#[test]
fn a_read_only_server_is_permanent_and_names_the_standby_and_the_setting() {
    assert!(is_permanent_with("25006", "read-only"));
    assert!(is_permanent_with("25006", "hot standby"));
    assert!(is_permanent_with("25006", "default_transaction_read_only"));
}

#[test]
fn missing_privileges_a_refused_login_and_a_missing_database_are_permanent() {
    assert!(is_permanent_with("42501", "permission denied"));
    assert!(is_permanent_with("42501", "grant"));
    for code in ["28000", "28P01"] {
        assert!(is_permanent_with(code, "refused the login"), "{code}");
        assert!(is_permanent_with(code, "pg_hba.conf"), "{code}");
    }
    assert!(is_permanent_with("3D000", "does not exist"));
}

#[test]
fn corrupted_data_or_indexes_are_permanent_and_say_how_to_repair() {
    for code in ["XX001", "XX002"] {
        assert!(is_permanent_with(code, "corrupted"), "{code}");
        assert!(is_permanent_with(code, "REINDEX"), "{code}");
        assert!(is_permanent_with(code, "backup"), "{code}");
    }
}

#[test]
fn terminated_connections_and_io_errors_stay_transient() {
    // admin_shutdown, crash_shutdown, cannot_connect_now, connection_failure,
    // internal_error.
    for code in ["57P01", "57P02", "57P03", "08006", "XX000"] {
        let error = store_error(server(code));
        assert!(matches!(error, StoreError::Backend(_)), "{code}: {error:?}");
        assert!(error.is_transient(), "{code}");
    }
    let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
    assert!(matches!(store_error(io), StoreError::Backend(_)));
    assert!(matches!(
        store_error(sqlx::Error::WorkerCrashed),
        StoreError::Backend(_)
    ));
}

#[test]
fn running_out_of_memory_stays_transient_with_advice() {
    let error = store_error(server("53200"));

    assert!(error.is_transient(), "{error:?}");
    let source = error.source().expect("a source").to_string();
    assert!(source.contains("ran out of memory"), "{source}");
    assert!(source.contains("server error 53200"), "{source}");
}

#[test]
fn a_permanent_error_keeps_the_servers_error_as_its_source() {
    let error = store_error(server("25006"));

    assert!(!error.is_transient());
    assert_eq!(
        error.source().expect("a source").to_string(),
        "error returned from database: server error 25006"
    );
    assert!(error.to_string().starts_with("store needs attention: "));
}

#[test]
fn every_advice_is_lowercase_and_has_no_final_period() {
    let advice = [
        DISK_FULL_ADVICE,
        READ_ONLY_ADVICE,
        PRIVILEGE_ADVICE,
        LOGIN_ADVICE,
        NO_DATABASE_ADVICE,
        CORRUPTED_ADVICE,
        OUT_OF_MEMORY_ADVICE,
    ];

    let malformed: Vec<_> = advice.iter().filter(|a| !is_advice(a)).collect();

    assert!(malformed.is_empty(), "{malformed:#?}");
}

#[test]
fn a_shared_error_keeps_its_variant_for_every_caller() {
    let busy = shared(store_error(sqlx::Error::PoolTimedOut));
    let permanent = shared(store_error(server("53100")));
    let backend = shared(store_error(server("57P01")));

    assert!(matches!(busy(), StoreError::Busy(_)));
    assert!(matches!(busy(), StoreError::Busy(_)), "a second caller too");
    let permanent = permanent();
    assert!(matches!(&permanent, StoreError::Permanent { message, .. }
        if message.contains("disk is full")));
    let error = backend();
    assert!(matches!(error, StoreError::Backend(_)));
    assert!(
        error
            .to_string()
            .contains("a batch of completions failed: store backend error")
    );
}

#[test]
fn a_call_that_timed_out_is_transient_and_says_its_outcome_is_unknown() {
    let error = timed_out("claim", Duration::from_millis(12_000));

    assert!(matches!(error, StoreError::Backend(_)));
    let message = error.to_string();
    assert!(message.contains("claim"), "{message}");
    assert!(message.contains("12000 ms"), "{message}");
    assert!(
        message.contains("may or may not have taken effect"),
        "{message}"
    );
}
