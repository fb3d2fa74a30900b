//! The config database (`0x2A07`–`0x2A10`), the tile manager (`0x2A00`–`0x2A03`) and the
//! POD's fake peripheral tiles, which exist once they registered or a script flashed them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sync_protocol::rpc::{codes, RpcResponse};
use sync_protocol::script::SlotTarget;

use super::rpc::{args, none, padded, u16_at, words, wrong_size, Answer};
use super::{ControllerConfig, InstalledImage, PodModel};

/// Bytes reserved for config data (as the reference controller).
const DATA_SIZE: usize = 4096;
const CONTROL_SIZE: usize = 4096;
const ENTRY_MAGIC: u16 = 0xCACA;
const OBSOLETE_ENTRY: u32 = 0x8000;
const DESTINATION_BUFFER_TOO_SMALL: u32 = 16;
const INVALID_ARRAY_KEY: u32 = 6;

/// Tile states reported by `0x2A03`.
const TILE_RUNNING: u8 = 3;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct ConfigDb {
    entries: Vec<ConfigEntry>,
    in_progress: Option<ConfigEntry>,
    data_index: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ConfigEntry {
    target: [u8; 8],
    var_id: u16,
    /// The variable id (2 bytes LE) followed by the value, as the firmware stores it.
    data: Vec<u8>,
    valid: bool,
}

/// A peripheral tile in slot `slot` (bus address `10 + slot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeripheralTile {
    pub slot: u8,
    /// 6 characters.
    pub name: String,
    pub hardware: String,
    pub firmware: (u8, u8, u8),
    pub hw_type: u8,
    pub unique_id: u32,
    /// The image a ReflashTile record installed.
    pub image: Option<InstalledImage>,
}

impl PeripheralTile {
    pub fn address(&self) -> u8 {
        self.slot.saturating_add(10)
    }
}

impl ConfigEntry {
    fn value(&self) -> &[u8] {
        self.data.get(2..).unwrap_or_default()
    }

    fn targets_controller(&self) -> bool {
        let target = SlotTarget::from_bytes(self.target);
        target.match_op() == 2
    }
}

impl ConfigDb {
    /// The controller variables the database holds (latched at reset).
    pub fn controller_config(&self) -> ControllerConfig {
        let mut config = ControllerConfig::default();
        for entry in self
            .entries
            .iter()
            .filter(|e| e.valid && e.targets_controller())
        {
            let value = entry.value();
            let word = || {
                let mut bytes = [0u8; 4];
                let len = value.len().min(4);
                bytes[..len].copy_from_slice(&value[..len]);
                u32::from_le_bytes(bytes)
            };
            let flag = || value.first().is_some_and(|b| *b != 0);
            match entry.var_id {
                0x2000 => config.fast_tick = word(),
                0x2002 => config.user_tick_1 = word(),
                0x2003 => config.user_tick_2 = word(),
                0x2004 => config.storage_fillstop = flag(),
                0x2005 => config.streaming_fillstop = flag(),
                _ => {}
            }
        }
        config
    }

    fn start(&mut self, target: [u8; 8], var_id: u16) -> u32 {
        let mut entry = ConfigEntry {
            target,
            var_id,
            data: Vec::new(),
            valid: true,
        };
        if DATA_SIZE - self.data_index < 2 {
            self.in_progress = None;
            return DESTINATION_BUFFER_TOO_SMALL;
        }
        entry.data.extend_from_slice(&var_id.to_le_bytes());
        self.data_index += 2;
        self.in_progress = Some(entry);
        0
    }

    fn push(&mut self, data: &[u8]) -> u32 {
        if DATA_SIZE - self.data_index < data.len() {
            return DESTINATION_BUFFER_TOO_SMALL;
        }
        if let Some(entry) = &mut self.in_progress {
            entry.data.extend_from_slice(data);
        }
        0
    }

    fn end(&mut self) -> u32 {
        let Some(entry) = self.in_progress.take() else {
            return 0;
        };
        if entry.data.len() == 2 {
            return codes::WRONG_INPUT_SIZE;
        }
        if self.entries.len() >= CONTROL_SIZE / 16 - 1 {
            return DESTINATION_BUFFER_TOO_SMALL;
        }
        for old in &mut self.entries {
            if old.target == entry.target && old.var_id == entry.var_id {
                old.valid = false;
            }
        }
        self.data_index += entry.data.len() - 2;
        self.entries.push(entry);
        0
    }

    fn clear(&mut self) {
        *self = ConfigDb::default();
    }

