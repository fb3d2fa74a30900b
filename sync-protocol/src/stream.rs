//! The 16-bit stream code and stream selectors of a sensor graph.
//!
//! ```text
//! stream:    15..12 type | 11 system | 10..0 id
//! selector:  15 spec_b | 14..12 type | 11 spec_a | 10..0 id (0x7FF = all)
//! ```
//!
//! Text forms are those of the sensor-graph tools: `output 1`, `system input 1025`,
//! `all system outputs`, `all buffered`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a stream or selector could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("stream type code {0} is not defined (types go from 0 to 5)")]
    UnknownType(u8),
    #[error("stream id {0} does not fit in 11 bits")]
    IdTooLarge(u32),
    #[error("cannot read {0:?} as a stream (expected e.g. `output 1` or `system input 1025`)")]
    BadText(String),
}

/// What kind of values a stream holds (bits 15..12 of its code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamType {
    /// Stored in the storage area; gets a reading id.
    Buffered = 0,
    /// Only the latest value is kept.
    Unbuffered = 1,
    /// An inexhaustible constant value.
    Constant = 2,
    /// A graph input.
    Input = 3,
    /// A counter.
    Counter = 4,
    /// Stored in the streaming area; gets a reading id.
    Output = 5,
}

impl StreamType {
    pub const ALL: [StreamType; 6] = [
        StreamType::Buffered,
        StreamType::Unbuffered,
        StreamType::Constant,
        StreamType::Input,
        StreamType::Counter,
        StreamType::Output,
    ];

    pub fn from_code(code: u8) -> Result<Self, StreamError> {
        Self::ALL
            .get(usize::from(code))
            .copied()
            .ok_or(StreamError::UnknownType(code))
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// The word used in sensor-graph text.
    pub fn name(self) -> &'static str {
        match self {
            StreamType::Buffered => "buffered",
            StreamType::Unbuffered => "unbuffered",
            StreamType::Constant => "constant",
            StreamType::Input => "input",
            StreamType::Counter => "counter",
            StreamType::Output => "output",
        }
    }

    fn from_name(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == word)
    }

    /// Whether readings of this type are stored and get a reading id.
    pub fn is_stored(self) -> bool {
        matches!(self, StreamType::Buffered | StreamType::Output)
    }
}

/// A stream of a sensor graph, e.g. `0x5001` = `output 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataStream {
    pub kind: StreamType,
    pub system: bool,
    /// 11 bits.
    id: u16,
}

const SYSTEM_BIT: u16 = 1 << 11;
const ID_MASK: u16 = 0x07FF;

impl DataStream {
    /// System input 1024 → system output 1024: the device-reset "break" stream.
    pub const REBOOT: u16 = 0x5C00;
    /// System output 1032: OS tag and version.
    pub const OS_VERSION: u16 = 0x5C08;
    /// System output 1033: app tag and version.
    pub const APP_VERSION: u16 = 0x5C09;

    pub fn new(kind: StreamType, system: bool, id: u16) -> Result<Self, StreamError> {
        if id > ID_MASK {
            return Err(StreamError::IdTooLarge(u32::from(id)));
        }
        Ok(DataStream { kind, system, id })
    }

    /// Reads a 16-bit stream code. Fails only for type codes above 5.
    pub fn from_code(code: u16) -> Result<Self, StreamError> {
        let kind = StreamType::from_code((code >> 12) as u8)?;
        Ok(DataStream {
            kind,
            system: code & SYSTEM_BIT != 0,
            id: code & ID_MASK,
        })
    }

    pub fn code(self) -> u16 {
        (u16::from(self.kind.code()) << 12) | if self.system { SYSTEM_BIT } else { 0 } | self.id
    }

    pub fn id(self) -> u16 {
        self.id
    }

    /// A system input with id ≥ 1024 is copied to a system output (< 1536) or a system
    /// buffered stream (≥ 1536) with the same id when it reaches the graph.
    pub fn important_copy(self) -> Option<DataStream> {
        if self.kind != StreamType::Input || !self.system || self.id < 1024 {
            return None;
        }
        let kind = if self.id >= 1536 {
            StreamType::Buffered
        } else {
            StreamType::Output
        };
        Some(DataStream {
            kind,
            system: true,
            id: self.id,
        })
    }
}

impl fmt::Display for DataStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.system {
            write!(f, "system {} {}", self.kind.name(), self.id)
        } else {
            write!(f, "{} {}", self.kind.name(), self.id)
        }
    }
}

impl FromStr for DataStream {
    type Err = StreamError;

