//! Events the dongle sends on its own: scan results, connection changes, GATT results.
//!
//! | class/id | event | payload |
//! |---|---|---|
//! | 0/0 | system_boot | `u16 major, minor, patch, build, ll version, u8 protocol, u8 hw` |
//! | 2/0 | attributes_value (peripheral: a client wrote) | `u8 conn, u8 reason, u16 handle, u16 offset, uint8array` |
//! | 2/2 | attributes_status (peripheral: a CCCD changed) | `u16 handle, u8 flags` |
//! | 3/0 | connection_status | `u8 conn, u8 flags, bd_addr, u8 type, u16 interval, u16 timeout, u16 latency, u8 bonding` (16 bytes) |
//! | 3/4 | connection_disconnected | `u8 conn, u16 reason` |
//! | 4/1 | attclient_procedure_completed | `u8 conn, u16 result, u16 handle` (5 bytes) |
//! | 4/2 | attclient_group_found | `u8 conn, u16 start, u16 end, uint8array uuid` |
//! | 4/4 | attclient_find_information_found | `u8 conn, u16 handle, uint8array uuid` |
//! | 4/5 | attclient_attribute_value | `u8 conn, u16 handle, u8 type, uint8array value` |
//! | 5/1 | sm_bonding_fail | `u8 conn, u16 result` |
//! | 6/0 | gap_scan_response | `i8 rssi, u8 packet type, bd_addr, u8 type, u8 bond, uint8array data` |

use super::wire::{Fields, Writer};
use super::{BdAddr, BgapiError, Packet};

/// `80 00 FF FF`: what coretools' reader thread queues when the dongle goes away. It is not
/// BGAPI; it decodes as [`Event::Other`].
pub const EVENT_DONGLE_GONE: [u8; 4] = [0x80, 0x00, 0xFF, 0xFF];

/// `packet_type` of event 6/0.
pub mod scan_packet_type {
    pub const CONNECTABLE: u8 = 0;
    pub const NON_CONNECTABLE: u8 = 2;
    pub const SCAN_RESPONSE: u8 = 4;
    pub const DISCOVERABLE: u8 = 6;
}

/// `kind` of event 4/5.
pub mod attribute_value_type {
    pub const READ: u8 = 0;
    pub const NOTIFY: u8 = 1;
    pub const INDICATE: u8 = 2;
}

/// Bits of `flags` in event 3/0; a new connection reports `CONNECTED | COMPLETED`, a free
/// slot in the 0/6 listing reports 0.
pub mod connection_flags {
    pub const CONNECTED: u8 = 0x01;
    pub const ENCRYPTED: u8 = 0x02;
    pub const COMPLETED: u8 = 0x04;
    pub const PARAMETERS_CHANGED: u8 = 0x08;
}

/// An event, as a dongle sends it and a host reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Event {
    SystemBoot {
        major: u16,
        minor: u16,
        patch: u16,
        build: u16,
        ll_version: u16,
        protocol_version: u8,
        hw: u8,
    },
    AttributesValue {
        connection: u8,
        reason: u8,
        handle: u16,
        offset: u16,
        value: Vec<u8>,
    },
    /// `flags`: bit 0 notify enabled, bit 1 indicate enabled.
    AttributesStatus {
        handle: u16,
        flags: u8,
    },
    ConnectionStatus {
        connection: u8,
        flags: u8,
        address: BdAddr,
        address_type: u8,
        interval: u16,
        timeout: u16,
        latency: u16,
        bonding: u8,
    },
    ConnectionDisconnected {
        connection: u8,
        reason: u16,
    },
    /// Ends a GATT procedure; after a write, `handle` is the written attribute.
    ProcedureCompleted {
        connection: u8,
        result: u16,
        handle: u16,
    },
    /// `uuid` as little-endian bytes (2 or 16).
    GroupFound {
        connection: u8,
        start: u16,
        end: u16,
        uuid: Vec<u8>,
    },
    /// `uuid` as little-endian bytes (2 or 16).
    FindInformationFound {
        connection: u8,
        handle: u16,
        uuid: Vec<u8>,
    },
    /// `kind`: see [`attribute_value_type`].
    AttributeValue {
        connection: u8,
        handle: u16,
        kind: u8,
        value: Vec<u8>,
    },
    SmBondingFail {
        connection: u8,
        result: u16,
    },
    /// One advertisement or scan response; `data` is the raw advertising data (31 bytes for
    /// IOTile packets), `bond` `0xFF` when not bonded.
    ScanResponse {
        rssi: i8,
        packet_type: u8,
        address: BdAddr,
        address_type: u8,
        bond: u8,
        data: Vec<u8>,
    },
    /// A class/id this module does not type, kept whole.
    Other(Packet),
}