    fn compact(&mut self) {
        let freed: usize = self
            .entries
            .iter()
            .filter(|e| !e.valid)
            .map(|e| e.data.len())
            .sum();
        self.entries.retain(|e| e.valid);
        self.data_index -= freed;
    }

    fn entry(&self, index: u16) -> Result<&ConfigEntry, u32> {
        let entry = usize::from(index)
            .checked_sub(1)
            .and_then(|i| self.entries.get(i))
            .ok_or(INVALID_ARRAY_KEY)?;
        if entry.valid {
            Ok(entry)
        } else {
            Err(OBSOLETE_ENTRY)
        }
    }
}

/// What a fake firmware image may say about itself: leading `key=value` text lines with
/// `name`, `version` (`a.b.c`) and `hardware`. Other images are just remembered by hash.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct FakeImage {
    pub name: Option<String>,
    pub version: Option<(u8, u8, u8)>,
    pub hardware: Option<String>,
}

impl FakeImage {
    pub fn parse(image: &[u8]) -> FakeImage {
        let mut out = FakeImage::default();
        let text_len = image.iter().position(|b| *b == 0).unwrap_or(image.len());
        let Ok(text) = std::str::from_utf8(&image[..text_len]) else {
            return out;
        };
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                break;
            };
            match key.trim() {
                "name" if value.len() <= 6 && value.is_ascii() => {
                    out.name = Some(value.to_string());
                }
                "version" => {
                    let parts: Vec<Option<u8>> =
                        value.trim().split('.').map(|p| p.parse().ok()).collect();
                    if let [Some(a), Some(b), Some(c)] = parts[..] {
                        out.version = Some((a, b, c));
                    }
                }
                "hardware" if value.len() <= 10 => out.hardware = Some(value.to_string()),
                _ => {}
            }
        }
        out
    }
}

pub(super) fn image_record(record: &str, address: u32, image: &[u8]) -> InstalledImage {
    InstalledImage {
        record: record.to_string(),
        address,
        len: image.len(),
        sha256: hex::encode(Sha256::digest(image)),
    }
}

/// The version after installing an image that does not say its own: the patch moves on.
pub(super) fn next_version(current: (u8, u8, u8), image: &FakeImage) -> (u8, u8, u8) {
    image
        .version
        .unwrap_or((current.0, current.1, current.2.wrapping_add(1)))
}

impl PodModel {
    pub(super) fn config_db_rpc(&mut self, rpc_id: u16, p: &[u8]) -> Answer {
        let db = &mut self.flash.config_db;
        Ok(match rpc_id {
            0x2A07 => {
                let b: [u8; 10] = args(p)?;
                let mut target = [0u8; 8];
                target.copy_from_slice(&b[2..]);
                RpcResponse::code(db.start(target, u16_at(&b, 0)))
            }
            0x2A08 => RpcResponse::code(db.push(p)),
            0x2A09 => {
                none(p)?;
                RpcResponse::code(db.end())
            }
            0x2A0A => {
                let [lo, hi] = args(p)?;
                let index = u16::from_le_bytes([lo, hi]);
                let mut out = Vec::with_capacity(20);
                match db.entry(index) {
                    Ok(entry) => {
                        let offset: usize = db.entries[..usize::from(index) - 1]
                            .iter()
                            .map(|e| e.data.len())
                            .sum();
                        out.extend_from_slice(&0u32.to_le_bytes());
                        out.extend_from_slice(&ENTRY_MAGIC.to_le_bytes());
                        out.extend_from_slice(&(offset as u16).to_le_bytes());
                        out.extend_from_slice(&(entry.data.len() as u16).to_le_bytes());
                        out.extend_from_slice(&entry.target);
                        out.extend_from_slice(&[0xFF, 0]);
                    }
                    Err(code) => {
                        out.extend_from_slice(&code.to_le_bytes());
                        out.extend_from_slice(&[0; 16]);
                    }
                }
                RpcResponse::ok(out)
            }
            0x2A0B => {
                none(p)?;
                words(&[db.entries.len() as u32])
            }
            0x2A0C => {
                none(p)?;
                db.clear();
                RpcResponse::code(0)
            }
            0x2A0D => {
                let b: [u8; 4] = args(p)?;
                let offset = usize::from(u16_at(&b, 2));
                match db.entry(u16_at(&b, 0)) {
                    Ok(entry) if offset < entry.data.len() => {
                        let mut out = 0u32.to_le_bytes().to_vec();
                        out.extend(entry.data[offset..].iter().take(16));
                        RpcResponse::ok(out)
                    }
                    Ok(_) => RpcResponse::code(INVALID_ARRAY_KEY),
                    Err(code) => RpcResponse::code(code),
                }
            }
            0x2A0E => {
                let [lo, hi] = args(p)?;
                let index = u16::from_le_bytes([lo, hi]);
                let code = match db.entry(index) {
                    Ok(_) => {
                        db.entries[usize::from(index) - 1].valid = false;
                        0
                    }
                    Err(code) => code,
                };
                RpcResponse::code(code)
            }
            0x2A0F => {
                none(p)?;
                db.compact();
                RpcResponse::code(0)
            }
            0x2A10 => {
                none(p)?;
                let invalid: Vec<&ConfigEntry> = db.entries.iter().filter(|e| !e.valid).collect();
                let invalid_size: usize = invalid.iter().map(|e| e.data.len()).sum();
                let mut out = (DATA_SIZE as u32).to_le_bytes().to_vec();
                for half in [
                    db.data_index,
                    invalid_size,
                    db.entries.len(),
                    invalid.len(),
                    CONTROL_SIZE / 16 - 1,
                    0,
                ] {
                    out.extend_from_slice(&(half as u16).to_le_bytes());
                }
                RpcResponse::ok(out)
            }
            _ => RpcResponse::not_found(),
        })
    }

