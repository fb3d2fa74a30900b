//! Where the app keeps its data: `$IOTILE_DESKTOP_DATA` when set (tests and portable
//! installs), else the platform's app data directory for our bundle identifier
//! (`~/.local/share/io.iotile.desktop` on Linux). Made at start so every later write can
//! assume it exists.

use std::path::{Path, PathBuf};

use tauri::{AppHandle, Manager, Runtime};

use crate::error::{Code, Error};

/// The variable that overrides the data directory.
pub const ENV: &str = "IOTILE_DESKTOP_DATA";

/// The app's data directory, kept in Tauri's state.
#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// Finds the directory and makes it if it is missing.
    pub fn resolve<R: Runtime>(app: &AppHandle<R>) -> Result<Self, Error> {
        let path = match std::env::var_os(ENV).filter(|v| !v.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => app.path().app_data_dir().map_err(|e| {
                Error::new(Code::DataDir, format!("no app data directory here: {e}"))
            })?,
        };
        std::fs::create_dir_all(&path).map_err(|e| {
            Error::new(
                Code::DataDir,
                format!("cannot make the data directory {}: {e}", path.display()),
            )
        })?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}
