//! Release keys and detached release signatures for update scripts.
//!
//! The `.trub` format carries no signature (spec 3.1), so a release signature travels beside
//! the script and leaves its bytes untouched: coretools' agent still runs the plain file.
//! The signature covers a canonical byte string: [`RELEASE_SIGNING_TAG`], then the target's
//! org slug, script name and version, then the SHA-256 of the script's bytes, each as a
//! 4-byte big-endian length and the bytes. A signature therefore verifies for one script of
//! one org under one name and version only: it cannot be replayed onto another script, nor
//! onto the same bytes released under another name or version.
//!
//! Verification is strict ed25519 and takes the keys the caller trusts now: a revoked key is
//! simply not among them.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Opens every signed message, so no other signature of ours verifies as a release.
pub const RELEASE_SIGNING_TAG: &str = "iotile-script-release-v1";
/// The prefix of a release key id.
pub const KEY_ID_PREFIX: &str = "rk--";

/// Why a key, a signature or a script is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("a release key id is rk-- and 64 hex digits, got {0:?}")]
    BadKeyId(String),
    #[error("a release secret is 64 hex digits")]
    BadSecret,
    #[error("the 32 bytes are not a valid ed25519 public key")]
    NotAPoint,
    #[error("the signature is not 128 hex digits")]
    BadSignatureText,
    #[error("signed by {0}, which is not a current release key of the org")]
    UnknownKey(String),
    #[error("the signature is for {signed}, not for {expected}")]
    WrongTarget { signed: String, expected: String },
    #[error("the script's bytes are not the ones that were signed")]
    ScriptChanged,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("a script version is v and 1 to 3 dotted numbers, got {0:?}")]
    BadVersion(String),
}

/// What a script is released as: org slug, script name and version (`v1.2.3`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScriptTarget {
    pub org: String,
    pub name: String,
    pub version: String,
}

impl ScriptTarget {
    /// The org slug in lower case, the name trimmed, the version as `vX.Y.Z`.
    pub fn new(org: &str, name: &str, version: &str) -> Result<ScriptTarget, ReleaseError> {
        Ok(ScriptTarget {
            org: org.trim().to_ascii_lowercase(),
            name: name.trim().to_string(),
            version: canonical_version(version)?,
        })
    }

    fn message(&self, script_sha256: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::new();
        for field in [
            RELEASE_SIGNING_TAG.as_bytes(),
            self.org.as_bytes(),
            self.name.as_bytes(),
            self.version.as_bytes(),
            script_sha256,
        ] {
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field);
        }
        out
    }
}

impl fmt::Display for ScriptTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} of {}", self.name, self.version, self.org)
    }
}

/// `1`, `1.2`, `v1.2.3` → `v1.0.0`, `v1.2.0`, `v1.2.3`.
pub fn canonical_version(text: &str) -> Result<String, ReleaseError> {
    let bad = || ReleaseError::BadVersion(text.to_string());
    let trimmed = text.trim();
    let body = trimmed.strip_prefix(['v', 'V']).unwrap_or(trimmed);
    let parts: Vec<u32> = body
        .split('.')
        .map(|p| p.parse::<u32>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    if parts.is_empty() || parts.len() > 3 {
        return Err(bad());
    }
    let at = |i: usize| parts.get(i).copied().unwrap_or(0);
    Ok(format!("v{}.{}.{}", at(0), at(1), at(2)))
}

/// A release secret. Wiped from memory when dropped; `Debug` shows only the public id.
#[derive(Clone)]
pub struct ReleaseSecret(SigningKey);

impl ReleaseSecret {
    pub fn from_bytes(bytes: &[u8; 32]) -> ReleaseSecret {
        ReleaseSecret(SigningKey::from_bytes(bytes))
    }

    /// From 64 hex digits (surrounding space allowed), as key files hold it.
    pub fn from_hex(text: &str) -> Result<ReleaseSecret, ReleaseError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| ReleaseError::BadSecret)?;
        Ok(ReleaseSecret::from_bytes(&bytes))
    }

    /// 64 hex digits, for the key file. The caller keeps them secret.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn public(&self) -> ReleasePublicKey {
        ReleasePublicKey(self.0.verifying_key())
    }

    /// Signs `script` as released under `target`.
    pub fn sign(&self, target: &ScriptTarget, script: &[u8]) -> ReleaseSignature {
        let sha256: [u8; 32] = Sha256::digest(script).into();
        let signature = self.0.sign(&target.message(&sha256));
        ReleaseSignature {
            key: self.public(),
            target: target.clone(),
            sha256: hex::encode(sha256),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

impl fmt::Debug for ReleaseSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReleaseSecret({})", self.public())
    }
}

/// A release public key; `Display` gives its id, `rk--<64 lowercase hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReleasePublicKey(VerifyingKey);

impl ReleasePublicKey {
    /// Parses a key id leniently: surrounding space, any case, with or without `rk--`.
    pub fn parse(input: &str) -> Result<ReleasePublicKey, ReleaseError> {
        let bad = || ReleaseError::BadKeyId(input.chars().take(80).collect());
        let trimmed = input.trim();
        let hex_part = match trimmed.get(..KEY_ID_PREFIX.len()) {
            Some(p) if p.eq_ignore_ascii_case(KEY_ID_PREFIX) => &trimmed[KEY_ID_PREFIX.len()..],
            _ => trimmed,
        };
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| bad())?;
        VerifyingKey::from_bytes(&bytes)
            .map(ReleasePublicKey)
            .map_err(|_| ReleaseError::NotAPoint)
    }

    pub fn key_id(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ReleasePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{KEY_ID_PREFIX}{}", hex::encode(self.0.to_bytes()))
    }
}

