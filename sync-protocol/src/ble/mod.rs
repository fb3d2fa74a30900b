//! Bluetooth LE: the IOTile advertisements and the TileBus GATT table.
//!
//! A POD advertises in one of two formats, both 31 bytes of AD structures:
//! - [`AdvertisementV1`]: the TileBus service UUID and manufacturer data (company `0x03C0`)
//!   with the device id and flags; the voltage, broadcast reading and clock follow in a scan
//!   response that only active scanners get. Recognised by bytes 22..24 = `FF C0 03`.
//! - [`AdvertisementV2`]: service data for UUID16 `0xFDDD` with everything in one packet,
//!   the broadcast optionally AES-CCM encrypted ([`BroadcastKey`]). Recognised by bytes
//!   3..6 = `1B 16 DD FD`.
//!
//! Connected, a client talks to the TileBus service ([`TILEBUS_SERVICE_UUID`]) through the
//! [`Characteristic`]s; every value and notification is at most [`MAX_CHUNK`] bytes (the
//! default ATT MTU), so reports and scripts travel in [`chunks`].

mod broadcast;
mod crypto;
mod gatt;
mod v1;
mod v2;

pub use broadcast::BroadcastDedup;
pub use crypto::{BroadcastKey, EPHEMERAL_KEY_CYCLE_POWER};
pub use gatt::{
    u128_to_uuid16, uuid16_to_u128, uuid_from_le, Characteristic, CharacteristicDeclaration,
    Properties, CCCD_NOTIFY, CCCD_OFF, CCCD_UUID16, CHARACTERISTIC_UUID16, PRIMARY_SERVICE_UUID16,
    SIG_BASE_UUID, TILEBUS_SERVICE_UUID, TILEBUS_SERVICE_UUID_LE,
};
pub use v1::{is_v1, is_v1_scan_response, AdvFlags, AdvertisementV1, NO_BROADCAST_STREAM};
pub use v2::{
    is_v2, AdvertisementV2, BroadcastAuth, BroadcastInfo, DecodedV2, KeyType, V2Flags,
    MAX_REBOOT_COUNT,
};

use crate::report::BroadcastReport;

/// Bluetooth SIG company id of Arch Systems, in the manufacturer data (`C0 03` on air).
pub const COMPANY_ID: u16 = 0x03C0;
/// The 16-bit service-data UUID of v2 advertisements (`DD FD` on air).
pub const V2_SERVICE_UUID16: u16 = 0xFDDD;
/// Length of an advertisement or scan response.
pub const ADV_LEN: usize = 31;
/// Largest GATT write or notification value (ATT MTU 23 − 3).
pub const MAX_CHUNK: usize = 20;

/// Why bytes or values are not an IOTile advertisement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BleError {
    #[error("a {what} is {expected} bytes, got {found}")]
    Length {
        what: &'static str,
        expected: &'static str,
        found: usize,
    },
    #[error("not an IOTile advertisement: at byte {offset}, expected {what}")]
    NotIotile { offset: usize, what: &'static str },
    #[error("{field} is at most {max:#x}, got {value:#x}")]
    OutOfRange {
        field: &'static str,
        value: u32,
        max: u32,
    },
    #[error("the flags advertise key type {advertised:?} but the key supplied is {supplied:?}")]
    KeyMismatch {
        advertised: KeyType,
        supplied: Option<KeyType>,
    },
    #[error("AES-CCM refused to encrypt the broadcast")]
    Encrypt,
}

/// Splits report (or script, or trace) bytes into values of at most 20 bytes, the last one
/// short. Receivers must not rely on where the cuts fall.
pub fn chunks(report: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    report.chunks(MAX_CHUNK)
}

/// Either advertisement format, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Advertisement {
    V1(AdvertisementV1),
    V2(DecodedV2),
}

impl Advertisement {
    /// Recognises and decodes an advertisement. `scan_response` is used for v1 only and
    /// `key` for encrypted v2 broadcasts only.
    pub fn parse(
        adv: &[u8],
        scan_response: Option<&[u8]>,
        key: Option<&BroadcastKey>,
    ) -> Result<Self, BleError> {
        if adv.len() != ADV_LEN {
            return Err(BleError::Length {
                what: "advertisement",
                expected: "31",
                found: adv.len(),
            });
        }
        if is_v1(adv) {
            AdvertisementV1::decode(adv, scan_response).map(Advertisement::V1)
        } else if is_v2(adv) {
            AdvertisementV2::decode(adv, key).map(Advertisement::V2)
        } else {
            Err(BleError::NotIotile {
                offset: 3,
                what: "a v1 (FF C0 03 at byte 22) or v2 (1B 16 DD FD at byte 3) advertisement",
            })
        }
    }

