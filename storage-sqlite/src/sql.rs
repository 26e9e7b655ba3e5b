//! The SQL, one statement per file under `src/sql/`, so it is reviewed as SQL.
//!
//! Every time a statement needs is a bound parameter: none reads the database clock.
//! A statement joined from parts writes a placeholder in place of each (`{filter}`,
//! say); `statement!` fills them at compile time.

use std::sync::OnceLock;

/// The statement in `sql/$file` with its placeholders filled, in this order (a part may
/// hold a later one's placeholder): the parts under `sql/parts/`, each written once,
/// the parts both dialects share (`leasehold_sql::sql`), and the schema those name
/// their tables in, SQLite's `main`.
macro_rules! statement {
    ($file:literal) => {
        statement!(@fill include_str!(concat!("sql/", $file)))
    };
    (@fill $text:expr) => {
        leasehold_sql::fill!(
            $text,
            // The filter of the CTE `selected` (count.sql and list.sql write theirs per
            // filter: filter.rs).
            "{filter}" => include_str!("sql/parts/filter.sql"),
            // What a claim writes, for claim_queue.sql and claim_queues.sql.
            "{claim_lease}" => include_str!("sql/parts/claim_lease.sql"),
            // What a claim answers, for claim_queue.sql and claim_queues.sql.
            "{claim_returning}" => include_str!("sql/parts/claim_returning.sql"),
            // The jobs a limit governs that a claim takes, for claim_queue.sql and
            // claim_queues.sql.
            "{claim_governed}" => include_str!("sql/parts/claim_governed.sql"),
            // How claim_queue.sql and claim_queues.sql end: the claims that need no
            // walk, and the gate of the walked one.
            "{claim_cuts}" => include_str!("sql/parts/claim_cuts.sql"),
            // And how their walked claim ends: the governed arm, the order, the cut.
            "{claim_end}" => include_str!("sql/parts/claim_end.sql"),
            // What makes a job run again, for retry_job.sql and retry_jobs.sql.
            "{run_again}" => include_str!("sql/parts/run_again.sql"),
            // Shared: the ON CONFLICT clause of upsert_schedule.sql.
            "{on_schedule_conflict}" => leasehold_sql::sql::ON_SCHEDULE_CONFLICT,
            // Shared: the body of queue_stats.sql.
            "{queue_stats}" => leasehold_sql::sql::QUEUE_STATS,
            // The stored states of a pending job, for the shared parts.
            "{pending_states}" => "'scheduled', 'available'",
            // The schema the shared parts name their tables in.
            "{schema}" => "main",
        )
    };
}

/// The statement in `sql/$file` with the CTE `selected` of `sql/parts/selected_jobs.sql`
/// in front (the jobs a filter selects that a bulk verb acts on, written once), its
/// placeholders filled as by `statement!`.
macro_rules! on_selected {
    ($file:literal) => {
        on_selected!($file, "")
    };
    ($file:literal, $spared:expr) => {
        statement!(@fill leasehold_sql::fill!(
            concat!(
                include_str!("sql/parts/selected_jobs.sql"),
                include_str!(concat!("sql/", $file))
            ),
            "{spared}" => $spared,
        ))
    };
}

/// The statement in `sql/$file` with `parts/not_waited_on.sql` (a job no waiting job
/// depends on: what retry, delete and retention act on) in place of its
/// `{not_waited_on}`, then filled as by `statement!`. Filled here, not by `statement!`
/// for every statement: each placeholder `statement!` fills doubles the work of
/// evaluating every statement at compile time.
macro_rules! sparing_waited_on {
    ($file:literal) => {
        statement!(@fill leasehold_sql::fill!(
            include_str!(concat!("sql/", $file)),
            "{not_waited_on}" => include_str!("sql/parts/not_waited_on.sql"),
        ))
    };
}

/// What retry and delete add to the jobs a filter selects (`{spared}` of
/// parts/selected_jobs.sql).
const AND_NOT_WAITED_ON: &str =
    concat!("\n      AND ", include_str!("sql/parts/not_waited_on.sql"));

/// `$text` (statements joined by `;`) as one group commit: `BEGIN IMMEDIATE`, the
/// statements, settle_guard.sql (which fails the call, for the writer to run the group
/// again the ordinary way, when a job with dependents ended in it), `COMMIT`, which the
/// writer sends as one sqlx call (see `crate::bulk::WholeGroup`). Each statement ends on a line of its own, so a comment on
/// a file's last line cannot swallow the `;` after it.
macro_rules! in_one_call {
    ($text:expr) => {
        statement!(@fill concat!(
            "BEGIN IMMEDIATE;\n",
            $text,
            "\n;\n",
            include_str!("sql/settle_guard.sql"),
            "\n;\nCOMMIT"
        ))
    };
}

/// What a claim runs before it leases, promote_due.sql then fail_expired_leases.sql,
/// joined for a claim in one call.
macro_rules! before_claim {
    () => {
        concat!(
            include_str!("sql/promote_due.sql"),
            "\n;\n",
            include_str!("sql/fail_expired_leases.sql"),
            "\n;\n",
        )
    };
}

