//! A device script's file: uploading it, and handing it to agents.
//!
//! Uploads, each decoded as an update script before it is kept:
//! - `POST …/{slug}/upload/`, multipart with a `file` part: one step;
//! - the original's two steps: `POST …/{slug}/uploadurl/ {name}` answers 202
//!   `{url, fields, uuid}`; the client posts the file with `fields` (multipart, no
//!   `Authorization` header, as to an S3 presigned POST) to `url`, our
//!   `POST …/{slug}/presigned/`, whose `fields` carry an HMAC-signed token bound to the
//!   script and the upload's uuid that expires in an hour; then
//!   `POST …/{slug}/uploadsuccess/ {name, uuid}` attaches it and answers 202
//!   `{id, title, url, file_type, created_on, created_by}`.
//!
//! A released script's file never changes (409).
//!
//! Downloads: `GET …/{slug}/file/` answers coretools' `check_cloud_for_script` with
//! `{name, url, key, major_version, minor_version, patch_version}`. coretools fetches `url`
//! with a plain `requests.get`, so it is an absolute link to `GET …/{slug}/download/` that
//! carries its own authorization: `expires` (Unix seconds, an hour ahead) and `sig`, an
//! HMAC-SHA256 over the slug, the file's SHA-256 and the expiry. An expired or altered
//! link, or one made for a file since replaced, is 403 with a message saying which.

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sync_protocol::ids::ScriptSlug;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::event_upload::{read_form, Form};
use super::json::{Json, Reply};
use super::origin::Origin;
use super::ota_script::{load, load_for_change, released_conflict, reload, view, ScriptView};
use super::params::Params;
use crate::auth::links::{LinkError, LinkSigner, DEFAULT_LIFETIME_SECS};
use crate::auth::Caller;
use crate::blobs::BlobError;
use crate::script_files::{self, FileError};
use crate::state::AppState;
use crate::store::ota_scripts::{self, DeviceScript, ScriptFile};
use crate::store::script_uploads::{self, Upload};
use crate::time::{format, now_micros};

/// What download links are bound to: the script's slug and its file's SHA-256.
pub const DOWNLOAD: &str = "script-download";
/// What upload tokens are bound to: the script's slug and the upload's uuid.
pub const UPLOAD: &str = "script-upload";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ota/script/{slug}/upload", post(upload))
        .route("/ota/script/{slug}/uploadurl", post(upload_url))
        .route("/ota/script/{slug}/presigned", post(presigned))
        .route("/ota/script/{slug}/uploadsuccess", post(upload_success))
        .route("/ota/script/{slug}/file", get(file))
        .route("/ota/script/{slug}/download", get(download))
}

/// An absolute link to the script's current file that works without credentials until
/// `now + DEFAULT_LIFETIME_SECS` (Unix seconds); `None` when the script has no file.
/// `origin` is `scheme://host` as clients reach the API (`http::origin`).
pub fn download_url(
    links: &LinkSigner,
    origin: &str,
    script: &DeviceScript,
    now_secs: i64,
) -> Option<String> {
    let file = script.file.as_ref()?;
    let expires = now_secs + DEFAULT_LIFETIME_SECS;
    let sig = links.sign(DOWNLOAD, &[&script.slug, &file.sha256], expires);
    Some(format!(
        "{origin}/api/v1/ota/script/{}/download/?expires={expires}&sig={sig}",
        script.slug
    ))
}

fn now_secs() -> i64 {
    now_micros().div_euclid(1_000_000)
}

fn not_a_script(e: &sync_protocol::script::ScriptError) -> ApiError {
    ApiError::Body(
        StatusCode::BAD_REQUEST,
        json!({"detail": format!("The file is not an update script: {e}"), "reason": "not_a_script"}),
    )
}

fn no_file() -> ApiError {
    ApiError::bad_request("Send the script as a multipart/form-data part named \"file\".")
}

const FILE_FROZEN: &str = "its file can no longer change";

