//! The SQL as SQL: no statement reads the database clock, and the hot statements are
//! served by indexes.

use leasehold_sql::testing::{
    self, all_sql_files, assert_no_clock_reads, assert_one_statement_each,
    assert_placeholders_filled, statement_files,
};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, AssertSqlSafe, Row};

use super::*;

/// Words that read the database's clock wherever they appear, beyond the standard's.
const CLOCK_WORDS: &[&str] = &["unixepoch", "julianday"];
/// SQLite's date and time functions: they read the clock when given 'now' or nothing.
const CLOCK_FUNCTIONS: &[&str] = &["date", "time", "datetime", "strftime", "timediff"];

/// The clock-reading words in `sql`, comments included.
fn clock_reads(sql: &str) -> Vec<String> {
    testing::clock_reads(sql, CLOCK_WORDS, CLOCK_FUNCTIONS)
}

#[test]
fn the_clock_check_catches_every_way_to_read_the_clock() {
    let sqlite_reads = [
        "SELECT unixepoch('subsec')",
        "SELECT julianday('now')",
        "SELECT strftime('%s')",
        "SELECT datetime ('now')",
    ];

    testing::assert_catches_clock_reads(
        clock_reads,
        &sqlite_reads,
        "SELECT run_at, time_of FROM jobs -- the time given",
    );
}

#[test]
fn no_sql_file_reads_the_database_clock() {
    let files = all_sql_files(env!("CARGO_MANIFEST_DIR"));

    assert_no_clock_reads(&files, 10, clock_reads, |_| false);
}

#[test]
fn every_sql_file_is_one_statement_in_use() {
    let files = statement_files(env!("CARGO_MANIFEST_DIR"));

    assert_one_statement_each(files.len(), ALL);
}

#[test]
fn every_statement_has_its_parts_filled_in() {
    // count.sql and list.sql leave their WHERE to filter.rs: as a filter with every
    // term set writes it.
    let every = leasehold::JobFilter::all()
        .queue("q")
        .kind("k")
        .state(leasehold::JobState::Failed)
        .tag("t")
        .finished_before(leasehold::testing::conformance::t(1))
        .after(leasehold::JobId::MAX);
    let narrowed: Vec<(&str, String)> = ALL
        .iter()
        .map(|(name, text)| {
            let read = match *name {
                "count.sql" => Some(crate::filter::Read::Count),
                "list.sql" => Some(crate::filter::Read::List),
                "list_newest.sql" => Some(crate::filter::Read::ListNewest),
                _ => None,
            };
            let text = read.map_or_else(
                || (*text).to_owned(),
                |read| crate::filter::narrowed(read, &every),
            );
            (*name, text)
        })
        .collect();
    assert_placeholders_filled(narrowed.iter().map(|(name, text)| (*name, text.as_str())));
}

/// The query plan of `statement` with `arguments`, one detail line per step.
async fn query_plan(
    pool: &sqlx::SqlitePool,
    statement: &str,
    arguments: SqliteArguments,
) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {statement}");
    sqlx::query_with(AssertSqlSafe(explain), arguments)
        .fetch_all(pool)
        .await
        .expect("the statement can be explained")
        .iter()
        .map(|row| row.try_get::<String, _>("detail").expect("a detail column"))
        .collect()
}

fn arguments(values: &[Value]) -> SqliteArguments {
    let mut arguments = SqliteArguments::default();
    for value in values {
        match value {
            Value::Int(i) => arguments.add(*i).expect("an integer binds"),
            Value::Text(s) => arguments.add(s.to_string()).expect("a text binds"),
            Value::Blob => arguments.add(vec![0u8; 16]).expect("a blob binds"),
            Value::Null => arguments.add(None::<i64>).expect("a NULL binds"),
        }
    }
    arguments
}