    pub fn device_id(&self) -> u32 {
        match self {
            Advertisement::V1(adv) => adv.device_id,
            Advertisement::V2(decoded) => decoded.advertisement.device_id,
        }
    }

    pub fn user_connected(&self) -> bool {
        match self {
            Advertisement::V1(adv) => adv.flags.user_connected,
            Advertisement::V2(decoded) => decoded.advertisement.flags.user_connected,
        }
    }

    pub fn pending_data(&self) -> bool {
        match self {
            Advertisement::V1(adv) => adv.flags.pending_data,
            Advertisement::V2(decoded) => decoded.advertisement.flags.pending_data,
        }
    }

    /// The broadcast reading as a one-reading report, if there is one and it could be read.
    pub fn broadcast_report(&self) -> Option<BroadcastReport> {
        match self {
            Advertisement::V1(adv) => adv.broadcast_report(),
            Advertisement::V2(decoded) => decoded.advertisement.broadcast_report(),
        }
    }
}

/// Little-endian fields of a 31-byte packet at constant offsets.
fn read_u16(bytes: &[u8; ADV_LEN], at: usize) -> u16 {
    let mut out = [0u8; 2];
    if let Some(src) = bytes.get(at..at.saturating_add(2)) {
        out.copy_from_slice(src);
    }
    u16::from_le_bytes(out)
}

fn read_u32(bytes: &[u8; ADV_LEN], at: usize) -> u32 {
    let mut out = [0u8; 4];
    if let Some(src) = bytes.get(at..at.saturating_add(4)) {
        out.copy_from_slice(src);
    }
    u32::from_le_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_uuid_travels_little_endian() {
        assert_eq!(
            TILEBUS_SERVICE_UUID_LE,
            [
                0x63, 0x0F, 0xF6, 0x0F, 0x2C, 0x13, 0x11, 0xE6, 0xBA, 0x53, 0xF7, 0x3F, 0x00, 0x20,
                0x00, 0x00
            ]
        );
        assert_eq!(
            Characteristic::SendHeader.uuid(),
            0x0000_2003_0000_1000_8000_0080_5f9b_34fb
        );
        assert_eq!(u128_to_uuid16(TILEBUS_SERVICE_UUID), None);
        assert_eq!(
            Characteristic::from_uuid(Characteristic::Info.uuid()),
            Some(Characteristic::Info)
        );
        assert_eq!(Characteristic::from_uuid16(0x2000), None);
    }

    #[test]
    fn properties_follow_the_gatt_table() {
        let bits = |c: Characteristic| c.properties().bits();
        assert_eq!(bits(Characteristic::ReceiveHeader), 0x12);
        assert_eq!(bits(Characteristic::SendHeader), 0x0C);
        assert_eq!(bits(Characteristic::HighSpeed), 0x04);
        assert_eq!(bits(Characteristic::Tracing), 0x10);
        assert_eq!(bits(Characteristic::Auth), 0x1A);
        assert_eq!(bits(Characteristic::Info), 0x02);
        assert_eq!(Properties::from_bits(0x32).bits(), 0x32);
    }

    #[test]
    fn declarations_carry_short_or_long_uuids() {
        let short = [0x12, 0x0D, 0x00, 0x01, 0x20];
        let decl = CharacteristicDeclaration::decode(&short).expect("5 bytes");
        assert_eq!(decl.characteristic(), Some(Characteristic::ReceiveHeader));
        assert_eq!(decl.value_handle, 0x0D);
        assert_eq!(decl.encode(), short);
        let mut long = vec![0x02, 0x20, 0x00];
        long.extend_from_slice(&TILEBUS_SERVICE_UUID_LE);
        let decl = CharacteristicDeclaration::decode(&long).expect("19 bytes");
        assert_eq!(decl.uuid, TILEBUS_SERVICE_UUID);
        assert_eq!(decl.encode(), long);
        for len in 0..long.len() {
            if len != 5 {
                assert!(CharacteristicDeclaration::decode(&long[..len]).is_err());
            }
        }
    }

    #[test]
    fn chunks_are_twenty_bytes_at_most() {
        let report: Vec<u8> = (0..45).collect();
        let sizes: Vec<usize> = chunks(&report).map(<[u8]>::len).collect();
        assert_eq!(sizes, vec![20, 20, 5]);
        assert_eq!(chunks(&[]).count(), 0);
    }
}
