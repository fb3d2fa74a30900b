//! Update scripts from a readable TOML description (`iotile-fw script build`).
//!
//! ```toml
//! [[record]]
//! type = "set_device_tag"
//! app = "2050 1.2"                 # tag major.minor; `os = ...` too
//!
//! [[record]]
//! type = "add_node"
//! node = "(input 1 always) => output 1 using copy_all_a"
//!
//! [[record]]
//! type = "add_streamer"
//! streamer = "manual streamer on all outputs"
//!
//! [[record]]
//! type = "set_config"
//! target = "slot 1"                # or "controller"
//! id = 0x8000
//! u32 = 123                        # or u8, u16, i32, string, hex
//!
//! [[record]]
//! type = "reflash_tile"
//! slot = 1
//! offset = 0x4000
//! image = "tile.bin"               # relative to the description file
//! ```
//!
//! The record texts are those `iotile-fw script inspect` prints, so a script can be read,
//! edited and rebuilt.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sync_protocol::script::{NodeDescriptor, Record, StreamerDescriptor, Tile, UpdateScript};
use sync_protocol::version::TagVersion;
use sync_protocol::DataStream;

/// A description that cannot become a script; says which record and why.
#[derive(Debug, thiserror::Error)]
pub enum DescriptionError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: String,
        source: toml::de::Error,
    },
    #[error("record {index} ({kind}): {why}")]
    Record {
        index: usize,
        kind: &'static str,
        why: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Description {
    #[serde(default)]
    record: Vec<RecordSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RecordSpec {
    SetDeviceTag {
        os: Option<String>,
        app: Option<String>,
    },
    SendRpc {
        address: u8,
        rpc: u16,
        #[serde(default)]
        payload: String,
        #[serde(default)]
        check_errors: bool,
    },
    ReflashTile {
        slot: u8,
        offset: u32,
        image: PathBuf,
    },
    ReflashController {
        offset: u32,
        image: PathBuf,
    },
    EnhancedReflashController {
        base_address: u32,
        image: PathBuf,
    },
    ResetDevice,
    AddNode {
        node: String,
    },
    AddStreamer {
        streamer: String,
        #[serde(default)]
        device_key: bool,
        #[serde(default)]
        synchronous: bool,
    },
    SetConfig {
        target: String,
        id: u16,
        #[serde(flatten)]
        value: ConfigValue,
    },
    SetConstant {
        stream: String,
        value: u32,
    },
    SetGraphOnline {
        online: bool,
    },
    ResetGraph,
    PersistGraph,
    ClearData,
    ClearConfigVariables,
}

/// A config variable's value, packed little-endian as the firmware reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ConfigValue {
    U8(u8),
    U16(u16),
    U32(u32),
    I32(i32),
    String(String),
    Hex(String),
}

impl RecordSpec {
    fn kind(&self) -> &'static str {
        match self {
            RecordSpec::SetDeviceTag { .. } => "set_device_tag",
            RecordSpec::SendRpc { .. } => "send_rpc",
            RecordSpec::ReflashTile { .. } => "reflash_tile",
            RecordSpec::ReflashController { .. } => "reflash_controller",
            RecordSpec::EnhancedReflashController { .. } => "enhanced_reflash_controller",
            RecordSpec::ResetDevice => "reset_device",
            RecordSpec::AddNode { .. } => "add_node",
            RecordSpec::AddStreamer { .. } => "add_streamer",
            RecordSpec::SetConfig { .. } => "set_config",
            RecordSpec::SetConstant { .. } => "set_constant",
            RecordSpec::SetGraphOnline { .. } => "set_graph_online",
            RecordSpec::ResetGraph => "reset_graph",
            RecordSpec::PersistGraph => "persist_graph",
            RecordSpec::ClearData => "clear_data",
            RecordSpec::ClearConfigVariables => "clear_config_variables",
        }
    }

    /// The record; image paths are relative to `base`.
    fn build(self, base: &Path) -> Result<Record, String> {
        let image = |path: &Path| {
            std::fs::read(base.join(path))
                .map_err(|e| format!("cannot read image {}: {e}", path.display()))
        };
        let built = match self {
            RecordSpec::SetDeviceTag { os, app } => {
                let os = os.as_deref().map(tag_version).transpose()?;
                let app = app.as_deref().map(tag_version).transpose()?;
                Record::set_device_tag(os, app)
            }
            RecordSpec::SendRpc {
                address,
                rpc,
                payload,
                check_errors,
            } => {
                let payload =
                    hex::decode(payload.trim()).map_err(|e| format!("payload is not hex: {e}"))?;
                if check_errors {
                    Record::send_error_checking_rpc(address, rpc, payload)
                } else {
                    Record::send_rpc(address, rpc, payload)
                }
            }
            RecordSpec::ReflashTile {
                slot,
                offset,
                image: path,
            } => Record::reflash_tile(slot, offset, image(&path)?),
            RecordSpec::ReflashController {
                offset,
                image: path,
            } => Record::reflash_controller(offset, image(&path)?),
            RecordSpec::EnhancedReflashController {
                base_address,
                image: path,
            } => Record::enhanced_reflash_controller(base_address, image(&path)?),
            RecordSpec::ResetDevice => Ok(Record::reset_device()),
            RecordSpec::AddNode { node } => Ok(Record::add_node(
                node.parse::<NodeDescriptor>().map_err(|e| e.to_string())?,
            )),
            RecordSpec::AddStreamer {
                streamer,
                device_key,
                synchronous,
            } => Ok(Record::add_streamer(
                StreamerDescriptor::from_text(&streamer, device_key, synchronous)
                    .map_err(|e| e.to_string())?,
            )),
            RecordSpec::SetConfig { target, id, value } => {
                Record::set_config(tile(&target)?, id, &value.bytes()?)
            }
            RecordSpec::SetConstant { stream, value } => {
                let stream: DataStream = stream.parse().map_err(|e| format!("{e}"))?;
                Ok(Record::set_constant(stream, value))
            }
            RecordSpec::SetGraphOnline { online } => Ok(Record::set_graph_online(online)),
            RecordSpec::ResetGraph => Ok(Record::reset_graph()),
            RecordSpec::PersistGraph => Ok(Record::persist_graph()),
            RecordSpec::ClearData => Ok(Record::clear_data()),
            RecordSpec::ClearConfigVariables => Ok(Record::clear_config_variables()),
        };
        built.map_err(|e| e.to_string())
    }
}

