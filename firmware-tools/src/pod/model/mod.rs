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
//! Submodules: [`log`] the sensor log, `graph` the simplified sensor-graph engine, `streaming`
//! streamers and report building, `rpc` the RPC table, `bridge` the remote bridge and script
//! runner, `config_db` the config database and peripheral tiles, `state` persistence.
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

mod bridge;
mod config_db;
mod graph;
mod rpc;
mod state;
mod streaming;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sync_protocol::auth::RootKey;
use sync_protocol::rpc::RpcResponse;
use sync_protocol::script::{
    Combiner, NodeDescriptor, NodeInput, Processor, ReportFormat, ReportType, StreamerDescriptor,
    StreamerTrigger, Tile, Trigger,
};
use sync_protocol::stream::{DataStream, StreamSelector, StreamType};
use sync_protocol::time::RTC_FLAG;
use sync_protocol::version::TagVersion;
use sync_protocol::Reading;

use crate::pod::config::{ConfigError, Generator, OutputConfig, PodConfig};

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
    /// A factory-fresh POD, just powered on.
    pub fn new(config: &PodConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let user_key = config.root_key()?;
        let format = if user_key.is_some() {
            ReportFormat::SignedListUserKey
        } else {
            ReportFormat::HashedList
        };
        let flash = Flash {
            identity: Identity {
                device_id: config.device_id,
                name: config.name_bytes()?,
                hardware: config.hardware.clone(),
                os: config.os_tag()?,
                app: config.app_tag()?,
                firmware: config.firmware_triple()?,
                user_key: user_key.as_ref().map(|k| hex::encode(k.as_bytes())),
                controller_image: None,
            },
            log: SensorLog::new(config.storage_capacity, config.streaming_capacity),
            acks: BTreeMap::new(),
            graph: Some(factory_graph(format, config.trigger_on_connect)),
            config_db: ConfigDb::default(),
            rtc_offset: None,
            reboot_count: 0,
            outputs: Vec::new(),
            env: Environment {
                battery_mv: config.battery_mv,
                low_voltage_mv: config.low_voltage_mv,
                broadcast_stream: config.broadcast_stream.map(|s| s.0),
                has_rtc: config.has_rtc,
                max_report_size: config.max_report_size,
                rng: config.random_seed.unwrap_or(config.device_id) | 1,
            },
            tiles: Vec::new(),
        };
        let mut model = PodModel {
            ram: Ram::fresh(&flash, Bridge::default(), ResetCause::PowerOn),
            flash,
        };
        model.set_outputs(&config.outputs);
        model.boot(ResetCause::PowerOn);
        Ok(model)
    }

    // ----- identity -----------------------------------------------------------------

    /// The device id (up to 48 bits).
    pub fn device_id(&self) -> u64 {
        self.flash.identity.device_id
    }

    /// The device id as reports and RPC `0x1008` carry it.
    pub fn device_id_u32(&self) -> u32 {
        self.flash.identity.device_id as u32
    }

    pub fn os_tag(&self) -> TagVersion {
        self.flash.identity.os
    }

    pub fn app_tag(&self) -> TagVersion {
        self.flash.identity.app
    }

    /// The controller name RPC `0x0004` returns.
    pub fn controller_name(&self) -> String {
        String::from_utf8_lossy(&self.flash.identity.name).into_owned()
    }

    pub fn hardware(&self) -> &str {
        &self.flash.identity.hardware
    }

    /// Controller firmware version `(major, minor, patch)` (RPC `0x0004`).
    pub fn firmware_version(&self) -> (u8, u8, u8) {
        self.flash.identity.firmware
    }

    /// The last controller image a script installed.
    pub fn controller_image(&self) -> Option<&InstalledImage> {
        self.flash.identity.controller_image.as_ref()
    }

    /// Peripheral tiles (registered or installed by ReflashTile records).
    pub fn tiles(&self) -> &[PeripheralTile] {
        &self.flash.tiles
    }

    /// The user key, if the POD has one.
    pub fn user_key(&self) -> Option<&RootKey> {
        self.ram.key.as_ref()
    }

    // ----- clock --------------------------------------------------------------------

    /// Seconds since the last boot.
    pub fn uptime(&self) -> u32 {
        self.ram.uptime
    }

    /// Device time (§1.6): `(uptime + offset) | RTC_FLAG` once the clock is set, else uptime.
    pub fn current_time(&self) -> u32 {
        if self.ram.is_utc {
            ((i64::from(self.ram.uptime) + self.ram.time_offset) as u32) | RTC_FLAG
        } else {
            self.ram.uptime
        }
    }

    /// Whether readings carry RTC-flagged time.
    pub fn time_synchronised(&self) -> bool {
        self.ram.is_utc
    }

    /// Moves the clock forward by `seconds`, running everything scheduled on the way.
    pub fn advance(&mut self, seconds: u32) {
        self.advance_to(self.ram.uptime.saturating_add(seconds));
    }

    /// Moves the clock to `uptime` (no-op if it is not ahead), running, at every scheduled
    /// second on the way, the configured outputs, the normal tick and battery sample (every
    /// 10 s), the fast and user ticks, then the automatic streamers.
    pub fn advance_to(&mut self, uptime: u32) {
        while self.ram.uptime < uptime {
            let next = self.next_event_after(self.ram.uptime).min(uptime);
            self.ram.uptime = next;
            self.fire_events(next);
        }
    }

    fn periods(&self) -> impl Iterator<Item = u32> + '_ {
        let ticks = self.ram.ticks.into_iter();
        self.flash
            .outputs
            .iter()
            .map(|o| o.period)
            .chain(ticks)
            .chain(std::iter::once(10))
            .filter(|p| *p > 0)
    }

    fn next_event_after(&self, now: u32) -> u32 {
        self.periods()
            .map(|p| (now / p).saturating_add(1).saturating_mul(p))
            .min()
            .unwrap_or(u32::MAX)
    }

    fn fire_events(&mut self, now: u32) {
        self.touch();
        for index in 0..self.flash.outputs.len() {
            let output = &self.flash.outputs[index];
            if now % output.period == 0 {
                let stream = output.stream;
                let value = self.generate(index, now);
                let time = self.current_time();
                // A full fill-stop area refuses the reading; the application carries on.
                let _ = self.store_reading(stream, time, value);
            }
        }
        if now % 10 == 0 {
            self.present_input(streams::BATTERY, self.flash.env.battery_mv);
            self.present_input(streams::NORMAL_TICK, now);
        }
        let tick_streams = [
            streams::FAST_TICK,
            streams::USER_TICK_1,
            streams::USER_TICK_2,
        ];
        for (period, stream) in self.ram.ticks.into_iter().zip(tick_streams) {
            if period > 0 && now % period == 0 {
                self.present_input(stream, now);
            }
        }
        self.process_streamers();
    }

    fn generate(&mut self, index: usize, now: u32) -> u32 {
        let output = &mut self.flash.outputs[index];
        let n = output.produced;
        output.produced += 1;
        match output.generator {
            Generator::Counter { start, step } => start.wrapping_add(step.wrapping_mul(n as u32)),
            Generator::Constant { value } => value,
            Generator::Sine {
                center,
                amplitude,
                period,
            } => {
                let phase = f64::from(now % period) / f64::from(period);
                let value =
                    center as f64 + amplitude as f64 * (phase * std::f64::consts::TAU).sin();
                (value.round() as i64) as u32
            }
            Generator::Random { min, max } => {
                let rng = &mut self.flash.env.rng;
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                let span = u64::from(max - min) + 1;
                min + (*rng % span) as u32
            }
        }
    }

    /// Replaces the configured outputs (the application's schedule). An output that did not
    /// change keeps its count (a counter carries on).
    pub fn set_outputs(&mut self, outputs: &[OutputConfig]) {
        let old = std::mem::take(&mut self.flash.outputs);
        self.flash.outputs = outputs
            .iter()
            .map(|o| {
                let produced = old
                    .iter()
                    .find(|s| {
                        s.stream == o.stream.0 && s.period == o.period && s.generator == o.generator
                    })
                    .map_or(0, |s| s.produced);
                OutputState {
                    stream: o.stream.0,
                    period: o.period.max(1),
                    generator: o.generator.clone(),
                    produced,
                }
            })
            .collect();
    }

    // ----- reset --------------------------------------------------------------------

    /// Resets the controller: RAM is rebuilt from flash (uptime 0, the volatile UTC offset,
    /// streaming and the running graph are gone; the persisted graph is loaded, acks, reading
    /// ids, config and tags stay), then `0x5C00`, `0x5C08` and `0x5C09` are logged. A ResetDevice
    /// or reflash record keeps the running script; any other reset drops it.
    pub fn reset(&mut self, cause: ResetCause) {
        let old_uptime = self.ram.uptime;
        if let Some(offset) = &mut self.flash.rtc_offset {
            *offset += i64::from(old_uptime);
        }
        let keep_script = matches!(cause, ResetCause::Script | ResetCause::Firmware);
        let bridge = if keep_script {
            std::mem::take(&mut self.ram.bridge)
        } else {
            Bridge::default()
        };
        let generation = self.ram.generation;
        self.ram = Ram::fresh(&self.flash, bridge, cause);
        self.ram.generation = generation;
        self.boot(cause);
    }

    /// The boot sequence after RAM was rebuilt.
    fn boot(&mut self, cause: ResetCause) {
        self.flash.reboot_count = self.flash.reboot_count.saturating_add(1);
        self.ram.last_reset = cause;
        self.load_graph();
        self.touch();
        if self.ram.graph.online {
            self.present_input(streams::RESET_INPUT, cause.value());
        } else {
            let time = self.current_time();
            let _ = self.store_reading(streams::RESET, time, cause.value());
        }
        let time = self.current_time();
        let os = self.flash.identity.os.pack();
        let app = self.flash.identity.app.pack();
        let _ = self.store_reading(streams::OS_TAG, time, os);
        let _ = self.store_reading(streams::APP_TAG, time, app);
        self.process_streamers();
    }

    /// How many times the POD booted (v2 advertisements carry it).
    pub fn reboot_count(&self) -> u32 {
        self.flash.reboot_count
    }

    pub fn last_reset_cause(&self) -> ResetCause {
        self.ram.last_reset
    }

    // ----- RPCs ---------------------------------------------------------------------

    /// Calls an RPC: the controller at address 8, peripheral tiles at `10 + slot`.
    /// Unknown RPC → status `0x02`; unknown address → `0xFF`; a payload of the wrong size →
    /// application status 17 (`WRONG_INPUT_SIZE`). A reset RPC answers `0xFF` (the tile
    /// resets instead of answering).
    pub fn rpc(&mut self, address: u8, rpc_id: u16, payload: &[u8]) -> RpcResponse {
        self.touch();
        self.dispatch_rpc(address, rpc_id, payload)
    }

    // ----- readings -----------------------------------------------------------------

    /// Stores a reading as RPC `0x2000` does (stored streams get the next id; virtual streams
    /// keep their latest value; constants change), then lets automatic streamers fire.
    pub fn push_reading(&mut self, stream: u16, value: u32) -> Result<Option<Reading>, u32> {
        let time = self.current_time();
        let result = self.store_reading(stream, time, value);
        self.process_streamers();
        result
    }

    /// Presents a graph input as RPC `0x2004` does (dropped while the graph is offline).
    pub fn graph_input(&mut self, stream: u16, value: u32) {
        self.present_input(stream, value);
    }

    /// Stored readings: the storage area, then the streaming area, each oldest first.
    pub fn readings(&self) -> impl Iterator<Item = &Reading> {
        self.flash
            .log
            .area(log::Area::Storage)
            .iter()
            .chain(self.flash.log.area(log::Area::Streaming).iter())
    }

    /// Readings stored in `stream`, oldest first.
    pub fn stream_readings(&self, stream: u16) -> Vec<Reading> {
        let Some(area) = log::Area::of_stream(stream) else {
            return Vec::new();
        };
        self.flash
            .log
            .area(area)
            .iter()
            .filter(|r| r.stream == stream)
            .copied()
            .collect()
    }

    /// `(storage, streaming)` reading counts.
    pub fn reading_counts(&self) -> (usize, usize) {
        self.flash.log.count()
    }

    /// The highest id ever allocated (readings and reports).
    pub fn last_allocated_id(&self) -> u32 {
        self.flash.log.last_allocated_id()
    }

    /// Skips `count` reading ids (a POD restarted from a state file that may be older than
    /// the last ids it handed out must not hand them out again).
    pub fn skip_ids(&mut self, count: u32) {
        self.flash.log.skip_ids(count);
        self.touch();
    }

    /// Unacknowledged readings the ring erased because an area was full.
    pub fn lost_readings(&self) -> u64 {
        self.flash.log.erased_unacknowledged()
    }

    /// The latest value of a stream (stored or virtual), if it ever had one since boot.
    pub fn latest(&self, stream: u16) -> Option<Reading> {
        self.ram.graph.last_values.get(&stream).copied()
    }

    // ----- streamers ----------------------------------------------------------------

    pub fn streamer_count(&self) -> usize {
        self.ram.streaming.streamers.len()
    }

    /// The stored acknowledgement of a streamer (0 if none).
    pub fn ack(&self, streamer: u8) -> u32 {
        self.flash.acks.get(&streamer).copied().unwrap_or(0)
    }

    pub fn streamer_status(&self, streamer: u8) -> Option<StreamerStatus> {
        self.ram
            .streaming
            .streamers
            .get(usize::from(streamer))
            .map(|s| s.status.clone())
    }

    pub fn node_count(&self) -> usize {
        self.ram.graph.nodes.len()
    }

    pub fn graph_online(&self) -> bool {
        self.ram.graph.online
    }

    /// Whether a persisted graph will be loaded at the next reset.
    pub fn has_persisted_graph(&self) -> bool {
        self.flash.graph.is_some()
    }

    /// The current max report size in bytes.
    pub fn max_report_size(&self) -> u32 {
        self.ram.max_report_size
    }

    // ----- advertisement data -------------------------------------------------------

    /// Some streamer has stored data above its acknowledgement.
    pub fn has_data(&self) -> bool {
        (0..self.ram.streaming.streamers.len()).any(|i| self.unacknowledged_data(i as u8))
    }

    pub fn low_voltage(&self) -> bool {
        self.flash.env.battery_mv < self.flash.env.low_voltage_mv
    }

    pub fn battery_mv(&self) -> u32 {
        self.flash.env.battery_mv
    }

    pub fn set_battery_mv(&mut self, millivolts: u32) {
        self.flash.env.battery_mv = millivolts;
    }

    pub fn user_connected(&self) -> bool {
        self.ram.user_connected
    }

    /// The radio says whether a host is connected.
    pub fn set_user_connected(&mut self, connected: bool) {
        self.ram.user_connected = connected;
    }

    pub fn safe_mode(&self) -> bool {
        self.ram.safe_mode
    }

    /// The broadcast reading: the latest reading of the configured broadcast stream, else
    /// the last reading a broadcast streamer sent.
    pub fn broadcast_reading(&self) -> Option<Reading> {
        match self.flash.env.broadcast_stream {
            Some(stream) => self.latest(stream),
            None => self.ram.broadcast,
        }
    }

    pub fn advertisement_data(&self) -> AdvertisementData {
        AdvertisementData {
            device_id: self.device_id(),
            has_data: self.has_data(),
            low_voltage: self.low_voltage(),
            user_connected: self.user_connected(),
            battery_mv: self.battery_mv(),
            current_time: self.current_time(),
            reboot_count: self.reboot_count(),
            broadcast: self.broadcast_reading(),
            safe_mode: self.safe_mode(),
            time_synchronised: self.time_synchronised(),
        }
    }

    /// Bumped by every change; a saver compares it to decide whether to write.
    pub fn generation(&self) -> u64 {
        self.ram.generation
    }

    fn touch(&mut self) {
        self.ram.generation = self.ram.generation.wrapping_add(1);
    }
}

