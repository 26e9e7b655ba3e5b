//! Spans of time on the command line: `7d`, `12h`, `30m`, `45s`, `1h30m`.

use std::time::Duration;

/// Parses one or more `<number><unit>` parts, unit `w`, `d`, `h`, `m`, `s` or `ms`,
/// added up (`1h30m`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration: use e.g. 7d, 12h, 30m, 45s or 1h30m");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        let units = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(units);
        let number: u64 = number.parse().map_err(|_| invalid())?;
        let seconds_per_unit: u64 = match unit {
            "w" => 7 * 86_400,
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            "ms" => 0,
            _ => return Err(invalid()),
        };
        let part = if unit == "ms" {
            Duration::from_millis(number)
        } else {
            number
                .checked_mul(seconds_per_unit)
                .map(Duration::from_secs)
                .ok_or_else(invalid)?
        };
        total = total.checked_add(part).ok_or_else(invalid)?;
        rest = next;
    }
    Ok(total)
}

/// A span as [`parse_duration`] reads it back, in the largest unit that divides it
/// (`1m`, `90s`, `1500ms`); a span that is not whole milliseconds, as Rust prints it.
pub(crate) fn format_duration(span: Duration) -> String {
    let ms = span.as_millis();
    if ms == 0 || Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)) != span {
        return format!("{span:?}");
    }
    let units = [
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ];
    units
        .iter()
        .find(|(_, per)| ms.is_multiple_of(*per))
        .map_or_else(
            || format!("{ms}ms"),
            |(unit, per)| format!("{}{unit}", ms / per),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_spans_parse_back() {
        for ms in [
            1,
            999,
            1_000,
            1_500,
            60_000,
            90_000,
            3_600_000,
            86_400_000,
            604_800_000,
        ] {
            let span = Duration::from_millis(ms);
            assert_eq!(parse_duration(&format_duration(span)), Ok(span), "{ms} ms");
        }
        assert_eq!(format_duration(Duration::from_secs(60)), "1m");
        assert_eq!(format_duration(Duration::from_millis(1_500)), "1500ms");
        assert_eq!(format_duration(Duration::from_micros(1_500)), "1.5ms");
    }

    #[test]
    fn units_add_up() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "1.5h",
            "-1d",
            "h7",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
