//! Signed, expiring links: URLs that carry their own authorization, for clients that cannot
//! send an `Authorization` header. coretools downloads an OTA script with a plain
//! `requests.get(url)` (spec 3.12), and the two-step script upload posts the file to a URL
//! it was handed, as it would to an S3 presigned POST.
//!
//! A link's signature is HMAC-SHA256 under a key derived from the server secret (so a link
//! can never pass for a JWT signature or the other way round) over a purpose, the values the
//! link is bound to and its expiry, each length-prefixed so no two inputs share a message.
//! Binding a download to the script's SHA-256 means a link stops working when the file it
//! pointed at is replaced.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::secret::Secret;

/// How long a link works unless said otherwise: one hour.
pub const DEFAULT_LIFETIME_SECS: i64 = 3600;

/// Separates link keys from every other use of the server secret.
const KEY_LABEL: &[u8] = b"iotile-cloud signed links v1";

type HmacSha256 = Hmac<Sha256>;

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link has no signature or expiry")]
    Incomplete,
    #[error("the link's signature does not match (altered, or made for other content)")]
    Altered,
    #[error("the link expired")]
    Expired,
}

/// Signs and checks links; cheap to clone.
#[derive(Clone)]
pub struct LinkSigner {
    key: Secret,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(***)")
    }
}

impl LinkSigner {
    pub fn new(server_secret: &Secret) -> LinkSigner {
        let mut mac = mac(server_secret.expose());
        mac.update(KEY_LABEL);
        LinkSigner {
            key: Secret::new(mac.finalize().into_bytes().to_vec()),
        }
    }

    /// The signature (64 hex digits) of a link for `purpose`, bound to `parts`, that
    /// works until `expires` (Unix seconds).
    pub fn sign(&self, purpose: &str, parts: &[&str], expires: i64) -> String {
        hex::encode(
            self.message(purpose, parts, expires)
                .finalize()
                .into_bytes(),
        )
    }

    /// Checks a signature first, then the expiry against `now` (Unix seconds), so an
    /// altered link is reported as altered whatever its expiry says.
    pub fn verify(
        &self,
        purpose: &str,
        parts: &[&str],
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), LinkError> {
        let given = hex::decode(signature.trim()).map_err(|_| LinkError::Altered)?;
        self.message(purpose, parts, expires)
            .verify_slice(&given)
            .map_err(|_| LinkError::Altered)?;
        if expires <= now {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    fn message(&self, purpose: &str, parts: &[&str], expires: i64) -> HmacSha256 {
        let mut mac = mac(self.key.expose());
        let expires = expires.to_string();
        for field in std::iter::once(purpose)
            .chain(parts.iter().copied())
            .chain(std::iter::once(expires.as_str()))
        {
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            mac.update(&len.to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(seed: u8) -> LinkSigner {
        LinkSigner::new(&Secret::new(vec![seed; 32]))
    }

    #[test]
    fn a_link_verifies_until_it_expires_and_only_as_signed() {
        let s = signer(1);
        let sig = s.sign("download", &["z--0000-0001", "ab"], 1_000);
        assert_eq!(
            s.verify("download", &["z--0000-0001", "ab"], 1_000, &sig, 999),
            Ok(())
        );
        assert_eq!(
            s.verify("download", &["z--0000-0001", "ab"], 1_000, &sig, 1_000),
            Err(LinkError::Expired)
        );
        for (purpose, parts, expires) in [
            ("upload", ["z--0000-0001", "ab"], 1_000),
            ("download", ["z--0000-0002", "ab"], 1_000),
            ("download", ["z--0000-0001", "ac"], 1_000),
            ("download", ["z--0000-0001", "ab"], 1_001),
            // Moving a byte between fields changes the message.
            ("download", ["z--0000-0001a", "b"], 1_000),
        ] {
            assert_eq!(
                s.verify(purpose, &parts, expires, &sig, 0),
                Err(LinkError::Altered)
            );
        }
        assert_eq!(
            signer(2).verify("download", &["z--0000-0001", "ab"], 1_000, &sig, 0),
            Err(LinkError::Altered)
        );
        assert_eq!(
            s.verify("download", &["z--0000-0001", "ab"], 1_000, "zz", 0),
            Err(LinkError::Altered)
        );
        assert_eq!(format!("{s:?}"), "LinkSigner(***)");
    }
}
