//! The attributes a BLED112 host discovers, by handle, built from the shared handle layout
//! ([`crate::radio::gatt_layout`]) plus the GAP service at `0x0001..=0x0005`.

use sync_protocol::ble::TILEBUS_SERVICE_UUID_LE;

use crate::radio::gatt_layout::{
    CharDef, TILEBUS_CHARACTERISTICS, TILEBUS_END_HANDLE, TILEBUS_START_HANDLE,
};

const PRIMARY_SERVICE: u16 = 0x2800;
const CHARACTERISTIC: u16 = 0x2803;
const CCCD: u16 = 0x2902;
const GAP_SERVICE: u16 = 0x1800;
/// GAP characteristics: Device Name and Appearance.
pub const DEVICE_NAME: u16 = 0x2A00;
pub const APPEARANCE: u16 = 0x2A01;
const READ: u8 = 0x02;

/// What lives at a handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    /// A primary service declaration.
    Service { uuid: ServiceUuid, end: u16 },
    /// A characteristic declaration: properties, value handle and 16-bit UUID.
    Declaration {
        properties: u8,
        value: u16,
        uuid: u16,
    },
    /// A characteristic value, by its 16-bit UUID.
    Value { uuid: u16 },
    /// The client configuration of a notifying characteristic.
    Cccd { characteristic: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceUuid {
    Gap,
    TileBus,
}

impl ServiceUuid {
    /// The UUID bytes as BGAPI carries them (little-endian; 2 or 16 bytes).
    pub fn le_bytes(self) -> Vec<u8> {
        match self {
            ServiceUuid::Gap => GAP_SERVICE.to_le_bytes().to_vec(),
            ServiceUuid::TileBus => TILEBUS_SERVICE_UUID_LE.to_vec(),
        }
    }
}

/// The attribute at `handle`.
pub fn attribute(handle: u16) -> Option<Attribute> {
    let gap = |properties, value, uuid| Attribute::Declaration {
        properties,
        value,
        uuid,
    };
    match handle {
        0x0001 => Some(Attribute::Service {
            uuid: ServiceUuid::Gap,
            end: 0x0005,
        }),
        0x0002 => Some(gap(READ, 0x0003, DEVICE_NAME)),
        0x0003 => Some(Attribute::Value { uuid: DEVICE_NAME }),
        0x0004 => Some(gap(READ, 0x0005, APPEARANCE)),
        0x0005 => Some(Attribute::Value { uuid: APPEARANCE }),
        TILEBUS_START_HANDLE => Some(Attribute::Service {
            uuid: ServiceUuid::TileBus,
            end: TILEBUS_END_HANDLE,
        }),
        _ => TILEBUS_CHARACTERISTICS
            .iter()
            .find_map(|c| characteristic_attribute(c, handle)),
    }
}

fn characteristic_attribute(c: &CharDef, handle: u16) -> Option<Attribute> {
    if handle == c.decl_handle {
        Some(Attribute::Declaration {
            properties: c.props().bits(),
            value: c.value_handle,
            uuid: c.uuid16,
        })
    } else if handle == c.value_handle {
        Some(Attribute::Value { uuid: c.uuid16 })
    } else if Some(handle) == c.cccd_handle {
        Some(Attribute::Cccd {
            characteristic: c.uuid16,
        })
    } else {
        None
    }
}

/// The attributes with handles in `start..=end`, in order.
pub fn range(start: u16, end: u16) -> impl Iterator<Item = (u16, Attribute)> {
    (start..=end.min(TILEBUS_END_HANDLE)).filter_map(|h| attribute(h).map(|a| (h, a)))
}

/// The 16-bit type UUID of an attribute (what find-information reports).
pub fn type_uuid(attribute: Attribute) -> u16 {
    match attribute {
        Attribute::Service { .. } => PRIMARY_SERVICE,
        Attribute::Declaration { .. } => CHARACTERISTIC,
        Attribute::Value { uuid } => uuid,
        Attribute::Cccd { .. } => CCCD,
    }
}

/// The value handle of a characteristic, by its 16-bit UUID.
pub fn value_handle(uuid: u16) -> Option<u16> {
    TILEBUS_CHARACTERISTICS
        .iter()
        .find(|c| c.uuid16 == uuid)
        .map(|c| c.value_handle)
}

/// A declaration's value: properties, value handle, 16-bit UUID.
pub fn declaration_value(properties: u8, value: u16, uuid: u16) -> Vec<u8> {
    let mut out = vec![properties];
    out.extend_from_slice(&value.to_le_bytes());
    out.extend_from_slice(&uuid.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_protocol::ble::CharacteristicDeclaration;

    #[test]
    fn declarations_agree_with_the_shared_characteristics() {
        let declarations: Vec<_> = range(1, 0xFFFF)
            .filter_map(|(_, a)| match a {
                Attribute::Declaration {
                    properties,
                    value,
                    uuid,
                } => Some(declaration_value(properties, value, uuid)),
                _ => None,
            })
            .collect();
        assert_eq!(declarations.len(), 2 + 7);
        for bytes in &declarations[2..] {
            let declaration = CharacteristicDeclaration::decode(bytes).expect("a declaration");
            let characteristic = declaration
                .characteristic()
                .expect("a TileBus characteristic");
            assert_eq!(declaration.properties, characteristic.properties());
            assert_eq!(
                attribute(declaration.value_handle),
                Some(Attribute::Value {
                    uuid: characteristic.uuid16()
                })
            );
        }
        assert_eq!(value_handle(0x2005), Some(0x0017));
        assert_eq!(
            attribute(0x0018),
            Some(Attribute::Cccd {
                characteristic: 0x2005
            })
        );
        assert_eq!(attribute(0x0006), None);
    }
}