/// complete_bulk.sql as a whole group commit in one call.
pub(crate) const COMPLETE_BULK_IN_ONE_CALL: &str =
    in_one_call!(include_str!("sql/complete_bulk.sql"));
/// A whole claim of one queue while no limit was seen stored, as a group commit in
/// one call: claim_simple_guard.sql (the call fails when a limit is stored or a lease
/// of the queue expired with attempts left: the claim then runs the ordinary way),
/// promote_due.sql and fail_expired_leases.sql (?1 the queues' JSON array, ?2 the
/// time), then claim_queue_simple.sql with the queue's name as ?7 rather than ?1 (it skips ?1 and
/// ?6: see `CLAIM_QUEUE_STEPS`).
pub(crate) const CLAIM_QUEUE_SIMPLE_IN_ONE_CALL: &str = leasehold_sql::fill!(
    in_one_call!("{claim_queue_simple_steps}"),
    "{claim_queue_simple_steps}" => CLAIM_QUEUE_SIMPLE_STEPS,
);
/// The same statements inside a group's open transaction (no `BEGIN` or `COMMIT`): a
/// claim of a group with other calls. The guard comes first: when it fails, nothing of
/// the call has run (its own statement is undone), and the full claim, its promotions
/// and expiries follow in the same transaction.
pub(crate) const CLAIM_QUEUE_SIMPLE_STEPS: &str = leasehold_sql::fill!(
    statement!(@fill concat!(
        include_str!("sql/claim_simple_guard.sql"),
        "\n;\n",
        before_claim!(),
        "{claim_queue_simple}"
    )),
    "{claim_queue_simple}" => leasehold_sql::fill!(CLAIM_QUEUE_SIMPLE, "?1" => "?7"),
);
/// A full claim's statements after promote_due.sql and fail_expired_leases.sql (?1
/// the queues' JSON array, ?2 the time), given the statement that chooses its jobs
/// (claim_queue.sql or claim_queues.sql): the chosen ids go into a table of the
/// connection's own (claimed_table.sql, emptied by forget_claimed.sql once they are
/// leased and counted: a call that fails rolls back, rows of the table included),
/// claim_chosen.sql leases them and answers their rows, and count_starts.sql
/// counts their starts toward the rates they fall under, all in the same call. (The
/// rows a statement answers reach only the caller: before, the store counted the
/// starts from them, in a second call to sqlx's connection thread.)
macro_rules! full_claim {
    ($choose:expr) => {
        concat!(
            before_claim!(),
            include_str!("sql/claimed_table.sql"),
            "\n;\nINSERT INTO temp.leasehold_claimed (id)\n",
            $choose,
            "\n;\n",
            include_str!("sql/claim_chosen.sql"),
            "\n;\n",
            include_str!("sql/count_starts.sql"),
            "\n;\n",
            include_str!("sql/forget_claimed.sql"),
        )
    };
}

/// A full claim of one queue inside a group's open transaction, in one call: see
/// `full_claim!`, with claim_queue.sql choosing, the queue's name as ?7 rather than ?1
/// (?1 is the queues' JSON array of the statements before it).
///
/// One call binds one list of arguments to every statement, by number. sqlx binds each
/// number a statement skips to the list's next argument by position, counted over the
/// whole call, and stops binding a statement once that count passes the end of the
/// list: the statements of a call may skip, together, at most as many numbers as the
/// list has arguments (here seven). claim_queue.sql skips ?1, ?4 and ?5,
/// claim_chosen.sql ?1 and ?3, count_starts.sql ?1 (six); claim_queue_simple.sql skips
/// ?1 and ?6; the guard and the statements before the claim skip none.
pub(crate) const CLAIM_QUEUE_STEPS: &str = leasehold_sql::fill!(
    statement!(@fill full_claim!("{claim_queue}")),
    "{claim_queue}" => leasehold_sql::fill!(CLAIM_QUEUE, "?1" => "?7"),
);
/// As `CLAIM_QUEUE_STEPS`, for several queues: claim_queues.sql chooses, ?1 the queues'
/// JSON array for every statement (five numbers skipped of six).
pub(crate) const CLAIM_QUEUES_STEPS: &str =
    statement!(@fill full_claim!(include_str!("sql/claim_queues.sql")));
/// `CLAIM_QUEUE_STEPS` as a group commit in one call (see `crate::bulk::WholeGroup`).
pub(crate) const CLAIM_QUEUE_IN_ONE_CALL: &str = leasehold_sql::fill!(
    in_one_call!("{claim_queue_steps}"),
    "{claim_queue_steps}" => CLAIM_QUEUE_STEPS,
);
/// `CLAIM_QUEUES_STEPS` as a group commit in one call.
pub(crate) const CLAIM_QUEUES_IN_ONE_CALL: &str = leasehold_sql::fill!(
    in_one_call!("{claim_queues_steps}"),
    "{claim_queues_steps}" => CLAIM_QUEUES_STEPS,
);

