//! The TileBus GATT table: one 128-bit service and nine characteristics with 16-bit UUIDs
//! on the Bluetooth SIG base (`0000XXXX-0000-1000-8000-00805f9b34fb`).
//!
//! A characteristic declaration (attribute type `0x2803`) holds `u8 properties, u16 value
//! handle, UUID (2 or 16 bytes, little-endian)`; clients read every declaration and every
//! CCCD (`0x2902`) because handle layouts differ between firmwares.

use super::BleError;

/// The TileBus service, `00002000-3ff7-53ba-e611-132c0ff60f63`.
pub const TILEBUS_SERVICE_UUID: u128 = 0x0000_2000_3ff7_53ba_e611_132c_0ff6_0f63;
/// The TileBus service as it travels (little-endian), in advertisements and GATT values.
pub const TILEBUS_SERVICE_UUID_LE: [u8; 16] = TILEBUS_SERVICE_UUID.to_le_bytes();
/// `0000XXXX-0000-1000-8000-00805f9b34fb` with `XXXX` = 0.
pub const SIG_BASE_UUID: u128 = 0x0000_0000_0000_1000_8000_0080_5f9b_34fb;

/// Attribute type of a primary service declaration (the group type of a service search).
pub const PRIMARY_SERVICE_UUID16: u16 = 0x2800;
/// Attribute type of a characteristic declaration.
pub const CHARACTERISTIC_UUID16: u16 = 0x2803;
/// Client characteristic configuration descriptor: `01 00` notify on, `00 00` off.
pub const CCCD_UUID16: u16 = 0x2902;
/// CCCD value that enables notifications.
pub const CCCD_NOTIFY: [u8; 2] = [0x01, 0x00];
/// CCCD value that disables notifications.
pub const CCCD_OFF: [u8; 2] = [0x00, 0x00];

/// A 16-bit UUID on the SIG base.
pub const fn uuid16_to_u128(uuid16: u16) -> u128 {
    SIG_BASE_UUID | ((uuid16 as u128) << 96)
}

/// The 16-bit UUID of a SIG-base UUID, `None` for any other UUID.
pub fn u128_to_uuid16(uuid: u128) -> Option<u16> {
    let short = (uuid >> 96) as u32;
    let short = u16::try_from(short).ok()?;
    (uuid16_to_u128(short) == uuid).then_some(short)
}

/// A UUID as GATT carries it: 2 bytes (a SIG 16-bit UUID) or 16 bytes, little-endian.
pub fn uuid_from_le(bytes: &[u8]) -> Option<u128> {
    match bytes {
        &[low, high] => Some(uuid16_to_u128(u16::from_le_bytes([low, high]))),
        _ => {
            let bytes: [u8; 16] = bytes.try_into().ok()?;
            Some(u128::from_le_bytes(bytes))
        }
    }
}

/// The TileBus characteristics, by their 16-bit UUIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Characteristic {
    /// Device → client: RPC response header `[status, 0, 0, len]`.
    ReceiveHeader = 0x2001,
    /// Device → client: RPC response payload.
    ReceivePayload = 0x2002,
    /// Client → device: RPC header `[len, 0, id low, id high, address]`; writing it runs the RPC.
    SendHeader = 0x2003,
    /// Client → device: RPC payload, written first, padded to 20 bytes.
    SendPayload = 0x2004,
    /// Device → client: report bytes.
    Streaming = 0x2005,
    /// Client → device: update script bytes.
    HighSpeed = 0x2006,
    /// Device → client: raw debug trace bytes.
    Tracing = 0x2007,
    /// The optional authentication handshake.
    Auth = 0x2008,
    /// Optional: `u8 version, u8 security flags (1 = auth required), u16 flags (bit 0 RPC
    /// in progress)`, 16 reserved.
    Info = 0x2009,
}

/// What a client may do with a characteristic (the declaration's property byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Properties {
    pub read: bool,
    pub write_without_response: bool,
    pub write: bool,
    pub notify: bool,
    /// The other bits (broadcast, indicate, signed writes, extended), kept as they are.
    pub other: u8,
}

impl Properties {
    const READ: u8 = 0x02;
    const WRITE_WITHOUT_RESPONSE: u8 = 0x04;
    const WRITE: u8 = 0x08;
    const NOTIFY: u8 = 0x10;
    const KNOWN: u8 = Self::READ | Self::WRITE_WITHOUT_RESPONSE | Self::WRITE | Self::NOTIFY;

