//! Power-on and reset: a factory-fresh POD, the reset and boot sequence, RAM rebuilt from
//! flash, and the graph a POD leaves the factory with.

use std::collections::BTreeMap;

use sync_protocol::auth::RootKey;
use sync_protocol::script::{
    Combiner, NodeDescriptor, NodeInput, Processor, ReportFormat, ReportType, StreamerDescriptor,
    StreamerTrigger, Tile, Trigger,
};
use sync_protocol::stream::{DataStream, StreamSelector, StreamType};

use super::bridge::Bridge;
use super::config_db::ConfigDb;
use super::graph::Graph;
use super::log::SensorLog;
use super::streaming::Streaming;
use super::{streams, Environment, Flash, Identity, PersistedGraph, PodModel, Ram, ResetCause};
use crate::pod::config::{ConfigError, PodConfig};

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
            scripts_completed: Vec::new(),
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

    // ----- reset -------------------------------------------------------------------

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
    pub(super) fn boot(&mut self, cause: ResetCause) {
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
}

impl Ram {
    pub(super) fn fresh(flash: &Flash, bridge: Bridge, cause: ResetCause) -> Ram {
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
