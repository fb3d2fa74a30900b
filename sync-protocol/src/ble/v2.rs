//! Advertisement v2: one 31-byte packet that passive scanners see, carrying the broadcast
//! reading itself, optionally encrypted and authenticated.
//!
//! ```text
//! 0 02 01 06 | 3 1B 16 DD FD (service data, UUID16 0xFDDD) | 7 u32 device uuid
//! 11 u16 reboot count low | 13 u8 reboot count bits 16..19 (high nibble 0) | 14 u8 flags
//! 15 u32 current time | 19 u8 battery (V×32) | 20 u8 broadcast info (counter 0..4, id 5..7)
//! 21 u16 broadcast stream, bit 15 = toggle (0x7FFF after masking = none) | 23 u32 value
//! 27 4 bytes: AES-CCM tag when encrypted, else 0
//! ```
//!
//! When the key type (flags bits 3..5) is not 0, bytes 21..27 are AES-128-CCM ciphertext
//! (so the toggle is hidden too), bytes 7..21 are authenticated, and bytes 27..31 are the tag;
//! see [`super::BroadcastKey`] for the key and nonce.

use super::crypto::{self, BroadcastKey, NONCE_LEN, TAG_LEN};
use super::v1::{exact, expect, AD_FLAGS};
use super::{read_u16, read_u32, BleError, ADV_LEN};

const SERVICE_DATA_HEADER: [u8; 4] = [0x1B, 0x16, 0xDD, 0xFD];
const TOGGLE: u16 = 0x8000;
const STREAM_MASK: u16 = 0x7FFF;
/// Largest reboot count (20 bits).
pub const MAX_REBOOT_COUNT: u32 = 0xF_FFFF;
const AAD: std::ops::Range<usize> = 7..21;
const BODY: std::ops::Range<usize> = 21..27;
const TAG: std::ops::Range<usize> = 27..31;

/// Which root key encrypts the broadcast (flags bits 3..5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyType {
    /// Not encrypted; the tag bytes are 0.
    #[default]
    None,
    /// Encrypted with the public null key (16 zero bytes).
    Null,
    User,
    Device,
    /// A user key derived from a password.
    Password,
    /// 5..=7: undefined; such broadcasts cannot be opened or built.
    Reserved(u8),
}

impl KeyType {
    /// From the 3-bit field (higher bits ignored).
    pub fn from_bits(bits: u8) -> Self {
        match bits & 0x07 {
            0 => KeyType::None,
            1 => KeyType::Null,
            2 => KeyType::User,
            3 => KeyType::Device,
            4 => KeyType::Password,
            other => KeyType::Reserved(other),
        }
    }

    /// The 3-bit field.
    pub fn bits(self) -> u8 {
        match self {
            KeyType::None => 0,
            KeyType::Null => 1,
            KeyType::User => 2,
            KeyType::Device => 3,
            KeyType::Password => 4,
            KeyType::Reserved(bits) => bits & 0x07,
        }
    }
}

/// The v2 flags byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct V2Flags {
    /// Bit 0: readings are waiting to be streamed.
    pub pending_data: bool,
    /// Bit 1.
    pub low_voltage: bool,
    /// Bit 2: a user is connected (the POD then advertises non-connectable).
    pub user_connected: bool,
    /// Bits 3..5.
    pub key_type: KeyType,
    /// Bit 6: the broadcast changes only at fixed times, so its timing leaks nothing.
    pub time_synchronised: bool,
    /// Bit 7.
    pub safe_mode: bool,
}

impl V2Flags {
    pub fn from_bits(bits: u8) -> Self {
        V2Flags {
            pending_data: bits & 0x01 != 0,
            low_voltage: bits & 0x02 != 0,
            user_connected: bits & 0x04 != 0,
            key_type: KeyType::from_bits(bits >> 3),
            time_synchronised: bits & 0x40 != 0,
            safe_mode: bits & 0x80 != 0,
        }
    }

    pub fn bits(self) -> u8 {
        u8::from(self.pending_data)
            | u8::from(self.low_voltage) << 1
            | u8::from(self.user_connected) << 2
            | self.key_type.bits() << 3
            | u8::from(self.time_synchronised) << 6
            | u8::from(self.safe_mode) << 7
    }
}

/// Byte 20: which broadcast channel this is and its update counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BroadcastInfo {
    /// 5 bits: bumped when the broadcast reading changes.
    pub counter: u8,
    /// 3 bits: the multiplexed broadcast channel.
    pub id: u8,
}

