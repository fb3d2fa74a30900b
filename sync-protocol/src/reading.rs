//! A reading: four numbers, and the packed 16-byte record that carries it in signed-list and
//! broadcast reports:
//!
//! ```text
//! 0 u16 stream | 2 u16 reserved (0) | 4 u32 reading id | 8 u32 raw time | 12 u32 value
//! ```

use serde::{Deserialize, Serialize};

use crate::stream::{DataStream, StreamError};

/// One reading as a POD produced it. `reading_id` 0 means "no id" (virtual streams,
/// realtime reports); `raw_time` is device time (see [`crate::time`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reading {
    pub stream: u16,
    pub reading_id: u32,
    pub raw_time: u32,
    pub value: u32,
}

impl Reading {
    /// Size of the packed record.
    pub const RECORD_LEN: usize = 16;

    /// The stream, if its code names a defined stream type.
    pub fn data_stream(&self) -> Result<DataStream, StreamError> {
        DataStream::from_code(self.stream)
    }

    /// Reads one packed record. The reserved field is ignored, as every decoder does.
    pub fn from_record(record: &[u8; Self::RECORD_LEN]) -> Reading {
        let word = |at: usize| {
            u32::from_le_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]])
        };
        Reading {
            stream: u16::from_le_bytes([record[0], record[1]]),
            reading_id: word(4),
            raw_time: word(8),
            value: word(12),
        }
    }

    /// Appends the packed record (reserved field 0).
    pub fn write_record(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.stream.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.reading_id.to_le_bytes());
        out.extend_from_slice(&self.raw_time.to_le_bytes());
        out.extend_from_slice(&self.value.to_le_bytes());
    }
}

/// Reads every record of a reading area whose length is a multiple of 16.
pub(crate) fn read_area(area: &[u8]) -> impl ExactSizeIterator<Item = Reading> + '_ {
    area.chunks_exact(Reading::RECORD_LEN).map(|chunk| {
        let mut record = [0u8; Reading::RECORD_LEN];
        record.copy_from_slice(chunk);
        Reading::from_record(&record)
    })
}

/// Lowest and highest reading ids, ignoring 0; `(0, 0)` when there is none.
pub fn id_range<'a>(ids: impl IntoIterator<Item = &'a Reading>) -> (u32, u32) {
    ids.into_iter()
        .map(|r| r.reading_id)
        .filter(|id| *id != 0)
        .fold(None, |range: Option<(u32, u32)>, id| match range {
            None => Some((id, id)),
            Some((low, high)) => Some((low.min(id), high.max(id))),
        })
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let reading = Reading {
            stream: 0x5001,
            reading_id: 7,
            raw_time: 0x8000_0010,
            value: 0xDEAD_BEEF,
        };
        let mut bytes = Vec::new();
        reading.write_record(&mut bytes);
        assert_eq!(bytes.len(), 16);
        assert_eq!(&bytes[..4], &[0x01, 0x50, 0, 0]);
        assert_eq!(read_area(&bytes).collect::<Vec<_>>(), vec![reading]);
    }

    #[test]
    fn id_range_ignores_zero() {
        let r = |reading_id| Reading {
            stream: 0x5001,
            reading_id,
            raw_time: 0,
            value: 0,
        };
        assert_eq!(id_range(&[r(0), r(9), r(4), r(0)]), (4, 9));
        assert_eq!(id_range(&[r(0)]), (0, 0));
        assert_eq!(id_range(&[]), (0, 0));
    }
}
