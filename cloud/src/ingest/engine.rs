//! The SignedListReport engine (spec 5.5, 5.6): which readings are new, their streams, times
//! and values, and the report's marker row. Pure: the caller reads the books before and
//! writes the rows and the books after.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sync_protocol::ids::{DeviceId, ProjectSlug, StreamSlug};
use sync_protocol::report::SignedListReport;
use sync_protocol::time::{boot_time, device_time_to_utc, DeviceTime, UtcTime};
use sync_protocol::{Reading, Verification};

use super::convert::{convert, StreamSettings};
use super::id_ranges::IdRanges;
use crate::store::data::NewDataRow;
use crate::store::events::NewEvent;

pub(crate) const MICROS: i64 = 1_000_000;
/// Reboot readings: used for timing, stored only by the system streamer.
pub const REBOOT_STREAM: u16 = 0x5C00;
/// OS and app version readings (spec 6.4).
pub const OS_VERSION_STREAM: u16 = 0x5C08;
pub const APP_VERSION_STREAM: u16 = 0x5C09;
/// Trip start and end: their value is Unix time.
const TRIP_STREAMS: [u16; 2] = [0x0E00, 0x0E01];
/// The report marker row's stream, and the one used when the report looks cut off.
pub const MARKER_STREAM: u16 = 0x5A05;
pub const CUT_MARKER_STREAM: u16 = 0x5A06;
/// A report this long (within 16 bytes) hit the device's size limit.
const CUT_OFF_LEN: usize = 196_608;
/// The system streamer's selector.
pub const SYSTEM_SELECTOR: u16 = 0x5FFF;
/// "No reboots": not accepted by this engine.
pub const NO_REBOOTS_SELECTOR: u16 = 0x57FF;

/// The streamer's previous processed report: the one with the largest `incremental_id` below
/// this one and `actual_last_id > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousReport {
    /// Its upload `timestamp`, microseconds UTC.
    pub sent_timestamp: i64,
    /// The device's uptime when it sent that report.
    pub device_sent_timestamp: u32,
}

/// What the books say before processing.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The device's current project.
    pub project_gid: u32,
    pub device_id: u64,
    pub streamer_index: u16,
    /// The streamer's selector (0x5FFF: the system streamer).
    pub selector: u16,
    /// The ids the cloud holds for this streamer, at least those around this report's: a
    /// reading is new when its id is not among them (and is not 0).
    pub held: &'a IdRanges,
    /// The upload's `?timestamp`, microseconds UTC.
    pub received: i64,
    pub previous: Option<PreviousReport>,
    /// Stream records by stream slug; a missing slug has no record.
    pub streams: &'a HashMap<String, StreamSettings>,
    /// The report's id: event documents are stored under keys derived from it.
    pub report_id: &'a str,
}

/// What processing produced, for the caller to store.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub data: Vec<NewDataRow>,
    pub events: Vec<NewEvent>,
    /// The first and last new reading ids (file order for signed lists, min and max over the
    /// file for flexible reports); `None` when nothing was new, which the books record as 0.
    pub actual_first_id: Option<u64>,
    pub actual_last_id: Option<u64>,
    /// The report's own lowest and highest ids.
    pub original_first_id: u64,
    pub original_last_id: u64,
    pub readings_in_file: usize,
    /// Readings (and events) whose id was not held, stored or dropped.
    pub new_count: usize,
    pub duplicate_count: usize,
    /// `received − sent_timestamp` (microseconds) when something was new and the sent
    /// timestamp is an uptime.
    pub last_reboot_ts: Option<i64>,
    /// Stored version readings: (stream, value, reading id, timestamp in microseconds).
    pub os_app_versions: Vec<(u16, u32, u64, i64)>,
    /// The ids the cloud holds once this report is stored (see [`signed_covers`] and
    /// `flexible::flexible_covers`), whether or not any of them was new.
    pub covers: IdRanges,
}

