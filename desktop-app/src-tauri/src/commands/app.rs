//! The app itself: what the About screen shows.

use serde::Serialize;
use tauri::{AppHandle, State};

use crate::data_dir::DataDir;

/// The app's version and where it keeps its data.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AppInfo {
    /// The version of this build, from the crate's `Cargo.toml`.
    pub version: String,
    /// The data directory, as an absolute path.
    pub data_dir: String,
}

#[tauri::command]
#[specta::specta]
pub fn app_info(app: AppHandle, data_dir: State<'_, DataDir>) -> AppInfo {
    AppInfo {
        version: app.package_info().version.to_string(),
        data_dir: data_dir.path().display().to_string(),
    }
}
