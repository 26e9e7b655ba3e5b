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

#[cfg(test)]
mod tests {
    use super::*;

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
