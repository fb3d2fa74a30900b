//! [`StreamCode`]: a stream code written as a number (`0x5001`) or text (`"output 1"`,
//! `"5001"`), in TOML and on the command line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sync_protocol::stream::{DataStream, StreamType};

/// A stream code written as a number (`0x5001`) or text (`"output 1"`, `"5001"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamCode(pub u16);

impl StreamCode {
    pub fn stream(self) -> Option<DataStream> {
        DataStream::from_code(self.0).ok()
    }

    /// Whether readings of this stream are stored (and get reading ids).
    pub fn is_stored(self) -> bool {
        self.stream().is_some_and(|s| s.kind.is_stored())
    }

    /// Whether it is an output (streaming area) stream.
    pub fn is_output(self) -> bool {
        self.stream().is_some_and(|s| s.kind == StreamType::Output)
    }
}

impl fmt::Display for StreamCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04X}", self.0)
    }
}

impl FromStr for StreamCode {
    type Err = String;

    /// `output 1`, `system input 1025`, `5001`, `0x5001`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(stream) = DataStream::from_str(text) {
            return Ok(StreamCode(stream.code()));
        }
        let hex = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        u16::from_str_radix(hex, 16)
            .map(StreamCode)
            .map_err(|_| format!("{text:?} is not a stream (e.g. `output 1`, `5001`, `0x5001`)"))
    }
}

impl Serialize for StreamCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{:04x}", self.0))
    }
}

impl<'de> Deserialize<'de> for StreamCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => u16::try_from(n)
                .map(StreamCode)
                .map_err(|_| serde::de::Error::custom(format!("stream {n:#x} is above 0xFFFF"))),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}
