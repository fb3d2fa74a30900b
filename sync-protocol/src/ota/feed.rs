//! The OTA feed: what the cloud tells a gateway about the deployments its PODs may need
//! (`GET /api/v1/gateway/ota/`, a signed request answered with an ETag, so an idle gateway
//! that asks with `If-None-Match` gets an empty 304).
//!
//! The cloud lists each released deployment of the gateway's org that is neither complete
//! nor halted, with the devices it may update now (targeted, in an open wave, not yet
//! confirmed). The gateway still checks each deployment's criteria against the POD's live
//! versions, and the script's release signature against the keys listed here (or the keys
//! pinned in its own configuration) before the first RPC.

use serde::{Deserialize, Serialize};

use super::release::{ReleasePublicKey, ReleaseSignature, ScriptTarget};

/// The path of the feed, with the final slash the API uses.
pub const FEED_PATH: &str = "/api/v1/gateway/ota/";

/// The path a gateway downloads a script's bytes from (signed request).
pub fn script_path(slug: &str) -> String {
    format!("/api/v1/gateway/ota/script/{slug}/")
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OtaFeed {
    /// The org's current release keys; revoked keys are not listed.
    pub release_keys: Vec<ReleasePublicKey>,
    /// The org lets unsigned scripts be released (off unless an admin turned it on).
    pub allow_unsigned: bool,
    /// Oldest release first: a POD takes the first one whose criteria it meets.
    pub deployments: Vec<FeedDeployment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedDeployment {
    pub id: i64,
    pub script: FeedScript,
    /// Normalised criteria (`app_version:gteq:1.2.0`), all of which must hold.
    pub selection_criteria: Vec<String>,
    /// RFC 3339.
    pub released_on: String,
    /// Numeric ids of the devices this deployment may update now.
    pub devices: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedScript {
    /// `z--0000-0001`.
    pub slug: String,
    pub target: ScriptTarget,
    pub size: u64,
    /// SHA-256 of the file, 64 hex digits.
    pub sha256: String,
    /// `None` only when the org allows unsigned scripts.
    pub signature: Option<ReleaseSignature>,
}
