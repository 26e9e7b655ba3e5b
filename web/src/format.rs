//! How times read on a page: UTC with the distance from now, or a schedule's own
//! timezone.

use chrono::TimeZone as _;
use leasehold::schedule::Timezone;
use leasehold::time::OffsetDateTime;
use maud::{Markup, html};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

const UTC_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");

/// `t` in UTC, to the second.
pub(crate) fn utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(UTC_FORMAT).unwrap_or_else(|_| t.to_string())
}

/// `t` as a machine reads it (a `<time>` element's `datetime`).
fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// `t` in UTC with how far it is from `now` ("in 5m", "2h 3m ago").
pub(crate) fn when(t: OffsetDateTime, now: OffsetDateTime) -> Markup {
    html! {
        time datetime=(rfc3339(t)) { (utc(t)) }
        " "
        span.relative { "(" (relative(t, now)) ")" }
    }
}

/// An optional time, or a dash.
pub(crate) fn maybe_when(t: Option<OffsetDateTime>, now: OffsetDateTime) -> Markup {
    match t {
        Some(t) => when(t, now),
        None => html! { span.none { "—" } },
    }
}

/// How far `t` is from `now`, in the two largest units.
pub(crate) fn relative(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let span = t - now;
    let seconds = span.whole_seconds().unsigned_abs();
    if seconds == 0 {
        return "now".to_owned();
    }
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    let text = match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) if secs == 0 => format!("{m}m"),
        (0, 0, m) => format!("{m}m {secs}s"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    };
    if span.is_negative() {
        format!("{text} ago")
    } else {
        format!("in {text}")
    }
}

/// `t` as wall time in `zone` (UTC when `None`), with the zone's abbreviation.
pub(crate) fn in_zone(t: OffsetDateTime, zone: Option<Timezone>) -> String {
    let Some(zone) = zone else {
        return utc(t);
    };
    // The library's timezone database is chrono-tz's, so every name it holds parses.
    let (Ok(tz), Some(instant)) = (
        zone.name().parse::<chrono_tz::Tz>(),
        chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()),
    ) else {
        return utc(t);
    };
    tz.from_utc_datetime(&instant.naive_utc())
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn distances_read_in_their_two_largest_units() {
        let now = datetime!(2000-01-01 0:00 UTC);

        assert_eq!(relative(now, now), "now");
        assert_eq!(relative(datetime!(2000-01-01 0:00:42 UTC), now), "in 42s");
        assert_eq!(
            relative(datetime!(1999-12-31 23:55:30 UTC), now),
            "4m 30s ago"
        );
        assert_eq!(relative(datetime!(2000-01-01 0:15 UTC), now), "in 15m");
        assert_eq!(relative(datetime!(2000-01-01 2:03 UTC), now), "in 2h 3m");
        assert_eq!(relative(datetime!(2000-01-03 5:00 UTC), now), "in 2d 5h");
    }

    #[test]
    fn a_zone_shows_its_wall_time() {
        let t = datetime!(2000-01-07 23:00 UTC);
        let berlin = Timezone::parse("Europe/Berlin").unwrap();

        assert_eq!(utc(t), "2000-01-07 23:00:00 UTC");
        assert_eq!(in_zone(t, Some(berlin)), "2000-01-08 00:00:00 CET");
        assert_eq!(in_zone(t, None), "2000-01-07 23:00:00 UTC");
    }
}
