//! Saving and loading a POD's state file: the only file I/O of the device model.
//!
//! Writes are atomic: the state goes to a temporary file next to the target, is synced, then
//! renamed over it, so a crash leaves either the old state or the new one, never half.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::model::{PodModel, StateError};

/// Writes the POD's state to `path` atomically.
pub fn save(model: &PodModel, path: &Path) -> Result<(), StateError> {
    write_bytes(path, &model.to_bytes())
}

/// Reads a POD saved by [`save`]; it boots as after a power cycle.
pub fn load(path: &Path) -> Result<PodModel, StateError> {
    let bytes = fs::read(path).map_err(|source| StateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    PodModel::from_bytes(&bytes)
}

/// Writes `bytes` to `path` atomically (temporary file, sync, rename).
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pod".to_string());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        // Make the rename itself durable.
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(io)
}

impl PodModel {
    /// [`save`] as a method.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        save(self, path)
    }

    /// [`load`] as a constructor.
    pub fn load(path: &Path) -> Result<PodModel, StateError> {
        load(path)
    }
}
