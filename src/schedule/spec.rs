//! When a schedule fires: a cron expression, a fixed interval or a single time.

use std::fmt;
use std::time::Duration;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::CronExpr;
use crate::Error;
use crate::clock::truncate_to_micros;

/// When a schedule fires.
///
/// Stored (serde) in a compact form, validated again when read back:
/// `{"cron":"0 0 * * 6","tz":"Europe/Berlin"}`,
/// `{"every_us":900000000,"anchor":"2000-01-01T00:00:00Z"}`,
/// `{"once":"2100-01-01T00:00:00Z"}`.
///
/// # Examples
///
/// ```
/// use leasehold::schedule::ScheduleSpec;
/// use time::macros::datetime;
///
/// let spec = ScheduleSpec::cron("30 2 * * *", Some("Europe/Berlin"))?;
/// let next = spec.next_after(datetime!(2000-01-01 0:00 UTC));
/// assert_eq!(next, Some(datetime!(2000-01-01 1:30 UTC))); // 02:30 CET
///
/// let stored = serde_json::to_string(&spec).unwrap();
/// assert_eq!(stored, r#"{"cron":"30 2 * * *","tz":"Europe/Berlin"}"#);
/// # Ok::<(), leasehold::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "StoredSpec", into = "StoredSpec")]
pub enum ScheduleSpec {
    /// A cron expression, matched against the wall time of `timezone` (UTC when
    /// `None`); see [`CronExpr::next_after`] for daylight saving.
    Cron {
        /// The expression.
        expr: CronExpr,
        /// The IANA timezone whose wall time the expression describes. The database
        /// bundled with chrono-tz 0.10 lists daylight-saving changes up to 2099; later
        /// years are computed in standard time.
        timezone: Option<Timezone>,
    },
    /// Every `every`, on the grid `anchor + k * every` (k = 0, 1, ...): a late run does
    /// not move later slots.
    Interval {
        /// The period: whole microseconds, at least one ([`ScheduleSpec::interval`]
        /// ensures both; a zero period built by hand never fires).
        every: Duration,
        /// The first slot.
        anchor: OffsetDateTime,
    },
    /// Once, at `at`.
    Once {
        /// The only slot.
        at: OffsetDateTime,
    },
}

impl ScheduleSpec {
    /// A cron schedule, in the wall time of the IANA `timezone` (UTC when `None`).
    ///
    /// # Errors
    ///
    /// [`Error::Cron`] for an invalid expression (see [`CronExpr::parse`]),
    /// [`Error::Timezone`] for a name that is not in the IANA database.
    pub fn cron(expression: &str, timezone: Option<&str>) -> Result<Self, Error> {
        let expr = CronExpr::parse(expression)?;
        let timezone = timezone.map(Timezone::parse).transpose()?;
        Ok(ScheduleSpec::Cron { expr, timezone })
    }

    /// A schedule that fires at `anchor` and every `every` after it. Both are truncated
    /// to whole microseconds, the precision of every store.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `every` is shorter than a microsecond, or longer than a
    /// store can hold (`i64::MAX` microseconds, about 292,000 years).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use leasehold::schedule::ScheduleSpec;
    /// use time::macros::datetime;
    ///
    /// let spec = ScheduleSpec::interval(Duration::from_mins(15), datetime!(2000-01-01 0:00 UTC))?;
    /// assert_eq!(
    ///     spec.next_after(datetime!(2000-01-01 0:20 UTC)),
    ///     Some(datetime!(2000-01-01 0:30 UTC))
    /// );
    /// # Ok::<(), leasehold::Error>(())
    /// ```
    pub fn interval(every: Duration, anchor: OffsetDateTime) -> Result<Self, Error> {
        let micros = every.as_micros();
        if micros < 1 {
            return Err(Error::Config(format!(
                "schedule interval must be at least 1 microsecond, got {every:?}"
            )));
        }
        // The stored form is `every_us: i64`.
        let micros = i64::try_from(micros).map_err(|_| {
            Error::Config(format!(
                "schedule interval {every:?} is too long: at most {} microseconds \
                 (about 292,000 years)",
                i64::MAX
            ))
        })?;
        Ok(ScheduleSpec::Interval {
            every: Duration::from_micros(micros.unsigned_abs()),
            anchor: truncate_to_micros(anchor),
        })
    }