    /// The declaration's property byte.
    pub fn bits(self) -> u8 {
        let bit = |on: bool, bit: u8| if on { bit } else { 0 };
        bit(self.read, Self::READ)
            | bit(self.write_without_response, Self::WRITE_WITHOUT_RESPONSE)
            | bit(self.write, Self::WRITE)
            | bit(self.notify, Self::NOTIFY)
            | (self.other & !Self::KNOWN)
    }

    /// Reads a property byte.
    pub fn from_bits(bits: u8) -> Self {
        Properties {
            read: bits & Self::READ != 0,
            write_without_response: bits & Self::WRITE_WITHOUT_RESPONSE != 0,
            write: bits & Self::WRITE != 0,
            notify: bits & Self::NOTIFY != 0,
            other: bits & !Self::KNOWN,
        }
    }
}

impl Characteristic {
    pub const ALL: [Characteristic; 9] = [
        Characteristic::ReceiveHeader,
        Characteristic::ReceivePayload,
        Characteristic::SendHeader,
        Characteristic::SendPayload,
        Characteristic::Streaming,
        Characteristic::HighSpeed,
        Characteristic::Tracing,
        Characteristic::Auth,
        Characteristic::Info,
    ];

    pub fn uuid16(self) -> u16 {
        self as u16
    }

    pub fn from_uuid16(uuid16: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.uuid16() == uuid16)
    }

    /// From any UUID: only SIG-base UUIDs can name a TileBus characteristic.
    pub fn from_uuid(uuid: u128) -> Option<Self> {
        Self::from_uuid16(u128_to_uuid16(uuid)?)
    }

    /// The full 128-bit UUID.
    pub fn uuid(self) -> u128 {
        uuid16_to_u128(self.uuid16())
    }

    pub fn name(self) -> &'static str {
        match self {
            Characteristic::ReceiveHeader => "Receive Header",
            Characteristic::ReceivePayload => "Receive Payload",
            Characteristic::SendHeader => "Send Header",
            Characteristic::SendPayload => "Send Payload",
            Characteristic::Streaming => "Streaming",
            Characteristic::HighSpeed => "High Speed",
            Characteristic::Tracing => "Tracing",
            Characteristic::Auth => "Auth",
            Characteristic::Info => "Info",
        }
    }

    /// The properties a POD gives the characteristic.
    pub fn properties(self) -> Properties {
        let (read, write_without_response, write, notify) = match self {
            Characteristic::ReceiveHeader
            | Characteristic::ReceivePayload
            | Characteristic::Streaming => (true, false, false, true),
            Characteristic::SendHeader | Characteristic::SendPayload => (false, true, true, false),
            Characteristic::HighSpeed => (false, true, false, false),
            Characteristic::Tracing => (false, false, false, true),
            Characteristic::Auth => (true, false, true, true),
            Characteristic::Info => (true, false, false, false),
        };
        Properties {
            read,
            write_without_response,
            write,
            notify,
            other: 0,
        }
    }
}

/// The value of a characteristic declaration attribute (type `0x2803`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CharacteristicDeclaration {
    pub properties: Properties,
    pub value_handle: u16,
    pub uuid: u128,
}

impl CharacteristicDeclaration {
    /// 5 bytes for a 16-bit UUID, 19 for a 128-bit one.
    pub fn decode(value: &[u8]) -> Result<Self, BleError> {
        let bad = || BleError::Length {
            what: "characteristic declaration",
            expected: "5 or 19",
            found: value.len(),
        };
        let Some((&[props, low, high], uuid)) = value.split_first_chunk::<3>() else {
            return Err(bad());
        };
        Ok(CharacteristicDeclaration {
            properties: Properties::from_bits(props),
            value_handle: u16::from_le_bytes([low, high]),
            uuid: uuid_from_le(uuid).ok_or_else(bad)?,
        })
    }

    /// SIG-base UUIDs are written as 2 bytes, others as 16.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.properties.bits()];
        out.extend_from_slice(&self.value_handle.to_le_bytes());
        match u128_to_uuid16(self.uuid) {
            Some(short) => out.extend_from_slice(&short.to_le_bytes()),
            None => out.extend_from_slice(&self.uuid.to_le_bytes()),
        }
        out
    }

    /// The TileBus characteristic this declares, if any.
    pub fn characteristic(&self) -> Option<Characteristic> {
        Characteristic::from_uuid(self.uuid)
    }
}
