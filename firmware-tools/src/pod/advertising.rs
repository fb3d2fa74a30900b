//! A POD's advertising packets, built with the shared encoders of `sync_protocol::ble`.
//!
//! v2 (one 31-byte packet, service data `0xFDDD`) is the default: hosts on BlueZ see it
//! whole, while a v1 advertisement's device id travels in manufacturer data that BlueZ
//! replaces with the scan response's under active scanning (device-protocols §5.2).

use serde::{Deserialize, Serialize};
use sync_protocol::ble::{
    AdvFlags, AdvertisementV1, AdvertisementV2, BroadcastInfo, KeyType, V2Flags,
};

use super::model::AdvertisementData;
use crate::radio::Advertising;

/// Which advertisement format a POD sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdvertisementFormat {
    /// Advertisement plus scan response (older firmware).
    V1,
    /// One packet with service data (current firmware).
    #[default]
    V2,
}

impl AdvertisementFormat {
    pub fn packets(self, data: &AdvertisementData) -> Advertising {
        match self {
            AdvertisementFormat::V1 => advertisement_v1(data),
            AdvertisementFormat::V2 => advertisement_v2(data),
        }
    }
}

/// The v1 advertisement and scan response (§5.2).
pub fn advertisement_v1(data: &AdvertisementData) -> Advertising {
    let advertisement = AdvertisementV1 {
        device_id: data.device_id as u32,
        flags: AdvFlags {
            pending_data: data.has_data,
            low_voltage: data.low_voltage,
            user_connected: data.user_connected,
            robust_reports: true,
            fast_writes: true,
            reserved: 0,
        },
        voltage: (u64::from(data.battery_mv) * 256 / 1000).min(0xFFFF) as u16,
        broadcast: data.broadcast.map(|r| (r.stream, r.value, r.raw_time)),
        current_time: data.current_time,
    };
    let (packet, scan_response) = advertisement.encode();
    Advertising {
        advertisement: packet.to_vec(),
        scan_response: Some(scan_response.to_vec()),
        connectable: !data.user_connected,
    }
}

/// The v2 advertisement (§5.3), unencrypted.
pub fn advertisement_v2(data: &AdvertisementData) -> Advertising {
    let advertisement = AdvertisementV2 {
        device_id: data.device_id as u32,
        reboot_count: data.reboot_count & 0xF_FFFF,
        flags: V2Flags {
            pending_data: data.has_data,
            low_voltage: data.low_voltage,
            user_connected: data.user_connected,
            key_type: KeyType::None,
            time_synchronised: data.time_synchronised,
            safe_mode: data.safe_mode,
        },
        current_time: data.current_time,
        battery: (u64::from(data.battery_mv) * 32 / 1000).min(0xFF) as u8,
        // The counter moves with each new broadcast reading, so hosts can drop repeats.
        broadcast_info: BroadcastInfo {
            counter: data.broadcast.map_or(0, |r| (r.reading_id & 0x1F) as u8),
            id: 0,
        },
        broadcast: data.broadcast.map(|r| (r.stream & 0x7FFF, r.value)),
        toggle: data.broadcast.is_some_and(|r| r.reading_id & 0x20 != 0),
    };
    // Without a key the encoder cannot fail; an empty packet would only hide the POD.
    let packet = advertisement
        .encode(None)
        .map(|p| p.to_vec())
        .unwrap_or_default();
    Advertising {
        advertisement: packet,
        scan_response: None,
        connectable: !data.user_connected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_protocol::ble::Advertisement;
    use sync_protocol::Reading;

    fn data() -> AdvertisementData {
        AdvertisementData {
            device_id: 0x1234,
            has_data: true,
            low_voltage: false,
            user_connected: false,
            battery_mv: 3000,
            current_time: 77,
            reboot_count: 2,
            broadcast: Some(Reading {
                stream: 0x5001,
                reading_id: 3,
                raw_time: 70,
                value: 42,
            }),
            safe_mode: false,
            time_synchronised: false,
        }
    }

    #[test]
    fn both_formats_decode_to_the_pod() {
        for format in [AdvertisementFormat::V1, AdvertisementFormat::V2] {
            let packets = format.packets(&data());
            assert_eq!(packets.advertisement.len(), 31);
            let seen = Advertisement::parse(
                &packets.advertisement,
                packets.scan_response.as_deref(),
                None,
            )
            .expect("an IOTile advertisement");
            assert_eq!(seen.device_id(), 0x1234);
            assert!(seen.pending_data());
            let report = seen.broadcast_report().expect("the broadcast reading");
            assert_eq!(report.readings()[0].value, 42);
            assert!(packets.connectable);
        }
    }
}
