//! The device model of a virtual POD: pure synchronous state with an explicit clock.
//!
//! [`PodModel`] is what a POD's controller firmware is, seen from the RPC and report level.
//! It does no I/O and never sleeps: time moves only when the caller says so
//! ([`PodModel::advance_to`], [`PodModel::advance`]), so a test clock can run at any speed.
//!
//! The state is split the way a real POD splits it:
//! - **flash** (`Flash`, persisted by [`PodModel::to_bytes`]): identity and tags, the
//!   sensor log with its reading-id counter, the persisted sensor graph, streamer acks, the
//!   config database, the RTC offset set by `0x1010`, installed firmware images, reboot count.
//! - **RAM** (`Ram`): uptime, the volatile UTC offset, the running graph (nodes with their
//!   input queues, streamers with their status), streaming state, the remote bridge, user
//!   timers, the max report size. A reset ([`PodModel::reset`]) throws RAM away and boots
//!   again from flash, logging `0x5C00` (reset cause), `0x5C08` (OS tag) and `0x5C09` (app tag).
//!
//! Submodules: `boot` power-on, reset and the factory graph; `identity` identity, tags and
//! what advertisements say; `clock` time, ticks and the configured outputs; `readings` storing
//! and reading the sensor log; `status` streamer and graph status; [`log`] the sensor log,
//! `graph` the simplified sensor-graph engine, `streaming` streamers and report building, `rpc`
//! the RPC table, `bridge` the remote bridge and script runner, `config_db` the config database
//! and peripheral tiles, `state` persistence.
//!
//! ## What the sensor graph runs
//! Nodes added by `0x2003` (or loaded from the persisted graph after a reset) really run:
//! every graph input (ticks `0x3800`/`0x3802`/`0x3803`/`0x3805`/`0x3806`, `0x2004`, reset
//! `0x3C00`, streaming open/close `0x3C01`/`0x3C02`) is pushed, important system inputs are
//! copied to `0x5Cnn`, then root nodes and their downstream nodes are checked breadth first:
//! triggers (`always`, value or count against the reference, AND/OR) and all eight processors
//! (`copy_latest_a`, `average_a`, `copy_all_a`, `sum_a`, `copy_count_a`, `trigger_streamer`,
//! `call_rpc` on the POD's own RPC table, `subtract_afromb`). Input walkers behave like
//! iotile-sensorgraph's: buffered inputs queue readings pushed after the node was added,
//! unbuffered/input streams keep the latest, constants are inexhaustible, counters count.
//! Not modelled: the node-connection checks of the reference compiler (a node may read a
//! stream nobody produces yet), per-node output limits, the sensor-graph optimizer.
//!
//! The configured outputs ([`crate::pod::config::OutputConfig`]) are the POD's application:
//! they write straight into the sensor log on schedule (like RPC `0x2000`), whether or not the
//! graph is online, and their values reach node inputs that read those streams.

pub mod log;

mod boot;
mod bridge;
mod clock;
mod config_db;
mod graph;
mod identity;
mod readings;
mod rpc;
mod state;
mod status;
mod streaming;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sync_protocol::auth::RootKey;
use sync_protocol::rpc::RpcResponse;
use sync_protocol::version::TagVersion;
use sync_protocol::Reading;

use crate::pod::config::Generator;

pub use bridge::BridgeStatus;
pub use config_db::PeripheralTile;
pub use state::StateError;
pub use streaming::{OutgoingReport, StreamerStatus};

use bridge::Bridge;
use config_db::ConfigDb;
use graph::Graph;
use log::SensorLog;
use streaming::Streaming;

/// Streams the controller writes by itself.
pub mod streams {
    /// Battery voltage sample (graph input, every 10 s).
    pub const BATTERY: u16 = 0x3800;
    /// Normal tick, every 10 s, value = uptime.
    pub const NORMAL_TICK: u16 = 0x3802;
    /// Fast tick, period = config `0x2000` or timer 0.
    pub const FAST_TICK: u16 = 0x3803;
    pub const USER_TICK_1: u16 = 0x3805;
    pub const USER_TICK_2: u16 = 0x3806;
    /// Reset (graph input; copied to `0x5C00`).
    pub const RESET_INPUT: u16 = 0x3C00;
    pub const RESET: u16 = 0x5C00;
    /// Streaming interface opened / closed (copied to `0x5C01` / `0x5C02`).
    pub const STREAMING_OPENED: u16 = 0x3C01;
    pub const STREAMING_CLOSED: u16 = 0x3C02;
    /// "Data cleared" marker, value 1.
    pub const DATA_CLEARED: u16 = 0x5C03;
    pub const OS_TAG: u16 = 0x5C08;
    pub const APP_TAG: u16 = 0x5C09;
}

/// The comm tile address a POD reports in `0x3C01`/`0x3C02`.
pub const COMM_TILE_ADDRESS: u32 = 8;

/// Why the POD (re)booted; the value logged in `0x5C00` (nRF52 `RESETREAS`-like bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResetCause {
    /// Power applied (first boot, or a restart from a saved state).
    PowerOn,
    /// RPC `0x0001`.
    Software,
    /// A ResetDevice script record.
    Script,
    /// The controller restarted into newly flashed firmware.
    Firmware,
}

