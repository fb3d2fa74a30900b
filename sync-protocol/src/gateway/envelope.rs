//! The signed request envelope: what is signed, and how it travels as HTTP headers.

use sha2::{Digest, Sha256};

use super::key::{GatewayPublicKey, GatewaySecret};
use super::{
    hex_array, SyncAuthError, HEADER_CONTENT_SHA256, HEADER_GATEWAY, HEADER_NONCE,
    HEADER_SIGNATURE, HEADER_TIMESTAMP, SIGNING_TAG,
};

/// Header values longer than this are refused before any parsing.
pub const MAX_HEADER_VALUE_LEN: usize = 256;

/// The authentication headers of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The key id as presented (parsed, so always canonical once printed).
    pub key: GatewayPublicKey,
    /// Unix seconds.
    pub timestamp: u64,
    pub nonce: [u8; 16],
    pub body_sha256: [u8; 32],
    pub signature: [u8; 64],
}

/// What a verified request proves: who sent it, when, and its nonce for replay checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub key: GatewayPublicKey,
    pub timestamp: u64,
    pub nonce: [u8; 16],
}

impl SignedHeaders {
    /// The headers as (name, value) pairs, ready to attach to a request.
    pub fn to_pairs(&self) -> [(&'static str, String); 5] {
        [
            (HEADER_GATEWAY, self.key.key_id()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_NONCE, hex::encode(self.nonce)),
            (HEADER_CONTENT_SHA256, hex::encode(self.body_sha256)),
            (HEADER_SIGNATURE, hex::encode(self.signature)),
        ]
    }

    /// Parses the headers found by `lookup` (which is given each header name and should
    /// match it case-insensitively, as HTTP does).
    pub fn from_lookup<'a>(
        lookup: impl Fn(&'static str) -> Option<&'a str>,
    ) -> Result<Self, SyncAuthError> {
        let get = |name| lookup(name).ok_or(SyncAuthError::MissingHeader(name));
        Self::from_values(
            get(HEADER_GATEWAY)?,
            get(HEADER_TIMESTAMP)?,
            get(HEADER_NONCE)?,
            get(HEADER_CONTENT_SHA256)?,
            get(HEADER_SIGNATURE)?,
        )
    }

    /// Parses the five header values. Any value may be arbitrary text: a malformed one is
    /// an error naming the header, never a panic.
    pub fn from_values(
        gateway: &str,
        timestamp: &str,
        nonce: &str,
        body_sha256: &str,
        signature: &str,
    ) -> Result<Self, SyncAuthError> {
        for (name, value) in [
            (HEADER_GATEWAY, gateway),
            (HEADER_TIMESTAMP, timestamp),
            (HEADER_NONCE, nonce),
            (HEADER_CONTENT_SHA256, body_sha256),
            (HEADER_SIGNATURE, signature),
        ] {
            if value.len() > MAX_HEADER_VALUE_LEN {
                return Err(SyncAuthError::malformed(name, "value too long"));
            }
        }
        let key = GatewayPublicKey::parse(gateway)
            .map_err(|e| SyncAuthError::malformed(HEADER_GATEWAY, e.to_string()))?;
        let ts = timestamp.trim();
        if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SyncAuthError::malformed(
                HEADER_TIMESTAMP,
                "expected unix seconds in decimal digits",
            ));
        }
        let timestamp = ts
            .parse::<u64>()
            .map_err(|e| SyncAuthError::malformed(HEADER_TIMESTAMP, e.to_string()))?;
        Ok(SignedHeaders {
            key,
            timestamp,
            nonce: hex_array(HEADER_NONCE, nonce)?,
            body_sha256: hex_array(HEADER_CONTENT_SHA256, body_sha256)?,
            signature: hex_array(HEADER_SIGNATURE, signature)?,
        })
    }
}

/// The canonical bytes a request signature covers (see the module documentation).
pub fn signing_bytes(
    key: &GatewayPublicKey,
    method: &str,
    path_and_query: &str,
    timestamp: u64,
    nonce: &[u8; 16],
    body_sha256: &[u8; 32],
) -> Vec<u8> {
    let timestamp = timestamp.to_string();
    let key_id = key.key_id();
    let fields: [&[u8]; 7] = [
        SIGNING_TAG.as_bytes(),
        method.as_bytes(),
        path_and_query.as_bytes(),
        timestamp.as_bytes(),
        nonce,
        body_sha256,
        key_id.as_bytes(),
    ];
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.len() + 4).sum());
    for field in fields {
        // Fields longer than 4 GiB cannot be HTTP request lines; saturating keeps this total.
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

/// Signs a request. `method` is sent as given (HTTP methods are case-sensitive), `path` is
/// the path with its query exactly as it goes on the request line, `timestamp` is unix
/// seconds and `nonce` must be fresh randomness for every request.
pub fn sign(
    secret: &GatewaySecret,
    method: &str,
    path: &str,
    body: &[u8],
    timestamp: u64,
    nonce: [u8; 16],
) -> SignedHeaders {
    let key = secret.public();
    let body_sha256: [u8; 32] = Sha256::digest(body).into();
    let message = signing_bytes(&key, method, path, timestamp, &nonce, &body_sha256);
    SignedHeaders {
        key,
        timestamp,
        nonce,
        body_sha256,
        signature: secret.sign(&message),
    }
}

/// Verifies a request against the key the receiver has on record for this gateway.
/// The timestamp is accepted when `now - max_skew <= timestamp <= now + max_skew`.
/// The receiver must still refuse a nonce it has seen within the window.
pub fn verify(
    headers: &SignedHeaders,
    public_key: &GatewayPublicKey,
    method: &str,
    path: &str,
    body: &[u8],
    now: u64,
    max_skew: u64,
) -> Result<Verified, SyncAuthError> {
    if headers.key != *public_key {
        return Err(SyncAuthError::WrongKey {
            presented: headers.key.key_id(),
            expected: public_key.key_id(),
        });
    }
    let ts = headers.timestamp;
    if ts < now.saturating_sub(max_skew) {
        return Err(SyncAuthError::Stale {
            timestamp: ts,
            now,
            max_skew,
        });
    }
    if ts > now.saturating_add(max_skew) {
        return Err(SyncAuthError::Future {
            timestamp: ts,
            now,
            max_skew,
        });
    }
    let body_sha256: [u8; 32] = Sha256::digest(body).into();
    if body_sha256 != headers.body_sha256 {
        return Err(SyncAuthError::BodyHashMismatch);
    }
    let message = signing_bytes(public_key, method, path, ts, &headers.nonce, &body_sha256);
    if !public_key.verify(&message, &headers.signature) {
        return Err(SyncAuthError::BadSignature);
    }
    Ok(Verified {
        key: *public_key,
        timestamp: ts,
        nonce: headers.nonce,
    })
}