/// 409 when the script is released: its file is what was released.
fn file_can_change(script: &DeviceScript) -> ApiResult<()> {
    if script.released {
        return Err(released_conflict(script, FILE_FROZEN));
    }
    Ok(())
}

/// Writes the bytes under a fresh key and attaches them to the script, unless it is
/// released; the previous file's object is removed.
async fn attach(state: &AppState, script: &DeviceScript, file: &ScriptFile) -> ApiResult<()> {
    if !ota_scripts::set_file(&state.db.meta, script.id, file).await? {
        return Err(released_conflict(script, FILE_FROZEN));
    }
    if let Some(old) = &script.file {
        if old.key != file.key {
            if let Err(e) = state.blobs.delete(&old.key).await {
                tracing::warn!(key = old.key, error = %e, "could not remove a replaced script file");
            }
        }
    }
    Ok(())
}

async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Reply<ScriptView>)> {
    let script = load_for_change(&state, &caller, &slug).await?;
    file_can_change(&script)?;
    let form = read_form(multipart.map_err(|_| no_file())?).await?;
    let (name, bytes) = form.file.ok_or_else(no_file)?;
    let name = script_files::clean_name(&name, &format!("{}.trub", script.slug));
    let file = script_files::describe(&script_files::new_key(&script.slug), &name, &bytes)
        .map_err(|e| not_a_script(&e))?;
    state
        .blobs
        .put(&file.key, bytes.into())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if let Err(e) = attach(&state, &script, &file).await {
        let _ = state.blobs.delete(&file.key).await;
        return Err(e);
    }
    let fresh = reload(&state, script.id).await?;
    Ok((StatusCode::CREATED, Reply(view(&fresh))))
}

/// The form of an upload: the `.trub` file.
#[derive(ToSchema)]
#[allow(dead_code)] // described, never built: `read_form` reads the fields as they come
pub struct ScriptForm {
    #[schema(format = Binary)]
    file: String,
}

/// The form posted to an upload URL: the file with the fields `uploadurl` gave.
#[derive(ToSchema)]
#[allow(dead_code)] // described, never built: `read_form` reads the fields as they come
pub struct PresignedForm {
    #[schema(format = Binary)]
    file: String,
    uuid: String,
    expires: String,
    signature: String,
}

/// The file's name, to start a two-step upload.
#[derive(Deserialize, ToSchema)]
pub struct UploadUrl {
    name: String,
}

/// Where to post the file, and the fields to post with it.
#[derive(Serialize, ToSchema)]
pub struct UploadTarget {
    /// The `presigned` URL: no credentials needed.
    pub url: String,
    pub fields: UploadFields,
    /// The upload's id, for `uploadsuccess`.
    pub uuid: String,
}

/// The form fields that authorize a posted file.
#[derive(Serialize, ToSchema)]
pub struct UploadFields {
    pub uuid: String,
    /// Seconds since the epoch, as text.
    pub expires: String,
    pub signature: String,
}

async fn upload_url(
    State(state): State<AppState>,
    caller: Caller,
    Origin(origin): Origin,
    Path(slug): Path<String>,
    Json(body): Json<UploadUrl>,
) -> ApiResult<(StatusCode, Reply<UploadTarget>)> {
    let script = load_for_change(&state, &caller, &slug).await?;
    file_can_change(&script)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    let upload = Upload {
        uuid: uuid::Uuid::new_v4().to_string(),
        script_id: script.id,
        // Nothing is there until the file is posted; each post writes a key of its own.
        file_key: script_files::new_key(&script.slug),
        file_name: script_files::clean_name(&body.name, &format!("{}.trub", script.slug)),
        created_on: now_micros(),
        done_on: None,
    };
    script_uploads::create(&state.db.meta, &upload, caller.user.id).await?;
    let expires = now_secs() + DEFAULT_LIFETIME_SECS;
    let signature = state
        .links
        .sign(UPLOAD, &[&script.slug, &upload.uuid], expires);
    Ok((
        StatusCode::ACCEPTED,
        Reply(UploadTarget {
            url: format!("{origin}/api/v1/ota/script/{}/presigned/", script.slug),
            fields: UploadFields {
                uuid: upload.uuid.clone(),
                expires: expires.to_string(),
                signature,
            },
            uuid: upload.uuid,
        }),
    ))
}

