//! Which deployment a POD takes, and whether its script may run at all. Pure code.
//!
//! A POD takes the oldest released deployment that lists it and whose criteria its live
//! versions meet (coretools' `OtaUpdater` rule). A script runs only if its bytes hash to
//! what the feed promised and its release signature verifies against the org's current
//! keys; when the gateway's configuration pins keys, only those count, and an unsigned
//! script is never run, whatever the cloud's policy says.

use sha2::{Digest, Sha256};
use sync_protocol::ids::DeviceId;
use sync_protocol::ota::{Criteria, FeedDeployment, LiveVersions, OtaFeed, ReleasePublicKey};
use sync_protocol::script::{Record, UpdateScript};
use sync_protocol::version::TagVersion;

/// Why a script is refused before any RPC. The text goes into the action's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the script's bytes do not hash to the SHA-256 the cloud announced")]
    HashMismatch,
    #[error("the script is unsigned and unsigned scripts are not allowed")]
    Unsigned,
    #[error("release signature refused: {0}")]
    Signature(#[from] sync_protocol::ota::ReleaseError),
    #[error("not an update script: {0}")]
    NotAScript(String),
    #[error("selection criteria unreadable: {0}")]
    Criteria(String),
}

/// The deployments that list `device`, oldest release first (the feed's order).
pub fn candidates(feed: &OtaFeed, device: DeviceId) -> Vec<&FeedDeployment> {
    feed.deployments
        .iter()
        .filter(|d| d.devices.contains(&device.get()))
        .collect()
}

/// Whether the POD's live versions meet the deployment's criteria.
pub fn applies(deployment: &FeedDeployment, live: &LiveVersions) -> Result<bool, Refusal> {
    let criteria = Criteria::parse(&deployment.selection_criteria)
        .map_err(|e| Refusal::Criteria(e.to_string()))?;
    Ok(criteria.holds(live))
}

/// Checks the bytes against the feed's hash and signature, and parses them.
pub fn verify(
    feed: &OtaFeed,
    deployment: &FeedDeployment,
    bytes: &[u8],
    pinned: &[ReleasePublicKey],
) -> Result<UpdateScript, Refusal> {
    let script = &deployment.script;
    if !hex::encode(Sha256::digest(bytes)).eq_ignore_ascii_case(&script.sha256) {
        return Err(Refusal::HashMismatch);
    }
    match &script.signature {
        Some(signature) => {
            let trusted: Vec<ReleasePublicKey> = if pinned.is_empty() {
                feed.release_keys.clone()
            } else {
                pinned.to_vec()
            };
            signature.verify(bytes, &script.target, &trusted)?;
        }
        None if feed.allow_unsigned && pinned.is_empty() => {}
        None => return Err(Refusal::Unsigned),
    }
    UpdateScript::decode(bytes).map_err(|e| Refusal::NotAScript(e.to_string()))
}

/// The versions a script sets (its SetDeviceTag records, the last of each kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expected {
    pub os: Option<TagVersion>,
    pub app: Option<TagVersion>,
}

impl Expected {
    pub fn of(script: &UpdateScript) -> Expected {
        let mut expected = Expected::default();
        for record in &script.records {
            if let Record::SetDeviceTag(tag) = record {
                if tag.update_os != 0 {
                    expected.os = Some(tag.os);
                }
                if tag.update_app != 0 {
                    expected.app = Some(tag.app);
                }
            }
        }
        expected
    }

    /// Whether the script says what it sets, so a POD's versions can prove it ran.
    pub fn is_known(&self) -> bool {
        self.os.is_some() || self.app.is_some()
    }

    /// Whether the POD's live versions are the ones the script sets.
    pub fn met_by(&self, live: &LiveVersions) -> bool {
        let os = TagVersion {
            tag: live.os_tag,
            major: live.os_major,
            minor: live.os_minor,
        };
        let app = TagVersion {
            tag: live.app_tag,
            major: live.app_major,
            minor: live.app_minor,
        };
        self.os.is_none_or(|v| v == os) && self.app.is_none_or(|v| v == app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_protocol::ota::{FeedScript, ReleaseSecret, ScriptTarget};
    use sync_protocol::script::SetDeviceTag;

    fn script() -> Vec<u8> {
        UpdateScript::new(vec![Record::SetDeviceTag(SetDeviceTag {
            address: 8,
            os: TagVersion::new(0, 0, 0).unwrap(),
            app: TagVersion::new(2051, 1, 1).unwrap(),
            update_os: 0,
            update_app: 1,
        })])
        .encode()
    }

    fn feed(bytes: &[u8], secret: Option<&ReleaseSecret>) -> OtaFeed {
        let target = ScriptTarget::new("arch", "app", "1.1").unwrap();
        OtaFeed {
            release_keys: secret.iter().map(|s| s.public()).collect(),
            allow_unsigned: false,
            deployments: vec![FeedDeployment {
                id: 7,
                script: FeedScript {
                    slug: "z--0000-0001".into(),
                    signature: secret.map(|s| s.sign(&target, bytes)),
                    target,
                    size: bytes.len() as u64,
                    sha256: hex::encode(Sha256::digest(bytes)),
                },
                selection_criteria: vec!["app_tag:eq:2050".into(), "app_version:lt:1.1".into()],
                released_on: "2026-12-07T10:00:00Z".into(),
                devices: vec![0x10, 0x11],
            }],
        }
    }

    #[test]
    fn a_signed_script_runs_and_every_tampering_is_refused() {
        let secret = ReleaseSecret::from_bytes(&[3; 32]);
        let bytes = script();
        let feed = feed(&bytes, Some(&secret));
        let d = &feed.deployments[0];
        let parsed = verify(&feed, d, &bytes, &[]).expect("verifies");
        let expected = Expected::of(&parsed);
        assert!(expected.is_known());
        assert!(expected.met_by(&LiveVersions::from_words(0, 0x0410_0803)));
        assert!(!expected.met_by(&LiveVersions::from_words(0, 0x0400_0802)));

        let mut tampered = bytes.clone();
        tampered[30] ^= 1;
        assert_eq!(verify(&feed, d, &tampered, &[]), Err(Refusal::HashMismatch));
        let stranger = ReleaseSecret::from_bytes(&[4; 32]).public();
        let pinned = verify(&feed, d, &bytes, &[stranger]);
        assert!(matches!(pinned, Err(Refusal::Signature(_))), "{pinned:?}");

        let mut unsigned = feed.clone();
        unsigned.deployments[0].script.signature = None;
        let d = &unsigned.deployments[0];
        assert_eq!(verify(&unsigned, d, &bytes, &[]), Err(Refusal::Unsigned));
        unsigned.allow_unsigned = true;
        assert!(verify(&unsigned, d, &bytes, &[]).is_ok());
        assert_eq!(
            verify(&unsigned, d, &bytes, &[stranger]),
            Err(Refusal::Unsigned),
            "pinned keys never accept an unsigned script"
        );
    }

    #[test]
    fn a_pod_takes_deployments_that_list_it_and_whose_criteria_it_meets() {
        let bytes = script();
        let feed = feed(&bytes, None);
        assert_eq!(candidates(&feed, DeviceId::from_u32(0x10)).len(), 1);
        assert!(candidates(&feed, DeviceId::from_u32(0x12)).is_empty());
        let d = &feed.deployments[0];
        assert_eq!(
            applies(d, &LiveVersions::from_words(0, 0x0400_0802)),
            Ok(true)
        );
        assert_eq!(
            applies(d, &LiveVersions::from_words(0, 0x0410_0802)),
            Ok(false)
        );
    }
}
