//! The records of a script: what each one holds, how it encodes, and the RPCs it runs.

use super::container::{push_record, saturating_u32};
use super::node::NodeDescriptor;
use super::slot::SlotTarget;
use super::streamer::StreamerDescriptor;
use crate::stream::DataStream;
use crate::version::TagVersion;

/// One logical record. Several RPC records of type 4 are read back as the sensor-graph or
/// tag record that wrote them; a SetConfig record spans several binary records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    SetDeviceTag(SetDeviceTag),
    /// Type 3: call an RPC without checking its result.
    SendRpc(RpcRecord),
    /// Type 4: call an RPC whose 4-byte response must be the error code 0.
    SendErrorCheckingRpc(RpcRecord),
    ReflashTile(ReflashTile),
    ReflashController(ReflashController),
    EnhancedReflashController(EnhancedReflashController),
    ResetDevice,
    AddNode(AddNode),
    AddStreamer(AddStreamer),
    SetConfig(SetConfig),
    SetConstant(SetConstant),
    SetGraphOnline(SetGraphOnline),
    ResetGraph {
        address: u8,
    },
    PersistGraph {
        address: u8,
    },
    ClearData {
        address: u8,
    },
    ClearConfigVariables,
    /// A record type nobody here knows, kept verbatim.
    Unknown {
        record_type: u8,
        payload: Vec<u8>,
    },
}

/// An RPC call (record types 3 and 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcRecord {
    pub address: u8,
    pub rpc_id: u16,
    /// Bit 0 set: variable-size response; else the fixed response size shifted left by one.
    /// Type 4 records always write `0x08` (a 4-byte error code), whatever this says.
    pub response: u8,
    pub payload: Vec<u8>,
}

/// RPC `0x100B`: `u32 os_info, u32 app_info, u8 update_os, u8 update_app`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetDeviceTag {
    pub address: u8,
    pub os: TagVersion,
    pub app: TagVersion,
    /// Non-zero: set the OS tag. The raw byte is kept for byte-exact encoding.
    pub update_os: u8,
    /// Non-zero: set the app tag.
    pub update_app: u8,
}

/// Type 1: bootload a tile with a new image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReflashTile {
    pub offset: u32,
    /// Match op 1 (by slot); any slot number is accepted, as by coretools.
    pub target: SlotTarget,
    pub hardware_type: u8,
    pub image: Vec<u8>,
}

/// Type 2: reprogram the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReflashController {
    pub offset: u32,
    pub image: Vec<u8>,
}

/// Type 6: reprogram the controller, with room for compression and checks (unused so far).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnhancedReflashController {
    pub base_address: u32,
    /// Written as the image length by the tools; kept as read for byte-exact encoding.
    pub encoded_length: u32,
    pub image_type: u8,
    pub flags: u8,
    pub compression_type: u8,
    pub compression_settings_length: u8,
    pub compression_settings: [u8; 16],
    pub preinstall_checks: [u8; 64],
    pub image: Vec<u8>,
}

/// RPC `0x2003`: append a graph node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddNode {
    pub address: u8,
    pub descriptor: NodeDescriptor,
}

/// RPC `0x2007`: append a streamer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddStreamer {
    pub address: u8,
    pub descriptor: StreamerDescriptor,
}

/// RPCs `0x2A07` (begin: config id, target), `0x2A08` × n (data chunks), `0x2A09` (end), all
/// at the controller. The chunks are kept as read, so encoding is exact even when a script
/// was not cut in the 20-byte pieces the tools use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetConfig {
    pub target: SlotTarget,
    pub config_id: u16,
    pub chunks: Vec<Vec<u8>>,
}

/// RPC `0x2000`: `u32 value, u16 stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetConstant {
    pub address: u8,
    pub stream: DataStream,
    pub value: u32,
}

/// RPC `0x2005`: `u16`, non-zero = online. The raw value is kept for byte-exact encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetGraphOnline {
    pub address: u8,
    pub value: u16,
}

/// One RPC a record makes the device run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRpc {
    pub address: u8,
    pub rpc_id: u16,
    pub payload: Vec<u8>,
    /// `None`: any response size is fine.
    pub response_size: Option<u8>,
    /// The response must be a 4-byte error code equal to 0, else the script stops.
    pub check_error: bool,
}

pub(super) const TYPE_REFLASH_TILE: u8 = 1;
pub(super) const TYPE_REFLASH_CONTROLLER: u8 = 2;
pub(super) const TYPE_SEND_RPC: u8 = 3;
pub(super) const TYPE_ERROR_CHECKING_RPC: u8 = 4;
pub(super) const TYPE_RESET_DEVICE: u8 = 5;
pub(super) const TYPE_ENHANCED_REFLASH: u8 = 6;
pub(super) const CONTROLLER: u8 = 8;
pub(super) const ERROR_CHECK_RESPONSE: u8 = 0x08;
pub(super) const VARIABLE_RESPONSE: u8 = 0x01;

