//! Streamers: which readings leave the POD, in which reports, and when they may be forgotten.
//!
//! A streamer selects readings; its stored acknowledgement (flash, survives resets) is the
//! highest reading id a remote party confirmed. A triggered streamer becomes *active*: it
//! snapshots the last allocated id and, while streaming is open, hands out reports of its
//! selected readings above the ack, each at most the max report size, until it reaches the
//! snapshot. Then it goes idle and, having forgotten where it got to, starts again from its
//! ack next time (at-least-once). A dropped link or a closed streaming interface aborts it the
//! same way. Readings are freed only when an area is full, and then first those every
//! selecting streamer acknowledged.

use std::collections::VecDeque;

use sync_protocol::report::{IndividualReport, SignedListHeader, SignedListReport, Signer};
use sync_protocol::rpc::codes;
use sync_protocol::script::{ReportFormat, ReportType, StreamerDescriptor, StreamerTrigger};
use sync_protocol::stream::DataStream;
use sync_protocol::Reading;

use super::log::Area;
use super::{streams, PodModel, COMM_TILE_ADDRESS};

/// At most 8 streamers.
pub const MAX_STREAMERS: usize = 8;
/// Sensor-graph error codes used here.
pub mod errors {
    pub const CANNOT_USE_UNBUFFERED_STREAM: u32 = 0x8003_8006;
    pub const ERROR_STARTING_STREAMING: u32 = 0x8003_8012;
    pub const INVALID_STREAMER: u32 = 0x8003_800D;
}

/// What `0x200A` reports about a streamer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamerStatus {
    /// Device time when the last attempt started.
    pub last_attempt_time: u32,
    /// Device time when the last attempt finished sending.
    pub last_success_time: u32,
    /// 0, or why the last attempt failed (`0x80038012`: the link went away).
    pub last_error: u32,
    /// 0 success, 1 failed, 2 in progress.
    pub last_status: u8,
    /// Attempts since the last success, including the current one.
    pub attempt_number: u8,
    /// Non-zero while the streamer is triggered and its reports are not all out.
    pub comm_status: u8,
}

/// A report ready to go out on the streaming characteristic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingReport {
    /// Give it back to [`PodModel::report_delivered`] once the last byte is out.
    pub token: u64,
    pub streamer: u8,
    pub bytes: Vec<u8>,
}

pub(super) struct Streamer {
    pub descriptor: StreamerDescriptor,
    pub status: StreamerStatus,
    /// For streamers on virtual streams: the latest reading not yet sent.
    pub latest: Option<Reading>,
}

#[derive(Default)]
pub(super) struct Streaming {
    pub streamers: Vec<Streamer>,
    pub open: bool,
    active: VecDeque<Active>,
    outgoing: Option<Outgoing>,
    next_token: u64,
}

struct Active {
    index: u8,
    /// The last id allocated when it was triggered: later readings wait for next time.
    upper: u32,
    /// Readings up to this id are already sent in this attempt.
    cursor: u32,
    /// The reading of a virtual-stream streamer.
    realtime: Option<Reading>,
}

struct Outgoing {
    token: u64,
    index: u8,
    highest: u32,
    individual: bool,
}

impl Streamer {
    fn area(&self) -> Option<Area> {
        Area::of_selector(self.descriptor.selector())
    }

    fn selects(&self, stream: u16) -> bool {
        DataStream::from_code(stream).is_ok_and(|s| self.descriptor.selector().matches(s))
    }
}

impl PodModel {
    /// RPC `0x2007`.
    pub(super) fn add_streamer(&mut self, bytes: &[u8]) -> u32 {
        let mut padded = [0u8; StreamerDescriptor::LEN];
        if bytes.len() != 13 && bytes.len() != 14 {
            return errors::INVALID_STREAMER;
        }
        padded[..bytes.len()].copy_from_slice(bytes);
        let Ok(descriptor) = StreamerDescriptor::decode(&padded) else {
            return errors::INVALID_STREAMER;
        };
        if self.ram.streaming.streamers.len() >= MAX_STREAMERS {
            return codes::NO_MORE_STREAMER_RESOURCES;
        }
        self.ram.streaming.streamers.push(Streamer {
            descriptor,
            status: StreamerStatus::default(),
            latest: None,
        });
        0
    }