fn form_text<'a>(form: &'a Form, key: &str) -> Option<&'a str> {
    form.fields
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn link_refusal(e: LinkError, what: &str, expires: i64) -> ApiError {
    ApiError::Forbidden(match e {
        LinkError::Incomplete => format!("This {what} is incomplete: it needs its expiry and signature."),
        LinkError::Altered => format!(
            "This {what} is not valid: it was altered, or made for something that has changed since."
        ),
        LinkError::Expired => format!(
            "This {what} expired at {}; ask for a new one.",
            format(expires.saturating_mul(1_000_000))
        ),
    })
}

/// The target of an upload URL: the file, with the token `uploadurl` gave, without
/// credentials.
async fn presigned(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<StatusCode> {
    const WHAT: &str = "upload URL";
    let incomplete = || link_refusal(LinkError::Incomplete, WHAT, 0);
    let form = read_form(multipart.map_err(|_| incomplete())?).await?;
    let (Some(uuid), Some(expires), Some(signature)) = (
        form_text(&form, "uuid"),
        form_text(&form, "expires"),
        form_text(&form, "signature"),
    ) else {
        return Err(incomplete());
    };
    let expires = expires
        .parse::<i64>()
        .map_err(|_| link_refusal(LinkError::Altered, WHAT, 0))?;
    let slug = slug.parse::<ScriptSlug>().map_err(|_| ApiError::NotFound)?;
    state
        .links
        .verify(
            UPLOAD,
            &[&slug.to_string(), uuid],
            expires,
            signature,
            now_secs(),
        )
        .map_err(|e| link_refusal(e, WHAT, expires))?;
    let script = ota_scripts::by_slug(&state.db.meta, slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    let upload = script_uploads::find(&state.db.meta, script.id, uuid)
        .await?
        .ok_or(ApiError::NotFound)?;
    if upload.done_on.is_some() {
        return Err(upload_finished());
    }
    file_can_change(&script)?;
    let (_, bytes) = form.file.ok_or_else(no_file)?;
    let key = script_files::new_key(&script.slug);
    script_files::describe(&key, &upload.file_name, &bytes).map_err(|e| not_a_script(&e))?;
    state
        .blobs
        .put(&key, bytes.into())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if !script_uploads::set_key(&state.db.meta, &upload.uuid, &key).await? {
        let _ = state.blobs.delete(&key).await;
        return Err(upload_finished());
    }
    Ok(StatusCode::NO_CONTENT)
}

fn upload_finished() -> ApiError {
    ApiError::bad_request("This upload was already attached; ask for a new upload URL.")
}

/// The upload to attach: the `uuid` that `uploadurl` gave.
#[derive(Deserialize, ToSchema)]
pub struct UploadSuccess {
    name: String,
    uuid: String,
}

/// The file attached by a two-step upload.
#[derive(Serialize, ToSchema)]
pub struct UploadedFile {
    /// The upload's id.
    pub id: String,
    /// The file's name.
    pub title: String,
    /// A signed download link.
    pub url: Option<String>,
    /// `script`.
    pub file_type: &'static str,
    #[schema(format = DateTime)]
    pub created_on: String,
    /// The uploader's account slug.
    pub created_by: String,
}

/// Where to download a script's file.
#[derive(Serialize, ToSchema)]
pub struct FileLocation {
    pub name: String,
    /// A signed download link, valid without credentials for a while.
    pub url: String,
    /// The object-store key.
    pub key: String,
    pub major_version: i64,
    pub minor_version: i64,
    pub patch_version: i64,
}

async fn upload_success(
    State(state): State<AppState>,
    caller: Caller,
    Origin(origin): Origin,
    Path(slug): Path<String>,
    Json(body): Json<UploadSuccess>,
) -> ApiResult<(StatusCode, Reply<UploadedFile>)> {
    let script = load_for_change(&state, &caller, &slug).await?;
    let pool = &state.db.meta;
    let illegal = || ApiError::bad_request("Illegal or duplicate UUID");
    let upload = script_uploads::find(pool, script.id, body.uuid.trim())
        .await?
        .filter(|u| u.done_on.is_none())
        .ok_or_else(illegal)?;
    let name = script_files::clean_name(&body.name, &upload.file_name);
    if name != upload.file_name {
        return Err(ApiError::field(
            "name",
            format!(
                "The upload URL was made for {:?}, not {name:?}.",
                upload.file_name
            ),
        ));
    }
    file_can_change(&script)?;
    let bytes = match state.blobs.get(&upload.file_key).await {
        Ok(bytes) => bytes,
        Err(BlobError::NotFound(_)) => {
            return Err(ApiError::bad_request(
                "Nothing was posted to the upload URL for this uuid yet.",
            ))
        }
        Err(e) => return Err(ApiError::Internal(e.into())),
    };
    let file = script_files::describe(&upload.file_key, &upload.file_name, &bytes)
        .map_err(|e| not_a_script(&e))?;
    let now = now_micros();
    if !script_uploads::finish(pool, &upload.uuid, now).await? {
        return Err(illegal());
    }
    attach(&state, &script, &file).await?;
    let fresh = reload(&state, script.id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Reply(UploadedFile {
            id: upload.uuid,
            title: upload.file_name,
            url: download_url(&state.links, &origin, &fresh, now_secs()),
            file_type: "script",
            created_on: format(now),
            created_by: caller.user.slug.clone(),
        }),
    ))
}

/// Where coretools finds the script's bytes. Users fetch released scripts only (as in the
/// original); staff fetch any.
async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Origin(origin): Origin,
    Path(slug): Path<String>,
) -> ApiResult<Reply<FileLocation>> {
    let script = load(&state, &caller, &slug).await?;
    if !script.released && !caller.is_staff() {
        return Err(ApiError::NotFound);
    }
    let (Some(file), Some(url)) = (
        script.file.as_ref(),
        download_url(&state.links, &origin, &script, now_secs()),
    ) else {
        return Err(ApiError::Detail(
            StatusCode::NOT_FOUND,
            format!("{} has no file yet.", script.slug),
        ));
    };
    Ok(Reply(FileLocation {
        name: file.name.clone(),
        url,
        key: file.key.clone(),
        major_version: script.major,
        minor_version: script.minor,
        patch_version: script.patch,
    }))
}