/// `sql/checkpoint_passive.sql`: Copies what the log holds into the database as far
/// as no reader needs it, waiting for none (after the writer's own connection wrote,
/// see `crate::direct`).
pub(crate) const CHECKPOINT_PASSIVE: &str = include_str!("sql/checkpoint_passive.sql");
/// `sql/applied_migrations.sql`: The schema versions this database has applied.
pub(crate) const APPLIED_MIGRATIONS: &str = include_str!("sql/applied_migrations.sql");
/// `sql/cancel.sql`: Ends job ?1 Cancelled at ?2 if it is pending or running. The lease token stays, so
/// the running worker's heartbeat can be told it was cancelled.
pub(crate) const CANCEL: &str = include_str!("sql/cancel.sql");
/// `sql/claim_queue.sql`: The jobs a claim of queue ?1 at ?2 takes, their ids: up to
/// ?3 due available jobs and expired leases with attempts left, in priority, run_at, id
/// order, within the stored limits, at most ?6 of them governed by one. The arms of
/// jobs no limit governs read their partial index in that order, so the merge stops
/// after ?3 rows. Chosen into a table for the rest of a full claim
/// (`CLAIM_QUEUE_STEPS`).
pub(crate) const CLAIM_QUEUE: &str = statement!("claim_queue.sql");
/// `sql/claim_queue_simple.sql`: As claim_queue.sql when no limit is stored and no
/// lease of the queue has expired (the claim a worker makes almost always), without its
/// arms for those. Sent only after claim_simple_guard.sql, which checks that
/// (`CLAIM_QUEUE_SIMPLE_IN_ONE_CALL`).
pub(crate) const CLAIM_QUEUE_SIMPLE: &str = statement!("claim_queue_simple.sql");

/// `sql/claim_simple_choose.sql`: The jobs [`CLAIM_QUEUE_SIMPLE`] leases, each with its
/// rowid, as that claim answers them once leased but for the columns set to values it
/// was given: the claim of the writer's own connection (`crate::direct`), which then
/// leases them with [`lease_rows`].
pub(crate) const CLAIM_SIMPLE_CHOOSE: &str = include_str!("sql/claim_simple_choose.sql");
/// `sql/lease_rows.sql`: Leases the available jobs of the rowids bound from ?6 on, as
/// a claim does (?2 the time, ?4 the lease's end, ?5 the worker); [`lease_rows`]
/// repeats its list's parameter.
pub(crate) const LEASE_ROWS: &str = statement!("lease_rows.sql");
/// `sql/claim_simple_guard.sql`: Fails when a limit is stored or a lease of the queues in the JSON
/// array ?1 expired by ?2 with an attempt left or on a job with dependents, and changes
/// nothing otherwise: the guard of
/// `CLAIM_QUEUE_SIMPLE_IN_ONE_CALL` and `CLAIM_QUEUE_SIMPLE_STEPS`, and (alone) of the
/// simple claims of the writer's own connection (`crate::direct`).
pub(crate) const CLAIM_SIMPLE_GUARD: &str = include_str!("sql/claim_simple_guard.sql");
/// `sql/claim_queues.sql`: As claim_queue.sql, for the queues in the JSON array ?1.
/// Rows of several queues come out of the index queue by queue, so this one sorts the
/// due rows; workers claim one queue at a time and take claim_queue.sql.
#[cfg(test)]
pub(crate) const CLAIM_QUEUES: &str = statement!("claim_queues.sql");
/// `sql/claimed_table.sql`: The table of the ids a full claim chose, made on the
/// connection's first full claim. (Sent only as part of `CLAIM_QUEUE_STEPS` and the
/// like; alone, for the tests that read every statement.)
#[cfg(test)]
pub(crate) const CLAIMED_TABLE: &str = include_str!("sql/claimed_table.sql");
/// `sql/forget_claimed.sql`: Empties the ids a full claim chose.
#[cfg(test)]
pub(crate) const FORGET_CLAIMED: &str = include_str!("sql/forget_claimed.sql");
/// `sql/claim_chosen.sql`: Leases the jobs a full claim chose to worker ?5 until ?4,
/// attempted at ?2, and answers their rows.
#[cfg(test)]
pub(crate) const CLAIM_CHOSEN: &str = statement!("claim_chosen.sql");
/// `sql/count_starts.sql`: Counts the starts of the jobs a full claim chose and leased
/// at ?2 toward the rates they fall under, a row per key and per queue.
#[cfg(test)]
pub(crate) const COUNT_STARTS: &str = include_str!("sql/count_starts.sql");
/// `sql/complete.sql`: Ends job ?1 Completed at ?3, if ?2 is its live lease.
pub(crate) const COMPLETE: &str = include_str!("sql/complete.sql");
/// `sql/complete_with_output.sql`: Ends job ?1 Completed at ?3 with output ?4 (JSON text), if ?2 is
/// its live lease.
pub(crate) const COMPLETE_WITH_OUTPUT: &str = include_str!("sql/complete_with_output.sql");
/// `sql/complete_bulk.sql`: Ends Completed every job of the JSON array ?1, each [id as hex, lease token,
/// finished_at], whose lease is live; answers the ids it completed.
pub(crate) const COMPLETE_BULK: &str = include_str!("sql/complete_bulk.sql");
/// `sql/cancel_jobs.sql`: cancel.sql for the pending and running jobs list.sql selects with the same
/// ?1 to ?8, lowest ids first.
pub(crate) const CANCEL_JOBS: &str = on_selected!("cancel_jobs.sql");
/// `sql/count.sql`: How many jobs match; the parameters are those of list.sql without the limit.
/// Its `{where}` is left for [`crate::filter::narrowed`] to write per filter.
pub(crate) const COUNT: &str = statement!("count.sql");
/// `sql/delete_limit.sql`: Deletes the limit of scope ?1 named ?2; affects no row when it has none.
pub(crate) const DELETE_LIMIT: &str = include_str!("sql/delete_limit.sql");
/// `sql/delete_limit_starts.sql`: Deletes the starts counted for scope ?1 named ?2.
pub(crate) const DELETE_LIMIT_STARTS: &str = include_str!("sql/delete_limit_starts.sql");
/// `sql/delete_job.sql`: Deletes job ?1 unless it is running; answers it as it was.
pub(crate) const DELETE_JOB: &str = sparing_waited_on!("delete_job.sql");
/// `sql/delete_jobs.sql`: Deletes the jobs list.sql selects with the same ?1 to ?8 that are not
/// running, lowest ids first.
pub(crate) const DELETE_JOBS: &str = on_selected!("delete_jobs.sql", AND_NOT_WAITED_ON);
/// `sql/delete_finished.sql`: delete_jobs.sql for a filter with a finished-before time ?7 (retention):
/// walks jobs_finished from its old end, those that finished first first.
pub(crate) const DELETE_FINISHED: &str = sparing_waited_on!("delete_finished.sql");
/// `sql/enqueue.sql`: Inserts a pending job (available when due at ?9, else scheduled); stores nothing when a
/// non-terminal job holds its unique key, or, with a unique period (?12), when a job
/// holding it ended in one of the states ?13 after ?12.
/// ?1 id, ?2 kind, ?3 queue, ?4 payload, ?5 priority, ?6 run_at, ?7 max_attempts,
/// ?8 unique_key, ?9 created_at, ?10 tags, ?11 metadata, ?12 the start of the unique
/// period, ?13 the unique states, ?14 limit_key.
pub(crate) const ENQUEUE: &str = include_str!("sql/enqueue.sql");
/// `sql/enqueue_row.sql`: Inserts one pending job without a unique key from twelve
/// bound parameters; [`enqueue_rows`] repeats its row.
pub(crate) const ENQUEUE_ROW: &str = include_str!("sql/enqueue_row.sql");
/// `sql/savepoint_bulk.sql`: Opens the savepoint of a multi-statement bulk insert.
pub(crate) const SAVEPOINT_BULK: &str = include_str!("sql/savepoint_bulk.sql");
/// `sql/rollback_bulk.sql`: Undoes a bulk insert's statements since its savepoint.
pub(crate) const ROLLBACK_BULK: &str = include_str!("sql/rollback_bulk.sql");
/// `sql/release_bulk.sql`: Closes a bulk insert's savepoint.
pub(crate) const RELEASE_BULK: &str = include_str!("sql/release_bulk.sql");

