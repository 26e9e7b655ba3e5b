//! Five-field crontab expressions, checked field by field and evaluated by saffron.
//!
//! saffron numbers the days of the week Quartz-style (1 = Sunday ... 7 = Saturday) and
//! rejects 0, so the crontab `0 0 * * 6` ("midnight every Saturday") would fire on
//! Fridays if handed over as is. [`CronExpr::parse`] validates every field itself (so an
//! error names the field and the value) and rewrites the day-of-week field into saffron's
//! numbering before saffron sees it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use time::OffsetDateTime;

use crate::Error;

/// A standard five-field cron expression: minute, hour, day of month, month, day of
/// week.
///
/// - Values, lists (`1,15`), ranges (`9-17`), steps (`*/15`, `0-30/10`, `5/20`).
/// - Months `1-12` or `JAN`-`DEC`; days of the week `0-7` (0 and 7 are Sunday, 6 is
///   Saturday) or `SUN`-`SAT`. A day-of-week range may wrap (`FRI-MON`, `5-1`).
/// - saffron's extensions, each alone in its field: day of month `L` (last day),
///   `LW` (last weekday), `L-3` (third to last day), `L-3W`, `15W` (weekday nearest the
///   15th); day of week `5L` (last Friday of the month), `1#2` (second Monday), `L`
///   (Saturday, the last day of the week).
/// - When both day of month and day of week are restricted (anything but a bare `*`),
///   the expression fires on a day that matches EITHER, as crontab does:
///   `0 0 13 * 5` fires on every 13th and on every Friday. Unlike Vixie cron, a
///   stepped star such as `*/2` counts as restricted.
/// - Times are whole minutes; there is no seconds field and no `?`.
///
/// An expression that can never fire (`0 0 30 2 *`) is rejected.
///
/// # Examples
///
/// ```
/// use leasehold::schedule::CronExpr;
/// use time::macros::datetime;
///
/// let saturdays: CronExpr = "0 0 * * 6".parse()?;
/// let next = saturdays.next_after(datetime!(2100-01-01 12:00 UTC), None);
/// assert_eq!(next, Some(datetime!(2100-01-02 0:00 UTC))); // a Saturday
///
/// let err = "0 0 * * 8".parse::<CronExpr>().unwrap_err();
/// assert!(err.to_string().contains("day of week"));
/// # Ok::<(), leasehold::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CronExpr {
    /// The expression as given, fields joined by single spaces (crontab numbering).
    source: String,
    /// The same schedule in saffron's (Quartz) numbering.
    cron: saffron::Cron,
}

/// Wall-clock candidates skipped at most while looking for the next fire time: a
/// repeated hour (or, historically, day) of minutes is the worst case.
const MAX_SKIPPED_CANDIDATES: usize = 3 * 24 * 60;

/// How far past a nonexistent local time the next valid one is searched (gaps are an
/// hour, rarely a day).
const MAX_GAP_MINUTES: i64 = 48 * 60;

