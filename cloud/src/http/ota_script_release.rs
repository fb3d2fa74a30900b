//! Release signatures of device scripts, and releasing a script.
//!
//! `POST /api/v1/ota/script/{slug}/signature/` takes the JSON `iotile-fw script sign`
//! writes (a `ReleaseSignature`), checks it at once against the org's current release keys,
//! the script's target (org slug, name, version) and its stored bytes, and keeps it. A
//! released script may be signed again (with a new key after a rotation), never with a
//! signature for other bytes.
//!
//! `PATCH {"released": true}` on the script ends here: the decision is
//! `script_release::check_release`'s, made on the bytes read back from the object store.
//!
//! Refusals are 400 `{"detail": "<why>", "reason": "<code>"}` with the codes of
//! `script_release::Refusal` (`unknown_key`, `revoked_key`, `wrong_target`,
//! `script_changed`, `bad_signature`, `unsigned`, `no_file`, …).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{json, Value};
use sync_protocol::ota::release::ReleaseSignature;

use super::error::{ApiError, ApiResult};
use super::json::{self, Json};
use super::ota_script::{load_for_change, reload, view};
use crate::auth::Caller;
use crate::script_files::{self, FileError};
use crate::script_release::{check_release, check_signature, Refusal};
use crate::state::AppState;
use crate::store::ota_scripts::{self, DeviceScript, ScriptFile};
use crate::store::release_keys;
use crate::time::now_micros;

/// 400 naming the reason.
pub(super) fn refused(refusal: &Refusal) -> ApiError {
    ApiError::Body(
        StatusCode::BAD_REQUEST,
        json!({"detail": refusal.to_string(), "reason": refusal.reason()}),
    )
}

fn changed_meanwhile(s: &DeviceScript) -> ApiError {
    ApiError::Detail(
        StatusCode::CONFLICT,
        format!("{} changed while it was being checked; try again.", s.slug),
    )
}

/// The stored bytes of a script's file, checked against their recorded SHA-256. Bytes that
/// changed in the store are a refusal, not a release.
pub(super) async fn stored_bytes(state: &AppState, file: &ScriptFile) -> ApiResult<Vec<u8>> {
    checked_bytes(state, file).await?.map_err(|r| refused(&r))
}

/// [`stored_bytes`], with missing or altered bytes as the refusal they are.
async fn checked_bytes(state: &AppState, file: &ScriptFile) -> ApiResult<Result<Vec<u8>, Refusal>> {
    match script_files::read(&state.blobs, file).await {
        Ok(bytes) => Ok(Ok(bytes.to_vec())),
        Err(FileError::Missing | FileError::Altered) => {
            tracing::error!(
                key = file.key,
                "a script's stored file is missing or altered"
            );
            Ok(Err(Refusal::StoredFileAltered))
        }
        Err(FileError::Store(e)) => Err(ApiError::Internal(e.into())),
    }
}

/// What releasing `script` would decide now: its stored bytes and its signature against
/// its org's keys and policy as they are. `Err` only when the stores fail. Releasing and
/// the OTA pages' signature column both ask it.
pub(crate) async fn release_check(
    state: &AppState,
    script: &DeviceScript,
) -> ApiResult<Result<(), Refusal>> {
    let trust = release_keys::trusted(&state.db.meta, &script.org_id).await?;
    let bytes = match &script.file {
        Some(file) => match checked_bytes(state, file).await? {
            Ok(bytes) => Some(bytes),
            Err(refusal) => return Ok(Err(refusal)),
        },
        None => None,
    };
    Ok(check_release(script, bytes.as_deref(), &trust))
}

pub(super) async fn sign(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let script = load_for_change(&state, &caller, &slug).await?;
    let signature: ReleaseSignature = json::parse(body)?;
    let file = script
        .file
        .as_ref()
        .ok_or_else(|| refused(&Refusal::NoFile))?;
    let bytes = stored_bytes(&state, file).await?;
    let target = script
        .target()
        .map_err(|e| refused(&Refusal::Signature(e)))?;
    let trust = release_keys::trusted(&state.db.meta, &script.org_id).await?;
    check_signature(&signature, &bytes, &target, &trust).map_err(|r| refused(&r))?;
    let text = serde_json::to_string(&signature).map_err(|e| ApiError::Internal(e.into()))?;
    if !ota_scripts::set_signature(&state.db.meta, script.id, &file.sha256, &text).await? {
        return Err(changed_meanwhile(&script));
    }
    let fresh = reload(&state, script.id).await?;
    Ok((StatusCode::CREATED, axum::Json(view(&fresh))))
}

/// Releases `script` (not released yet) when its file and signature pass, or says why not.
pub(super) async fn release(state: &AppState, script: &DeviceScript) -> ApiResult<()> {
    release_check(state, script)
        .await?
        .map_err(|r| refused(&r))?;
    let file = script
        .file
        .as_ref()
        .ok_or_else(|| refused(&Refusal::NoFile))?;
    let done = ota_scripts::release(
        &state.db.meta,
        script.id,
        &file.sha256,
        script.signature_json.as_deref(),
        now_micros(),
    )
    .await?;
    if !done {
        return Err(changed_meanwhile(script));
    }
    Ok(())
}