/// The most rows one multi-row insert of a bulk enqueue holds: 12 parameters a row,
/// 3,072 in all, well under SQLite's 32,766.
pub(crate) const ONE_STATEMENT_ROWS: usize = 256;

/// [`ENQUEUE_ROW`] with its row repeated `rows` times (1 to [`ONE_STATEMENT_ROWS`]),
/// made once per size and prepared once per size and connection.
pub(crate) fn enqueue_rows(rows: usize) -> &'static str {
    static STATEMENTS: [OnceLock<String>; ONE_STATEMENT_ROWS] =
        [const { OnceLock::new() }; ONE_STATEMENT_ROWS];
    STATEMENTS[rows_at(rows)].get_or_init(|| repeat_values(ENQUEUE_ROW, "VALUES", rows))
}

/// `sql/complete_row.sql`: Ends Completed each job of its bound rows (id, lease token,
/// finished_at) whose lease is live and that no job depends on; [`complete_rows`]
/// repeats its row.
pub(crate) const COMPLETE_ROW: &str = include_str!("sql/complete_row.sql");

/// `sql/complete_row_by_rowid.sql`: [`COMPLETE_ROW`] for jobs whose rowid is known,
/// bound first in each row (rowid, id, lease token, finished_at);
/// [`complete_rows_by_rowid`] repeats its row.
pub(crate) const COMPLETE_ROW_BY_ROWID: &str = include_str!("sql/complete_row_by_rowid.sql");

/// The most rows one [`complete_rows`], [`complete_rows_by_rowid`] or [`lease_rows`]
/// statement holds (3, 4 and 1 parameters a row).
pub(crate) const PADDED_STATEMENT_ROWS: usize = 256;

