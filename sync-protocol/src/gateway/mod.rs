//! Gateway⇄cloud sync messages, authenticated with the gateway's ed25519 key.
//!
//! - [`key`]: the gateway's key pair; its public key travels as a printable id
//!   `gw--<64 lowercase hex>`, parsed leniently (any case, surrounding space, prefix optional).
//! - [`envelope`]: every HTTP request a gateway makes is signed. The signature covers a
//!   canonical byte string: the tag [`SIGNING_TAG`], then the HTTP method, the path with
//!   query, the timestamp (unix seconds, decimal), the 16-byte nonce, the SHA-256 of the body
//!   and the gateway key id, each as a 4-byte big-endian length and the bytes, so no field can
//!   bleed into the next. The pieces travel in the `X-Iotile-*` headers named by the `HEADER_*`
//!   constants, all hex except the key id and the decimal timestamp.
//! - [`registration`]: how a gateway binds its public key to a site with a one-time code.
//! - [`batch`]: the body of an upload of raw reports and the cloud's answer.
//! - [`backlog`]: what the gateway still holds, told with each batch.
//!
//! Pure code: callers pass in keys, time and randomness (the nonce). Replay detection is the
//! receiver's: it must remember each key's nonces for at least the skew window it accepts
//! (`2 × max_skew`, since a timestamp may be early or late by `max_skew`) and refuse a
//! nonce seen twice; after the window the timestamp check refuses the request anyway.

pub mod backlog;
pub mod batch;
pub mod envelope;
pub mod key;
pub mod registration;

#[cfg(test)]
mod tests;

pub use backlog::Backlog;
pub use batch::{BatchError, BatchReport, ReportOutcome, StreamerProgress, SyncAnswer, SyncBatch};
pub use envelope::{sign, verify, SignedHeaders, Verified};
pub use key::{GatewayPublicKey, GatewaySecret, KeyError};
pub use registration::{verify_registration, Registration};

/// The domain tag that opens every signed request: a signature for anything else (another
/// protocol, another version) can never verify as a request.
pub const SIGNING_TAG: &str = "iotile-gateway-sync-v1";
/// The header with the gateway key id (`gw--…`).
pub const HEADER_GATEWAY: &str = "X-Iotile-Gateway";
/// The header with the request time, unix seconds in decimal.
pub const HEADER_TIMESTAMP: &str = "X-Iotile-Timestamp";
/// The header with the 16-byte nonce, 32 hex digits.
pub const HEADER_NONCE: &str = "X-Iotile-Nonce";
/// The header with the SHA-256 of the body, 64 hex digits.
pub const HEADER_CONTENT_SHA256: &str = "X-Iotile-Content-Sha256";
/// The header with the 64-byte ed25519 signature, 128 hex digits.
pub const HEADER_SIGNATURE: &str = "X-Iotile-Signature";

/// Why a signed request or a registration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncAuthError {
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("{field} is malformed: {reason}")]
    Malformed { field: &'static str, reason: String },
    #[error("the request is signed by {presented}, not by the expected gateway {expected}")]
    WrongKey { presented: String, expected: String },
    #[error("the body does not match its SHA-256 header")]
    BodyHashMismatch,
    #[error("timestamp {timestamp} is older than now ({now}) minus {max_skew} s")]
    Stale {
        timestamp: u64,
        now: u64,
        max_skew: u64,
    },
    #[error("timestamp {timestamp} is later than now ({now}) plus {max_skew} s")]
    Future {
        timestamp: u64,
        now: u64,
        max_skew: u64,
    },
    #[error("the signature does not verify")]
    BadSignature,
}

impl SyncAuthError {
    pub(crate) fn malformed(field: &'static str, reason: impl Into<String>) -> Self {
        SyncAuthError::Malformed {
            field,
            reason: reason.into(),
        }
    }
}

/// Decodes exactly `N` bytes of hex (any case), refusing anything else without panicking.
pub(crate) fn hex_array<const N: usize>(
    field: &'static str,
    value: &str,
) -> Result<[u8; N], SyncAuthError> {
    let value = value.trim();
    if value.len() != 2 * N {
        return Err(SyncAuthError::malformed(
            field,
            format!("expected {} hex digits, got {}", 2 * N, value.len()),
        ));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(value, &mut out)
        .map_err(|e| SyncAuthError::malformed(field, e.to_string()))?;
    Ok(out)
}
