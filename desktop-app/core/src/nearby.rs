//! Nearby PODs: the latest advertisement of each POD heard, joined with what the offline
//! copy knows of it (claimed, into which project) and what the claims queue holds.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gateway::transport::Seen;
use serde::Serialize;
use sync_protocol::bgapi::BdAddr;
use sync_protocol::ids::DeviceId;

use crate::store::{ClaimState, Store, StoreError};

/// A POD not heard for this long drops off the list.
pub const GONE_AFTER: Duration = Duration::from_secs(30);

/// What the app knows of a POD's claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ClaimView {
    /// Not in the copy: unclaimed, or claimed where this user cannot see it.
    Unknown,
    Claimed {
        project: Option<String>,
        org: Option<String>,
    },
    /// Claimed here, waiting for the cloud.
    Pending { project: String },
    /// The cloud refused the last claim made here.
    Refused { project: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NearbyPod {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub device: u64,
    /// `d--0000-0000-0000-00a1`.
    pub slug: String,
    pub label: Option<String>,
    pub rssi: i16,
    pub has_data: bool,
    /// Someone else is connected to it.
    pub busy: bool,
    pub claim: ClaimView,
    /// Seconds since it was last heard.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub heard_secs_ago: u64,
}

/// The radio's view: the last advertisement of each POD.
#[derive(Default)]
pub struct Heard {
    pods: HashMap<u32, (Seen, Instant)>,
}

impl Heard {
    pub fn hear(&mut self, seen: Seen) {
        self.pods.insert(seen.device_id, (seen, Instant::now()));
    }

    pub fn address(&self, device: u32) -> Option<BdAddr> {
        self.pods.get(&device).map(|(seen, _)| seen.address)
    }

    pub fn forget_gone(&mut self) {
        self.pods.retain(|_, (_, at)| at.elapsed() < GONE_AFTER);
    }

    pub fn clear(&mut self) {
        self.pods.clear();
    }

    /// The list as shown, strongest signal first.
    pub fn list(&self, store: Option<&Store>) -> Result<Vec<NearbyPod>, StoreError> {
        let mut pods = Vec::with_capacity(self.pods.len());
        for (seen, at) in self.pods.values() {
            let device = u64::from(seen.device_id);
            let copied = match store {
                Some(store) => store.device(device)?,
                None => None,
            };
            let last_claim = match store {
                Some(store) => store.last_claim(device)?,
                None => None,
            };
            let claim = match (last_claim, &copied) {
                (Some(c), _) if c.state == ClaimState::Pending => ClaimView::Pending {
                    project: project_name(store, &c.project)?,
                },
                (Some(c), None) if c.state == ClaimState::Refused => ClaimView::Refused {
                    project: project_name(store, &c.project)?,
                    reason: c.reason.unwrap_or_default(),
                },
                (_, Some(d)) if d.project.is_some() => ClaimView::Claimed {
                    project: match &d.project {
                        Some(p) => Some(project_name(store, p)?),
                        None => None,
                    },
                    org: d.org.clone(),
                },
                _ => ClaimView::Unknown,
            };
            pods.push(NearbyPod {
                device,
                slug: slug(device),
                label: copied.map(|d| d.label).filter(|l| !l.is_empty()),
                rssi: seen.rssi,
                has_data: seen.has_data,
                busy: seen.user_connected,
                claim,
                heard_secs_ago: at.elapsed().as_secs(),
            });
        }
        pods.sort_by(|a, b| b.rssi.cmp(&a.rssi).then(a.device.cmp(&b.device)));
        Ok(pods)
    }
}

/// A project's name from the copy, or its id when the copy does not hold it.
fn project_name(store: Option<&Store>, id: &str) -> Result<String, StoreError> {
    Ok(match store {
        Some(store) => store
            .project(id)?
            .map_or_else(|| id.to_string(), |p| p.name),
        None => id.to_string(),
    })
}

pub fn slug(device: u64) -> String {
    DeviceId::new(device).map_or_else(|_| format!("{device:#x}"), |d| d.to_string())
}
