//! The attribute handles every virtual POD presents, whichever radio carries it: handle
//! layout (a) of device-protocols §5.1 (native BLE PODs). A GAP service at `0x0001..=0x0005`,
//! then the TileBus service from `0x000B`, each characteristic a declaration, a value and, for
//! notifying ones, a CCCD. UUIDs and properties come from [`sync_protocol::ble`].

use sync_protocol::ble::{Characteristic, Properties};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
