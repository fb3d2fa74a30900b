//! The FlexibleDictionaryReport engine (spec 5.7): events, then data, whose id the cloud does
//! not hold yet. No reboot handling and no marker row.

use sync_protocol::report::flexible::MsgpackAsJson;
use sync_protocol::report::FlexibleDictionaryReport;
use sync_protocol::time::{device_time_to_utc, DeviceTime, UtcTime, UNKNOWN_TIME};

use super::convert::convert;
use super::engine::{
    is_new, received_time, Context, EngineError, Outcome, Status, Streams, APP_VERSION_STREAM,
    MICROS, OS_VERSION_STREAM,
};
use super::id_ranges::IdRanges;
use crate::event_documents::report_key;
use crate::store::data::NewDataRow;
use crate::store::events::NewEvent;

/// Processes a decoded flexible dictionary report (`.mp` or `.json`).
pub fn process_flexible(
    report: &FlexibleDictionaryReport,
    ctx: &Context,
) -> Result<Outcome, EngineError> {
    let received = received_time(ctx.received)?;
    let sent = u32::try_from(report.sent_timestamp()).unwrap_or(UNKNOWN_TIME);
    // The fallback for items with no time: RTC, else received − sent + device time.
    let fallback = |raw: u32| match device_time_to_utc(raw, sent, received) {
        UtcTime::Rtc(t) | UtcTime::FromUptime(t) => t.timestamp() * MICROS,
        UtcTime::Unknown => received.timestamp() * MICROS,
    };
    let item_time =
        |text: &Option<String>| text.as_deref().and_then(|s| crate::time::parse(s, false));

    let (events, readings) = (report.events(), report.readings());
    let ids = events
        .iter()
        .map(|e| e.reading_id)
        .chain(readings.iter().map(|r| r.reading_id));
    let (lowest, highest) = ids.fold((u32::MAX, 0), |(lo, hi), id| (lo.min(id), hi.max(id)));
    let mut streams = Streams::new(ctx);
    let mut out = Outcome {
        original_first_id: report.lowest_id().unwrap_or(0),
        original_last_id: report.highest_id().unwrap_or(0),
        readings_in_file: events.len() + readings.len(),
        covers: flexible_covers(report),
        ..Outcome::default()
    };

    let new_events = events.iter().filter(|e| is_new(ctx, e.reading_id)).count();
    let new_readings = readings
        .iter()
        .filter(|r| is_new(ctx, r.reading_id))
        .count();
    out.new_count = new_events + new_readings;
    out.duplicate_count = out.readings_in_file - out.new_count;
    out.events.reserve(new_events);
    for (n, e) in events
        .iter()
        .enumerate()
        .filter(|(_, e)| is_new(ctx, e.reading_id))
    {
        let timestamp = match DeviceTime::from_raw(e.raw_time) {
            DeviceTime::Rtc(_) => fallback(e.raw_time),
            _ => item_time(&e.timestamp).unwrap_or_else(|| fallback(e.raw_time)),
        };
        let slug = streams.get(e.stream).0.to_string();
        // The same test as `event_documents`, so a key is set only for a stored object.
        let raw_key = json_text(MsgpackAsJson(&e.raw)).map(|_| report_key(&slug, ctx.report_id, n));
        out.events.push(NewEvent {
            stream_slug: slug,
            device_slug: streams.device_slug.clone(),
            device_timestamp: Some(i64::from(e.raw_time)),
            timestamp,
            streamer_local_id: i64::from(e.reading_id),
            extra_data: json_text(MsgpackAsJson(&e.summary)).unwrap_or_else(|| "{}".into()),
            raw_key,
        });
    }

    out.data.reserve(new_readings);
    for r in readings.iter().filter(|r| is_new(ctx, r.reading_id)) {
        let (slug, record) = streams.get(r.stream);
        if record.is_some_and(|s| !s.enabled) {
            continue;
        }
        let timestamp = item_time(&r.timestamp).unwrap_or_else(|| fallback(r.raw_time));
        let (value, kind) = convert(r.value, record);
        if matches!(r.stream, OS_VERSION_STREAM | APP_VERSION_STREAM) {
            if let Ok(word) = u32::try_from(r.value) {
                let id = u64::from(r.reading_id);
                out.os_app_versions.push((r.stream, word, id, timestamp));
            }
        }
        out.data.push(NewDataRow {
            stream_slug: slug.to_string(),
            device_slug: streams.device_slug.clone(),
            device_timestamp: Some(i64::from(r.raw_time)),
            timestamp,
            streamer_local_id: i64::from(r.reading_id),
            dirty_ts: false,
            status: Status::Unk.as_str().into(),
            kind: kind.into(),
            value: Some(value),
            int_value: Some(r.value),
        });
    }

    if out.new_count > 0 {
        out.actual_first_id = Some(u64::from(lowest));
        out.actual_last_id = Some(u64::from(highest));
    }
    Ok(out)
}

/// The ids a dictionary report covers: exactly its items' ids (ignoring 0). Unlike a signed
/// list, nothing in the format says it holds every reading of its streamer between its
/// lowest and highest id (software assembles it from any items), so the gaps stay open.
pub fn flexible_covers(report: &FlexibleDictionaryReport) -> IdRanges {
    let events = report.events().iter().map(|e| e.reading_id);
    let data = report.readings().iter().map(|r| r.reading_id);
    IdRanges::from_ids(events.chain(data).filter(|&id| id != 0).map(u64::from))
}

/// The documents of the events `process_flexible` would store against `ctx`, as (object
/// key, JSON text): the caller stores them before it writes the rows that name them.
pub fn event_documents(report: &FlexibleDictionaryReport, ctx: &Context) -> Vec<(String, String)> {
    let mut streams = Streams::new(ctx);
    report
        .events()
        .iter()
        .enumerate()
        .filter(|(_, e)| is_new(ctx, e.reading_id))
        .filter_map(|(n, e)| {
            let text = json_text(MsgpackAsJson(&e.raw))?;
            let (slug, _) = streams.get(e.stream);
            Some((report_key(slug, ctx.report_id, n), text))
        })
        .collect()
}

/// A msgpack value as compact JSON text; `None` for nil.
fn json_text(value: MsgpackAsJson) -> Option<String> {
    serde_json::to_string(&value)
        .ok()
        .filter(|text| text != "null")
}
