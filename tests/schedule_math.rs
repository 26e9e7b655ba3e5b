//! The time math of schedules over long stretches of simulated time: a year of slots
//! per expression, checked against hand-built expectations and against saffron's own
//! iterator (with the day of week translated by hand), daylight saving in two
//! timezones, interval grids, errors, and properties of `next_after`.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use leasehold::Error;
use leasehold::schedule::{DEFAULT_MISFIRE_GRACE, MissedRunPolicy, ScheduleSpec};
use leasehold::time::truncate_to_micros;
use proptest::prelude::*;
use time::macros::{date, datetime};
use time::{Date, Duration, Month, OffsetDateTime, Time, Weekday};

/// Every slot of `spec` in `[from, to)`.
fn slots(spec: &ScheduleSpec, from: OffsetDateTime, to: OffsetDateTime) -> Vec<OffsetDateTime> {
    std::iter::successors(spec.first_at_or_after(from), |t| spec.next_after(*t))
        .take_while(|t| *t < to)
        .collect()
}

fn utc_cron(expression: &str) -> ScheduleSpec {
    ScheduleSpec::cron(expression, None).expect("the test expression is valid")
}

/// Every day of `year`.
fn days_of(year: i32) -> impl Iterator<Item = Date> {
    let first = Date::from_calendar_date(year, Month::January, 1).expect("a valid year");
    std::iter::successors(Some(first), |d| d.next_day()).take_while(move |d| d.year() == year)
}

fn at(day: Date, hour: u8, minute: u8) -> OffsetDateTime {
    day.with_time(Time::from_hms(hour, minute, 0).expect("a valid time"))
        .assume_utc()
}

/// Midnight UTC on the first day of `year`, and on the first day of the next: the
/// bounds of a year of slots.
fn year_bounds(year: i32) -> (OffsetDateTime, OffsetDateTime) {
    let first_of = |year| at(days_of(year).next().expect("a day"), 0, 0);
    (first_of(year), first_of(year + 1))
}

/// saffron's own answer for a Quartz-numbered expression, over `[from, to)`.
fn saffron_slots(quartz: &str, from: OffsetDateTime, to: OffsetDateTime) -> Vec<OffsetDateTime> {
    let cron = saffron::Cron::from_str(quartz).expect("saffron parses the Quartz form");
    let start = DateTime::<Utc>::from_timestamp(from.unix_timestamp(), 0).expect("in range");
    cron.iter_from(start)
        .map(|t| OffsetDateTime::from_unix_timestamp(t.timestamp()).expect("in range"))
        .take_while(|t| *t < to)
        .collect()
}

/// A year of slots of `crontab`, which must equal `expected` and saffron's iterator over
/// `quartz` (the same schedule with the day of week numbered 1 = Sunday ... 7 = Saturday).
fn assert_year(crontab: &str, quartz: &str, year: i32, expected: &[OffsetDateTime]) {
    let (from, to) = year_bounds(year);

    let got = slots(&utc_cron(crontab), from, to);

    assert_eq!(got.len(), expected.len(), "{crontab} in {year}");
    assert_eq!(got, expected, "{crontab} in {year}");
    assert_eq!(
        got,
        saffron_slots(quartz, from, to),
        "{crontab} vs saffron {quartz}"
    );
}

#[test]
fn midnight_every_saturday_is_52_or_53_saturdays() {
    for (year, count) in [(2100, 52), (2000, 53)] {
        let expected: Vec<_> = days_of(year)
            .filter(|d| d.weekday() == Weekday::Saturday)
            .map(|d| at(d, 0, 0))
            .collect();

        assert_eq!(expected.len(), count);
        assert_year("0 0 * * 6", "0 0 * * 7", year, &expected);
        assert_year("0 0 * * SAT", "0 0 * * SAT", year, &expected);
    }
}

#[test]
fn sundays_are_zero_and_seven() {
    let expected: Vec<_> = days_of(2100)
        .filter(|d| d.weekday() == Weekday::Sunday)
        .map(|d| at(d, 0, 0))
        .collect();

    assert_year("0 0 * * 0", "0 0 * * 1", 2100, &expected);
    assert_year("0 0 * * 7", "0 0 * * 1", 2100, &expected);
}