    /// `[system] <type> [node] <id>`; the id is decimal or `0x` hex.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || StreamError::BadText(text.to_string());
        let mut words: Vec<&str> = text.split_whitespace().filter(|w| *w != "node").collect();
        let system = words.first() == Some(&"system");
        if system {
            words.remove(0);
        }
        let [kind, id] = words[..] else {
            return Err(bad());
        };
        let kind = StreamType::from_name(kind).ok_or_else(bad)?;
        let id = parse_number(id).ok_or_else(bad)?;
        let id = u16::try_from(id).map_err(|_| StreamError::IdTooLarge(id))?;
        DataStream::new(kind, system, id)
    }
}

fn parse_number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Which streams a wildcard selector matches (bits 15 and 11 of its code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectorScope {
    /// `all user outputs`: user streams only.
    User,
    /// `all system outputs`: system streams only.
    System,
    /// `all outputs`: user streams and the reset (break) stream.
    UserAndBreaks,
    /// `all combined outputs`: every stream of the type.
    Combined,
}

impl SelectorScope {
    fn from_bits(code: u16) -> Self {
        match (code & 0x8000 != 0, code & SYSTEM_BIT != 0) {
            (false, false) => SelectorScope::User,
            (false, true) => SelectorScope::System,
            (true, false) => SelectorScope::UserAndBreaks,
            (true, true) => SelectorScope::Combined,
        }
    }

    fn bits(self) -> u16 {
        match self {
            SelectorScope::User => 0,
            SelectorScope::System => SYSTEM_BIT,
            SelectorScope::UserAndBreaks => 0x8000,
            SelectorScope::Combined => 0x8000 | SYSTEM_BIT,
        }
    }

    fn word(self) -> &'static str {
        match self {
            SelectorScope::User => "user ",
            SelectorScope::System => "system ",
            SelectorScope::UserAndBreaks => "",
            SelectorScope::Combined => "combined ",
        }
    }
}

/// A stream selector as used by streamers, graph node inputs and report headers.
///
/// The type field has 3 bits, so types 6 and 7 can be encoded (coretools writes `0xFFFF`
/// as "no selector"); they are kept as a raw code and shown as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamSelector {
    code: u16,
}

const WILDCARD: u16 = ID_MASK;

impl StreamSelector {
    /// `all outputs`: what real PODs use for streamer 0.
    pub const ALL_OUTPUTS: StreamSelector = StreamSelector { code: 0xD7FF };
    /// `all system outputs`.
    pub const ALL_SYSTEM_OUTPUTS: StreamSelector = StreamSelector { code: 0x5FFF };

    pub fn from_code(code: u16) -> Self {
        StreamSelector { code }
    }

    pub fn code(self) -> u16 {
        self.code
    }

    /// A selector that matches exactly one stream (built with the stream's own system bit).
    pub fn single(stream: DataStream) -> Self {
        StreamSelector {
            code: stream.code(),
        }
    }

    /// A wildcard selector over every stream of a type within a scope.
    pub fn all(kind: StreamType, scope: SelectorScope) -> Self {
        StreamSelector {
            code: (u16::from(kind.code()) << 12) | scope.bits() | WILDCARD,
        }
    }

    /// The stream type this selector matches, if the type code is a defined one.
    pub fn kind(self) -> Result<StreamType, StreamError> {
        StreamType::from_code(((self.code >> 12) & 0x7) as u8)
    }

    pub fn scope(self) -> SelectorScope {
        SelectorScope::from_bits(self.code)
    }

    /// The single stream id this selector names, or `None` for a wildcard.
    pub fn single_id(self) -> Option<u16> {
        let id = self.code & ID_MASK;
        (id != WILDCARD).then_some(id)
    }

    /// Whether a reading on `stream` is selected, as a POD's streamer decides it.
    pub fn matches(self, stream: DataStream) -> bool {
        if self.kind() != Ok(stream.kind) {
            return false;
        }
        if let Some(id) = self.single_id() {
            // A single-stream selector compares ids only, not the system bit.
            return id == stream.id;
        }
        match self.scope() {
            SelectorScope::User => !stream.system,
            SelectorScope::System => stream.system,
            SelectorScope::UserAndBreaks => !stream.system || stream.id == 1024,
            SelectorScope::Combined => true,
        }
    }
}

impl fmt::Display for StreamSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(kind) = self.kind() else {
            return write!(f, "selector 0x{:04x}", self.code);
        };
        match self.single_id() {
            Some(id) if self.scope() == SelectorScope::System => {
                write!(f, "system {} {}", kind.name(), id)
            }
            Some(id) => write!(f, "{} {}", kind.name(), id),
            None => {
                let plural = if kind == StreamType::Buffered {
                    ""
                } else {
                    "s"
                };
                write!(f, "all {}{}{}", self.scope().word(), kind.name(), plural)
            }
        }
    }
}

impl FromStr for StreamSelector {
    type Err = StreamError;

