//! Splitting slugs into parts, reading hex numbers and printing groups: the rules shared by
//! every kind.

use std::fmt;

use super::error::shown;
use super::{IdError, SlugKind};

/// A slug split on `--`, with its one-letter prefix (lower-cased) taken off when it has one.
pub(crate) struct Pieces<'a> {
    pub prefix: Option<char>,
    pub parts: Vec<&'a str>,
}

/// Split `input` on `--`. The first part is a prefix when it is a single ASCII letter and
/// at least one part follows it. Whitespace around the input and around each part is ignored.
pub(crate) fn split(input: &str) -> Pieces<'_> {
    let mut iter = input.trim().split("--").map(str::trim);
    let first = iter.next().unwrap_or("");
    let rest: Vec<&str> = iter.collect();
    if !rest.is_empty() {
        if let Some(letter) = single_letter(first) {
            return Pieces {
                prefix: Some(letter),
                parts: rest,
            };
        }
    }
    let mut parts = Vec::with_capacity(rest.len().saturating_add(1));
    parts.push(first);
    parts.extend(rest);
    Pieces {
        prefix: None,
        parts,
    }
}

fn single_letter(s: &str) -> Option<char> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => Some(c.to_ascii_lowercase()),
        _ => None,
    }
}

/// Check the prefix and the number of parts of `input` for `expected`.
///
/// `accepted` lists the kinds whose prefix is taken; a bare value (one part, no prefix) is
/// taken when `bare` is true and is reported as `expected`. Returns the kind whose prefix was
/// found and the parts after the prefix (`parts` of them).
pub(crate) fn checked<'a>(
    input: &'a str,
    expected: SlugKind,
    accepted: &[SlugKind],
    bare: bool,
) -> Result<(SlugKind, Vec<&'a str>), IdError> {
    if input.trim().is_empty() {
        return Err(IdError::Empty { expected });
    }
    let pieces = split(input);
    let found_kind = match pieces.prefix {
        Some(letter) => match SlugKind::from_prefix(letter) {
            Some(kind) if accepted.contains(&kind) => kind,
            _ => {
                return Err(IdError::WrongKind {
                    expected,
                    found: shown(input),
                })
            }
        },
        None if bare && pieces.parts.len() == 1 => expected,
        None => {
            return Err(IdError::MissingPrefix {
                expected,
                found: shown(input),
            })
        }
    };
    let wanted = expected.part_count().saturating_sub(1);
    let count = pieces.parts.len();
    if count != wanted {
        return Err(IdError::PartCount {
            expected,
            found: shown(input),
            parts: if pieces.prefix.is_some() {
                count.saturating_add(1)
            } else {
                count
            },
        });
    }
    Ok((found_kind, pieces.parts))
}

/// Why a part is not a number.
enum Bad {
    Empty,
    NotHex,
    Overflow,
}

/// The value of one part: whitespace around it, an optional `0x` prefix, `-` and `_`
/// separators are ignored; the rest must be hex digits (any case), read by numeric value.
fn hex_value(part: &str) -> Result<u64, Bad> {
    let s = part.trim();
    if s.is_empty() {
        return Err(Bad::Empty);
    }
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let digits = s.chars().filter(|c| *c != '-' && *c != '_');
    let mut any = false;
    for c in digits.clone() {
        if !c.is_ascii_hexdigit() {
            return Err(Bad::NotHex);
        }
        any = true;
    }
    if !any {
        return Err(Bad::NotHex);
    }
    let mut value: u64 = 0;
    for c in digits {
        let digit = u64::from(c.to_digit(16).ok_or(Bad::NotHex)?);
        value = value
            .checked_mul(16)
            .and_then(|v| v.checked_add(digit))
            .ok_or(Bad::Overflow)?;
    }
    Ok(value)
}

/// The largest value of a `bits`-wide field.
pub(crate) fn max_value(bits: u32) -> u64 {
    u64::MAX
        .checked_shr(64u32.saturating_sub(bits))
        .unwrap_or(0)
}

/// The largest value of a `bits`-wide field in group form (`ffff-ffff` for 32 bits).
pub(crate) fn max_text(bits: u32) -> String {
    Groups::new(max_value(bits), bits / 16).to_string()
}

/// A required numeric part of `input`, range-checked to `bits`.
pub(crate) fn field(
    expected: SlugKind,
    field: &'static str,
    part: &str,
    bits: u32,
    input: &str,
) -> Result<u64, IdError> {
    optional_field(expected, field, part, bits, input)?.ok_or_else(|| IdError::EmptyPart {
        expected,
        field,
        found: shown(input),
    })
}

/// A numeric part of `input` that may be empty (`None`), range-checked to `bits`.
pub(crate) fn optional_field(
    expected: SlugKind,
    field: &'static str,
    part: &str,
    bits: u32,
    input: &str,
) -> Result<Option<u64>, IdError> {
    let too_large = || IdError::TooLarge {
        expected,
        field,
        bits,
        found: shown(input),
    };
    match hex_value(part) {
        Ok(value) if value <= max_value(bits) => Ok(Some(value)),
        Ok(_) | Err(Bad::Overflow) => Err(too_large()),
        Err(Bad::Empty) => Ok(None),
        Err(Bad::NotHex) => Err(IdError::NotHex {
            expected,
            field,
            part: shown(part.trim()),
            found: shown(input),
        }),
    }
}

/// A number printed as `count` groups of 4 lower-case hex digits joined by `-`, most
/// significant first. Bits above `16 * count` are not printed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Groups {
    value: u64,
    count: u32,
}

impl Groups {
    pub(crate) const fn new(value: u64, count: u32) -> Self {
        Groups { value, count }
    }
}

impl fmt::Display for Groups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in (0..self.count).rev() {
            let shift = i.saturating_mul(16);
            let group = self.value.checked_shr(shift).unwrap_or(0) & 0xffff;
            if i + 1 != self.count {
                f.write_str("-")?;
            }
            write!(f, "{group:04x}")?;
        }
        Ok(())
    }
}
