//! Commands a host sends to the dongle and the response the dongle sends to each.
//!
//! | class/id | command payload | response payload |
//! |---|---|---|
//! | 0/0 system_reset | `u8 boot_to_dfu` | none: the dongle reboots and sends event 0/0 |
//! | 0/6 system_get_connections | — | `u8 max` (then one event 3/0 per slot) |
//! | 2/5 attributes_send | `u8 conn, u16 handle, uint8array` | `u16 result` |
//! | 3/0 connection_disconnect | `u8 conn` | `u8 conn, u16 result` |
//! | 4/1 attclient_read_by_group_type | `u8 conn, u16 start, u16 end, uint8array` | `u8 conn, u16 result` |
//! | 4/3 attclient_find_information | `u8 conn, u16 start, u16 end` | `u8 conn, u16 result` |
//! | 4/4 attclient_read_by_handle | `u8 conn, u16 handle` | `u8 conn, u16 result` |
//! | 4/5 attclient_attribute_write | `u8 conn, u16 handle, uint8array` | `u8 conn, u16 result` |
//! | 4/6 attclient_write_command | `u8 conn, u16 handle, uint8array` | `u8 conn, u16 result` |
//! | 5/0 sm_encrypt_start | `u8 conn, u8 bonding` | `u8 conn, u16 result` |
//! | 5/1 sm_set_bondable_mode | `u8 bondable` | — |
//! | 5/6 sm_set_oob_data | `uint8array` | — |
//! | 5/7 sm_set_parameters | `u8 mitm, u8 min key size, u8 io capabilities` | — |
//! | 6/1 gap_set_mode | `u8 discover, u8 connect` | `u16 result` |
//! | 6/2 gap_discover | `u8 mode` | `u16 result` |
//! | 6/3 gap_connect_direct | `bd_addr, u8 type, u16 int min, u16 int max, u16 timeout, u16 latency` | `u16 result, u8 conn` |
//! | 6/4 gap_end_procedure | — | `u16 result` |
//! | 6/7 gap_set_scan_parameters | `u16 interval, u16 window, u8 active` | `u16 result` |
//! | 6/9 gap_set_adv_data | `u8 0 adv / 1 scan response, uint8array` | `u16 result` |

use super::wire::{Fields, Writer};
use super::{BdAddr, BgapiError, Packet};

/// A command, as a host sends it and a (virtual) dongle reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    SystemReset {
        boot_to_dfu: u8,
    },
    SystemGetConnections,
    /// Notify (peripheral role); connection `0xFF` means every connection.
    AttributesSend {
        connection: u8,
        handle: u16,
        value: Vec<u8>,
    },
    ConnectionDisconnect {
        connection: u8,
    },
    /// `group_type` is the attribute type as little-endian UUID bytes: `00 28` lists the
    /// primary services.
    ReadByGroupType {
        connection: u8,
        start: u16,
        end: u16,
        group_type: Vec<u8>,
    },
    FindInformation {
        connection: u8,
        start: u16,
        end: u16,
    },
    ReadByHandle {
        connection: u8,
        handle: u16,
    },
    /// Acknowledged write: event 4/1 follows when the peer acknowledges.
    AttributeWrite {
        connection: u8,
        handle: u16,
        value: Vec<u8>,
    },
    /// Write without response: only the response follows.
    WriteCommand {
        connection: u8,
        handle: u16,
        value: Vec<u8>,
    },
    SmEncryptStart {
        connection: u8,
        bonding: u8,
    },
    SmSetBondableMode {
        bondable: u8,
    },
    SmSetOobData {
        oob: Vec<u8>,
    },
    SmSetParameters {
        mitm: u8,
        min_key_size: u8,
        io_capabilities: u8,
    },
    /// `0 0` stops advertising; a peripheral advertises with `4 2`.
    GapSetMode {
        discover: u8,
        connect: u8,
    },
    /// Mode 2 = observation (what coretools uses).
    GapDiscover {
        mode: u8,
    },
    GapConnectDirect {
        address: BdAddr,
        address_type: u8,
        interval_min: u16,
        interval_max: u16,
        timeout: u16,
        latency: u16,
    },
    GapEndProcedure,
    /// Interval and window in 0.625 ms units.
    GapSetScanParameters {
        interval: u16,
        window: u16,
        active: u8,
    },
    GapSetAdvData {
        scan_response: u8,
        data: Vec<u8>,
    },
    /// A class/id this module does not type, kept whole.
    Other(Packet),
}

