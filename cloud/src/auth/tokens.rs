//! JSON Web Tokens, HS256 (spec 1.3, 1.4).
//!
//! User tokens carry `exp` (7 days) and `orig_iat` (the password login); a refresh keeps
//! `orig_iat` and is refused 180 days after it. Device tokens (`a-jwt`) are signed with the
//! device's own secret and never expire; they stop working when the device is unclaimed or
//! moves project, which the caller extractor checks on every use.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::secret::Secret;

pub const USER_TOKEN_LIFETIME_SECS: i64 = 7 * 24 * 3600;
pub const REFRESH_LIMIT_SECS: i64 = 180 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserClaims {
    pub user_id: i64,
    pub username: String,
    pub email: String,
    pub exp: i64,
    pub orig_iat: i64,
    pub jti: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceClaims {
    pub user: String,
    pub device: String,
    pub project: String,
}

/// Why a token was refused, in the words the original answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("Signature has expired.")]
    Expired,
    #[error("Error decoding signature.")]
    Invalid,
    #[error("Refresh has expired.")]
    RefreshExpired,
}

impl TokenError {
    pub fn message(self) -> &'static str {
        match self {
            TokenError::Expired => "Signature has expired.",
            TokenError::Invalid => "Error decoding signature.",
            TokenError::RefreshExpired => "Refresh has expired.",
        }
    }
}

/// Signs and checks user tokens with the server secret.
#[derive(Clone)]
pub struct UserTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl UserTokens {
    pub fn new(secret: &Secret) -> UserTokens {
        UserTokens {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
        }
    }

    /// A fresh token after a password login.
    pub fn issue(&self, user_id: i64, username: &str, email: &str, now: i64) -> String {
        self.sign(UserClaims {
            user_id,
            username: username.to_string(),
            email: email.to_string(),
            exp: now + USER_TOKEN_LIFETIME_SECS,
            orig_iat: now,
            jti: super::password::random_hex(16),
        })
    }

    /// A new token for an unexpired one, with the same `orig_iat`.
    pub fn refresh(&self, token: &str, now: i64) -> Result<String, TokenError> {
        let claims = self.verify(token, now)?;
        if now - claims.orig_iat > REFRESH_LIMIT_SECS {
            return Err(TokenError::RefreshExpired);
        }
        Ok(self.sign(UserClaims {
            exp: now + USER_TOKEN_LIFETIME_SECS,
            jti: super::password::random_hex(16),
            ..claims
        }))
    }

    pub fn verify(&self, token: &str, now: i64) -> Result<UserClaims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the caller's clock, without leeway.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let claims = decode::<UserClaims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    fn sign(&self, claims: UserClaims) -> String {
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }
}

/// Signs a device token with the device's secret.
pub fn issue_device_token(claims: &DeviceClaims, device_secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(device_secret.as_bytes()),
    )
    .expect("HS256 signing of plain claims cannot fail")
}

/// Reads the `device` claim without verifying, to find whose secret to verify with.
pub fn peek_device(token: &str) -> Option<String> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    decode::<DeviceClaims>(token, &DecodingKey::from_secret(&[]), &validation)
        .ok()
        .map(|data| data.claims.device)
}

pub fn verify_device_token(token: &str, device_secret: &str) -> Result<DeviceClaims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    decode::<DeviceClaims>(
        token,
        &DecodingKey::from_secret(device_secret.as_bytes()),
        &validation,
    )
    .map(|data| data.claims)
    .map_err(|_| TokenError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> UserTokens {
        UserTokens::new(&Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()))
    }

    #[test]
    fn user_token_round_trip_and_expiry() {
        let t = tokens();
        let token = t.issue(7, "joe", "joe@x.io", 1_000);
        let claims = t.verify(&token, 1_001).unwrap();
        assert_eq!((claims.user_id, claims.orig_iat), (7, 1_000));
        assert_eq!(
            t.verify(&token, 1_000 + USER_TOKEN_LIFETIME_SECS),
            Err(TokenError::Expired)
        );
        assert_eq!(t.verify("garbage", 0), Err(TokenError::Invalid));
        let other = UserTokens::new(&Secret::new(vec![b'x'; 32]));
        assert_eq!(other.verify(&token, 1_001), Err(TokenError::Invalid));
    }

    #[test]
    fn refresh_keeps_orig_iat_and_stops_after_180_days() {
        let t = tokens();
        let mut token = t.issue(7, "joe", "joe@x.io", 0);
        let mut now = 0;
        while now + USER_TOKEN_LIFETIME_SECS / 2 <= REFRESH_LIMIT_SECS {
            now += USER_TOKEN_LIFETIME_SECS / 2;
            token = t.refresh(&token, now).unwrap();
            assert_eq!(t.verify(&token, now).unwrap().orig_iat, 0);
        }
        now += USER_TOKEN_LIFETIME_SECS / 2;
        assert_eq!(t.refresh(&token, now), Err(TokenError::RefreshExpired));
    }

    #[test]
    fn device_token_is_checked_with_the_device_secret() {
        let claims = DeviceClaims {
            user: "joe".into(),
            device: "d--0000-0000-0000-000a".into(),
            project: "6f1c…".into(),
        };
        let token = issue_device_token(&claims, "device-secret");
        assert_eq!(
            peek_device(&token).as_deref(),
            Some("d--0000-0000-0000-000a")
        );
        assert_eq!(verify_device_token(&token, "device-secret"), Ok(claims));
        assert_eq!(
            verify_device_token(&token, "other"),
            Err(TokenError::Invalid)
        );
    }
}
