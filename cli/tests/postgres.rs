//! The CLI on PostgreSQL: a fresh schema per test (`--schema`) on the server
//! `LEASEHOLD_TEST_POSTGRES_URL` names, dropped when the test ends; skipped, loudly,
//! when it is unset.

mod support;

use std::sync::Arc;

use leasehold::Queue;
use leasehold_postgres::{PostgresStore, PostgresStoreOptions};
use sqlx::{Connection, PgConnection};
use support::{Run, ids, leasehold, runtime, seed_queue};

/// The test server's URL, or `None` after saying loudly that the test is skipped.
fn server_url() -> Option<String> {
    match std::env::var("LEASEHOLD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("SKIPPED: LEASEHOLD_TEST_POSTGRES_URL is unset");
            None
        }
    }
}

/// A schema no other test uses, dropped when the value is.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn fresh(url: &str) -> Self {
        let suffix: String = (0..12).map(|_| fastrand::lowercase()).collect();
        Self {
            url: url.to_owned(),
            name: format!("lh_cli_{suffix}"),
        }
    }

    /// `leasehold --db <server> --schema <this> <args...>`.
    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--db", &self.url, "--schema", &self.name];
        all.extend_from_slice(args);
        leasehold(all)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        let dropped = runtime().block_on(async {
            let mut conn = PgConnection::connect(&self.url).await?;
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await?;
            conn.close().await
        });
        if let Err(error) = dropped {
            eprintln!("test schema {} was left behind: {error}", self.name);
        }
    }
}

#[test]
fn every_noun_works_on_a_postgres_schema() {
    let Some(url) = server_url() else { return };
    let schema = Schema::fresh(&url);
    let seeded = runtime().block_on(async {
        let options = PostgresStoreOptions::new(&url)
            .schema(&schema.name)
            .max_connections(2);
        let store = Arc::new(PostgresStore::connect_with(options).await.expect("opens"));
        let seeded = seed_queue(&Queue::new(store.clone())).await;
        store.close().await;
        seeded
    });

    let migrated = schema.run(&["migrate"]);
    let page = schema.run(&["jobs", "list", "--limit", "3", "--json"]);
    let next = page.json()["next_after"].as_str().map(str::to_owned);
    let rest = schema.run(&[
        "jobs",
        "list",
        "--after",
        next.as_deref().unwrap_or(""),
        "--json",
    ]);
    let dry = schema.run(&["jobs", "retry", "--state", "failed"]);
    let retried = schema.run(&["jobs", "retry", "--state", "failed", "--yes"]);
    let unknown = schema.run(&["schedules", "pause", "nope"]);
    let schedules = schema.run(&["schedules", "list", "--json"]);
    let stats = schema.run(&["stats", "--json"]);

    assert_eq!(migrated.code, 0, "{migrated:?}");
    assert!(
        migrated.stdout.contains(&format!(
            "schema \"{}\" is at schema version {}",
            schema.name,
            support::latest_version("postgres")
        )),
        "{}",
        migrated.stdout
    );
    assert_eq!(ids(&page.json()["jobs"])[0], seeded.failed.to_string());
    assert_eq!(ids(&rest.json()["jobs"]).len(), 2, "{rest:?}");
    assert_eq!(
        (dry.code, dry.stdout.as_str()),
        (4, "would retry 1 job (nothing changed)\n")
    );
    assert_eq!(retried.code, 0, "{retried:?}");
    assert_eq!(unknown.code, 3, "{unknown:?}");
    assert_eq!(schedules.json()[0]["timezone"], "Europe/Berlin");
    assert_eq!(stats.json()["available"], 4);
}

#[test]
fn the_printed_sql_migrates_a_schema_the_store_then_accepts() {
    let Some(url) = server_url() else { return };
    let schema = Schema::fresh(&url);
    let printed = schema.run(&["migrate", "--print"]);
    assert_eq!(printed.code, 0, "{printed:?}");

    runtime().block_on(async {
        let mut conn = PgConnection::connect(&url).await.expect("connects");
        let mut tx = conn.begin().await.expect("begins");
        sqlx::raw_sql(sqlx::AssertSqlSafe(printed.stdout.clone()))
            .execute(&mut *tx)
            .await
            .expect("the printed SQL runs");
        tx.commit().await.expect("commits");
    });
    let migrated = schema.run(&["migrate", "--json"]);

    assert_eq!(migrated.code, 0, "{migrated:?}");
    assert_eq!(
        migrated.json()["schema_version"],
        support::latest_version("postgres")
    );
}

#[test]
fn an_invalid_schema_name_is_one_line_and_exit_1() {
    let Some(url) = server_url() else { return };

    let run = leasehold(["--db", &url, "--schema", "Bad-Name", "stats"]);

    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("invalid schema name"), "{}", run.stderr);
}