impl CronExpr {
    /// Parses a five-field crontab expression.
    ///
    /// # Errors
    ///
    /// [`Error::Cron`] naming the field and the value that is wrong, when the
    /// expression does not have five fields, a field does not parse or is out of range,
    /// or the expression can never fire.
    ///
    /// # Examples
    ///
    /// ```
    /// use leasehold::schedule::CronExpr;
    ///
    /// assert!(CronExpr::parse("*/15 9-17 * * MON-FRI").is_ok());
    /// let err = CronExpr::parse("0 24 * * *").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid cron expression \"0 24 * * *\": hour: 24 is out of range 0-23"
    /// );
    /// ```
    pub fn parse(expression: &str) -> Result<Self, Error> {
        let fail = |field: &str, message: String| Error::Cron {
            expression: expression.to_owned(),
            field: field.to_owned(),
            message,
        };
        let fields: Vec<&str> = expression.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(fail(
                "expression",
                format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                    fields.len()
                ),
            ));
        }
        let mut quartz = Vec::with_capacity(5);
        for (field, text) in FIELDS.iter().zip(&fields) {
            let translated = match field {
                Field::DayOfMonth => check_day_of_month(text),
                Field::DayOfWeek => translate_day_of_week(text),
                _ => check_list(*field, text).map(|_| text.to_string()),
            }
            .map_err(|message| fail(field.name(), message))?;
            quartz.push(translated);
        }
        let cron: saffron::Cron = quartz.join(" ").parse().map_err(|_| {
            fail(
                "expression",
                "rejected by the cron engine (saffron) after validation".to_owned(),
            )
        })?;
        // saffron lets `30W` in February slide onto the 29th; nearest-weekday days, like
        // plain ones, must exist in a selected month.
        if !cron.any() || !nearest_weekday_day_exists(fields[2], fields[3]) {
            return Err(fail(
                "day of month",
                format!(
                    "{} never occurs in the selected months ({})",
                    fields[2], fields[3]
                ),
            ));
        }
        // The Gregorian calendar repeats every 400 years, so an expression that fires at
        // all fires within any 400-year window.
        let start = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        let end = Utc.with_ymd_and_hms(2400, 1, 1, 0, 0, 0).single();
        let fires = match (start, end) {
            (Some(start), Some(end)) => cron.next_from(start).is_some_and(|t| t < end),
            _ => false,
        };
        if !fires {
            return Err(fail(
                "expression",
                "can never fire: no date matches every field".to_owned(),
            ));
        }
        Ok(Self {
            source: fields.join(" "),
            cron,
        })
    }

    /// The expression in crontab numbering, fields joined by single spaces.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first fire time strictly after `after`, in UTC.
    ///
    /// Without a timezone the fields are matched against UTC. With one, they are
    /// matched against the local wall time there, and daylight saving is respected:
    ///
    /// - a local time that does not exist (clocks spring forward over it) fires at the
    ///   first instant after the gap, e.g. `30 2 * * *` fires at 03:00 on the day
    ///   Europe/Berlin moves from 02:00 to 03:00; all slots inside one gap fire once;
    /// - a local time that occurs twice (clocks fall back) fires once, at its first
    ///   occurrence.
    ///
    /// Returns `None` when no such time exists within the representable range. The
    /// result is always a whole minute.
    pub fn next_after(
        &self,
        after: OffsetDateTime,
        timezone: Option<super::Timezone>,
    ) -> Option<OffsetDateTime> {
        let after = to_chrono(after)?;
        let Some(tz) = timezone.map(super::Timezone::tz) else {
            return self.cron.next_after(after).and_then(from_chrono);
        };
        // saffron works on naive wall times, which it calls UTC.
        let mut cursor = Utc.from_utc_datetime(&after.with_timezone(&tz).naive_local());
        for _ in 0..MAX_SKIPPED_CANDIDATES {
            let candidate = self.cron.next_after(cursor)?;
            if let Some(instant) = first_instant_at_or_after(tz, candidate.naive_utc())
                && instant > after
            {
                return from_chrono(instant);
            }
            // The candidate's first occurrence is already past: the second occurrence of
            // a repeated local time does not fire again.
            cursor = candidate;
        }
        None
    }

    /// Up to `n` fire times strictly after `after`, ascending (see
    /// [`next_after`](Self::next_after)).
    pub fn next_fire_times(
        &self,
        after: OffsetDateTime,
        timezone: Option<super::Timezone>,
        n: usize,
    ) -> Vec<OffsetDateTime> {
        let mut times = Vec::with_capacity(n.min(1024));
        let mut cursor = after;
        while times.len() < n {
            match self.next_after(cursor, timezone) {
                Some(t) => {
                    times.push(t);
                    cursor = t;
                }
                None => break,
            }
        }
        times
    }
}

impl FromStr for CronExpr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CronExpr").field(&self.source).finish()
    }
}

/// The earliest instant whose local time in `tz` is `local`, or, when `local` falls in
/// a gap, the first valid instant after it.
fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        return Some(t.with_timezone(&Utc));
    }
    // Gaps start and end on whole minutes in every zone since the 1970s.
    (1..=MAX_GAP_MINUTES).find_map(|minutes| {
        let later = local.checked_add_signed(chrono::TimeDelta::minutes(minutes))?;
        tz.from_local_datetime(&later)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

fn to_chrono(t: OffsetDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond())
}

fn from_chrono(t: DateTime<Utc>) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t.timestamp())
        .ok()?
        .replace_nanosecond(t.timestamp_subsec_nanos())
        .ok()
}

