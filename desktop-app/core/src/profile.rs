//! One signed-in user's files, under the app's data directory:
//! `profiles/<key>/app.sqlite` (session, offline copy, claims, log) and
//! `profiles/<key>/buffer.sqlite` (the gateway library's report buffer), where the key is a
//! hash of the cloud's address and the email, so two people sharing a laptop (or one person
//! on two clouds) never mix their queues. `current` names the profile in use, so the app
//! opens offline straight into it.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gateway::buffer::{Budget, Buffer};
use sha2::{Digest, Sha256};

use crate::cloud::CloudApi;
use crate::error::CoreError;
use crate::store::Store;

/// The report buffer's disk budget: collection stops before the laptop's disk fills.
const BUFFER_BUDGET: u64 = 2 << 30;
const CURRENT: &str = "current";
const API_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct Profile {
    pub dir: PathBuf,
    pub store: Mutex<Store>,
    pub buffer: Arc<Mutex<Buffer>>,
    pub api: CloudApi,
}

/// The profile key of `email` on `cloud`.
pub fn key(cloud: &str, email: &str) -> String {
    let digest = Sha256::digest(format!(
        "{}\n{}",
        cloud.trim_end_matches('/'),
        email.trim().to_lowercase()
    ));
    hex::encode(&digest[..8])
}

impl Profile {
    /// Opens (creating) the profile `key` under `root`, its API client pointed at `cloud`.
    pub fn open(root: &Path, key: &str, cloud: &str) -> Result<Profile, CoreError> {
        let dir = root.join("profiles").join(key);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| CoreError::Invalid(format!("{}: {e}", dir.display())))?;
        // Only its user reads a profile: it holds a token and their PODs' data.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| CoreError::Invalid(format!("{}: {e}", dir.display())))?;
        let store = Store::open(&dir.join("app.sqlite"))?;
        let (buffer, opened) = Buffer::open(
            &dir.join("buffer.sqlite"),
            Budget {
                max_bytes: BUFFER_BUDGET,
            },
        )?;
        if let Some(recovery) = opened.recovery {
            tracing::warn!(reason = %recovery.reason, moved_to = %recovery.moved_to.display(),
                "the report buffer was damaged and has been recovered");
        }
        let api = CloudApi::new(cloud, API_TIMEOUT)?;
        let token = store.session()?.and_then(|s| s.token);
        api.set_token(token);
        Ok(Profile {
            dir,
            store: Mutex::new(store),
            buffer: Arc::new(Mutex::new(buffer)),
            api,
        })
    }

    /// The profile in use, if any: the one last signed in on this machine.
    pub fn open_current(root: &Path) -> Result<Option<Profile>, CoreError> {
        let Ok(key) = fs::read_to_string(root.join(CURRENT)) else {
            return Ok(None);
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let dir = root.join("profiles").join(key);
        if !dir.join("app.sqlite").exists() {
            return Ok(None);
        }
        let cloud = Store::open(&dir.join("app.sqlite"))?
            .session()?
            .map(|s| s.cloud)
            .unwrap_or_default();
        Profile::open(root, key, &cloud).map(Some)
    }

    pub fn make_current(root: &Path, key: Option<&str>) -> Result<(), CoreError> {
        let path = root.join(CURRENT);
        let written = match key {
            Some(key) => fs::write(&path, key),
            None => fs::remove_file(&path).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            }),
        };
        written.map_err(|e| CoreError::Invalid(format!("{}: {e}", path.display())))
    }

    pub fn store(&self) -> Result<std::sync::MutexGuard<'_, Store>, CoreError> {
        self.store
            .lock()
            .map_err(|_| CoreError::Invalid("the app's database lock is poisoned".into()))
    }
}