    /// A schedule that fires once, at `at` (truncated to whole microseconds).
    pub fn once(at: OffsetDateTime) -> Self {
        ScheduleSpec::Once {
            at: truncate_to_micros(at),
        }
    }

    /// The first slot strictly after `after`, in UTC; `None` when there is none (a
    /// `Once` in the past, a zero interval, the end of representable time).
    pub fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            ScheduleSpec::Cron { expr, timezone } => expr.next_after(after, *timezone),
            ScheduleSpec::Interval { every, anchor } => next_on_grid(*anchor, *every, after),
            ScheduleSpec::Once { at } => (*at > after).then_some(*at),
        }
    }

    /// The first slot at or after `t`: the slot to store for a schedule created at `t`
    /// (an interval anchored at `t` fires at `t`).
    pub fn first_at_or_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        match t.checked_sub(time::Duration::NANOSECOND) {
            Some(before) => self.next_after(before),
            None => self.next_after(t),
        }
    }

    /// Up to `n` slots strictly after `after`, ascending: a preview.
    pub fn next_fire_times(&self, after: OffsetDateTime, n: usize) -> Vec<OffsetDateTime> {
        std::iter::successors(self.next_after(after), |t| self.next_after(*t))
            .take(n)
            .collect()
    }
}

/// The first `anchor + k * every` (k >= 0) strictly after `after`.
fn next_on_grid(
    anchor: OffsetDateTime,
    every: Duration,
    after: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let every = i128::try_from(every.as_nanos()).ok()?;
    if every == 0 {
        return None;
    }
    if after < anchor {
        return Some(anchor);
    }
    let elapsed = (after - anchor).whole_nanoseconds();
    let offset = (elapsed / every + 1).checked_mul(every)?;
    let seconds = i64::try_from(offset / 1_000_000_000).ok()?;
    let nanos = i32::try_from(offset % 1_000_000_000).ok()?;
    anchor.checked_add(time::Duration::new(seconds, nanos))
}

/// An IANA timezone (`Europe/Berlin`): the wall time a cron schedule describes,
/// daylight-saving correct.
///
/// ```
/// use leasehold::schedule::Timezone;
///
/// let berlin = Timezone::parse("Europe/Berlin")?;
/// assert_eq!(berlin.name(), "Europe/Berlin");
/// assert!(Timezone::parse("Europe/Atlantis").is_err());
/// # Ok::<(), leasehold::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timezone(Tz);

impl Timezone {
    /// Looks `name` up in the IANA database (exact spelling, e.g. `Europe/Berlin`).
    ///
    /// # Errors
    ///
    /// [`Error::Timezone`] for an unknown name.
    pub fn parse(name: &str) -> Result<Self, Error> {
        name.parse::<Tz>()
            .map(Timezone)
            .map_err(|_| Error::Timezone(name.to_owned()))
    }

    /// Its IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The chrono-tz zone, for the time math inside this crate.
    pub(crate) fn tz(self) -> Tz {
        self.0
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Timezone {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Timezone::parse(name)
    }
}

/// The stored form: exactly one of `cron`, `every_us` (with `anchor`) or `once`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tz: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    every_us: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    anchor: Option<OffsetDateTime>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    once: Option<OffsetDateTime>,
}

impl From<ScheduleSpec> for StoredSpec {
    fn from(spec: ScheduleSpec) -> Self {
        let mut stored = StoredSpec {
            cron: None,
            tz: None,
            every_us: None,
            anchor: None,
            once: None,
        };
        match spec {
            ScheduleSpec::Cron { expr, timezone } => {
                stored.cron = Some(expr.as_str().to_owned());
                stored.tz = timezone.map(|tz| tz.name().to_owned());
            }
            ScheduleSpec::Interval { every, anchor } => {
                // A spec built by hand with a longer period saturates; one from
                // `interval()` always fits.
                stored.every_us = Some(i64::try_from(every.as_micros()).unwrap_or(i64::MAX));
                stored.anchor = Some(anchor);
            }
            ScheduleSpec::Once { at } => stored.once = Some(at),
        }
        stored
    }
}