/// The five fields, in order.
const FIELDS: [Field; 5] = [
    Field::Minute,
    Field::Hour,
    Field::DayOfMonth,
    Field::Month,
    Field::DayOfWeek,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day of month",
            Field::Month => "month",
            Field::DayOfWeek => "day of week",
        }
    }

    /// The smallest and largest value, in crontab numbering.
    fn range(self) -> (u8, u8) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// The largest step saffron accepts (the width of the range).
    fn max_step(self) -> u8 {
        match self {
            Field::Minute => 59,
            Field::Hour => 23,
            Field::DayOfMonth => 30,
            Field::Month => 11,
            Field::DayOfWeek => 6,
        }
    }

    fn range_hint(self) -> String {
        let (min, max) = self.range();
        match self {
            Field::Month => format!("{min}-{max} or JAN-DEC"),
            Field::DayOfWeek => format!("{min}-{max} or SUN-SAT (0 and 7 are Sunday)"),
            _ => format!("{min}-{max}"),
        }
    }

    /// Parses one value: a number in range, or a name where the field has names.
    fn value(self, text: &str) -> Result<u8, String> {
        let names: &[&str] = match self {
            Field::Month => &MONTH_NAMES,
            Field::DayOfWeek => &WEEKDAY_NAMES,
            _ => &[],
        };
        if let Some(index) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
            let offset = if self == Field::Month { 1 } else { 0 };
            return u8::try_from(index + offset).map_err(|e| e.to_string());
        }
        if text.is_empty() {
            return Err("empty value".to_owned());
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{text:?} is not a value (expected {})",
                self.range_hint()
            ));
        }
        let (min, max) = self.range();
        match text.parse::<u8>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(format!("{text} is out of range {}", self.range_hint())),
        }
    }

    fn step(self, text: &str) -> Result<u8, String> {
        let max = self.max_step();
        match text.parse::<u8>() {
            Ok(s) if (1..=max).contains(&s) => Ok(s),
            _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                Err(format!("step {text} is out of range 1-{max}"))
            }
            _ => Err(format!("step {text:?} is not a number")),
        }
    }
}

/// One element of a comma-separated list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    /// `*` or `*/step`.
    All { step: u8 },
    /// `v`, `a-b`, `a/step`, `a-b/step`; `end` is `None` for `a/step` (to the field's
    /// maximum).
    Span {
        start: u8,
        end: Option<u8>,
        step: u8,
    },
}

fn parse_item(field: Field, text: &str) -> Result<Item, String> {
    let (base, step) = match text.split_once('/') {
        Some((base, step)) => (base, Some(field.step(step)?)),
        None => (text, None),
    };
    if base == "*" {
        return Ok(Item::All {
            step: step.unwrap_or(1),
        });
    }
    match base.split_once('-') {
        Some((a, b)) => {
            let (start, end) = (field.value(a)?, field.value(b)?);
            // saffron's own wrap-around for minute ranges is unreliable and crontab has
            // none; a wrapping day-of-week range is expanded by us.
            if start > end && field != Field::DayOfWeek {
                return Err(format!("range {base} runs backwards ({a} is after {b})"));
            }
            Ok(Item::Span {
                start,
                end: Some(end),
                step: step.unwrap_or(1),
            })
        }
        None => {
            let start = field.value(base)?;
            Ok(Item::Span {
                start,
                end: if step.is_some() { None } else { Some(start) },
                step: step.unwrap_or(1),
            })
        }
    }
}

/// Validates a plain list (no `L`, `W` or `#`).
fn check_list(field: Field, text: &str) -> Result<Vec<Item>, String> {
    text.split(',')
        .map(|item| {
            if item.is_empty() {
                return Err(format!("empty item in list {text:?}"));
            }
            parse_item(field, item)
        })
        .collect()
}

/// Validates the day-of-month field, including saffron's `L`, `LW`, `L-n`, `L-nW`
/// and `nW`, and returns it upper-cased.
fn check_day_of_month(text: &str) -> Result<String, String> {
    let upper = text.to_ascii_uppercase();
    if !upper.contains(['L', 'W']) {
        check_list(Field::DayOfMonth, text)?;
        return Ok(upper);
    }
    if upper.contains(',') {
        return Err(format!("{text:?}: L and W must stand alone, not in a list"));
    }
    if let Some(rest) = upper.strip_prefix('L') {
        let offset = rest.strip_suffix('W').unwrap_or(rest);
        if let Some(offset) = offset.strip_prefix('-') {
            match offset.parse::<u8>() {
                Ok(1..=30) => {}
                _ => return Err(format!("{text:?}: the offset in L-n must be 1-30")),
            }
        } else if !offset.is_empty() {
            return Err(format!(
                "{text:?} is not one of L, LW, L-n, L-nW (n = 1-30)"
            ));
        }
        return Ok(upper);
    }
    if let Some(day) = upper.strip_suffix('W') {
        Field::DayOfMonth
            .value(day)
            .map_err(|e| format!("{text:?}: {e}"))?;
        return Ok(upper);
    }
    Err(format!(
        "{text:?}: L and W are only valid as L, LW, L-n, L-nW or nW"
    ))
}

