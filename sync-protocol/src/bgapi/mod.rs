//! BGAPI, the binary protocol of the BLED112 USB dongle, as hosts and a virtual dongle use it.
//!
//! Every message is a 4-byte header and a payload of at most 2047 bytes:
//!
//! ```text
//! 0 bit 7 event (1) or command/response (0) | bits 6..3 technology (0 = BLE) | bits 2..0 length high bits
//! 1 length, low 8 bits | 2 class | 3 command or event id | 4.. payload (little-endian fields)
//! ```
//!
//! Payload fields are little-endian; a `uint8array` is a `u8` length and that many bytes; a
//! `bd_addr` is 6 bytes, least significant first on the wire. This module keeps addresses
//! most significant byte first ([`BdAddr`]), as they are shown (`AA:BB:CC:DD:EE:FF`), and
//! reverses them only when reading or writing a payload.
//!
//! A command and its response share one header shape (bit 7 clear) and one class/id pair:
//! which one a packet is depends on who sent it. So there are three typed views of a
//! [`Packet`]: [`Command`] (what a host sends and a dongle reads), [`Response`] and [`Event`]
//! (what a dongle sends and a host reads). Unknown class/id pairs are kept as raw packets,
//! never errors. [`PacketReader`] splits a serial byte stream into packets.

pub mod codes;
mod command;
mod event;
mod response;
mod wire;

use std::fmt;
use std::str::FromStr;

pub use codes::result_text;
pub use command::Command;
pub use event::{
    attribute_value_type, connection_flags, scan_packet_type, Event, EVENT_DONGLE_GONE,
};
pub use response::Response;

/// The largest payload the 11-bit length field can describe.
pub const MAX_PAYLOAD: usize = 0x7FF;
/// Header length.
pub const HEADER_LEN: usize = 4;
/// The largest command payload coretools sends; a virtual dongle never needs more.
pub const CORETOOLS_MAX_COMMAND_PAYLOAD: usize = 60;

const EVENT_BIT: u8 = 0x80;
const TECHNOLOGY_BITS: u8 = 0x78;
const LENGTH_HIGH_BITS: u8 = 0x07;

/// Why bytes or values are not a BGAPI message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BgapiError {
    #[error("a BGAPI payload is at most 2047 bytes, got {0}")]
    PayloadTooLong(usize),
    #[error("{field} is a uint8array of at most 255 bytes, got {len}")]
    ArrayTooLong { field: &'static str, len: usize },
    #[error("header byte 0 is {0:#04x}: technology bits 6..3 must be 0 (Bluetooth LE)")]
    BadHeader(u8),
    #[error("a BGAPI packet needs {need} bytes, the input has {have}")]
    TruncatedPacket { need: usize, have: usize },
    #[error("the input holds one {packet} byte packet and {extra} more bytes")]
    TrailingPacketBytes { packet: usize, extra: usize },
    #[error("{class}/{id} is {found}, expected {expected}")]
    WrongKind {
        class: u8,
        id: u8,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{message}: truncated payload, it needs {need} bytes, the packet has {have}")]
    Truncated {
        message: &'static str,
        need: usize,
        have: usize,
    },
    #[error("{message}: the payload has {found} bytes but its fields take {expected}")]
    TrailingBytes {
        message: &'static str,
        expected: usize,
        found: usize,
    },
}

/// One BGAPI message. The payload is private so that it always fits the length field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Packet {
    /// Header bit 7: an event (from the dongle) rather than a command or a response.
    pub event: bool,
    pub class: u8,
    pub id: u8,
    payload: Vec<u8>,
}

