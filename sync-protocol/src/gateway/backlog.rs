//! What a gateway still holds for the cloud, carried by each [`SyncBatch`](super::SyncBatch)
//! so that the cloud can show it without asking the gateway.
//!
//! Compatibility: the batch field is optional and left out when absent, so a gateway that
//! predates it sends batches this protocol accepts, and the cloud reads their backlog as
//! unknown. A cloud that predates it refuses a batch carrying it (the batch denies unknown
//! fields, answering 400 "unknown field `backlog`"); a gateway seeing that answer sends the
//! batch again without the field ([`REFUSED_BY_OLD_CLOUD`]). Unlike the batch, the backlog
//! ignores fields it does not know: they are informational, so a later gateway may add some
//! without its reports being refused.

use serde::{Deserialize, Serialize};

use super::batch::BatchError;

/// Text that an older cloud's refusal of a batch carrying a backlog contains.
pub const REFUSED_BY_OLD_CLOUD: &str = "unknown field `backlog`";

/// A gateway's backlog after the batch that carries it is accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    /// Reports the cloud has not confirmed (not yet sent, or sent and not yet answered),
    /// not counting the batch's own.
    pub reports: u64,
    /// Their raw bytes.
    pub raw_bytes: u64,
    /// The readings in them.
    pub readings: u64,
    /// When the gateway received the oldest of them from its POD: UTC unix microseconds.
    /// Absent when `reports` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_received_at_us: Option<i64>,
    /// Reports kept aside because they did not verify or the cloud rejected them: they
    /// will never reach the cloud without someone acting.
    pub quarantined: u64,
    /// Outcomes of POD updates (deployment actions) the cloud does not have yet.
    pub ota_outcomes: u64,
    /// The buffer is over its disk budget, so the gateway has stopped collecting.
    pub buffer_full: bool,
}

/// Counts above this do not fit a signed 64-bit column; no real gateway gets near it.
const MAX_COUNT: u64 = i64::MAX as u64;

impl Backlog {
    /// Checks that the figures are coherent and storable.
    pub fn check(&self) -> Result<(), BatchError> {
        let bad = |why: &str| Err(BatchError::Backlog(why.into()));
        if [
            self.reports,
            self.raw_bytes,
            self.readings,
            self.quarantined,
            self.ota_outcomes,
        ]
        .iter()
        .any(|&n| n > MAX_COUNT)
        {
            return bad("a count is larger than 2^63 - 1");
        }
        match (self.reports, self.oldest_received_at_us) {
            (0, Some(_)) => bad("no report is waiting but the oldest one has a time"),
            (1.., None) => bad("reports are waiting but the oldest one has no time"),
            (_, Some(t)) if t < 0 => bad("the oldest report's time is before 1970"),
            _ if self.reports == 0 && (self.raw_bytes != 0 || self.readings != 0) => {
                bad("no report is waiting but bytes or readings are")
            }
            _ => Ok(()),
        }
    }
}