#[test]
fn every_quarter_hour_of_business_hours_on_weekdays() {
    let expected: Vec<_> = days_of(2100)
        .filter(|d| !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday))
        .flat_map(|d| (9..=17).flat_map(move |h| [0, 15, 30, 45].map(|m| at(d, h, m))))
        .collect();

    assert_eq!(expected.len(), 261 * 9 * 4);
    assert_year("*/15 9-17 * * 1-5", "*/15 9-17 * * 2-6", 2100, &expected);
}

#[test]
fn noon_on_the_last_day_of_every_month() {
    let expected: Vec<_> = days_of(2100)
        .filter(|d| d.next_day().is_some_and(|next| next.month() != d.month()))
        .map(|d| at(d, 12, 0))
        .collect();

    assert_eq!(expected.len(), 12);
    assert_eq!(
        expected[1],
        datetime!(2100-02-28 12:00 UTC),
        "2100 is no leap year"
    );
    assert_year("0 12 L * *", "0 12 L * *", 2100, &expected);
}

#[test]
fn eight_on_the_second_monday_of_every_month() {
    let expected: Vec<_> = days_of(2100)
        .filter(|d| d.weekday() == Weekday::Monday && (8..=14).contains(&d.day()))
        .map(|d| at(d, 8, 0))
        .collect();

    assert_eq!(expected.len(), 12);
    assert_year("0 8 * * 1#2", "0 8 * * 2#2", 2100, &expected);
}

#[test]
fn last_friday_of_every_month() {
    let expected: Vec<_> = days_of(2100)
        .filter(|d| {
            d.weekday() == Weekday::Friday && (*d + Duration::weeks(1)).month() != d.month()
        })
        .map(|d| at(d, 0, 0))
        .collect();

    assert_year("0 0 * * 5L", "0 0 * * 6L", 2100, &expected);
}

#[test]
fn half_past_two_in_berlin_for_a_year() {
    let berlin = ScheduleSpec::cron("30 2 * * *", Some("Europe/Berlin")).expect("valid");

    let (from, to) = year_bounds(2000);
    let got = slots(&berlin, from, to);

    assert_eq!(got.len(), 366, "once a day, DST or not");
    let summer = date!(2000 - 03 - 26)..date!(2000 - 10 - 29);
    for t in &got {
        let day = t.date();
        let expected = if day == date!(2000 - 03 - 26) {
            at(day, 1, 0) // 02:30 does not exist: 03:00 CEST
        } else if summer.contains(&day) || day == date!(2000 - 10 - 29) {
            at(day, 0, 30) // 02:30 CEST (on Oct 29 its first occurrence)
        } else {
            at(day, 1, 30) // 02:30 CET
        };
        assert_eq!(*t, expected);
    }
}

#[test]
fn berlin_spring_forward_fires_once_at_three() {
    let half_past_two = ScheduleSpec::cron("30 2 * * *", Some("Europe/Berlin")).expect("valid");
    let quarter_hours_of_two =
        ScheduleSpec::cron("*/15 2 * * *", Some("Europe/Berlin")).expect("valid");

    let days = half_past_two.next_fire_times(datetime!(2000-03-25 0:00 UTC), 3);
    let gap = slots(
        &quarter_hours_of_two,
        datetime!(2000-03-26 0:00 UTC),
        datetime!(2000-03-27 0:00 UTC),
    );

    assert_eq!(
        days,
        [
            datetime!(2000-03-25 1:30 UTC), // 02:30 CET
            datetime!(2000-03-26 1:00 UTC), // 03:00 CEST: 02:30 does not exist
            datetime!(2000-03-27 0:30 UTC), // 02:30 CEST
        ]
    );
    assert_eq!(gap, [days[1]], "a whole gap fires once, at 03:00 CEST");
}

