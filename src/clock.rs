//! Wall time, as an input.
//!
//! - [`Clock`]: what every component asks for "now".
//! - [`SystemClock`]: the production clock.
//! - `ManualClock` (feature `testing`): a shared clock that tests set and advance.
//!
//! Stores never read a clock: the core reads [`Clock::now`], truncates it to whole
//! microseconds with [`truncate_to_micros`] and passes it to every store call, so a
//! value written and read back is exactly equal on every backend.

use std::fmt::Debug;
#[cfg(feature = "testing")]
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

/// A source of wall time.
///
/// Waiting ("how long do I sleep?") uses `tokio::time`; only "what time is it?" comes
/// from here, so tests can move time without sleeping.
pub trait Clock: Send + Sync + Debug + 'static {
    /// The current time, in UTC, truncated to whole microseconds.
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads wall time
    fn now(&self) -> OffsetDateTime {
        // Through `from_unix_micros`, which remembers the day: `now_utc` works out
        // the date from scratch at every call.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|since| i64::try_from(since.as_micros()).ok())
            .and_then(from_unix_micros)
            .unwrap_or_else(|| truncate_to_micros(OffsetDateTime::now_utc()))
    }
}

/// `t` in UTC with its sub-microsecond part dropped.
///
/// Every store keeps time as integer microseconds since the Unix epoch; truncating
/// before a value reaches a store makes every round trip exact.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000)
        .expect("a nanosecond value rounded down stays in range")
}

/// `t` as integer microseconds since the Unix epoch.
///
/// Every `OffsetDateTime` that `time` can represent fits in an `i64` of microseconds.
pub fn to_unix_micros(t: OffsetDateTime) -> i64 {
    // Whole seconds and the microseconds within them, in i64: the i128 nanosecond
    // count costs a 128-bit division on every stored time. Seconds within +-9999
    // years times 10^6 stay far inside i64.
    t.unix_timestamp() * 1_000_000 + i64::from(t.nanosecond() / 1_000)
}

/// The time `micros` microseconds after the Unix epoch, in UTC.
///
/// Returns `None` when `micros` lies outside the range `time` can represent.
pub fn from_unix_micros(micros: i64) -> Option<OffsetDateTime> {
    // As in `to_unix_micros`: seconds and a sub-second remainder, no 128-bit math.
    let seconds = micros.div_euclid(1_000_000);
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1_000)
        .expect("a remainder below 10^6 microseconds is below 10^9 nanoseconds");
    let day = seconds.div_euclid(SECONDS_PER_DAY);
    let second =
        u32::try_from(seconds.rem_euclid(SECONDS_PER_DAY)).expect("a second of the day fits u32");
    let time = time::Time::from_hms_nano(
        u8::try_from(second / 3_600).expect("an hour fits u8"),
        u8::try_from(second / 60 % 60).expect("a minute fits u8"),
        u8::try_from(second % 60).expect("a second fits u8"),
        nanos,
    )
    .expect("the parts of a second of the day are in range");
    Some(date_of_day(day)?.with_time(time).assume_utc())
}

const SECONDS_PER_DAY: i64 = 86_400;

/// The date `day` days after the Unix epoch, `None` outside what `time` represents.
///
/// The calendar arithmetic from a day count to a date is most of the cost of turning
/// a stored time into an `OffsetDateTime`, and a claimed job's times (and the clock's)
/// mostly fall on one day: each thread remembers the last day it computed.
fn date_of_day(day: i64) -> Option<time::Date> {
    thread_local! {
        static LAST: std::cell::Cell<Option<(i64, time::Date)>> =
            const { std::cell::Cell::new(None) };
    }
    LAST.with(|last| match last.get() {
        Some((cached, date)) if cached == day => Some(date),
        _ => {
            let date = OffsetDateTime::from_unix_timestamp(day.checked_mul(SECONDS_PER_DAY)?)
                .ok()?
                .date();
            last.set(Some((day, date)));
            Some(date)
        }
    })
}

/// A clock that only moves when told to; clones share one time.
///
/// ```
/// use std::time::Duration;
///
/// use leasehold::{Clock, ManualClock};
/// use time::macros::datetime;
///
/// let clock = ManualClock::new(datetime!(2000-01-01 0:00 UTC));
/// let other = clock.clone();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(other.now(), datetime!(2000-01-01 0:01:30 UTC));
///
/// clock.set(datetime!(2000-01-01 0:00 UTC)); // back: `set` takes an instant
/// assert_eq!(other.now(), datetime!(2000-01-01 0:00 UTC));
/// ```
#[cfg(feature = "testing")]
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

