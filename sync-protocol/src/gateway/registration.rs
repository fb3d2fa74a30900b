//! Registration: a gateway binds its public key to a site with a one-time code.
//!
//! The gateway posts a [`Registration`]; the proof is the new key's signature over the tag
//! [`REGISTRATION_TAG`], the code and the public key (length-prefixed like requests), so a
//! registration shows possession of the secret key and cannot be replayed with another code.
//! The cloud then checks the code itself (one use, not expired) and records the key.

use serde::{Deserialize, Serialize};

use super::key::{GatewayPublicKey, GatewaySecret};
use super::{hex_array, SyncAuthError};

/// The domain tag of a registration proof, distinct from request signatures.
pub const REGISTRATION_TAG: &str = "iotile-gateway-register-v1";
/// The longest one-time code accepted, in bytes.
pub const MAX_CODE_LEN: usize = 128;
/// The longest gateway name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// The body of a registration request (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The one-time code given to the installer.
    pub code: String,
    /// The gateway key id, `gw--…`.
    pub public_key: String,
    /// The signature of the new key over the code and key, 128 hex digits.
    pub proof: String,
    /// A human name for the gateway; not covered by the proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn proof_bytes(code: &str, key: &GatewayPublicKey) -> Vec<u8> {
    let mut out = Vec::new();
    for field in [
        REGISTRATION_TAG.as_bytes(),
        code.as_bytes(),
        &key.to_bytes(),
    ] {
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

impl Registration {
    /// The registration a gateway posts to bind `secret`'s public key with `code`.
    pub fn new(secret: &GatewaySecret, code: &str, name: Option<String>) -> Self {
        let key = secret.public();
        Registration {
            code: code.to_owned(),
            public_key: key.key_id(),
            proof: hex::encode(secret.sign(&proof_bytes(code, &key))),
            name,
        }
    }
}

/// Checks a registration's shape and proof; returns the key to record. The code's validity
/// (exists, unused, not expired) is the receiver's to check.
pub fn verify_registration(registration: &Registration) -> Result<GatewayPublicKey, SyncAuthError> {
    let code = &registration.code;
    if code.is_empty() || code.len() > MAX_CODE_LEN {
        return Err(SyncAuthError::malformed(
            "code",
            format!("must be 1 to {MAX_CODE_LEN} bytes"),
        ));
    }
    if let Some(name) = &registration.name {
        if name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
            return Err(SyncAuthError::malformed(
                "name",
                format!("must be at most {MAX_NAME_LEN} bytes without control characters"),
            ));
        }
    }
    let key = GatewayPublicKey::parse(&registration.public_key)
        .map_err(|e| SyncAuthError::malformed("public_key", e.to_string()))?;
    let proof: [u8; 64] = hex_array("proof", &registration.proof)?;
    if !key.verify(&proof_bytes(code, &key), &proof) {
        return Err(SyncAuthError::BadSignature);
    }
    Ok(key)
}