/// Whether a reading id is new against the ids held. Id 0 never is (the original's rule
/// `id > last_id` with `last_id` starting at 0).
pub(crate) fn is_new(ctx: &Context, id: u32) -> bool {
    id != 0 && !ctx.held.contains(u64::from(id))
}

/// The ids a signed list report covers: every id from its lowest to its highest reading
/// (ignoring 0). A streamer walks its readings in id order from a cursor and puts every
/// reading it selects into its reports until the report is full, so no reading of this
/// streamer between a report's first and last id can be missing from it; the ids in between
/// that it lacks belong to other streamers. Covering the whole span keeps the held set to
/// one interval per run of reports instead of one per gap between them.
pub fn signed_covers(readings: &[Reading]) -> IdRanges {
    let ids = readings
        .iter()
        .map(|r| u64::from(r.reading_id))
        .filter(|&id| id != 0);
    let span = ids.fold(None, |span: Option<(u64, u64)>, id| match span {
        Some((lo, hi)) => Some((lo.min(id), hi.max(id))),
        None => Some((id, id)),
    });
    IdRanges::from_ranges(span)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("streamer selector {0:#06x} (no reboots) is not supported")]
    UnsupportedSelector(u16),
    #[error("the report's readings cannot be read: {0:?}")]
    NotVerified(Verification),
    #[error("received time {0} is out of range")]
    ReceivedOutOfRange(i64),
}

/// A row's time status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Unk,
    Cln,
    Drt,
    Utc,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Unk => "unk",
            Status::Cln => "cln",
            Status::Drt => "drt",
            Status::Utc => "utc",
        }
    }
}

/// Stream slugs and records, looked up once per stream id rather than per reading.
pub(crate) struct Streams<'a> {
    project: ProjectSlug,
    device: DeviceId,
    pub(crate) device_slug: String,
    records: &'a HashMap<String, StreamSettings>,
    cache: HashMap<u16, (String, Option<&'a StreamSettings>)>,
}

impl<'a> Streams<'a> {
    pub(crate) fn new(ctx: &Context<'a>) -> Self {
        let device = DeviceId::new(ctx.device_id & DeviceId::MAX).unwrap_or_default();
        Streams {
            project: ProjectSlug::new(ctx.project_gid),
            device,
            device_slug: device.to_string(),
            records: ctx.streams,
            cache: HashMap::new(),
        }
    }

    /// The stream slug and record of stream `lid`.
    pub(crate) fn get(&mut self, lid: u16) -> (&str, Option<&'a StreamSettings>) {
        let (project, device, records) = (self.project, self.device, self.records);
        let (slug, record) = self.cache.entry(lid).or_insert_with(|| {
            let slug = StreamSlug::new(project, device, lid).to_string();
            let record = records.get(&slug);
            (slug, record)
        });
        (slug.as_str(), *record)
    }
}

/// `received` cut to whole seconds, as an instant.
pub(crate) fn received_time(received: i64) -> Result<DateTime<Utc>, EngineError> {
    DateTime::from_timestamp(received.div_euclid(MICROS), 0)
        .ok_or(EngineError::ReceivedOutOfRange(received))
}

/// Verifies a hash-signed report and processes it. Keyed reports are decrypted by the caller,
/// which then calls [`process_signed_readings`].
pub fn process_signed_list(
    report: &SignedListReport,
    ctx: &Context,
) -> Result<Outcome, EngineError> {
    let readings = report.readings(None).map_err(EngineError::NotVerified)?;
    process_signed_readings(report, &readings, ctx)
}

/// A new reading with its time being worked out (seconds).
struct Placed<'r> {
    reading: &'r Reading,
    ts: i64,
    status: Status,
}

