//! Builders for writing scripts: each makes a record in the canonical form the reference
//! tools write, and refuses values that would encode to something else.

use super::container::{RECORD_HEADER_LEN, SCRIPT_HEADER_LEN};
use super::error::BuildError;
use super::node::NodeDescriptor;
use super::record::*;
use super::slot::{SlotTarget, Tile};
use super::streamer::StreamerDescriptor;
use crate::stream::DataStream;
use crate::version::TagVersion;

/// Payload and response limits of an RPC.
pub const MAX_RPC_PAYLOAD: usize = 20;
/// The config chunk size the tools use.
const CONFIG_CHUNK: usize = 20;
/// Largest image whose record length still fits the u32 length fields (reflash sub-header
/// and script header included).
const MAX_IMAGE: usize = u32::MAX as usize - SCRIPT_HEADER_LEN - RECORD_HEADER_LEN - 96;

impl Record {
    /// Sets the OS tag, the app tag or both (RPC `0x100B` at the controller).
    pub fn set_device_tag(
        os: Option<TagVersion>,
        app: Option<TagVersion>,
    ) -> Result<Record, BuildError> {
        if os.is_none() && app.is_none() {
            return Err(BuildError::NoTagUpdated);
        }
        let zero = TagVersion {
            tag: 0,
            major: 0,
            minor: 0,
        };
        let check = |value: Option<TagVersion>| match value {
            None => Ok(zero),
            Some(v) => {
                TagVersion::new(v.tag, v.major, v.minor).map_err(|_| BuildError::TagOutOfRange {
                    tag: v.tag,
                    major: v.major,
                    minor: v.minor,
                })
            }
        };
        Ok(Record::SetDeviceTag(SetDeviceTag {
            address: CONTROLLER,
            os: check(os)?,
            app: check(app)?,
            update_os: u8::from(os.is_some()),
            update_app: u8::from(app.is_some()),
        }))
    }

    /// Calls an RPC and accepts any response (type 3).
    pub fn send_rpc(
        address: u8,
        rpc_id: u16,
        payload: impl Into<Vec<u8>>,
    ) -> Result<Record, BuildError> {
        let payload = rpc_payload(payload)?;
        Ok(Record::SendRpc(RpcRecord {
            address,
            rpc_id,
            response: VARIABLE_RESPONSE,
            payload,
        }))
    }

    /// Calls an RPC and requires a response of exactly `response_size` bytes (type 3).
    pub fn send_rpc_expecting(
        address: u8,
        rpc_id: u16,
        payload: impl Into<Vec<u8>>,
        response_size: u8,
    ) -> Result<Record, BuildError> {
        if response_size >= 0x80 {
            return Err(BuildError::ResponseTooLarge {
                size: response_size,
            });
        }
        let payload = rpc_payload(payload)?;
        Ok(Record::SendRpc(RpcRecord {
            address,
            rpc_id,
            response: response_size << 1,
            payload,
        }))
    }

    /// Calls an RPC whose 4-byte response must be the error code 0 (type 4). RPC ids that
    /// the tools read back as another record (tags, sensor graph, config) are refused: use
    /// the dedicated builder.
    pub fn send_error_checking_rpc(
        address: u8,
        rpc_id: u16,
        payload: impl Into<Vec<u8>>,
    ) -> Result<Record, BuildError> {
        let reserved = matches!(
            rpc_id,
            rpc::SET_DEVICE_TAG
                | rpc::SET_CONSTANT
                | rpc::ADD_NODE
                | rpc::SET_ONLINE
                | rpc::ADD_STREAMER
                | rpc::CLEAR_DATA
                | rpc::RESET_GRAPH
                | rpc::PERSIST_GRAPH
                | rpc::CLEAR_CONFIGS
        ) || (rpc_id == rpc::BEGIN_CONFIG && address == CONTROLLER);
        if reserved {
            return Err(BuildError::ReservedRpc { rpc_id, address });
        }
        let payload = rpc_payload(payload)?;
        Ok(Record::SendErrorCheckingRpc(RpcRecord {
            address,
            rpc_id,
            response: ERROR_CHECK_RESPONSE,
            payload,
        }))
    }

    /// Bootloads the tile in `slot` (1 to 31) with `image` placed at `offset`.
    pub fn reflash_tile(
        slot: u8,
        offset: u32,
        image: impl Into<Vec<u8>>,
    ) -> Result<Record, BuildError> {
        let target = SlotTarget::slot(slot)?;
        let image = checked_image(image)?;
        Ok(Record::ReflashTile(ReflashTile {
            offset,
            target,
            hardware_type: 0,
            image,
        }))
    }