impl Packet {
    pub fn new(event: bool, class: u8, id: u8, payload: Vec<u8>) -> Result<Self, BgapiError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(BgapiError::PayloadTooLong(payload.len()));
        }
        Ok(Packet {
            event,
            class,
            id,
            payload,
        })
    }

    /// A command or response packet (header bit 7 clear).
    pub fn command(class: u8, id: u8, payload: Vec<u8>) -> Result<Self, BgapiError> {
        Packet::new(false, class, id, payload)
    }

    /// An event packet (header bit 7 set).
    pub fn event(class: u8, id: u8, payload: Vec<u8>) -> Result<Self, BgapiError> {
        Packet::new(true, class, id, payload)
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// Header and payload, as written to the serial link.
    pub fn encode(&self) -> Vec<u8> {
        let len = self.payload.len().min(MAX_PAYLOAD);
        let mut out = Vec::with_capacity(HEADER_LEN + len);
        let high = ((len >> 8) as u8) & LENGTH_HIGH_BITS;
        out.push(if self.event { EVENT_BIT | high } else { high });
        out.push((len & 0xFF) as u8);
        out.push(self.class);
        out.push(self.id);
        out.extend_from_slice(&self.payload);
        out
    }

    /// Reads exactly one packet; missing or extra bytes are errors.
    pub fn decode(bytes: &[u8]) -> Result<Self, BgapiError> {
        match frame(bytes)? {
            None => Err(BgapiError::TruncatedPacket {
                need: needed(bytes),
                have: bytes.len(),
            }),
            Some(total) if total < bytes.len() => Err(BgapiError::TrailingPacketBytes {
                packet: total,
                extra: bytes.len() - total,
            }),
            Some(_) => Ok(split(bytes)),
        }
    }

    fn kind(&self) -> &'static str {
        if self.event {
            "an event"
        } else {
            "a command or response"
        }
    }

    /// Checks header bit 7 before a typed decode.
    fn expect_kind(&self, event: bool) -> Result<(), BgapiError> {
        if self.event == event {
            return Ok(());
        }
        Err(BgapiError::WrongKind {
            class: self.class,
            id: self.id,
            expected: if event {
                "an event"
            } else {
                "a command or response"
            },
            found: self.kind(),
        })
    }
}

/// The whole packet length once the header is there, `Ok(None)` before.
fn frame(bytes: &[u8]) -> Result<Option<usize>, BgapiError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    if first & TECHNOLOGY_BITS != 0 {
        return Err(BgapiError::BadHeader(first));
    }
    let Some(&low) = bytes.get(1) else {
        return Ok(None);
    };
    let total = HEADER_LEN + (usize::from(first & LENGTH_HIGH_BITS) << 8 | usize::from(low));
    Ok((bytes.len() >= total).then_some(total))
}

/// How many bytes a packet starting `bytes` needs in all (the header alone if unknown).
fn needed(bytes: &[u8]) -> usize {
    match (bytes.first(), bytes.get(1)) {
        (Some(&first), Some(&low)) => {
            HEADER_LEN + (usize::from(first & LENGTH_HIGH_BITS) << 8 | usize::from(low))
        }
        _ => HEADER_LEN,
    }
}

/// Builds the packet at the start of `bytes`, which `frame` found complete.
fn split(bytes: &[u8]) -> Packet {
    let get = |at: usize| bytes.get(at).copied().unwrap_or_default();
    let total = needed(bytes).min(bytes.len());
    Packet {
        event: get(0) & EVENT_BIT != 0,
        class: get(2),
        id: get(3),
        payload: bytes.get(HEADER_LEN..total).unwrap_or_default().to_vec(),
    }
}

/// Bytes the [`PacketReader`] dropped because they cannot start a BGAPI header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dropped {} bytes that cannot start a BGAPI header", bytes.len())]
pub struct Garbage {
    pub bytes: Vec<u8>,
}

/// Splits a serial byte stream into packets.
///
/// BGAPI has no sync marker and no checksum, so resynchronising is best effort: a byte whose
/// technology bits (6..3) are not 0 cannot start a packet, and the reader drops it and every
/// following such byte, reports them as [`Garbage`] and carries on. Garbage that happens to
/// look like a header is framed as a packet; its typed decode then usually fails.
#[derive(Debug, Default, Clone)]
pub struct PacketReader {
    buf: Vec<u8>,
}

