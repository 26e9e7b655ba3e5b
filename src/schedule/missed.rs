//! Which slots fire when a scheduler looks at a schedule: on time, late, or missed.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ScheduleSpec;

/// How late a slot may fire and still count as on time, when the scheduler has no
/// better figure: a few poll intervals.
pub const DEFAULT_MISFIRE_GRACE: Duration = Duration::from_mins(1);

/// The most slots one [`MissedRunPolicy::plan`] fires; a larger `CatchUp` bound is
/// treated as this.
pub const MAX_SLOTS_PER_PLAN: usize = 10_000;

/// What a schedule does about slots that came due while nothing was running.
///
/// A due slot (at or before `now`) at most `grace` old is on time and fires under every
/// policy; an older one was missed, and the policy decides:
///
/// ```
/// use leasehold::schedule::{DEFAULT_MISFIRE_GRACE, MissedRunPolicy, ScheduleSpec};
/// use time::macros::datetime;
///
/// let daily = ScheduleSpec::cron("0 0 * * *", None)?;
/// let stored = datetime!(2100-01-02 0:00 UTC); // the slot the store holds
/// let now = datetime!(2100-01-09 10:00 UTC); // back after a week down
///
/// let plan = MissedRunPolicy::RunOnce.plan(&daily, stored, now, DEFAULT_MISFIRE_GRACE);
/// assert_eq!(plan.fire, vec![datetime!(2100-01-09 0:00 UTC)]);
/// assert_eq!(plan.next_slot, Some(datetime!(2100-01-10 0:00 UTC)));
/// # Ok::<(), leasehold::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedRunPolicy {
    /// Drop missed slots and go on with the next future one (the default).
    #[default]
    Skip,
    /// Fire one job for everything missed (for the most recent missed slot), unless an
    /// on-time slot fires anyway; then go on with the next future slot.
    RunOnce,
    /// Fire every missed slot, but at most the `max` most recent ones (the older ones
    /// are dropped), then go on with the next future slot.
    CatchUp {
        /// How many missed slots fire at most (capped at [`MAX_SLOTS_PER_PLAN`]).
        max: u32,
    },
}

/// What a scheduler does now: the slots to fire and the slot to store next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirePlan {
    /// The slots to fire a job for, ascending (each is the job's fire time).
    pub fire: Vec<OffsetDateTime>,
    /// The next slot to store (always after `now`); `None` when the schedule is over.
    pub next_slot: Option<OffsetDateTime>,
}

impl MissedRunPolicy {
    /// Decides what fires at `now` for a schedule whose stored next slot is
    /// `stored_next`. A pure function: the scheduler stores `next_slot` by
    /// compare-and-set together with one job per fired slot.
    ///
    /// The due slots are `stored_next` (when it is not after `now`) and the spec's
    /// slots after it up to `now`. Those at most `grace` before `now` are on time and
    /// always fire; the policy decides about the older ones (a `grace` reaching back
    /// past the earliest representable time makes every due slot on time). When
    /// `stored_next` is after `now`, nothing fires and it stays.
    pub fn plan(
        self,
        spec: &ScheduleSpec,
        stored_next: OffsetDateTime,
        now: OffsetDateTime,
        grace: Duration,
    ) -> FirePlan {
        if stored_next > now {
            return FirePlan {
                fire: Vec::new(),
                next_slot: Some(stored_next),
            };
        }
        // A grace too long for `time` reaches back past its earliest instant too.
        let on_time_from = time::Duration::try_from(grace)
            .ok()
            .and_then(|grace| now.checked_sub(grace))
            .unwrap_or(stored_next)
            .max(stored_next);
        let mut fire = Vec::new();
        let missed_until = on_time_from.checked_sub(time::Duration::NANOSECOND);
        match (self, missed_until) {
            (MissedRunPolicy::Skip, _) | (_, None) => {}
            (MissedRunPolicy::RunOnce, Some(until)) => {
                let on_time_exists = spec
                    .first_at_or_after(on_time_from)
                    .is_some_and(|t| t <= now)
                    || on_time_from == stored_next;
                if !on_time_exists {
                    fire = latest_slots(spec, stored_next, stored_next, until, 1);
                }
            }
            (MissedRunPolicy::CatchUp { max }, Some(until)) => {
                let limit = usize::try_from(max)
                    .unwrap_or(MAX_SLOTS_PER_PLAN)
                    .min(MAX_SLOTS_PER_PLAN);
                fire = latest_slots(spec, stored_next, stored_next, until, limit);
            }
        }
        let on_time = latest_slots(
            spec,
            stored_next,
            on_time_from,
            now,
            MAX_SLOTS_PER_PLAN - fire.len(),
        );
        fire.extend(on_time);
        FirePlan {
            fire,
            next_slot: spec.next_after(now),
        }
    }
}