impl BroadcastInfo {
    pub fn from_byte(byte: u8) -> Self {
        BroadcastInfo {
            counter: byte & 0x1F,
            id: byte >> 5,
        }
    }

    /// Fails if a field is out of range.
    pub fn byte(self) -> Result<u8, BleError> {
        check("broadcast counter", self.counter.into(), 0x1F)?;
        check("broadcast id", self.id.into(), 0x07)?;
        Ok(self.counter | self.id << 5)
    }
}

/// A v2 advertisement, in clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AdvertisementV2 {
    pub device_id: u32,
    /// 20 bits.
    pub reboot_count: u32,
    pub flags: V2Flags,
    /// The device's clock (see [`crate::time`]).
    pub current_time: u32,
    /// Battery voltage, volts × 32 (`0xFF` when unknown).
    pub battery: u8,
    pub broadcast_info: BroadcastInfo,
    /// `(stream, value)`; the stream has 15 bits and `0x7FFF` means none.
    pub broadcast: Option<(u16, u32)>,
    /// Bit 15 of the stream field, flipped with each new reading.
    pub toggle: bool,
}

/// What became of the broadcast reading of a decoded v2 advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BroadcastAuth {
    /// Not encrypted (key type 0).
    Plain,
    /// Decrypted and the tag verified.
    Verified,
    /// Encrypted with a key the caller did not supply (or a reserved key type): the device
    /// was seen, its broadcast and toggle are unknown.
    NoKey,
    /// The tag did not verify (wrong key, corruption or forgery): the device was seen, its
    /// broadcast and toggle are unknown.
    Failed,
}

impl BroadcastAuth {
    /// Whether `broadcast` and `toggle` are what the device sent.
    pub fn readable(self) -> bool {
        matches!(self, BroadcastAuth::Plain | BroadcastAuth::Verified)
    }
}

/// A decoded v2 advertisement and what became of its broadcast. When the broadcast could
/// not be opened, `advertisement.broadcast` is `None` and `advertisement.toggle` is false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodedV2 {
    pub advertisement: AdvertisementV2,
    pub auth: BroadcastAuth,
}

impl AdvertisementV2 {
    /// The 31-byte packet. The key must match `flags.key_type`: none for key type 0, the
    /// key of that type otherwise (the null key may be omitted).
    ///
    /// coretools treats a reboot count or time of 0 as missing and then drops an encrypted
    /// broadcast, so a POD that wants coretools to read its broadcasts keeps both non-zero.
    pub fn encode(&self, key: Option<&BroadcastKey>) -> Result<[u8; ADV_LEN], BleError> {
        check("reboot count", self.reboot_count, MAX_REBOOT_COUNT)?;
        let info = self.broadcast_info.byte()?;
        let (stream, value) = match self.broadcast {
            Some((stream, value)) => {
                check("v2 broadcast stream", stream.into(), 0x7FFE)?;
                (stream, value)
            }
            None => (STREAM_MASK, 0),
        };
        let key = pick_key(self.flags.key_type, key)?;

        let mut out = [0u8; ADV_LEN];
        out[0..3].copy_from_slice(&AD_FLAGS);
        out[3..7].copy_from_slice(&SERVICE_DATA_HEADER);
        out[7..11].copy_from_slice(&self.device_id.to_le_bytes());
        let [low, high, reboot_high, _] = self.reboot_count.to_le_bytes();
        out[11..14].copy_from_slice(&[low, high, reboot_high]);
        out[14] = self.flags.bits();
        out[15..19].copy_from_slice(&self.current_time.to_le_bytes());
        out[19] = self.battery;
        out[20] = info;
        let packed = if self.toggle { stream | TOGGLE } else { stream };
        out[21..23].copy_from_slice(&packed.to_le_bytes());
        out[23..27].copy_from_slice(&value.to_le_bytes());

        if let Some(key) = key {
            let ephemeral = key.ephemeral_key(self.reboot_count, self.current_time);
            let nonce = nonce(&out);
            let (head, body) = out.split_at_mut(BODY.start);
            let aad = head.get(AAD).unwrap_or_default();
            let body = body.get_mut(..BODY.len()).unwrap_or_default();
            let tag = crypto::seal(&ephemeral, &nonce, aad, body).ok_or(BleError::Encrypt)?;
            out[TAG].copy_from_slice(&tag);
        }
        Ok(out)
    }

