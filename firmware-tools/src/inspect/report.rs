//! The view of a report: every header field, the verification outcome, and the readings and
//! events a reader may see (none unless a signed report verifies).

use std::fmt::Write as _;

use serde::Serialize;
use sync_protocol::auth::{RootKey, SignatureFlags};
use sync_protocol::ids::DeviceId;
use sync_protocol::report::flexible::MsgpackAsJson;
use sync_protocol::report::{FlexEvent, Report, Verification};
use sync_protocol::time::DeviceTime;
use sync_protocol::{DataStream, Reading, StreamSelector};

use super::{sha256_hex, Outcome};

/// Keys that may open a signed report.
#[derive(Debug, Default, Clone)]
pub struct Keys {
    pub user_key: Option<RootKey>,
    pub device_key: Option<RootKey>,
}

/// A decoded report, ready to print.
#[derive(Debug, Serialize)]
pub struct ReportView {
    pub kind: &'static str,
    pub format: serde_json::Value,
    pub length: usize,
    pub sha256: String,
    pub device_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_timestamp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streamer: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_flags: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readings_encrypted: Option<bool>,
    /// Only signed reports have it; false unless the signature was checked and matches (as
    /// the reference says when it has no key), with the reason in `verification`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// `verified`, `failed` (signature does not match) or `no_key` (signed with a key that was
    /// not given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lowest_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highest_id: Option<u64>,
    /// Left out when a signed report does not verify: its readings are not trusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readings: Option<Vec<ReadingView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
    #[serde(skip)]
    pub outcome: Outcome,
    #[serde(skip)]
    pub outcome_detail: Option<Verification>,
}

#[derive(Debug, Serialize)]
pub struct ReadingView {
    pub stream: u16,
    pub stream_hex: String,
    /// Individual reports carry no reading id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reading_id: Option<u32>,
    pub raw_time: u32,
    pub value: i64,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub stream: u16,
    pub reading_id: u32,
    pub raw_time: u32,
    pub summary_data: serde_json::Value,
    pub raw_data: serde_json::Value,
}

impl ReportView {
    pub fn new(bytes: &[u8], report: &Report, keys: &Keys) -> Self {
        let mut view = ReportView {
            kind: report.kind(),
            format: serde_json::Value::Null,
            length: bytes.len(),
            sha256: sha256_hex(bytes),
            device_id: report.device_id(),
            report_id: None,
            sent_timestamp: None,
            selector: None,
            streamer: None,
            signature_flags: None,
            readings_encrypted: None,
            verified: None,
            lowest_id: None,
            highest_id: None,
            readings: None,
            events: None,
            outcome: Outcome::Good,
            verification: None,
            outcome_detail: None,
        };
        match report {
            Report::Individual(r) => {
                view.format = 0.into();
                view.sent_timestamp = Some(r.sent_timestamp.into());
                view.readings = Some(vec![reading_view(&r.reading(), false)]);
            }
            Report::Broadcast(r) => {
                view.format = 3.into();
                view.sent_timestamp = Some(r.sent_timestamp.into());
                view.readings = Some(r.readings().iter().map(|r| reading_view(r, true)).collect());
            }
            Report::SignedList(r) => {
                view.format = 1.into();
                view.report_id = Some(r.header.report_id.into());
                view.sent_timestamp = Some(r.header.sent_timestamp.into());
                view.selector = Some(r.header.selector.into());
                view.streamer = Some(r.header.streamer.into());
                view.signature_flags = Some(r.flags.byte());
                view.readings_encrypted = r.flags.encrypted().then_some(true);
                view.lowest_id = Some(r.lowest_id.into());
                view.highest_id = Some(r.highest_id.into());
                let key = match r.flags {
                    SignatureFlags::Hash => None,
                    SignatureFlags::UserKey => keys.user_key.as_ref(),
                    SignatureFlags::DeviceKey => keys.device_key.as_ref(),
                };
                let readings = r.readings(key);
                let verification = readings
                    .as_ref()
                    .err()
                    .copied()
                    .unwrap_or(Verification::Verified);
                view.outcome_detail = Some(verification);
                view.verified = Some(verification == Verification::Verified);
                view.verification = Some(match verification {
                    Verification::Verified => "verified",
                    Verification::Failed => "failed",
                    Verification::NoKey => "no_key",
                });
                if verification != Verification::Verified {
                    view.outcome = Outcome::NotVerified;
                }
                view.readings = readings
                    .ok()
                    .map(|list| list.iter().map(|r| reading_view(r, true)).collect());
            }
            Report::FlexibleDictionary(r) => {
                view.format = sync_protocol::report::flexible::FORMAT_TAG.into();
                view.report_id = Some(r.report_id());
                view.sent_timestamp = Some(r.sent_timestamp());
                view.selector = r.selector();
                view.streamer = r.streamer();
                view.lowest_id = r.lowest_id();
                view.highest_id = r.highest_id();
                view.readings = Some(
                    r.readings()
                        .iter()
                        .map(|r| ReadingView {
                            stream: r.stream,
                            stream_hex: format!("{:04x}", r.stream),
                            reading_id: Some(r.reading_id),
                            raw_time: r.raw_time,
                            value: r.value,
                        })
                        .collect(),
                );
                view.events = Some(r.events().iter().map(event_view).collect());
            }
        }
        view
    }