/// RPC ids of the records carried by type-4 records.
pub(super) mod rpc {
    pub const SET_DEVICE_TAG: u16 = 0x100B;
    pub const SET_CONSTANT: u16 = 0x2000;
    pub const ADD_NODE: u16 = 0x2003;
    pub const SET_ONLINE: u16 = 0x2005;
    pub const ADD_STREAMER: u16 = 0x2007;
    pub const CLEAR_DATA: u16 = 0x200C;
    pub const RESET_GRAPH: u16 = 0x200D;
    pub const PERSIST_GRAPH: u16 = 0x200E;
    pub const BEGIN_CONFIG: u16 = 0x2A07;
    pub const PUSH_CONFIG: u16 = 0x2A08;
    pub const END_CONFIG: u16 = 0x2A09;
    pub const CLEAR_CONFIGS: u16 = 0x2A0C;
}

impl Record {
    /// The class name the reference tools give this record.
    pub fn class_name(&self) -> &'static str {
        match self {
            Record::SetDeviceTag(_) => "SetDeviceTagRecord",
            Record::SendRpc(_) => "SendRPCRecord",
            Record::SendErrorCheckingRpc(_) => "SendErrorCheckingRPCRecord",
            Record::ReflashTile(_) => "ReflashTileRecord",
            Record::ReflashController(_) => "ReflashControllerRecord",
            Record::EnhancedReflashController(_) => "EnhancedReflashControllerRecord",
            Record::ResetDevice => "ResetDeviceRecord",
            Record::AddNode(_) => "AddNodeRecord",
            Record::AddStreamer(_) => "AddStreamerRecord",
            Record::SetConfig(_) => "SetConfigRecord",
            Record::SetConstant(_) => "SetConstantRecord",
            Record::SetGraphOnline(_) => "SetGraphOnlineRecord",
            Record::ResetGraph { .. } => "ResetGraphRecord",
            Record::PersistGraph { .. } => "PersistGraphRecord",
            Record::ClearData { .. } => "ClearDataRecord",
            Record::ClearConfigVariables => "ClearConfigVariablesRecord",
            Record::Unknown { .. } => "UnknownRecord",
        }
    }

    /// Appends the binary record(s), headers included.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Record::SendRpc(r) => push_rpc(
                out,
                TYPE_SEND_RPC,
                r.address,
                r.rpc_id,
                r.response,
                &r.payload,
            ),
            Record::ReflashTile(r) => {
                let mut payload = Vec::with_capacity(r.image.len().saturating_add(20));
                payload.extend_from_slice(&r.offset.to_le_bytes());
                payload.extend_from_slice(&saturating_u32(r.image.len()).to_le_bytes());
                payload.extend_from_slice(&r.target.to_bytes());
                payload.extend_from_slice(&[r.hardware_type, 0, 0, 0]);
                payload.extend_from_slice(&r.image);
                push_record(out, TYPE_REFLASH_TILE, &payload);
            }
            Record::ReflashController(r) => {
                let mut payload = Vec::with_capacity(r.image.len().saturating_add(8));
                payload.extend_from_slice(&r.offset.to_le_bytes());
                payload.extend_from_slice(&saturating_u32(r.image.len()).to_le_bytes());
                payload.extend_from_slice(&r.image);
                push_record(out, TYPE_REFLASH_CONTROLLER, &payload);
            }
            Record::EnhancedReflashController(r) => {
                let mut payload = Vec::with_capacity(r.image.len().saturating_add(96));
                payload.extend_from_slice(&r.base_address.to_le_bytes());
                payload.extend_from_slice(&r.encoded_length.to_le_bytes());
                payload.extend_from_slice(&saturating_u32(r.image.len()).to_le_bytes());
                payload.extend_from_slice(&[
                    r.image_type,
                    r.flags,
                    r.compression_type,
                    r.compression_settings_length,
                ]);
                payload.extend_from_slice(&r.compression_settings);
                payload.extend_from_slice(&r.preinstall_checks);
                payload.extend_from_slice(&r.image);
                push_record(out, TYPE_ENHANCED_REFLASH, &payload);
            }
            Record::ResetDevice => push_record(out, TYPE_RESET_DEVICE, &[]),
            Record::Unknown {
                record_type,
                payload,
            } => push_record(out, *record_type, payload),
            // Everything else is one or more error-checking RPC records.
            Record::SendErrorCheckingRpc(_)
            | Record::SetDeviceTag(_)
            | Record::AddNode(_)
            | Record::AddStreamer(_)
            | Record::SetConfig(_)
            | Record::SetConstant(_)
            | Record::SetGraphOnline(_)
            | Record::ResetGraph { .. }
            | Record::PersistGraph { .. }
            | Record::ClearData { .. }
            | Record::ClearConfigVariables => {
                for call in self.rpcs() {
                    push_checked(out, call.address, call.rpc_id, &call.payload);
                }
            }
        }
    }

    /// The RPCs this record makes the device run, in order. Empty for reflash, reset and
    /// unknown records.
    pub fn rpcs(&self) -> Vec<ScriptRpc> {
        let checked = |address: u8, rpc_id: u16, payload: Vec<u8>| ScriptRpc {
            address,
            rpc_id,
            payload,
            response_size: Some(4),
            check_error: true,
        };
        match self {
            Record::SendRpc(r) => vec![ScriptRpc {
                address: r.address,
                rpc_id: r.rpc_id,
                payload: r.payload.clone(),
                response_size: r.fixed_response_size(),
                check_error: false,
            }],
            Record::SendErrorCheckingRpc(r) => {
                vec![checked(r.address, r.rpc_id, r.payload.clone())]
            }
            Record::SetDeviceTag(r) => {
                let mut payload = Vec::with_capacity(10);
                payload.extend_from_slice(&r.os.pack().to_le_bytes());
                payload.extend_from_slice(&r.app.pack().to_le_bytes());
                payload.extend_from_slice(&[r.update_os, r.update_app]);
                vec![checked(r.address, rpc::SET_DEVICE_TAG, payload)]
            }
            Record::AddNode(r) => vec![checked(
                r.address,
                rpc::ADD_NODE,
                r.descriptor.to_bytes().to_vec(),
            )],
            Record::AddStreamer(r) => vec![checked(
                r.address,
                rpc::ADD_STREAMER,
                r.descriptor.to_bytes().to_vec(),
            )],
            Record::SetConstant(r) => {
                let mut payload = r.value.to_le_bytes().to_vec();
                payload.extend_from_slice(&r.stream.code().to_le_bytes());
                vec![checked(r.address, rpc::SET_CONSTANT, payload)]
            }
            Record::SetGraphOnline(r) => vec![checked(
                r.address,
                rpc::SET_ONLINE,
                r.value.to_le_bytes().to_vec(),
            )],
            Record::ResetGraph { address } => vec![checked(*address, rpc::RESET_GRAPH, Vec::new())],
            Record::PersistGraph { address } => {
                vec![checked(*address, rpc::PERSIST_GRAPH, Vec::new())]
            }
            Record::ClearData { address } => vec![checked(*address, rpc::CLEAR_DATA, Vec::new())],
            Record::ClearConfigVariables => {
                vec![checked(CONTROLLER, rpc::CLEAR_CONFIGS, Vec::new())]
            }
            Record::SetConfig(r) => {
                let mut begin = r.config_id.to_le_bytes().to_vec();
                begin.extend_from_slice(&r.target.to_bytes());
                let mut calls = vec![checked(CONTROLLER, rpc::BEGIN_CONFIG, begin)];
                for chunk in &r.chunks {
                    calls.push(checked(CONTROLLER, rpc::PUSH_CONFIG, chunk.clone()));
                }
                calls.push(checked(CONTROLLER, rpc::END_CONFIG, Vec::new()));
                calls
            }
            Record::ReflashTile(_)
            | Record::ReflashController(_)
            | Record::EnhancedReflashController(_)
            | Record::ResetDevice
            | Record::Unknown { .. } => Vec::new(),
        }
    }
}

