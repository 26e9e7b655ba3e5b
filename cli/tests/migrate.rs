//! `leasehold migrate` and `migrate --print`, and how the CLI refuses a database it
//! cannot open.

mod support;

use support::{leasehold, on, sqlite_url};

#[test]
fn migrate_creates_the_database_and_reports_its_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());

    let latest = support::latest_version("sqlite");

    let created = on(&url, &["migrate"]);
    let again = on(&url, &["migrate", "--json"]);

    assert_eq!(created.code, 0, "{created:?}");
    assert!(dir.path().join("jobs.db").exists());
    assert!(
        created
            .stdout
            .contains(&format!("is at schema version {latest}")),
        "{}",
        created.stdout
    );
    assert_eq!(
        again.json(),
        serde_json::json!({ "schema_version": latest, "migrated": true })
    );
}

#[test]
fn other_commands_refuse_a_missing_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());

    let run = on(&url, &["jobs", "list"]);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    assert!(!dir.path().join("jobs.db").exists(), "no file was created");
}

#[test]
fn print_shows_the_sql_without_connecting() {
    let sqlite = leasehold(["migrate", "--print", "--backend", "sqlite"]);
    let postgres = leasehold([
        "migrate",
        "--print",
        "--backend",
        "postgres",
        "--schema",
        "jobs",
    ]);
    let from_url = leasehold([
        "--db",
        "postgres://nobody@192.0.2.1/none",
        "migrate",
        "--print",
    ]);
    let json = leasehold(["migrate", "--print", "--backend", "sqlite", "--json"]);

    assert_eq!(sqlite.code, 0, "{sqlite:?}");
    assert!(
        sqlite.stdout.contains("CREATE TABLE jobs"),
        "{}",
        sqlite.stdout
    );
    assert!(sqlite.stdout.contains("INSERT INTO _leasehold_migrations"));
    assert_eq!(postgres.code, 0, "{postgres:?}");
    assert!(
        postgres
            .stdout
            .contains("CREATE SCHEMA IF NOT EXISTS \"jobs\"")
    );
    assert!(postgres.stdout.contains("CREATE TABLE jobs"));
    assert_eq!(
        from_url.code, 0,
        "an unreachable server is never asked: {from_url:?}"
    );
    assert!(
        from_url
            .stdout
            .contains("CREATE SCHEMA IF NOT EXISTS \"leasehold\"")
    );
    let json = json.json();
    assert_eq!(json["backend"], "sqlite");
    assert!(json["sql"].as_str().unwrap().contains("CREATE TABLE jobs"));
}

#[test]
fn print_needs_a_backend() {
    let run = leasehold(["migrate", "--print"]);

    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--backend"), "{}", run.stderr);
}

#[test]
fn a_bad_url_or_a_missing_database_is_one_line_and_exit_1_or_2() {
    let scheme = leasehold(["--db", "mysql://root:secret@db/app", "stats"]);
    let unreachable = leasehold([
        "--db",
        "postgres://nobody@127.0.0.1:1/none",
        "--timeout",
        "2s",
        "stats",
    ]);
    let none = leasehold(["stats"]);

    assert_eq!(scheme.code, 1, "{scheme:?}");
    assert_eq!(scheme.stderr.lines().count(), 1, "{}", scheme.stderr);
    assert!(
        scheme
            .stderr
            .contains("unknown database URL scheme \"mysql\"")
    );
    assert!(
        !scheme.stderr.contains("secret"),
        "the password is redacted"
    );
    assert_eq!(unreachable.code, 1, "{unreachable:?}");
    assert_eq!(
        unreachable.stderr.lines().count(),
        1,
        "{}",
        unreachable.stderr
    );
    assert_eq!(none.code, 2, "{none:?}");
    assert!(
        none.stderr.contains("LEASEHOLD_DATABASE_URL"),
        "{}",
        none.stderr
    );
}

#[test]
fn a_newer_schema_is_refused_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    assert_eq!(on(&url, &["migrate"]).code, 0);
    support::runtime().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO _leasehold_migrations (version, description, success, checksum, \
             execution_time) VALUES (9999, 'future', TRUE, X'00', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    });

    let run = on(&url, &["stats"]);

    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("incompatible store"), "{}", run.stderr);
}

#[test]
fn help_documents_the_exit_codes() {
    let run = leasehold(["--help"]);

    assert_eq!(run.code, 0);
    for line in ["3  not found", "4  a bulk action refused"] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
}
