//! Report signatures and reading-area encryption, as IOTile devices and coretools do them.
//!
//! - Hash only (flags 0): `signature = SHA-256(signed bytes)[..16]`.
//! - User or device key (flags 1, 2): `K = HMAC-SHA256(root, 2 ‖ report_id ‖ sent_timestamp)`
//!   (u32 LE each), `signature = HMAC-SHA256(K, SHA-256(signed bytes))[..16]`, and the reading
//!   area is encrypted with AES-128-CTR under `K[..16]`, a big-endian counter starting at 1.

use std::fmt;

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;
/// The counter is a 128-bit big-endian integer starting at 1. A report holds under 2^20
/// blocks, so the low 32 bits never wrap and a 32-bit counter gives the same keystream.
type Aes128Ctr = ctr::Ctr32BE<aes::Aes128>;

/// Byte 16 of a signed-list report: who signed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureFlags {
    /// SHA-256 only: integrity, no origin authentication.
    Hash = 0,
    /// HMAC with the device's user key; readings encrypted.
    UserKey = 1,
    /// HMAC with the device key; readings encrypted.
    DeviceKey = 2,
}

impl SignatureFlags {
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(SignatureFlags::Hash),
            1 => Some(SignatureFlags::UserKey),
            2 => Some(SignatureFlags::DeviceKey),
            _ => None,
        }
    }

    pub fn byte(self) -> u8 {
        self as u8
    }

    /// Whether the reading area is encrypted under this scheme.
    pub fn encrypted(self) -> bool {
        self != SignatureFlags::Hash
    }
}

/// A device's 32-byte root key (user key or device key). Never printed.
#[derive(Clone)]
pub struct RootKey {
    bytes: [u8; 32],
    /// HMAC keyed with the root key, so each report's derivation starts from the padded key.
    mac: HmacSha256,
}

impl PartialEq for RootKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for RootKey {}

/// A root key given as text that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a root key is 64 hex digits (32 bytes); got {0} characters")]
pub struct RootKeyError(pub usize);

impl RootKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        RootKey {
            mac: new_mac(&bytes),
            bytes,
        }
    }

    /// Parses 64 hex digits, as in coretools' `USER_KEY_<uuid>` variables.
    pub fn from_hex(text: &str) -> Result<Self, RootKeyError> {
        let text = text.trim();
        let bad = || RootKeyError(text.chars().count());
        if text.len() != 64 || !text.is_ascii() {
            return Err(bad());
        }
        let mut key = [0u8; 32];
        for (byte, pair) in key.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(RootKey::new(key))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The per-report key `HMAC-SHA256(root, 2 ‖ report_id ‖ sent_timestamp)`.
    pub fn report_key(&self, report_id: u32, sent_timestamp: u32) -> ReportKey {
        let mut mac = self.mac.clone();
        mac.update(&2u32.to_le_bytes());
        mac.update(&report_id.to_le_bytes());
        mac.update(&sent_timestamp.to_le_bytes());
        ReportKey(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(..)")
    }
}

/// The key derived for one report from a root key.
#[derive(Clone)]
pub struct ReportKey([u8; 32]);

impl ReportKey {
    /// `HMAC-SHA256(K, digest)`: the full signature before truncation.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> [u8; 32] {
        let mut mac = new_mac(&self.0);
        mac.update(digest);
        mac.finalize().into_bytes().into()
    }

    /// Encrypts or decrypts a reading area in place (CTR mode is its own inverse).
    pub fn apply_keystream(&self, area: &mut [u8]) {
        self.cipher().apply_keystream(area);
    }

    /// Decrypts `area` into `out` through a small buffer, so a large area needs no copy.
    pub(crate) fn decrypt_chunks(&self, area: &[u8], mut out: impl FnMut(&[u8])) {
        const CHUNK: usize = 1024;
        let mut cipher = self.cipher();
        let mut buffer = [0u8; CHUNK];
        for piece in area.chunks(CHUNK) {
            let plain = &mut buffer[..piece.len()];
            // Both slices have the same length, the only way this can fail.
            if cipher.apply_keystream_b2b(piece, plain).is_ok() {
                out(plain);
            }
        }
    }

    fn cipher(&self) -> Aes128Ctr {
        let mut key = [0u8; 16];
        key.copy_from_slice(&self.0[..16]);
        Aes128Ctr::new(&key.into(), &1u128.to_be_bytes().into())
    }
}

impl fmt::Debug for ReportKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReportKey(..)")
    }
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    match <HmacSha256 as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts every key length"),
    }
}

/// SHA-256 over the concatenation of `parts` (the signed bytes of a report, in pieces).
pub fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_key_parses_hex_and_hides_itself() {
        let hex = "ac1de4832c8ba4a07ce457c1b51ff995057ae53562a1d5f32c65b73a193f55f9";
        let key = RootKey::from_hex(hex).expect("valid key");
        assert_eq!(key.as_bytes()[0], 0xAC);
        assert_eq!(format!("{key:?}"), "RootKey(..)");
        assert!(RootKey::from_hex("abcd").is_err());
        assert!(RootKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(RootKey::from_hex(&"é".repeat(32)).is_err());
    }

    #[test]
    fn keystream_is_its_own_inverse() {
        let key = RootKey::new([7; 32]).report_key(10, 20);
        let plain = *b"0123456789abcdef0123456789abcdef";
        let mut data = plain;
        key.apply_keystream(&mut data);
        assert_ne!(data, plain);
        key.apply_keystream(&mut data);
        assert_eq!(data, plain);
    }
}
