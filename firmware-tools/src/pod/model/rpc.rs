//! The RPC table: every controller RPC of §4.4 with its exact payload format.
//!
//! Arguments are checked for size first: a payload of the wrong length answers application
//! status 17 (`WRONG_INPUT_SIZE`, status byte `0x51`). Handlers that report errors the
//! firmware way return a `u32` code inside a successful response.

use sync_protocol::rpc::{codes, RpcResponse, CONTROLLER};
use sync_protocol::stream::{DataStream, StreamSelector, StreamType};
use sync_protocol::version::TagVersion;
use sync_protocol::Reading;

use super::log::Area;
use super::{streams, PodModel, ResetCause};

/// Sensor-log error codes (subsystem `0x8002`).
pub mod errors {
    pub const VIRTUAL_STREAM_NOT_FOUND: u32 = 0x8002_8001;
    pub const STREAM_WALKER_NOT_INITIALIZED: u32 = 0x8002_8005;
    /// `pack_error(SENSOR_GRAPH, INVALID_ARRAY_KEY)`: a timer index other than 0..=2.
    pub const INVALID_TIMER: u32 = 0x8003_0006;
    pub const INVALID_ARRAY_KEY: u32 = 6;
}

/// Config variables the controller declares (id, size in bytes).
pub(super) const CONTROLLER_VARIABLES: [(u16, u16); 5] = [
    (0x2000, 4),
    (0x2002, 4),
    (0x2003, 4),
    (0x2004, 1),
    (0x2005, 1),
];

/// Most readings one `0x2013` call may push.
const MAX_PUSH_MANY: u32 = 1_000_000;

/// The dump walker of RPCs `0x2008`, `0x2009` and `0x2012`.
pub(super) struct DumpWalker {
    selector: StreamSelector,
    /// Readings up to this id were dumped (or skipped).
    position: u32,
}

pub(super) type Answer = Result<RpcResponse, RpcResponse>;

pub(super) fn wrong_size() -> RpcResponse {
    RpcResponse::app_error(codes::WRONG_INPUT_SIZE as u8)
}

pub(super) fn args<const N: usize>(payload: &[u8]) -> Result<[u8; N], RpcResponse> {
    payload.try_into().map_err(|_| wrong_size())
}

pub(super) fn none(payload: &[u8]) -> Result<(), RpcResponse> {
    if payload.is_empty() {
        Ok(())
    } else {
        Err(wrong_size())
    }
}

pub(super) fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

pub(super) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// A success carrying little-endian words.
pub(super) fn words(values: &[u32]) -> RpcResponse {
    let mut out = Vec::with_capacity(values.len() * 4);
    for value in values {
        out.extend_from_slice(&value.to_le_bytes());
    }
    RpcResponse::ok(out)
}

impl PodModel {
    pub(super) fn dispatch_rpc(&mut self, address: u8, rpc_id: u16, payload: &[u8]) -> RpcResponse {
        if address == CONTROLLER {
            return self.controller_rpc(rpc_id, payload).unwrap_or_else(|e| e);
        }
        self.tile_rpc(address, rpc_id, payload)
            .unwrap_or_else(RpcResponse::tile_not_found)
    }