impl ConfigValue {
    fn bytes(&self) -> Result<Vec<u8>, String> {
        Ok(match self {
            ConfigValue::U8(v) => vec![*v],
            ConfigValue::U16(v) => v.to_le_bytes().to_vec(),
            ConfigValue::U32(v) => v.to_le_bytes().to_vec(),
            ConfigValue::I32(v) => v.to_le_bytes().to_vec(),
            ConfigValue::String(v) => v.as_bytes().to_vec(),
            ConfigValue::Hex(v) => hex::decode(v.trim()).map_err(|e| format!("hex value: {e}"))?,
        })
    }
}

/// `2050 1.2`: a tag and a major.minor version.
fn tag_version(text: &str) -> Result<TagVersion, String> {
    let bad = || format!("`{text}` is not `<tag> <major>.<minor>` (e.g. `2050 1.2`)");
    let (tag, version) = text.trim().split_once(' ').ok_or_else(bad)?;
    let (major, minor) = version
        .trim()
        .trim_start_matches('v')
        .split_once('.')
        .ok_or_else(bad)?;
    let (tag, major, minor) = (
        tag.parse().map_err(|_| bad())?,
        major.parse().map_err(|_| bad())?,
        minor.parse().map_err(|_| bad())?,
    );
    TagVersion::new(tag, major, minor).map_err(|e| e.to_string())
}

/// `controller` or `slot N`.
fn tile(text: &str) -> Result<Tile, String> {
    match text.trim() {
        "controller" => Ok(Tile::Controller),
        other => other
            .strip_prefix("slot ")
            .and_then(|n| n.trim().parse().ok())
            .map(Tile::Slot)
            .ok_or(format!("target `{other}` is not `controller` or `slot N`")),
    }
}

/// Reads a description file and builds the script.
pub fn build_script(path: &Path) -> Result<UpdateScript, DescriptionError> {
    let text = std::fs::read_to_string(path).map_err(|source| DescriptionError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    build_from_text(&text, base).map_err(|e| match e {
        DescriptionError::Toml { source, .. } => DescriptionError::Toml {
            path: path.display().to_string(),
            source,
        },
        other => other,
    })
}

/// Builds a script from description text; image paths are relative to `base`.
pub fn build_from_text(text: &str, base: &Path) -> Result<UpdateScript, DescriptionError> {
    let description: Description =
        toml::from_str(text).map_err(|source| DescriptionError::Toml {
            path: String::new(),
            source,
        })?;
    let records = description
        .record
        .into_iter()
        .enumerate()
        .map(|(index, spec)| {
            let kind = spec.kind();
            spec.build(base).map_err(|why| DescriptionError::Record {
                index: index + 1,
                kind,
                why,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(UpdateScript::new(records))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_builds_and_reads_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("tile.bin"), [0xAB; 300]).expect("image");
        let text = include_str!("../tests/data/all_records.toml");
        let script = build_from_text(text, dir.path()).expect("builds");
        let decoded = UpdateScript::decode(&script.encode()).expect("a valid script");
        let lines: Vec<String> = decoded.records.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 15);
        assert_eq!(lines[0], "Set device app to (tag:2050 version:1.2)");
        assert_eq!(lines[4], "Reflash slot 1 with 300 (0x12C) bytes starting at offset 16384 (0x4000) (hardware_type: 0)");
        assert_eq!(
            lines[8],
            "Set config variable 0x8000 on slot 1 to 'hex:b'7b000000''"
        );
        assert_eq!(lines[14], "Reset device");
    }

    #[test]
    fn mistakes_name_the_record() {
        let base = Path::new(".");
        let error = build_from_text(
            "[[record]]\ntype = \"add_node\"\nnode = \"(input 1) => output 1 using x\"\n",
            base,
        )
        .expect_err("bad node");
        assert!(
            error.to_string().starts_with("record 1 (add_node)"),
            "{error}"
        );
        let error = build_from_text(
            "[[record]]\ntype = \"set_device_tag\"\napp = \"2050\"\n",
            base,
        )
        .expect_err("bad tag");
        assert!(
            error.to_string().contains("<tag> <major>.<minor>"),
            "{error}"
        );
        assert!(build_from_text("[[record]]\ntype = \"warp_drive\"\n", base).is_err());
        let error = build_from_text(
            "[[record]]\ntype = \"reflash_controller\"\noffset = 0\nimage = \"nope.bin\"\n",
            base,
        )
        .expect_err("missing image");
        assert!(error.to_string().contains("nope.bin"), "{error}");
    }
}