    /// A readable summary and a table of readings and events.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} ({} bytes, sha256 {})",
            self.kind,
            self.length,
            &self.sha256[..16]
        );
        let device = DeviceId::new(self.device_id)
            .map(|d| d.to_string())
            .unwrap_or_default();
        let _ = writeln!(out, "  device          {device} ({})", self.device_id);
        if let Some(id) = self.report_id {
            let _ = writeln!(out, "  report id       {id}");
        }
        if let Some(sent) = self.sent_timestamp {
            let _ = writeln!(
                out,
                "  sent            {}",
                u32::try_from(sent).map_or(sent.to_string(), time_text)
            );
        }
        if let (Some(streamer), Some(selector)) = (self.streamer, self.selector) {
            // coretools writes 0xFFFF when a report has no selector.
            let text = match u16::try_from(selector) {
                Ok(0xFFFF) | Err(_) => "none".to_string(),
                Ok(code) => StreamSelector::from_code(code).to_string(),
            };
            let _ = writeln!(
                out,
                "  streamer        {streamer}, selector {selector:#06x} ({text})"
            );
        }
        if let Some(flags) = self.signature_flags {
            let scheme = match flags {
                0 => "sha-256 hash only",
                1 => "user key (readings encrypted)",
                _ => "device key (readings encrypted)",
            };
            let outcome = match self.outcome_detail {
                Some(Verification::Verified) => "verified",
                Some(Verification::Failed) => "FAILED: signature does not match",
                Some(Verification::NoKey) => "not checked: no key given (--user-key/--device-key)",
                None => "",
            };
            let _ = writeln!(out, "  signature       {scheme}: {outcome}");
        }
        if let (Some(low), Some(high)) = (self.lowest_id, self.highest_id) {
            let _ = writeln!(out, "  reading ids     {low} ..= {high}");
        }
        match &self.readings {
            None => {
                let _ = writeln!(out, "  readings        hidden (the report is not verified)");
            }
            Some(readings) => {
                let _ = writeln!(out, "  readings        {}", readings.len());
                if !readings.is_empty() {
                    let _ = writeln!(
                        out,
                        "\n  {:<26} {:>10}  {:<34} {:>12}",
                        "stream", "reading id", "time", "value"
                    );
                }
                for r in readings {
                    let id = r
                        .reading_id
                        .map(|id| id.to_string())
                        .unwrap_or_else(|| "-".into());
                    let _ = writeln!(
                        out,
                        "  {:<26} {:>10}  {:<34} {:>12}",
                        stream_text(r.stream),
                        id,
                        time_text(r.raw_time),
                        r.value
                    );
                }
            }
        }
        if let Some(events) = &self.events {
            let _ = writeln!(out, "  events          {}", events.len());
            for e in events {
                let _ = writeln!(
                    out,
                    "  {:<26} {:>10}  {:<34} {}",
                    stream_text(e.stream),
                    e.reading_id,
                    time_text(e.raw_time),
                    e.summary_data
                );
            }
        }
        out
    }
}

fn reading_view(reading: &Reading, with_id: bool) -> ReadingView {
    ReadingView {
        stream: reading.stream,
        stream_hex: format!("{:04x}", reading.stream),
        reading_id: with_id.then_some(reading.reading_id),
        raw_time: reading.raw_time,
        value: reading.value.into(),
    }
}

fn event_view(event: &FlexEvent) -> EventView {
    let json = |v| serde_json::to_value(MsgpackAsJson(v)).unwrap_or(serde_json::Value::Null);
    EventView {
        stream: event.stream,
        reading_id: event.reading_id,
        raw_time: event.raw_time,
        summary_data: json(&event.summary),
        raw_data: json(&event.raw),
    }
}

fn stream_text(code: u16) -> String {
    match DataStream::from_code(code) {
        Ok(stream) => format!("{code:04x} {stream}"),
        Err(_) => format!("{code:04x} (undefined type)"),
    }
}

fn time_text(raw: u32) -> String {
    match DeviceTime::from_raw(raw) {
        DeviceTime::Rtc(seconds) => sync_protocol::time::rtc_to_utc(seconds)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ (clock)").to_string())
            .unwrap_or_default(),
        DeviceTime::Uptime(seconds) => format!("uptime {seconds} s"),
        DeviceTime::Unknown => "unknown".into(),
    }
}
