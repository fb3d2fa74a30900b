//! The GATT table every virtual peripheral presents (device-protocols §5.1, handle layout (a)).
//!
//! The UUIDs and characteristic properties come from [`sync_protocol::ble`]; this module adds
//! the handle layout, BlueZ's object paths and `uuid::Uuid` forms of the UUIDs.

use sync_protocol::ble::{self, Characteristic, Properties, SIG_BASE_UUID};
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

/// One characteristic of the TileBus service and where it sits in the handle layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharDef {
    pub characteristic: Characteristic,
    /// 16-bit UUID (`0x2001`..`0x2007`), `characteristic.uuid16()`.
    pub uuid16: u16,
    /// Handle of the characteristic declaration (BlueZ names the object `charXXXX` after it).
    pub decl_handle: u16,
    /// Handle of the value attribute.
    pub value_handle: u16,
    /// Handle of the CCCD, for notifying characteristics.
    pub cccd_handle: Option<u16>,
}

impl CharDef {
    /// The properties a POD gives the characteristic.
    pub fn props(&self) -> Properties {
        self.characteristic.properties()
    }

    pub fn name(&self) -> &'static str {
        self.characteristic.name()
    }
}

const fn char_def(
    characteristic: Characteristic,
    decl_handle: u16,
    value_handle: u16,
    cccd_handle: Option<u16>,
) -> CharDef {
    CharDef {
        characteristic,
        uuid16: characteristic as u16,
        decl_handle,
        value_handle,
        cccd_handle,
    }
}

/// First handle of the TileBus service (after the GAP service at `0x0001..=0x0005`).
pub const TILEBUS_START_HANDLE: u16 = 0x000B;
/// Last handle of the TileBus service.
pub const TILEBUS_END_HANDLE: u16 = 0x001D;

/// The TileBus characteristics in handle order.
pub const TILEBUS_CHARACTERISTICS: [CharDef; 7] = [
    char_def(Characteristic::ReceiveHeader, 0x000C, 0x000D, Some(0x000E)),
    char_def(Characteristic::ReceivePayload, 0x000F, 0x0010, Some(0x0011)),
    char_def(Characteristic::SendHeader, 0x0012, 0x0013, None),
    char_def(Characteristic::SendPayload, 0x0014, 0x0015, None),
    char_def(Characteristic::Streaming, 0x0016, 0x0017, Some(0x0018)),
    char_def(Characteristic::HighSpeed, 0x0019, 0x001A, None),
    char_def(Characteristic::Tracing, 0x001B, 0x001C, Some(0x001D)),
];

/// Index into [`TILEBUS_CHARACTERISTICS`] by declaration handle.
pub fn char_index_by_handle(decl_handle: u16) -> Option<usize> {
    TILEBUS_CHARACTERISTICS
        .iter()
        .position(|c| c.decl_handle == decl_handle)
}

/// The entry of [`TILEBUS_CHARACTERISTICS`] with this declaration handle.
pub fn char_by_handle(decl_handle: u16) -> Option<&'static CharDef> {
    TILEBUS_CHARACTERISTICS
        .iter()
        .find(|c| c.decl_handle == decl_handle)
}

/// Index into [`TILEBUS_CHARACTERISTICS`] by 16-bit UUID.
pub fn char_index_by_uuid16(uuid16: u16) -> Option<usize> {
    TILEBUS_CHARACTERISTICS
        .iter()
        .position(|c| c.uuid16 == uuid16)
}

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
    fn handles_are_increasing_and_inside_the_service() {
        let mut last = TILEBUS_START_HANDLE;
        for c in TILEBUS_CHARACTERISTICS {
            assert!(c.decl_handle > last && c.value_handle == c.decl_handle + 1);
            last = c.cccd_handle.unwrap_or(c.value_handle);
            assert_eq!(c.cccd_handle.is_some(), c.props().notify);
            assert_eq!(c.uuid16, c.characteristic.uuid16());
        }
        assert_eq!(last, TILEBUS_END_HANDLE);
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