impl Command {
    /// Read the primary services (4/1 over every handle, group type `0x2800`).
    pub fn read_primary_services(connection: u8) -> Self {
        Command::ReadByGroupType {
            connection,
            start: 0x0001,
            end: 0xFFFF,
            group_type: vec![0x00, 0x28],
        }
    }

    /// Connect with coretools' parameters: interval 6..100 (× 1.25 ms), supervision
    /// timeout 100 (× 10 ms), latency 0, and the address type guessed from the address.
    pub fn connect(address: BdAddr) -> Self {
        Command::GapConnectDirect {
            address,
            address_type: address.address_type(),
            interval_min: 6,
            interval_max: 100,
            timeout: 100,
            latency: 0,
        }
    }

    /// coretools' scan parameters: interval and window 2.1 s (3360 × 0.625 ms).
    pub fn coretools_scan_parameters(active: bool) -> Self {
        Command::GapSetScanParameters {
            interval: 3360,
            window: 3360,
            active: u8::from(active),
        }
    }

    /// Class and id.
    pub fn class_id(&self) -> (u8, u8) {
        match self {
            Command::SystemReset { .. } => (0, 0),
            Command::SystemGetConnections => (0, 6),
            Command::AttributesSend { .. } => (2, 5),
            Command::ConnectionDisconnect { .. } => (3, 0),
            Command::ReadByGroupType { .. } => (4, 1),
            Command::FindInformation { .. } => (4, 3),
            Command::ReadByHandle { .. } => (4, 4),
            Command::AttributeWrite { .. } => (4, 5),
            Command::WriteCommand { .. } => (4, 6),
            Command::SmEncryptStart { .. } => (5, 0),
            Command::SmSetBondableMode { .. } => (5, 1),
            Command::SmSetOobData { .. } => (5, 6),
            Command::SmSetParameters { .. } => (5, 7),
            Command::GapSetMode { .. } => (6, 1),
            Command::GapDiscover { .. } => (6, 2),
            Command::GapConnectDirect { .. } => (6, 3),
            Command::GapEndProcedure => (6, 4),
            Command::GapSetScanParameters { .. } => (6, 7),
            Command::GapSetAdvData { .. } => (6, 9),
            Command::Other(packet) => (packet.class, packet.id),
        }
    }

    /// The packet to send. Fails only if a value is longer than a `uint8array` allows.
    pub fn encode(&self) -> Result<Packet, BgapiError> {
        let w = Writer::default();
        let w = match self {
            Command::Other(packet) => return Ok(packet.clone()),
            Command::SystemReset { boot_to_dfu } => w.u8(*boot_to_dfu),
            Command::SystemGetConnections | Command::GapEndProcedure => w,
            Command::AttributesSend {
                connection,
                handle,
                value,
            }
            | Command::AttributeWrite {
                connection,
                handle,
                value,
            }
            | Command::WriteCommand {
                connection,
                handle,
                value,
            } => w.u8(*connection).u16(*handle).bytes("value", value)?,
            Command::ConnectionDisconnect { connection } => w.u8(*connection),
            Command::ReadByGroupType {
                connection,
                start,
                end,
                group_type,
            } => w
                .u8(*connection)
                .u16(*start)
                .u16(*end)
                .bytes("group type", group_type)?,
            Command::FindInformation {
                connection,
                start,
                end,
            } => w.u8(*connection).u16(*start).u16(*end),
            Command::ReadByHandle { connection, handle } => w.u8(*connection).u16(*handle),
            Command::SmEncryptStart {
                connection,
                bonding,
            } => w.u8(*connection).u8(*bonding),
            Command::SmSetBondableMode { bondable } => w.u8(*bondable),
            Command::SmSetOobData { oob } => w.bytes("oob data", oob)?,
            Command::SmSetParameters {
                mitm,
                min_key_size,
                io_capabilities,
            } => w.u8(*mitm).u8(*min_key_size).u8(*io_capabilities),
            Command::GapSetMode { discover, connect } => w.u8(*discover).u8(*connect),
            Command::GapDiscover { mode } => w.u8(*mode),
            Command::GapConnectDirect {
                address,
                address_type,
                interval_min,
                interval_max,
                timeout,
                latency,
            } => w
                .addr(*address)
                .u8(*address_type)
                .u16(*interval_min)
                .u16(*interval_max)
                .u16(*timeout)
                .u16(*latency),
            Command::GapSetScanParameters {
                interval,
                window,
                active,
            } => w.u16(*interval).u16(*window).u8(*active),
            Command::GapSetAdvData {
                scan_response,
                data,
            } => w.u8(*scan_response).bytes("advertising data", data)?,
        };
        let (class, id) = self.class_id();
        Packet::command(class, id, w.0)
    }