#[cfg(feature = "testing")]
impl ManualClock {
    /// A clock that reads `start` until it is moved.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(truncate_to_micros(start))),
        }
    }

    /// Moves the clock to `t` (backwards too).
    pub fn set(&self, t: OffsetDateTime) {
        *self.now.lock().expect("the clock mutex is never poisoned") = truncate_to_micros(t);
    }

    /// Moves the clock forward by `by` (backwards: [`ManualClock::set`]). It stops at
    /// the last instant `time` can represent rather than overflow.
    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.now.lock().expect("the clock mutex is never poisoned");
        let by = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        *now = truncate_to_micros(now.saturating_add(by));
    }
}

#[cfg(feature = "testing")]
impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().expect("the clock mutex is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn truncation_drops_only_sub_microseconds() {
        let t = datetime!(2100-01-01 12:00:00.123_456_789 UTC);

        let truncated = truncate_to_micros(t);

        assert_eq!(truncated, datetime!(2100-01-01 12:00:00.123_456 UTC));
        assert_eq!(from_unix_micros(to_unix_micros(truncated)), Some(truncated));
    }

    #[test]
    fn truncation_normalizes_to_utc() {
        let t = datetime!(2000-01-01 01:00 +01:00);

        assert_eq!(truncate_to_micros(t).offset(), time::UtcOffset::UTC);
        assert_eq!(truncate_to_micros(t), datetime!(2000-01-01 0:00 UTC));
    }

    #[cfg(feature = "testing")]
    #[test]
    fn a_manual_clock_stops_at_the_end_of_time() {
        let clock = ManualClock::new(datetime!(2000-01-01 0:00 UTC));

        clock.advance(std::time::Duration::MAX);

        let end = truncate_to_micros(time::PrimitiveDateTime::MAX.assume_utc());
        assert_eq!(clock.now(), end);
    }

    proptest::proptest! {
        /// The i64 arithmetic agrees with `time`'s i128 nanoseconds over its range.
        #[test]
        fn micros_agree_with_nanoseconds_over_time_s_range(
            micros in -377_705_116_800_000_000_i64..253_402_300_799_999_999_i64,
        ) {
            let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).unwrap();

            proptest::prop_assert_eq!(from_unix_micros(micros), Some(t));
            proptest::prop_assert_eq!(to_unix_micros(t), micros);
        }
    }

    proptest::proptest! {
        /// Times of one day, read one after another, come from the day the thread
        /// remembers: they agree with `time`'s own conversion as the first did, and a
        /// time of another day in between changes nothing.
        #[test]
        fn times_of_one_day_agree_with_nanoseconds_through_the_remembered_day(
            day in -4_371_587_i64..2_932_896_i64,
            seconds in proptest::collection::vec(0_i64..86_400_000_000, 1..8),
            other in -377_705_116_800_000_000_i64..253_402_300_799_999_999_i64,
        ) {
            for (i, second) in seconds.into_iter().enumerate() {
                let micros = day * 86_400_000_000 + second;
                let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
                    .unwrap();
                proptest::prop_assert_eq!(from_unix_micros(micros), Some(t));
                if i == 2 {
                    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(other) * 1_000)
                        .unwrap();
                    proptest::prop_assert_eq!(from_unix_micros(other), Some(t));
                }
            }
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // compares the clock with the time it reads
    fn the_system_clock_reads_whole_microseconds_in_utc() {
        let before = truncate_to_micros(OffsetDateTime::now_utc());
        let now = SystemClock.now();
        let after = OffsetDateTime::now_utc();

        assert_eq!(now.offset(), time::UtcOffset::UTC);
        assert_eq!(now.nanosecond() % 1_000, 0);
        assert!(
            before <= now && now <= after,
            "{before} <= {now} <= {after}"
        );
    }

    #[test]
    fn micros_outside_time_s_range_are_none() {
        assert_eq!(from_unix_micros(i64::MAX), None);
        assert_eq!(from_unix_micros(i64::MIN), None);
    }

    #[test]
    fn micros_before_the_epoch_round_trip() {
        let t = datetime!(1969-12-31 23:59:59.999_999 UTC);

        assert_eq!(to_unix_micros(t), -1);
        assert_eq!(from_unix_micros(-1), Some(t));
    }
}
