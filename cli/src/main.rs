//! `leasehold`: the operator CLI of leasehold job stores.
//!
//! It works on a SQLite file or a PostgreSQL schema, named by `--db URL` or
//! `LEASEHOLD_DATABASE_URL` (`sqlite://path/to/jobs.db`,
//! `postgres://user@host/database`, with `--schema` for the PostgreSQL schema):
//!
//! - `jobs list [--queue Q] [--state S] [--kind K] [--tag T] [--limit 50] [--after ID]
//!   [--oldest-first]`: a page of jobs, newest first; the last id of a full page is the
//!   next page's `--after`.
//! - `jobs show ID`; `jobs retry|cancel|delete ID...`; the bulk forms by filter
//!   (`jobs retry --state failed --queue q`), which only count without `--yes`.
//! - `queues list`, `queues pause|resume NAME`.
//! - `schedules list [--next N]` (fire times in each schedule's timezone),
//!   `schedules pause|resume|trigger NAME`.
//! - `stats`, `prune --older-than 7d [--limit N]`, `migrate` and `migrate --print`
//!   (the SQL for your own migration tool, without connecting).
//! - `serve [--bind 127.0.0.1:8080] [--read-only]`: the `leasehold-web` dashboard.
//!
//! Tables by default; `--json` on any command prints JSON (jobs as objects with every
//! field, ids as strings, times in RFC 3339):
//!
//! | command | JSON |
//! |---|---|
//! | `jobs list` | `{"jobs": [job...], "next_after": id or null}` (`null` on a last, short page) |
//! | `jobs show` | the job |
//! | `jobs retry\|cancel\|delete ID...` | `{"action": "retry", "jobs": [job...]}`: the jobs acted on |
//! | the bulk forms | `{"action": "retry", "count": n, "applied": bool}` |
//! | `queues list` | `[{"queue", "paused", "scheduled", "available", ..., "oldest_pending_run_at"}]` |
//! | `queues pause\|resume` | `{"queue": name, "paused": bool}` |
//! | `schedules list`, `pause`, `resume` | schedules with `next_fire_times` in their own timezone's offset |
//! | `schedules trigger` | `{"schedule": name, "duplicate": bool, "job": job}` |
//! | `stats` | a count per state, `total`, `queues`, `paused_queues` |
//! | `prune` | `{"deleted": n}` |
//! | `migrate` / `migrate --print` | `{"schema_version": n, "migrated": true}` / `{"backend", "sql"}` |
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a store or database error: unreachable or locked database, bad URL or scheme, a schema written by a newer leasehold, a job in the wrong state for the action |
//! | 2 | a usage error (clap's), including no database given |
//! | 3 | not found: an unknown job id, schedule name or queue name |
//! | 4 | a bulk action refused: without `--yes` it only says how many jobs it would touch |
//!
//! Errors go to stderr as one line starting `leasehold: `.

mod args;
mod commands;
mod duration;
mod error;
mod open;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::error::{CliError, EXIT_STORE};

fn main() -> ExitCode {
    // Exits 2 with clap's message on a usage error, 0 for --help and --version.
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("leasehold: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_STORE);
        }
    };
    let result = runtime.block_on(commands::run(cli));
    // The store's background tasks (a PostgreSQL clock sampler, say) need not finish.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if !matches!(error, CliError::Reported(_)) {
                eprintln!("leasehold: {error}");
            }
            error.exit_code()
        }
    }
}
