//! BroadcastReport (format 3): coretools' envelope for readings taken from BLE
//! advertisements, so they flow through the same pipeline as streamed reports.
//!
//! ```text
//! 0 u8 format=3 | 1 u8 auth type (0 = none) | 2 u16 reading area length | 4 u32 uuid
//! 8 u32 sent_timestamp | 12 u32 reserved | 16 reading records (16 bytes each)
//! ```

use super::{expect_format, le_u16, le_u32, ReportError};
use crate::reading::{read_area, Reading};

pub(crate) const FORMAT: u8 = 3;
const HEADER_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BroadcastReport {
    pub device_id: u32,
    /// The device time taken from the advertisement.
    pub sent_timestamp: u32,
    /// Bytes 12..16, reserved; kept so the report re-encodes exactly.
    pub reserved: u32,
    area: Vec<u8>,
}

impl BroadcastReport {
    /// Builds an unauthenticated broadcast report.
    pub fn new(
        device_id: u32,
        sent_timestamp: u32,
        readings: &[Reading],
    ) -> Result<Self, ReportError> {
        let mut area = Vec::with_capacity(readings.len() * Reading::RECORD_LEN);
        for reading in readings {
            reading.write_record(&mut area);
        }
        if u16::try_from(area.len()).is_err() {
            return Err(ReportError::malformed(
                2,
                format!(
                    "{} readings do not fit in a broadcast report",
                    readings.len()
                ),
            ));
        }
        Ok(BroadcastReport {
            device_id,
            sent_timestamp,
            reserved: 0,
            area,
        })
    }

    /// Total length of the report whose header starts `bytes`, once 16 bytes are there.
    pub(crate) fn length_from_header(header: &[u8]) -> Result<usize, ReportError> {
        if header.get(1) != Some(&0) {
            let auth = header.get(1).copied().unwrap_or_default();
            return Err(ReportError::malformed(
                1,
                format!("broadcast auth type {auth} is not defined (only 0, none)"),
            ));
        }
        Ok(HEADER_LEN + usize::from(le_u16(header, 2)))
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, ReportError> {
        expect_format(bytes, FORMAT)?;
        if bytes.len() < HEADER_LEN {
            return Err(ReportError::Truncated {
                what: "broadcast report header",
                need: HEADER_LEN,
                have: bytes.len(),
            });
        }
        let total = Self::length_from_header(bytes)?;
        let area_len = total - HEADER_LEN;
        if area_len % Reading::RECORD_LEN != 0 {
            return Err(ReportError::malformed(
                2,
                format!(
                    "reading area of {area_len} bytes is not a whole number of 16-byte readings"
                ),
            ));
        }
        if bytes.len() < total {
            return Err(ReportError::Truncated {
                what: "broadcast report",
                need: total,
                have: bytes.len(),
            });
        }
        if bytes.len() > total {
            return Err(ReportError::LengthMismatch {
                offset: 2,
                declared: total,
                actual: bytes.len(),
            });
        }
        Ok(BroadcastReport {
            device_id: le_u32(bytes, 4),
            sent_timestamp: le_u32(bytes, 8),
            reserved: le_u32(bytes, 12),
            area: bytes[HEADER_LEN..].to_vec(),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.area.len());
        out.push(FORMAT);
        out.push(0);
        // The constructor and decoder keep the area under 64 KiB.
        out.extend_from_slice(&(self.area.len() as u16).to_le_bytes());
        out.extend_from_slice(&self.device_id.to_le_bytes());
        out.extend_from_slice(&self.sent_timestamp.to_le_bytes());
        out.extend_from_slice(&self.reserved.to_le_bytes());
        out.extend_from_slice(&self.area);
        out
    }

    pub fn readings(&self) -> Vec<Reading> {
        read_area(&self.area).collect()
    }
}