    pub(super) fn tile_manager_rpc(&mut self, rpc_id: u16, p: &[u8]) -> Answer {
        Ok(match rpc_id {
            0x2A00 => {
                let b: [u8; 20] = args(p)?;
                let slot = b[15];
                let tile = PeripheralTile {
                    slot,
                    name: String::from_utf8_lossy(&b[3..9]).into_owned(),
                    hardware: String::new(),
                    firmware: (b[9], b[10], b[11]),
                    hw_type: b[0],
                    unique_id: u32::from_le_bytes([b[16], b[17], b[18], b[19]]),
                    image: None,
                };
                self.upsert_tile(tile);
                let mut out = u16::from(slot.saturating_add(10)).to_le_bytes().to_vec();
                out.extend_from_slice(&1u16.to_le_bytes()); // start on command
                out.extend_from_slice(&0u16.to_le_bytes());
                RpcResponse::ok(out)
            }
            0x2A01 => {
                none(p)?;
                RpcResponse::ok(((self.flash.tiles.len() + 1) as u16).to_le_bytes().to_vec())
            }
            0x2A02 => {
                let [lo, hi] = args(p)?;
                RpcResponse::ok(self.registration_packet(u16::from_le_bytes([lo, hi])))
            }
            0x2A03 => {
                let [lo, hi] = args(p)?;
                let index = usize::from(u16::from_le_bytes([lo, hi]));
                let out = match index {
                    0 => vec![8, TILE_RUNNING],
                    i => match self.flash.tiles.get(i - 1) {
                        Some(tile) => vec![tile.address(), TILE_RUNNING],
                        None => vec![0, 0],
                    },
                };
                RpcResponse::ok(out)
            }
            _ => RpcResponse::not_found(),
        })
    }

    /// `hw type, api major, api minor, 6s name, 3B firmware, 3B executive, slot, u32 id`.
    fn registration_packet(&self, index: u16) -> Vec<u8> {
        let (hw_type, name, firmware, slot, unique_id) = match usize::from(index) {
            0 => (
                0u8,
                self.flash.identity.name,
                self.flash.identity.firmware,
                0u8,
                self.device_id_u32(),
            ),
            i => match self.flash.tiles.get(i - 1) {
                Some(tile) => (
                    tile.hw_type,
                    padded_name(&tile.name),
                    tile.firmware,
                    tile.slot,
                    tile.unique_id,
                ),
                None => return vec![0; 20],
            },
        };
        let mut out = vec![hw_type, 3, 0];
        out.extend_from_slice(&name);
        out.extend_from_slice(&[firmware.0, firmware.1, firmware.2, 1, 0, 0, slot]);
        out.extend_from_slice(&unique_id.to_le_bytes());
        out
    }

    fn upsert_tile(&mut self, tile: PeripheralTile) {
        match self.flash.tiles.iter_mut().find(|t| t.slot == tile.slot) {
            Some(existing) => {
                let image = existing.image.take();
                *existing = PeripheralTile { image, ..tile };
            }
            None => {
                self.flash.tiles.push(tile);
                self.flash.tiles.sort_by_key(|t| t.slot);
            }
        }
    }