impl TryFrom<StoredSpec> for ScheduleSpec {
    type Error = Error;

    fn try_from(stored: StoredSpec) -> Result<Self, Error> {
        let invalid = |what: &str| Error::Config(format!("stored schedule: {what}"));
        match stored {
            StoredSpec {
                cron: Some(cron),
                tz,
                every_us: None,
                anchor: None,
                once: None,
            } => ScheduleSpec::cron(&cron, tz.as_deref()),
            StoredSpec {
                cron: None,
                tz: None,
                every_us: Some(every_us),
                anchor: Some(anchor),
                once: None,
            } => match u64::try_from(every_us) {
                Ok(every_us) => ScheduleSpec::interval(Duration::from_micros(every_us), anchor),
                Err(_) => Err(Error::Config(format!(
                    "schedule interval must be at least 1 microsecond, got {every_us} \
                     microseconds"
                ))),
            },
            StoredSpec {
                cron: None,
                tz: None,
                every_us: None,
                anchor: None,
                once: Some(at),
            } => Ok(ScheduleSpec::once(at)),
            StoredSpec {
                every_us: Some(_),
                anchor: None,
                ..
            } => Err(invalid("\"every_us\" needs an \"anchor\"")),
            StoredSpec {
                cron: None,
                tz: Some(_),
                ..
            } => Err(invalid("\"tz\" only applies to \"cron\"")),
            _ => Err(invalid(
                "expected exactly one of \"cron\", \"every_us\" (with \"anchor\") or \"once\"",
            )),
        }
    }
}

