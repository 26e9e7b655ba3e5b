//! The command line, as clap derives it: [`Cli`] and one subcommand enum per noun.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use leasehold::{JobFilter, JobId, JobState};

use crate::duration::parse_duration;

/// What `--help` says after the summary: the database and the exit codes.
const LONG_ABOUT: &str = "\
Operate leasehold jobs, queues and schedules in a SQLite file or a PostgreSQL schema.

The database is --db URL or $LEASEHOLD_DATABASE_URL: sqlite://path/to/jobs.db or
postgres://user@host/database (--schema picks the PostgreSQL schema). Every command but
`migrate` refuses a SQLite file that does not exist yet. --json prints JSON instead of
tables: jobs as objects with every field, ids as strings, times in RFC 3339.

Exit codes:
  0  success
  1  a store or database error (unreachable or locked database, bad URL, newer schema)
  2  a usage error
  3  not found: an unknown job id, schedule name or queue name
  4  a bulk action refused: it only said how many jobs it would touch; add --yes";

/// The leasehold operator CLI.
#[derive(Debug, Parser)]
#[command(name = "leasehold", version, about, long_about = LONG_ABOUT)]
pub(crate) struct Cli {
    /// Where the jobs live and how to print them.
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The options every command takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// The database: sqlite://PATH or postgres://USER@HOST/DATABASE.
    #[arg(
        long,
        env = "LEASEHOLD_DATABASE_URL",
        global = true,
        value_name = "URL"
    )]
    pub(crate) db: Option<String>,
    /// The PostgreSQL schema the store lives in.
    #[arg(
        long,
        env = "LEASEHOLD_SCHEMA",
        global = true,
        default_value = leasehold_postgres::DEFAULT_SCHEMA,
        value_name = "NAME"
    )]
    pub(crate) schema: String,
    /// How long to wait for the database: a PostgreSQL connection, a locked SQLite
    /// file (e.g. 5s, 1m).
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// The nouns.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List, show, retry, cancel and delete jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Queues: their jobs by state; pause and resume.
    #[command(subcommand)]
    Queues(QueuesCommand),
    /// Schedules: their next fire times; pause, resume, trigger.
    #[command(subcommand)]
    Schedules(SchedulesCommand),
    /// Flow-control limits per limit key or queue: list, set, remove.
    #[command(subcommand)]
    Limits(LimitsCommand),
    /// Jobs by state over all queues.
    Stats,
    /// Delete finished jobs older than a given age.
    Prune(PruneArgs),
    /// Create or migrate the store's schema, or print its SQL.
    Migrate(MigrateArgs),
    /// Serve the web dashboard.
    Serve(ServeArgs),
}

/// `leasehold jobs ...`
#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// List jobs, newest first, a page at a time.
    List(ListArgs),
    /// Show one job with every field.
    Show {
        /// The job's id.
        #[arg(value_parser = parse_job_id)]
        id: JobId,
    },
    /// Run jobs again now: by id, or every job a filter selects (with --yes).
    Retry(ActArgs),
    /// Cancel jobs: by id, or every job a filter selects (with --yes).
    Cancel(ActArgs),
    /// Delete jobs: by id, or every job a filter selects (with --yes).
    Delete(ActArgs),
}

/// Which jobs: the filters `list` and the bulk actions share.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct FilterArgs {
    /// Only jobs in this queue.
    #[arg(long)]
    pub(crate) queue: Option<String>,
    /// Only jobs in this state: scheduled, available, running, completed, failed,
    /// cancelled.
    #[arg(long, value_parser = parse_state)]
    pub(crate) state: Option<JobState>,
    /// Only jobs of this kind.
    #[arg(long)]
    pub(crate) kind: Option<String>,
    /// Only jobs with this tag.
    #[arg(long)]
    pub(crate) tag: Option<String>,
}

impl FilterArgs {
    /// The filter these options describe (no limit).
    pub(crate) fn filter(&self) -> JobFilter {
        let mut filter = JobFilter::all();
        if let Some(queue) = &self.queue {
            filter = filter.queue(queue);
        }
        if let Some(state) = self.state {
            filter = filter.state(state);
        }
        if let Some(kind) = &self.kind {
            filter = filter.kind(kind);
        }
        if let Some(tag) = &self.tag {
            filter = filter.tag(tag);
        }
        filter
    }
}

/// `leasehold jobs list`
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Which jobs.
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// At most this many jobs.
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: usize,
    /// The next page: the jobs after this id (the last id of the previous page).
    #[arg(long, value_parser = parse_job_id, value_name = "ID")]
    pub(crate) after: Option<JobId>,
    /// Oldest jobs first instead of newest first.
    #[arg(long)]
    pub(crate) oldest_first: bool,
}