    pub(super) fn streamer(&self, index: u8) -> Option<&Streamer> {
        self.ram.streaming.streamers.get(usize::from(index))
    }

    fn is_active(&self, index: u8) -> bool {
        self.ram.streaming.active.iter().any(|a| a.index == index)
    }

    /// Whether a streamer has something to send: stored selected readings above its ack, or
    /// a fresh value of a virtual stream.
    pub(super) fn streamer_has_data(&self, index: u8) -> bool {
        let Some(streamer) = self.streamer(index) else {
            return false;
        };
        match streamer.area() {
            Some(area) => self
                .flash
                .log
                .after(area, self.ack(index))
                .any(|r| streamer.selects(r.stream)),
            None => streamer.latest.is_some(),
        }
    }

    /// Stored data above the ack (what "has data" in an advertisement means).
    pub(super) fn unacknowledged_data(&self, index: u8) -> bool {
        self.streamer(index)
            .is_some_and(|s| s.area().is_some() && self.streamer_has_data(index))
    }

    /// Virtual streams feed the streamers that select them.
    pub(super) fn note_realtime(&mut self, stream: DataStream, reading: Reading) {
        if Area::of_stream(reading.stream).is_some() {
            return;
        }
        for streamer in &mut self.ram.streaming.streamers {
            if streamer.area().is_none() && streamer.descriptor.selector().matches(stream) {
                streamer.latest = Some(reading);
            }
        }
    }

    /// Whether every streamer that selects this reading acknowledged it (and one does).
    fn acknowledged(&self, reading: &Reading) -> bool {
        let mut selected = false;
        for (index, streamer) in self.ram.streaming.streamers.iter().enumerate() {
            if streamer.area().is_some() && streamer.selects(reading.stream) {
                selected = true;
                if self.ack(index as u8) < reading.reading_id {
                    return false;
                }
            }
        }
        selected
    }

    /// Makes room for one reading in a full area: acknowledged readings go first; then a
    /// fill-stop area refuses the push and a ring erases its oldest 256 readings.
    pub(super) fn make_room(&mut self, area: Area) -> Result<(), u32> {
        if !self.flash.log.is_full(area) {
            return Ok(());
        }
        let acknowledged: std::collections::BTreeSet<u32> = self
            .flash
            .log
            .area(area)
            .iter()
            .filter(|r| self.acknowledged(r))
            .map(|r| r.reading_id)
            .collect();
        self.flash
            .log
            .retain(area, |r| !acknowledged.contains(&r.reading_id));
        if !self.flash.log.is_full(area) {
            return Ok(());
        }
        let fill_stop = match area {
            Area::Storage => self.ram.config.storage_fillstop,
            Area::Streaming => self.ram.config.streaming_fillstop,
        };
        if fill_stop {
            return Err(codes::RING_BUFFER_FULL);
        }
        // Nothing erased here was acknowledged (those went above).
        self.flash.log.erase_oldest(area, |_| true);
        Ok(())
    }

    /// Starts every streamer that should fire: automatic ones with data, marked ones with
    /// data, and "with streamer n" partners (with data) of every streamer that was marked or
    /// fired.
    pub(super) fn process_streamers(&mut self) {
        let marked = std::mem::take(&mut self.ram.graph.marked);
        let count = self.ram.streaming.streamers.len() as u8;
        for index in 0..count {
            if self.is_active(index) {
                continue;
            }
            let automatic = self
                .streamer(index)
                .is_some_and(|s| s.descriptor.trigger() == StreamerTrigger::Automatic);
            let asked = marked.contains(&index) || automatic;
            if !asked {
                continue;
            }
            let fired = self.streamer_has_data(index);
            if fired {
                self.start_streamer(index);
            }
            if fired || marked.contains(&index) {
                for partner in 0..count {
                    let with = self.streamer(partner).is_some_and(|s| {
                        s.descriptor.trigger() == StreamerTrigger::WithStreamer(index)
                    });
                    if with && !self.is_active(partner) && self.streamer_has_data(partner) {
                        self.start_streamer(partner);
                    }
                }
            }
        }
    }