#[test]
fn berlin_fall_back_fires_once_at_the_first_occurrence() {
    let half_past_two = ScheduleSpec::cron("30 2 * * *", Some("Europe/Berlin")).expect("valid");

    let days = half_past_two.next_fire_times(datetime!(2000-10-28 0:00 UTC), 3);
    // From between the two 02:30s of Oct 29 (01:00 UTC is 02:00 CET).
    let next_slot = half_past_two.next_after(datetime!(2000-10-29 1:00 UTC));

    assert_eq!(
        days,
        [
            datetime!(2000-10-28 0:30 UTC), // 02:30 CEST
            datetime!(2000-10-29 0:30 UTC), // 02:30 CEST, the first of two
            datetime!(2000-10-30 1:30 UTC), // 02:30 CET
        ]
    );
    assert_eq!(next_slot, Some(days[2]), "02:30 CET is not a second slot");
}

#[test]
fn new_york_spring_forward_and_fall_back() {
    let half_past_two = ScheduleSpec::cron("30 2 * * *", Some("America/New_York")).expect("valid");
    let half_past_one = ScheduleSpec::cron("30 1 * * *", Some("America/New_York")).expect("valid");

    let spring = half_past_two.next_fire_times(datetime!(2000-04-01 0:00 UTC), 3);
    let fall_two = slots(
        &half_past_two,
        datetime!(2000-10-29 0:00 UTC),
        datetime!(2000-10-30 0:00 UTC),
    );
    let fall_one = half_past_one.next_fire_times(datetime!(2000-10-28 0:00 UTC), 3);

    assert_eq!(
        spring,
        [
            datetime!(2000-04-01 7:30 UTC), // 02:30 EST
            datetime!(2000-04-02 7:00 UTC), // 03:00 EDT: 02:30 does not exist
            datetime!(2000-04-03 6:30 UTC), // 02:30 EDT
        ]
    );
    assert_eq!(
        fall_two,
        [datetime!(2000-10-29 7:30 UTC)],
        "02:30 EST, once"
    );
    assert_eq!(
        fall_one,
        [
            datetime!(2000-10-28 5:30 UTC), // 01:30 EDT
            datetime!(2000-10-29 5:30 UTC), // 01:30 EDT, the first of two
            datetime!(2000-10-30 6:30 UTC), // 01:30 EST
        ]
    );
}

#[test]
fn hourly_in_new_york_fires_once_per_local_hour_on_dst_days() {
    let hourly = ScheduleSpec::cron("0 * * * *", Some("America/New_York")).expect("valid");

    let spring_day = slots(
        &hourly,
        datetime!(2000-04-02 5:00 UTC),
        datetime!(2000-04-03 4:00 UTC),
    );
    let fall_day = slots(
        &hourly,
        datetime!(2000-10-29 4:00 UTC),
        datetime!(2000-10-30 5:00 UTC),
    );

    assert_eq!(
        spring_day.len(),
        23,
        "a 23-hour day: 02:00 and 03:00 are one instant"
    );
    assert_eq!(
        fall_day.len(),
        24,
        "a 25-hour day: the repeated 01:00 fires once"
    );
    assert!(
        !fall_day.contains(&datetime!(2000-10-29 6:00 UTC)),
        "01:00 EST is the repeat"
    );
}

#[test]
fn an_interval_stays_on_its_grid_after_late_runs() {
    let anchor = datetime!(2000-01-01 0:00 UTC);
    let every = std::time::Duration::from_mins(15);
    let spec = ScheduleSpec::interval(every, anchor).expect("valid");
    let mut stored = spec.first_at_or_after(anchor).expect("a first slot");
    let mut fired = Vec::new();

    for late_by in [0, 7, 61, 899, 3, 1_000, 4_000, 0, 59] {
        let now = stored + Duration::seconds(late_by);
        let plan =
            MissedRunPolicy::CatchUp { max: 100 }.plan(&spec, stored, now, DEFAULT_MISFIRE_GRACE);
        fired.extend(plan.fire);
        stored = plan.next_slot.expect("an interval never ends");
    }

    assert_eq!(stored, anchor + every * 14);
    assert_eq!(
        fired,
        (0..14).map(|k| anchor + every * k).collect::<Vec<_>>()
    );
}

