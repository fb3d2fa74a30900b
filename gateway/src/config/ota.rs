//! `[ota]`: how the gateway learns of deployments and updates PODs.

use serde::Deserialize;
use sync_protocol::ota::ReleasePublicKey;

use super::Interval;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ota {
    /// Off: the gateway neither asks for deployments nor updates PODs.
    pub enabled: bool,
    /// How often the cloud is asked whether the deployments changed (an unchanged answer is
    /// an empty 304).
    pub poll: Interval,
    /// The most updates one adapter runs at once. 0: one less than its connection slots (at
    /// least 1), so collection always keeps a slot.
    pub max_per_adapter: usize,
    /// How long a POD may take to come back after the reset that ends its update.
    pub come_back_within: Interval,
    /// How long a script may run on a POD.
    pub script_limit: Interval,
    /// Release keys (`rk--…`) this gateway trusts. Empty: the org's current keys as the
    /// cloud lists them. When set, only these count and unsigned scripts never run.
    pub release_keys: Vec<ReleasePublicKey>,
}

impl Default for Ota {
    fn default() -> Self {
        Ota {
            enabled: true,
            poll: Interval(std::time::Duration::from_secs(300)),
            max_per_adapter: 0,
            come_back_within: Interval(std::time::Duration::from_secs(120)),
            script_limit: Interval(std::time::Duration::from_secs(600)),
            release_keys: Vec::new(),
        }
    }
}

impl Ota {
    /// Concurrent updates on an adapter with `slots` connections.
    pub fn updates_per_adapter(&self, slots: usize) -> usize {
        match self.max_per_adapter {
            0 => slots.saturating_sub(1).max(1),
            n => n.min(slots.max(1)),
        }
    }
}
