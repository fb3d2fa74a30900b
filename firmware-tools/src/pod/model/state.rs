//! The saved form of a POD: its flash, as versioned JSON.
//!
//! Restoring a POD is a power cycle: RAM is rebuilt from flash and the POD boots (uptime 0,
//! `0x5C00`/`0x5C08`/`0x5C09` logged), so reading ids, acks, the persisted graph, config and
//! tags carry on. An RTC set before the save keeps counting from where it was.

use serde::{Deserialize, Serialize};

use super::bridge::Bridge;
use super::{Flash, PodModel, Ram, ResetCause};

const FORMAT: &str = "iotile-virtual-pod";
/// Bump when the layout of [`Flash`] changes incompatibly.
pub const STATE_VERSION: u32 = 1;

/// Why saved bytes cannot be a POD.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("not a virtual POD state: {0}")]
    Malformed(String),
    #[error("state format {found:?} version {version} is not {FORMAT:?} version {STATE_VERSION}")]
    WrongVersion { found: String, version: u32 },
    #[error("cannot read or write the POD state file {path}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Serialize)]
struct SavedRef<'a> {
    format: &'a str,
    version: u32,
    /// Uptime when saved, so the RTC can carry on.
    uptime: u32,
    flash: &'a Flash,
}

#[derive(Deserialize)]
struct Saved {
    format: String,
    version: u32,
    uptime: u32,
    flash: Flash,
}

#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

impl PodModel {
    /// The POD's flash as JSON (`{"format": "iotile-virtual-pod", "version": 1, …}`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let saved = SavedRef {
            format: FORMAT,
            version: STATE_VERSION,
            uptime: self.ram.uptime,
            flash: &self.flash,
        };
        // Serializing plain data to a Vec cannot fail.
        serde_json::to_vec(&saved).unwrap_or_default()
    }

    /// A POD restored from [`PodModel::to_bytes`], just powered on again.
    pub fn from_bytes(bytes: &[u8]) -> Result<PodModel, StateError> {
        let header: Header =
            serde_json::from_slice(bytes).map_err(|e| StateError::Malformed(e.to_string()))?;
        if header.format != FORMAT || header.version != STATE_VERSION {
            return Err(StateError::WrongVersion {
                found: header.format,
                version: header.version,
            });
        }
        let saved: Saved =
            serde_json::from_slice(bytes).map_err(|e| StateError::Malformed(e.to_string()))?;
        let _ = (saved.format, saved.version);
        let mut flash = saved.flash;
        if let Some(offset) = &mut flash.rtc_offset {
            *offset += i64::from(saved.uptime);
        }
        let mut model = PodModel {
            ram: Ram::fresh(&flash, Bridge::default(), ResetCause::PowerOn),
            flash,
        };
        model.boot(ResetCause::PowerOn);
        Ok(model)
    }
}