impl Ram {
    fn fresh(flash: &Flash, bridge: Bridge, cause: ResetCause) -> Ram {
        let config = flash.config_db.controller_config();
        let (time_offset, is_utc) = match flash.rtc_offset {
            Some(offset) if flash.env.has_rtc => (offset, true),
            _ => (0, false),
        };
        Ram {
            key: flash
                .identity
                .user_key
                .as_deref()
                .and_then(|k| RootKey::from_hex(k).ok()),
            uptime: 0,
            time_offset,
            is_utc,
            graph: Graph::default(),
            streaming: Streaming::default(),
            max_report_size: flash.env.max_report_size,
            ticks: [config.fast_tick, config.user_tick_1, config.user_tick_2],
            config,
            bridge,
            dump: None,
            safe_mode: false,
            user_connected: false,
            broadcast: None,
            last_reset: cause,
            generation: 0,
        }
    }
}

/// The graph a POD leaves the factory with: streamer 0 on all outputs (manual), streamer 1 on
/// all system outputs (with streamer 0), and, if asked, `on connect { trigger streamer 0; }`.
fn factory_graph(format: ReportFormat, trigger_on_connect: bool) -> PersistedGraph {
    let streamer = |selector, trigger| {
        StreamerDescriptor::new(
            Tile::Controller,
            selector,
            trigger,
            format,
            ReportType::Telegram,
        )
        .map(|s| s.to_bytes())
    };
    let streamers = [
        streamer(StreamSelector::ALL_OUTPUTS, StreamerTrigger::Manual),
        streamer(
            StreamSelector::ALL_SYSTEM_OUTPUTS,
            StreamerTrigger::WithStreamer(0),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut nodes = Vec::new();
    let mut constants = Vec::new();
    if trigger_on_connect {
        let single = |kind, id| {
            DataStream::new(kind, true, id)
                .map(StreamSelector::single)
                .map(|selector| NodeInput {
                    selector,
                    trigger: Trigger::Always,
                })
        };
        let node = (|| {
            let output = DataStream::new(StreamType::Unbuffered, true, 1024).ok()?;
            let a = single(StreamType::Input, 1025).ok()?;
            let b = single(StreamType::Constant, 1024).ok()?;
            NodeDescriptor::new(
                output,
                a,
                Some((Combiner::And, b)),
                Processor::TriggerStreamer,
            )
            .ok()
        })();
        if let Some(node) = node {
            nodes.push(node.to_bytes());
            constants.push((0x2C00, 0));
        }
    }
    PersistedGraph {
        nodes,
        streamers,
        constants,
    }
}

#[cfg(test)]
mod tests;