impl Event {
    /// Class and id.
    pub fn class_id(&self) -> (u8, u8) {
        match self {
            Event::SystemBoot { .. } => (0, 0),
            Event::AttributesValue { .. } => (2, 0),
            Event::AttributesStatus { .. } => (2, 2),
            Event::ConnectionStatus { .. } => (3, 0),
            Event::ConnectionDisconnected { .. } => (3, 4),
            Event::ProcedureCompleted { .. } => (4, 1),
            Event::GroupFound { .. } => (4, 2),
            Event::FindInformationFound { .. } => (4, 4),
            Event::AttributeValue { .. } => (4, 5),
            Event::SmBondingFail { .. } => (5, 1),
            Event::ScanResponse { .. } => (6, 0),
            Event::Other(packet) => (packet.class, packet.id),
        }
    }

    /// The connection handle the event is about, if any.
    pub fn connection(&self) -> Option<u8> {
        match self {
            Event::AttributesValue { connection, .. }
            | Event::ConnectionStatus { connection, .. }
            | Event::ConnectionDisconnected { connection, .. }
            | Event::ProcedureCompleted { connection, .. }
            | Event::GroupFound { connection, .. }
            | Event::FindInformationFound { connection, .. }
            | Event::AttributeValue { connection, .. }
            | Event::SmBondingFail { connection, .. } => Some(*connection),
            Event::SystemBoot { .. }
            | Event::AttributesStatus { .. }
            | Event::ScanResponse { .. }
            | Event::Other(_) => None,
        }
    }

    /// The packet to send. Fails only if a value is longer than a `uint8array` allows.
    pub fn encode(&self) -> Result<Packet, BgapiError> {
        let w = Writer::default();
        let w = match self {
            Event::Other(packet) => return Ok(packet.clone()),
            Event::SystemBoot {
                major,
                minor,
                patch,
                build,
                ll_version,
                protocol_version,
                hw,
            } => w
                .u16(*major)
                .u16(*minor)
                .u16(*patch)
                .u16(*build)
                .u16(*ll_version)
                .u8(*protocol_version)
                .u8(*hw),
            Event::AttributesValue {
                connection,
                reason,
                handle,
                offset,
                value,
            } => w
                .u8(*connection)
                .u8(*reason)
                .u16(*handle)
                .u16(*offset)
                .bytes("value", value)?,
            Event::AttributesStatus { handle, flags } => w.u16(*handle).u8(*flags),
            Event::ConnectionStatus {
                connection,
                flags,
                address,
                address_type,
                interval,
                timeout,
                latency,
                bonding,
            } => w
                .u8(*connection)
                .u8(*flags)
                .addr(*address)
                .u8(*address_type)
                .u16(*interval)
                .u16(*timeout)
                .u16(*latency)
                .u8(*bonding),
            Event::ConnectionDisconnected { connection, reason } => w.u8(*connection).u16(*reason),
            Event::ProcedureCompleted {
                connection,
                result,
                handle,
            } => w.u8(*connection).u16(*result).u16(*handle),
            Event::GroupFound {
                connection,
                start,
                end,
                uuid,
            } => w
                .u8(*connection)
                .u16(*start)
                .u16(*end)
                .bytes("uuid", uuid)?,
            Event::FindInformationFound {
                connection,
                handle,
                uuid,
            } => w.u8(*connection).u16(*handle).bytes("uuid", uuid)?,
            Event::AttributeValue {
                connection,
                handle,
                kind,
                value,
            } => w
                .u8(*connection)
                .u16(*handle)
                .u8(*kind)
                .bytes("value", value)?,
            Event::SmBondingFail { connection, result } => w.u8(*connection).u16(*result),
            Event::ScanResponse {
                rssi,
                packet_type,
                address,
                address_type,
                bond,
                data,
            } => w
                .i8(*rssi)
                .u8(*packet_type)
                .addr(*address)
                .u8(*address_type)
                .u8(*bond)
                .bytes("advertising data", data)?,
        };
        let (class, id) = self.class_id();
        Packet::event(class, id, w.0)
    }

