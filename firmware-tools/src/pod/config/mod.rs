//! What a virtual POD is: its identity, the data it produces and how fast its clock runs.
//!
//! One `[[pod]]` table per POD in a TOML file (used by `iotile-fw pod run --config pods.toml`):
//!
//! ```toml
//! [[pod]]
//! device_id = 0x1234
//! address = "C0:00:00:00:12:34"      # default: a random static address made from the id
//! os = { tag = 2050, version = "1.0" }
//! app = { tag = 2049, version = "1.0" }
//! user_key = "ac1de483…"             # 64 hex digits; reports are then user-key signed
//! clock_speed = 60.0                 # device seconds per real second
//! state_file = "pods/1234.json"
//!
//! [[pod.outputs]]
//! stream = "output 1"                # or 0x5001, or "5001"
//! period = 10
//! generator = { kind = "counter", start = 0, step = 1 }
//! ```
//!
//! Every field has a default ([`PodConfig::default`]); [`PodConfig::validate`] says exactly
//! what is wrong with a value.
//!
//! Submodules: `stream_code` [`StreamCode`], a stream written as a number or text.

mod stream_code;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sync_protocol::auth::RootKey;
use sync_protocol::stream::DataStream;
use sync_protocol::version::TagVersion;

use super::advertising::AdvertisementFormat;
use crate::radio::BdAddr;

pub use stream_code::StreamCode;

/// Storage area size of a real POD, in readings.
pub const STORAGE_READINGS: usize = 16_128;
/// Streaming area size of a real POD, in readings.
pub const STREAMING_READINGS: usize = 48_896;
/// The largest report a streamer builds unless the comm side says otherwise (RPC `0x0A05`).
pub const DEFAULT_MAX_REPORT_SIZE: u32 = 196_608;

/// One virtual POD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PodConfig {
    /// The IOTile device id (up to 48 bits; reports and RPC `0x1008` carry its low 32 bits).
    pub device_id: u64,
    /// Controller name returned by RPC `0x0004` (6 characters, space padded). coretools
    /// picks its controller proxy by it: `NRF52 ` (real PODs) or `refcn1`.
    pub name: String,
    /// The BLE GAP device name.
    pub gap_name: String,
    /// Hardware string returned by RPC `0x0002` (at most 10 bytes).
    pub hardware: String,
    /// The BLE address; default `C0:…` followed by the low 40 bits of the device id.
    pub address: Option<String>,
    pub os: TagConfig,
    pub app: TagConfig,
    /// Controller firmware version reported by RPC `0x0004`, `major.minor.patch`.
    pub firmware_version: String,
    /// 64 hex digits: the device's user key. With it, streamer reports are signed with the
    /// user key and encrypted; without it they are hash-only.
    pub user_key: Option<String>,
    /// Data the POD's application produces on a schedule.
    pub outputs: Vec<OutputConfig>,
    /// The latest reading of this stream is advertised as the broadcast reading.
    pub broadcast_stream: Option<StreamCode>,
    /// Battery voltage in millivolts (graph input `0x3800` every 10 s, advertisements).
    pub battery_mv: u32,
    /// Below this the POD advertises "low voltage".
    pub low_voltage_mv: u32,
    /// Signal strength a scanner measures.
    pub rssi: i16,
    /// Advertisement format: `v2` (default, one packet) or `v1` (advertisement + scan response).
    pub advertisement: AdvertisementFormat,
    /// Device seconds per real second (1.0 = real time).
    pub clock_speed: f64,
    /// Where the POD keeps its state across restarts (none: nothing is saved).
    pub state_file: Option<PathBuf>,
    /// Whether the POD has a real-time clock: a clock set by RPC `0x1010` survives resets.
    pub has_rtc: bool,
    /// The factory sensor graph triggers streamer 0 when a host opens streaming
    /// (`on connect { trigger streamer 0; }`, a pattern of real POD sensor graphs). Off by
    /// default: then nothing is sent until a host triggers a streamer (RPC `0x2010`).
    pub trigger_on_connect: bool,
    /// Storage area size in readings (buffered streams).
    pub storage_capacity: usize,
    /// Streaming area size in readings (output streams).
    pub streaming_capacity: usize,
    /// Maximum report size after every reset, in bytes.
    pub max_report_size: u32,
    /// Seed of the `random` generators (default: the device id).
    pub random_seed: Option<u64>,
}

/// An OS or app tag with its `major.minor` version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagConfig {
    pub tag: u32,
    #[serde(default = "default_version")]
    pub version: String,
}

/// A stream produced on a schedule by the POD's application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// A stored stream: an output (`0x5nnn`, streaming area) or a buffered stream
    /// (`0x0nnn`, storage area).
    pub stream: StreamCode,
    /// Seconds of device uptime between readings; a reading is made whenever the uptime is a
    /// multiple of it.
    pub period: u32,
    #[serde(default)]
    pub generator: Generator,
}

