//! The `WHERE` of `count.sql`, `list.sql` and `list_newest.sql`, written for the filter
//! at hand.
//!
//! `parts/filter.sql` says "any queue" as `(?1 IS NULL OR queue = ?1)`. That form is
//! one statement for every filter, but SQLite plans a statement before it sees the
//! values bound to it, so no index can serve a term that may turn out to be true for
//! every row: with it, `count` read every job and a list of failed jobs, newest first,
//! walked the id index past every job that had not failed (6 s over a million jobs).
//! Here a filter's statement holds only the terms it sets, so SQLite sees what it can
//! use:
//!
//! - `failed` and `cancelled` also say `state IN ('failed', 'cancelled')`, the
//!   condition of the partial index `jobs_failed_or_cancelled` (state, id) of migration
//!   0008, so their jobs are read from that index in id order. `completed` has no such
//!   index (it would cost every completion, the common end of a job): its jobs are
//!   found by walking ids, newest first where they are usually the most recent;
//! - `running` reads the running jobs' ids from `jobs_leased` first (they are few, and
//!   usually old: walking ids newest first would pass every waiting job to find them);
//! - a finish time is read from `jobs_finished` (finished_at, id), whose condition
//!   (the terminal states) it names too: only a finished job has one;
//! - a page's cursor is `id > ?9` (`id < ?9` newest first), a range of the id index,
//!   where `?9 IS NULL OR id > ?9` walked from the first id to the cursor;
//! - no filter at all is a plain `count(*)`, which SQLite answers from the smallest
//!   index without reading a row.
//!
//! The parameters are those of `parts/filter.sql` (`leasehold_sql::filter`'s
//! `count_params` and `page_params`) with their numbers: a term the filter does not set
//! leaves its parameter unused, which SQLite allows.
//!
//! The bulk verbs keep `parts/filter.sql`: each is one write statement whose cost is in
//! the rows it changes.

use leasehold::{JobFilter, JobState};

/// Where a statement's filter goes.
const PLACEHOLDER: &str = "{where}";

/// A read of jobs by filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// `count.sql`: the cursor does not apply.
    Count,
    /// `list.sql`: lowest ids first, after the cursor.
    List,
    /// `list_newest.sql`: highest ids first, before the cursor.
    ListNewest,
}

impl Read {
    fn statement(self) -> &'static str {
        match self {
            Read::Count => crate::sql::COUNT,
            Read::List => crate::sql::LIST,
            Read::ListNewest => crate::sql::LIST_NEWEST,
        }
    }
}

/// The statement of `read` with the terms of `filter` in place of its `{where}`. A
/// filter that sets nothing leaves no `WHERE`: `count.sql` is then a bare `count(*)`.
pub(crate) fn narrowed(read: Read, filter: &JobFilter) -> String {
    let statement = read.statement();
    let narrowed = match terms(read, filter) {
        Some(terms) => statement.replace(PLACEHOLDER, &terms),
        None => statement.replace("\nWHERE {where}", ""),
    };
    debug_assert!(
        statement.contains(PLACEHOLDER) && !narrowed.contains(PLACEHOLDER),
        "a statement with a filter, written: {narrowed}"
    );
    narrowed
}

/// The terms of `filter` for `read`, joined by `AND`; `None` when it sets none.
fn terms(read: Read, filter: &JobFilter) -> Option<String> {
    let mut terms: Vec<&str> = Vec::with_capacity(5);
    if filter.queue.is_some() {
        terms.push("queue = ?1");
    }
    if filter.kind.is_some() {
        terms.push("kind = ?2");
    }
    match filter.state {
        None => {}
        // Either pending state is stored as either, told apart by run_at (?4 the due
        // test against ?5, the time given).
        Some(JobState::Scheduled | JobState::Available) => {
            terms.push("state IN ('scheduled', 'available') AND (run_at <= ?5) = ?4");
        }
        Some(JobState::Running) => {
            terms.push("id IN (SELECT id FROM jobs WHERE state = 'running') AND state = ?3");
        }
        Some(JobState::Failed | JobState::Cancelled) => {
            terms.push("state = ?3 AND state IN ('failed', 'cancelled')");
        }
        Some(_) => terms.push("state = ?3"),
    }
    if filter.tag.is_some() {
        terms.push("EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?6)");
    }
    if filter.finished_before.is_some() {
        // Only a finished job has a finish time: naming the terminal states lets the
        // range be read from jobs_finished (finished_at, id), as retention does.
        terms.push("finished_at < ?7 AND state IN ('completed', 'failed', 'cancelled')");
    }
    if filter.after.is_some() {
        match read {
            Read::Count => {}
            Read::List => terms.push("id > ?9"),
            Read::ListNewest => terms.push("id < ?9"),
        }
    }
    (!terms.is_empty()).then(|| terms.join("\n  AND "))
}

#[cfg(test)]
mod tests {
    use leasehold::testing::conformance::t;

    use super::*;

    #[test]
    fn a_filter_that_sets_nothing_leaves_no_where() {
        let any = JobFilter::all().limit(3).newest_first();
        let paged = JobFilter::all().after(leasehold::JobId::MAX);

        assert_eq!(terms(Read::ListNewest, &any), None);
        assert_eq!(
            terms(Read::Count, &paged),
            None,
            "a count ignores the cursor"
        );
        let count = narrowed(Read::Count, &any);
        assert!(count.trim_end().ends_with("FROM jobs"), "{count}");
        let list = narrowed(Read::List, &any);
        assert!(list.contains("FROM jobs\nORDER BY id"), "{list}");
        assert!(narrowed(Read::List, &paged).contains("WHERE id > ?9"));
        assert!(narrowed(Read::ListNewest, &paged).contains("WHERE id < ?9"));
    }

    #[test]
    fn each_term_is_there_only_when_its_filter_is_set() {
        let every = JobFilter::all()
            .queue("q")
            .kind("k")
            .state(JobState::Failed)
            .tag("t")
            .finished_before(t(1));

        let written = terms(Read::List, &every).expect("terms");

        for parameter in ["?1", "?2", "?3", "?6", "?7"] {
            assert!(written.contains(parameter), "{parameter} in {written}");
        }
        let queue = terms(Read::Count, &JobFilter::all().queue("q")).expect("a term");
        let kind = terms(Read::Count, &JobFilter::all().kind("k")).expect("a term");
        assert!(
            !queue.contains("?2") && !kind.contains("?1"),
            "{queue} / {kind}"
        );
    }

    #[test]
    fn a_pending_state_is_tested_by_run_at_and_failed_or_cancelled_names_its_index() {
        let scheduled = terms(Read::Count, &JobFilter::all().state(JobState::Scheduled));
        let cancelled = terms(Read::Count, &JobFilter::all().state(JobState::Cancelled));
        let (scheduled, cancelled) = (scheduled.expect("a term"), cancelled.expect("a term"));

        assert!(scheduled.contains("(run_at <= ?5) = ?4"), "{scheduled}");
        assert!(
            cancelled.contains("state IN ('failed', 'cancelled')"),
            "{cancelled}"
        );
    }
}
