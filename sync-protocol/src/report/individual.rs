//! IndividualReadingReport (format 0): one realtime reading, 20 bytes, unsigned, no reading id.
//!
//! ```text
//! 0 u8 format=0 | 1 u8 reserved | 2 u16 stream | 4 u32 uuid | 8 u32 sent_timestamp
//! 12 u32 raw_time | 16 u32 value
//! ```
//! Never uploaded to the cloud: without a reading id it cannot be deduplicated.

use super::{expect_format, le_u16, le_u32, ReportError};
use crate::reading::Reading;

pub(crate) const FORMAT: u8 = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IndividualReport {
    pub device_id: u32,
    pub stream: u16,
    /// coretools writes 0 here.
    pub sent_timestamp: u32,
    pub raw_time: u32,
    pub value: u32,
    /// Byte 1, ignored by every decoder; kept so the report re-encodes exactly.
    pub reserved: u8,
}

impl IndividualReport {
    pub const LEN: usize = 20;

    pub fn new(device_id: u32, reading: Reading, sent_timestamp: u32) -> Self {
        IndividualReport {
            device_id,
            stream: reading.stream,
            sent_timestamp,
            raw_time: reading.raw_time,
            value: reading.value,
            reserved: 0,
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ReportError> {
        expect_format(bytes, FORMAT)?;
        if bytes.len() < Self::LEN {
            return Err(ReportError::Truncated {
                what: "individual report",
                need: Self::LEN,
                have: bytes.len(),
            });
        }
        if bytes.len() > Self::LEN {
            return Err(ReportError::LengthMismatch {
                offset: Self::LEN,
                declared: Self::LEN,
                actual: bytes.len(),
            });
        }
        Ok(IndividualReport {
            reserved: bytes[1],
            stream: le_u16(bytes, 2),
            device_id: le_u32(bytes, 4),
            sent_timestamp: le_u32(bytes, 8),
            raw_time: le_u32(bytes, 12),
            value: le_u32(bytes, 16),
        })
    }

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = FORMAT;
        out[1] = self.reserved;
        out[2..4].copy_from_slice(&self.stream.to_le_bytes());
        out[4..8].copy_from_slice(&self.device_id.to_le_bytes());
        out[8..12].copy_from_slice(&self.sent_timestamp.to_le_bytes());
        out[12..16].copy_from_slice(&self.raw_time.to_le_bytes());
        out[16..20].copy_from_slice(&self.value.to_le_bytes());
        out
    }

    /// The reading, with reading id 0.
    pub fn reading(&self) -> Reading {
        Reading {
            stream: self.stream,
            reading_id: 0,
            raw_time: self.raw_time,
            value: self.value,
        }
    }
}
