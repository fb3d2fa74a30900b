//! Whether a device script may be released, and the exact reason when not.
//!
//! A release signature binds a script's bytes to its target (org slug, name, version) under
//! one of the org's release keys (`sync_protocol::ota::release`). It is checked twice: when
//! it is posted, and again when the script is released, against the org's keys as they are
//! then; a key revoked in between refuses the release. A script with no signature may be
//! released only when its org allows unsigned scripts; a signature that does not verify is
//! refused whatever the org allows, since it says someone meant to sign other bytes.
//!
//! Each refusal has a stable `reason` code for clients and a sentence for people.

use sync_protocol::ota::release::{ReleaseError, ReleaseSignature, ScriptTarget};

use crate::store::ota_scripts::DeviceScript;
use crate::store::release_keys::Trust;
use crate::time;

/// Why a signature or a release was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the script has no file; upload one first")]
    NoFile,
    #[error("the script's stored bytes are not the ones uploaded")]
    StoredFileAltered,
    #[error("the script has no release signature and its org requires one")]
    Unsigned,
    #[error("signed by {key}, which was revoked on {}", time::format(*revoked_on))]
    RevokedKey { key: String, revoked_on: i64 },
    #[error("{0}")]
    Signature(ReleaseError),
}

impl Refusal {
    /// A stable code for the reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::NoFile => "no_file",
            Refusal::StoredFileAltered => "script_changed",
            Refusal::Unsigned => "unsigned",
            Refusal::RevokedKey { .. } => "revoked_key",
            Refusal::Signature(e) => match e {
                ReleaseError::UnknownKey(_) => "unknown_key",
                ReleaseError::WrongTarget { .. } => "wrong_target",
                ReleaseError::ScriptChanged => "script_changed",
                ReleaseError::BadSignature => "bad_signature",
                ReleaseError::BadSignatureText => "bad_signature_text",
                ReleaseError::BadKeyId(_) | ReleaseError::NotAPoint => "bad_key",
                ReleaseError::BadSecret | ReleaseError::BadVersion(_) => "bad_signature",
            },
        }
    }
}

/// Checks `signature` over `bytes` for `target` against the org's current keys; a key the
/// org revoked is named as revoked rather than unknown.
pub fn check_signature(
    signature: &ReleaseSignature,
    bytes: &[u8],
    target: &ScriptTarget,
    trust: &Trust,
) -> Result<(), Refusal> {
    match signature.verify(bytes, target, &trust.keys) {
        Ok(()) => Ok(()),
        Err(ReleaseError::UnknownKey(key)) => match trust.revoked_on(&signature.key) {
            Some(revoked_on) => Err(Refusal::RevokedKey { key, revoked_on }),
            None => Err(Refusal::Signature(ReleaseError::UnknownKey(key))),
        },
        Err(e) => Err(Refusal::Signature(e)),
    }
}

/// Whether `script`, whose file holds `bytes` (`None`: no file), may be released now.
pub fn check_release(
    script: &DeviceScript,
    bytes: Option<&[u8]>,
    trust: &Trust,
) -> Result<(), Refusal> {
    let bytes = bytes.ok_or(Refusal::NoFile)?;
    let target = script.target().map_err(Refusal::Signature)?;
    match (script.signature(), &script.signature_json) {
        (Some(signature), _) => check_signature(&signature, bytes, &target, trust),
        // Stored but unreadable: never taken for "unsigned".
        (None, Some(_)) => Err(Refusal::Signature(ReleaseError::BadSignatureText)),
        (None, None) if trust.allow_unsigned => Ok(()),
        (None, None) => Err(Refusal::Unsigned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_protocol::ota::release::ReleaseSecret;

    fn script(signature: Option<&ReleaseSignature>) -> DeviceScript {
        DeviceScript {
            id: 1,
            slug: "z--0000-0001".into(),
            org_id: "o".into(),
            org_slug: "acme".into(),
            org_is_vendor: false,
            name: "app".into(),
            major: 1,
            minor: 2,
            patch: 0,
            released: false,
            released_on: None,
            file: None,
            signature_json: signature.map(|s| serde_json::to_string(s).unwrap()),
            created_on: 0,
            created_by: None,
        }
    }

    #[test]
    fn each_refusal_has_its_reason() {
        let secret = ReleaseSecret::from_bytes(&[3; 32]);
        let target = ScriptTarget::new("acme", "app", "1.2").unwrap();
        let good = secret.sign(&target, b"bytes");
        let mut trust = Trust {
            keys: vec![secret.public()],
            ..Trust::default()
        };
        let signed = script(Some(&good));
        assert_eq!(check_release(&signed, Some(b"bytes"), &trust), Ok(()));
        let reason = |r: Result<(), Refusal>| r.unwrap_err().reason();
        assert_eq!(reason(check_release(&signed, None, &trust)), "no_file");
        assert_eq!(
            reason(check_release(&signed, Some(b"other"), &trust)),
            "script_changed"
        );
        let other = secret.sign(&ScriptTarget::new("acme", "app", "1.3").unwrap(), b"bytes");
        assert_eq!(
            reason(check_release(&script(Some(&other)), Some(b"bytes"), &trust)),
            "wrong_target"
        );
        assert_eq!(
            reason(check_release(&script(None), Some(b"bytes"), &trust)),
            "unsigned"
        );
        trust.allow_unsigned = true;
        assert_eq!(check_release(&script(None), Some(b"bytes"), &trust), Ok(()));
        // A bad signature is refused even where unsigned scripts are allowed.
        trust.revoked = vec![(secret.public(), 0)];
        trust.keys.clear();
        let refusal = check_release(&signed, Some(b"bytes"), &trust).unwrap_err();
        assert_eq!(refusal.reason(), "revoked_key");
        assert!(refusal.to_string().contains("revoked on 1970-01-01"));
        trust.revoked.clear();
        assert_eq!(
            reason(check_release(&signed, Some(b"bytes"), &trust)),
            "unknown_key"
        );
    }
}