#[test]
fn errors_name_the_field_and_the_value() {
    let cases = [
        (
            "0 0 * * 8",
            "day of week",
            "8 is out of range 0-7 or SUN-SAT (0 and 7 are Sunday)",
        ),
        ("61 * * * *", "minute", "61 is out of range 0-59"),
        ("60 * * * *", "minute", "60 is out of range 0-59"),
        ("0 25 * * *", "hour", "25 is out of range 0-23"),
        ("0 24 * * *", "hour", "24 is out of range 0-23"),
        ("0 0 32 * *", "day of month", "32 is out of range 1-31"),
        ("0 0 0 * *", "day of month", "0 is out of range 1-31"),
        ("0 0 * 0 *", "month", "0 is out of range 1-12 or JAN-DEC"),
        ("0 0 * 13 *", "month", "13 is out of range 1-12 or JAN-DEC"),
        (
            "0 0 * * MONDAY",
            "day of week",
            "\"MONDAY\" is not a value (expected 0-7 or SUN-SAT (0 and 7 are Sunday))",
        ),
        (
            "0 0 30 2 *",
            "day of month",
            "30 never occurs in the selected months (2)",
        ),
        (
            "0 0 * * * *",
            "expression",
            "expected 5 fields (minute hour day-of-month month day-of-week), found 6",
        ),
        ("*/0 * * * *", "minute", "step 0 is out of range 1-59"),
        ("*/60 * * * *", "minute", "step 60 is out of range 1-59"),
        (
            "5-1 * * * *",
            "minute",
            "range 5-1 runs backwards (5 is after 1)",
        ),
    ];

    for (expression, field, message) in cases {
        let err = ScheduleSpec::cron(expression, None).expect_err(expression);
        let Error::Cron {
            field: got_field,
            message: got_message,
            ..
        } = &err
        else {
            panic!("{expression}: {err:?}");
        };
        assert_eq!(got_field, field, "{expression}");
        assert_eq!(got_message, message, "{expression}");
        assert!(err.to_string().contains(expression), "{err}");
    }
}

// ---- properties -------------------------------------------------------------------

/// One list item of a generated field, kept with the values it selects so the test
/// knows the answer without asking saffron or leasehold. Values are drawn from
/// `min..=max`; `*/step` covers `min..=star_max`.
fn item(
    min: u8,
    max: u8,
    star_max: u8,
    max_step: u8,
) -> impl Strategy<Value = (String, BTreeSet<u8>)> {
    prop_oneof![
        (min..=max).prop_map(|v| (v.to_string(), BTreeSet::from([v]))),
        (min..=max, min..=max).prop_map(|(a, b)| {
            let (a, b) = (a.min(b), a.max(b));
            (format!("{a}-{b}"), (a..=b).collect())
        }),
        (min..=max, min..=max, 1..=max_step).prop_map(|(a, b, s)| {
            let (a, b) = (a.min(b), a.max(b));
            (
                format!("{a}-{b}/{s}"),
                (a..=b).step_by(usize::from(s)).collect(),
            )
        }),
        (1..=max_step).prop_map(move |s| (
            format!("*/{s}"),
            (min..=star_max).step_by(usize::from(s)).collect()
        )),
    ]
}

/// A field: `*` (None) or a list of one to three items.
fn field(
    min: u8,
    max: u8,
    star_max: u8,
    max_step: u8,
) -> impl Strategy<Value = (String, Option<BTreeSet<u8>>)> {
    prop_oneof![
        1 => Just(("*".to_owned(), None)),
        3 => prop::collection::vec(item(min, max, star_max, max_step), 1..=3).prop_map(|items| {
            let text = items.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(",");
            let values = items.into_iter().flat_map(|(_, v)| v).collect();
            (text, Some(values))
        }),
    ]
}

/// A crontab expression and an independent matcher for it.
#[derive(Debug, Clone)]
struct Expected {
    text: String,
    minute: Option<BTreeSet<u8>>,
    hour: Option<BTreeSet<u8>>,
    day: Option<BTreeSet<u8>>,
    month: Option<BTreeSet<u8>>,
    /// 0 = Sunday ... 6 = Saturday (7 folded into 0).
    weekday: Option<BTreeSet<u8>>,
}