/// [`COMPLETE_ROW`] with its row repeated `rows` times, a power of two from 1 to
/// [`PADDED_STATEMENT_ROWS`] (a group pads its last rows with nulls: nine sizes
/// for a connection to keep prepared, not 256), made once per size.
pub(crate) fn complete_rows(rows: usize) -> &'static str {
    static STATEMENTS: BySize = [const { OnceLock::new() }; SIZES];
    sized(&STATEMENTS, rows, || {
        repeat_values(COMPLETE_ROW, "AS (VALUES", rows)
    })
}

/// [`COMPLETE_ROW_BY_ROWID`] with its row repeated `rows` times, as
/// [`complete_rows`] repeats its own.
pub(crate) fn complete_rows_by_rowid(rows: usize) -> &'static str {
    static STATEMENTS: BySize = [const { OnceLock::new() }; SIZES];
    sized(&STATEMENTS, rows, || {
        repeat_values(COMPLETE_ROW_BY_ROWID, "AS (VALUES", rows)
    })
}

/// [`LEASE_ROWS`] with `rows` parameters in its list of rowids, a power of two from 1
/// to [`PADDED_STATEMENT_ROWS`] (a claim pads its last statement's list with nulls),
/// made once per size.
pub(crate) fn lease_rows(rows: usize) -> &'static str {
    static STATEMENTS: BySize = [const { OnceLock::new() }; SIZES];
    sized(&STATEMENTS, rows, || {
        let list = "rowid IN (?)";
        assert!(LEASE_ROWS.contains(list), "lease_rows.sql leases {list}");
        LEASE_ROWS.replacen(
            list,
            &format!("rowid IN ({})", vec!["?"; rows].join(", ")),
            1,
        )
    })
}

/// How many sizes of [`complete_rows`], [`complete_rows_by_rowid`] and [`lease_rows`]
/// there are: the powers of two up to [`PADDED_STATEMENT_ROWS`].
const SIZES: usize = PADDED_STATEMENT_ROWS.trailing_zeros() as usize + 1;

/// Where statements made for each of [`SIZES`] sizes are kept.
type BySize = [OnceLock<String>; SIZES];

/// The statement of `rows` rows kept in `statements`, made by `make` the first time.
fn sized(statements: &'static BySize, rows: usize, make: impl FnOnce() -> String) -> &'static str {
    assert!(
        rows.is_power_of_two() && rows <= PADDED_STATEMENT_ROWS,
        "a statement of bound rows holds a power of two of them up to \
         {PADDED_STATEMENT_ROWS}, not {rows}"
    );
    statements[rows.trailing_zeros() as usize].get_or_init(make)
}

/// `statement`'s code (its comments left out) with the one row of values that follows
/// `before` repeated `rows` times.
fn repeat_values(statement: &str, before: &str, rows: usize) -> String {
    let code: Vec<&str> = (statement.lines())
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect();
    let code = code.join("\n");
    let at = code.find(before).expect("the statement's row of values") + before.len();
    let (head, rest) = code.split_at(at);
    // The row ends where its first parenthesis closes.
    let mut depth = 0_i32;
    let row_end = rest
        .char_indices()
        .find_map(|(at, c)| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            (c == ')' && depth == 0).then_some(at + 1)
        })
        .expect("the end of the row");
    let (row, tail) = rest.split_at(row_end);
    format!("{head} {}{tail}", vec![row.trim(); rows].join(", "))
}

/// [`enqueue_rows`] as a whole group commit in one call (see `in_one_call!`): a
/// group of enqueues of `rows` plain jobs in all.
pub(crate) fn enqueue_rows_in_one_call(rows: usize) -> &'static str {
    static STATEMENTS: [OnceLock<String>; ONE_STATEMENT_ROWS] =
        [const { OnceLock::new() }; ONE_STATEMENT_ROWS];
    STATEMENTS[rows_at(rows)]
        .get_or_init(|| IN_ONE_CALL_AROUND.replace("{statements}", enqueue_rows(rows)))
}

/// `in_one_call!` around a placeholder, for statements made at run time.
const IN_ONE_CALL_AROUND: &str = in_one_call!("{statements}");

