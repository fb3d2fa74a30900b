//! Advertising-data parsing, the way BlueZ's `eir_parse` does it.
//!
//! With active scanning the kernel merges an advertisement and its scan response into one
//! report (the two AD blobs concatenated), and BlueZ parses the result front to back: a later
//! manufacturer-data entry for the same company replaces the earlier one, a later name replaces
//! an earlier one.

use sync_protocol::ble::uuid_from_le;
use uuid::Uuid;

use super::gatt::{uuid16, uuid32};

const EIR_FLAGS: u8 = 0x01;
const EIR_UUID16_SOME: u8 = 0x02;
const EIR_UUID16_ALL: u8 = 0x03;
const EIR_UUID32_SOME: u8 = 0x04;
const EIR_UUID32_ALL: u8 = 0x05;
const EIR_UUID128_SOME: u8 = 0x06;
const EIR_UUID128_ALL: u8 = 0x07;
const EIR_NAME_SHORT: u8 = 0x08;
const EIR_NAME_COMPLETE: u8 = 0x09;
const EIR_TX_POWER: u8 = 0x0A;
const EIR_CLASS_OF_DEV: u8 = 0x0D;
const EIR_DEVICE_ID: u8 = 0x10;
const EIR_SVC_DATA16: u8 = 0x16;
const EIR_GAP_APPEARANCE: u8 = 0x19;
const EIR_SVC_DATA32: u8 = 0x20;
const EIR_SVC_DATA128: u8 = 0x21;
const EIR_BC_NAME: u8 = 0x30;
const EIR_MANUFACTURER_DATA: u8 = 0xFF;
/// Largest service-data payload BlueZ keeps (`EIR_SD_MAX_LEN`).
const EIR_SD_MAX_LEN: usize = 238;
/// Largest manufacturer-data payload BlueZ keeps (`sizeof(eir_msd.data)`).
const EIR_MSD_MAX_LEN: usize = 242;

/// AD flags: LE Limited / General Discoverable Mode.
pub const FLAG_LE_LIMITED_DISC: u8 = 0x01;
pub const FLAG_LE_GENERAL_DISC: u8 = 0x02;

/// What one advertising report says, in the order the AD structures appeared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedAd {
    pub flags: Option<u8>,
    /// Service UUIDs from the 16/32/128-bit UUID lists (complete or incomplete), lower-case
    /// 128-bit strings.
    pub services: Vec<String>,
    /// The last name seen and whether it was a complete name.
    pub name: Option<(String, bool)>,
    pub tx_power: Option<i8>,
    pub appearance: Option<u16>,
    pub class: Option<u32>,
    pub manufacturer_data: Vec<(u16, Vec<u8>)>,
    pub service_data: Vec<(String, Vec<u8>)>,
    /// AD types BlueZ does not interpret (`Device1.AdvertisingData`).
    pub other: Vec<(u8, Vec<u8>)>,
}

/// A 16- or 128-bit UUID sent little-endian on air, as BlueZ prints it.
fn uuid_le(bytes: &[u8]) -> Option<String> {
    uuid_from_le(bytes).map(|u| Uuid::from_u128(u).to_string())
}

fn name_to_utf8(data: &[u8]) -> String {
    // Some vendors NUL-terminate the name; BlueZ drops trailing NULs, then strips whitespace.
    let mut end = data.len();
    while end > 0 && data[end - 1] == 0 {
        end -= 1;
    }
    let raw = &data[..end];
    let raw = match raw.iter().position(|b| *b == 0) {
        Some(nul) => &raw[..nul],
        None => raw,
    };
    String::from_utf8_lossy(raw).trim().to_string()
}

impl ParsedAd {
    /// Parses concatenated AD structures (advertisement, then scan response).
    pub fn parse(data: &[u8]) -> ParsedAd {
        let mut ad = ParsedAd::default();
        let mut rest = data;
        while rest.len() >= 2 {
            let field_len = rest[0] as usize;
            if field_len == 0 || field_len + 1 > rest.len() {
                break;
            }
            let ad_type = rest[1];
            let body = &rest[2..field_len + 1];
            ad.field(ad_type, body);
            rest = &rest[field_len + 1..];
        }
        ad
    }

