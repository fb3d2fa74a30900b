//! Reading framed records back into logical records, matching type-4 RPCs by id the way
//! coretools does with iotile-sensorgraph installed.

use super::container::{array_at, u16_at, u32_at, RawRecord};
use super::error::{ScriptError, ScriptErrorKind};
use super::node::NodeDescriptor;
use super::record::*;
use super::slot::SlotTarget;
use super::streamer::StreamerDescriptor;
use crate::stream::DataStream;
use crate::version::TagVersion;

/// Decodes every framed record; a SetConfig group consumes several.
pub(super) fn decode_records(raw: &[RawRecord<'_>]) -> Result<Vec<Record>, ScriptError> {
    let mut records = Vec::with_capacity(raw.len());
    let mut index = 0;
    while let Some(&first) = raw.get(index) {
        index = index.saturating_add(1);
        let record = match first.record_type {
            TYPE_ERROR_CHECKING_RPC => {
                let call = parse_rpc(first)?;
                if call.rpc_id == rpc::BEGIN_CONFIG && call.address == CONTROLLER {
                    let (record, used) =
                        decode_config_group(call, raw.get(index..).unwrap_or_default())
                            .map_err(|kind| kind.at(first.offset))?;
                    index = index.saturating_add(used);
                    record
                } else {
                    decode_checked(call).map_err(|kind| kind.at(first.offset))?
                }
            }
            _ => decode_single(first).map_err(|kind| kind.at(first.offset))?,
        };
        records.push(record);
    }
    Ok(records)
}

/// The fields of an RPC record (types 3 and 4).
#[derive(Debug, Clone, Copy)]
struct Call<'a> {
    rpc_id: u16,
    address: u8,
    response: u8,
    payload: &'a [u8],
}

