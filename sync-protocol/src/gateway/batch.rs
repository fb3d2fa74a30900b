//! The sync batch a gateway uploads (raw reports, JSON) and the cloud's answer.
//!
//! Results answer reports in order: `results[i]` is the outcome of `reports[i]`. A report
//! seen before is `duplicate`, not an error, so a retried batch is harmless. `cloud_has`
//! tells the gateway, per (device, streamer), an id up to which the cloud holds every reading
//! the POD still keeps, which is what the `cloud` acknowledgement policy passes on to the POD.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::backlog::Backlog;
use crate::ids::DeviceId;

/// The most reports in one batch.
pub const MAX_BATCH_REPORTS: usize = 1000;
/// The largest raw report accepted, in bytes (a signed list report of about 4000 readings).
pub const MAX_REPORT_BYTES: usize = 64 * 1024;
/// The most raw bytes in one batch, summed over its reports.
pub const MAX_BATCH_RAW_BYTES: usize = 4 * 1024 * 1024;
/// The largest batch body a receiver needs to read: base64 grows raw bytes by 4/3, plus
/// room for the other fields of every report.
pub const MAX_BATCH_BODY_BYTES: usize = MAX_BATCH_RAW_BYTES / 3 * 4 + MAX_BATCH_REPORTS * 256;

/// The body of an upload. A batch may hold no report: it then only tells the cloud the
/// gateway's backlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncBatch {
    pub reports: Vec<BatchReport>,
    /// What the gateway still holds once this batch is accepted; absent when the gateway
    /// does not say (its version predates the field). See [`super::backlog`] for which
    /// gateways and clouds understand each other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog: Option<Backlog>,
}

/// One raw report as the gateway received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchReport {
    pub device: DeviceId,
    /// The streamer index on the device.
    pub streamer: u16,
    /// When the gateway received the report from the POD: UTC unix microseconds. The cloud
    /// anchors device time on it.
    pub received_at_us: i64,
    /// The report bytes exactly as the POD sent them, base64 in JSON.
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub raw: Vec<u8>,
}

/// Why a batch breaks the size limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("the batch has {0} reports, the limit is {MAX_BATCH_REPORTS}")]
    TooManyReports(usize),
    #[error("report {index} is {len} bytes, the limit is {MAX_REPORT_BYTES}")]
    ReportTooLarge { index: usize, len: usize },
    #[error("report {0} is empty")]
    EmptyReport(usize),
    #[error("the batch holds {0} raw bytes, the limit is {MAX_BATCH_RAW_BYTES}")]
    TooManyBytes(usize),
    #[error("the backlog does not add up: {0}")]
    Backlog(String),
}

impl SyncBatch {
    /// Checks the size limits and the backlog's figures, which both sides apply: the
    /// gateway when it builds a batch, the cloud when it receives one.
    pub fn check_limits(&self) -> Result<(), BatchError> {
        if let Some(backlog) = &self.backlog {
            backlog.check()?;
        }
        if self.reports.len() > MAX_BATCH_REPORTS {
            return Err(BatchError::TooManyReports(self.reports.len()));
        }
        let mut total = 0usize;
        for (index, report) in self.reports.iter().enumerate() {
            let len = report.raw.len();
            if len == 0 {
                return Err(BatchError::EmptyReport(index));
            }
            if len > MAX_REPORT_BYTES {
                return Err(BatchError::ReportTooLarge { index, len });
            }
            total = total.saturating_add(len);
        }
        if total > MAX_BATCH_RAW_BYTES {
            return Err(BatchError::TooManyBytes(total));
        }
        Ok(())
    }
}

/// The cloud's answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncAnswer {
    /// One outcome per report, in the batch's order.
    pub results: Vec<ReportOutcome>,
    /// For each (device, streamer) in the batch, the highest reading id the cloud holds
    /// (counting this batch's stored reports): every reading up to it that the POD still
    /// keeps is in the cloud, though ids the POD freed earlier may still be on their way.
    pub cloud_has: Vec<StreamerProgress>,
}

/// What the cloud did with one report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReportOutcome {
    /// Stored; its readings will be ingested.
    Accepted,
    /// Already stored before: nothing to do, the gateway may mark it synced.
    Duplicate,
    /// Refused for good (bad signature, unknown device, malformed); retrying will not help.
    Rejected { reason: String },
}

/// The cloud's progress on one streamer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamerProgress {
    pub device: DeviceId,
    pub streamer: u16,
    pub last_id: u32,
}

fn to_base64<S: Serializer>(raw: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&STANDARD.encode(raw))
}

fn from_base64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    // Refuse before decoding so a hostile body cannot make one huge allocation.
    if text.len() > MAX_REPORT_BYTES / 3 * 4 + 4 {
        return Err(serde::de::Error::custom(format!(
            "raw report larger than {MAX_REPORT_BYTES} bytes"
        )));
    }
    STANDARD
        .decode(text.as_bytes())
        .map_err(serde::de::Error::custom)
}
