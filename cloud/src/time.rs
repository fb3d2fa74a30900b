//! Time on the wire: the API's datetime formats (spec 2.5) over the storage form, microseconds
//! since the Unix epoch in UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Now, in storage form.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

pub fn to_datetime(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros).single().unwrap_or_default()
}

/// Default output: ISO 8601 with `Z`, with microseconds only when they are not zero.
pub fn format(micros: i64) -> String {
    let dt = to_datetime(micros);
    if micros.rem_euclid(1_000_000) == 0 {
        dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// Stream-data output: whole seconds, always `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_seconds(micros: i64) -> String {
    use chrono::{Datelike, Timelike};
    let dt = to_datetime(micros);
    // Written out directly: pages of stream data format one of these per row, and chrono's
    // `format` parses its pattern each time. Years outside 0..=9999 keep chrono's form.
    if (0..=9999).contains(&dt.year()) {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )
    } else {
        dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// Reads `YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]]` with an optional `Z` or `±HH[:MM]`; a time with
/// no zone is UTC. With `allow_date`, a bare date is midnight UTC.
pub fn parse(input: &str, allow_date: bool) -> Option<i64> {
    let s = input.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc).timestamp_micros());
    }
    let (body, offset_secs) = split_zone(s)?;
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(body, fmt) {
            return Some(naive.and_utc().timestamp_micros() - offset_secs * 1_000_000);
        }
    }
    if allow_date && offset_secs == 0 {
        if let Ok(date) = NaiveDate::parse_from_str(body, "%Y-%m-%d") {
            return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
        }
    }
    None
}

/// Splits a trailing `Z`, `±HH` or `±HH:MM` off a datetime, returning the offset in seconds.
fn split_zone(s: &str) -> Option<(&str, i64)> {
    if let Some(body) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return Some((body, 0));
    }
    // A zone sign can only appear after the time part, which follows position 10.
    let tail_start = s.len().min(11);
    let Some(pos) = s[tail_start..].rfind(['+', '-']).map(|p| p + tail_start) else {
        return Some((s, 0));
    };
    let zone = &s[pos + 1..];
    let (h, m) = match zone.split_once(':') {
        Some((h, m)) => (h, m),
        None if zone.len() == 4 => zone.split_at(2),
        None => (zone, "0"),
    };
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    let sign = if s.as_bytes()[pos] == b'-' { -1 } else { 1 };
    Some((&s[..pos], sign * (h * 3600 + m * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_and_without_fraction() {
        let t = parse("2017-01-10T11:00:00Z", false).unwrap();
        assert_eq!(format(t), "2017-01-10T11:00:00Z");
        assert_eq!(format(t + 62_233), "2017-01-10T11:00:00.062233Z");
        assert_eq!(format_seconds(t + 62_233), "2017-01-10T11:00:00Z");
    }

    #[test]
    fn parses_the_accepted_forms() {
        let utc = parse("2017-01-10T10:00:00Z", false).unwrap();
        assert_eq!(parse("2017-01-10T10:00:00", false), Some(utc));
        assert_eq!(parse("2017-01-10 10:00", false), Some(utc));
        assert_eq!(parse("2017-01-10T10:00:00.000000", false), Some(utc));
        assert_eq!(parse("2017-01-10T12:00:00+02:00", false), Some(utc));
        assert_eq!(parse("2017-01-10T08:30:00-01:30", false), Some(utc));
        assert_eq!(parse("2017-01-10T12:00:00+02", false), Some(utc));
        assert_eq!(parse("2017-01-10", false), None);
        assert_eq!(
            parse("2017-01-10", true),
            parse("2017-01-10T00:00:00Z", false)
        );
        assert_eq!(parse("yesterday", true), None);
        assert_eq!(parse("2017-01-10T10:00:00+99:00", false), None);
    }
}
