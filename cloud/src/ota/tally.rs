//! What a released deployment's targets and actions add up to, wave by wave, and what the
//! deployment does next. Pure: the caller loads the rows and applies the decision.
//!
//! A target device is
//! - **confirmed** when one of its actions for the deployment has `device_confirmation`
//!   (its own version streams reported a new version after the attempt);
//! - **failed** when its latest action says `attempt_successful = false`, or says success
//!   but is still unconfirmed `confirm_within` after the attempt (it did not come back from
//!   reset);
//! - **waiting** otherwise.
//!
//! Failures older than the last resume do not halt the deployment again: resuming forgives
//! them until the device is tried anew.

use std::collections::HashMap;

use super::rollout::Plan;
use super::State;

/// A device a deployment targets, and its wave (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub device_id: i64,
    pub wave: i64,
}

/// What one action says, as far as counting goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub id: i64,
    pub device_id: i64,
    /// When the cloud received it.
    pub created_on: i64,
    /// When the agent says it tried.
    pub last_attempt_on: Option<i64>,
    pub successful: bool,
    pub confirmed: bool,
}

impl Attempt {
    /// When the attempt was made: the agent's time, never later than its arrival.
    fn tried_at(&self) -> i64 {
        self.last_attempt_on
            .map_or(self.created_on, |t| t.min(self.created_on))
    }
}

/// The counts of one wave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaveTally {
    pub size: u64,
    pub confirmed: u64,
    pub failed: u64,
    /// Failed by an action received after the last resume.
    pub failed_since_resume: u64,
}

impl WaveTally {
    /// Whether `percent` of the wave has confirmed (an empty wave has).
    fn reached(&self, percent: u32) -> bool {
        self.confirmed * 100 >= u64::from(percent) * self.size
    }

    /// Whether more than `percent` of the wave failed since the last resume.
    fn over(&self, percent: u32) -> bool {
        self.failed_since_resume * 100 > u64::from(percent) * self.size
    }
}

/// The counts of a deployment, wave by wave (index 0 is wave 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub waves: Vec<WaveTally>,
}

impl Tally {
    fn sum(&self, f: impl Fn(&WaveTally) -> u64) -> u64 {
        self.waves.iter().map(f).sum()
    }

    pub fn targeted(&self) -> u64 {
        self.sum(|w| w.size)
    }

    pub fn confirmed(&self) -> u64 {
        self.sum(|w| w.confirmed)
    }

    pub fn failed(&self) -> u64 {
        self.sum(|w| w.failed)
    }

    pub fn waiting(&self) -> u64 {
        self.targeted() - self.confirmed() - self.failed()
    }
}

/// What the deployment was at the time of counting, and when.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    pub now: i64,
    pub resumed_on: Option<i64>,
}

/// Where one target stands, by the rules above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Waiting,
    Confirmed,
    /// Failed; `since_resume` when the failing action came after the last resume.
    Failed {
        since_resume: bool,
    },
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Waiting => "waiting",
            Standing::Confirmed => "confirmed",
            Standing::Failed { .. } => "failed",
        }
    }
}

/// Each target, in the order given, with where it stands and its latest attempt.
pub fn standings<'a>(
    targets: &[Target],
    attempts: &'a [Attempt],
    plan: Option<&Plan>,
    at: Moment,
) -> Vec<(Target, Standing, Option<&'a Attempt>)> {
    let mut latest: HashMap<i64, &Attempt> = HashMap::new();
    let mut confirmed: HashMap<i64, bool> = HashMap::new();
    for a in attempts {
        if a.confirmed {
            confirmed.insert(a.device_id, true);
        }
        let newer = latest.get(&a.device_id).is_none_or(|l| a.id > l.id);
        if newer {
            latest.insert(a.device_id, a);
        }
    }
    let within = plan.and_then(Plan::confirm_within_micros);
    targets
        .iter()
        .map(|t| {
            let last = latest.get(&t.device_id).copied();
            let standing = match last {
                _ if confirmed.contains_key(&t.device_id) => Standing::Confirmed,
                None => Standing::Waiting,
                Some(last) => {
                    let timed_out = last.successful
                        && within.is_some_and(|w| last.tried_at().saturating_add(w) < at.now);
                    if !last.successful || timed_out {
                        Standing::Failed {
                            since_resume: at.resumed_on.is_none_or(|r| last.created_on > r),
                        }
                    } else {
                        Standing::Waiting
                    }
                }
            };
            (*t, standing, last)
        })
        .collect()
}