    fn field(&mut self, ad_type: u8, body: &[u8]) {
        match ad_type {
            EIR_UUID16_SOME | EIR_UUID16_ALL => {
                self.services
                    .extend(body.chunks_exact(2).filter_map(uuid_le));
            }
            EIR_UUID32_SOME | EIR_UUID32_ALL => {
                for c in body.chunks_exact(4) {
                    self.services
                        .push(uuid32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_string());
                }
            }
            EIR_UUID128_SOME | EIR_UUID128_ALL => {
                self.services
                    .extend(body.chunks_exact(16).filter_map(uuid_le));
            }
            EIR_FLAGS => {
                if let Some(f) = body.first() {
                    self.flags = Some(*f);
                }
            }
            EIR_NAME_SHORT | EIR_NAME_COMPLETE | EIR_BC_NAME => {
                self.name = Some((name_to_utf8(body), ad_type != EIR_NAME_SHORT));
            }
            EIR_TX_POWER => {
                if let Some(p) = body.first() {
                    self.tx_power = Some(*p as i8);
                }
            }
            EIR_CLASS_OF_DEV => {
                if body.len() >= 3 {
                    self.class = Some(
                        u32::from(body[0]) | u32::from(body[1]) << 8 | u32::from(body[2]) << 16,
                    );
                }
            }
            EIR_GAP_APPEARANCE => {
                if body.len() >= 2 {
                    self.appearance = Some(u16::from_le_bytes([body[0], body[1]]));
                }
            }
            EIR_DEVICE_ID => {}
            EIR_SVC_DATA16 => {
                self.service_data_entry(body, 2);
            }
            EIR_SVC_DATA32 => {
                if body.len() >= 4 && body.len() <= EIR_SD_MAX_LEN {
                    let uuid = uuid32(u32::from_le_bytes([body[0], body[1], body[2], body[3]]));
                    self.service_data
                        .push((uuid.to_string(), body[4..].to_vec()));
                }
            }
            EIR_SVC_DATA128 => {
                self.service_data_entry(body, 16);
            }
            EIR_MANUFACTURER_DATA => {
                if body.len() >= 2 && body.len() <= 2 + EIR_MSD_MAX_LEN {
                    let company = u16::from_le_bytes([body[0], body[1]]);
                    self.manufacturer_data.push((company, body[2..].to_vec()));
                }
            }
            // SSP hash/randomizer and the like: BlueZ keeps them privately; everything else
            // lands in AdvertisingData.
            0x0E | 0x0F => {}
            other => self.other.push((other, body.to_vec())),
        }
    }

    /// A 16- or 128-bit service-data entry: the UUID (little-endian), then the data.
    fn service_data_entry(&mut self, body: &[u8], uuid_len: usize) {
        if body.len() < uuid_len || body.len() > EIR_SD_MAX_LEN {
            return;
        }
        let (uuid, data) = body.split_at(uuid_len);
        if let Some(uuid) = uuid_le(uuid) {
            self.service_data.push((uuid, data.to_vec()));
        }
    }

    /// Whether the report says LE Limited or General Discoverable.
    pub fn discoverable(&self) -> bool {
        self.flags
            .is_some_and(|f| f & (FLAG_LE_LIMITED_DISC | FLAG_LE_GENERAL_DISC) != 0)
    }
}