impl Expected {
    fn matches(&self, t: OffsetDateTime) -> bool {
        let has = |set: &Option<BTreeSet<u8>>, v: u8| set.as_ref().is_none_or(|s| s.contains(&v));
        let day = has(&self.day, t.day());
        let weekday = has(&self.weekday, t.weekday().number_days_from_sunday());
        let day_matches = match (&self.day, &self.weekday) {
            (Some(_), Some(_)) => day || weekday, // crontab: either one
            _ => day && weekday,
        };
        t.second() == 0
            && t.nanosecond() == 0
            && has(&self.minute, t.minute())
            && has(&self.hour, t.hour())
            && has(&self.month, u8::from(t.month()))
            && day_matches
    }
}

fn expression() -> impl Strategy<Value = Expected> {
    (
        field(0, 59, 59, 59),
        field(0, 23, 23, 23),
        field(1, 28, 31, 27), // days every month has, so every expression fires
        field(1, 12, 12, 11),
        field(0, 7, 6, 6),
    )
        .prop_map(|(minute, hour, day, month, weekday)| Expected {
            text: [&minute.0, &hour.0, &day.0, &month.0, &weekday.0]
                .map(String::as_str)
                .join(" "),
            minute: minute.1,
            hour: hour.1,
            day: day.1,
            month: month.1,
            weekday: weekday
                .1
                .map(|days| days.into_iter().map(|d| d % 7).collect()),
        })
}

/// A time between 2000 and 2100, to the nanosecond.
fn instant() -> impl Strategy<Value = OffsetDateTime> {
    let range = datetime!(2000-01-01 0:00 UTC).unix_timestamp()
        ..datetime!(2100-01-01 0:00 UTC).unix_timestamp();
    (range, 0..1_000_000_000u32).prop_map(|(seconds, nanos)| {
        OffsetDateTime::from_unix_timestamp(seconds).expect("in range")
            + Duration::nanoseconds(i64::from(nanos))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn next_after_increases_strictly_and_matches_the_expression(
        expected in expression(),
        start in instant(),
    ) {
        let spec = utc_cron(&expected.text);

        let times = spec.next_fire_times(start, 5);

        prop_assert_eq!(times.len(), 5);
        let mut previous = start;
        for t in times {
            prop_assert!(t > previous, "{} then {} for {:?}", previous, t, expected.text);
            prop_assert!(expected.matches(t), "{} does not match {:?}", t, expected.text);
            previous = t;
        }
    }

    #[test]
    fn the_first_slot_after_a_time_is_the_first_matching_minute(
        expected in expression(),
        start in instant(),
    ) {
        let spec = utc_cron(&expected.text);
        let next = spec.next_after(start).expect("fires");
        // Walk back minute by minute (at most a day) from the answer: nothing in
        // between may match.
        let mut t = next - Duration::MINUTE;
        let floor = (next - Duration::DAY).max(start);

        while t > floor {
            prop_assert!(!expected.matches(t), "{} matches {:?} before {}", t, expected.text, next);
            t -= Duration::MINUTE;
        }
    }

    #[test]
    fn zoned_next_after_increases_strictly(
        expected in expression(),
        start in instant(),
        tz in prop::sample::select(vec![
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ]),
    ) {
        let spec = ScheduleSpec::cron(&expected.text, Some(tz)).expect("valid");

        let times = spec.next_fire_times(start, 5);

        prop_assert_eq!(times.len(), 5);
        let mut previous = start;
        for t in times {
            prop_assert!(t > previous, "{} then {} for {:?} in {}", previous, t, expected.text, tz);
            previous = t;
        }
    }

    #[test]
    fn interval_slots_stay_on_the_grid(
        every_s in 1u64..100_000,
        anchor in instant(),
        after in instant(),
    ) {
        let anchor = truncate_to_micros(anchor); // as the constructor stores it
        let every = std::time::Duration::from_secs(every_s);
        let spec = ScheduleSpec::interval(every, anchor).expect("valid");

        let next = spec.next_after(after).expect("an interval never ends");

        prop_assert!(next > after);
        let every_ns = i128::try_from(every.as_nanos()).expect("under 100,000 s");
        prop_assert_eq!((next - anchor).whole_nanoseconds() % every_ns, 0);
        prop_assert!(next == anchor || next - every <= after);
    }
}