/// `leasehold jobs retry|cancel|delete`: ids, or a filter for the bulk form.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("target")
        .required(true)
        .multiple(true)
        .args(["ids", "queue", "state", "kind", "tag"])
))]
pub(crate) struct ActArgs {
    /// The jobs' ids; without ids, the filter options select the jobs.
    #[arg(value_parser = parse_job_id, value_name = "ID", conflicts_with_all = ["queue", "state", "kind", "tag", "limit"])]
    pub(crate) ids: Vec<JobId>,
    /// Which jobs, for the bulk form.
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// The bulk form acts on at most this many jobs (lowest ids first); all by default.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// Act: without it the bulk form only says how many jobs it would touch (exit 4).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

/// `leasehold queues ...`
#[derive(Debug, Subcommand)]
pub(crate) enum QueuesCommand {
    /// Every queue: its jobs by state, its oldest pending job, whether it is paused.
    List,
    /// Stop every worker claiming the queue's jobs until it is resumed.
    Pause {
        /// The queue.
        name: String,
    },
    /// Let workers claim the queue's jobs again.
    Resume {
        /// The queue.
        name: String,
    },
}

/// `leasehold limits ...`
#[derive(Debug, Subcommand)]
pub(crate) enum LimitsCommand {
    /// Every stored limit.
    List,
    /// Store a limit (replacing the one it had): at most --max-running jobs at once,
    /// at most --rate starts per period, or both.
    Set {
        #[command(flatten)]
        scope: LimitScopeArgs,
        /// At most this many jobs of the key or queue run at once.
        #[arg(long, value_name = "N")]
        max_running: Option<u32>,
        /// At most this many starts in any window of this length: 100/1m, 5/1s.
        #[arg(long, value_parser = parse_rate, value_name = "N/DURATION")]
        rate: Option<(u32, Duration)>,
    },
    /// Remove a limit: its jobs run as if it never was.
    Remove {
        #[command(flatten)]
        scope: LimitScopeArgs,
    },
}

/// What a limit applies to: a limit key or a queue, exactly one.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct LimitScopeArgs {
    /// The limit key jobs carry (e.g. partner:acme).
    #[arg(long)]
    pub(crate) key: Option<String>,
    /// A queue: the limit counts every job of it.
    #[arg(long)]
    pub(crate) queue: Option<String>,
}

/// `N/DURATION`: a rate of N starts per DURATION.
fn parse_rate(text: &str) -> Result<(u32, Duration), String> {
    let invalid = || format!("{text:?} is not a rate: use N/DURATION, e.g. 100/1m or 5/1s");
    let (starts, per) = text.split_once('/').ok_or_else(invalid)?;
    let starts = starts.trim().parse().map_err(|_| invalid())?;
    Ok((starts, parse_duration(per)?))
}

/// `leasehold schedules ...`
#[derive(Debug, Subcommand)]
pub(crate) enum SchedulesCommand {
    /// Every schedule, with its next fire times in its own timezone.
    List {
        /// How many next fire times to show.
        #[arg(long, default_value_t = 1)]
        next: usize,
    },
    /// Stop the schedule firing until it is resumed.
    Pause {
        /// The schedule.
        name: String,
    },
    /// Let the schedule fire again from its next slot; slots during the pause are
    /// skipped.
    Resume {
        /// The schedule.
        name: String,
    },
    /// Enqueue the schedule's job now, outside its slots.
    Trigger {
        /// The schedule.
        name: String,
    },
}

/// `leasehold prune`
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Delete finished jobs (completed, failed, cancelled) older than this: 7d, 12h,
    /// 30m, 1h30m.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) older_than: Duration,
    /// At most this many jobs; all by default (in batches of 1,000).
    #[arg(long)]
    pub(crate) limit: Option<usize>,
}

/// `leasehold migrate`
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// Print the SQL for your own migration tool instead of applying it; does not
    /// connect.
    #[arg(long)]
    pub(crate) print: bool,
    /// The backend whose SQL to print (default: from the --db URL's scheme).
    #[arg(long, value_enum, requires = "print")]
    pub(crate) backend: Option<Backend>,
}

/// A kind of store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    /// A SQLite file (`sqlite://...`).
    Sqlite,
    /// A PostgreSQL schema (`postgres://...`).
    Postgres,
}

/// `leasehold serve`
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on; loopback only by default.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) bind: SocketAddr,
    /// Show jobs, queues and schedules, but offer no action that changes them.
    #[arg(long)]
    pub(crate) read_only: bool,
}

/// A job id on the command line: a UUID.
fn parse_job_id(text: &str) -> Result<JobId, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a job id (a UUID such as 0190c6e2-...)"))
}

/// A job state by its lowercase name.
fn parse_state(text: &str) -> Result<JobState, String> {
    text.parse()
        .map_err(|e: leasehold::UnknownJobState| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn states_parse_by_their_names_only() {
        assert_eq!(parse_state("failed"), Ok(JobState::Failed));
        assert!(parse_state("pending").is_err());
    }

    #[test]
    fn ids_and_filters_do_not_mix() {
        let id = "0190c6e2-0000-7000-8000-000000000000";

        let mixed = Cli::try_parse_from(["leasehold", "jobs", "retry", id, "--queue", "q"]);
        let neither = Cli::try_parse_from(["leasehold", "jobs", "retry"]);
        let bulk = Cli::try_parse_from(["leasehold", "jobs", "retry", "--state", "failed"]);

        assert!(mixed.is_err());
        assert!(neither.is_err());
        assert!(bulk.is_ok());
    }
}