    /// Decodes a packet. An encrypted broadcast is opened with `key` when it is of the
    /// advertised type (the null key needs none); otherwise the advertisement still decodes
    /// and [`DecodedV2::auth`] says why the broadcast is absent.
    pub fn decode(bytes: &[u8], key: Option<&BroadcastKey>) -> Result<DecodedV2, BleError> {
        let raw = exact(bytes, "v2 advertisement")?;
        expect(raw, 3, &SERVICE_DATA_HEADER, "service data for UUID 0xFDDD")?;
        let flags = V2Flags::from_bits(raw[14]);
        let mut advertisement = AdvertisementV2 {
            device_id: read_u32(raw, 7),
            reboot_count: u32::from(read_u16(raw, 11)) | u32::from(raw[13] & 0x0F) << 16,
            flags,
            current_time: read_u32(raw, 15),
            battery: raw[19],
            broadcast_info: BroadcastInfo::from_byte(raw[20]),
            broadcast: None,
            toggle: false,
        };

        let mut body = [0u8; 6];
        body.copy_from_slice(&raw[BODY]);
        let auth = match (flags.key_type, usable_key(flags.key_type, key)) {
            (KeyType::None, _) => BroadcastAuth::Plain,
            (_, None) => BroadcastAuth::NoKey,
            (_, Some(key)) => {
                let ephemeral =
                    key.ephemeral_key(advertisement.reboot_count, advertisement.current_time);
                let mut tag = [0u8; TAG_LEN];
                tag.copy_from_slice(&raw[TAG]);
                if crypto::open(&ephemeral, &nonce(raw), &raw[AAD], &mut body, &tag) {
                    BroadcastAuth::Verified
                } else {
                    BroadcastAuth::Failed
                }
            }
        };
        if auth.readable() {
            let [s0, s1, v0, v1, v2, v3] = body;
            let packed = u16::from_le_bytes([s0, s1]);
            let stream = packed & STREAM_MASK;
            advertisement.toggle = packed & TOGGLE != 0;
            advertisement.broadcast =
                (stream != STREAM_MASK).then(|| (stream, u32::from_le_bytes([v0, v1, v2, v3])));
        }
        Ok(DecodedV2 {
            advertisement,
            auth,
        })
    }

    /// The key type a v2 packet advertises, to pick a key before decoding.
    pub fn key_type(bytes: &[u8]) -> Option<KeyType> {
        is_v2(bytes).then(|| KeyType::from_bits(bytes.get(14).copied().unwrap_or_default() >> 3))
    }

    /// A POD with a user connected advertises non-connectable.
    pub fn connectable(&self) -> bool {
        !self.flags.user_connected
    }
}

/// Whether 31 bytes are a v2 advertisement (bytes 3..6 = `1B 16 DD FD`).
pub fn is_v2(adv: &[u8]) -> bool {
    adv.len() == ADV_LEN && adv.get(3..7) == Some(&SERVICE_DATA_HEADER[..])
}

/// `u32 uuid ‖ u32 current time ‖ u16 reboot low ‖ u8 byte 13 ‖ u8 broadcast info ‖ 00`,
/// taken from the packet as sent.
fn nonce(raw: &[u8; ADV_LEN]) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[0..4].copy_from_slice(&raw[7..11]);
    nonce[4..8].copy_from_slice(&raw[15..19]);
    nonce[8..11].copy_from_slice(&raw[11..14]);
    nonce[11] = raw[20];
    nonce
}

/// The key to encrypt with, given the advertised key type and the caller's key.
fn pick_key(
    key_type: KeyType,
    key: Option<&BroadcastKey>,
) -> Result<Option<BroadcastKey>, BleError> {
    let mismatch = || BleError::KeyMismatch {
        advertised: key_type,
        supplied: key.map(BroadcastKey::key_type),
    };
    match (key_type, key) {
        (KeyType::None, None) => Ok(None),
        (KeyType::None, Some(_)) => Err(mismatch()),
        (KeyType::Reserved(_), _) => Err(mismatch()),
        (KeyType::Null, None) => Ok(Some(BroadcastKey::null())),
        (advertised, Some(key)) if key.key_type() == advertised => Ok(Some(key.clone())),
        _ => Err(mismatch()),
    }
}

/// The key that can open a broadcast of `key_type`, if the caller has it.
fn usable_key(key_type: KeyType, key: Option<&BroadcastKey>) -> Option<BroadcastKey> {
    match (key_type, key) {
        (KeyType::Null, _) => Some(BroadcastKey::null()),
        (KeyType::None | KeyType::Reserved(_), _) => None,
        (advertised, Some(key)) if key.key_type() == advertised => Some(key.clone()),
        _ => None,
    }
}

fn check(field: &'static str, value: u32, max: u32) -> Result<(), BleError> {
    if value > max {
        return Err(BleError::OutOfRange { field, value, max });
    }
    Ok(())
}
