//! The time math of schedules: when they fire, and what fires after downtime.
//!
//! - [`CronExpr`]: a five-field crontab expression (with saffron's `L`, `W`, `#`),
//!   validated field by field; day of week 0-7 with 0 and 7 = Sunday.
//! - [`ScheduleSpec`]: a cron expression in an optional IANA timezone (daylight-saving
//!   correct), a fixed interval anchored to its start, or a single time.
//! - [`MissedRunPolicy`]: skip, run once or catch up (bounded) on slots missed while
//!   nothing ran; [`MissedRunPolicy::plan`] is the pure decision a scheduler applies.
//! - [`NewSchedule`] / [`ScheduleRecord`]: a schedule as it is upserted and stored.
//! - [`Scheduler`]: upserts, pauses, previews and fires schedules, exactly once per
//!   slot across any number of processes (a service over the store, kept beside the
//!   worker in `src/scheduler.rs`; re-exported here so schedules have one path).
//!
//! The time math is pure: it is told the time and never reads a clock. The API
//! speaks `time::OffsetDateTime` in UTC; chrono is used only inside, for saffron and
//! the timezone database.
//!
//! ```
//! use leasehold::schedule::ScheduleSpec;
//! use time::macros::datetime;
//!
//! let saturday_midnight = ScheduleSpec::cron("0 0 * * 6", Some("Europe/Berlin"))?;
//! let preview = saturday_midnight.next_fire_times(datetime!(2000-01-01 0:00 UTC), 2);
//! assert_eq!(
//!     preview,
//!     [datetime!(2000-01-07 23:00 UTC), datetime!(2000-01-14 23:00 UTC)]
//! );
//! # Ok::<(), leasehold::Error>(())
//! ```

mod cron;
mod missed;
mod record;
mod spec;

pub use crate::scheduler::{Scheduler, TickReport};
pub use cron::CronExpr;
pub use missed::{DEFAULT_MISFIRE_GRACE, FirePlan, MAX_SLOTS_PER_PLAN, MissedRunPolicy};
pub use record::{NewSchedule, ScheduleRecord, slot_key};
pub use spec::{ScheduleSpec, Timezone};