/// Parses a UUID the way `bt_string_to_uuid` accepts it for discovery filters: 16-bit
/// (`"fddd"`, `"0xfddd"`), 32-bit, or 128-bit; returned as the lower-case 128-bit string.
pub fn parse_uuid_string(s: &str) -> Option<String> {
    let t = s.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if hex.len() == 4 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let v = u16::from_str_radix(hex, 16).ok()?;
        return Some(uuid16(v).to_string());
    }
    if hex.len() == 8 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let v = u32::from_str_radix(hex, 16).ok()?;
        return Some(uuid32(v).to_string());
    }
    if t.len() == 36 {
        return Uuid::parse_str(t).ok().map(|u| u.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_advertisement() -> Vec<u8> {
        let mut a = vec![0x02, 0x01, 0x06, 0x11, 0x06];
        a.extend([
            0x63, 0x0F, 0xF6, 0x0F, 0x2C, 0x13, 0x11, 0xE6, 0xBA, 0x53, 0xF7, 0x3F, 0x00, 0x20,
            0x00, 0x00,
        ]);
        a.extend([0x09, 0xFF, 0xC0, 0x03, 0x78, 0x56, 0x34, 0x12, 0x01, 0x00]);
        assert_eq!(a.len(), 31);
        a
    }

    fn v1_scan_response() -> Vec<u8> {
        let mut s = vec![0x13, 0xFF, 0xC0, 0x03];
        s.extend([
            0x00, 0x03, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0,
        ]);
        s.extend([0x07, 0x09]);
        s.extend(b"IOTile");
        s.extend([0, 0, 0]);
        assert_eq!(s.len(), 31);
        s
    }

    #[test]
    fn v1_merged_report_keeps_the_scan_response_manufacturer_data() {
        let mut merged = v1_advertisement();
        merged.extend(v1_scan_response());
        let ad = ParsedAd::parse(&merged);
        assert_eq!(ad.flags, Some(0x06));
        assert!(ad.discoverable());
        assert_eq!(ad.services, vec!["00002000-3ff7-53ba-e611-132c0ff60f63"]);
        assert_eq!(ad.manufacturer_data.len(), 2);
        assert_eq!(
            ad.manufacturer_data[0],
            (0x03C0, vec![0x78, 0x56, 0x34, 0x12, 0x01, 0x00])
        );
        assert_eq!(ad.manufacturer_data[1].1.len(), 16);
        assert_eq!(ad.name, Some(("IOTile".to_string(), true)));
    }

    #[test]
    fn v2_service_data() {
        let mut a = vec![0x02, 0x01, 0x06, 0x1B, 0x16, 0xDD, 0xFD];
        a.extend([0u8; 24]);
        let ad = ParsedAd::parse(&a);
        assert_eq!(
            ad.service_data,
            vec![(
                "0000fddd-0000-1000-8000-00805f9b34fb".to_string(),
                vec![0u8; 24]
            )]
        );
        assert!(ad.services.is_empty());
        assert!(ad.manufacturer_data.is_empty());
    }

    #[test]
    fn uuid16_lists_and_uuid128_service_data() {
        let mut a = vec![0x05, 0x03, 0x0F, 0x18, 0x0A, 0x18, 0x13, 0x21];
        a.extend(sync_protocol::ble::TILEBUS_SERVICE_UUID_LE);
        a.extend([0x01, 0x02]);
        let ad = ParsedAd::parse(&a);
        assert_eq!(
            ad.services,
            vec![
                "0000180f-0000-1000-8000-00805f9b34fb",
                "0000180a-0000-1000-8000-00805f9b34fb"
            ]
        );
        assert_eq!(
            ad.service_data,
            vec![(
                "00002000-3ff7-53ba-e611-132c0ff60f63".to_string(),
                vec![0x01, 0x02]
            )]
        );
    }

    #[test]
    fn truncated_and_zero_length_structures_stop_parsing() {
        assert_eq!(ParsedAd::parse(&[0x05, 0xFF, 0xC0]), ParsedAd::default());
        let ad = ParsedAd::parse(&[0x02, 0x01, 0x06, 0x00, 0x02, 0x01, 0x04]);
        assert_eq!(ad.flags, Some(0x06));
    }

    #[test]
    fn names_are_stripped_like_bluez() {
        let ad = ParsedAd::parse(&[
            0x0B, 0x08, b' ', b'V', b'_', b'I', b'O', b'T', b'i', b'l', b'e', 0,
        ]);
        assert_eq!(ad.name, Some(("V_IOTile".to_string(), false)));
    }

    #[test]
    fn filter_uuid_strings() {
        assert_eq!(
            parse_uuid_string("fddd").as_deref(),
            Some("0000fddd-0000-1000-8000-00805f9b34fb")
        );
        assert_eq!(
            parse_uuid_string("00002000-3FF7-53BA-E611-132C0FF60F63").as_deref(),
            Some("00002000-3ff7-53ba-e611-132c0ff60f63")
        );
        assert_eq!(parse_uuid_string("nope"), None);
    }
}
