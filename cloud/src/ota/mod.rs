//! Deployments of update scripts, beyond the storage and HTTP edges: the decisions that are
//! the same whoever asks (a user, a gateway, the ingest worker).
//!
//! - [`rollout`]: the staged plan a deployment may carry (cumulative waves, when to advance,
//!   when to halt, how long a device has to come back) and which wave each device is in;
//! - [`tally`]: what the targets' actions add up to, and what the deployment does next
//!   (complete, halt, open the next wave);
//! - [`selection`]: a deployment's criteria against the versions a device last reported;
//! - [`advance`]: applies a tally's decision to a stored deployment. It runs whenever an
//!   action or a confirmation arrives and whenever a deployment is read, so time-outs take
//!   effect without a timer.
//!
//! A deployment goes `draft` → `running` (released: its targets frozen) → `completed`, and
//! may be `halted` (by hand or by its rollout) and resumed in between.

pub mod advance;
pub mod rollout;
pub mod selection;
pub mod tally;

use std::fmt;

/// Where a deployment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not released: no targets, offered to no one.
    Draft,
    /// Released: its open waves are offered.
    Running,
    /// Released but offered to no one until resumed.
    Halted,
    /// Done, by hand or because every target confirmed the update.
    Completed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Running => "running",
            State::Halted => "halted",
            State::Completed => "completed",
        }
    }

    /// The stored text; anything unknown reads as a draft, which offers nothing.
    pub fn parse(text: &str) -> State {
        match text {
            "running" => State::Running,
            "halted" => State::Halted,
            "completed" => State::Completed,
            _ => State::Draft,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
