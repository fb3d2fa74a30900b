//! Device reports: how readings leave a POD.
//!
//! | first byte | format | module |
//! |---|---|---|
//! | `0x00` | IndividualReadingReport: one realtime reading, unsigned | [`individual`] |
//! | `0x01` | SignedListReport: readings with ids, hashed or keyed | [`signed_list`] |
//! | `0x03` | BroadcastReport: readings taken from advertisements | [`broadcast`] |
//! | a msgpack map | FlexibleDictionaryReport (`format: "v100"`), readings and events | [`flexible`] |
//!
//! [`framing`] finds report boundaries in a continuous byte stream (BLE notifications).
//! Signed reports never expose readings unless they verify; the outcome is a
//! [`Verification`], never a silent pass.

pub mod broadcast;
pub mod flexible;
pub mod framing;
pub mod individual;
pub mod signed_list;

pub use broadcast::BroadcastReport;
pub use flexible::{FlexEvent, FlexReading, FlexibleDictionaryReport};
pub use framing::{frame_length, ReportFramer};
pub use individual::IndividualReport;
pub use signed_list::{SignedListHeader, SignedListReport, Signer};

/// The outcome of checking a signed report's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verification {
    /// The signature matches.
    Verified,
    /// Signed with a user or device key that the caller did not supply.
    NoKey,
    /// The signature does not match: the report is corrupt, tampered, or the key is wrong.
    Failed,
}

/// Why bytes are not a report. Every variant says where in the input the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("at byte 0: the input is empty")]
    Empty,
    #[error("at byte 0: unknown report format {0:#04x} (0 individual, 1 signed list, 3 broadcast, or a msgpack map)")]
    UnknownFormat(u8),
    #[error("at byte {have}: truncated {what}: it needs {need} bytes, the input has {have}")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("at byte {offset}: the header declares {declared} bytes but the input has {actual}")]
    LengthMismatch {
        offset: usize,
        declared: usize,
        actual: usize,
    },
    #[error("at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: String },
}

impl ReportError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> usize {
        match self {
            ReportError::Empty | ReportError::UnknownFormat(_) => 0,
            ReportError::Truncated { have, .. } => *have,
            ReportError::LengthMismatch { offset, .. } | ReportError::Malformed { offset, .. } => {
                *offset
            }
        }
    }

    pub(crate) fn malformed(offset: usize, reason: impl Into<String>) -> Self {
        ReportError::Malformed {
            offset,
            reason: reason.into(),
        }
    }
}

/// Any report a device or coretools produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Individual(IndividualReport),
    SignedList(SignedListReport),
    Broadcast(BroadcastReport),
    FlexibleDictionary(FlexibleDictionaryReport),
}

impl Report {
    /// Decodes one whole report, choosing the format from the first byte.
    pub fn decode(bytes: &[u8]) -> Result<Report, ReportError> {
        match bytes.first() {
            None => Err(ReportError::Empty),
            Some(&individual::FORMAT) => IndividualReport::decode(bytes).map(Report::Individual),
            Some(&signed_list::FORMAT) => SignedListReport::decode(bytes).map(Report::SignedList),
            Some(&broadcast::FORMAT) => BroadcastReport::decode(bytes).map(Report::Broadcast),
            Some(&first) if flexible::starts_like_map(first) => {
                FlexibleDictionaryReport::decode(bytes).map(Report::FlexibleDictionary)
            }
            Some(&first) => Err(ReportError::UnknownFormat(first)),
        }
    }

    /// The exact bytes of the report.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Report::Individual(r) => r.encode().to_vec(),
            Report::SignedList(r) => r.encode(),
            Report::Broadcast(r) => r.encode(),
            Report::FlexibleDictionary(r) => r.encode(),
        }
    }

    /// The reference implementation's class name for this format.
    pub fn kind(&self) -> &'static str {
        match self {
            Report::Individual(_) => "IndividualReadingReport",
            Report::SignedList(_) => "SignedListReport",
            Report::Broadcast(_) => "BroadcastReport",
            Report::FlexibleDictionary(_) => "FlexibleDictionaryReport",
        }
    }

    /// The device that produced the report.
    pub fn device_id(&self) -> u64 {
        match self {
            Report::Individual(r) => u64::from(r.device_id),
            Report::SignedList(r) => u64::from(r.header.device_id),
            Report::Broadcast(r) => u64::from(r.device_id),
            Report::FlexibleDictionary(r) => r.device_id(),
        }
    }
}

/// Checks the first byte of a binary report.
pub(crate) fn expect_format(bytes: &[u8], format: u8) -> Result<(), ReportError> {
    match bytes.first() {
        None => Err(ReportError::Empty),
        Some(&first) if first == format => Ok(()),
        Some(&other) => Err(ReportError::UnknownFormat(other)),
    }
}

/// Reads a little-endian u32 at `at`; callers have checked the length.
pub(crate) fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(slice) = bytes.get(at..at + 4) {
        word.copy_from_slice(slice);
    }
    u32::from_le_bytes(word)
}

/// Reads a little-endian u16 at `at`; callers have checked the length.
pub(crate) fn le_u16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some(&[low, high]) => u16::from_le_bytes([low, high]),
        _ => 0,
    }
}