    fn controller_rpc(&mut self, rpc_id: u16, p: &[u8]) -> Answer {
        if p.len() > sync_protocol::rpc::MAX_PAYLOAD {
            return Err(wrong_size());
        }
        Ok(match rpc_id {
            // ----- every tile -----
            0x0001 => {
                none(p)?;
                self.reset(ResetCause::Software);
                RpcResponse::tile_not_found()
            }
            0x0002 => {
                none(p)?;
                RpcResponse::ok(padded::<10>(self.flash.identity.hardware.as_bytes()).to_vec())
            }
            0x0003 => {
                let expected: [u8; 10] = args(p)?;
                let ours = padded::<10>(self.flash.identity.hardware.as_bytes());
                RpcResponse::code(u32::from(expected != ours))
            }
            0x0004 => {
                none(p)?;
                let (major, minor, patch) = self.flash.identity.firmware;
                let mut out = 0xFFFFu16.to_le_bytes().to_vec();
                out.extend_from_slice(&self.flash.identity.name);
                out.extend_from_slice(&[major, minor, patch, 0x03]);
                RpcResponse::ok(out)
            }
            0x0006 => {
                none(p)?;
                RpcResponse::ok(Vec::new())
            }
            0x000A => {
                let [lo, hi] = args(p)?;
                let offset = usize::from(u16::from_le_bytes([lo, hi]));
                let ids: Vec<u16> = CONTROLLER_VARIABLES
                    .iter()
                    .skip(offset)
                    .take(9)
                    .map(|(id, _)| *id)
                    .collect();
                let mut out = (ids.len() as u16).to_le_bytes().to_vec();
                for i in 0..9 {
                    out.extend_from_slice(&ids.get(i).copied().unwrap_or(0).to_le_bytes());
                }
                RpcResponse::ok(out)
            }
            0x000B => {
                let [lo, hi] = args(p)?;
                let id = u16::from_le_bytes([lo, hi]);
                let mut out = Vec::with_capacity(12);
                match CONTROLLER_VARIABLES.iter().find(|(v, _)| *v == id) {
                    Some((_, size)) => {
                        out.extend_from_slice(&0u16.to_le_bytes());
                        out.extend_from_slice(&0u16.to_le_bytes());
                        out.extend_from_slice(&0u32.to_le_bytes());
                        out.extend_from_slice(&id.to_le_bytes());
                        out.extend_from_slice(&size.to_le_bytes());
                    }
                    None => {
                        out.extend_from_slice(&(errors::INVALID_ARRAY_KEY as u16).to_le_bytes());
                        out.extend_from_slice(&[0; 10]);
                    }
                }
                RpcResponse::ok(out)
            }
            0x000C => {
                if p.len() < 4 {
                    return Err(wrong_size());
                }
                // The controller's application is running: variables are only set at boot.
                RpcResponse::ok(
                    (codes::STATE_CHANGE_AT_INVALID_TIME as u16)
                        .to_le_bytes()
                        .to_vec(),
                )
            }
            0x000D => {
                let b: [u8; 4] = args(p)?;
                let id = u16_at(&b, 0);
                let offset = usize::from(u16_at(&b, 2));
                let value = self.controller_variable(id);
                RpcResponse::ok(
                    value
                        .get(offset..)
                        .unwrap_or_default()
                        .iter()
                        .take(20)
                        .copied()
                        .collect::<Vec<u8>>(),
                )
            }

            // ----- clock -----
            0x1001 => {
                none(p)?;
                words(&[self.current_time()])
            }
            0x100F => {
                none(p)?;
                words(&[self.ram.uptime])
            }
            0x100D => {
                none(p)?;
                words(&[self.ram.time_offset as u32, u32::from(self.ram.is_utc)])
            }
            0x100E => {
                let b: [u8; 8] = args(p)?;
                self.ram.time_offset = i64::from(u32_at(&b, 0));
                self.ram.is_utc = u32_at(&b, 4) != 0;
                RpcResponse::code(0)
            }
            0x1010 => {
                let b: [u8; 4] = args(p)?;
                let seconds = i64::from(u32_at(&b, 0) & !sync_protocol::time::RTC_FLAG);
                self.ram.time_offset = seconds - i64::from(self.ram.uptime);
                self.ram.is_utc = true;
                if self.flash.env.has_rtc {
                    self.flash.rtc_offset = Some(self.ram.time_offset);
                }
                RpcResponse::code(0)
            }
            0x1006 => {
                let [on] = args(p)?;
                self.ram.safe_mode = on != 0;
                RpcResponse::code(0)
            }
            0x1008 => {
                none(p)?;
                let mut out = self.device_id_u32().to_le_bytes().to_vec();
                out.extend_from_slice(&[0; 8]);
                out.extend_from_slice(&self.flash.identity.os.pack().to_le_bytes());
                out.extend_from_slice(&self.flash.identity.app.pack().to_le_bytes());
                RpcResponse::ok(out)
            }
            0x100B => {
                let b: [u8; 10] = args(p)?;
                if b[8] != 0 {
                    self.flash.identity.os = TagVersion::unpack(u32_at(&b, 0));
                }
                if b[9] != 0 {
                    self.flash.identity.app = TagVersion::unpack(u32_at(&b, 4));
                }
                RpcResponse::code(0)
            }

            // ----- comm tile -----
            0x0A05 => {
                if p.len() != 4 && p.len() != 5 {
                    return Err(wrong_size());
                }
                self.ram.max_report_size = u32_at(p, 0);
                RpcResponse::code(0)
            }
            0x0A06 => {
                none(p)?;
                let mut out = self.ram.max_report_size.to_le_bytes().to_vec();
                out.extend_from_slice(&[0, 0]);
                RpcResponse::ok(out)
            }

            // ----- sensor log and sensor graph -----
            0x2000 => {
                let b: [u8; 6] = args(p)?;
                let result = self.push_reading(u16_at(&b, 4), u32_at(&b, 0));
                RpcResponse::code(result.err().unwrap_or(0))
            }
            0x2001 => {
                none(p)?;
                let (storage, streaming) = self.flash.log.count();
                words(&[0, storage as u32, streaming as u32])
            }
            0x2002 => {
                none(p)?;
                words(&[self.ram.graph.nodes.len() as u32])
            }
            0x2003 => {
                let b: [u8; 20] = args(p)?;
                RpcResponse::code(self.add_node(&b))
            }
            0x2004 => {
                let b: [u8; 6] = args(p)?;
                self.present_input(u16_at(&b, 4), u32_at(&b, 0));
                RpcResponse::code(0)
            }
            0x2005 => {
                let online = match p {
                    [b] => *b != 0,
                    [lo, hi] => u16::from_le_bytes([*lo, *hi]) != 0,
                    _ => return Err(wrong_size()),
                };
                self.ram.graph.online = online;
                RpcResponse::code(0)
            }
            0x2007 => {
                if p.len() != 13 && p.len() != 14 {
                    return Err(wrong_size());
                }
                RpcResponse::code(self.add_streamer(p))
            }
            0x2008 => {
                let [lo, hi] = args(p)?;
                let selector = StreamSelector::from_code(u16::from_le_bytes([lo, hi]));
                self.ram.dump = Some(DumpWalker {
                    selector,
                    position: 0,
                });
                let count = self.dump_count();
                words(&[0, 0, count, self.ram.uptime])
            }
            0x2009 => {
                let [format] = args(p)?;
                self.dump_next(format)
            }
            0x200A => {
                let [lo, hi] = args(p)?;
                let index = u16::from_le_bytes([lo, hi]);
                match u8::try_from(index)
                    .ok()
                    .and_then(|i| self.query_streamer(i))
                {
                    Some(status) => RpcResponse::ok(status),
                    None => RpcResponse::code(codes::STREAMER_NOT_ALLOCATED),
                }
            }
            0x200B => {
                let [lo, hi] = args(p)?;
                let (error, value) = self.inspect_virtual(u16::from_le_bytes([lo, hi]));
                words(&[error, value])
            }
            0x200C => {
                none(p)?;
                self.clear_data();
                RpcResponse::code(0)
            }
            0x200D => {
                none(p)?;
                self.reset_graph();
                RpcResponse::code(0)
            }
            0x200E => {
                none(p)?;
                self.persist_graph();
                RpcResponse::code(0)
            }
            0x200F => {
                let b: [u8; 8] = args(p)?;
                let index = u16_at(&b, 0);
                let code = match u8::try_from(index) {
                    Ok(index) => {
                        self.acknowledge_streamer(index, u16_at(&b, 2) != 0, u32_at(&b, 4))
                    }
                    Err(_) => codes::STREAMER_NOT_ALLOCATED,
                };
                RpcResponse::code(code)
            }
            0x2010 => {
                let [lo, hi] = args(p)?;
                let code = match u8::try_from(u16::from_le_bytes([lo, hi])) {
                    Ok(index) => self.trigger_streamer(index),
                    Err(_) => codes::STREAMER_NOT_ALLOCATED,
                };
                RpcResponse::code(code)
            }
            0x2011 => {
                none(p)?;
                words(&[0, self.flash.log.highest_stored_id()])
            }
            0x2012 => {
                let b: [u8; 4] = args(p)?;
                let (error, count) = self.dump_seek(u32_at(&b, 0));
                words(&[error, 0, count])
            }
            0x2013 => {
                let b: [u8; 10] = args(p)?;
                let (value, count, stream) = (u32_at(&b, 0), u32_at(&b, 4), u16_at(&b, 8));
                if count > MAX_PUSH_MANY {
                    return Ok(words(&[codes::INPUT_TOO_LONG, 0]));
                }
                let time = self.current_time();
                let mut pushed = 0;
                let mut error = 0;
                for _ in 0..count {
                    match self.store_reading(stream, time, value) {
                        Ok(_) => pushed += 1,
                        Err(e) => {
                            error = e;
                            break;
                        }
                    }
                }
                self.process_streamers();
                words(&[error, pushed])
            }
            0x2014 => {
                let [lo, hi] = args(p)?;
                match self
                    .ram
                    .ticks
                    .get(usize::from(u16::from_le_bytes([lo, hi])))
                {
                    Some(period) => words(&[0, *period]),
                    None => words(&[errors::INVALID_TIMER, 0]),
                }
            }
            0x2015 => {
                let b: [u8; 6] = args(p)?;
                match self.ram.ticks.get_mut(usize::from(u16_at(&b, 4))) {
                    Some(period) => {
                        *period = u32_at(&b, 0);
                        RpcResponse::code(0)
                    }
                    None => RpcResponse::code(errors::INVALID_TIMER),
                }
            }
            0x2016 => {
                let [lo, hi] = args(p)?;
                match self
                    .ram
                    .graph
                    .nodes
                    .get(usize::from(u16::from_le_bytes([lo, hi])))
                {
                    Some(node) => RpcResponse::ok(node.descriptor.to_bytes().to_vec()),
                    None => RpcResponse::app_error(6),
                }
            }
            0x2017 => {
                let [lo, hi] = args(p)?;
                let index = usize::from(u16::from_le_bytes([lo, hi]));
                let mut out = Vec::with_capacity(20);
                match self.ram.streaming.streamers.get(index) {
                    Some(streamer) => {
                        out.extend_from_slice(&0u32.to_le_bytes());
                        out.extend_from_slice(&streamer.descriptor.to_bytes());
                    }
                    None => {
                        out.extend_from_slice(&codes::STREAMER_NOT_ALLOCATED.to_le_bytes());
                        out.extend_from_slice(&[0; 14]);
                    }
                }
                out.extend_from_slice(&[0, 0]);
                RpcResponse::ok(out)
            }

            // ----- remote bridge -----
            0x2100..=0x2105 => self.bridge_rpc(rpc_id, p)?,

            // ----- tile manager and config database -----
            0x2A00..=0x2A03 => self.tile_manager_rpc(rpc_id, p)?,
            0x2A07..=0x2A10 => self.config_db_rpc(rpc_id, p)?,

            _ => RpcResponse::not_found(),
        })
    }

