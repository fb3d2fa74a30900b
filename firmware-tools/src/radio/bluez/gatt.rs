//! The GATT table as BlueZ exposes it: object paths, `Flags` strings and `uuid::Uuid` forms
//! of the UUIDs. The handle layout itself is [`crate::radio::gatt_layout`], shared with the
//! virtual BLED112.

use sync_protocol::ble::{self, Properties, SIG_BASE_UUID};
use uuid::Uuid;

pub use sync_protocol::ble::CCCD_UUID16;

/// The TileBus primary service, `00002000-3ff7-53ba-e611-132c0ff60f63`.
pub const TILEBUS_SERVICE_UUID: Uuid = Uuid::from_u128(ble::TILEBUS_SERVICE_UUID);

/// The GAP service (`0x1800`). BlueZ claims it for its own GAP plugin: the service is read
/// (the Device Name becomes `Device1.Name`) and listed in `Device1.UUIDs` once services are
/// resolved, but it is not exported as a `GattService1` object (BlueZ before 5.80, and 5.80+
/// with `ExportClaimedServices = no`).
pub const GAP_SERVICE_UUID16: u16 = 0x1800;

/// A 16-bit UUID in the Bluetooth SIG base (`0000XXXX-0000-1000-8000-00805f9b34fb`).
pub const fn uuid16(short: u16) -> Uuid {
    Uuid::from_u128(ble::uuid16_to_u128(short))
}

/// A 32-bit UUID in the Bluetooth SIG base (`XXXXXXXX-0000-1000-8000-00805f9b34fb`).
pub const fn uuid32(short: u32) -> Uuid {
    Uuid::from_u128(SIG_BASE_UUID | ((short as u128) << 96))
}

/// The `Flags` strings of a characteristic's properties, in the order BlueZ lists them.
pub fn flags(props: Properties) -> Vec<String> {
    [
        (props.read, "read"),
        (props.write_without_response, "write-without-response"),
        (props.write, "write"),
        (props.notify, "notify"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, flag)| flag.to_string())
    .collect()
}

pub use crate::radio::gatt_layout::{
    char_by_handle, char_index_by_handle, char_index_by_uuid16, CharDef, TILEBUS_CHARACTERISTICS,
    TILEBUS_END_HANDLE, TILEBUS_START_HANDLE,
};

/// `/org/bluez/hci0/dev_XX_XX_XX_XX_XX_XX/service000b`
pub fn service_path(device_path: &str) -> String {
    format!("{device_path}/service{TILEBUS_START_HANDLE:04x}")
}

/// `.../service000b/char000c`
pub fn char_path(device_path: &str, def: &CharDef) -> String {
    format!("{}/char{:04x}", service_path(device_path), def.decl_handle)
}

/// `.../service000b/char000c/desc000e`
pub fn cccd_path(device_path: &str, def: &CharDef, cccd_handle: u16) -> String {
    format!("{}/desc{:04x}", char_path(device_path, def), cccd_handle)
}

/// The primary service UUIDs of the remote GATT database, sorted the way BlueZ keeps
/// `Device1.UUIDs` once services are resolved.
pub fn resolved_service_uuids() -> Vec<String> {
    let mut uuids = vec![
        uuid16(GAP_SERVICE_UUID16).to_string(),
        TILEBUS_SERVICE_UUID.to_string(),
    ];
    uuids.sort();
    uuids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_print_as_bluez_does() {
        assert_eq!(
            uuid16(0x2001).to_string(),
            "00002001-0000-1000-8000-00805f9b34fb"
        );
        assert_eq!(
            TILEBUS_SERVICE_UUID.to_string(),
            "00002000-3ff7-53ba-e611-132c0ff60f63"
        );
    }

    #[test]
    fn flags_follow_bluez_order() {
        assert_eq!(
            flags(TILEBUS_CHARACTERISTICS[2].props()),
            vec!["write-without-response", "write"]
        );
        assert_eq!(
            flags(TILEBUS_CHARACTERISTICS[0].props()),
            vec!["read", "notify"]
        );
    }
}
