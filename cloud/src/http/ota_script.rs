//! `/api/v1/ota/script/`: device scripts (spec 3.12), the `.trub` files an org releases
//! for OTA, looked up by their `z--` slug.
//!
//! Who sees what: staff see every script; members see their orgs' scripts. The original
//! gives non-staff an empty list and lets anyone who knows a slug read a released script;
//! ours lists a member's own orgs and keeps other orgs' scripts out of sight, except the
//! released scripts of vendor orgs, which spec 6.1 makes visible to users once released
//! (a vendor's deployments reach devices of other orgs). Every write needs
//! `can_manage_ota` in the script's org.
//!
//! A script is created empty, gets its file (`ota_script_file`), its release signature
//! (`ota_script_release`), and is then released with `PATCH {"released": true}`. Once
//! released it keeps its name, its file and its release state: the bytes POD agents
//! verified stay the bytes served.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use sync_protocol::ids::ScriptSlug;
use sync_protocol::ota::release::canonical_version;

use super::error::{ApiError, ApiResult};
use super::json::Json;
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::{ota_script_file, ota_script_release};
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::is_unique_violation;
use crate::store::ota_scripts::{self, Deleted, DeviceScript, VersionPrefix};
use crate::time::{format, now_micros, to_datetime};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ota/script", get(list).post(create))
        .route(
            "/ota/script/{slug}",
            get(retrieve).patch(update).delete(remove),
        )
        .route(
            "/ota/script/{slug}/signature",
            post(ota_script_release::sign),
        )
        .merge(ota_script_file::routes())
}

/// The script object: spec 3.12's fields, then ours (`file`, `signed`, `signature`).
///
/// `signed` says the stored release signature was made for this file and this target;
/// `signature` is the id of the key that made it. Whether that key is still trusted is
/// decided when the script is released (and by gateways when they run it).
pub fn view(s: &DeviceScript) -> Value {
    let signature = s.signature();
    let signed = match (&signature, &s.file, s.target()) {
        (Some(sig), Some(file), Ok(target)) => {
            sig.sha256.eq_ignore_ascii_case(&file.sha256) && sig.target == target
        }
        _ => false,
    };
    json!({
        "slug": s.slug,
        "gid": s.id,
        "name": s.name,
        "org": s.org_slug,
        "version": s.version(),
        "created_on": format(s.created_on),
        "released": s.released,
        "released_on": s.released_on.map(|t| to_datetime(t).format("%Y-%m-%d").to_string()),
        "file": s.file.as_ref().map(|f| json!({"name": f.name, "size": f.size, "sha256": f.sha256})),
        "signed": signed,
        "signature": signature.map(|sig| sig.key.key_id()),
    })
}

/// Whether the caller may read the script (not its file: see `ota_script_file`).
pub(super) fn can_see(caller: &Caller, s: &DeviceScript) -> bool {
    caller.device.is_none() && (caller.has_access(&s.org_id) || (s.released && s.org_is_vendor))
}