/// Counts `targets` by what `attempts` (the deployment's actions) say about them.
pub fn tally(targets: &[Target], attempts: &[Attempt], plan: Option<&Plan>, at: Moment) -> Tally {
    let waves = plan.map_or(1, Plan::wave_count);
    let mut out = Tally {
        waves: vec![WaveTally::default(); usize::try_from(waves).unwrap_or(1)],
    };
    for (t, standing, _) in standings(targets, attempts, plan, at) {
        let index = usize::try_from(t.wave - 1).unwrap_or(0);
        let Some(wave) = out.waves.get_mut(index) else {
            continue;
        };
        wave.size += 1;
        match standing {
            Standing::Waiting => {}
            Standing::Confirmed => wave.confirmed += 1,
            Standing::Failed { since_resume } => {
                wave.failed += 1;
                if since_resume {
                    wave.failed_since_resume += 1;
                }
            }
        }
    }
    out
}

/// What a deployment does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Every target confirmed.
    Complete,
    /// An open wave failed beyond the plan's limit.
    Halt(String),
    /// Open waves up to this one.
    Advance(i64),
    Stay,
}

/// The next step of a released deployment in `state` with waves open up to `current_wave`.
pub fn decide(state: State, plan: Option<&Plan>, current_wave: i64, t: &Tally) -> Decision {
    if !matches!(state, State::Running | State::Halted) {
        return Decision::Stay;
    }
    if t.targeted() > 0 && t.confirmed() == t.targeted() {
        return Decision::Complete;
    }
    let (State::Running, Some(plan)) = (state, plan) else {
        return Decision::Stay;
    };
    let count = plan.wave_count();
    let open = current_wave.clamp(1, count);
    for (i, wave) in t
        .waves
        .iter()
        .enumerate()
        .take(usize::try_from(open).unwrap_or(0))
    {
        if wave.over(plan.max_failure()) {
            let pct = wave.failed_since_resume * 100 / wave.size.max(1);
            return Decision::Halt(format!(
                "wave {} of {count}: {} of {} devices failed ({pct}%), more than the {}% allowed",
                i + 1,
                wave.failed_since_resume,
                wave.size,
                plan.max_failure()
            ));
        }
    }
    let mut next = open;
    while next < count {
        let reached = usize::try_from(next - 1)
            .ok()
            .and_then(|i| t.waves.get(i))
            .is_some_and(|w| w.reached(plan.advance_at()));
        if !reached {
            break;
        }
        next += 1;
    }
    if next != current_wave {
        Decision::Advance(next)
    } else {
        Decision::Stay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOUR: i64 = 3_600_000_000;

    fn plan() -> Plan {
        serde_json::from_value(json!({
            "waves": [34, 67, 100], "advance_at": 100, "max_failure": 40, "confirm_within": "1 h"
        }))
        .unwrap()
    }

    fn targets() -> Vec<Target> {
        (1..=6)
            .map(|d| Target {
                device_id: d,
                wave: (d + 1) / 2,
            })
            .collect()
    }

    fn attempt(id: i64, device_id: i64, at: i64, successful: bool, confirmed: bool) -> Attempt {
        Attempt {
            id,
            device_id,
            created_on: at,
            last_attempt_on: Some(at),
            successful,
            confirmed,
        }
    }

    fn at(now: i64) -> Moment {
        Moment {
            now,
            resumed_on: None,
        }
    }

    #[test]
    fn waves_open_as_devices_confirm() {
        let p = plan();
        let t = tally(&targets(), &[], Some(&p), at(0));
        assert_eq!((t.targeted(), t.waiting()), (6, 6));
        assert_eq!(decide(State::Running, Some(&p), 1, &t), Decision::Stay);
        let done = [attempt(1, 1, 0, true, true), attempt(2, 2, 0, true, true)];
        let t = tally(&targets(), &done, Some(&p), at(0));
        assert_eq!(
            decide(State::Running, Some(&p), 1, &t),
            Decision::Advance(2)
        );
        // A draft or a completed deployment does nothing.
        assert_eq!(decide(State::Draft, Some(&p), 1, &t), Decision::Stay);
        // Without a plan there is one wave and no halting.
        let bad = [
            attempt(1, 1, 0, false, false),
            attempt(2, 2, 0, false, false),
        ];
        let t = tally(&targets(), &bad, None, at(0));
        assert_eq!(t.failed(), 2);
        assert_eq!(decide(State::Running, None, 1, &t), Decision::Stay);
    }

    #[test]
    fn failures_and_time_outs_halt_and_resuming_forgives_them() {
        let p = plan();
        // Wave 2 (devices 3 and 4): one failed attempt is 50% > 40%.
        let acts = [
            attempt(1, 1, 0, true, true),
            attempt(2, 2, 0, true, true),
            attempt(3, 3, 10, false, false),
        ];
        let t = tally(&targets(), &acts, Some(&p), at(20));
        match decide(State::Running, Some(&p), 2, &t) {
            Decision::Halt(reason) => {
                assert!(reason.starts_with("wave 2 of 3: 1 of 2"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        // Resumed after the failure: it no longer counts, and the wave stays open.
        let resumed = Moment {
            now: 20,
            resumed_on: Some(15),
        };
        let t = tally(&targets(), &acts, Some(&p), resumed);
        assert_eq!(t.failed(), 1);
        assert_eq!(decide(State::Running, Some(&p), 2, &t), Decision::Stay);
        // A success not confirmed within the hour is a failure; a later success counts.
        let waiting = [attempt(4, 3, 0, true, false)];
        let t = tally(&targets(), &waiting, Some(&p), at(HOUR / 2));
        assert_eq!(t.failed(), 0);
        let t = tally(&targets(), &waiting, Some(&p), at(HOUR + 1));
        assert_eq!(t.failed(), 1);
        let retried = [
            attempt(3, 3, 10, false, false),
            attempt(5, 3, 12, true, false),
        ];
        let t = tally(&targets(), &retried, Some(&p), at(20));
        assert_eq!(t.failed(), 0);
    }

    #[test]
    fn each_target_stands_as_it_is_counted() {
        let p = plan();
        let acts = [
            attempt(1, 1, 0, true, true),
            attempt(2, 3, 10, false, false),
            attempt(3, 4, 0, true, false),
        ];
        let found = standings(&targets(), &acts, Some(&p), at(20));
        let of = |device: i64| {
            found
                .iter()
                .find(|(t, _, _)| t.device_id == device)
                .unwrap()
        };
        assert_eq!(of(1).1, Standing::Confirmed);
        assert_eq!(of(2).1, Standing::Waiting);
        assert!(of(2).2.is_none());
        assert_eq!(of(3).1, Standing::Failed { since_resume: true });
        assert_eq!(of(3).2.map(|a| a.id), Some(2));
        assert_eq!(of(4).1, Standing::Waiting);
        // The unconfirmed success times out after the hour, as the tally counts it.
        let late = standings(&targets(), &acts, Some(&p), at(HOUR + 1));
        assert_eq!(late[3].1.as_str(), "failed");
    }

    #[test]
    fn every_target_confirmed_completes_even_when_halted() {
        let acts: Vec<Attempt> = (1..=6).map(|d| attempt(d, d, 0, true, true)).collect();
        let t = tally(&targets(), &acts, Some(&plan()), at(0));
        assert_eq!(
            decide(State::Halted, Some(&plan()), 2, &t),
            Decision::Complete
        );
        // Without targets nothing completes by itself, and every (empty) wave opens.
        let none = tally(&[], &[], Some(&plan()), at(0));
        assert_eq!(
            decide(State::Running, Some(&plan()), 1, &none),
            Decision::Advance(3)
        );
    }
}