    fn start_streamer(&mut self, index: u8) {
        let now = self.current_time();
        let upper = self.flash.log.last_allocated_id();
        let cursor = self.ack(index);
        let Some(streamer) = self.ram.streaming.streamers.get_mut(usize::from(index)) else {
            return;
        };
        let realtime = if streamer.area().is_none() {
            streamer.latest.take()
        } else {
            None
        };
        if streamer.descriptor.report_type() == ReportType::Broadcast {
            // A broadcast goes into the advertisement, not over a connection.
            let reading = match streamer.area() {
                Some(area) => self
                    .flash
                    .log
                    .after(area, cursor)
                    .filter(|r| streamer.selects(r.stream))
                    .last()
                    .copied(),
                None => realtime,
            };
            streamer.status.last_attempt_time = now;
            streamer.status.last_success_time = now;
            streamer.status.last_status = 0;
            if let Some(reading) = reading {
                self.ram.broadcast = Some(reading);
                if reading.reading_id != 0 {
                    let ack = self.flash.acks.entry(index).or_insert(0);
                    *ack = (*ack).max(reading.reading_id);
                }
            }
            return;
        }
        streamer.status.last_attempt_time = now;
        streamer.status.attempt_number = streamer.status.attempt_number.wrapping_add(1);
        streamer.status.last_status = 2;
        streamer.status.comm_status = 1;
        self.ram.streaming.active.push_back(Active {
            index,
            upper,
            cursor,
            realtime,
        });
    }

    fn finish_streamer(&mut self, success: bool) {
        let Some(active) = self.ram.streaming.active.pop_front() else {
            return;
        };
        let now = self.current_time();
        if let Some(streamer) = self
            .ram
            .streaming
            .streamers
            .get_mut(usize::from(active.index))
        {
            let status = &mut streamer.status;
            status.comm_status = 0;
            if success {
                status.last_success_time = now;
                status.last_error = 0;
                status.last_status = 0;
                status.attempt_number = 0;
            } else {
                status.last_error = errors::ERROR_STARTING_STREAMING;
                status.last_status = 1;
            }
        }
    }

    /// Every active streamer stops and returns to idle; nothing is freed.
    pub(super) fn abort_streaming(&mut self) {
        self.ram.streaming.outgoing = None;
        while !self.ram.streaming.active.is_empty() {
            self.finish_streamer(false);
        }
    }

    /// The readings of the front active streamer still to send, at most `limit`.
    fn pending_readings(&self, active: &Active, limit: usize) -> Vec<Reading> {
        let Some(streamer) = self.streamer(active.index) else {
            return Vec::new();
        };
        match streamer.area() {
            Some(area) => self
                .flash
                .log
                .after(area, active.cursor)
                .take_while(|r| r.reading_id <= active.upper)
                .filter(|r| streamer.selects(r.stream))
                .take(limit)
                .copied()
                .collect(),
            None => active.realtime.into_iter().take(limit).collect(),
        }
    }

    fn max_readings(&self) -> usize {
        let size = self.ram.max_report_size.min(SignedListReportMax::BYTES) as usize;
        (size.saturating_sub(SignedListReport::MIN_LEN) / Reading::RECORD_LEN).max(1)
    }

    // ----- the streaming interface (public) -----------------------------------------

