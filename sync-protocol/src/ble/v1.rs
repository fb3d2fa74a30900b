//! Advertisement v1: a 31-byte advertisement and a 31-byte scan response (sent only to
//! active scanners).
//!
//! ```text
//! advertisement: 0 02 01 06 | 3 11 06 + TileBus service (16, LE) | 21 09 FF C0 03
//!                25 u32 device uuid | 29 u16 flags
//! scan response: 0 13 FF C0 03 | 4 u16 voltage (V×256) | 6 u16 broadcast stream (FFFF none)
//!                8 u32 value | 12 u32 reading raw time | 16 u32 current time
//!                20 07 09 "IOTile" | 28 00 00 00
//! ```

use super::{read_u16, read_u32, BleError, ADV_LEN, TILEBUS_SERVICE_UUID_LE};

/// The AD flags element every IOTile advertisement starts with: LE general discoverable,
/// BR/EDR not supported.
pub(super) const AD_FLAGS: [u8; 3] = [0x02, 0x01, 0x06];
const UUID_LIST_HEADER: [u8; 2] = [0x11, 0x06];
const MANUFACTURER_HEADER: [u8; 4] = [0x09, 0xFF, 0xC0, 0x03];
/// The scan response's manufacturer data header. Its length byte is 0x13 (the mocks and the
/// BLED112 server); blelib writes 0x15, so decoding ignores byte 0.
const SCAN_HEADER: [u8; 4] = [0x13, 0xFF, 0xC0, 0x03];
const NAME: [u8; 8] = [0x07, 0x09, b'I', b'O', b'T', b'i', b'l', b'e'];

/// The stream that means "no broadcast reading". Decoders also treat `0x7FFF` so, as coretools
/// does for both advertisement versions.
pub const NO_BROADCAST_STREAM: u16 = 0xFFFF;

pub(super) fn is_no_broadcast(stream: u16) -> bool {
    stream == 0xFFFF || stream == 0x7FFF
}

/// The v1 flags word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AdvFlags {
    /// Bit 0: readings are waiting to be streamed.
    pub pending_data: bool,
    /// Bit 1.
    pub low_voltage: bool,
    /// Bit 2: another user is connected (the POD then advertises non-connectable).
    pub user_connected: bool,
    /// Bit 3.
    pub robust_reports: bool,
    /// Bit 4.
    pub fast_writes: bool,
    /// Bits 5..15, undefined; kept so decoding and encoding are exact.
    pub reserved: u16,
}

impl AdvFlags {
    const KNOWN: u16 = 0x1F;

    pub fn from_bits(bits: u16) -> Self {
        AdvFlags {
            pending_data: bits & 0x01 != 0,
            low_voltage: bits & 0x02 != 0,
            user_connected: bits & 0x04 != 0,
            robust_reports: bits & 0x08 != 0,
            fast_writes: bits & 0x10 != 0,
            reserved: bits & !Self::KNOWN,
        }
    }

    pub fn bits(self) -> u16 {
        u16::from(self.pending_data)
            | u16::from(self.low_voltage) << 1
            | u16::from(self.user_connected) << 2
            | u16::from(self.robust_reports) << 3
            | u16::from(self.fast_writes) << 4
            | (self.reserved & !Self::KNOWN)
    }
}

/// A v1 advertisement with its scan response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AdvertisementV1 {
    pub device_id: u32,
    pub flags: AdvFlags,
    /// Battery voltage, volts × 256.
    pub voltage: u16,
    /// `(stream, value, raw_time)`; a stream of `0xFFFF` or `0x7FFF` decodes as `None`.
    pub broadcast: Option<(u16, u32, u32)>,
    /// The device's clock (see [`crate::time`]).
    pub current_time: u32,
}