    /// Reprograms the controller with `image` placed at `offset`.
    pub fn reflash_controller(
        offset: u32,
        image: impl Into<Vec<u8>>,
    ) -> Result<Record, BuildError> {
        let image = checked_image(image)?;
        Ok(Record::ReflashController(ReflashController {
            offset,
            image,
        }))
    }

    /// Reprograms the controller with the enhanced record (no compression, no checks).
    pub fn enhanced_reflash_controller(
        base_address: u32,
        image: impl Into<Vec<u8>>,
    ) -> Result<Record, BuildError> {
        let image = checked_image(image)?;
        Ok(Record::EnhancedReflashController(
            EnhancedReflashController {
                base_address,
                encoded_length: u32::try_from(image.len()).unwrap_or(u32::MAX),
                image_type: 0,
                flags: 0,
                compression_type: 0,
                compression_settings_length: 0,
                compression_settings: [0; 16],
                preinstall_checks: [0; 64],
                image,
            },
        ))
    }

    pub fn reset_device() -> Record {
        Record::ResetDevice
    }

    pub fn add_node(descriptor: NodeDescriptor) -> Record {
        Record::AddNode(AddNode {
            address: CONTROLLER,
            descriptor,
        })
    }

    pub fn add_streamer(descriptor: StreamerDescriptor) -> Record {
        Record::AddStreamer(AddStreamer {
            address: CONTROLLER,
            descriptor,
        })
    }

    /// Stores a config variable for a tile; the data is sent in 20-byte pieces.
    pub fn set_config(target: Tile, config_id: u16, data: &[u8]) -> Result<Record, BuildError> {
        let target = SlotTarget::for_tile(target)?;
        let chunks = data.chunks(CONFIG_CHUNK).map(<[u8]>::to_vec).collect();
        Ok(Record::SetConfig(SetConfig {
            target,
            config_id,
            chunks,
        }))
    }

    pub fn set_constant(stream: DataStream, value: u32) -> Record {
        Record::SetConstant(SetConstant {
            address: CONTROLLER,
            stream,
            value,
        })
    }

    pub fn set_graph_online(online: bool) -> Record {
        Record::SetGraphOnline(SetGraphOnline {
            address: CONTROLLER,
            value: u16::from(online),
        })
    }

    pub fn reset_graph() -> Record {
        Record::ResetGraph {
            address: CONTROLLER,
        }
    }

    pub fn persist_graph() -> Record {
        Record::PersistGraph {
            address: CONTROLLER,
        }
    }

    pub fn clear_data() -> Record {
        Record::ClearData {
            address: CONTROLLER,
        }
    }

    pub fn clear_config_variables() -> Record {
        Record::ClearConfigVariables
    }
}

fn rpc_payload(payload: impl Into<Vec<u8>>) -> Result<Vec<u8>, BuildError> {
    let payload = payload.into();
    if payload.len() > MAX_RPC_PAYLOAD {
        return Err(BuildError::PayloadTooLong { len: payload.len() });
    }
    Ok(payload)
}

fn checked_image(image: impl Into<Vec<u8>>) -> Result<Vec<u8>, BuildError> {
    let image = image.into();
    if image.len() > MAX_IMAGE {
        return Err(BuildError::ImageTooLarge { len: image.len() });
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_refuse_what_would_not_read_back() {
        assert_eq!(
            Record::set_device_tag(None, None),
            Err(BuildError::NoTagUpdated)
        );
        let bad_tag = TagVersion {
            tag: 1,
            major: 64,
            minor: 0,
        };
        assert!(Record::set_device_tag(Some(bad_tag), None).is_err());
        assert_eq!(
            Record::send_rpc(8, 1, vec![0; 21]),
            Err(BuildError::PayloadTooLong { len: 21 })
        );
        assert!(Record::send_error_checking_rpc(8, rpc::ADD_NODE, vec![]).is_err());
        assert!(Record::send_error_checking_rpc(8, rpc::BEGIN_CONFIG, vec![]).is_err());
        assert!(Record::send_error_checking_rpc(11, rpc::BEGIN_CONFIG, vec![]).is_ok());
        assert!(Record::send_rpc_expecting(8, 1, vec![], 128).is_err());
        assert!(Record::reflash_tile(0, 0, vec![]).is_err());
        assert!(Record::set_config(Tile::Slot(32), 1, &[]).is_err());
    }

    #[test]
    fn config_data_is_cut_in_20_byte_chunks() {
        let Ok(Record::SetConfig(config)) = Record::set_config(Tile::Controller, 0x8000, &[7; 45])
        else {
            panic!("a config record");
        };
        let sizes: Vec<usize> = config.chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, [20, 20, 5]);
        assert_eq!(config.data(), vec![7; 45]);
    }
}
