//! PODs nearby, and what a technician does to one: claim, collect, update, look at its
//! readings. A POD is named by the 32-bit id it advertises.

use std::sync::Arc;

use desktop_core::collect::Collected;
use desktop_core::nearby::NearbyPod;
use desktop_core::readings::DeviceReadings;
use desktop_core::store::Claim;
use desktop_core::updates::{UpdateOffer, UpdateResult};
use desktop_core::Desktop;
use tauri::State;

use crate::Error;

/// Starts listening for PODs; the list then comes as `NearbyChanged` events.
#[tauri::command]
#[specta::specta]
pub async fn start_scan(desktop: State<'_, Arc<Desktop>>) -> Result<(), Error> {
    Ok(desktop.inner().start_scan().await?)
}

#[tauri::command]
#[specta::specta]
pub fn stop_scan(desktop: State<'_, Arc<Desktop>>) {
    desktop.stop_scan();
}

/// The PODs heard lately, strongest signal first.
#[tauri::command]
#[specta::specta]
pub fn nearby(desktop: State<'_, Arc<Desktop>>) -> Result<Vec<NearbyPod>, Error> {
    Ok(desktop.nearby()?)
}

/// Queues a claim of the POD into a project of the copy; it goes up with the next sync.
#[tauri::command]
#[specta::specta]
pub fn claim(
    desktop: State<'_, Arc<Desktop>>,
    device: u32,
    project: String,
) -> Result<Claim, Error> {
    Ok(desktop.claim(u64::from(device), &project)?)
}

/// Collects the POD's readings; progress comes as `CollectProgressed` events.
#[tauri::command]
#[specta::specta]
pub async fn collect(desktop: State<'_, Arc<Desktop>>, device: u32) -> Result<Collected, Error> {
    Ok(desktop.collect(u64::from(device)).await?)
}

/// The deployments the copy offers the POD.
#[tauri::command]
#[specta::specta]
pub fn update_offers(
    desktop: State<'_, Arc<Desktop>>,
    device: u32,
) -> Result<Vec<UpdateOffer>, Error> {
    Ok(desktop.update_offers(u64::from(device))?)
}

/// Updates the POD; each step comes as an `UpdateProgressed` event.
#[tauri::command]
#[specta::specta]
pub async fn update(desktop: State<'_, Arc<Desktop>>, device: u32) -> Result<UpdateResult, Error> {
    Ok(desktop.update(u64::from(device)).await?)
}

/// The POD's recent readings from what this laptop collected.
#[tauri::command]
#[specta::specta]
pub fn readings(desktop: State<'_, Arc<Desktop>>, device: u32) -> Result<DeviceReadings, Error> {
    Ok(desktop.readings(u64::from(device))?)
}