/// How an output's values are made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Generator {
    /// `start`, `start + step`, … (wrapping), continued across resets.
    Counter {
        #[serde(default)]
        start: u32,
        #[serde(default = "one")]
        step: u32,
    },
    /// Always `value`.
    Constant { value: u32 },
    /// `center + amplitude · sin(2π · uptime / period)`, rounded, as a two's complement u32.
    Sine {
        #[serde(default)]
        center: i64,
        amplitude: i64,
        period: u32,
    },
    /// Uniform in `min..=max`, from a seeded generator (reproducible).
    Random { min: u32, max: u32 },
}

/// Several PODs, as `[[pod]]` tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodsFile {
    #[serde(default)]
    pub pod: Vec<PodConfig>,
}

/// What is wrong with a POD configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the POD configuration: {0}")]
    Toml(String),
    #[error("device_id {0:#x} does not fit in 48 bits")]
    DeviceIdTooLarge(u64),
    #[error("device_id 0 is not a device")]
    DeviceIdZero,
    #[error("name {0:?} must be at most 6 ASCII characters (it is space padded to 6)")]
    BadName(String),
    #[error("hardware {0:?} must be at most 10 bytes")]
    HardwareTooLong(String),
    #[error("address {0:?} is not a BLE address like C0:11:22:33:44:55")]
    BadAddress(String),
    #[error("{which} tag {tag} version {version:?}: {why}")]
    BadTag {
        which: &'static str,
        tag: u32,
        version: String,
        why: &'static str,
    },
    #[error("firmware_version {0:?} is not major.minor.patch with each part 0..=255")]
    BadFirmwareVersion(String),
    #[error("user_key: {0}")]
    BadUserKey(String),
    #[error("output {stream:#06x}: only buffered (0x0nnn) and output (0x5nnn) streams are stored")]
    OutputNotStored { stream: u16 },
    #[error("output {stream:#06x}: the period must be at least 1 second")]
    OutputPeriodZero { stream: u16 },
    #[error("output {stream:#06x}: {why}")]
    BadGenerator { stream: u16, why: &'static str },
    #[error("clock_speed {0} must be a finite number above 0")]
    BadClockSpeed(f64),
    #[error(
        "{which} must hold at least 257 readings (the ring erases 256 at a time), got {value}"
    )]
    CapacityTooSmall { which: &'static str, value: usize },
    #[error("max_report_size {0} cannot hold one reading (at least 60 bytes)")]
    MaxReportTooSmall(u32),
    #[error("two PODs use device id {0:#x}")]
    DuplicateDeviceId(u64),
    #[error("two PODs use address {0}")]
    DuplicateAddress(String),
}

impl Default for PodConfig {
    fn default() -> Self {
        PodConfig {
            device_id: 1,
            name: "NRF52 ".to_string(),
            gap_name: "V_IOTile ".to_string(),
            hardware: "btc1_v3".to_string(),
            address: None,
            os: TagConfig {
                tag: 2050,
                version: default_version(),
            },
            app: TagConfig {
                tag: 2049,
                version: default_version(),
            },
            firmware_version: "1.0.0".to_string(),
            user_key: None,
            outputs: vec![OutputConfig {
                stream: StreamCode(0x5001),
                period: 10,
                generator: Generator::default(),
            }],
            broadcast_stream: None,
            battery_mv: 3000,
            low_voltage_mv: 2200,
            rssi: -60,
            advertisement: AdvertisementFormat::default(),
            clock_speed: 1.0,
            state_file: None,
            has_rtc: true,
            trigger_on_connect: false,
            storage_capacity: STORAGE_READINGS,
            streaming_capacity: STREAMING_READINGS,
            max_report_size: DEFAULT_MAX_REPORT_SIZE,
            random_seed: None,
        }
    }
}

impl Default for Generator {
    fn default() -> Self {
        Generator::Counter { start: 0, step: 1 }
    }
}

impl PodConfig {
    /// A default POD with this device id.
    pub fn with_device_id(device_id: u64) -> Self {
        PodConfig {
            device_id,
            ..PodConfig::default()
        }
    }

