//! Signing in and out, and what the offline copy holds to choose from.

use std::sync::Arc;

use desktop_core::session::SessionView;
use desktop_core::store::{CopyOrg, CopyProject};
use desktop_core::Desktop;
use tauri::State;

use crate::Error;

/// Who is signed in, how fresh the token and the copy are; null before the first sign-in.
#[tauri::command]
#[specta::specta]
pub fn session(desktop: State<'_, Arc<Desktop>>) -> Result<Option<SessionView>, Error> {
    Ok(desktop.session()?)
}

/// Signs in (online) and fetches the offline copy.
#[tauri::command]
#[specta::specta]
pub async fn sign_in(
    desktop: State<'_, Arc<Desktop>>,
    cloud: String,
    email: String,
    password: String,
) -> Result<SessionView, Error> {
    Ok(desktop.sign_in(&cloud, &email, &password).await?)
}

/// Forgets the token; what waits stays for the same user's next sign-in.
#[tauri::command]
#[specta::specta]
pub fn sign_out(desktop: State<'_, Arc<Desktop>>) -> Result<(), Error> {
    Ok(desktop.sign_out()?)
}

#[tauri::command]
#[specta::specta]
pub fn orgs(desktop: State<'_, Arc<Desktop>>) -> Result<Vec<CopyOrg>, Error> {
    Ok(desktop.orgs()?)
}

/// The projects a POD can be claimed into, from the offline copy.
#[tauri::command]
#[specta::specta]
pub fn projects(desktop: State<'_, Arc<Desktop>>) -> Result<Vec<CopyProject>, Error> {
    Ok(desktop.projects()?)
}
