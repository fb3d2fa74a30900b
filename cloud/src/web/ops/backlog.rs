//! A gateway's backlog as the gateways page words it: "12 reports (34 KB) waiting, oldest
//! from 2 h ago", "nothing waiting", or why it is not known.

use super::stamp::Stamp;
use crate::store::gateways::{Backlog, Gateway};

/// The "Waiting" cell of a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The main words: what waits, or why it is not known.
    pub text: String,
    /// What needs someone's attention: reports kept aside, a full buffer, update outcomes.
    pub notes: Vec<String>,
    /// When the gateway told it; None when it is not known.
    pub as_of: Option<Stamp>,
}

/// The cell for `g`, with ages counted to `now` (microseconds).
pub fn waiting(g: &Gateway, now: i64) -> Waiting {
    match (&g.backlog, g.backlog_at) {
        (Some(b), Some(at)) => Waiting {
            text: summary(b, now),
            notes: notes(b),
            as_of: Some(Stamp::of(at)),
        },
        _ => Waiting {
            text: if g.last_seen.is_some() {
                "not reported by this gateway's version".into()
            } else {
                "not reported yet".into()
            },
            notes: Vec::new(),
            as_of: None,
        },
    }
}

fn summary(b: &Backlog, now: i64) -> String {
    if b.reports == 0 {
        return if b.ota_outcomes == 0 && b.quarantined == 0 && !b.full {
            "nothing waiting".into()
        } else {
            "no report waiting".into()
        };
    }
    let mut text = format!(
        "{} ({}) waiting",
        plural(b.reports, "report", "reports"),
        bytes(b.bytes)
    );
    if let Some(oldest) = b.oldest {
        text.push_str(&format!(", oldest from {} ago", age(now - oldest)));
    }
    text
}

fn notes(b: &Backlog) -> Vec<String> {
    let mut notes = Vec::new();
    if b.full {
        notes.push("buffer full: collection stopped".into());
    }
    if b.quarantined > 0 {
        notes.push(format!(
            "{} kept aside, never to be uploaded",
            plural(b.quarantined, "report", "reports")
        ));
    }
    if b.ota_outcomes > 0 {
        notes.push(format!(
            "{} to send",
            plural(b.ota_outcomes, "update outcome", "update outcomes")
        ));
    }
    notes
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Decimal units, as disks are sold: 34 KB is 34,000 bytes.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{} B", n.max(0));
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.5 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if value < 9.95 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// A duration in microseconds, in its largest whole unit: "45 s", "12 min", "2 h", "3 days".
/// A negative one (a gateway clock ahead of ours) reads as none.
pub fn age(micros: i64) -> String {
    let secs = micros.max(0) / 1_000_000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn gateway(backlog: Option<Backlog>, last_seen: Option<i64>) -> Gateway {
        Gateway {
            id: 1,
            key_id: "gw--00".into(),
            org_id: "o".into(),
            name: String::new(),
            created_by: 1,
            created_on: 0,
            revoked_on: None,
            last_seen,
            backlog_at: backlog.map(|_| 1_700_000_000_000_000),
            backlog,
        }
    }

    fn held(reports: i64, bytes: i64) -> Backlog {
        Backlog {
            reports,
            bytes,
            readings: reports * 20,
            oldest: (reports > 0).then_some(1_700_000_000_000_000 - 2 * HOUR),
            quarantined: 0,
            ota_outcomes: 0,
            full: false,
        }
    }

    #[test]
    fn words_for_each_case() {
        let now = 1_700_000_000_000_000;
        let w = waiting(&gateway(Some(held(12, 34_000)), Some(now)), now);
        assert_eq!(w.text, "12 reports (34 KB) waiting, oldest from 2 h ago");
        assert!(w.notes.is_empty());
        assert_eq!(w.as_of, Some(Stamp::of(now)));
        let w = waiting(&gateway(Some(held(0, 0)), Some(now)), now);
        assert_eq!(w.text, "nothing waiting");
        let w = waiting(&gateway(None, Some(now)), now);
        assert_eq!(w.text, "not reported by this gateway's version");
        assert_eq!(w.as_of, None);
        assert_eq!(waiting(&gateway(None, None), now).text, "not reported yet");
        let trouble = Backlog {
            quarantined: 1,
            ota_outcomes: 2,
            full: true,
            ..held(0, 0)
        };
        let w = waiting(&gateway(Some(trouble), Some(now)), now);
        assert_eq!(w.text, "no report waiting");
        assert_eq!(
            w.notes,
            [
                "buffer full: collection stopped",
                "1 report kept aside, never to be uploaded",
                "2 update outcomes to send"
            ]
        );
        let one = waiting(&gateway(Some(held(1, 999)), Some(now)), now);
        assert_eq!(one.text, "1 report (999 B) waiting, oldest from 2 h ago");
    }

    #[test]
    fn sizes_and_ages_read_short() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(-5), "0 B");
        assert_eq!(bytes(1_000), "1.0 KB");
        assert_eq!(bytes(34_000), "34 KB");
        assert_eq!(bytes(999_700), "1.0 MB");
        assert_eq!(bytes(4_200_000), "4.2 MB");
        assert_eq!(bytes(i64::MAX), "9223 PB");
        assert_eq!(age(-HOUR), "0 s");
        assert_eq!(age(59_000_000), "59 s");
        assert_eq!(age(60_000_000), "1 min");
        assert_eq!(age(2 * HOUR + 59 * 60_000_000), "2 h");
        assert_eq!(age(47 * HOUR), "47 h");
        assert_eq!(age(72 * HOUR), "3 days");
        assert_eq!(age(i64::MAX), "106751991 days");
    }
}