    /// Reads one POD from TOML (the fields of a `[[pod]]` table) and validates it.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config: PodConfig =
            toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field; the error names the field and what is expected.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.device_id == 0 {
            return Err(ConfigError::DeviceIdZero);
        }
        if self.device_id >= 1 << 48 {
            return Err(ConfigError::DeviceIdTooLarge(self.device_id));
        }
        self.name_bytes()?;
        if self.hardware.len() > 10 {
            return Err(ConfigError::HardwareTooLong(self.hardware.clone()));
        }
        self.bd_addr()?;
        self.os_tag()?;
        self.app_tag()?;
        self.firmware_triple()?;
        self.root_key()?;
        for output in &self.outputs {
            output.validate()?;
        }
        if !(self.clock_speed.is_finite() && self.clock_speed > 0.0) {
            return Err(ConfigError::BadClockSpeed(self.clock_speed));
        }
        for (which, value) in [
            ("storage_capacity", self.storage_capacity),
            ("streaming_capacity", self.streaming_capacity),
        ] {
            if value < 257 {
                return Err(ConfigError::CapacityTooSmall { which, value });
            }
        }
        if self.max_report_size < 60 {
            return Err(ConfigError::MaxReportTooSmall(self.max_report_size));
        }
        Ok(())
    }

    /// The controller name as the 6 bytes RPC `0x0004` returns.
    pub fn name_bytes(&self) -> Result<[u8; 6], ConfigError> {
        if self.name.len() > 6 || !self.name.is_ascii() {
            return Err(ConfigError::BadName(self.name.clone()));
        }
        let mut out = [b' '; 6];
        out[..self.name.len()].copy_from_slice(self.name.as_bytes());
        Ok(out)
    }

    /// The configured address, or the default made from the device id.
    pub fn bd_addr(&self) -> Result<BdAddr, ConfigError> {
        match &self.address {
            Some(text) => text
                .parse::<BdAddr>()
                .map_err(|_| ConfigError::BadAddress(text.clone())),
            None => Ok(default_address(self.device_id)),
        }
    }

    pub fn os_tag(&self) -> Result<TagVersion, ConfigError> {
        self.os.resolve("os")
    }

    pub fn app_tag(&self) -> Result<TagVersion, ConfigError> {
        self.app.resolve("app")
    }

    /// The firmware version as `(major, minor, patch)`.
    pub fn firmware_triple(&self) -> Result<(u8, u8, u8), ConfigError> {
        parse_triple(&self.firmware_version)
            .ok_or_else(|| ConfigError::BadFirmwareVersion(self.firmware_version.clone()))
    }

    /// The user key, if one is configured.
    pub fn root_key(&self) -> Result<Option<RootKey>, ConfigError> {
        self.user_key
            .as_deref()
            .map(|hex| RootKey::from_hex(hex).map_err(|e| ConfigError::BadUserKey(e.to_string())))
            .transpose()
    }
}

impl TagConfig {
    fn resolve(&self, which: &'static str) -> Result<TagVersion, ConfigError> {
        let bad = |why| ConfigError::BadTag {
            which,
            tag: self.tag,
            version: self.version.clone(),
            why,
        };
        let (major, minor) = self
            .version
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse::<u8>().ok()?, b.parse::<u8>().ok()?)))
            .ok_or_else(|| bad("the version must be major.minor"))?;
        TagVersion::new(self.tag, major, minor)
            .map_err(|_| bad("the tag must be below 2^20 and major and minor below 64"))
    }
}

impl OutputConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let stream = self.stream.0;
        let stored = DataStream::from_code(stream)
            .map(|s| s.kind.is_stored())
            .unwrap_or(false);
        if !stored {
            return Err(ConfigError::OutputNotStored { stream });
        }
        if self.period == 0 {
            return Err(ConfigError::OutputPeriodZero { stream });
        }
        match self.generator {
            Generator::Sine { period: 0, .. } => Err(ConfigError::BadGenerator {
                stream,
                why: "a sine period must be at least 1 second",
            }),
            Generator::Random { min, max } if min > max => Err(ConfigError::BadGenerator {
                stream,
                why: "random min is above max",
            }),
            _ => Ok(()),
        }
    }
}

impl PodsFile {
    /// Reads `[[pod]]` tables and validates every POD (ids and addresses must be unique).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let file: PodsFile = toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        let mut ids = std::collections::BTreeSet::new();
        let mut addresses = std::collections::BTreeSet::new();
        for pod in &file.pod {
            pod.validate()?;
            if !ids.insert(pod.device_id) {
                return Err(ConfigError::DuplicateDeviceId(pod.device_id));
            }
            let address = pod.bd_addr()?;
            if !addresses.insert(address) {
                return Err(ConfigError::DuplicateAddress(address.to_string()));
            }
        }
        Ok(file)
    }
}

/// `C0:` then the low 40 bits of the id: a random static address (top bits `11`).
pub fn default_address(device_id: u64) -> BdAddr {
    let b = device_id.to_be_bytes();
    BdAddr([0xC0 | (b[2] & 0x3F), b[3], b[4], b[5], b[6], b[7]])
}

fn parse_triple(text: &str) -> Option<(u8, u8, u8)> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u8>().ok());
    let triple = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(triple)
}

fn default_version() -> String {
    "1.0".to_string()
}

fn one() -> u32 {
    1
}

#[cfg(test)]
mod tests;
