//! The attribute handles a POD exposes over the air, as a BLED112 host discovers them.
//!
//! Layout (a) of the device-protocols spec §5.1 (native BLE PODs): a GAP service at
//! `0x0001..=0x0005`, then the TileBus service from `0x000B`, each characteristic a
//! declaration, a value and, for notifying ones, a CCCD. Hosts discover handles; nothing
//! hard-codes them but this table.

/// The TileBus service UUID, little-endian as it travels.
pub const TILEBUS_SERVICE_LE: [u8; 16] = [
    0x63, 0x0F, 0xF6, 0x0F, 0x2C, 0x13, 0x11, 0xE6, 0xBA, 0x53, 0xF7, 0x3F, 0x00, 0x20, 0x00, 0x00,
];

const PRIMARY_SERVICE: u16 = 0x2800;
const CHARACTERISTIC: u16 = 0x2803;
const CCCD: u16 = 0x2902;
const GAP_SERVICE: u16 = 0x1800;
const DEVICE_NAME: u16 = 0x2A00;
const APPEARANCE: u16 = 0x2A01;

// Characteristic property bits as declared in 0x2803 values.
const READ: u8 = 0x02;
const WRITE_NO_RESPONSE: u8 = 0x04;
const WRITE: u8 = 0x08;
const NOTIFY: u8 = 0x10;

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
    /// The client configuration of the characteristic whose value handle is `value`.
    Cccd { value: u16 },
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
            ServiceUuid::TileBus => TILEBUS_SERVICE_LE.to_vec(),
        }
    }
}

/// (handle, attribute), in handle order.
pub const TABLE: [(u16, Attribute); 24] = [
    (
        0x0001,
        Attribute::Service {
            uuid: ServiceUuid::Gap,
            end: 0x0005,
        },
    ),
    (
        0x0002,
        Attribute::Declaration {
            properties: READ,
            value: 0x0003,
            uuid: DEVICE_NAME,
        },
    ),
    (0x0003, Attribute::Value { uuid: DEVICE_NAME }),
    (
        0x0004,
        Attribute::Declaration {
            properties: READ,
            value: 0x0005,
            uuid: APPEARANCE,
        },
    ),
    (0x0005, Attribute::Value { uuid: APPEARANCE }),
    (
        0x000B,
        Attribute::Service {
            uuid: ServiceUuid::TileBus,
            end: 0x001D,
        },
    ),
    (
        0x000C,
        Attribute::Declaration {
            properties: READ | NOTIFY,
            value: 0x000D,
            uuid: 0x2001,
        },
    ),
    (0x000D, Attribute::Value { uuid: 0x2001 }),
    (0x000E, Attribute::Cccd { value: 0x000D }),
    (
        0x000F,
        Attribute::Declaration {
            properties: READ | NOTIFY,
            value: 0x0010,
            uuid: 0x2002,
        },
    ),
    (0x0010, Attribute::Value { uuid: 0x2002 }),
    (0x0011, Attribute::Cccd { value: 0x0010 }),
    (
        0x0012,
        Attribute::Declaration {
            properties: WRITE | WRITE_NO_RESPONSE,
            value: 0x0013,
            uuid: 0x2003,
        },
    ),
    (0x0013, Attribute::Value { uuid: 0x2003 }),
    (
        0x0014,
        Attribute::Declaration {
            properties: WRITE | WRITE_NO_RESPONSE,
            value: 0x0015,
            uuid: 0x2004,
        },
    ),
    (0x0015, Attribute::Value { uuid: 0x2004 }),
    (
        0x0016,
        Attribute::Declaration {
            properties: READ | NOTIFY,
            value: 0x0017,
            uuid: 0x2005,
        },
    ),
    (0x0017, Attribute::Value { uuid: 0x2005 }),
    (0x0018, Attribute::Cccd { value: 0x0017 }),
    (
        0x0019,
        Attribute::Declaration {
            properties: WRITE_NO_RESPONSE,
            value: 0x001A,
            uuid: 0x2006,
        },
    ),
    (0x001A, Attribute::Value { uuid: 0x2006 }),
    (
        0x001B,
        Attribute::Declaration {
            properties: NOTIFY,
            value: 0x001C,
            uuid: 0x2007,
        },
    ),
    (0x001C, Attribute::Value { uuid: 0x2007 }),
    (0x001D, Attribute::Cccd { value: 0x001C }),
];

/// The attribute at `handle`.
pub fn attribute(handle: u16) -> Option<Attribute> {
    TABLE.iter().find(|(h, _)| *h == handle).map(|(_, a)| *a)
}

/// The attributes with handles in `start..=end`, in order.
pub fn range(start: u16, end: u16) -> impl Iterator<Item = (u16, Attribute)> {
    TABLE
        .into_iter()
        .filter(move |(h, _)| (start..=end).contains(h))
}

/// The 16-bit type UUID of the attribute at a handle (what find-information reports).
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
    TABLE.iter().find_map(|(h, a)| match a {
        Attribute::Value { uuid: u } if *u == uuid => Some(*h),
        _ => None,
    })
}

/// A declaration's value: properties, value handle, 16-bit UUID.
pub fn declaration_value(properties: u8, value: u16, uuid: u16) -> Vec<u8> {
    let mut out = vec![properties];
    out.extend_from_slice(&value.to_le_bytes());
    out.extend_from_slice(&uuid.to_le_bytes());
    out
}