fn parse_rpc(record: RawRecord<'_>) -> Result<Call<'_>, ScriptError> {
    let bytes = record.payload;
    let (Some(rpc_id), Some(&address), Some(&response), Some(payload)) =
        (u16_at(bytes, 0), bytes.get(2), bytes.get(3), bytes.get(4..))
    else {
        let kind = ScriptErrorKind::Truncated {
            what: "an RPC record",
            min: 4,
            found: bytes.len(),
        };
        return Err(kind.at(record.offset));
    };
    // Coretools only checks this byte for plain error-checking records; we require it for
    // every type-4 record, so that encoding (which always writes 0x08) is exact.
    if record.record_type == TYPE_ERROR_CHECKING_RPC && response != ERROR_CHECK_RESPONSE {
        return Err(
            ScriptErrorKind::NotErrorCheckingResponse { found: response }.at(record.offset),
        );
    }
    Ok(Call {
        rpc_id,
        address,
        response,
        payload,
    })
}

fn decode_single(record: RawRecord<'_>) -> Result<Record, ScriptErrorKind> {
    let payload = record.payload;
    match record.record_type {
        TYPE_REFLASH_TILE => {
            let (
                Some(offset),
                Some(declared),
                Some(target),
                Some(&hardware_type),
                Some(pad),
                Some(image),
            ) = (
                u32_at(payload, 0),
                u32_at(payload, 4),
                array_at::<8>(payload, 8),
                payload.get(16),
                array_at::<3>(payload, 17),
                payload.get(20..),
            )
            else {
                return Err(ScriptErrorKind::Truncated {
                    what: "a ReflashTile record",
                    min: 20,
                    found: payload.len(),
                });
            };
            check_image("a ReflashTile record", declared, image)?;
            let target = SlotTarget::from_bytes(target);
            target.reflash_slot()?;
            if pad != [0; 3] {
                return Err(ScriptErrorKind::PaddingNotZero { found: pad });
            }
            Ok(Record::ReflashTile(ReflashTile {
                offset,
                target,
                hardware_type,
                image: image.to_vec(),
            }))
        }
        TYPE_REFLASH_CONTROLLER => {
            let (Some(offset), Some(declared), Some(image)) =
                (u32_at(payload, 0), u32_at(payload, 4), payload.get(8..))
            else {
                let found = payload.len();
                return Err(ScriptErrorKind::Truncated {
                    what: "a ReflashController record",
                    min: 8,
                    found,
                });
            };
            check_image("a ReflashController record", declared, image)?;
            Ok(Record::ReflashController(ReflashController {
                offset,
                image: image.to_vec(),
            }))
        }
        TYPE_ENHANCED_REFLASH => decode_enhanced(payload),
        TYPE_SEND_RPC => {
            let call = parse_rpc(record).map_err(|e| e.kind)?;
            Ok(Record::SendRpc(call.to_record()))
        }
        TYPE_RESET_DEVICE if payload.is_empty() => Ok(Record::ResetDevice),
        TYPE_RESET_DEVICE => Err(ScriptErrorKind::NotEmpty {
            what: "a ResetDevice record",
            len: payload.len(),
        }),
        record_type => Ok(Record::Unknown {
            record_type,
            payload: payload.to_vec(),
        }),
    }
}

fn decode_enhanced(payload: &[u8]) -> Result<Record, ScriptErrorKind> {
    let what = "an EnhancedReflashController record";
    let (
        Some(base_address),
        Some(encoded_length),
        Some(total_length),
        Some([image_type, flags, compression_type, compression_settings_length]),
        Some(compression_settings),
        Some(preinstall_checks),
        Some(image),
    ) = (
        u32_at(payload, 0),
        u32_at(payload, 4),
        u32_at(payload, 8),
        array_at::<4>(payload, 12),
        array_at::<16>(payload, 16),
        array_at::<64>(payload, 32),
        payload.get(96..),
    )
    else {
        return Err(ScriptErrorKind::Truncated {
            what,
            min: 96,
            found: payload.len(),
        });
    };
    check_image(what, total_length, image)?;
    Ok(Record::EnhancedReflashController(
        EnhancedReflashController {
            base_address,
            encoded_length,
            image_type,
            flags,
            compression_type,
            compression_settings_length,
            compression_settings,
            preinstall_checks,
            image: image.to_vec(),
        },
    ))
}

fn check_image(what: &'static str, declared: u32, image: &[u8]) -> Result<(), ScriptErrorKind> {
    if usize::try_from(declared).ok() != Some(image.len()) {
        return Err(ScriptErrorKind::ImageLengthMismatch {
            what,
            declared,
            actual: image.len(),
        });
    }
    Ok(())
}

/// A single type-4 record (not a config group).
fn decode_checked(call: Call<'_>) -> Result<Record, ScriptErrorKind> {
    let Call {
        rpc_id,
        address,
        payload,
        ..
    } = call;
    let exact = |what, expected| {
        if payload.len() == expected {
            Ok(())
        } else {
            Err(ScriptErrorKind::WrongLength {
                what,
                expected,
                found: payload.len(),
            })
        }
    };
    let empty = |what| {
        if payload.is_empty() {
            Ok(())
        } else {
            Err(ScriptErrorKind::NotEmpty {
                what,
                len: payload.len(),
            })
        }
    };
    let u32_field = |at| u32_at(payload, at).unwrap_or_default();
    let u16_field = |at| u16_at(payload, at).unwrap_or_default();
    Ok(match rpc_id {
        rpc::SET_DEVICE_TAG => {
            // Coretools crashes (struct.error) on any other length, so the script is refused.
            exact("a SetDeviceTag payload", 10)?;
            let (update_os, update_app) = (payload.get(8).copied(), payload.get(9).copied());
            let (update_os, update_app) = (
                update_os.unwrap_or_default(),
                update_app.unwrap_or_default(),
            );
            if update_os == 0 && update_app == 0 {
                return Err(ScriptErrorKind::NoTagUpdated);
            }
            let os = TagVersion::unpack(u32_field(0));
            let app = TagVersion::unpack(u32_field(4));
            Record::SetDeviceTag(SetDeviceTag {
                address,
                os,
                app,
                update_os,
                update_app,
            })
        }
        rpc::SET_CONSTANT => {
            exact("a SetConstant payload", 6)?;
            let code = u16_field(4);
            let stream =
                DataStream::from_code(code).map_err(|_| ScriptErrorKind::UnknownStreamType {
                    what: "constant stream",
                    code,
                })?;
            Record::SetConstant(SetConstant {
                address,
                stream,
                value: u32_field(0),
            })
        }
        rpc::ADD_NODE => Record::AddNode(AddNode {
            address,
            descriptor: NodeDescriptor::decode(payload)?,
        }),
        rpc::ADD_STREAMER => Record::AddStreamer(AddStreamer {
            address,
            descriptor: StreamerDescriptor::decode(payload)?,
        }),
        rpc::SET_ONLINE => {
            exact("a SetGraphOnline payload", 2)?;
            Record::SetGraphOnline(SetGraphOnline {
                address,
                value: u16_field(0),
            })
        }
        // Coretools ignores these payloads; we refuse non-empty ones so that encoding is exact.
        rpc::CLEAR_DATA => {
            empty("a ClearData payload")?;
            Record::ClearData { address }
        }
        rpc::RESET_GRAPH => {
            empty("a ResetGraph payload")?;
            Record::ResetGraph { address }
        }
        rpc::PERSIST_GRAPH => {
            empty("a PersistGraph payload")?;
            Record::PersistGraph { address }
        }
        rpc::CLEAR_CONFIGS => {
            if address != CONTROLLER {
                return Err(ScriptErrorKind::ClearConfigNotController { address });
            }
            empty("a ClearConfigVariables payload")?;
            Record::ClearConfigVariables
        }
        _ => Record::SendErrorCheckingRpc(call.to_record()),
    })
}

/// A config group after its begin RPC: pushes at the controller, then the end RPC. Returns
/// the record and how many records after the begin record it used. Coretools silently drops
/// a group left open at the end of the script; we refuse it.
fn decode_config_group(
    begin: Call<'_>,
    rest: &[RawRecord<'_>],
) -> Result<(Record, usize), ScriptErrorKind> {
    let mut chunks = Vec::new();
    for (used, &record) in rest.iter().enumerate() {
        if record.record_type != TYPE_ERROR_CHECKING_RPC {
            return Err(ScriptErrorKind::ConfigGroupWrongType {
                at: record.offset,
                record_type: record.record_type,
            });
        }
        let call = parse_rpc(record).map_err(|e| e.kind)?;
        match (call.rpc_id, call.address) {
            (rpc::PUSH_CONFIG, CONTROLLER) => chunks.push(call.payload.to_vec()),
            (rpc::END_CONFIG, CONTROLLER) => {
                if !call.payload.is_empty() {
                    return Err(ScriptErrorKind::NotEmpty {
                        what: "an end-config (0x2A09) payload",
                        len: call.payload.len(),
                    });
                }
                let (Some(config_id), Some(target), 10) = (
                    u16_at(begin.payload, 0),
                    array_at::<8>(begin.payload, 2),
                    begin.payload.len(),
                ) else {
                    let found = begin.payload.len();
                    return Err(ScriptErrorKind::WrongLength {
                        what: "a begin-config (0x2A07) payload",
                        expected: 10,
                        found,
                    });
                };
                let target = SlotTarget::from_bytes(target);
                target.tile()?;
                return Ok((
                    Record::SetConfig(SetConfig {
                        target,
                        config_id,
                        chunks,
                    }),
                    used.saturating_add(1),
                ));
            }
            (rpc_id, address) => {
                return Err(ScriptErrorKind::ConfigGroupBroken {
                    at: record.offset,
                    rpc_id,
                    address,
                })
            }
        }
    }
    Err(ScriptErrorKind::ConfigGroupUnterminated)
}

impl Call<'_> {
    fn to_record(self) -> RpcRecord {
        RpcRecord {
            address: self.address,
            rpc_id: self.rpc_id,
            response: self.response,
            payload: self.payload.to_vec(),
        }
    }
}