enum Value {
    Int(i64),
    Text(&'static str),
    Blob,
    Null,
}

/// Runs `body` on a new in-memory store, migrated, in a runtime of its own.
fn on_a_new_store<T>(body: impl AsyncFnOnce(crate::SqliteStore) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let store = crate::SqliteStore::connect("sqlite::memory:")
            .await
            .expect("the store opens");
        body(store).await
    })
}

/// Whether a step of `plan` mentions `word` (an index, a sort's `TEMP B-TREE`).
fn mentions<'a>(plan: impl IntoIterator<Item = &'a String>, word: &str) -> bool {
    plan.into_iter().any(|step| step.contains(word))
}

/// Whether a plan step reads a whole table (a scan that uses no index).
fn is_full_scan(detail: &str) -> bool {
    ["jobs", "schedules"].iter().any(|table| {
        detail == format!("SCAN {table}") || detail.starts_with(&format!("SCAN {table} "))
    }) && !detail.contains("USING")
}

#[test]
fn hot_statements_never_scan_a_table() {
    use Value::{Blob, Int, Null, Text};
    let hot: Vec<(&str, &str, Vec<Value>)> = vec![
        (
            "claim_queue",
            CLAIM_QUEUE,
            vec![Text("q"), Int(0), Int(10), Int(1), Text("w"), Int(10)],
        ),
        (
            "claim_queues",
            CLAIM_QUEUES,
            vec![
                Text(r#"["a","b"]"#),
                Int(0),
                Int(10),
                Int(1),
                Text("w"),
                Int(10),
            ],
        ),
        (
            "claim_queue_simple",
            CLAIM_QUEUE_SIMPLE,
            vec![Text("q"), Int(0), Int(10), Int(1), Text("w"), Int(10)],
        ),
        (
            "claim_simple_choose",
            CLAIM_SIMPLE_CHOOSE,
            vec![Text("q"), Int(0), Int(10)],
        ),
        (
            "lease_rows",
            lease_rows(2),
            vec![Null, Int(0), Null, Int(1), Text("w"), Int(1), Null],
        ),
        (
            "claim_simple_guard",
            CLAIM_SIMPLE_GUARD,
            vec![Text(r#"["a"]"#), Int(0)],
        ),
        (
            "fail_expired_leases",
            FAIL_EXPIRED_LEASES,
            vec![Text(r#"["a"]"#), Int(0)],
        ),
        ("promote_due", PROMOTE_DUE, vec![Text(r#"["a"]"#), Int(0)]),
        ("heartbeat", HEARTBEAT, vec![Blob, Int(1), Int(2)]),
        (
            "heartbeat_bulk",
            HEARTBEAT_BULK,
            vec![Text(r#"[["0190f0e0a0b0c0d0e0f0a0b0c0d0e0f0",1]]"#), Int(2)],
        ),
        ("complete", COMPLETE, vec![Blob, Int(1), Int(2)]),
        (
            "complete_bulk",
            COMPLETE_BULK,
            vec![Text(r#"[["0190f0e0a0b0c0d0e0f0a0b0c0d0e0f0",1,2]]"#)],
        ),
        (
            "complete_rows",
            complete_rows(2),
            vec![Blob, Int(1), Int(2), Null, Null, Null],
        ),
        (
            "complete_rows_by_rowid",
            complete_rows_by_rowid(2),
            vec![Int(1), Blob, Int(1), Int(2), Null, Null, Null, Null],
        ),
        (
            "retry",
            RETRY,
            vec![Blob, Int(1), Int(2), Text("e"), Int(3)],
        ),
        ("fail", FAIL, vec![Blob, Int(1), Text("e"), Int(3)]),
        (
            "complete_with_output",
            COMPLETE_WITH_OUTPUT,
            vec![Blob, Int(1), Int(2), Text("{}")],
        ),
        (
            "enqueue",
            ENQUEUE,
            vec![
                Blob,
                Text("k"),
                Text("q"),
                Text("{}"),
                Int(0),
                Int(1),
                Int(3),
                Text("key"),
                Int(1),
                Text("[]"),
                Text("{}"),
                Int(0),
                Text(r#"["completed"]"#),
                Text("partner:a"),
            ],
        ),
        (
            "job_by_unique_period",
            JOB_BY_UNIQUE_PERIOD,
            vec![Text("key"), Int(0), Text(r#"["completed"]"#)],
        ),
        ("retry_job", RETRY_JOB, vec![Blob, Int(1)]),
        ("delete_job", DELETE_JOB, vec![Blob]),
        (
            "update_job",
            UPDATE_JOB,
            vec![Blob, Int(1), Int(2), Text("q"), Int(3)],
        ),
        (
            "take_lock",
            TAKE_LOCK,
            vec![Text("l"), Text("h"), Int(2), Int(1)],
        ),
        ("release", RELEASE, vec![Blob, Int(1), Int(2), Int(3)]),
        ("cancel", CANCEL, vec![Blob, Int(1)]),
        ("get", GET, vec![Blob]),
        ("lease_state", LEASE_STATE, vec![Blob]),
        ("job_by_unique_key", JOB_BY_UNIQUE_KEY, vec![Text("k")]),
        ("next_due", NEXT_DUE, vec![Text(r#"["a"]"#)]),
        ("prune", PRUNE, vec![Int(0), Int(10)]),
        ("due_schedules", DUE_SCHEDULES, vec![Int(0), Int(10)]),
        (
            "advance_schedule",
            ADVANCE_SCHEDULE,
            vec![Text("s"), Int(0), Int(1), Int(2)],
        ),
    ];
    on_a_new_store(async |store| {
        let mut plans = Vec::new();
        for (name, statement, values) in hot {
            plans.push((
                name,
                query_plan(store.read_pool(), statement, arguments(&values)).await,
            ));
        }

        testing::assert_plans_use_indexes(&plans, is_full_scan);
        for name in ["enqueue", "job_by_unique_period"] {
            let (_, plan) = plans.iter().find(|(n, _)| *n == name).expect("planned");
            assert!(
                mentions(plan, "jobs_unique_finished"),
                "{name} finds the finished holders of a key by jobs_unique_finished: {plan:#?}"
            );
        }
        let (_, simple) = plans
            .iter()
            .find(|(n, _)| *n == "claim_queue_simple")
            .expect("planned");
        assert!(
            mentions(simple, "jobs_ready") && !mentions(simple, "TEMP B-TREE"),
            "the simple claim reads jobs_ready in claim order, without sorting: {simple:#?}"
        );
        let (_, by_rowid) = plans
            .iter()
            .find(|(n, _)| *n == "complete_rows_by_rowid")
            .expect("planned");
        assert!(
            mentions(by_rowid, "USING INTEGER PRIMARY KEY (rowid=?)")
                && !mentions(by_rowid, "sqlite_autoindex_jobs"),
            "a completion by rowid finds the row without the index of ids: {by_rowid:#?}"
        );
        let claim = &plans[0].1;
        // The ready arm (the backlog) is read in claim order and stops at the limit;
        // only the arm of expired leases (few) may be sorted.
        let ready_arm = claim
            .iter()
            .skip_while(|d| *d != "LEFT")
            .take_while(|d| *d != "RIGHT");
        assert!(
            mentions(ready_arm.clone(), "jobs_ready"),
            "the claim's ready arm reads jobs_ready: {claim:#?}"
        );
        assert!(
            !mentions(ready_arm, "TEMP B-TREE"),
            "a one-queue claim reads ready rows in claim order, without sorting: {claim:#?}"
        );
        // A limited key's or queue's jobs are walked: each step seeks past the last job
        // taken on the whole claim order, never on the priority alone (which would scan
        // the jobs of that priority again at every step), and a queue's walk stops at
        // its bound (`walk_bound`), not at the end of the queue's backlog.
        for (name, plan) in &plans[..2] {
            for walk in [
                "jobs_ready_by_key (limit_key=? AND (priority,run_at,id)>(?,?,?))",
                "jobs_ready (queue=? AND (priority,run_at,id)>(?,?,?) \
                 AND (priority,run_at,id)<(?,?,?))",
            ] {
                assert!(
                    mentions(plan, walk),
                    "{name} walks by seeking {walk}: {plan:#?}"
                );
            }
        }
    });
}

#[test]
fn every_error_history_append_keeps_the_core_limit() {
    let limit = format!(
        "json_array_length(errors) >= {}",
        leasehold::ERROR_HISTORY_LIMIT
    );
    let appends: Vec<&str> = ALL
        .iter()
        .filter(|(_, text)| testing::code(text).contains("errors = json_insert("))
        .map(|(name, text)| {
            assert!(
                testing::code(text).contains(&limit),
                "{name} drops the oldest error at the core's limit ({limit})"
            );
            *name
        })
        .collect();

    assert_eq!(
        appends,
        ["fail.sql", "fail_expired_leases.sql", "retry.sql"],
        "the writes that record a failed attempt"
    );
}

/// The opcodes of `statement`'s program (`EXPLAIN`), in order.
async fn program(db: impl sqlx::SqliteExecutor<'_>, statement: &str) -> Vec<String> {
    sqlx::query(AssertSqlSafe(format!("EXPLAIN {statement}")))
        .fetch_all(db)
        .await
        .expect("the statement compiles")
        .iter()
        .map(|row| {
            row.try_get::<String, _>("opcode")
                .expect("an opcode column")
        })
        .collect()
}

#[test]
fn every_end_of_a_job_queues_its_dependents_and_no_claim_runs_a_trigger() {
    // jobs_ended_with_dependents fires on an UPDATE that sets finished_at (migration
    // 0013): every statement that ends a job must set it, or a job with dependents
    // would end without them settled; a claim, a lease write or a promotion must not,
    // or it would enter the trigger's program for every row it writes. A trigger's
    // program is the opcode Program.
    let ends = [
        ("complete", COMPLETE),
        ("complete_bulk", COMPLETE_BULK),
        ("complete_row", complete_rows(1)),
        ("complete_row_by_rowid", complete_rows_by_rowid(1)),
        ("complete_with_output", COMPLETE_WITH_OUTPUT),
        ("fail", FAIL),
        ("fail_expired_leases", FAIL_EXPIRED_LEASES),
        ("retry", RETRY),
        ("cancel", CANCEL),
        ("cancel_jobs", CANCEL_JOBS),
        ("end_dependents", END_DEPENDENTS),
        ("start_dependent", START_DEPENDENT),
    ];
    let writes = [
        ("claim_queue", CLAIM_QUEUE),
        ("claim_queues", CLAIM_QUEUES),
        ("claim_queue_simple", CLAIM_QUEUE_SIMPLE),
        ("claim_chosen", CLAIM_CHOSEN),
        ("lease_rows", lease_rows(1)),
        ("promote_due", PROMOTE_DUE),
        ("heartbeat", HEARTBEAT),
        ("heartbeat_bulk", HEARTBEAT_BULK),
        ("release", RELEASE),
    ];
    let (ends, writes) = on_a_new_store(async |store| {
        // claim_chosen.sql reads the temporary table of the claim's choice, which is
        // the connection's own.
        let mut conn = store.read_pool().acquire().await.unwrap();
        sqlx::raw_sql(CLAIMED_TABLE)
            .execute(&mut *conn)
            .await
            .unwrap();
        let mut programs = (Vec::new(), Vec::new());
        for (name, statement) in ends {
            programs
                .0
                .push((name, program(&mut *conn, statement).await));
        }
        for (name, statement) in writes {
            programs
                .1
                .push((name, program(&mut *conn, statement).await));
        }
        programs
    });

    for (name, opcodes) in ends {
        assert!(
            opcodes.iter().any(|op| op == "Program"),
            "{name} ends jobs without queueing their dependents"
        );
    }
    for (name, opcodes) in writes {
        assert!(
            !opcodes.iter().any(|op| op == "Program"),
            "{name} runs a trigger's program"
        );
    }
}

#[test]
fn writing_a_jobs_state_builds_no_temporary_table_per_row() {
    // SQLite evaluates the CHECK constraints and the partial indexes' conditions on
    // each row written, and there an IN list of more than two constants is built into
    // a temporary B-tree for every row (migration 0011): writes of the state, the finish
    // time and the lease, as a claim, a completion and a failure make them, must build
    // none. (A statement's own WHERE builds its lists once, before its loop.)
    let writes = [
        "UPDATE jobs SET state = 'running', lease_until = 1, lease_token = lease_token + 1 \
         WHERE id = x'00'",
        "UPDATE jobs SET state = 'completed', finished_at = 1, lease_until = NULL \
         WHERE id = x'00'",
        "UPDATE jobs SET state = 'failed', finished_at = 1, last_error = 'e' WHERE id = x'00'",
        "UPDATE jobs SET state = 'available', finished_at = NULL WHERE id = x'00'",
    ];
    let programs = on_a_new_store(async |store| {
        let mut programs = Vec::new();
        for write in writes {
            programs.push((write, program(store.read_pool(), write).await));
        }
        programs
    });

    for (write, opcodes) in programs {
        let ephemeral = opcodes.iter().filter(|op| *op == "OpenEphemeral").count();
        assert_eq!(
            ephemeral, 0,
            "{write} builds {ephemeral} temporary tables per row"
        );
    }
}

#[test]
fn retention_deletes_walk_the_index_of_finished_jobs_from_its_old_end() {
    use Value::{Int, Null};
    let plan = on_a_new_store(async |store| {
        let values = [
            Null,
            Null,
            Value::Text("completed"),
            Null,
            Int(5),
            Null,
            Int(5),
            Int(1000),
        ];
        query_plan(store.read_pool(), DELETE_FINISHED, arguments(&values)).await
    });

    assert!(
        mentions(&plan, "jobs_finished"),
        "the delete reads jobs_finished: {plan:?}"
    );
    assert!(
        !mentions(&plan, "TEMP B-TREE"),
        "and needs no sort: {plan:?}"
    );
}

#[test]
fn a_filtered_list_or_count_reads_the_index_its_state_names() {
    use leasehold::{JobFilter, JobState};
    use leasehold_sql::filter::{count_params, page_params};

    use crate::filter::{Read, narrowed};
    let now = leasehold::testing::conformance::t(0);
    let failed = JobFilter::all().state(JobState::Failed);
    let running = JobFilter::all().state(JobState::Running);
    let newest_page = |filter: &JobFilter| filter.clone().newest_first().limit(51);
    on_a_new_store(async |store| {
        let pool = store.read_pool();
        let plan = async |read: Read, filter: &JobFilter| {
            let explain = format!("EXPLAIN QUERY PLAN {}", narrowed(read, filter));
            let params: Vec<_> = if read != Read::Count {
                page_params(filter, now).into_iter().collect()
            } else {
                count_params(filter, now).into_iter().collect()
            };
            crate::row::bind(sqlx::query(AssertSqlSafe(explain)), params)
                .fetch_all(pool)
                .await
                .expect("the statement can be explained")
                .iter()
                .map(|row| row.try_get::<String, _>("detail").expect("a detail column"))
                .collect::<Vec<_>>()
        };

        let failed_page = plan(Read::ListNewest, &newest_page(&failed)).await;
        let failed_count = plan(Read::Count, &failed).await;
        let running_page = plan(Read::ListNewest, &newest_page(&running)).await;
        let every_count = plan(Read::Count, &JobFilter::all()).await;
        let deep_page = plan(
            Read::ListNewest,
            &newest_page(&JobFilter::all().after(leasehold::JobId::MAX)),
        )
        .await;

        for (name, plan) in [
            ("failed page", &failed_page),
            ("failed count", &failed_count),
        ] {
            assert!(
                mentions(plan, "jobs_failed_or_cancelled"),
                "{name}: {plan:#?}"
            );
            assert!(!plan.iter().any(|s| is_full_scan(s)), "{name}: {plan:#?}");
        }
        assert!(
            !mentions(&failed_page, "TEMP B-TREE"),
            "a terminal state's page comes in id order: {failed_page:#?}"
        );
        assert!(
            mentions(&running_page, "jobs_leased"),
            "running jobs are found by jobs_leased: {running_page:#?}"
        );
        assert!(
            mentions(&every_count, "COVERING INDEX"),
            "a count of every job reads the smallest index, not the rows: {every_count:#?}"
        );
        assert!(
            mentions(&deep_page, "(id<?)"),
            "a page's cursor seeks the id index: {deep_page:#?}"
        );
    });
}

#[test]
fn a_jobs_dependents_are_read_by_its_id_and_an_end_without_any_reads_none() {
    use Value::{Blob, Int, Text};
    let statements: Vec<(&str, &str, Vec<Value>)> = vec![
        (
            "end_dependents",
            END_DEPENDENTS,
            vec![Blob, Int(1), Text("e")],
        ),
        (
            "count_off_dependents",
            COUNT_OFF_DEPENDENTS,
            vec![Blob, Int(1)],
        ),
        ("count_off_completed", COUNT_OFF_COMPLETED, vec![]),
        ("waiting_dependent", WAITING_DEPENDENT, vec![Blob]),
        (
            "depend_on",
            DEPEND_ON,
            vec![Text(r#"["0190f0e0a0b0c0d0e0f0a0b0c0d0e0f0"]"#)],
        ),
        ("delete_job", DELETE_JOB, vec![Blob]),
        ("prune", PRUNE, vec![Int(0), Int(10)]),
    ];
    let (plans, guard) = on_a_new_store(async |store| {
        let mut plans = Vec::new();
        for (name, statement, values) in statements {
            let plan = query_plan(store.read_pool(), statement, arguments(&values)).await;
            plans.push((name, plan));
        }
        let guard = include_str!("sql/settle_guard.sql");
        let guard = query_plan(store.read_pool(), guard, arguments(&[])).await;
        (plans, guard)
    });

    for (name, plan) in &plans {
        assert!(
            !plan.iter().any(|step| is_full_scan(step)),
            "{name}: {plan:#?}"
        );
    }
    for (name, plan) in &plans[..4] {
        assert!(
            mentions(plan, "USING PRIMARY KEY (dependency=?)"),
            "{name} finds a job's dependents by the primary key: {plan:#?}"
        );
    }
    // The one read every commit adds: the queue of jobs to settle, empty between
    // transactions (a completion of a job without dependents queues nothing: the
    // trigger's WHEN is its has_dependents column).
    assert_eq!(guard, ["SCAN dependency_settle"], "{guard:#?}");
    let trigger = include_str!("../migrations/0009_dependencies.sql");
    assert!(
        trigger.contains("WHEN NEW.has_dependents = 1\n"),
        "queued only with dependents"
    );
}

#[test]
fn the_direct_claim_chooses_and_reads_its_jobs_as_the_simple_claim_leases_them() {
    let choose = testing::code(CLAIM_SIMPLE_CHOOSE);
    let simple = testing::code(CLAIM_QUEUE_SIMPLE);
    let after = |text: &str, word: &str| text[text.find(word).expect(word)..].to_owned();
    let choice = after(&simple, "SELECT rowid FROM jobs");
    let choice = &choice[..choice.find("RETURNING").expect("the claim's answer")];
    let choice = &choice[..choice.rfind(')').expect("the end of the choice")];

    // The same jobs: the simple claim's WHERE, ORDER BY and LIMIT.
    assert_eq!(
        after(&choose, "FROM jobs\n")
            .split_whitespace()
            .collect::<Vec<_>>(),
        after(choice, "FROM jobs")
            .split_whitespace()
            .collect::<Vec<_>>(),
    );
    // Each column as the claim leaves it: what parts/claim_lease.sql writes, as it
    // writes it, unless the direct claim knows it (CLAIM_KNOWS).
    let lease = include_str!("sql/parts/claim_lease.sql");
    for (column, value) in [
        ("attempt", "attempt + 1 AS attempt"),
        ("lease_token", "lease_token + 1 AS lease_token"),
        (
            "first_attempted_at",
            "coalesce(first_attempted_at, ?2) AS first_attempted_at",
        ),
    ] {
        let written = value.split(" AS ").next().unwrap();
        assert!(lease.contains(&format!("{column} = {written}")), "{column}");
        assert!(choose.contains(value), "{value}");
    }
    let returning = after(
        &testing::code(include_str!("sql/parts/claim_returning.sql")),
        "RETURNING",
    );
    for column in returning.trim_start_matches("RETURNING").split(',') {
        let column = column.split_whitespace().last().expect("a column");
        let known = ["state", "queue", "lease_until", "worker", "attempted_at"];
        assert!(
            known.contains(&column)
                || choose.contains(&format!(" {column},"))
                || choose.contains(&format!(" {column}\n")),
            "{column}: answered by the full claim, chosen by the direct one or known"
        );
    }
    // And the lease it writes is the full claim's.
    assert!(testing::code(LEASE_ROWS).contains(&testing::code(lease)));
}

#[test]
fn lease_rows_lists_a_power_of_two_of_rowids() {
    for rows in [1, 2, 64, PADDED_STATEMENT_ROWS] {
        let statement = lease_rows(rows);
        let list = &statement[statement.find("rowid IN (").unwrap()..];
        assert_eq!(list.matches('?').count(), rows, "{rows} rowids");
    }
    assert!(std::panic::catch_unwind(|| lease_rows(3)).is_err());
}

#[test]
fn complete_rows_repeats_the_row_of_complete_row_sql() {
    let row = "(?, ?, ?)";
    let one = complete_rows(1);
    assert_eq!(one, testing::code(COMPLETE_ROW));
    let mut rows = 1;
    while rows <= PADDED_STATEMENT_ROWS {
        let statement = complete_rows(rows);
        assert_eq!(statement.matches('?').count(), 3 * rows, "{rows} rows");
        assert_eq!(
            statement.replace(&format!("{row}, "), ""),
            one,
            "{rows} rows: only the row repeats"
        );
        rows *= 2;
    }
}

#[test]
fn complete_rows_by_rowid_repeats_the_row_of_its_sql() {
    let one = complete_rows_by_rowid(1);
    assert_eq!(one, testing::code(COMPLETE_ROW_BY_ROWID));
    let rows = complete_rows_by_rowid(PADDED_STATEMENT_ROWS);
    assert_eq!(rows.matches('?').count(), 4 * PADDED_STATEMENT_ROWS);
    assert_eq!(
        rows.replace("(?, ?, ?, ?), ", ""),
        one,
        "only the row repeats"
    );
}

#[test]
fn complete_rows_takes_powers_of_two_of_rows_only() {
    for rows in [0, 3, 2 * PADDED_STATEMENT_ROWS] {
        assert!(
            std::panic::catch_unwind(|| complete_rows(rows)).is_err(),
            "{rows} rows"
        );
    }
}

#[test]
fn both_bulk_completions_write_and_check_the_same() {
    for statement in [COMPLETE_BULK, COMPLETE_ROW, COMPLETE_ROW_BY_ROWID] {
        let code = testing::code(statement);
        for part in [
            "SET state = 'completed'",
            "lease_until = NULL",
            "jobs.state = 'running'",
            "jobs.has_dependents = 0",
        ] {
            assert!(code.contains(part), "{part}: {code}");
        }
    }
}