/// Whether the day `n` of a `nW` day-of-month field exists in one of the selected
/// months (true for any other field).
fn nearest_weekday_day_exists(day_of_month: &str, months: &str) -> bool {
    let upper = day_of_month.to_ascii_uppercase();
    let Some(day) = upper
        .strip_suffix('W')
        .filter(|day| !day.starts_with('L'))
        .and_then(|day| Field::DayOfMonth.value(day).ok())
    else {
        return true;
    };
    let Ok(items) = check_list(Field::Month, months) else {
        return true;
    };
    let longest = items
        .into_iter()
        .flat_map(|item| expand(Field::Month, item))
        .map(|month| match month {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        })
        .max()
        .unwrap_or(31);
    day <= longest
}

/// The values an item of a plain field (not day of week) selects.
fn expand(field: Field, item: Item) -> Vec<u8> {
    let (min, max) = field.range();
    let (start, end, step) = match item {
        Item::All { step } => (min, max, step),
        Item::Span { start, end, step } => (start, end.unwrap_or(max), step),
    };
    (start..=end).step_by(usize::from(step.max(1))).collect()
}

/// Validates the day-of-week field and rewrites it in saffron's numbering
/// (1 = Sunday ... 7 = Saturday).
fn translate_day_of_week(text: &str) -> Result<String, String> {
    let field = Field::DayOfWeek;
    let upper = text.to_ascii_uppercase();
    if upper == "*" {
        return Ok(upper);
    }
    if upper == "L" {
        return Ok(upper); // the last day of the week: Saturday in both numberings
    }
    let quartz = |day: u8| day % 7 + 1;
    if upper.contains(['L', '#']) {
        if upper.contains(',') {
            return Err(format!("{text:?}: L and # must stand alone, not in a list"));
        }
        if let Some(day) = upper.strip_suffix('L') {
            let day = field.value(day).map_err(|e| format!("{text:?}: {e}"))?;
            return Ok(format!("{}L", quartz(day)));
        }
        if let Some((day, nth)) = upper.split_once('#') {
            let day = field.value(day).map_err(|e| format!("{text:?}: {e}"))?;
            return match nth.parse::<u8>() {
                Ok(nth @ 1..=5) => Ok(format!("{}#{nth}", quartz(day))),
                _ => Err(format!(
                    "{text:?}: the week in day#week must be 1-5, not {nth:?}"
                )),
            };
        }
        return Err(format!("{text:?}: L is only valid as L or dayL (e.g. 5L)"));
    }
    let mut days = [false; 7];
    for item in check_list(field, text)? {
        for day in expand_day_of_week(item) {
            days[usize::from(day % 7)] = true;
        }
    }
    let list: Vec<String> = (0u8..7)
        .filter(|&day| days[usize::from(day)])
        .map(|day| quartz(day).to_string())
        .collect();
    Ok(list.join(","))
}

