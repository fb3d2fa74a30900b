//! Times as the pages show them: a short UTC text for people, ISO 8601 for `<time>`.

use crate::time::{format, to_datetime};

/// A moment for a template: `<time datetime="{{ iso }}">{{ text }}</time>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub iso: String,
    pub text: String,
}

impl Stamp {
    /// The moment `micros` (storage form).
    pub fn of(micros: i64) -> Stamp {
        Stamp {
            iso: format(micros),
            text: to_datetime(micros).format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }

    pub fn of_opt(micros: Option<i64>) -> Option<Stamp> {
        micros.map(Stamp::of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moment_reads_both_ways() {
        let s = Stamp::of(1_700_000_000_000_000);
        assert_eq!(s.text, "2023-11-14 22:13 UTC");
        assert_eq!(s.iso, "2023-11-14T22:13:20Z");
        assert_eq!(Stamp::of_opt(None), None);
    }
}
