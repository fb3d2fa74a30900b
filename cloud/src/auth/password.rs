//! Password hashing (argon2id, PHC strings) and random credentials.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
}

/// Constant-time check of a password against a stored PHC string. A malformed stored hash
/// never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to check against when the account does not exist, so that a failed login takes the
/// same time either way.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not a password").unwrap_or_default())
}

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes).expect("the OS random source is available");
    hex::encode(bytes)
}

/// The static `Token` credential: 40 hex digits, like the original's.
pub fn new_api_token() -> String {
    random_hex(20)
}

/// Creates an active account with this password (hashed) and a fresh API token, as
/// `iotile-cloud user create` does; the username defaults to the email's local part.
pub async fn create_account(
    pool: &sqlx::AnyPool,
    email: &str,
    username: Option<&str>,
    password: &str,
    staff: bool,
) -> anyhow::Result<crate::store::users::User> {
    let username = username.unwrap_or_else(|| email.split('@').next().unwrap_or(email));
    let password_hash = hash(password)?;
    let api_token = new_api_token();
    let user = crate::store::users::create(
        pool,
        &crate::store::users::NewUser {
            username,
            email,
            name: "",
            password_hash: &password_hash,
            api_token: &api_token,
            is_staff: staff,
            is_active: true,
        },
        crate::time::now_micros(),
    )
    .await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_password() {
        let stored = hash("s3cret!").unwrap();
        assert!(verify("s3cret!", &stored));
        assert!(!verify("s3cret", &stored));
        assert!(!verify("s3cret!", "not-a-phc-string"));
        assert_eq!(new_api_token().len(), 40);
    }
}
