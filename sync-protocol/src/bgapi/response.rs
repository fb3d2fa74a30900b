//! Responses: what the dongle answers to each command, with the same class/id. The
//! payload sizes are exact, as the coretools driver unpacks them: 0/6 → 1 byte, 6/3 → 3
//! (`u16 result, u8 conn`), 3/0 and 4/x → 3 (`u8 conn, u16 result`), the rest 2 (`u16 result`),
//! and the sm_* setters none. See [`super::Command`] for the table.

use super::command::command_name;
use super::wire::{Fields, Writer};
use super::{BgapiError, Command, Packet};

/// A response, as a dongle sends it and a host reads it. Each command has exactly one,
/// with the same class/id, except system_reset, which has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Response {
    SystemGetConnections {
        max_connections: u8,
    },
    AttributesSend {
        result: u16,
    },
    ConnectionDisconnect {
        connection: u8,
        result: u16,
    },
    ReadByGroupType {
        connection: u8,
        result: u16,
    },
    FindInformation {
        connection: u8,
        result: u16,
    },
    ReadByHandle {
        connection: u8,
        result: u16,
    },
    AttributeWrite {
        connection: u8,
        result: u16,
    },
    WriteCommand {
        connection: u8,
        result: u16,
    },
    SmEncryptStart {
        connection: u8,
        result: u16,
    },
    SmSetBondableMode,
    SmSetOobData,
    SmSetParameters,
    GapSetMode {
        result: u16,
    },
    GapDiscover {
        result: u16,
    },
    GapConnectDirect {
        result: u16,
        connection: u8,
    },
    GapEndProcedure {
        result: u16,
    },
    GapSetScanParameters {
        result: u16,
    },
    GapSetAdvData {
        result: u16,
    },
    /// A class/id this module does not type, kept whole.
    Other(Packet),
}

impl Response {
    /// Class and id (the same as the command's).
    pub fn class_id(&self) -> (u8, u8) {
        match self {
            Response::SystemGetConnections { .. } => (0, 6),
            Response::AttributesSend { .. } => (2, 5),
            Response::ConnectionDisconnect { .. } => (3, 0),
            Response::ReadByGroupType { .. } => (4, 1),
            Response::FindInformation { .. } => (4, 3),
            Response::ReadByHandle { .. } => (4, 4),
            Response::AttributeWrite { .. } => (4, 5),
            Response::WriteCommand { .. } => (4, 6),
            Response::SmEncryptStart { .. } => (5, 0),
            Response::SmSetBondableMode => (5, 1),
            Response::SmSetOobData => (5, 6),
            Response::SmSetParameters => (5, 7),
            Response::GapSetMode { .. } => (6, 1),
            Response::GapDiscover { .. } => (6, 2),
            Response::GapConnectDirect { .. } => (6, 3),
            Response::GapEndProcedure { .. } => (6, 4),
            Response::GapSetScanParameters { .. } => (6, 7),
            Response::GapSetAdvData { .. } => (6, 9),
            Response::Other(packet) => (packet.class, packet.id),
        }
    }

    /// The result code, for the responses that carry one.
    pub fn result(&self) -> Option<u16> {
        match self {
            Response::AttributesSend { result }
            | Response::ConnectionDisconnect { result, .. }
            | Response::ReadByGroupType { result, .. }
            | Response::FindInformation { result, .. }
            | Response::ReadByHandle { result, .. }
            | Response::AttributeWrite { result, .. }
            | Response::WriteCommand { result, .. }
            | Response::SmEncryptStart { result, .. }
            | Response::GapSetMode { result }
            | Response::GapDiscover { result }
            | Response::GapConnectDirect { result, .. }
            | Response::GapEndProcedure { result }
            | Response::GapSetScanParameters { result }
            | Response::GapSetAdvData { result } => Some(*result),
            Response::SystemGetConnections { .. }
            | Response::SmSetBondableMode
            | Response::SmSetOobData
            | Response::SmSetParameters
            | Response::Other(_) => None,
        }
    }

    /// Whether this is the response to `command` (same class/id).
    pub fn answers(&self, command: &Command) -> bool {
        self.class_id() == command.class_id()
    }

    /// The packet to send. Responses have only fixed-size fields, so this cannot fail.
    pub fn encode(&self) -> Packet {
        let w = Writer::default();
        let w = match self {
            Response::Other(packet) => return packet.clone(),
            Response::SystemGetConnections { max_connections } => w.u8(*max_connections),
            Response::ConnectionDisconnect { connection, result }
            | Response::ReadByGroupType { connection, result }
            | Response::FindInformation { connection, result }
            | Response::ReadByHandle { connection, result }
            | Response::AttributeWrite { connection, result }
            | Response::WriteCommand { connection, result }
            | Response::SmEncryptStart { connection, result } => w.u8(*connection).u16(*result),
            Response::SmSetBondableMode | Response::SmSetOobData | Response::SmSetParameters => w,
            Response::GapConnectDirect { result, connection } => w.u16(*result).u8(*connection),
            Response::AttributesSend { result }
            | Response::GapSetMode { result }
            | Response::GapDiscover { result }
            | Response::GapEndProcedure { result }
            | Response::GapSetScanParameters { result }
            | Response::GapSetAdvData { result } => w.u16(*result),
        };
        let (class, id) = self.class_id();
        Packet {
            event: false,
            class,
            id,
            payload: w.0,
        }
    }

    /// Reads a packet the dongle sent in answer to a command. Sizes are exact, as the
    /// coretools driver unpacks them.
    pub fn decode(packet: &Packet) -> Result<Self, BgapiError> {
        packet.expect_kind(false)?;
        let name = command_name(packet.class, packet.id);
        let mut f = Fields::new(name, packet.payload());
        let response = match (packet.class, packet.id) {
            (0, 6) => Response::SystemGetConnections {
                max_connections: f.u8()?,
            },
            (2, 5) => Response::AttributesSend { result: f.u16()? },
            (3, 0) => Response::ConnectionDisconnect {
                connection: f.u8()?,
                result: f.u16()?,
            },
            (4, 1) => Response::ReadByGroupType {
                connection: f.u8()?,
                result: f.u16()?,
            },
            (4, 3) => Response::FindInformation {
                connection: f.u8()?,
                result: f.u16()?,
            },
            (4, 4) => Response::ReadByHandle {
                connection: f.u8()?,
                result: f.u16()?,
            },
            (4, 5) => Response::AttributeWrite {
                connection: f.u8()?,
                result: f.u16()?,
            },
            (4, 6) => Response::WriteCommand {
                connection: f.u8()?,
                result: f.u16()?,
            },
            (5, 0) => Response::SmEncryptStart {
                connection: f.u8()?,
                result: f.u16()?,
            },
            (5, 1) => Response::SmSetBondableMode,
            (5, 6) => Response::SmSetOobData,
            (5, 7) => Response::SmSetParameters,
            (6, 1) => Response::GapSetMode { result: f.u16()? },
            (6, 2) => Response::GapDiscover { result: f.u16()? },
            (6, 3) => Response::GapConnectDirect {
                result: f.u16()?,
                connection: f.u8()?,
            },
            (6, 4) => Response::GapEndProcedure { result: f.u16()? },
            (6, 7) => Response::GapSetScanParameters { result: f.u16()? },
            (6, 9) => Response::GapSetAdvData { result: f.u16()? },
            _ => return Ok(Response::Other(packet.clone())),
        };
        f.finish()?;
        Ok(response)
    }
}
