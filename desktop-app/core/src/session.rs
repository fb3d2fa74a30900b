//! Signing in, keeping the token fresh, and what the app shows of it.
//!
//! The app signs in once, online; from then on it works offline on the copy it keeps. The
//! token (seven days, refreshable for six months from the sign-in) is refreshed whenever
//! the network is there and it is within [`REFRESH_BEFORE`] of expiring; only a token that
//! has expired, or that the cloud refuses, asks the user to sign in again, and only the
//! network being there makes that worth asking.

use base64::Engine;
use serde::Serialize;

use crate::error::CoreError;
use crate::profile::Profile;
use crate::store::Session;

/// How long before expiry a token is refreshed.
pub const REFRESH_BEFORE: i64 = 2 * 24 * 3600;
/// A copy older than this is refreshed when the network is there.
pub const COPY_STALE_AFTER: i64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Valid,
    /// Expired or refused: sign in again (the copy and the queue stay).
    Expired,
    /// Signed out: nothing goes up until someone signs in.
    None,
}

/// The session as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SessionView {
    pub cloud: String,
    pub email: String,
    pub username: String,
    pub token: TokenState,
    /// Unix seconds.
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub token_expires: Option<i64>,
    /// When the offline copy was last refreshed (Unix seconds).
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub copy_refreshed_at: Option<i64>,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub orgs: usize,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub projects: usize,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub devices: u64,
}

/// Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The `exp` of a JWT, read without checking its signature: only the cloud can check it,
/// and this only decides when to refresh.
pub fn token_expiry(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["exp"].as_i64()
}

pub fn token_state(session: &Session, now: i64) -> TokenState {
    match (&session.token, session.token_expires) {
        (None, _) => TokenState::None,
        (Some(_), Some(exp)) if exp <= now => TokenState::Expired,
        (Some(_), _) => TokenState::Valid,
    }
}

pub fn view(profile: &Profile) -> Result<Option<SessionView>, CoreError> {
    let store = profile.store()?;
    let Some(session) = store.session()? else {
        return Ok(None);
    };
    Ok(Some(SessionView {
        token: token_state(&session, now()),
        cloud: session.cloud,
        email: session.email,
        username: session.username,
        token_expires: session.token_expires,
        copy_refreshed_at: store.copy_refreshed_at()?,
        orgs: store.orgs()?.len(),
        projects: store.projects()?.len(),
        devices: store.device_count()?,
    }))
}

/// A token fit to use now, refreshed first when it is close to expiring and the cloud
/// answers. Errors: signed out, or expired (sign in again).
pub async fn usable_token(profile: &Profile) -> Result<String, CoreError> {
    let session = profile.store()?.session()?.ok_or(CoreError::SignedOut)?;
    let now = now();
    match token_state(&session, now) {
        TokenState::None => return Err(CoreError::SignedOut),
        TokenState::Expired => return Err(CoreError::SignInAgain),
        TokenState::Valid => {}
    }
    let token = session.token.unwrap_or_default();
    let expires = session.token_expires.unwrap_or(i64::MAX);
    if expires - now > REFRESH_BEFORE {
        return Ok(token);
    }
    match profile.api.refresh(&token).await {
        Ok(fresh) => {
            let exp = token_expiry(&fresh).unwrap_or(now + REFRESH_BEFORE);
            profile.store()?.set_token(&fresh, exp)?;
            profile.api.set_token(Some(fresh.clone()));
            Ok(fresh)
        }
        // Offline: the old token still works until it expires.
        Err(error) => match CoreError::from(error) {
            CoreError::SignInAgain | CoreError::Refused(_) => Err(expired(profile)?),
            _ => Ok(token),
        },
    }
}

/// Records that the cloud refused the token, and says so.
pub fn expired(profile: &Profile) -> Result<CoreError, CoreError> {
    let store = profile.store()?;
    if let Some(session) = store.session()? {
        if session.token.is_some() {
            store.set_token(session.token.as_deref().unwrap_or_default(), 0)?;
        }
    }
    Ok(CoreError::SignInAgain)
}

/// Refreshes the offline copy from the cloud.
pub async fn refresh_copy(profile: &Profile) -> Result<(), CoreError> {
    usable_token(profile).await?;
    let copy = match profile.api.copy().await {
        Err(error) => match CoreError::from(error) {
            CoreError::SignInAgain => return Err(expired(profile)?),
            other => return Err(other),
        },
        Ok(copy) => copy,
    };
    // Scripts first: a copy that offers an update has its script on the laptop.
    let feeds: Vec<_> = copy.feeds.iter().map(|(_, f)| f.clone()).collect();
    let scripts = crate::updates::fetch_scripts(profile, &feeds).await?;
    let now = now();
    let mut store = profile.store()?;
    store.replace_copy(&copy, now)?;
    let deployments: usize = feeds.iter().map(|f| f.deployments.len()).sum();
    store.log(
        "copy",
        "offline copy",
        true,
        &format!(
            "{}, {}, {}, {} ({} fetched)",
            counted(copy.orgs.len(), "org"),
            counted(copy.projects.len(), "project"),
            counted(copy.devices.len(), "device"),
            counted(deployments, "deployment"),
            counted(scripts, "script"),
        ),
        now,
    )?;
    Ok(())
}

/// `1 org`, `2 orgs`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_is_read_from_the_token() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"user_id":1,"exp":1893456000}"#);
        assert_eq!(
            token_expiry(&format!("e30.{payload}.sig")),
            Some(1_893_456_000)
        );
        assert_eq!(token_expiry("not a token"), None);
        assert_eq!(token_expiry("a.!!!.c"), None);
    }

    #[test]
    fn a_token_is_valid_until_it_expires() {
        let mut session = Session {
            cloud: "http://cloud".into(),
            email: "tech@example.com".into(),
            username: "tech".into(),
            token: Some("t".into()),
            token_expires: Some(100),
            signed_in_at: 0,
        };
        assert_eq!(token_state(&session, 99), TokenState::Valid);
        assert_eq!(token_state(&session, 100), TokenState::Expired);
        session.token = None;
        assert_eq!(token_state(&session, 0), TokenState::None);
    }
}