/// The bytes, for whoever holds a valid link; no credentials.
async fn download(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    params: Params,
) -> ApiResult<Response> {
    const WHAT: &str = "download link";
    let (Some(expires), Some(sig)) = (params.get("expires"), params.get("sig")) else {
        return Err(link_refusal(LinkError::Incomplete, WHAT, 0));
    };
    let expires = expires
        .parse::<i64>()
        .map_err(|_| link_refusal(LinkError::Altered, WHAT, 0))?;
    let slug = slug.parse::<ScriptSlug>().map_err(|_| ApiError::NotFound)?;
    let script = ota_scripts::by_slug(&state.db.meta, slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    // A link made for a file since replaced does not verify: its SHA-256 is not this one's.
    let file = script
        .file
        .as_ref()
        .ok_or_else(|| link_refusal(LinkError::Altered, WHAT, expires))?;
    state
        .links
        .verify(
            DOWNLOAD,
            &[&script.slug, &file.sha256],
            expires,
            sig,
            now_secs(),
        )
        .map_err(|e| link_refusal(e, WHAT, expires))?;
    let bytes = match script_files::read(&state.blobs, file).await {
        Ok(bytes) => bytes,
        // Replaced while this request ran.
        Err(FileError::Missing) => return Err(link_refusal(LinkError::Altered, WHAT, expires)),
        Err(FileError::Altered) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "the stored file of {} does not match its SHA-256",
                script.slug
            )))
        }
        Err(FileError::Store(e)) => return Err(ApiError::Internal(e.into())),
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.name))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        bytes,
    )
        .into_response())
}
