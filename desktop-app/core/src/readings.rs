//! A POD's recent readings from what this laptop collected, for the device page: read from
//! the buffer's raw reports, with device time turned into UTC by the one function every
//! part of the system uses. Reports signed with a POD key are encrypted; only the cloud
//! can read those, and the page says so.

use std::collections::BTreeMap;

use chrono::DateTime;
use gateway::buffer::NewReport;
use serde::Serialize;
use sync_protocol::report::{SignedListReport, Verification};
use sync_protocol::stream::DataStream;
use sync_protocol::time::device_time_to_utc;

/// One stream's readings, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StreamReadings {
    /// The stream as the POD names it (`5001`, hex).
    pub stream: String,
    /// The stream in words (`output 1`, `system output 1024`).
    pub name: String,
    /// Unix milliseconds; None where the time cannot be known.
    #[cfg_attr(feature = "specta", specta(type = Vec<Option<u32>>))]
    pub at_ms: Vec<Option<i64>>,
    pub values: Vec<u32>,
}

/// What the buffer holds of a POD.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DeviceReadings {
    pub streams: Vec<StreamReadings>,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub reports: u64,
    /// Reports only the cloud can read.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub encrypted_reports: u64,
    /// When the newest report was received (Unix milliseconds).
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub last_collected_ms: Option<i64>,
}

/// The readings of `reports` (newest first, as the buffer gives them).
pub fn from_reports(reports: &[NewReport]) -> DeviceReadings {
    let mut out = DeviceReadings {
        reports: reports.len() as u64,
        last_collected_ms: reports.first().map(|r| r.received_at_us / 1000),
        ..DeviceReadings::default()
    };
    // Per stream, by reading id, so a report received twice shows once.
    let mut streams: BTreeMap<u16, BTreeMap<u32, (Option<i64>, u32)>> = BTreeMap::new();
    for report in reports {
        let Ok(decoded) = SignedListReport::decode(&report.raw) else {
            continue;
        };
        let readings = match decoded.readings(None) {
            Ok(readings) => readings,
            Err(Verification::NoKey) => {
                out.encrypted_reports += 1;
                continue;
            }
            Err(_) => continue,
        };
        let received = DateTime::from_timestamp_micros(report.received_at_us).unwrap_or_default();
        for r in readings {
            let at = device_time_to_utc(r.raw_time, decoded.header.sent_timestamp, received)
                .instant()
                .map(|t| t.timestamp_millis());
            streams
                .entry(r.stream)
                .or_default()
                .insert(r.reading_id, (at, r.value));
        }
    }
    for (stream, rows) in streams {
        let mut rows: Vec<(Option<i64>, u32)> = rows.into_values().collect();
        rows.sort_by_key(|(at, _)| *at);
        out.streams.push(StreamReadings {
            stream: format!("{stream:04x}"),
            name: DataStream::from_code(stream)
                .map_or_else(|_| "unknown stream".to_string(), |s| s.to_string()),
            at_ms: rows.iter().map(|(at, _)| *at).collect(),
            values: rows.iter().map(|(_, v)| *v).collect(),
        });
    }
    out
}