/// The script a route slug names, when the caller may see it; 404 otherwise.
pub(super) async fn load(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<DeviceScript> {
    let slug = slug.parse::<ScriptSlug>().map_err(|_| ApiError::NotFound)?;
    let script = ota_scripts::by_slug(&state.db.meta, slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !can_see(caller, &script) {
        return Err(ApiError::NotFound);
    }
    Ok(script)
}

/// The script, when the caller may also change it.
pub(super) async fn load_for_change(
    state: &AppState,
    caller: &Caller,
    slug: &str,
) -> ApiResult<DeviceScript> {
    let script = load(state, caller, slug).await?;
    if !caller.can(&script.org_id, perm::MANAGE_OTA) {
        return Err(ApiError::no_permission());
    }
    Ok(script)
}

/// 409: the script is released, so what was asked would change what was released.
pub(super) fn released_conflict(s: &DeviceScript, what: &str) -> ApiError {
    ApiError::Detail(
        StatusCode::CONFLICT,
        format!(
            "{} is released: {what}. Create a new version of the script instead.",
            s.slug
        ),
    )
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let filter = ota_scripts::Filter {
        orgs: visible_orgs(&caller),
        org_slug: params
            .get("org")
            .or(params.get("org__slug"))
            .map(String::from),
        version: params.get("version").map(version_prefix).transpose()?,
    };
    let (count, found) = ota_scripts::list(&state.db.meta, &filter, (w.offset, w.size)).await?;
    let results: Vec<Value> = found.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// The orgs whose scripts the caller's lists show; `None` for every org (staff).
pub(crate) fn visible_orgs(caller: &Caller) -> Option<Vec<String>> {
    (!caller.is_staff()).then(|| {
        if caller.device.is_some() {
            Vec::new()
        } else {
            caller.org_ids()
        }
    })
}

/// `?version=M[.m[.p]]`, with or without a leading `v`.
fn version_prefix(text: &str) -> ApiResult<VersionPrefix> {
    let bad = || ApiError::field("version", "Enter a version as M, M.m or M.m.p.");
    let body = text.trim().trim_start_matches(['v', 'V']);
    let parts: Vec<i64> = body
        .split('.')
        .map(|p| p.parse::<u32>().map(i64::from).map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    match parts[..] {
        [major] => Ok(VersionPrefix {
            major,
            ..VersionPrefix::default()
        }),
        [major, minor] => Ok(VersionPrefix {
            major,
            minor: Some(minor),
            patch: None,
        }),
        [major, minor, patch] => Ok(VersionPrefix {
            major,
            minor: Some(minor),
            patch: Some(patch),
        }),
        _ => Err(bad()),
    }
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(view(&load(&state, &caller, &slug).await?)))
}

#[derive(Deserialize)]
struct NewScript {
    name: String,
    org: String,
    version: Option<String>,
    major_version: Option<u32>,
    minor_version: Option<u32>,
    patch_version: Option<u32>,
}

impl NewScript {
    /// The version, from `version` or the write-only numbers; both given must agree.
    fn version(&self) -> ApiResult<(i64, i64, i64)> {
        let numbers = self.major_version.map(|major| {
            (
                i64::from(major),
                i64::from(self.minor_version.unwrap_or(0)),
                i64::from(self.patch_version.unwrap_or(0)),
            )
        });
        let text = match &self.version {
            Some(text) => Some(
                canonical_version(text)
                    .map_err(|e| ApiError::field("version", e.to_string()))
                    .map(|v| split_version(&v))?,
            ),
            None => None,
        };
        match (text, numbers) {
            (Some(a), Some(b)) if a != b => Err(ApiError::field(
                "version",
                "Disagrees with major_version, minor_version and patch_version.",
            )),
            (Some(v), _) | (None, Some(v)) => Ok(v),
            (None, None) => Err(ApiError::field(
                "version",
                "This field is required (or major_version, minor_version, patch_version).",
            )),
        }
    }
}

/// The numbers of a canonical `vX.Y.Z`.
fn split_version(canonical: &str) -> (i64, i64, i64) {
    let mut parts = canonical
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// A script name as stored: trimmed, not blank, at most 200 characters.
fn clean_name(name: &str) -> ApiResult<&str> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    if name.chars().count() > 200 {
        return Err(ApiError::field(
            "name",
            "Ensure this field has no more than 200 characters.",
        ));
    }
    Ok(name)
}

fn duplicate(org: &str, name: &str, version: &str) -> ApiError {
    ApiError::field(
        "non_field_errors",
        format!("Org {org} already has a script named {name:?} with version {version}; the fields org, name, version must make a unique set."),
    )
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewScript>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let name = clean_name(&body.name)?;
    let (major, minor, patch) = body.version()?;
    let org = super::org::named_in_body(&state, &body.org).await?;
    if caller.device.is_some() || !caller.can(&org.id, perm::MANAGE_OTA) {
        return Err(ApiError::no_permission());
    }
    let new = ota_scripts::NewScript {
        org_id: &org.id,
        name,
        major,
        minor,
        patch,
        created_by: caller.user.id,
    };
    match ota_scripts::create(&state.db.meta, &new, now_micros()).await {
        Ok(script) => Ok((StatusCode::CREATED, axum::Json(view(&script)))),
        Err(e) if is_unique_violation(&e) => Err(duplicate(
            &org.slug,
            name,
            &format!("v{major}.{minor}.{patch}"),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ScriptChanges {
    name: Option<String>,
    released: Option<bool>,
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<ScriptChanges>,
) -> ApiResult<axum::Json<Value>> {
    let mut script = load_for_change(&state, &caller, &slug).await?;
    let pool = &state.db.meta;
    if let Some(name) = &body.name {
        let name = clean_name(name)?;
        if name != script.name {
            if script.released {
                return Err(released_conflict(
                    &script,
                    "its release signature names it, so it keeps its name",
                ));
            }
            match ota_scripts::rename(pool, script.id, name).await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(released_conflict(
                        &script,
                        "its release signature names it, so it keeps its name",
                    ))
                }
                Err(e) if is_unique_violation(&e) => {
                    return Err(duplicate(&script.org_slug, name, &script.version()))
                }
                Err(e) => return Err(e.into()),
            }
            script = reload(&state, script.id).await?;
        }
    }
    match body.released {
        Some(true) if !script.released => {
            ota_script_release::release(&state, &script).await?;
            script = reload(&state, script.id).await?;
        }
        Some(false) if script.released => {
            return Err(released_conflict(
                &script,
                "a released script stays released",
            ));
        }
        _ => {}
    }
    Ok(axum::Json(view(&script)))
}

pub(super) async fn reload(state: &AppState, id: i64) -> ApiResult<DeviceScript> {
    ota_scripts::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    let script = load_for_change(&state, &caller, &slug).await?;
    match ota_scripts::delete(&state.db.meta, script.id).await? {
        Deleted::InUse(n) => Err(ApiError::Detail(
            StatusCode::CONFLICT,
            format!(
                "{} is used by {n} deployment request(s); delete them before the script.",
                script.slug
            ),
        )),
        Deleted::Done(keys) => {
            for key in keys {
                if let Err(e) = state.blobs.delete(&key).await {
                    tracing::warn!(key, error = %e, "could not remove a deleted script's file");
                }
            }
            Ok(StatusCode::NO_CONTENT)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_filters_and_versions_read() {
        assert_eq!(
            version_prefix("2.1").unwrap(),
            VersionPrefix {
                major: 2,
                minor: Some(1),
                patch: None
            }
        );
        assert_eq!(version_prefix("v3").unwrap().major, 3);
        assert!(version_prefix("1.2.3.4").is_err());
        assert!(version_prefix("x").is_err());
        assert!(version_prefix("").is_err());
        assert_eq!(split_version("v1.20.3"), (1, 20, 3));
    }
}
