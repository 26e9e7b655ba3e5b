//! The SQL, one statement per file under `src/sql/`, so it is reviewed as SQL.
//!
//! Every time a statement needs is a bound parameter: none reads the database clock,
//! but for `server_time.sql`, the probe of the [`ServerClock`](crate::ServerClock).
//! Files name the store's tables as `{schema}.jobs`; [`Statements::for_schema`] puts
//! the store's quoted schema name in place of `{schema}` once, when the store opens,
//! after the parts a statement is joined from in place of their placeholders (the
//! bulk verbs' `{selected}`, say): `sql/parts/` and the parts both dialects share.

use std::sync::Arc;

use sqlx::postgres::{PgArguments, Postgres};
use sqlx::{AssertSqlSafe, FromRow};

/// The placeholder each file writes in place of the store's schema.
pub(crate) const SCHEMA_PLACEHOLDER: &str = "{schema}";

/// The parts statements are joined from, each written once, with the placeholder a
/// statement writes in its place; filled in this order, so a part may hold a later
/// one's placeholder.
const PARTS: &[(&str, &str)] = &[
    // The CTE `selected` at the head of the bulk verbs: the jobs a filter selects (and,
    // for retry and delete, that no waiting job depends on).
    ("{selected}", SELECTED),
    ("{selected_sparing_waited_on}", SELECTED_SPARING_WAITED_ON),
    // A job no waiting job depends on: what retry and delete act on.
    (
        "{not_waited_on}",
        include_str!("sql/parts/not_waited_on.sql"),
    ),
    // The filter of list.sql, count.sql and `selected`.
    ("{filter}", include_str!("sql/parts/filter.sql")),
    // What makes a job run again, for retry_job.sql and retry_jobs.sql.
    ("{run_again}", include_str!("sql/parts/run_again.sql")),
    // The error history with a failed attempt appended, for fail.sql and retry.sql.
    (
        "{error_history}",
        include_str!("sql/parts/error_history.sql"),
    ),
    // The claims' ending of expired leases on their last attempt.
    (
        "{expire_last_attempt}",
        include_str!("sql/parts/expire_last_attempt.sql"),
    ),
    // The same for claim_limited.sql, whose $6 is taken: the history's length is $9.
    ("{expire_last_attempt_limited}", EXPIRE_LAST_ATTEMPT_LIMITED),
    // Which limits bear on a claim of the queues in the array $1 (lock_limits.sql).
    ("{limits_in_claim_queues}", LIMITS_IN_CLAIM_QUEUES),
    // The end of the claims without limits: the due jobs picked, leased and answered.
    ("{pick_due}", include_str!("sql/parts/pick_due.sql")),
    // The lease of the jobs a claim picked.
    ("{lease_picked}", include_str!("sql/parts/lease_picked.sql")),
    // The order, limit and locking of the claims' candidate scans.
    ("{claim_order}", include_str!("sql/parts/claim_order.sql")),
    // The stored state of a pending job, for the shared parts.
    ("{pending_states}", "'pending'"),
];

/// `parts/selected_jobs.sql` as update and cancel take it.
const SELECTED: &str = leasehold_sql::fill!(
    include_str!("sql/parts/selected_jobs.sql"),
    "{spared}" => "",
);

/// `parts/selected_jobs.sql` as retry and delete take it: passing over a job that a
/// waiting job depends on.
const SELECTED_SPARING_WAITED_ON: &str = leasehold_sql::fill!(
    include_str!("sql/parts/selected_jobs.sql"),
    "{spared}" => "\n      AND {not_waited_on}",
);

/// `parts/expire_last_attempt.sql` with the error history's length as `$9`.
const EXPIRE_LAST_ATTEMPT_LIMITED: &str = leasehold_sql::fill!(
    include_str!("sql/parts/expire_last_attempt.sql"),
    "$6" => "$9",
);

/// `parts/limits_in_claim.sql` for a claim of the queues in the array `$1`.
const LIMITS_IN_CLAIM_QUEUES: &str = leasehold_sql::fill!(
    include_str!("sql/parts/limits_in_claim.sql"),
    "{queues}" => "$1",
);

