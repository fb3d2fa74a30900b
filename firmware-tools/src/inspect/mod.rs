//! Views of reports and update scripts, for people (tables) and programs (JSON).
//!
//! JSON field names follow the golden-vector manifest (`shared/vectors/iotile/manifest.json`),
//! so a view can be compared field by field with the reference Python tools' answer.

pub mod report;
pub mod script;

use sha2::{Digest, Sha256};

/// What inspecting a file found, which decides the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Decoded, and verified where it can be.
    Good,
    /// Decoded, but a signature or hash does not verify (or cannot be checked).
    NotVerified,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