    /// Reads a packet a host sent. Event packets are refused; unknown class/ids are
    /// [`Command::Other`].
    pub fn decode(packet: &Packet) -> Result<Self, BgapiError> {
        packet.expect_kind(false)?;
        let name = command_name(packet.class, packet.id);
        let mut f = Fields::new(name, packet.payload());
        let command = match (packet.class, packet.id) {
            (0, 0) => Command::SystemReset {
                boot_to_dfu: f.u8()?,
            },
            (0, 6) => Command::SystemGetConnections,
            (2, 5) => Command::AttributesSend {
                connection: f.u8()?,
                handle: f.u16()?,
                value: f.bytes()?,
            },
            (3, 0) => Command::ConnectionDisconnect {
                connection: f.u8()?,
            },
            (4, 1) => Command::ReadByGroupType {
                connection: f.u8()?,
                start: f.u16()?,
                end: f.u16()?,
                group_type: f.bytes()?,
            },
            (4, 3) => Command::FindInformation {
                connection: f.u8()?,
                start: f.u16()?,
                end: f.u16()?,
            },
            (4, 4) => Command::ReadByHandle {
                connection: f.u8()?,
                handle: f.u16()?,
            },
            (4, 5) => Command::AttributeWrite {
                connection: f.u8()?,
                handle: f.u16()?,
                value: f.bytes()?,
            },
            (4, 6) => Command::WriteCommand {
                connection: f.u8()?,
                handle: f.u16()?,
                value: f.bytes()?,
            },
            (5, 0) => Command::SmEncryptStart {
                connection: f.u8()?,
                bonding: f.u8()?,
            },
            (5, 1) => Command::SmSetBondableMode { bondable: f.u8()? },
            (5, 6) => Command::SmSetOobData { oob: f.bytes()? },
            (5, 7) => Command::SmSetParameters {
                mitm: f.u8()?,
                min_key_size: f.u8()?,
                io_capabilities: f.u8()?,
            },
            (6, 1) => Command::GapSetMode {
                discover: f.u8()?,
                connect: f.u8()?,
            },
            (6, 2) => Command::GapDiscover { mode: f.u8()? },
            (6, 3) => Command::GapConnectDirect {
                address: f.addr()?,
                address_type: f.u8()?,
                interval_min: f.u16()?,
                interval_max: f.u16()?,
                timeout: f.u16()?,
                latency: f.u16()?,
            },
            (6, 4) => Command::GapEndProcedure,
            (6, 7) => Command::GapSetScanParameters {
                interval: f.u16()?,
                window: f.u16()?,
                active: f.u8()?,
            },
            (6, 9) => Command::GapSetAdvData {
                scan_response: f.u8()?,
                data: f.bytes()?,
            },
            _ => return Ok(Command::Other(packet.clone())),
        };
        f.finish()?;
        Ok(command)
    }
}

/// The BGAPI name of a command (and of its response), for error messages.
pub(super) fn command_name(class: u8, id: u8) -> &'static str {
    match (class, id) {
        (0, 0) => "system_reset",
        (0, 6) => "system_get_connections",
        (2, 5) => "attributes_send",
        (3, 0) => "connection_disconnect",
        (4, 1) => "attclient_read_by_group_type",
        (4, 3) => "attclient_find_information",
        (4, 4) => "attclient_read_by_handle",
        (4, 5) => "attclient_attribute_write",
        (4, 6) => "attclient_write_command",
        (5, 0) => "sm_encrypt_start",
        (5, 1) => "sm_set_bondable_mode",
        (5, 6) => "sm_set_oob_data",
        (5, 7) => "sm_set_parameters",
        (6, 1) => "gap_set_mode",
        (6, 2) => "gap_discover",
        (6, 3) => "gap_connect_direct",
        (6, 4) => "gap_end_procedure",
        (6, 7) => "gap_set_scan_parameters",
        (6, 9) => "gap_set_adv_data",
        _ => "unknown command",
    }
}
