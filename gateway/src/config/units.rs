//! The units configuration values are written in: sizes (`"512 MiB"`) and intervals
//! (`"90 s"`). An integer is bytes or seconds.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A size in bytes, written as an integer or a string with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let (number, unit) = split(text, "a size like \"512 MiB\"")?;
        let factor: u64 = match unit.as_str() {
            "" | "b" => 1,
            "kb" => 1000,
            "mb" => 1000 * 1000,
            "gb" => 1000 * 1000 * 1000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            other => {
                return Err(format!(
                    "unknown size unit {other:?} (B, KB, MB, GB, KiB, MiB, GiB)"
                ))
            }
        };
        number
            .checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("{text:?} is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        int_or_text(deserializer, ByteSize, ByteSize::parse)
    }
}

/// A length of time, written as integer seconds or a string with a unit: `"500 ms"`,
/// `"90 s"`, `"10 min"`, `"1 h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval(pub Duration);

impl Interval {
    pub fn parse(text: &str) -> Result<Interval, String> {
        let (number, unit) = split(text, "an interval like \"90 s\"")?;
        let millis: u64 = match unit.as_str() {
            "ms" => 1,
            "" | "s" => 1000,
            "min" => 60_000,
            "h" => 3_600_000,
            other => return Err(format!("unknown time unit {other:?} (ms, s, min, h)")),
        };
        number
            .checked_mul(millis)
            .map(|ms| Interval(Duration::from_millis(ms)))
            .ok_or_else(|| format!("{text:?} is too long"))
    }

    pub fn secs(secs: u64) -> Interval {
        Interval(Duration::from_secs(secs))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        int_or_text(deserializer, Interval::secs, Interval::parse)
    }
}

/// `"512 MiB"` → `(512, "mib")`: the leading digits, and the rest trimmed and lowercased.
fn split(text: &str, expected: &str) -> Result<(u64, String), String> {
    let text = text.trim();
    let at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(at);
    let number = number
        .parse()
        .map_err(|_| format!("{text:?} is not {expected}"))?;
    Ok((number, unit.trim().to_ascii_lowercase()))
}

/// A value written as a bare integer or as text with a unit.
fn int_or_text<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    from_int: impl FnOnce(u64) -> T,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Int(n) => Ok(from_int(n)),
        Raw::Text(t) => parse(&t).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(ByteSize::parse("512 MiB"), Ok(ByteSize(512 << 20)));
        assert_eq!(ByteSize::parse("2MB"), Ok(ByteSize(2_000_000)));
        assert_eq!(ByteSize::parse(" 4096 "), Ok(ByteSize(4096)));
        assert_eq!(ByteSize::parse("1 kib"), Ok(ByteSize(1024)));
        assert!(ByteSize::parse("12 parsecs").is_err());
        assert!(ByteSize::parse("MiB").is_err());
        assert!(ByteSize::parse("99999999999999999999 GiB").is_err());
        assert!(ByteSize::parse("18446744073 GiB").is_err());
    }

    #[test]
    fn intervals_parse_with_units() {
        assert_eq!(
            Interval::parse("500 ms"),
            Ok(Interval(Duration::from_millis(500)))
        );
        assert_eq!(Interval::parse("90"), Ok(Interval::secs(90)));
        assert_eq!(Interval::parse("90s"), Ok(Interval::secs(90)));
        assert_eq!(Interval::parse("10 min"), Ok(Interval::secs(600)));
        assert_eq!(Interval::parse("1 H"), Ok(Interval::secs(3600)));
        assert!(Interval::parse("2 fortnights").is_err());
        assert!(Interval::parse("s").is_err());
        assert!(Interval::parse("-1 s").is_err());
        assert!(Interval::parse("99999999999999999999 h").is_err());
    }
}
