//! Staged rollouts (ours): a deployment may open to its targets in waves rather than all at
//! once, so a bad script reaches a few devices before it reaches every one.
//!
//! `{"waves": [5, 25, 100], "advance_at": 100, "max_failure": 20, "confirm_within": "1 h"}`:
//! - `waves`: cumulative percentages of the targets, increasing, ending at 100. Wave `k`
//!   (1-based) holds the targets from the previous boundary up to `round(p_k × n / 100)`;
//!   the first wave holds at least one device.
//! - `advance_at` (default 100): the next wave opens once this share of the current wave's
//!   devices has confirmed the update.
//! - `max_failure` (default 0): the deployment halts once the failed devices of an open wave
//!   are more than this share of that wave.
//! - `confirm_within` (optional): a device whose successful attempt is not confirmed by its
//!   version streams within this time counts as failed: it did not come back from reset.
//!
//! Which wave a device is in is decided once, at release, and never by insertion order: the
//! targets are ordered by the SHA-256 of the deployment id and the device id, so the early
//! waves are a fair sample and the same deployment always splits the same way.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most waves a plan may have.
pub const MAX_WAVES: usize = 20;
/// The longest `confirm_within` accepted: 30 days, in seconds.
pub const MAX_CONFIRM_SECS: i64 = 30 * 86_400;

/// A plan that cannot be used, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("waves must list 1 to {MAX_WAVES} cumulative percentages")]
    WaveCount,
    #[error("wave percentages must increase, each from 1 to 100, got {0:?}")]
    WaveOrder(Vec<u32>),
    #[error("the last wave must be 100 (every target), got {0}")]
    LastWave(u32),
    #[error("advance_at is a percentage from 1 to 100, got {0}")]
    AdvanceAt(u32),
    #[error("max_failure is a percentage from 0 to 100, got {0}")]
    MaxFailure(u32),
    #[error("confirm_within is a duration such as \"90 s\", \"30 min\", \"1 h\" or \"2 d\" (at most 30 d), got {0:?}")]
    Duration(String),
}

/// A checked rollout plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPlan", into = "RawPlan")]
pub struct Plan {
    waves: Vec<u32>,
    advance_at: u32,
    max_failure: u32,
    /// Seconds.
    confirm_within: Option<i64>,
}

/// The plan as written, before it is checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    waves: Vec<u32>,
    #[serde(default = "hundred")]
    advance_at: u32,
    #[serde(default)]
    max_failure: u32,
    #[serde(default)]
    confirm_within: Option<String>,
}

fn hundred() -> u32 {
    100
}

impl TryFrom<RawPlan> for Plan {
    type Error = PlanError;

    fn try_from(raw: RawPlan) -> Result<Plan, PlanError> {
        if raw.waves.is_empty() || raw.waves.len() > MAX_WAVES {
            return Err(PlanError::WaveCount);
        }
        let increasing = raw.waves.windows(2).all(|w| w[0] < w[1]);
        if !increasing || raw.waves.iter().any(|p| !(1..=100).contains(p)) {
            return Err(PlanError::WaveOrder(raw.waves));
        }
        match raw.waves.last() {
            Some(100) => {}
            Some(other) => return Err(PlanError::LastWave(*other)),
            None => return Err(PlanError::WaveCount),
        }
        if !(1..=100).contains(&raw.advance_at) {
            return Err(PlanError::AdvanceAt(raw.advance_at));
        }
        if raw.max_failure > 100 {
            return Err(PlanError::MaxFailure(raw.max_failure));
        }
        let confirm_within = raw
            .confirm_within
            .as_deref()
            .map(|text| parse_duration(text).ok_or_else(|| PlanError::Duration(text.into())))
            .transpose()?;
        Ok(Plan {
            waves: raw.waves,
            advance_at: raw.advance_at,
            max_failure: raw.max_failure,
            confirm_within,
        })
    }
}

impl From<Plan> for RawPlan {
    fn from(plan: Plan) -> RawPlan {
        RawPlan {
            waves: plan.waves,
            advance_at: plan.advance_at,
            max_failure: plan.max_failure,
            confirm_within: plan.confirm_within.map(format_duration),
        }
    }
}

impl Plan {
    /// How many waves the plan has.
    pub fn wave_count(&self) -> i64 {
        i64::try_from(self.waves.len()).unwrap_or(i64::MAX)
    }

    pub fn advance_at(&self) -> u32 {
        self.advance_at
    }

    pub fn max_failure(&self) -> u32 {
        self.max_failure
    }

    /// `confirm_within` in microseconds, the unit times are stored in.
    pub fn confirm_within_micros(&self) -> Option<i64> {
        self.confirm_within.map(|s| s.saturating_mul(1_000_000))
    }