impl fmt::Display for ScheduleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleSpec::Cron {
                expr,
                timezone: None,
            } => write!(f, "cron {:?}", expr.as_str()),
            ScheduleSpec::Cron {
                expr,
                timezone: Some(tz),
            } => write!(f, "cron {:?} in {}", expr.as_str(), tz.name()),
            // `time`'s compact form ("15m", "1h30m"); every period `interval()` accepts
            // converts, a longer one built by hand prints as std's `Debug` does.
            ScheduleSpec::Interval { every, anchor } => match time::Duration::try_from(*every) {
                Ok(every) => write!(f, "every {every} from {anchor}"),
                Err(_) => write!(f, "every {every:?} from {anchor}"),
            },
            ScheduleSpec::Once { at } => write!(f, "once at {at}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn t(seconds: i64) -> OffsetDateTime {
        datetime!(2000-01-01 0:00 UTC) + time::Duration::seconds(seconds)
    }

    #[test]
    fn interval_slots_are_on_the_anchor_grid() {
        let spec = ScheduleSpec::interval(Duration::from_secs(90), t(0)).expect("valid");

        assert_eq!(spec.next_after(t(-1000)), Some(t(0)));
        assert_eq!(spec.next_after(t(0)), Some(t(90)));
        assert_eq!(spec.next_after(t(89)), Some(t(90)));
        assert_eq!(spec.next_after(t(90)), Some(t(180)));
        assert_eq!(spec.next_after(t(1_000_000)), Some(t(1_000_080)));
        assert_eq!(spec.first_at_or_after(t(0)), Some(t(0)));
    }

    // A negative interval cannot be written: `std::time::Duration` is unsigned.
    #[test]
    fn an_interval_under_a_microsecond_is_rejected() {
        assert!(matches!(
            ScheduleSpec::interval(Duration::ZERO, t(0)),
            Err(Error::Config(_))
        ));
        assert!(ScheduleSpec::interval(Duration::from_nanos(999), t(0)).is_err());
    }

    #[test]
    fn an_interval_longer_than_a_store_holds_is_rejected() {
        let longest = Duration::from_micros(i64::MAX.unsigned_abs());

        let err = ScheduleSpec::interval(Duration::MAX, t(0)).unwrap_err();

        assert!(matches!(err, Error::Config(_)));
        assert!(err.to_string().contains("too long"), "{err}");
        assert!(ScheduleSpec::interval(longest + Duration::from_micros(1), t(0)).is_err());
        assert!(ScheduleSpec::interval(longest, t(0)).is_ok());
    }

    #[test]
    fn intervals_are_truncated_to_whole_microseconds() {
        let spec = ScheduleSpec::interval(Duration::from_nanos(1_500), t(0)).expect("valid");

        assert_eq!(
            spec,
            ScheduleSpec::Interval {
                every: Duration::from_micros(1),
                anchor: t(0)
            }
        );
    }

    #[test]
    fn intervals_display_compactly() {
        let spec = ScheduleSpec::interval(Duration::from_secs(90), t(0)).expect("valid");

        assert_eq!(
            spec.to_string(),
            "every 1m30s from 2000-01-01 0:00:00.0 +00:00:00"
        );
    }

    #[test]
    fn once_fires_once() {
        let spec = ScheduleSpec::once(t(60));

        assert_eq!(spec.next_fire_times(t(0), 5), vec![t(60)]);
        assert_eq!(spec.next_after(t(60)), None);
    }

    #[test]
    fn stored_forms_round_trip() {
        let specs = [
            ScheduleSpec::cron("0 0 * * 6", Some("Europe/Berlin")).expect("valid"),
            ScheduleSpec::cron("*/15 9-17 * * 1-5", None).expect("valid"),
            ScheduleSpec::interval(Duration::from_mins(15), t(0)).expect("valid"),
            ScheduleSpec::once(datetime!(2100-01-01 0:00:00.000_001 UTC)),
        ];
        let expected = [
            r#"{"cron":"0 0 * * 6","tz":"Europe/Berlin"}"#,
            r#"{"cron":"*/15 9-17 * * 1-5"}"#,
            r#"{"every_us":900000000,"anchor":"2000-01-01T00:00:00Z"}"#,
            r#"{"once":"2100-01-01T00:00:00.000001Z"}"#,
        ];

        for (spec, expected) in specs.iter().zip(expected) {
            let stored = serde_json::to_string(spec).expect("serializes");
            assert_eq!(stored, expected);
            let back: ScheduleSpec = serde_json::from_str(&stored).expect("deserializes");
            assert_eq!(&back, spec);
        }
    }

    #[test]
    fn stored_forms_are_validated() {
        let bad = [
            (r#"{"cron":"0 0 * * 8"}"#, "day of week"),
            (
                r#"{"cron":"0 0 * * *","tz":"Mars/Olympus"}"#,
                "Mars/Olympus",
            ),
            (
                r#"{"every_us":0,"anchor":"2000-01-01T00:00:00Z"}"#,
                "at least 1 microsecond",
            ),
            (
                r#"{"every_us":-5,"anchor":"2000-01-01T00:00:00Z"}"#,
                "at least 1 microsecond, got -5",
            ),
            (r#"{"every_us":60}"#, "anchor"),
            (
                r#"{"tz":"Europe/Berlin","once":"2000-01-01T00:00:00Z"}"#,
                "tz",
            ),
            (
                r#"{"cron":"0 0 * * *","once":"2000-01-01T00:00:00Z"}"#,
                "exactly one",
            ),
            (r#"{}"#, "exactly one"),
            (r#"{"cron":"0 0 * * *","when":1}"#, "unknown field"),
        ];

        for (json, needle) in bad {
            let err = serde_json::from_str::<ScheduleSpec>(json).expect_err(json);
            assert!(err.to_string().contains(needle), "{json}: {err}");
        }
    }

    #[test]
    fn unknown_timezones_are_named() {
        let err = ScheduleSpec::cron("0 0 * * *", Some("Europe/Atlantis")).unwrap_err();

        assert_eq!(err.to_string(), "unknown IANA timezone \"Europe/Atlantis\"");
    }
}