/// Where a statement of `rows` rows is kept.
fn rows_at(rows: usize) -> usize {
    assert!(
        (1..=ONE_STATEMENT_ROWS).contains(&rows),
        "a multi-row insert holds 1 to {ONE_STATEMENT_ROWS} rows, not {rows}"
    );
    rows - 1
}
/// `sql/fail.sql`: Ends job ?1 Failed at ?4 with error ?3, if ?2 is its live lease; the failed attempt
/// joins its error history (the latest 20).
pub(crate) const FAIL: &str = include_str!("sql/fail.sql");
/// `sql/fail_expired_leases.sql`: Ends Failed, at ?2, every job of the queues in the JSON array ?1 whose lease expired
/// (lease_until <= ?2) on its last attempt, recording the lost attempt in its error history.
pub(crate) const FAIL_EXPIRED_LEASES: &str = include_str!("sql/fail_expired_leases.sql");
/// `sql/get.sql`: The job with id ?1.
pub(crate) const GET: &str = include_str!("sql/get.sql");
/// `sql/dependents.sql`: The ids of the stored jobs that depend on job ?1.
pub(crate) const DEPENDENTS: &str = include_str!("sql/dependents.sql");
/// `sql/heartbeat.sql`: Extends the lease ?2 on job ?1 to ?3, if it is the job's live lease.
pub(crate) const HEARTBEAT: &str = include_str!("sql/heartbeat.sql");
/// `sql/heartbeat_bulk.sql`: Extends to ?2 each live lease of the JSON array ?1, each [job id as hex, lease token];
/// answers the leases it extended.
pub(crate) const HEARTBEAT_BULK: &str = include_str!("sql/heartbeat_bulk.sql");
/// `sql/job_by_unique_key.sql`: The non-terminal job holding unique key ?1.
pub(crate) const JOB_BY_UNIQUE_KEY: &str = include_str!("sql/job_by_unique_key.sql");
/// `sql/job_by_unique_period.sql`: The job holding unique key ?1 that ended in one of the states of
/// the JSON array ?3 after ?2, the last to finish.
pub(crate) const JOB_BY_UNIQUE_PERIOD: &str = include_str!("sql/job_by_unique_period.sql");
/// `sql/journal_mode_wal.sql`: Turns the database file to write-ahead logging; answers the journal mode in force.
pub(crate) const JOURNAL_MODE_WAL: &str = include_str!("sql/journal_mode_wal.sql");
/// `sql/lease_state.sql`: The id, stored state and lease token of job ?1.
pub(crate) const LEASE_STATE: &str = include_str!("sql/lease_state.sql");
/// `sql/limits.sql`: Every stored limit, by scope (keys first), then name.
pub(crate) const LIMITS: &str = include_str!("sql/limits.sql");
/// `sql/list.sql`: Jobs by filter, in id order. ?1 queue, ?2 kind, ?3 stored state ('pending': scheduled
/// or available; NULL: any); ?4 = 1 only due rows (run_at <= ?5), 0 only later ones,
/// NULL either; ?6 a tag the job carries; ?7 only jobs finished before it; ?8 limit
/// (NULL: none); ?9 only ids after it (the page cursor; NULL: from the first). Its
/// `{where}` is left for [`crate::filter::narrowed`] to write per filter.
pub(crate) const LIST: &str = statement!("list.sql");
/// `sql/list_newest.sql`: list.sql newest first: highest id first; ?9 only ids before
/// it (the page cursor; NULL: from the newest).
pub(crate) const LIST_NEWEST: &str = statement!("list_newest.sql");
/// `sql/next_due.sql`: The earliest pending run_at (no earlier than a full limit of its key or queue
/// opens) or running lease_until of the queues in the JSON array ?1, or NULL.
pub(crate) const NEXT_DUE: &str = include_str!("sql/next_due.sql");
/// `sql/promote_due.sql`: Makes available every scheduled job of the queues in the JSON array ?1 that is due
/// (run_at <= ?2), so that a claim reads only due rows.
pub(crate) const PROMOTE_DUE: &str = include_str!("sql/promote_due.sql");
/// `sql/prune.sql`: Deletes up to ?2 terminal jobs finished before ?1, oldest first (finished_at, id).
pub(crate) const PRUNE: &str = sparing_waited_on!("prune.sql");
/// `sql/queue_stats.sql`: Every queue with a job, a row in queues or a limit, by name: its jobs
/// counted by state as of ?1, its earliest pending run_at, its pause and its limit.
pub(crate) const QUEUE_STATS: &str = statement!("queue_stats.sql");
/// `sql/release.sql`: Gives job ?1 back under live lease ?2: pending at ?3 (as of ?4), its attempt
/// returned. The lease token stays, so the released lease never matches again.
pub(crate) const RELEASE: &str = include_str!("sql/release.sql");
/// `sql/retry.sql`: Records error ?4 on job ?1 under live lease ?2 and makes it pending at ?3 (as of ?5);
/// on its last attempt ends it Failed at ?5 instead; the failed attempt joins its error history.
pub(crate) const RETRY: &str = include_str!("sql/retry.sql");
/// `sql/retry_job.sql`: Runs job ?1 again at ?2 unless it is running: available, no lease, not
/// finished, one more attempt when it spent them all.
pub(crate) const RETRY_JOB: &str = sparing_waited_on!("retry_job.sql");
/// `sql/retry_jobs.sql`: retry_job.sql for the jobs list.sql selects with the same ?1 to ?8 that are
/// not running, lowest ids first; a unique key held by another job fails it whole.
pub(crate) const RETRY_JOBS: &str = on_selected!("retry_jobs.sql", AND_NOT_WAITED_ON);
/// `sql/update_jobs.sql`: update_job.sql for the pending jobs list.sql selects with the same ?1 to
/// ?8, lowest ids first; ?9 to ?11 the run_at, priority and queue to set.
pub(crate) const UPDATE_JOBS: &str = on_selected!("update_jobs.sql");
/// `sql/set_limit.sql`: Stores (or replaces) the limit of scope ?1 named ?2: ?3 max_running, ?4
/// rate_starts, ?5 rate_per (microseconds), at ?6; affects no row for an unknown queue.
pub(crate) const SET_LIMIT: &str = include_str!("sql/set_limit.sql");
/// `sql/settings.sql`: The connection's settings, read back to verify them.
pub(crate) const SETTINGS: &str = include_str!("sql/settings.sql");
/// `sql/take_lock.sql`: Takes lock ?1 for holder ?2 until ?3 if it is free at ?4 or ?2 holds it.
pub(crate) const TAKE_LOCK: &str = include_str!("sql/take_lock.sql");
/// `sql/update_job.sql`: Changes pending job ?1's run_at (?2), priority (?3) and queue (?4) where
/// not NULL, as of ?5.
pub(crate) const UPDATE_JOB: &str = include_str!("sql/update_job.sql");
/// `sql/user_tables.sql`: The names of the database's own tables (SQLite's internal ones left out).
pub(crate) const USER_TABLES: &str = include_str!("sql/user_tables.sql");

