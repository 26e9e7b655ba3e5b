//! A [`JobFilter`] as statement parameters ([`count_params`], [`list_params`],
//! [`page_params`]), and
//! counts as `LIMIT` values ([`sql_limit`]).
//!
//! `Scheduled` and `Available` are one stored state to a filter: "pending" (which
//! SQLite stores as `scheduled` or `available`), told apart by `run_at` against the
//! time given, so a filter selects them with the stored state `pending` and a due test.

use leasehold::time::OffsetDateTime;
use leasehold::{JobFilter, JobState};

use crate::param::Param;
use crate::row::micros;

/// The stored state a filter names for either pending state.
pub const PENDING: &str = "pending";

/// A `LIMIT` value: SQL takes an `i64`, and any count beyond it means "no limit".
pub fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The parameters of `count.sql`, in order: the queue, the kind, the stored state
/// ([`PENDING`] for either pending state; NULL: any), the due test (true: only pending
/// jobs due at the time given, false: only later ones; NULL: either), the time given
/// (microseconds), a tag the job carries and a time before which it finished
/// (microseconds). NULL selects any.
pub fn count_params(filter: &JobFilter, now: OffsetDateTime) -> [Param<'_>; 7] {
    let (state, due) = match filter.state {
        Some(JobState::Scheduled) => (Some(PENDING), Some(false)),
        Some(JobState::Available) => (Some(PENDING), Some(true)),
        Some(other) => (Some(other.as_str()), None),
        None => (None, None),
    };
    [
        Param::optional_text(filter.queue.as_deref()),
        Param::optional_text(filter.kind.as_deref()),
        Param::optional_text(state),
        Param::Flag(due),
        Param::integer(micros(now)),
        Param::optional_text(filter.tag.as_deref()),
        Param::Integer(filter.finished_before.map(micros)),
    ]
}

/// The parameters of the bulk verbs' `selected` jobs, in order: those of
/// [`count_params`], then the limit (NULL: none).
pub fn list_params(filter: &JobFilter, now: OffsetDateTime) -> [Param<'_>; 8] {
    let [queue, kind, state, due, now, tag, finished_before] = count_params(filter, now);
    let limit = Param::Integer(filter.limit.map(sql_limit));
    [queue, kind, state, due, now, tag, finished_before, limit]
}

/// The parameters of `list.sql` and `list_newest.sql`, in order: those of
/// [`list_params`], then the page cursor ([`JobFilter::after`]; NULL: none).
pub fn page_params(filter: &JobFilter, now: OffsetDateTime) -> [Param<'_>; 9] {
    let [queue, kind, state, due, now, tag, finished_before, limit] = list_params(filter, now);
    let after = Param::Id(filter.after);
    [
        queue,
        kind,
        state,
        due,
        now,
        tag,
        finished_before,
        limit,
        after,
    ]
}

#[cfg(test)]
mod tests {
    use leasehold::testing::conformance::t;

    use super::*;

    #[test]
    fn a_pending_state_is_the_stored_state_pending_with_a_due_test() {
        let scheduled = JobFilter::all().state(JobState::Scheduled);
        let available = JobFilter::all().state(JobState::Available);
        let running = JobFilter::all().state(JobState::Running);

        let scheduled = count_params(&scheduled, t(0));
        let available = count_params(&available, t(0));
        let running = count_params(&running, t(0));

        assert_eq!(
            scheduled[2..4],
            [Param::text(PENDING), Param::Flag(Some(false))]
        );
        assert_eq!(
            available[2..4],
            [Param::text(PENDING), Param::Flag(Some(true))]
        );
        assert_eq!(running[2..4], [Param::text("running"), Param::Flag(None)]);
    }

    #[test]
    fn a_list_ends_with_its_limit_and_no_limit_is_null() {
        let limited = JobFilter::all().queue("q").limit(3);
        let unlimited = JobFilter::all();

        let limited = list_params(&limited, t(0));
        let unlimited = list_params(&unlimited, t(0));

        assert_eq!(limited[0], Param::text("q"));
        assert_eq!(limited[7], Param::integer(3));
        assert_eq!(unlimited[7], Param::Integer(None));
        assert_eq!(sql_limit(usize::MAX), i64::MAX);
    }

    #[test]
    fn a_page_ends_with_its_cursor_and_no_cursor_is_null() {
        let id = leasehold::JobId::MAX;
        let paged = JobFilter::all().limit(3).after(id);
        let first = JobFilter::all();

        let paged = page_params(&paged, t(0));
        let first = page_params(&first, t(0));

        assert_eq!(paged[7], Param::integer(3));
        assert_eq!(paged[8], Param::Id(Some(id)));
        assert_eq!(first[8], Param::Id(None));
    }
}
