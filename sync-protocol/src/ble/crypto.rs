//! Keys and AES-CCM for v2 broadcasts.
//!
//! ```text
//! reboot key = HMAC-SHA256(root, u32 0 ‖ u32 reboot count)[0..16]
//! ephemeral  = AES-128-ECB(reboot key, u32 (current time & !0x3F) ‖ 12 zero bytes)
//! nonce      = u32 uuid ‖ u32 current time ‖ u16 reboot low ‖ u8 reboot high ‖ u8 broadcast info ‖ 00
//! ```
//!
//! The ephemeral key changes every 64 s of device time, so a captured key opens little.

use std::fmt;

use aes::cipher::BlockEncrypt;
use ccm::aead::AeadInPlace;
use ccm::consts::{U13, U4};
use ccm::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::KeyType;
use crate::auth::RootKey;

type Aes128Ccm = ccm::Ccm<aes::Aes128, U4, U13>;

/// log2 of the ephemeral key's lifetime in seconds.
pub const EPHEMERAL_KEY_CYCLE_POWER: u32 = 6;
/// Length of the CCM tag at the end of a v2 advertisement.
pub const TAG_LEN: usize = 4;
/// Length of the CCM nonce.
pub const NONCE_LEN: usize = 13;

/// The key material for one broadcast key type: a root key and which root it is.
///
/// The null key's root is 16 zero bytes; it is stored as 32 zero bytes, which is the same
/// HMAC key (HMAC pads short keys with zeros).
#[derive(Clone, PartialEq, Eq)]
pub struct BroadcastKey {
    key_type: KeyType,
    root: [u8; 32],
}

impl BroadcastKey {
    /// The public null key: broadcasts are authenticated against accidents, not secret.
    pub fn null() -> Self {
        BroadcastKey {
            key_type: KeyType::Null,
            root: [0; 32],
        }
    }

    /// The device's user key.
    pub fn user(root: &RootKey) -> Self {
        BroadcastKey {
            key_type: KeyType::User,
            root: *root.as_bytes(),
        }
    }

    /// The device key (no coretools provider supplies one; only the derivation is defined).
    pub fn device(root: &RootKey) -> Self {
        BroadcastKey {
            key_type: KeyType::Device,
            root: *root.as_bytes(),
        }
    }

    /// A password-based user key, whose root the caller derived
    /// (coretools: PBKDF2-HMAC-SHA256(password, "salt", 100 000)).
    pub fn password(root: &RootKey) -> Self {
        BroadcastKey {
            key_type: KeyType::Password,
            root: *root.as_bytes(),
        }
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// `HMAC-SHA256(root, u32 0 ‖ u32 reboot_count)[0..16]`.
    pub fn reboot_key(&self, reboot_count: u32) -> [u8; 16] {
        // HMAC accepts keys of any length, so this cannot fail.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.root) else {
            return [0; 16];
        };
        mac.update(&0u32.to_le_bytes());
        mac.update(&reboot_count.to_le_bytes());
        let digest = mac.finalize().into_bytes();
        let mut key = [0u8; 16];
        key.iter_mut().zip(digest.iter()).for_each(|(k, d)| *k = *d);
        key
    }

    /// The key that encrypts broadcasts sent at `current_time` after reboot `reboot_count`.
    pub fn ephemeral_key(&self, reboot_count: u32, current_time: u32) -> [u8; 16] {
        let reboot_key = self.reboot_key(reboot_count);
        let cipher = aes::Aes128::new(&reboot_key.into());
        let mask = (1u32 << EPHEMERAL_KEY_CYCLE_POWER) - 1;
        let mut block = [0u8; 16];
        block[..4].copy_from_slice(&(current_time & !mask).to_le_bytes());
        let mut block = block.into();
        cipher.encrypt_block(&mut block);
        block.into()
    }
}

impl fmt::Debug for BroadcastKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BroadcastKey({:?}, ..)", self.key_type)
    }
}

/// Encrypts `body` in place and returns the tag; `None` only if CCM refuses the lengths,
/// which a 6-byte body and 14-byte AAD never make it do.
pub(super) fn seal(
    key: &[u8; 16],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    body: &mut [u8],
) -> Option<[u8; TAG_LEN]> {
    let cipher = Aes128Ccm::new(key.into());
    let tag = cipher
        .encrypt_in_place_detached(nonce.into(), aad, body)
        .ok()?;
    Some(tag.into())
}

/// Decrypts `body` in place if the tag verifies; on failure `body` is left unchanged.
pub(super) fn open(
    key: &[u8; 16],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    body: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> bool {
    let cipher = Aes128Ccm::new(key.into());
    cipher
        .decrypt_in_place_detached(nonce.into(), aad, body, tag.into())
        .is_ok()
}