    /// `all [user|system|combined] <types>` or a single stream (`output 1`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || StreamError::BadText(text.to_string());
        let words: Vec<&str> = text
            .split_whitespace()
            .filter(|w| *w != "node" && *w != "nodes")
            .collect();
        if words.first() != Some(&"all") {
            let stream: DataStream = text.parse()?;
            let scope = if stream.system {
                SelectorScope::System
            } else {
                SelectorScope::User
            };
            return Ok(StreamSelector {
                code: (u16::from(stream.kind.code()) << 12) | scope.bits() | stream.id,
            });
        }
        let (scope, kind) = match words[1..] {
            [kind] => (SelectorScope::UserAndBreaks, kind),
            ["user", kind] => (SelectorScope::User, kind),
            ["system", kind] => (SelectorScope::System, kind),
            ["combined", kind] => (SelectorScope::Combined, kind),
            _ => return Err(bad()),
        };
        let kind = StreamType::from_name(kind.strip_suffix('s').unwrap_or(kind)).ok_or_else(bad)?;
        Ok(StreamSelector::all(kind, scope))
    }
}

macro_rules! serde_as_text {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_text!(DataStream);
serde_as_text!(StreamSelector);

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(code: u16) -> DataStream {
        DataStream::from_code(code).expect("valid stream code")
    }

    #[test]
    fn well_known_streams_have_their_text_names() {
        for (code, text) in [
            (0x5001, "output 1"),
            (0x5C00, "system output 1024"),
            (0x3C01, "system input 1025"),
            (0x100B, "unbuffered 11"),
            (0x0E00, "system buffered 1536"),
            (0x2400, "constant 1024"),
            (0x4005, "counter 5"),
        ] {
            assert_eq!(stream(code).to_string(), text);
            assert_eq!(text.parse::<DataStream>().map(DataStream::code), Ok(code));
        }
        assert_eq!(
            "system buffered node 1536"
                .parse::<DataStream>()
                .map(DataStream::code),
            Ok(0x0E00)
        );
        assert_eq!(
            "output 0x10".parse::<DataStream>().map(DataStream::code),
            Ok(0x5010)
        );
    }

    #[test]
    fn bad_stream_text_and_codes_are_refused() {
        assert!(DataStream::from_code(0x6000).is_err());
        assert!(DataStream::from_code(0xF001).is_err());
        for text in [
            "",
            "output",
            "outputs 1",
            "system output",
            "output 2048",
            "output x",
            "user output 1",
        ] {
            assert!(text.parse::<DataStream>().is_err(), "{text}");
        }
    }

    #[test]
    fn selectors_match_as_a_pod_does() {
        let all_outputs = StreamSelector::from_code(0xD7FF);
        assert!(all_outputs.matches(stream(0x5001)));
        assert!(all_outputs.matches(stream(0x5C00)));
        assert!(!all_outputs.matches(stream(0x5C01)));
        let system = StreamSelector::from_code(0x5FFF);
        assert!(system.matches(stream(0x5C01)));
        assert!(!system.matches(stream(0x5001)));
        assert!(StreamSelector::from_code(0xDFFF).matches(stream(0x5C01)));
        assert!(!StreamSelector::from_code(0x57FF).matches(stream(0x5C00)));
        assert!(StreamSelector::from_code(0x0FFF).matches(stream(0x0E00)));
        assert!(!StreamSelector::from_code(0x0FFF).matches(stream(0x5C00)));
        assert!(StreamSelector::single(stream(0x5001)).matches(stream(0x5001)));
        assert!(!StreamSelector::single(stream(0x5001)).matches(stream(0x5002)));
    }

    #[test]
    fn selector_text_round_trips() {
        for (code, text) in [
            (0xD7FF, "all outputs"),
            (0x5FFF, "all system outputs"),
            (0x0FFF, "all system buffered"),
            (0x57FF, "all user outputs"),
            (0xDFFF, "all combined outputs"),
            (0x3001, "input 1"),
            (0x3C01, "system input 1025"),
        ] {
            assert_eq!(StreamSelector::from_code(code).to_string(), text);
            assert_eq!(
                text.parse::<StreamSelector>().map(StreamSelector::code),
                Ok(code)
            );
        }
        assert_eq!(
            StreamSelector::from_code(0xFFFF).to_string(),
            "selector 0xffff"
        );
    }

    #[test]
    fn important_inputs_copy_to_outputs() {
        assert_eq!(
            stream(0x3C00).important_copy().map(DataStream::code),
            Some(0x5C00)
        );
        assert_eq!(
            stream(0x3E00).important_copy().map(DataStream::code),
            Some(0x0E00)
        );
        assert_eq!(stream(0x3800).important_copy(), None);
    }
}