/// The latest `limit` due slots within `[from, until]`, ascending. The due slots are
/// `stored_next` and the spec's slots after it.
///
/// Looks back from `until` over windows that grow sixteenfold, so the work is
/// proportional to the slots returned, not to the length of the downtime.
fn latest_slots(
    spec: &ScheduleSpec,
    stored_next: OffsetDateTime,
    from: OffsetDateTime,
    until: OffsetDateTime,
    limit: usize,
) -> Vec<OffsetDateTime> {
    let from = from.max(stored_next);
    if limit == 0 || until < from {
        return Vec::new();
    }
    let mut span = Some(time::Duration::hours(1));
    loop {
        let window_start = span
            .and_then(|span| until.checked_sub(span))
            .filter(|start| *start > from);
        let first = match window_start {
            Some(start) => spec.first_at_or_after(start),
            None if from == stored_next => Some(stored_next),
            None => spec.first_at_or_after(from),
        };
        let mut slots = VecDeque::with_capacity(limit.min(1024) + 1);
        let within =
            std::iter::successors(first, |t| spec.next_after(*t)).take_while(|t| *t <= until);
        for slot in within {
            slots.push_back(slot);
            if slots.len() > limit {
                slots.pop_front();
            }
        }
        if slots.len() >= limit || window_start.is_none() {
            return slots.into();
        }
        span = span.and_then(|span| span.checked_mul(16));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn day(n: u8) -> OffsetDateTime {
        datetime!(2100-01-01 0:00 UTC)
            .replace_day(n)
            .expect("a January day")
    }

    fn daily() -> ScheduleSpec {
        ScheduleSpec::cron("0 0 * * *", None).expect("valid")
    }

    /// Down from just before Jan 2 until Jan 9 10:00: slots Jan 2 ... Jan 9 were missed.
    fn week_down(policy: MissedRunPolicy) -> FirePlan {
        policy.plan(
            &daily(),
            day(2),
            day(9) + time::Duration::hours(10),
            DEFAULT_MISFIRE_GRACE,
        )
    }

    #[test]
    fn a_week_down_with_skip_fires_nothing() {
        let plan = week_down(MissedRunPolicy::Skip);

        assert!(plan.fire.is_empty());
        assert_eq!(plan.next_slot, Some(day(10)));
    }

    #[test]
    fn a_week_down_with_run_once_fires_the_latest_missed_slot() {
        let plan = week_down(MissedRunPolicy::RunOnce);

        assert_eq!(plan.fire, vec![day(9)]);
        assert_eq!(plan.next_slot, Some(day(10)));
    }

    #[test]
    fn a_week_down_with_catch_up_fires_every_missed_slot() {
        let plan = week_down(MissedRunPolicy::CatchUp { max: 100 });

        assert_eq!(plan.fire, (2..=9).map(day).collect::<Vec<_>>());
        assert_eq!(plan.next_slot, Some(day(10)));
    }

    #[test]
    fn a_week_down_with_bounded_catch_up_fires_the_most_recent_slots() {
        let plan = week_down(MissedRunPolicy::CatchUp { max: 3 });

        assert_eq!(plan.fire, vec![day(7), day(8), day(9)]);
        assert_eq!(plan.next_slot, Some(day(10)));
    }

    #[test]
    fn an_on_time_slot_fires_under_every_policy() {
        let now = day(2) + time::Duration::seconds(5);

        for policy in [
            MissedRunPolicy::Skip,
            MissedRunPolicy::RunOnce,
            MissedRunPolicy::CatchUp { max: 0 },
            MissedRunPolicy::CatchUp { max: 5 },
        ] {
            let plan = policy.plan(&daily(), day(2), now, DEFAULT_MISFIRE_GRACE);

            assert_eq!(plan.fire, vec![day(2)], "{policy:?}");
            assert_eq!(plan.next_slot, Some(day(3)), "{policy:?}");
        }
    }

    #[test]
    fn back_on_time_after_a_week_fires_only_the_current_slot_unless_catching_up() {
        let now = day(9) + time::Duration::seconds(30);

        let skip = MissedRunPolicy::Skip.plan(&daily(), day(2), now, DEFAULT_MISFIRE_GRACE);
        let once = MissedRunPolicy::RunOnce.plan(&daily(), day(2), now, DEFAULT_MISFIRE_GRACE);
        let catch_up =
            MissedRunPolicy::CatchUp { max: 2 }.plan(&daily(), day(2), now, DEFAULT_MISFIRE_GRACE);

        assert_eq!(skip.fire, vec![day(9)]);
        assert_eq!(once.fire, vec![day(9)]);
        assert_eq!(catch_up.fire, vec![day(7), day(8), day(9)]);
    }

    #[test]
    fn a_grace_too_long_for_time_makes_every_due_slot_on_time() {
        let now = day(9) + time::Duration::hours(10);

        let plan = MissedRunPolicy::Skip.plan(&daily(), day(2), now, Duration::MAX);

        assert_eq!(plan.fire, (2..=9).map(day).collect::<Vec<_>>());
        assert_eq!(plan.next_slot, Some(day(10)));
    }

    #[test]
    fn nothing_due_keeps_the_stored_slot() {
        let plan = MissedRunPolicy::CatchUp { max: 9 }.plan(
            &daily(),
            day(3),
            day(2) + time::Duration::hours(23),
            DEFAULT_MISFIRE_GRACE,
        );

        assert_eq!(
            plan,
            FirePlan {
                fire: vec![],
                next_slot: Some(day(3))
            }
        );
    }

    #[test]
    fn a_missed_once_schedule_ends() {
        let once = ScheduleSpec::once(day(2));

        let skip = MissedRunPolicy::Skip.plan(&once, day(2), day(9), DEFAULT_MISFIRE_GRACE);
        let run_once = MissedRunPolicy::RunOnce.plan(&once, day(2), day(9), DEFAULT_MISFIRE_GRACE);

        assert_eq!(
            skip,
            FirePlan {
                fire: vec![],
                next_slot: None
            }
        );
        assert_eq!(
            run_once,
            FirePlan {
                fire: vec![day(2)],
                next_slot: None
            }
        );
    }

    #[test]
    fn a_year_of_minutes_missed_is_planned_without_walking_every_slot() {
        let every_minute = ScheduleSpec::interval(Duration::from_mins(1), day(1)).expect("valid");
        let now = datetime!(2101-01-01 0:00:30 UTC);

        let plan = MissedRunPolicy::CatchUp { max: u32::MAX }.plan(
            &every_minute,
            day(1),
            now,
            Duration::ZERO,
        );

        assert_eq!(plan.fire.len(), MAX_SLOTS_PER_PLAN);
        assert_eq!(plan.fire.last(), Some(&datetime!(2101-01-01 0:00 UTC)));
        assert_eq!(plan.next_slot, Some(datetime!(2101-01-01 0:01 UTC)));
    }

    #[test]
    fn policies_are_stored_as_snake_case() {
        let json = serde_json::to_string(&[
            MissedRunPolicy::Skip,
            MissedRunPolicy::RunOnce,
            MissedRunPolicy::CatchUp { max: 3 },
        ])
        .expect("serializes");

        assert_eq!(json, r#"["skip","run_once",{"catch_up":{"max":3}}]"#);
    }
}
