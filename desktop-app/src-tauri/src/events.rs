//! The events the window hears, typed in the bindings: the core's [`Events`] emitted to
//! the front end.

use desktop_core::collect::CollectProgress;
use desktop_core::events::Events;
use desktop_core::nearby::NearbyPod;
use desktop_core::sync::SyncProgress;
use desktop_core::updates::UpdateProgress;
use serde::Serialize;
use tauri::AppHandle;
use tauri_specta::Event;

/// The nearby list, whenever it changes while scanning.
#[derive(Debug, Clone, Serialize, specta::Type, Event)]
pub struct NearbyChanged(pub Vec<NearbyPod>);

/// A collection moved.
#[derive(Debug, Clone, Serialize, specta::Type, Event)]
pub struct CollectProgressed(pub CollectProgress);

/// An update reached its next step.
#[derive(Debug, Clone, Serialize, specta::Type, Event)]
pub struct UpdateProgressed(pub UpdateProgress);

/// The cloud answered one more report of a sync pass.
#[derive(Debug, Clone, Serialize, specta::Type, Event)]
pub struct SyncProgressed(pub SyncProgress);

/// Something waiting to go up, or the sync log, changed.
#[derive(Debug, Clone, Serialize, specta::Type, Event)]
pub struct SyncChanged;

/// Sends the core's events to the window.
pub struct Emitter(pub AppHandle);

impl Events for Emitter {
    fn nearby(&self, pods: &[NearbyPod]) {
        emit(NearbyChanged(pods.to_vec()), &self.0);
    }
    fn collect_progress(&self, progress: &CollectProgress) {
        emit(CollectProgressed(*progress), &self.0);
    }
    fn update_progress(&self, progress: &UpdateProgress) {
        emit(UpdateProgressed(progress.clone()), &self.0);
    }
    fn sync_progress(&self, progress: &SyncProgress) {
        emit(SyncProgressed(*progress), &self.0);
    }
    fn sync_changed(&self) {
        emit(SyncChanged, &self.0);
    }
}

fn emit<E: Event + Serialize + Clone>(event: E, app: &AppHandle) {
    if let Err(error) = event.emit(app) {
        tracing::debug!(%error, event = E::NAME, "the window did not take an event");
    }
}