impl ResetCause {
    pub fn value(self) -> u32 {
        match self {
            ResetCause::PowerOn => 0x0000_0000,
            ResetCause::Software => 0x0000_0004,
            ResetCause::Script => 0x0000_0004,
            ResetCause::Firmware => 0x0001_0004,
        }
    }
}

/// What an advertisement needs to say about the POD (the radio encodes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisementData {
    /// The full (up to 48-bit) device id; v1/v2 advertisements carry its low 32 bits.
    pub device_id: u64,
    /// Some streamer has data that was never acknowledged.
    pub has_data: bool,
    pub low_voltage: bool,
    /// Another host is connected.
    pub user_connected: bool,
    pub battery_mv: u32,
    /// Device time (§1.6): RTC-flagged once the clock is set.
    pub current_time: u32,
    pub reboot_count: u32,
    /// The broadcast reading, if the POD broadcasts one.
    pub broadcast: Option<Reading>,
    pub safe_mode: bool,
    pub time_synchronised: bool,
}

/// A firmware image a script installed, remembered by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledImage {
    /// `controller`, `enhanced controller` or `tile`.
    pub record: String,
    /// Where the record placed it (offset or base address).
    pub address: u32,
    pub len: usize,
    /// SHA-256 of the image, lower-case hex.
    pub sha256: String,
}

/// The device model. See the module documentation.
pub struct PodModel {
    flash: Flash,
    ram: Ram,
}

/// Everything that survives a reset or a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Flash {
    identity: Identity,
    log: SensorLog,
    /// Acknowledged reading id per streamer index.
    acks: BTreeMap<u8, u32>,
    /// The graph loaded at every reset; `None` after ResetGraph until PersistGraph.
    graph: Option<PersistedGraph>,
    config_db: ConfigDb,
    /// RTC seconds since 2000 minus uptime, when the clock was set by `0x1010` on a POD with
    /// an RTC. Kept current across resets (the RTC keeps counting).
    rtc_offset: Option<i64>,
    reboot_count: u32,
    /// SHA-256 (hex) of every update script that ran to its end without error, in order:
    /// how tests prove a script ran exactly once.
    #[serde(default)]
    scripts_completed: Vec<String>,
    outputs: Vec<OutputState>,
    env: Environment,
    tiles: Vec<PeripheralTile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Identity {
    device_id: u64,
    name: [u8; 6],
    hardware: String,
    os: TagVersion,
    app: TagVersion,
    firmware: (u8, u8, u8),
    /// 64 hex digits.
    user_key: Option<String>,
    controller_image: Option<InstalledImage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Environment {
    battery_mv: u32,
    low_voltage_mv: u32,
    broadcast_stream: Option<u16>,
    has_rtc: bool,
    max_report_size: u32,
    /// xorshift state of the `random` generators.
    rng: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OutputState {
    stream: u16,
    period: u32,
    generator: Generator,
    /// Readings made so far (the counter generator continues across resets).
    produced: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PersistedGraph {
    nodes: Vec<[u8; 20]>,
    streamers: Vec<[u8; 14]>,
    constants: Vec<(u16, u32)>,
}

/// Controller config variables latched from the config database at reset.
#[derive(Debug, Clone, Copy, Default)]
struct ControllerConfig {
    fast_tick: u32,
    user_tick_1: u32,
    user_tick_2: u32,
    storage_fillstop: bool,
    streaming_fillstop: bool,
}

/// Volatile state: rebuilt from flash at every reset.
struct Ram {
    key: Option<RootKey>,
    uptime: u32,
    /// `current time = uptime + offset`.
    time_offset: i64,
    is_utc: bool,
    graph: Graph,
    streaming: Streaming,
    max_report_size: u32,
    /// Fast, user 1, user 2 tick periods (0 = off).
    ticks: [u32; 3],
    config: ControllerConfig,
    bridge: Bridge,
    dump: Option<rpc::DumpWalker>,
    safe_mode: bool,
    user_connected: bool,
    /// Latest reading sent by a broadcast streamer.
    broadcast: Option<Reading>,
    last_reset: ResetCause,
    generation: u64,
}

impl PodModel {
    /// Calls an RPC: the controller at address 8, peripheral tiles at `10 + slot`.
    /// Unknown RPC → status `0x02`; unknown address → `0xFF`; a payload of the wrong size →
    /// application status 17 (`WRONG_INPUT_SIZE`). A reset RPC answers `0xFF` (the tile
    /// resets instead of answering).
    pub fn rpc(&mut self, address: u8, rpc_id: u16, payload: &[u8]) -> RpcResponse {
        self.touch();
        self.dispatch_rpc(address, rpc_id, payload)
    }

    /// Bumped by every change; a saver compares it to decide whether to write.
    pub fn generation(&self) -> u64 {
        self.ram.generation
    }

    fn touch(&mut self) {
        self.ram.generation = self.ram.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests;