/// `sql/depend_on.sql`: Marks the jobs of the JSON array ?1 (hex ids) as depended on;
/// answers the id and stored state of each that exists.
pub(crate) const DEPEND_ON: &str = include_str!("sql/depend_on.sql");
/// `sql/start_dependent.sql`: Starts job ?1, inserted waiting, as
/// `leasehold_sql::dependency::Start` says (?2 to ?7).
pub(crate) const START_DEPENDENT: &str = include_str!("sql/start_dependent.sql");
/// `sql/insert_dependencies.sql`: Records that job ?1 depends on each job of the JSON
/// array ?2.
pub(crate) const INSERT_DEPENDENCIES: &str = include_str!("sql/insert_dependencies.sql");
/// `sql/waiting_dependent.sql`: A waiting job that depends on job ?1, if any.
pub(crate) const WAITING_DEPENDENT: &str = include_str!("sql/waiting_dependent.sql");
/// `sql/settle_pending.sql`: The jobs of this transaction that ended with dependents
/// still to settle.
pub(crate) const SETTLE_PENDING: &str = include_str!("sql/settle_pending.sql");
/// `sql/end_dependents.sql`: Ends at ?2, with error ?3, the waiting dependents of job ?1
/// (which did not complete) whose policy ends them.
pub(crate) const END_DEPENDENTS: &str = include_str!("sql/end_dependents.sql");
/// `sql/count_off_dependents.sql`: Counts job ?1, ended at ?2, off its waiting
/// dependents, making pending those it was the last for.
pub(crate) const COUNT_OFF_DEPENDENTS: &str = include_str!("sql/count_off_dependents.sql");
/// `sql/settled.sql`: Job ?1's dependents are settled.
pub(crate) const SETTLED: &str = include_str!("sql/settled.sql");
/// `sql/count_off_completed.sql`: Counts every completed job queued to settle off its
/// waiting dependents, in one statement.
pub(crate) const COUNT_OFF_COMPLETED: &str = include_str!("sql/count_off_completed.sql");
/// `sql/settled_completed.sql`: The completed jobs queued to settle are settled.
pub(crate) const SETTLED_COMPLETED: &str = include_str!("sql/settled_completed.sql");
/// settle_guard.sql, then `COMMIT`: a commit that fails, leaving the transaction open,
/// while a job with dependents still to settle ended in it.
pub(crate) const GUARDED_COMMIT: &str =
    concat!(include_str!("sql/settle_guard.sql"), "\n;\nCOMMIT");

/// `sql/advance_schedule.sql`: Compare-and-set: moves enabled schedule ?1 from slot ?2 to slot ?3 at ?4.
pub(crate) const ADVANCE_SCHEDULE: &str = include_str!("sql/advance_schedule.sql");
/// `sql/due_schedules.sql`: Up to ?2 enabled schedules whose next slot is at or before ?1, earliest first.
pub(crate) const DUE_SCHEDULES: &str = include_str!("sql/due_schedules.sql");
/// `sql/get_schedule.sql`: The schedule named ?1.
pub(crate) const GET_SCHEDULE: &str = include_str!("sql/get_schedule.sql");
/// `sql/list_schedules.sql`: Every schedule, by name.
pub(crate) const LIST_SCHEDULES: &str = include_str!("sql/list_schedules.sql");
/// `sql/pause_schedule.sql`: Disables schedule ?1 at ?2, if it is enabled.
pub(crate) const PAUSE_SCHEDULE: &str = include_str!("sql/pause_schedule.sql");
/// `sql/set_queue_paused.sql`: Sets queue ?1 paused (?2 = 1) or not (?2 = 0) at ?3, if
/// it is known.
pub(crate) const SET_QUEUE_PAUSED: &str = include_str!("sql/set_queue_paused.sql");
/// `sql/remove_schedule.sql`: Deletes schedule ?1 (its jobs stay).
pub(crate) const REMOVE_SCHEDULE: &str = include_str!("sql/remove_schedule.sql");
/// `sql/resume_schedule.sql`: Enables paused schedule ?1 from slot ?2 at ?3.
pub(crate) const RESUME_SCHEDULE: &str = include_str!("sql/resume_schedule.sql");
/// `sql/upsert_schedule.sql`: Inserts schedule ?1 enabled, or replaces its definition, keeping its next slot
/// when the spec is unchanged and a pause.
pub(crate) const UPSERT_SCHEDULE: &str = statement!("upsert_schedule.sql");