    /// A ReflashTile record: the tile in `slot` now runs `image` (created if missing).
    pub(super) fn install_tile_image(&mut self, slot: u8, offset: u32, image: &[u8]) {
        let fake = FakeImage::parse(image);
        let record = image_record("tile", offset, image);
        let current = self.flash.tiles.iter().find(|t| t.slot == slot).cloned();
        let base = current.unwrap_or(PeripheralTile {
            slot,
            name: format!("tile{slot:02}").chars().take(6).collect(),
            hardware: String::new(),
            firmware: (1, 0, 0),
            hw_type: 0,
            unique_id: u32::from(slot),
            image: None,
        });
        let tile = PeripheralTile {
            name: fake.name.clone().unwrap_or(base.name.clone()),
            hardware: fake.hardware.clone().unwrap_or(base.hardware.clone()),
            firmware: next_version(base.firmware, &fake),
            image: Some(record),
            ..base
        };
        match self.flash.tiles.iter_mut().find(|t| t.slot == slot) {
            Some(existing) => *existing = tile,
            None => {
                self.flash.tiles.push(tile);
                self.flash.tiles.sort_by_key(|t| t.slot);
            }
        }
    }

    /// A ReflashController or EnhancedReflashController record: the controller runs the new
    /// image after its restart (the caller resets).
    pub(super) fn install_controller_image(&mut self, record: &str, address: u32, image: &[u8]) {
        let fake = FakeImage::parse(image);
        let identity = &mut self.flash.identity;
        if let Some(name) = &fake.name {
            identity.name = padded_name(name);
        }
        if let Some(hardware) = &fake.hardware {
            identity.hardware = hardware.clone();
        }
        identity.firmware = next_version(identity.firmware, &fake);
        identity.controller_image = Some(image_record(record, address, image));
    }

    /// RPCs at a peripheral tile's address; `None` when no tile is there.
    pub(super) fn tile_rpc(&mut self, address: u8, rpc_id: u16, p: &[u8]) -> Option<RpcResponse> {
        let tile = self.flash.tiles.iter().find(|t| t.address() == address)?;
        let answer = (|| -> Answer {
            Ok(match rpc_id {
                0x0001 => {
                    none(p)?;
                    RpcResponse::tile_not_found()
                }
                0x0002 => {
                    none(p)?;
                    RpcResponse::ok(padded::<10>(tile.hardware.as_bytes()).to_vec())
                }
                0x0004 => {
                    none(p)?;
                    let (a, b, c) = tile.firmware;
                    let mut out = 0xFFFFu16.to_le_bytes().to_vec();
                    out.extend_from_slice(&padded_name(&tile.name));
                    out.extend_from_slice(&[a, b, c, 0x03]);
                    RpcResponse::ok(out)
                }
                0x0006 => {
                    none(p)?;
                    RpcResponse::ok(Vec::new())
                }
                _ if p.len() > 20 => return Err(wrong_size()),
                _ => RpcResponse::not_found(),
            })
        })();
        Some(answer.unwrap_or_else(|e| e))
    }
}

fn padded_name(name: &str) -> [u8; 6] {
    let mut out = [b' '; 6];
    let len = name.len().min(6);
    out[..len].copy_from_slice(&name.as_bytes()[..len]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_images_describe_themselves() {
        let image = FakeImage::parse(b"name=NRF52 \nversion=2.1.3\nhardware=btc2\n\x00\x01binary");
        assert_eq!(image.name.as_deref(), Some("NRF52 "));
        assert_eq!(image.version, Some((2, 1, 3)));
        assert_eq!(image.hardware.as_deref(), Some("btc2"));
        assert_eq!(FakeImage::parse(&[0xFF, 0xFE, 0]), FakeImage::default());
        assert_eq!(next_version((1, 0, 0), &FakeImage::default()), (1, 0, 1));
    }

    #[test]
    fn config_entries_replace_older_ones_and_latch() {
        let mut db = ConfigDb::default();
        let controller = SlotTarget::controller().to_bytes();
        assert_eq!(db.start(controller, 0x2005), 0);
        assert_eq!(db.push(&[1]), 0);
        assert_eq!(db.end(), 0);
        assert_eq!(db.start(controller, 0x2000), 0);
        assert_eq!(db.end(), codes::WRONG_INPUT_SIZE);
        assert_eq!(db.start(controller, 0x2000), 0);
        assert_eq!(db.push(&5u32.to_le_bytes()), 0);
        assert_eq!(db.end(), 0);
        let config = db.controller_config();
        assert!(config.streaming_fillstop);
        assert_eq!(config.fast_tick, 5);
        assert_eq!(db.start(controller, 0x2005), 0);
        assert_eq!(db.push(&[0]), 0);
        assert_eq!(db.end(), 0);
        assert!(!db.controller_config().streaming_fillstop);
        assert_eq!(db.entry(1).err(), Some(OBSOLETE_ENTRY));
        db.compact();
        assert_eq!(db.entries.len(), 2);
    }
}