    /// `0x200C`: clears the log, then writes the `0x5C03` marker.
    pub(super) fn clear_data(&mut self) {
        self.flash.log.clear();
        self.ram.dump = None;
        self.skip_all_inputs();
        let time = self.current_time();
        let _ = self.store_reading(streams::DATA_CLEARED, time, 1);
    }

    fn inspect_virtual(&self, stream: u16) -> (u32, u32) {
        let Ok(data_stream) = DataStream::from_code(stream) else {
            return (errors::VIRTUAL_STREAM_NOT_FOUND, 0);
        };
        if data_stream.kind.is_stored() {
            return (errors::VIRTUAL_STREAM_NOT_FOUND, 0);
        }
        if data_stream.kind == StreamType::Constant {
            return (
                0,
                self.ram.graph.constants.get(&stream).copied().unwrap_or(0),
            );
        }
        match self.ram.graph.last_values.get(&stream) {
            Some(reading) => (0, reading.value),
            None if self.stream_allocated(data_stream) => (0, 0),
            None => (errors::VIRTUAL_STREAM_NOT_FOUND, 0),
        }
    }

    fn dump_matching(&self) -> Option<(Area, StreamSelector, u32)> {
        let dump = self.ram.dump.as_ref()?;
        let area = Area::of_selector(dump.selector)?;
        Some((area, dump.selector, dump.position))
    }