/// Every statement, with its file name (for the tests that read them all).
#[cfg(test)]
pub(crate) const ALL: &[(&str, &str)] = &[
    ("applied_migrations.sql", APPLIED_MIGRATIONS),
    ("checkpoint_passive.sql", CHECKPOINT_PASSIVE),
    ("cancel.sql", CANCEL),
    ("claim_queue.sql", CLAIM_QUEUE),
    ("claim_queue_simple.sql", CLAIM_QUEUE_SIMPLE),
    ("claim_queues.sql", CLAIM_QUEUES),
    ("claimed_table.sql", CLAIMED_TABLE),
    ("forget_claimed.sql", FORGET_CLAIMED),
    ("claim_chosen.sql", CLAIM_CHOSEN),
    ("claim_simple_guard.sql", CLAIM_SIMPLE_GUARD),
    ("count_starts.sql", COUNT_STARTS),
    ("complete.sql", COMPLETE),
    ("complete_bulk.sql", COMPLETE_BULK),
    ("complete_row.sql", COMPLETE_ROW),
    ("complete_row_by_rowid.sql", COMPLETE_ROW_BY_ROWID),
    ("claim_simple_choose.sql", CLAIM_SIMPLE_CHOOSE),
    ("lease_rows.sql", LEASE_ROWS),
    ("complete_with_output.sql", COMPLETE_WITH_OUTPUT),
    ("cancel_jobs.sql", CANCEL_JOBS),
    ("count.sql", COUNT),
    ("delete_job.sql", DELETE_JOB),
    ("delete_limit.sql", DELETE_LIMIT),
    ("delete_limit_starts.sql", DELETE_LIMIT_STARTS),
    ("delete_jobs.sql", DELETE_JOBS),
    ("delete_finished.sql", DELETE_FINISHED),
    ("enqueue.sql", ENQUEUE),
    ("enqueue_row.sql", ENQUEUE_ROW),
    ("savepoint_bulk.sql", SAVEPOINT_BULK),
    ("rollback_bulk.sql", ROLLBACK_BULK),
    ("release_bulk.sql", RELEASE_BULK),
    ("fail.sql", FAIL),
    ("fail_expired_leases.sql", FAIL_EXPIRED_LEASES),
    ("get.sql", GET),
    ("dependents.sql", DEPENDENTS),
    ("heartbeat.sql", HEARTBEAT),
    ("heartbeat_bulk.sql", HEARTBEAT_BULK),
    ("job_by_unique_key.sql", JOB_BY_UNIQUE_KEY),
    ("job_by_unique_period.sql", JOB_BY_UNIQUE_PERIOD),
    ("journal_mode_wal.sql", JOURNAL_MODE_WAL),
    ("lease_state.sql", LEASE_STATE),
    ("limits.sql", LIMITS),
    ("list.sql", LIST),
    ("list_newest.sql", LIST_NEWEST),
    ("next_due.sql", NEXT_DUE),
    ("promote_due.sql", PROMOTE_DUE),
    ("prune.sql", PRUNE),
    ("queue_stats.sql", QUEUE_STATS),
    ("release.sql", RELEASE),
    ("retry.sql", RETRY),
    ("retry_job.sql", RETRY_JOB),
    ("retry_jobs.sql", RETRY_JOBS),
    ("set_limit.sql", SET_LIMIT),
    ("settings.sql", SETTINGS),
    ("take_lock.sql", TAKE_LOCK),
    ("update_job.sql", UPDATE_JOB),
    ("update_jobs.sql", UPDATE_JOBS),
    ("user_tables.sql", USER_TABLES),
    ("advance_schedule.sql", ADVANCE_SCHEDULE),
    ("due_schedules.sql", DUE_SCHEDULES),
    ("get_schedule.sql", GET_SCHEDULE),
    ("list_schedules.sql", LIST_SCHEDULES),
    ("pause_schedule.sql", PAUSE_SCHEDULE),
    ("set_queue_paused.sql", SET_QUEUE_PAUSED),
    ("remove_schedule.sql", REMOVE_SCHEDULE),
    ("resume_schedule.sql", RESUME_SCHEDULE),
    ("upsert_schedule.sql", UPSERT_SCHEDULE),
    ("depend_on.sql", DEPEND_ON),
    ("start_dependent.sql", START_DEPENDENT),
    ("insert_dependencies.sql", INSERT_DEPENDENCIES),
    ("waiting_dependent.sql", WAITING_DEPENDENT),
    ("settle_pending.sql", SETTLE_PENDING),
    ("end_dependents.sql", END_DEPENDENTS),
    ("count_off_dependents.sql", COUNT_OFF_DEPENDENTS),
    ("settled.sql", SETTLED),
    ("count_off_completed.sql", COUNT_OFF_COMPLETED),
    ("settled_completed.sql", SETTLED_COMPLETED),
    ("settle_guard.sql", include_str!("sql/settle_guard.sql")),
];

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;
