//! What waits to go up, what went up and what failed, and syncing now.

use std::sync::Arc;

use desktop_core::store::LogEntry;
use desktop_core::sync::{SyncSummary, Waiting};
use desktop_core::{ClaimRow, Desktop};
use tauri::State;

use crate::Error;

#[tauri::command]
#[specta::specta]
pub fn waiting(desktop: State<'_, Arc<Desktop>>) -> Result<Waiting, Error> {
    Ok(desktop.waiting()?)
}

/// Claims made on this laptop, newest first, with what became of them.
#[tauri::command]
#[specta::specta]
pub fn claims(desktop: State<'_, Arc<Desktop>>) -> Result<Vec<ClaimRow>, Error> {
    Ok(desktop.claims()?)
}

/// The sync log, newest first.
#[tauri::command]
#[specta::specta]
pub fn sync_log(desktop: State<'_, Arc<Desktop>>, limit: u32) -> Result<Vec<LogEntry>, Error> {
    Ok(desktop.log(limit)?)
}

/// One sync pass now (the app also syncs by itself).
#[tauri::command]
#[specta::specta]
pub async fn sync_now(desktop: State<'_, Arc<Desktop>>) -> Result<SyncSummary, Error> {
    Ok(desktop.sync_now().await?)
}