/// The parts both dialects share (`leasehold_sql::sql`), with the placeholder a
/// statement writes in their place; their `?N` parameters are written `$N` as they are
/// filled in.
const SHARED_PARTS: &[(&str, &str)] = &[
    (
        "{on_schedule_conflict}",
        leasehold_sql::sql::ON_SCHEDULE_CONFLICT,
    ),
    ("{queue_stats}", leasehold_sql::sql::QUEUE_STATS),
];

/// `text` with its placeholders filled: the shared parts, the store's own, then the
/// schema.
fn fill(text: &str, quoted_schema: &str) -> String {
    let mut text = text.to_owned();
    for &(placeholder, part) in SHARED_PARTS {
        text = text.replace(placeholder, &dollar_parameters(part));
    }
    for &(placeholder, part) in PARTS {
        text = text.replace(placeholder, part);
    }
    text.replace(SCHEMA_PLACEHOLDER, quoted_schema)
}

/// `sql` with each parameter `?N` written as PostgreSQL numbers it, `$N`; any other
/// `?` (the `jsonb` operator) stays.
fn dollar_parameters(sql: &str) -> String {
    let mut rewritten = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let parameter = c == '?' && chars.peek().is_some_and(char::is_ascii_digit);
        rewritten.push(if parameter { '$' } else { c });
    }
    rewritten
}

macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $file:literal;)*) => {
        /// Every statement, with the store's schema in place.
        #[derive(Debug)]
        pub(crate) struct Statements {
            $($(#[$doc])* pub(crate) $name: Arc<str>,)*
        }

        impl Statements {
            /// The statements for the schema whose quoted name is `quoted_schema`.
            pub(crate) fn for_schema(quoted_schema: &str) -> Self {
                Self {
                    $($name: Arc::from(fill(
                        include_str!(concat!("sql/", $file)),
                        quoted_schema,
                    )),)*
                }
            }

            /// Every statement as the store runs it, with its file's name (for the
            /// tests that read them all).
            #[cfg(test)]
            pub(crate) fn all(&self) -> Vec<(&'static str, &str)> {
                vec![$(($file, &*self.$name),)*]
            }
        }

        /// Every statement as its file holds it, with the file's name (for the tests
        /// that read them all).
        #[cfg(test)]
        pub(crate) const ALL: &[(&str, &str)] = &[
            $(($file, include_str!(concat!("sql/", $file))),)*
        ];
    };
}

statements! {
    /// Holds the schema's advisory lock until the transaction ends.
    advisory_lock = "advisory_lock.sql";
    /// The names of the tables in a schema.
    schema_tables = "schema_tables.sql";
    /// The schema versions applied.
    applied_migrations = "applied_migrations.sql";
    /// Creates the schema when missing.
    create_schema = "create_schema.sql";
    /// Points the migrations at the schema until the transaction ends.
    set_search_path = "set_search_path.sql";
    /// Lifts the statement timeout until the transaction ends (for the migrations).
    no_statement_timeout = "no_statement_timeout.sql";
    /// The server's time: the probe of the server clock.
    server_time = "server_time.sql";
    /// Inserts a job (or nothing, for a held unique key) and notifies its queue.
    enqueue = "enqueue.sql";
    /// Inserts jobs without unique keys in one statement and notifies their queues.
    enqueue_bulk = "enqueue_bulk.sql";
    /// The holder of a unique key: the non-terminal one, or the finished one that
    /// blocks it for its unique period.
    job_by_unique_key = "job_by_unique_key.sql";
    /// The finished holder of a unique key within a unique period, asked again after
    /// an insert.
    finished_unique_holder = "finished_unique_holder.sql";
    /// The job with an id.
    get = "get.sql";
    dependents = "dependents.sql";
    /// The stored state and lease token of jobs.
    lease_state = "lease_state.sql";
    /// The claim of one queue.
    claim_queue = "claim_queue.sql";
    /// The claim of several queues.
    claim_queues = "claim_queues.sql";
    /// Locks the limits that bear on a claim.
    lock_limits = "lock_limits.sql";
    /// The claim within the limits it locked.
    claim_limited = "claim_limited.sql";
    /// Extends live leases.
    heartbeat = "heartbeat.sql";
    /// Ends a leased job Completed.
    complete = "complete.sql";
    /// Ends leased jobs Completed, the completions of concurrent callers together.
    complete_many = "complete_many.sql";
    /// Ends a leased job Completed with its output.
    complete_with_output = "complete_with_output.sql";
    /// Ends a leased job Failed.
    fail = "fail.sql";
    /// Records an error and makes a leased job pending again (or Failed).
    retry = "retry.sql";
    /// Gives a leased job back.
    release = "release.sql";
    /// Cancels a pending or running job.
    cancel = "cancel.sql";
    /// Jobs by filter.
    list = "list.sql";
    /// Jobs by filter, newest first.
    list_newest = "list_newest.sql";
    /// How many jobs a filter selects.
    count = "count.sql";
    /// The earliest due time of queues.
    next_due = "next_due.sql";
    /// Deletes old terminal jobs.
    prune = "prune.sql";
    /// Inserts or replaces a schedule.
    upsert_schedule = "upsert_schedule.sql";
    /// The schedule with a name.
    get_schedule = "get_schedule.sql";
    /// Every schedule.
    list_schedules = "list_schedules.sql";
    /// The due enabled schedules.
    due_schedules = "due_schedules.sql";
    /// Moves a schedule's slot by compare-and-set.
    advance_schedule = "advance_schedule.sql";
    /// Disables a schedule.
    pause_schedule = "pause_schedule.sql";
    /// Enables a schedule from a slot.
    resume_schedule = "resume_schedule.sql";
    /// Deletes a schedule.
    remove_schedule = "remove_schedule.sql";
    /// Pauses or resumes a known queue.
    set_queue_paused = "set_queue_paused.sql";
    /// Every known queue's jobs counted by state, its oldest pending job, its pause, its
    /// limit.
    queue_stats = "queue_stats.sql";
    /// The job with an id, its row locked until the transaction ends.
    lock_job = "lock_job.sql";
    /// Runs a job that is not running again now.
    retry_job = "retry_job.sql";
    /// Deletes a job that is not running.
    delete_job = "delete_job.sql";
    /// Changes the run time, priority or queue of a pending job.
    update_job = "update_job.sql";
    /// Runs again the jobs a filter selects that are not running.
    retry_jobs = "retry_jobs.sql";
    /// Changes the pending jobs a filter selects.
    update_jobs = "update_jobs.sql";
    /// Deletes the jobs that finished before a time and match a filter, oldest first:
    /// retention's walk of the index of finished jobs.
    delete_finished = "delete_finished.sql";
    /// Cancels the pending and running jobs a filter selects.
    cancel_jobs = "cancel_jobs.sql";
    /// Deletes the jobs a filter selects that are not running.
    delete_jobs = "delete_jobs.sql";
    /// Takes a named lock for a holder, if it is free or the holder's.
    take_lock = "take_lock.sql";
    /// Stores or replaces a limit (of a known queue).
    set_limit = "set_limit.sql";
    /// Deletes a limit.
    remove_limit = "remove_limit.sql";
    /// Deletes the starts a removed limit counted.
    remove_limit_starts = "remove_limit_starts.sql";
    /// Every limit.
    limits = "limits.sql";
    /// Marks jobs as depended on, locking them; their states.
    depend_on = "depend_on.sql";
    /// Starts a dependent and records its dependencies.
    start_dependent = "start_dependent.sql";
    /// A waiting job that depends on a job.
    waiting_dependent = "waiting_dependent.sql";
}

/// A query of `statement`, ready for its parameters.
pub(crate) fn query(statement: &Arc<str>) -> sqlx::query::Query<'static, Postgres, PgArguments> {
    sqlx::query(AssertSqlSafe(Arc::clone(statement)))
}

/// A query of `statement` answering one column of type `O`.
pub(crate) fn query_scalar<O>(
    statement: &Arc<str>,
) -> sqlx::query::QueryScalar<'static, Postgres, O, PgArguments>
where
    (O,): for<'r> FromRow<'r, sqlx::postgres::PgRow>,
{
    sqlx::query_scalar(AssertSqlSafe(Arc::clone(statement)))
}

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;