    /// How many of `n` targets the waves hold together, wave by wave (the last is `n`).
    pub fn boundaries(&self, n: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .waves
            .iter()
            .map(|p| {
                // Rounded to the nearest device, halves up.
                let p = usize::try_from(*p).unwrap_or(100);
                (p.saturating_mul(n).saturating_mul(2) + 100) / 200
            })
            .collect();
        if let Some(first) = out.first_mut() {
            *first = (*first).max(n.min(1));
        }
        let mut floor = 0;
        for b in &mut out {
            *b = (*b).clamp(floor, n);
            floor = *b;
        }
        if let Some(last) = out.last_mut() {
            *last = n;
        }
        out
    }
}

/// The wave (1-based) of each device of a deployment released with `plan`; every device is
/// in wave 1 without a plan. The order of `devices` does not matter.
pub fn assign_waves(plan: Option<&Plan>, deployment_id: i64, devices: &[i64]) -> Vec<(i64, i64)> {
    let mut ordered: Vec<([u8; 32], i64)> = devices
        .iter()
        .map(|d| {
            let digest = Sha256::digest(format!("{deployment_id}:{d}").as_bytes());
            (digest.into(), *d)
        })
        .collect();
    ordered.sort();
    let boundaries = plan.map_or_else(|| vec![devices.len()], |p| p.boundaries(devices.len()));
    ordered
        .iter()
        .enumerate()
        .map(|(i, (_, device))| {
            let wave = boundaries.iter().position(|b| i < *b).unwrap_or(0) + 1;
            (*device, i64::try_from(wave).unwrap_or(1))
        })
        .collect()
}

/// Reads `90`, `90 s`, `30 min`, `1 h`, `2 d` (and `sec`, `m`, `hour(s)`, `day(s)`, …) as
/// seconds, from 1 s to 30 days.
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok()?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    };
    let seconds = number.checked_mul(scale)?;
    (1..=MAX_CONFIRM_SECS).contains(&seconds).then_some(seconds)
}

/// Seconds in the largest unit that divides them: `3600` → `1 h`.
pub fn format_duration(seconds: i64) -> String {
    let (value, unit) = [(86_400, "d"), (3_600, "h"), (60, "min")]
        .iter()
        .find(|(scale, _)| seconds % scale == 0 && seconds != 0)
        .map_or((seconds, "s"), |(scale, unit)| (seconds / scale, *unit));
    format!("{value} {unit}")
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(v: serde_json::Value) -> Result<Plan, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn plans_are_checked_and_printed_normalised() {
        let p = plan(json!({"waves": [5, 25, 100], "max_failure": 20, "confirm_within": "60min"}))
            .unwrap();
        assert_eq!(p.advance_at(), 100);
        assert_eq!(p.confirm_within_micros(), Some(3_600_000_000));
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"waves": [5, 25, 100], "advance_at": 100, "max_failure": 20, "confirm_within": "1 h"})
        );
        for bad in [
            json!({"waves": []}),
            json!({"waves": [50, 40, 100]}),
            json!({"waves": [0, 100]}),
            json!({"waves": [50]}),
            json!({"waves": [100], "advance_at": 0}),
            json!({"waves": [100], "max_failure": 101}),
            json!({"waves": [100], "confirm_within": "soon"}),
            json!({"waves": [100], "confirm_within": "0 s"}),
            json!({"waves": [100], "surprise": 1}),
            json!({"waves": [1.5, 100]}),
        ] {
            assert!(plan(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration(" 2 days "), Some(172_800));
        assert_eq!(parse_duration("1 h"), Some(3_600));
        assert_eq!(parse_duration("31 d"), None);
        assert_eq!(parse_duration("-1 s"), None);
        assert_eq!(parse_duration("99999999999999999999 s"), None);
        assert_eq!(format_duration(90), "90 s");
        assert_eq!(format_duration(5_400), "90 min");
        assert_eq!(format_duration(172_800), "2 d");
    }

    #[test]
    fn waves_split_the_targets() {
        let p = plan(json!({"waves": [34, 67, 100]})).unwrap();
        assert_eq!(p.boundaries(6), vec![2, 4, 6]);
        let small = plan(json!({"waves": [5, 25, 100]})).unwrap();
        assert_eq!(small.boundaries(6), vec![1, 2, 6]);
        assert_eq!(small.boundaries(0), vec![0, 0, 0]);
        assert_eq!(small.boundaries(100), vec![5, 25, 100]);

        let devices: Vec<i64> = (1..=6).collect();
        let waves = assign_waves(Some(&p), 7, &devices);
        let count = |w| waves.iter().filter(|(_, x)| *x == w).count();
        assert_eq!((count(1), count(2), count(3)), (2, 2, 2));
        // The same deployment always splits the same way, whatever the input order.
        let mut reversed = devices.clone();
        reversed.reverse();
        let mut again = assign_waves(Some(&p), 7, &reversed);
        let mut first = waves.clone();
        first.sort();
        again.sort();
        assert_eq!(first, again);
        // Without a plan, every device is in wave 1.
        assert!(assign_waves(None, 7, &devices).iter().all(|(_, w)| *w == 1));
    }
}