    fn dump_count(&self) -> u32 {
        let Some((area, selector, position)) = self.dump_matching() else {
            return 0;
        };
        self.flash
            .log
            .after(area, position)
            .filter(|r| selects(selector, r))
            .count() as u32
    }

    fn dump_next(&mut self, format: u8) -> RpcResponse {
        let next = match self.dump_matching() {
            None if self.ram.dump.is_none() => {
                return words(&[errors::STREAM_WALKER_NOT_INITIALIZED, 0, 0]);
            }
            None => None,
            Some((area, selector, position)) => self
                .flash
                .log
                .after(area, position)
                .find(|r| selects(selector, r))
                .copied(),
        };
        let error = match (&next, &mut self.ram.dump) {
            (Some(reading), Some(dump)) => {
                dump.position = reading.reading_id;
                0
            }
            _ => codes::NO_MORE_READINGS,
        };
        let r = next.unwrap_or(Reading {
            stream: 0,
            reading_id: 0,
            raw_time: 0,
            value: 0,
        });
        match format {
            0 => words(&[error, r.raw_time, r.value]),
            1 => {
                let mut out = Vec::with_capacity(20);
                for word in [error, r.raw_time, r.value, r.reading_id] {
                    out.extend_from_slice(&word.to_le_bytes());
                }
                out.extend_from_slice(&r.stream.to_le_bytes());
                out.extend_from_slice(&[0, 0]);
                RpcResponse::ok(out)
            }
            _ => RpcResponse::app_error(codes::UNIMPLEMENTED as u8),
        }
    }

