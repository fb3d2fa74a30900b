//! What the core tells the screen as things happen. The Tauri layer turns each call into a
//! typed event for the window; tests record them.

use crate::collect::CollectProgress;
use crate::nearby::NearbyPod;
use crate::sync::SyncProgress;
use crate::updates::UpdateProgress;

pub trait Events: Send + Sync {
    /// The nearby list changed (at most a few times a second).
    fn nearby(&self, _pods: &[NearbyPod]) {}
    /// A collection moved.
    fn collect_progress(&self, _progress: &CollectProgress) {}
    /// An update moved to its next step.
    fn update_progress(&self, _progress: &UpdateProgress) {}
    /// The cloud answered one more report of a sync pass.
    fn sync_progress(&self, _progress: &SyncProgress) {}
    /// Something waiting to go up, or the sync log, changed.
    fn sync_changed(&self) {}
}

/// Nobody listening (a command-line use).
impl Events for () {}