impl AdvertisementV1 {
    /// The advertisement and the scan response.
    pub fn encode(&self) -> ([u8; ADV_LEN], [u8; ADV_LEN]) {
        let mut adv = [0u8; ADV_LEN];
        adv[0..3].copy_from_slice(&AD_FLAGS);
        adv[3..5].copy_from_slice(&UUID_LIST_HEADER);
        adv[5..21].copy_from_slice(&TILEBUS_SERVICE_UUID_LE);
        adv[21..25].copy_from_slice(&MANUFACTURER_HEADER);
        adv[25..29].copy_from_slice(&self.device_id.to_le_bytes());
        adv[29..31].copy_from_slice(&self.flags.bits().to_le_bytes());

        let (stream, value, raw_time) = self.broadcast.unwrap_or((NO_BROADCAST_STREAM, 0, 0));
        let mut scan = [0u8; ADV_LEN];
        scan[0..4].copy_from_slice(&SCAN_HEADER);
        scan[4..6].copy_from_slice(&self.voltage.to_le_bytes());
        scan[6..8].copy_from_slice(&stream.to_le_bytes());
        scan[8..12].copy_from_slice(&value.to_le_bytes());
        scan[12..16].copy_from_slice(&raw_time.to_le_bytes());
        scan[16..20].copy_from_slice(&self.current_time.to_le_bytes());
        scan[20..28].copy_from_slice(&NAME);
        (adv, scan)
    }

    /// Decodes an advertisement and, when active scanning brought one, its scan response.
    /// Without a scan response, `voltage` and `current_time` are 0 and `broadcast` is `None`.
    pub fn decode(adv: &[u8], scan_response: Option<&[u8]>) -> Result<Self, BleError> {
        let (device_id, flags) = Self::decode_advertisement(adv)?;
        let mut out = AdvertisementV1 {
            device_id,
            flags,
            ..AdvertisementV1::default()
        };
        if let Some(scan) = scan_response {
            let (voltage, broadcast, current_time) = Self::decode_scan_response(scan)?;
            out.voltage = voltage;
            out.broadcast = broadcast;
            out.current_time = current_time;
        }
        Ok(out)
    }

    /// The advertisement half: device id and flags.
    fn decode_advertisement(adv: &[u8]) -> Result<(u32, AdvFlags), BleError> {
        let adv = exact(adv, "v1 advertisement")?;
        expect(
            adv,
            3,
            &UUID_LIST_HEADER,
            "the 128-bit service UUID list header",
        )?;
        expect(adv, 5, &TILEBUS_SERVICE_UUID_LE, "the TileBus service UUID")?;
        expect(
            adv,
            21,
            &MANUFACTURER_HEADER,
            "manufacturer data for company 0x03C0",
        )?;
        Ok((read_u32(adv, 25), AdvFlags::from_bits(read_u16(adv, 29))))
    }

    /// The scan response half: voltage, broadcast and current time.
    #[allow(clippy::type_complexity)]
    fn decode_scan_response(scan: &[u8]) -> Result<(u16, Option<(u16, u32, u32)>, u32), BleError> {
        let scan = exact(scan, "v1 scan response")?;
        expect(
            scan,
            1,
            &SCAN_HEADER[1..],
            "manufacturer data for company 0x03C0",
        )?;
        let stream = read_u16(scan, 6);
        let broadcast =
            (!is_no_broadcast(stream)).then(|| (stream, read_u32(scan, 8), read_u32(scan, 12)));
        Ok((read_u16(scan, 4), broadcast, read_u32(scan, 16)))
    }

    /// A POD with a user connected advertises non-connectable.
    pub fn connectable(&self) -> bool {
        !self.flags.user_connected
    }
}

/// Whether 31 bytes are a v1 advertisement (bytes 22..24 = `FF C0 03`).
pub fn is_v1(adv: &[u8]) -> bool {
    adv.len() == ADV_LEN && adv.get(22..25) == Some(&MANUFACTURER_HEADER[1..])
}

/// Whether 31 bytes look like a v1 scan response (bytes 1..3 = `FF C0 03`).
pub fn is_v1_scan_response(scan: &[u8]) -> bool {
    scan.len() == ADV_LEN && scan.get(1..4) == Some(&SCAN_HEADER[1..])
}

/// The bytes as a 31-byte array, or a length error.
pub(super) fn exact<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<&'a [u8; ADV_LEN], BleError> {
    bytes.try_into().map_err(|_| BleError::Length {
        what,
        expected: "31",
        found: bytes.len(),
    })
}

/// Checks constant bytes at `offset` of a 31-byte packet.
pub(super) fn expect(
    bytes: &[u8; ADV_LEN],
    offset: usize,
    wanted: &[u8],
    what: &'static str,
) -> Result<(), BleError> {
    let end = offset.saturating_add(wanted.len());
    if bytes.get(offset..end) == Some(wanted) {
        return Ok(());
    }
    Err(BleError::NotIotile { offset, what })
}