impl fmt::Debug for ReleasePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReleasePublicKey({self})")
    }
}

impl FromStr for ReleasePublicKey {
    type Err = ReleaseError;
    fn from_str(s: &str) -> Result<Self, ReleaseError> {
        Self::parse(s)
    }
}

impl Serialize for ReleasePublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReleasePublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A detached release signature, as stored beside the script (`.trub.sig`, JSON) and served
/// to gateways. It names its key and target so a refusal can say exactly why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSignature {
    pub key: ReleasePublicKey,
    pub target: ScriptTarget,
    /// SHA-256 of the script's bytes, 64 hex digits.
    pub sha256: String,
    /// The 64-byte ed25519 signature, 128 hex digits.
    pub signature: String,
}

impl ReleaseSignature {
    /// Checks, in order: the key is one of `trusted`; the signed target is `expected`; the
    /// script's bytes are the signed ones; the signature verifies (strictly) for them.
    pub fn verify(
        &self,
        script: &[u8],
        expected: &ScriptTarget,
        trusted: &[ReleasePublicKey],
    ) -> Result<(), ReleaseError> {
        if !trusted.contains(&self.key) {
            return Err(ReleaseError::UnknownKey(self.key.key_id()));
        }
        if &self.target != expected {
            return Err(ReleaseError::WrongTarget {
                signed: self.target.to_string(),
                expected: expected.to_string(),
            });
        }
        let sha256: [u8; 32] = Sha256::digest(script).into();
        if !self.sha256.eq_ignore_ascii_case(&hex::encode(sha256)) {
            return Err(ReleaseError::ScriptChanged);
        }
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(self.signature.trim(), &mut bytes)
            .map_err(|_| ReleaseError::BadSignatureText)?;
        let signature = Signature::from_bytes(&bytes);
        self.key
            .0
            .verify_strict(&expected.message(&sha256), &signature)
            .map_err(|_| ReleaseError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(version: &str) -> ScriptTarget {
        ScriptTarget::new("Arch-Systems", "water meter app", version).unwrap()
    }

    #[test]
    fn a_signature_verifies_for_its_script_and_target_only() {
        let secret = ReleaseSecret::from_bytes(&[7; 32]);
        let other = ReleaseSecret::from_bytes(&[8; 32]);
        let script = b"script bytes".to_vec();
        let signed = secret.sign(&target("1.2"), &script);
        let trusted = [other.public(), secret.public()];
        assert_eq!(signed.verify(&script, &target("v1.2.0"), &trusted), Ok(()));

        let unknown = signed.verify(&script, &target("1.2"), &[other.public()]);
        assert!(matches!(unknown, Err(ReleaseError::UnknownKey(_))));
        let replayed = signed.verify(&script, &target("1.3"), &trusted);
        assert!(matches!(replayed, Err(ReleaseError::WrongTarget { .. })));
        let tampered = signed.verify(b"script bytez", &target("1.2"), &trusted);
        assert_eq!(tampered, Err(ReleaseError::ScriptChanged));

        // A signature whose target was edited to fit another release does not verify.
        let mut moved = signed.clone();
        moved.target = target("1.3");
        assert_eq!(
            moved.verify(&script, &target("1.3"), &trusted),
            Err(ReleaseError::BadSignature)
        );
        let mut forged = signed;
        forged.signature = hex::encode([1u8; 64]);
        assert_eq!(
            forged.verify(&script, &target("1.2"), &trusted),
            Err(ReleaseError::BadSignature)
        );
    }

    #[test]
    fn keys_and_versions_read_leniently_and_print_canonically() {
        let secret = ReleaseSecret::from_hex(&format!(" {} \n", "ab".repeat(32))).unwrap();
        let id = secret.public().key_id();
        assert!(id.starts_with("rk--") && id.len() == 68);
        assert_eq!(
            ReleasePublicKey::parse(&id.to_uppercase()),
            Ok(secret.public())
        );
        assert_eq!(ReleasePublicKey::parse(&id[4..]), Ok(secret.public()));
        assert!(ReleasePublicKey::parse("rk--12").is_err());
        assert_eq!(canonical_version("2").unwrap(), "v2.0.0");
        assert_eq!(canonical_version("V1.2.3").unwrap(), "v1.2.3");
        assert!(canonical_version("1.2.3.4").is_err());
        assert!(canonical_version("one").is_err());
        assert!(format!("{secret:?}").contains(&id));
    }

    #[test]
    fn a_signature_round_trips_through_json() {
        let secret = ReleaseSecret::from_bytes(&[9; 32]);
        let signed = secret.sign(&target("1.0"), b"x");
        let text = serde_json::to_string(&signed).unwrap();
        let back: ReleaseSignature = serde_json::from_str(&text).unwrap();
        assert_eq!(back, signed);
        assert_eq!(
            back.verify(b"x", &target("1.0"), &[secret.public()]),
            Ok(())
        );
    }
}