    /// A host opened the streaming interface: `0x3C01` goes to the graph (the factory graph
    /// triggers streamer 0 on it) and queued streamers may send.
    pub fn open_streaming(&mut self) {
        if self.ram.streaming.open {
            return;
        }
        self.ram.streaming.open = true;
        self.touch();
        self.present_input(streams::STREAMING_OPENED, COMM_TILE_ADDRESS);
        self.process_streamers();
    }

    /// The host closed the streaming interface: active streamers stop (un-sent data stays)
    /// and `0x3C02` goes to the graph.
    pub fn close_streaming(&mut self) {
        if !self.ram.streaming.open {
            return;
        }
        self.abort_streaming();
        self.ram.streaming.open = false;
        self.touch();
        self.present_input(streams::STREAMING_CLOSED, COMM_TILE_ADDRESS);
    }

    /// The connection is gone (dropped or closed by the host): streaming closes, every
    /// active streamer stops, and no host is connected any more.
    pub fn link_lost(&mut self) {
        self.close_streaming();
        self.abort_streaming();
        self.ram.user_connected = false;
    }

    pub fn streaming_open(&self) -> bool {
        self.ram.streaming.open
    }

    /// The token of the report handed out and not yet delivered.
    pub fn outgoing_token(&self) -> Option<u64> {
        self.ram.streaming.outgoing.as_ref().map(|o| o.token)
    }

    /// Whether some streamer is triggered and not finished.
    pub fn streaming_busy(&self) -> bool {
        !self.ram.streaming.active.is_empty()
    }

    /// The next report to send, while streaming is open and the previous one was
    /// delivered. Reports take ids from the reading counter when built.
    pub fn next_report(&mut self) -> Option<OutgoingReport> {
        if !self.ram.streaming.open || self.ram.streaming.outgoing.is_some() {
            return None;
        }
        loop {
            let active = self.ram.streaming.active.front()?;
            let index = active.index;
            let Some(streamer) = self.streamer(index) else {
                self.finish_streamer(false);
                continue;
            };
            let individual = streamer.descriptor.format() == ReportFormat::Individual;
            let selector = streamer.descriptor.selector().code();
            let limit = if individual { 1 } else { self.max_readings() };
            let readings = self.pending_readings(active, limit);
            if readings.is_empty() {
                self.finish_streamer(true);
                continue;
            }
            let highest = readings.iter().map(|r| r.reading_id).max().unwrap_or(0);
            let bytes = if individual {
                IndividualReport::new(self.device_id_u32(), readings[0], 0)
                    .encode()
                    .to_vec()
            } else {
                let header = SignedListHeader {
                    device_id: self.device_id_u32(),
                    report_id: self.flash.log.allocate_id(),
                    sent_timestamp: self.ram.uptime,
                    streamer: index,
                    selector,
                };
                let signer = match &self.ram.key {
                    Some(key) => Signer::UserKey(key),
                    None => Signer::Hash,
                };
                match SignedListReport::build(header, &readings, signer) {
                    Ok(report) => report.encode(),
                    Err(_) => {
                        self.finish_streamer(false);
                        continue;
                    }
                }
            };
            let streaming = &mut self.ram.streaming;
            streaming.next_token += 1;
            let token = streaming.next_token;
            if let Some(active) = streaming.active.front_mut() {
                active.realtime = None;
            }
            streaming.outgoing = Some(Outgoing {
                token,
                index,
                highest,
                individual,
            });
            self.touch();
            return Some(OutgoingReport {
                token,
                streamer: index,
                bytes,
            });
        }
    }