/// Processes the verified `readings` of `report`.
pub fn process_signed_readings(
    report: &SignedListReport,
    readings: &[Reading],
    ctx: &Context,
) -> Result<Outcome, EngineError> {
    let header = &report.header;
    for selector in [header.selector, ctx.selector] {
        if selector == NO_REBOOTS_SELECTOR {
            return Err(EngineError::UnsupportedSelector(selector));
        }
    }
    let received = received_time(ctx.received)?;
    let received_s = received.timestamp();
    let anchor = boot_time(header.sent_timestamp, received).map(|t| t.timestamp());

    let mut placed = Vec::with_capacity(readings.len());
    for reading in readings {
        if is_new(ctx, reading.reading_id) {
            let (ts, status) = first_guess(reading, header.sent_timestamp, received);
            placed.push(Placed {
                reading,
                ts,
                status,
            });
        }
    }
    if !placed.is_empty() {
        fix_up_reboots(&mut placed, anchor, received_s);
        if let Some(previous) = ctx.previous {
            repair_first_segment(&mut placed, previous, received_s);
        }
    }

    let mut streams = Streams::new(ctx);
    let system = ctx.selector == SYSTEM_SELECTOR;
    let mut out = Outcome {
        data: Vec::with_capacity(placed.len() + 1),
        actual_first_id: placed.first().map(|p| u64::from(p.reading.reading_id)),
        actual_last_id: placed.last().map(|p| u64::from(p.reading.reading_id)),
        original_first_id: u64::from(report.lowest_id),
        original_last_id: u64::from(report.highest_id),
        readings_in_file: readings.len(),
        new_count: placed.len(),
        duplicate_count: readings.len() - placed.len(),
        covers: signed_covers(readings),
        ..Outcome::default()
    };
    for p in &placed {
        let r = p.reading;
        if r.stream == REBOOT_STREAM && !system {
            continue;
        }
        let (slug, record) = streams.get(r.stream);
        if record.is_some_and(|s| !s.enabled) {
            continue;
        }
        let (value, kind) = convert(i64::from(r.value), record);
        let timestamp = p.ts * MICROS;
        if matches!(r.stream, OS_VERSION_STREAM | APP_VERSION_STREAM) {
            let id = u64::from(r.reading_id);
            out.os_app_versions.push((r.stream, r.value, id, timestamp));
        }
        out.data.push(NewDataRow {
            stream_slug: slug.to_string(),
            device_slug: streams.device_slug.clone(),
            device_timestamp: Some(i64::from(r.raw_time)),
            timestamp,
            streamer_local_id: i64::from(r.reading_id),
            dirty_ts: p.status == Status::Drt,
            status: p.status.as_str().into(),
            kind: kind.into(),
            value: Some(value),
            int_value: Some(i64::from(r.value)),
        });
    }
    if !placed.is_empty() {
        let lid = if report.len().abs_diff(CUT_OFF_LEN) <= 16 {
            CUT_MARKER_STREAM
        } else {
            MARKER_STREAM
        };
        let (slug, _) = streams.get(lid);
        out.data.push(NewDataRow {
            stream_slug: slug.to_string(),
            device_slug: streams.device_slug.clone(),
            device_timestamp: Some(i64::from(header.sent_timestamp)),
            timestamp: received_s * MICROS,
            streamer_local_id: i64::from(header.report_id),
            dirty_ts: false,
            status: Status::Cln.as_str().into(),
            kind: "Num".into(),
            value: Some(f64::from(ctx.streamer_index)),
            int_value: Some(i64::from(ctx.streamer_index)),
        });
        out.last_reboot_ts = anchor.map(|base| base * MICROS);
    }
    Ok(out)
}

fn is_trip(stream: u16) -> bool {
    TRIP_STREAMS.contains(&stream)
}

/// The first time of a reading (spec 5.6): trip rows carry Unix time in their value, RTC rows
/// are exact, uptime rows hang from the report's anchor; unknown times are placed later.
fn first_guess(reading: &Reading, sent: u32, received: DateTime<Utc>) -> (i64, Status) {
    if is_trip(reading.stream) {
        return (i64::from(reading.value), Status::Utc);
    }
    match device_time_to_utc(reading.raw_time, sent, received) {
        UtcTime::Rtc(t) => (t.timestamp(), Status::Utc),
        UtcTime::FromUptime(t) => (t.timestamp(), Status::Cln),
        UtcTime::Unknown => (received.timestamp(), Status::Drt),
    }
}

