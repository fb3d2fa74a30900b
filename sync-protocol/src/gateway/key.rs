//! The gateway's ed25519 key pair and its printable id.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// The prefix of a gateway key id.
pub const KEY_ID_PREFIX: &str = "gw--";

/// Why bytes or text are not a gateway key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a gateway key id is gw-- and 64 hex digits, got {0:?}")]
    BadId(String),
    #[error("a secret key is 32 bytes, got {0}")]
    BadSecretLength(usize),
    #[error("the 32 bytes are not a valid ed25519 public key")]
    NotAPoint,
}

/// A gateway's secret key. Its bytes are wiped from memory when it is dropped, and its
/// `Debug` shows only the public id.
#[derive(Clone)]
pub struct GatewaySecret(SigningKey);

impl GatewaySecret {
    /// The length of a stored secret key.
    pub const LEN: usize = 32;

    /// A secret key from 32 bytes: stored bytes, or fresh randomness from the caller.
    pub fn from_bytes(bytes: &[u8; Self::LEN]) -> Self {
        GatewaySecret(SigningKey::from_bytes(bytes))
    }

    /// A secret key from stored bytes of unchecked length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: &[u8; Self::LEN] = bytes
            .try_into()
            .map_err(|_| KeyError::BadSecretLength(bytes.len()))?;
        Ok(Self::from_bytes(array))
    }

    /// The 32 bytes to store. The caller keeps them secret.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        self.0.to_bytes()
    }

    pub fn public(&self) -> GatewayPublicKey {
        GatewayPublicKey(self.0.verifying_key())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for GatewaySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GatewaySecret({})", self.public())
    }
}

/// A gateway's public key. `Display` gives the canonical key id `gw--<hex>`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GatewayPublicKey(VerifyingKey);

impl GatewayPublicKey {
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: &[u8; Self::LEN]) -> Result<Self, KeyError> {
        VerifyingKey::from_bytes(bytes)
            .map(GatewayPublicKey)
            .map_err(|_| KeyError::NotAPoint)
    }

    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        self.0.to_bytes()
    }

    /// The canonical key id, `gw--` and 64 lowercase hex digits.
    pub fn key_id(&self) -> String {
        self.to_string()
    }

    /// Parses a key id leniently: surrounding space, any case, with or without `gw--`.
    pub fn parse(input: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::BadId(input.chars().take(80).collect());
        let trimmed = input.trim();
        let hex_part = match trimmed.get(..KEY_ID_PREFIX.len()) {
            Some(p) if p.eq_ignore_ascii_case(KEY_ID_PREFIX) => &trimmed[KEY_ID_PREFIX.len()..],
            _ => trimmed,
        };
        if hex_part.len() != 2 * Self::LEN {
            return Err(bad());
        }
        let mut bytes = [0u8; Self::LEN];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| bad())?;
        Self::from_bytes(&bytes)
    }

    /// Strict verification: refuses the malleable and small-order forms a forger could use.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = Signature::from_bytes(signature);
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Display for GatewayPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{KEY_ID_PREFIX}{}", hex::encode(self.to_bytes()))
    }
}

impl fmt::Debug for GatewayPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GatewayPublicKey({self})")
    }
}

impl FromStr for GatewayPublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::parse(s)
    }
}

impl serde::Serialize for GatewayPublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for GatewayPublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}
