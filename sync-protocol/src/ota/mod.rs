//! Over-the-air updates: what decides whether a script may run on a POD.
//!
//! - [`criteria`]: deployment selection criteria (`app_tag:eq:2050`, `os_version:gteq:1.2.0`),
//!   normalised to the operator names coretools understands and matched against a POD's live
//!   tags and versions.
//! - [`release`]: release keys (ed25519, printed `rk--<hex>`) and detached release
//!   signatures over a script's bytes and its target (org, name, version), so a signature
//!   for one script never verifies for another.
//! - [`feed`]: what the cloud tells a gateway about the deployments its PODs may need.

pub mod criteria;
pub mod feed;
pub mod release;

pub use criteria::{Criteria, Criterion, CriterionError, LiveVersions};
pub use feed::{script_path, FeedDeployment, FeedScript, OtaFeed};
pub use release::{
    canonical_version, ReleaseError, ReleasePublicKey, ReleaseSecret, ReleaseSignature,
    ScriptTarget, RELEASE_SIGNING_TAG,
};