impl PacketReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the link.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole packet, a run of dropped bytes, or `None` until more bytes arrive.
    pub fn pop(&mut self) -> Option<Result<Packet, Garbage>> {
        match frame(&self.buf) {
            Ok(None) => None,
            Ok(Some(total)) => {
                let packet = split(&self.buf);
                self.buf.drain(..total);
                Some(Ok(packet))
            }
            Err(_) => {
                let bad = self
                    .buf
                    .iter()
                    .position(|b| b & TECHNOLOGY_BITS == 0)
                    .unwrap_or(self.buf.len());
                Some(Err(Garbage {
                    bytes: self.buf.drain(..bad).collect(),
                }))
            }
        }
    }

    /// Bytes received but not yet returned.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Forgets a partial packet, e.g. when the link is reopened.
    pub fn clear(&mut self) {
        self.buf.clear();
    }
}

/// A Bluetooth device address, most significant byte first (`AA:BB:CC:DD:EE:FF` is
/// `[0xAA, .., 0xFF]`). The wire order is the reverse; see [`BdAddr::from_wire`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct BdAddr(pub [u8; 6]);

impl BdAddr {
    /// From the 6 bytes of a `bd_addr` field (least significant first).
    pub fn from_wire(wire: [u8; 6]) -> Self {
        let mut bytes = wire;
        bytes.reverse();
        BdAddr(bytes)
    }

    /// The 6 bytes of a `bd_addr` field (least significant first).
    pub fn to_wire(self) -> [u8; 6] {
        let mut bytes = self.0;
        bytes.reverse();
        bytes
    }

    /// Whether the top two bits of the most significant byte are `11` (a static random
    /// address), which is how coretools picks the address type for a connect.
    pub fn is_random(self) -> bool {
        self.0[0] >> 6 == 0b11
    }

    /// The address type a connect command uses: 1 random, 0 public.
    pub fn address_type(self) -> u8 {
        u8::from(self.is_random())
    }
}

impl fmt::Display for BdAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{g:02X}")
    }
}

impl fmt::Debug for BdAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BdAddr({self})")
    }
}

/// Text that is not six colon-separated hex pairs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a Bluetooth address is six hex pairs separated by ':', got {0:?}")]
pub struct BdAddrError(pub String);

impl FromStr for BdAddr {
    type Err = BdAddrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BdAddrError(text.to_string());
        let mut bytes = [0u8; 6];
        let mut parts = text.trim().split(':');
        for byte in bytes.iter_mut() {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(BdAddr(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_carries_event_bit_and_eleven_length_bits() {
        let packet = Packet::event(6, 0, vec![7; 0x123]).expect("fits");
        let bytes = packet.encode();
        assert_eq!(&bytes[..4], &[0x81, 0x23, 6, 0]);
        assert_eq!(Packet::decode(&bytes), Ok(packet));
        assert!(Packet::new(false, 0, 0, vec![0; MAX_PAYLOAD + 1]).is_err());
        assert_eq!(
            Packet::decode(&[0x08, 0, 0, 0]),
            Err(BgapiError::BadHeader(0x08))
        );
    }

    #[test]
    fn addresses_print_msb_first_and_travel_lsb_first() {
        let addr: BdAddr = "C0:11:22:33:44:55".parse().expect("address");
        assert_eq!(addr.to_wire(), [0x55, 0x44, 0x33, 0x22, 0x11, 0xC0]);
        assert_eq!(BdAddr::from_wire(addr.to_wire()), addr);
        assert_eq!(addr.to_string(), "C0:11:22:33:44:55");
        assert_eq!(addr.address_type(), 1);
        assert_eq!(BdAddr([0x80, 0, 0, 0, 0, 0]).address_type(), 0);
        for bad in [
            "",
            "C0:11:22:33:44",
            "C0:11:22:33:44:55:66",
            "C0:11:22:33:44:5",
        ] {
            assert!(bad.parse::<BdAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn reader_drops_bytes_that_cannot_start_a_header() {
        let mut reader = PacketReader::new();
        reader.push(&[0xFF, 0x7F, 0x00, 0x00, 0x00, 0x06]);
        assert_eq!(
            reader.pop(),
            Some(Err(Garbage {
                bytes: vec![0xFF, 0x7F]
            }))
        );
        assert_eq!(
            reader.pop(),
            Some(Ok(Packet::command(0, 6, vec![]).expect("fits")))
        );
        assert_eq!(reader.pop(), None);
        assert_eq!(reader.pending(), 0);
    }
}