    /// Reads an event packet. Command/response packets are refused; unknown class/ids are
    /// [`Event::Other`]; known ones must have exactly their fields.
    pub fn decode(packet: &Packet) -> Result<Self, BgapiError> {
        packet.expect_kind(true)?;
        let name = event_name(packet.class, packet.id);
        let mut f = Fields::new(name, packet.payload());
        let event = match (packet.class, packet.id) {
            (0, 0) => Event::SystemBoot {
                major: f.u16()?,
                minor: f.u16()?,
                patch: f.u16()?,
                build: f.u16()?,
                ll_version: f.u16()?,
                protocol_version: f.u8()?,
                hw: f.u8()?,
            },
            (2, 0) => Event::AttributesValue {
                connection: f.u8()?,
                reason: f.u8()?,
                handle: f.u16()?,
                offset: f.u16()?,
                value: f.bytes()?,
            },
            (2, 2) => Event::AttributesStatus {
                handle: f.u16()?,
                flags: f.u8()?,
            },
            (3, 0) => Event::ConnectionStatus {
                connection: f.u8()?,
                flags: f.u8()?,
                address: f.addr()?,
                address_type: f.u8()?,
                interval: f.u16()?,
                timeout: f.u16()?,
                latency: f.u16()?,
                bonding: f.u8()?,
            },
            (3, 4) => Event::ConnectionDisconnected {
                connection: f.u8()?,
                reason: f.u16()?,
            },
            (4, 1) => Event::ProcedureCompleted {
                connection: f.u8()?,
                result: f.u16()?,
                handle: f.u16()?,
            },
            (4, 2) => Event::GroupFound {
                connection: f.u8()?,
                start: f.u16()?,
                end: f.u16()?,
                uuid: f.bytes()?,
            },
            (4, 4) => Event::FindInformationFound {
                connection: f.u8()?,
                handle: f.u16()?,
                uuid: f.bytes()?,
            },
            (4, 5) => Event::AttributeValue {
                connection: f.u8()?,
                handle: f.u16()?,
                kind: f.u8()?,
                value: f.bytes()?,
            },
            (5, 1) => Event::SmBondingFail {
                connection: f.u8()?,
                result: f.u16()?,
            },
            (6, 0) => Event::ScanResponse {
                rssi: f.i8()?,
                packet_type: f.u8()?,
                address: f.addr()?,
                address_type: f.u8()?,
                bond: f.u8()?,
                data: f.bytes()?,
            },
            _ => return Ok(Event::Other(packet.clone())),
        };
        f.finish()?;
        Ok(event)
    }
}

/// The BGAPI name of an event, for error messages.
fn event_name(class: u8, id: u8) -> &'static str {
    match (class, id) {
        (0, 0) => "system_boot",
        (2, 0) => "attributes_value",
        (2, 2) => "attributes_status",
        (3, 0) => "connection_status",
        (3, 4) => "connection_disconnected",
        (4, 1) => "attclient_procedure_completed",
        (4, 2) => "attclient_group_found",
        (4, 4) => "attclient_find_information_found",
        (4, 5) => "attclient_attribute_value",
        (5, 1) => "sm_bonding_fail",
        (6, 0) => "gap_scan_response",
        _ => "unknown event",
    }
}
