//! `leasehold stats`, `prune` and `migrate`: the store as a whole.

use leasehold::{JobState, Queue};
use serde_json::{Map, Value, json};

use crate::args::{Backend, GlobalArgs, MigrateArgs, PruneArgs};
use crate::error::CliError;
use crate::open::{Opened, backend_of, database_url};
use crate::output::{Table, print_json, print_text};

/// How many jobs one prune call deletes at most: each call is one transaction, and
/// on SQLite it holds the only writer while it runs.
const PRUNE_BATCH: usize = 1_000;

/// `stats`: jobs by state summed over every queue, and how many queues are paused.
///
/// # Errors
///
/// The store's error.
pub(super) async fn stats(queue: &Queue, json: bool) -> Result<(), CliError> {
    let queues = queue.queue_stats().await?;
    let totals: Vec<(JobState, u64)> = JobState::ALL
        .into_iter()
        .map(|state| (state, queues.iter().map(|q| q.count(state)).sum()))
        .collect();
    let total: u64 = totals.iter().map(|(_, n)| n).sum();
    let paused = queues.iter().filter(|q| q.paused).count();
    if json {
        let mut object = Map::new();
        for (state, n) in &totals {
            object.insert(state.as_str().to_owned(), json!(n));
        }
        object.insert("total".into(), json!(total));
        object.insert("queues".into(), json!(queues.len()));
        object.insert("paused_queues".into(), json!(paused));
        return print_json(&Value::Object(object));
    }
    let mut table = Table::new(vec!["STATE", "JOBS"]);
    for (state, n) in &totals {
        table.row(vec![state.to_string(), n.to_string()]);
    }
    table.row(vec!["total".into(), total.to_string()]);
    table.print()?;
    print_text(&format!("{} queues, {paused} paused\n", queues.len()))
}

/// `prune`: deletes finished jobs older than the age given, in batches, up to the
/// limit.
///
/// # Errors
///
/// The store's error (the batches before it stay deleted).
pub(super) async fn prune(queue: &Queue, args: &PruneArgs, json: bool) -> Result<(), CliError> {
    let mut left = args.limit.unwrap_or(usize::MAX);
    let mut deleted: u64 = 0;
    while left > 0 {
        let batch = left.min(PRUNE_BATCH);
        let n = queue.prune(args.older_than, batch).await?;
        deleted += n;
        left -= usize::try_from(n).unwrap_or(batch).min(batch);
        if n < u64::try_from(batch).unwrap_or(u64::MAX) {
            break;
        }
    }
    if json {
        return print_json(&json!({ "deleted": deleted }));
    }
    print_text(&format!("pruned {deleted} finished jobs\n"))
}

/// `migrate`: the store migrated on connect; reports the schema version.
///
/// # Errors
///
/// Reading the version failed.
pub(super) async fn migrate(
    opened: &Opened,
    global: &GlobalArgs,
    json: bool,
) -> Result<(), CliError> {
    let version = opened.schema_version().await?;
    let url = database_url(global)?;
    if json {
        return print_json(&json!({ "schema_version": version, "migrated": true }));
    }
    print_text(&format!(
        "{} is at schema version {version}\n",
        opened.describe(url)
    ))
}

/// `migrate --print`: the SQL of the backend `--backend` or the URL names, without
/// connecting.
///
/// # Errors
///
/// A usage error when neither names a backend; an invalid PostgreSQL schema name.
pub(super) fn print_migrations(global: &GlobalArgs, args: &MigrateArgs) -> Result<(), CliError> {
    let backend = match (args.backend, &global.db) {
        (Some(backend), _) => backend,
        (None, Some(url)) => backend_of(url)?,
        (None, None) => {
            return Err(CliError::Usage(
                "migrate --print needs --backend sqlite|postgres or a --db URL".into(),
            ));
        }
    };
    let script = match backend {
        Backend::Sqlite => leasehold_sqlite::migration_script(),
        Backend::Postgres => leasehold_postgres::migration_script(&global.schema)?,
    };
    if global.json {
        return print_json(&json!({ "backend": backend_name(backend), "sql": script }));
    }
    print_text(&script)
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}