impl SetConfig {
    /// The config value: the pushed chunks, concatenated.
    pub fn data(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

impl SetDeviceTag {
    pub fn updates_os(&self) -> bool {
        self.update_os != 0
    }

    pub fn updates_app(&self) -> bool {
        self.update_app != 0
    }
}

impl SetGraphOnline {
    pub fn online(&self) -> bool {
        self.value != 0
    }
}

impl RpcRecord {
    /// The fixed response size, or `None` when the response may have any size.
    pub fn fixed_response_size(&self) -> Option<u8> {
        (self.response & 1 == 0).then_some(self.response >> 1)
    }
}

fn push_checked(out: &mut Vec<u8>, address: u8, rpc_id: u16, payload: &[u8]) {
    push_rpc(
        out,
        TYPE_ERROR_CHECKING_RPC,
        address,
        rpc_id,
        ERROR_CHECK_RESPONSE,
        payload,
    );
}

fn push_rpc(
    out: &mut Vec<u8>,
    record_type: u8,
    address: u8,
    rpc_id: u16,
    response: u8,
    payload: &[u8],
) {
    let mut body = Vec::with_capacity(payload.len().saturating_add(4));
    body.extend_from_slice(&rpc_id.to_le_bytes());
    body.extend_from_slice(&[address, response]);
    body.extend_from_slice(payload);
    push_record(out, record_type, &body);
}