/// The crontab days (0-7) an item selects; a range whose start is after its end wraps
/// around the week, and `a/step` runs to Saturday.
fn expand_day_of_week(item: Item) -> Vec<u8> {
    let (sequence, step): (Vec<u8>, u8) = match item {
        Item::All { step } => ((0..=6).collect(), step),
        Item::Span { start, end, step } => {
            let end = end.unwrap_or(6);
            let start = if start > end && start == 7 { 0 } else { start };
            if start <= end {
                ((start..=end).collect(), step)
            } else {
                ((start..=6).chain(0..=end).collect(), step)
            }
        }
    };
    sequence
        .into_iter()
        .step_by(usize::from(step.max(1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::{Duration, Weekday};

    fn cron(expression: &str) -> CronExpr {
        CronExpr::parse(expression).expect("the test expression is valid")
    }

    fn error(expression: &str) -> (String, String) {
        match CronExpr::parse(expression) {
            Err(Error::Cron { field, message, .. }) => (field, message),
            other => panic!("{expression:?} should fail, got {other:?}"),
        }
    }

    fn weekdays(expression: &str) -> Vec<Weekday> {
        cron(expression)
            .next_fire_times(datetime!(2100-01-01 0:00 UTC), None, 7)
            .iter()
            .map(|t| t.weekday())
            .collect()
    }

    #[test]
    fn six_is_saturday_and_zero_and_seven_are_sunday() {
        assert_eq!(weekdays("0 0 * * 6"), vec![Weekday::Saturday; 7]);
        assert_eq!(weekdays("0 0 * * 0"), vec![Weekday::Sunday; 7]);
        assert_eq!(weekdays("0 0 * * 7"), vec![Weekday::Sunday; 7]);
        assert_eq!(weekdays("0 0 * * SAT"), vec![Weekday::Saturday; 7]);
        assert_eq!(weekdays("0 0 * * sun"), vec![Weekday::Sunday; 7]);
    }

    #[test]
    fn day_of_week_lists_ranges_and_steps_are_translated() {
        for (field, saffron) in [
            ("1-5", "2,3,4,5,6"),
            ("0,6", "1,7"),
            ("5-7", "1,6,7"),
            ("0-7", "1,2,3,4,5,6,7"),
            ("FRI-MON", "1,2,6,7"),
            ("*/2", "1,3,5,7"),
            ("1/2", "2,4,6"),
            ("1-5/2", "2,4,6"),
            ("5L", "6L"),
            ("7L", "1L"),
            ("1#2", "2#2"),
            ("0#1", "1#1"),
            ("sat#1", "7#1"),
        ] {
            assert_eq!(
                translate_day_of_week(field),
                Ok(saffron.to_owned()),
                "{field:?}"
            );
        }
    }

    #[test]
    fn last_friday_and_second_monday() {
        let last_fridays =
            cron("0 0 * * 5L").next_fire_times(datetime!(2100-01-01 0:00 UTC), None, 12);
        let second_mondays =
            cron("0 0 * * 1#2").next_fire_times(datetime!(2100-01-01 0:00 UTC), None, 12);

        for t in last_fridays {
            assert_eq!(t.weekday(), Weekday::Friday);
            assert_ne!(
                (t + Duration::weeks(1)).month(),
                t.month(),
                "{t} is the last Friday"
            );
        }
        for t in second_mondays {
            assert_eq!(t.weekday(), Weekday::Monday);
            assert!((8..=14).contains(&t.day()), "{t} is the second Monday");
        }
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        let times = cron("0 0 13 * 5").next_fire_times(datetime!(2100-01-01 0:00 UTC), None, 10);

        assert!(
            times
                .iter()
                .all(|t| t.day() == 13 || t.weekday() == Weekday::Friday)
        );
        assert!(
            times
                .iter()
                .any(|t| t.day() == 13 && t.weekday() != Weekday::Friday)
        );
        assert!(times.iter().any(|t| t.day() != 13));
    }

    /// Which field a malformed expression's error names. The messages are checked,
    /// through the public API, by `errors_name_the_field_and_the_value` in
    /// `tests/schedule_math.rs`.
    #[test]
    fn errors_name_the_malformed_field() {
        for (expression, field) in [
            ("0 0 * * 8", "day of week"),
            ("0 0 * FOO *", "month"),
            ("0 0 * * 1#6", "day of week"),
            ("0 0 * * 5L,1", "day of week"),
            ("0 0 L,1 * *", "day of month"),
            ("0 0 ? * *", "day of month"),
            ("0 0 1,,2 * *", "day of month"),
        ] {
            assert_eq!(error(expression).0, field, "{expression:?}");
        }
    }

    #[test]
    fn only_five_fields() {
        let (field, message) = error("0 0 0 * * *");

        assert_eq!(field, "expression");
        assert!(message.contains("found 6"), "{message}");
        assert!(error("0 0 * *").1.contains("found 4"));
        assert!(error("").1.contains("found 0"));
    }

    #[test]
    fn an_expression_that_never_fires_is_rejected() {
        let (field, message) = error("0 0 30 2 *");

        assert_eq!(field, "day of month");
        assert!(message.contains("30"), "{message}");
        assert_eq!(error("0 0 31 4,6,9,11 *").0, "day of month");
        assert_eq!(error("0 0 30W 2 *").0, "day of month");
        assert!(CronExpr::parse("0 0 29 2 *").is_ok(), "leap days exist");
        assert!(CronExpr::parse("0 0 29W 2 *").is_ok());
        assert!(CronExpr::parse("0 0 31W 1-2 *").is_ok());
    }

    #[test]
    fn whitespace_is_normalized_and_display_round_trips() {
        let expr = cron("  0   0 * *\t6 ");

        assert_eq!(expr.as_str(), "0 0 * * 6");
        assert_eq!(expr.to_string().parse::<CronExpr>().ok(), Some(expr));
    }

    #[test]
    fn next_after_is_strictly_after_and_ignores_seconds() {
        let hourly = cron("0 * * * *");

        assert_eq!(
            hourly.next_after(datetime!(2100-01-01 10:00 UTC), None),
            Some(datetime!(2100-01-01 11:00 UTC))
        );
        assert_eq!(
            hourly.next_after(datetime!(2100-01-01 9:59:59.999 UTC), None),
            Some(datetime!(2100-01-01 10:00 UTC))
        );
    }
}