    fn dump_seek(&mut self, id: u32) -> (u32, u32) {
        let Some((area, selector, _)) = self.dump_matching() else {
            if self.ram.dump.is_none() {
                return (errors::STREAM_WALKER_NOT_INITIALIZED, 0);
            }
            return (codes::NO_MORE_READINGS, 0);
        };
        let error = match self.flash.log.find(area, id).copied() {
            Some(reading) => {
                let exact = selects(selector, &reading);
                if let Some(dump) = &mut self.ram.dump {
                    // Exact: the next dump returns it. Another stream's: skip past it.
                    dump.position = if exact { id - 1 } else { id };
                }
                if exact {
                    0
                } else {
                    codes::ID_FOUND_FOR_ANOTHER_STREAM
                }
            }
            None => codes::NO_MORE_READINGS,
        };
        (error, self.dump_count())
    }

    /// A controller config variable's current value.
    fn controller_variable(&self, id: u16) -> Vec<u8> {
        let c = &self.ram.config;
        match id {
            0x2000 => c.fast_tick.to_le_bytes().to_vec(),
            0x2002 => c.user_tick_1.to_le_bytes().to_vec(),
            0x2003 => c.user_tick_2.to_le_bytes().to_vec(),
            0x2004 => vec![u8::from(c.storage_fillstop)],
            0x2005 => vec![u8::from(c.streaming_fillstop)],
            _ => Vec::new(),
        }
    }
}

fn selects(selector: StreamSelector, reading: &Reading) -> bool {
    DataStream::from_code(reading.stream).is_ok_and(|s| selector.matches(s))
}

/// Zero-padded (or cut) to N bytes.
pub(super) fn padded<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let len = bytes.len().min(N);
    out[..len].copy_from_slice(&bytes[..len]);
    out
}