/// The reboot fix-up: walking from the last row to the first, each boot segment before the
/// newest is placed so that its last reading falls one second before the next segment starts,
/// and marked dirty. Unknown times (0xFFFFFFFF) take the time of the row after them, dirty.
/// Without an uptime anchor (an RTC-flagged sent timestamp) the newest uptime reading is put
/// at the received time and every uptime row is dirty.
fn fix_up_reboots(rows: &mut [Placed], anchor: Option<i64>, received_s: i64) {
    let mut clean = anchor.is_some();
    let mut base = Some(anchor.unwrap_or_else(|| received_s - newest_uptime(rows)));
    let mut end_of_block = received_s;
    let mut later = received_s;
    for row in rows.iter_mut().rev() {
        if is_trip(row.reading.stream) {
            continue;
        }
        match DeviceTime::from_raw(row.reading.raw_time) {
            DeviceTime::Rtc(_) => continue,
            DeviceTime::Uptime(t) => {
                let b = *base.get_or_insert(end_of_block - i64::from(t));
                row.ts = b + i64::from(t);
                row.status = if clean { Status::Cln } else { Status::Drt };
            }
            DeviceTime::Unknown => {
                row.ts = later;
                row.status = Status::Drt;
            }
        }
        later = row.ts;
        if row.reading.stream == REBOOT_STREAM {
            clean = false;
            end_of_block = base.unwrap_or(later) - 1;
            base = None;
        }
    }
}

/// The largest uptime after the last reboot (0 if none).
fn newest_uptime(rows: &[Placed]) -> i64 {
    let mut newest = 0;
    for row in rows.iter().rev() {
        if !is_trip(row.reading.stream) {
            if let DeviceTime::Uptime(t) = DeviceTime::from_raw(row.reading.raw_time) {
                newest = newest.max(i64::from(t));
            }
        }
        if row.reading.stream == REBOOT_STREAM {
            break;
        }
    }
    newest
}

/// Whether the walk re-times this row (and so whether a reboot row splits segments).
fn walked(row: &Placed) -> bool {
    !is_trip(row.reading.stream)
        && !matches!(
            DeviceTime::from_raw(row.reading.raw_time),
            DeviceTime::Rtc(_)
        )
}

/// The left-most segment repair: rows before the first reboot, left dirty by the walk, are
/// placed from the previous report's anchor instead and become clean.
fn repair_first_segment(rows: &mut [Placed], previous: PreviousReport, received_s: i64) {
    let end = rows
        .iter()
        .position(|row| walked(row) && row.reading.stream == REBOOT_STREAM)
        .unwrap_or(rows.len());
    let (segment, rest) = rows.split_at_mut(end);
    let first_dirty = segment
        .iter()
        .find(|row| walked(row))
        .is_some_and(|row| row.status == Status::Drt);
    if !first_dirty {
        return;
    }
    let Some(previous_sent) =
        DateTime::from_timestamp(previous.sent_timestamp.div_euclid(MICROS), 0)
    else {
        return;
    };
    let Some(base) = boot_time(previous.device_sent_timestamp, previous_sent) else {
        return;
    };
    let base = base.timestamp();
    let mut later = rest.first().map_or(received_s, |row| row.ts);
    for row in segment.iter_mut().rev() {
        if !walked(row) {
            continue;
        }
        match DeviceTime::from_raw(row.reading.raw_time) {
            DeviceTime::Uptime(t) => {
                row.ts = base + i64::from(t);
                row.status = Status::Cln;
            }
            _ => row.ts = later,
        }
        later = row.ts;
    }
}
