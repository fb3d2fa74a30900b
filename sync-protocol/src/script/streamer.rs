//! The 14-byte streamer descriptor of an AddStreamer record (RPC `0x2007`):
//!
//! ```text
//! 8-byte destination tile target | u16 selector | u8 trigger | u8 format | u8 type | 1 pad
//! trigger: 0 manual, 1 automatic, 0x80 | n = sent together with streamer n
//! ```

use super::container::{array_at, u16_at};
use super::error::{BuildError, ScriptErrorKind};
use super::slot::{SlotTarget, Tile};
use crate::stream::StreamSelector;

/// A streamer as carried by a script. The raw bytes are kept so that bytes the reference
/// ignores (reserved target bytes, padding) re-encode unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamerDescriptor {
    bytes: [u8; 14],
    dest: Tile,
    selector: StreamSelector,
    trigger: StreamerTrigger,
    format: ReportFormat,
    report_type: ReportType,
}

/// When a streamer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamerTrigger {
    /// Only when asked.
    Manual,
    /// Whenever it has data.
    Automatic,
    /// Together with another streamer (index 0 to 127); not automatic.
    WithStreamer(u8),
}

/// The report format a streamer builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportFormat {
    Individual = 0,
    HashedList = 1,
    SignedListUserKey = 2,
    SignedListDeviceKey = 3,
}

/// How a streamer's reports travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportType {
    Broadcast = 1,
    Telegram = 2,
    Synchronous = 4,
}

impl StreamerDescriptor {
    pub const LEN: usize = 14;

    /// A streamer in the canonical form the sensor-graph compiler writes.
    pub fn new(
        dest: Tile,
        selector: StreamSelector,
        trigger: StreamerTrigger,
        format: ReportFormat,
        report_type: ReportType,
    ) -> Result<Self, BuildError> {
        if selector.kind().is_err() {
            let selector = format!("0x{:04X}", selector.code());
            return Err(BuildError::BadSelector {
                selector,
                why: "its stream type is not defined",
            });
        }
        let trigger_code = match trigger {
            StreamerTrigger::Manual => 0,
            StreamerTrigger::Automatic => 1,
            StreamerTrigger::WithStreamer(index @ 0..=0x7F) => 0x80 | index,
            StreamerTrigger::WithStreamer(index) => {
                return Err(BuildError::StreamerIndexTooLarge { index })
            }
        };
        let mut bytes = [0u8; 14];
        bytes[0..8].copy_from_slice(&SlotTarget::for_tile(dest)?.to_bytes());
        bytes[8..10].copy_from_slice(&selector.code().to_le_bytes());
        bytes[10] = trigger_code;
        bytes[11] = format as u8;
        bytes[12] = report_type as u8;
        Ok(StreamerDescriptor {
            bytes,
            dest,
            selector,
            trigger,
            format,
            report_type,
        })
    }

    /// Reads a descriptor, accepting what coretools accepts and can print.
    pub fn decode(payload: &[u8]) -> Result<Self, ScriptErrorKind> {
        let bytes: [u8; 14] = payload
            .try_into()
            .map_err(|_| ScriptErrorKind::WrongLength {
                what: "an AddStreamer payload",
                expected: Self::LEN,
                found: payload.len(),
            })?;
        let target = array_at::<8>(&bytes, 0).unwrap_or_default();
        let dest = SlotTarget::from_bytes(target).tile()?;
        let code = u16_at(&bytes, 8).unwrap_or_default();
        let selector = StreamSelector::from_code(code);
        if selector.kind().is_err() {
            return Err(ScriptErrorKind::UnknownStreamType {
                what: "streamer selector",
                code,
            });
        }
        let [.., trigger, format, report_type, _] = bytes;
        let format = match format {
            0 => ReportFormat::Individual,
            1 => ReportFormat::HashedList,
            2 => ReportFormat::SignedListUserKey,
            3 => ReportFormat::SignedListDeviceKey,
            found => return Err(ScriptErrorKind::BadReportFormat { found }),
        };
        let report_type = match report_type {
            1 => ReportType::Broadcast,
            2 => ReportType::Telegram,
            4 => ReportType::Synchronous,
            found => return Err(ScriptErrorKind::BadReportType { found }),
        };
        let trigger = match trigger {
            0 => StreamerTrigger::Manual,
            1 => StreamerTrigger::Automatic,
            0x80.. => StreamerTrigger::WithStreamer(trigger & 0x7F),
            found => return Err(ScriptErrorKind::BadStreamerTrigger { found }),
        };
        Ok(StreamerDescriptor {
            bytes,
            dest,
            selector,
            trigger,
            format,
            report_type,
        })
    }

    pub fn to_bytes(&self) -> [u8; 14] {
        self.bytes
    }

    pub fn dest(&self) -> Tile {
        self.dest
    }

    pub fn selector(&self) -> StreamSelector {
        self.selector
    }

    pub fn trigger(&self) -> StreamerTrigger {
        self.trigger
    }

    pub fn format(&self) -> ReportFormat {
        self.format
    }

    pub fn report_type(&self) -> ReportType {
        self.report_type
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(target: [u8; 8], selector: u16, trigger: u8, format: u8, kind: u8) -> Vec<u8> {
        let mut v = target.to_vec();
        v.extend_from_slice(&selector.to_le_bytes());
        v.extend_from_slice(&[trigger, format, kind, 0]);
        v
    }

    const CONTROLLER: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 2];

    #[test]
    fn prints_like_the_reference() {
        let text = |bytes: Vec<u8>| StreamerDescriptor::decode(&bytes).map(|s| s.to_string());
        assert_eq!(
            text(raw(CONTROLLER, 0xD7FF, 0, 1, 2)).as_deref(),
            Ok("manual streamer on all outputs")
        );
        assert_eq!(
            text(raw(CONTROLLER, 0xD7FF, 0x85, 2, 1)).as_deref(),
            Ok("manual signed broadcast streamer on all outputs with streamer 5")
        );
        assert_eq!(
            text(raw([3, 0, 0, 0, 0, 0, 0, 1], 0x5801, 1, 0, 2)).as_deref(),
            Ok("realtime streamer on system output 1 to slot 3")
        );
    }

    #[test]
    fn refuses_what_the_reference_refuses() {
        let err = |bytes: Vec<u8>| StreamerDescriptor::decode(&bytes).err();
        assert!(err(raw(CONTROLLER, 0x7001, 1, 0, 2)).is_some());
        assert_eq!(
            err(raw(CONTROLLER, 0x5001, 2, 0, 2)),
            Some(ScriptErrorKind::BadStreamerTrigger { found: 2 })
        );
        assert_eq!(
            err(raw(CONTROLLER, 0x5001, 1, 4, 2)),
            Some(ScriptErrorKind::BadReportFormat { found: 4 })
        );
        assert_eq!(
            err(raw(CONTROLLER, 0x5001, 1, 0, 3)),
            Some(ScriptErrorKind::BadReportType { found: 3 })
        );
        assert!(err(raw([0, 0, 0, 0, 0, 0, 0, 1], 0x5001, 1, 0, 2)).is_some());
        assert!(StreamerDescriptor::decode(&[0; 13]).is_err());
    }

    #[test]
    fn built_streamers_round_trip() {
        let s = StreamerDescriptor::new(
            Tile::Slot(2),
            StreamSelector::ALL_OUTPUTS,
            StreamerTrigger::WithStreamer(3),
            ReportFormat::HashedList,
            ReportType::Telegram,
        )
        .expect("valid");
        assert_eq!(StreamerDescriptor::decode(&s.to_bytes()), Ok(s));
    }
}