    /// The last byte of a report went out. When it was the streamer's last report, the
    /// streamer goes idle (comm status 0) and rewinds to its ack.
    pub fn report_delivered(&mut self, token: u64) {
        let streaming = &mut self.ram.streaming;
        let Some(outgoing) = streaming.outgoing.take_if(|o| o.token == token) else {
            return;
        };
        if let Some(active) = streaming.active.front_mut() {
            active.cursor = active.cursor.max(outgoing.highest);
        }
        if outgoing.individual && outgoing.highest != 0 {
            // Realtime reports are not acknowledged by anyone: sent counts as received.
            let ack = self.flash.acks.entry(outgoing.index).or_insert(0);
            *ack = (*ack).max(outgoing.highest);
        }
        let more = self
            .ram
            .streaming
            .active
            .front()
            .is_some_and(|a| !self.pending_readings(a, 1).is_empty());
        if !more {
            self.finish_streamer(true);
        }
        self.touch();
    }

    /// Sends everything queued at once (for tests and tools without a radio): every report
    /// that open streaming produces now, each marked delivered.
    pub fn collect_reports(&mut self) -> Vec<OutgoingReport> {
        let mut out = Vec::new();
        while let Some(report) = self.next_report() {
            self.report_delivered(report.token);
            out.push(report);
        }
        out
    }

    // ----- RPC handlers -------------------------------------------------------------

    /// `0x2010`: triggers a streamer (and its "with" partners).
    pub(super) fn trigger_streamer(&mut self, index: u8) -> u32 {
        let count = self.ram.streaming.streamers.len() as u8;
        if index >= count {
            return codes::STREAMER_NOT_ALLOCATED;
        }
        if self.is_active(index) {
            return codes::STREAM_ALREADY_IN_PROGRESS;
        }
        let partners = (0..count).any(|p| {
            self.streamer(p)
                .is_some_and(|s| s.descriptor.trigger() == StreamerTrigger::WithStreamer(index))
                && !self.is_active(p)
                && self.streamer_has_data(p)
        });
        if !self.streamer_has_data(index) && !partners {
            return codes::STREAMER_HAS_NO_NEW_DATA;
        }
        self.ram.graph.marked.insert(index);
        self.process_streamers();
        0
    }

    /// `0x200F`: stores an acknowledgement (or forces one back) and seeks the streamer.
    pub(super) fn acknowledge_streamer(&mut self, index: u8, force: bool, id: u32) -> u32 {
        if usize::from(index) >= self.ram.streaming.streamers.len() {
            return codes::STREAMER_NOT_ALLOCATED;
        }
        let old = self.ack(index);
        if id != 0 {
            if id <= old && !force {
                return codes::OLD_ACKNOWLEDGE_UPDATE;
            }
            self.flash.acks.insert(index, id);
            if let Some(active) = self
                .ram
                .streaming
                .active
                .iter_mut()
                .find(|a| a.index == index)
            {
                active.cursor = active.cursor.max(id);
            }
        }
        self.seek_code(index, self.ack(index))
    }

    /// The result code of placing a streamer just after reading `id` (§4.5).
    fn seek_code(&self, index: u8, id: u32) -> u32 {
        let Some(streamer) = self.streamer(index) else {
            return codes::STREAMER_NOT_ALLOCATED;
        };
        let Some(area) = streamer.area() else {
            return errors::CANNOT_USE_UNBUFFERED_STREAM;
        };
        match self.flash.log.find(area, id) {
            Some(reading) if streamer.selects(reading.stream) => 0,
            Some(_) => codes::ID_FOUND_FOR_ANOTHER_STREAM,
            None => codes::NO_MORE_READINGS,
        }
    }

    /// `0x200A`: the 20-byte status, `None` for an unallocated index.
    pub(super) fn query_streamer(&self, index: u8) -> Option<Vec<u8>> {
        let streamer = self.streamer(index)?;
        let s = &streamer.status;
        let mut out = Vec::with_capacity(20);
        for word in [
            s.last_attempt_time,
            s.last_success_time,
            s.last_error,
            self.ack(index),
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&[s.last_status, s.attempt_number, s.comm_status, 0]);
        Some(out)
    }
}

/// The 24-bit length field bounds a signed list report.
struct SignedListReportMax;

impl SignedListReportMax {
    const BYTES: u32 = (1 << 24) - 1;
}
