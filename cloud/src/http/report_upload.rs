//! `POST /api/v1/streamer/report/?timestamp=`: a streamer report uploaded as a multipart
//! `file` (spec 5.1–5.4), as coretools' `upload_report` and gateways send it.
//!
//! Everything that can be checked without the worker is checked here, in the original's
//! order and words. The raw file is stored before anything is acknowledged; then the report's
//! books, the device heartbeat and the processing job are written in one transaction. The
//! answer's `count` is the number of readings in the file, for a repeated upload too.

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sync_protocol::auth::{RootKey, SignatureFlags};
use sync_protocol::report::{FlexibleDictionaryReport, SignedListReport};
use sync_protocol::Reading;

use super::error::{ApiError, ApiResult};
use super::event_upload::{read_form, NO_FILE};
use super::params::Params;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::ingest::{self, engine};
use crate::state::AppState;
use crate::store::{device_keys, devices, reports, streamers};
use crate::time::{self, now_micros};

/// The file kinds the original accepts, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    SignedList,
    Msgpack,
    Json,
}

impl FileKind {
    pub fn of(filename: &str) -> Option<FileKind> {
        let lower = filename.to_ascii_lowercase();
        let base = lower.rsplit('/').next().unwrap_or_default();
        match base.rsplit_once('.') {
            None => Some(FileKind::SignedList),
            Some((_, "bin")) => Some(FileKind::SignedList),
            Some((_, "mp")) => Some(FileKind::Msgpack),
            Some((_, "json")) => Some(FileKind::Json),
            Some(_) => None,
        }
    }

    pub fn ext(self) -> &'static str {
        match self {
            FileKind::SignedList => "bin",
            FileKind::Msgpack => "mp",
            FileKind::Json => "json",
        }
    }
}

/// The key types under which a device's report-signing keys are kept.
pub const USER_KEY: &str = "USR";
pub const DEVICE_KEY: &str = "DEV";

/// An uploaded report, decoded.
pub enum Decoded {
    SignedList(SignedListReport),
    Flexible(FlexibleDictionaryReport),
}

impl Decoded {
    pub fn device_id(&self) -> u64 {
        match self {
            Decoded::SignedList(r) => u64::from(r.header.device_id),
            Decoded::Flexible(r) => r.device_id(),
        }
    }

    fn streamer(&self) -> (u16, Option<i64>) {
        match self {
            Decoded::SignedList(r) => (
                u16::from(r.header.streamer),
                Some(i64::from(r.header.selector)),
            ),
            Decoded::Flexible(r) => (
                u16::try_from(r.streamer().unwrap_or(0x100)).unwrap_or(u16::MAX),
                r.selector().and_then(|s| i64::try_from(s).ok()),
            ),
        }
    }

    /// Readings in the file: what the answer's `count` says.
    fn count(&self) -> usize {
        match self {
            Decoded::SignedList(r) => r.reading_count(),
            Decoded::Flexible(r) => r.readings().len() + r.events().len(),
        }
    }
}

/// Decodes a file of a kind. Errors are the original's 400 bodies.
pub fn decode(kind: FileKind, bytes: &[u8]) -> ApiResult<Decoded> {
    match kind {
        FileKind::SignedList => {
            match bytes.first() {
                None => {
                    return Err(ApiError::Plain(
                        "unpack requires a buffer of 20 bytes".into(),
                    ))
                }
                Some(1) => {}
                Some(other) => {
                    return Err(ApiError::Plain(format!(
                        "Unsupported Report Format: {other}"
                    )))
                }
            }
            SignedListReport::decode(bytes)
                .map(Decoded::SignedList)
                .map_err(|e| ApiError::Plain(e.to_string()))
        }
        FileKind::Msgpack => decode_flexible(bytes.to_vec()),
        FileKind::Json => {
            let value: Value = serde_json::from_slice(bytes)
                .map_err(|e| ApiError::Plain(format!("JSON parsing error: {e}")))?;
            let mut packed = Vec::with_capacity(bytes.len());
            rmpv::encode::write_value(&mut packed, &to_msgpack(&value))
                .map_err(|e| ApiError::Plain(format!("JSON parsing error: {e}")))?;
            decode_flexible(packed)
        }
    }
}

const FLEX_REQUIRED: [&str; 8] = [
    "format",
    "device",
    "streamer_index",
    "streamer_selector",
    "device_sent_timestamp",
    "incremental_id",
    "lowest_id",
    "highest_id",
];

fn decode_flexible(packed: Vec<u8>) -> ApiResult<Decoded> {
    let report = FlexibleDictionaryReport::decode(&packed)
        .map_err(|e| ApiError::Plain(format!("JSON parsing error: {e}")))?;
    let missing: serde_json::Map<String, Value> = FLEX_REQUIRED
        .iter()
        .filter(|key| !has_key(report.document(), key))
        .map(|key| (key.to_string(), json!(["This field is required."])))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::Fields(missing));
    }
    Ok(Decoded::Flexible(report))
}

fn has_key(document: &rmpv::Value, key: &str) -> bool {
    document.as_map().is_some_and(|entries| {
        entries.iter().any(|(k, _)| match k {
            rmpv::Value::String(s) => s.as_str() == Some(key),
            rmpv::Value::Binary(b) => b.as_slice() == key.as_bytes(),
            _ => false,
        })
    })
}

/// The same document in msgpack's data model, so `.json` files take the `.mp` path.
fn to_msgpack(value: &Value) -> rmpv::Value {
    match value {
        Value::Null => rmpv::Value::Nil,
        Value::Bool(b) => rmpv::Value::Boolean(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => rmpv::Value::from(i),
            (None, Some(u)) => rmpv::Value::from(u),
            _ => rmpv::Value::F64(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => rmpv::Value::from(s.as_str()),
        Value::Array(items) => rmpv::Value::Array(items.iter().map(to_msgpack).collect()),
        Value::Object(map) => rmpv::Value::Map(
            map.iter()
                .map(|(k, v)| (rmpv::Value::from(k.as_str()), to_msgpack(v)))
                .collect(),
        ),
    }
}

/// The key a keyed signed-list report is checked with, from the device-key store.
pub async fn signing_key(
    state: &AppState,
    device_id: i64,
    flags: SignatureFlags,
) -> ApiResult<Option<RootKey>> {
    let key_type = match flags {
        SignatureFlags::Hash => return Ok(None),
        SignatureFlags::UserKey => USER_KEY,
        SignatureFlags::DeviceKey => DEVICE_KEY,
    };
    let stored = device_keys::secret(&state.db.meta, device_id, key_type).await?;
    Ok(stored.and_then(|hex| RootKey::from_hex(hex.trim()).ok()))
}

/// The form of a report upload.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // described, never built: `read_form` reads the fields as they come
pub struct ReportForm {
    /// The report: a `.bin` signed list report, or a `.json`/`.mp` flexible report.
    #[schema(format = Binary)]
    file: String,
}

/// A report stored: its id, its streamer and how many readings it carries; with the
/// processing job, or `duplicate` when the same bytes came before.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReportStored {
    pub count: usize,
    /// The report's id.
    pub report: String,
    /// The streamer's slug.
    pub streamer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
}

pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, super::json::Reply<ReportStored>)> {
    let no_file = || ApiError::error_body(StatusCode::BAD_REQUEST, NO_FILE);
    let form = read_form(multipart.map_err(|_| no_file())?).await?;
    let (filename, bytes) = form.file.ok_or_else(no_file)?;
    let stamp = params.get("timestamp").ok_or_else(|| {
        ApiError::error_body(StatusCode::BAD_REQUEST, "missing timestamp argument")
    })?;
    let received = time::parse(stamp, false).ok_or_else(|| {
        ApiError::Plain("Upload function requires a ?timestamp=str argument in UTC format".into())
    })?;
    let now = now_micros();
    if received > now + 3_600_000_000 {
        return Err(ApiError::Plain(format!(
            "Base time computation error: the upload timestamp {stamp} is more than an hour in the future"
        )));
    }
    let kind = FileKind::of(&filename).ok_or_else(|| {
        ApiError::Plain(
            "Streamer Report file extension not supported. Expected: .bin, .json or .mp".into(),
        )
    })?;
    let decoded = match decode(kind, &bytes) {
        Ok(d) => d,
        Err(e) => {
            keep_rejected(&state, kind, &bytes, now).await;
            return Err(e);
        }
    };

    let device_id = i64::try_from(decoded.device_id()).map_err(|_| ApiError::NotFound)?;
    let device = devices::by_id(&state.db.meta, device_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (Some(org), Some(_)) = (device.org_id.as_deref(), device.project_id.as_deref()) else {
        return Err(ApiError::Plain(format!(
            "Device {} has not been claimed. Yet, it is uploading a report",
            device.slug
        )));
    };
    // Ours: the original let any user upload for any claimed device.
    if !caller.may_touch_device(device.id) || !caller.can(org, perm::CREATE_STREAM_DATA) {
        return Err(ApiError::no_permission());
    }
    let stored = store(
        &state,
        Incoming {
            kind,
            bytes,
            decoded,
            device_id: device.id,
            device_slug: &device.slug,
            received,
            created_by: caller.user.id,
            uploader: &caller.user.username,
        },
        now,
    )
    .await?;
    let body = ReportStored {
        count: stored.count,
        report: stored.report,
        streamer: stored.streamer,
        job: stored.job,
        duplicate: stored.job.is_none().then_some(true),
    };
    Ok((StatusCode::CREATED, super::json::Reply(body)))
}

/// A decoded report whose device the sender may write to, on its way into the books.
pub struct Incoming<'a> {
    pub kind: FileKind,
    pub bytes: Vec<u8>,
    pub decoded: Decoded,
    pub device_id: i64,
    pub device_slug: &'a str,
    /// When the sender received the report from the device (UTC micros).
    pub received: i64,
    pub created_by: i64,
    /// Who sent it, for the refusal messages.
    pub uploader: &'a str,
}

/// What was stored for an accepted report.
pub struct StoredReport {
    pub report: String,
    pub streamer: String,
    pub count: usize,
    /// The processing job; `None` when the same bytes were stored before.
    pub job: Option<i64>,
    /// The highest reading id the cloud holds once this report is processed, when its raw
    /// bytes are stored and nothing known now will make processing refuse it.
    pub holds_to: Option<u64>,
}

/// The highest reading id (not 0) of a verified report that processing will accept: not one
/// of the "no reboots" streamer, and with a receive time the engine can place.
fn holds_to(
    decoded: &Decoded,
    readings: &[Reading],
    streamer_selector: Option<i64>,
    received: i64,
) -> Option<u64> {
    let refused = i64::from(engine::NO_REBOOTS_SELECTOR);
    if streamer_selector == Some(refused) || engine::received_time(received).is_err() {
        return None;
    }
    match decoded {
        Decoded::SignedList(r) if i64::from(r.header.selector) == refused => None,
        Decoded::SignedList(_) => ingest::signed_covers(readings).max(),
        Decoded::Flexible(r) => ingest::flexible_covers(r).max(),
    }
}

/// Verifies a report's signature, then stores its raw bytes, its books and its processing
/// job; the same bytes a second time are recognised and stored once. Shared by the report
/// upload and the gateway sync.
pub async fn store(state: &AppState, r: Incoming<'_>, now: i64) -> ApiResult<StoredReport> {
    let (index, selector) = r.decoded.streamer();
    let mut readings = Vec::new();
    if let Decoded::SignedList(report) = &r.decoded {
        let key = signing_key(state, r.device_id, report.flags).await?;
        let user = r.uploader;
        if report.flags != SignatureFlags::Hash && key.is_none() {
            return Err(ApiError::Plain(format!(
                "Unrecognized signature flags (user=@{user})"
            )));
        }
        match report.readings(key.as_ref()) {
            Ok(verified) => readings = verified,
            Err(_) => {
                keep_rejected(state, r.kind, &r.bytes, now).await;
                return Err(ApiError::Plain(format!(
                    "Invalid Hash: {} (idx={index}, user=@{user})",
                    r.device_slug
                )));
            }
        }
    }

    let streamer =
        streamers::upsert(&state.db.meta_writes, r.device_id, index, selector, 0).await?;
    let digest = hex::encode(Sha256::digest(&r.bytes));
    let count = r.decoded.count();
    let top = holds_to(&r.decoded, &readings, streamer.selector, r.received);
    if let Some(earlier) = reports::by_digest(&state.db.meta, streamer.id, &digest).await? {
        // The same bytes again: already stored and queued once, so answered as before.
        return Ok(StoredReport {
            report: earlier.id,
            streamer: streamer.slug,
            count,
            job: None,
            holds_to: top.filter(|_| earlier.status != "failed"),
        });
    }
    let id = uuid::Uuid::new_v4().to_string();
    let stamp_path = time::to_datetime(now).format("%Y/%m/%d/%H");
    let raw_key = format!("{}/{stamp_path}/{id}.{}", streamer.slug, r.kind.ext());
    state
        .blobs
        .put(&raw_key, r.bytes.into())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, key = %raw_key, "storing an uploaded report failed");
            ApiError::Detail(
                StatusCode::SERVICE_UNAVAILABLE,
                "The report could not be stored; try again.".into(),
            )
        })?;
    let (device_sent, incremental) = match &r.decoded {
        Decoded::SignedList(rep) => (
            Some(i64::from(rep.header.sent_timestamp)),
            Some(i64::from(rep.header.report_id)),
        ),
        Decoded::Flexible(rep) => (
            i64::try_from(rep.sent_timestamp()).ok(),
            i64::try_from(rep.report_id()).ok(),
        ),
    };
    let new = reports::NewReport {
        id: &id,
        streamer_id: streamer.id,
        streamer_slug: &streamer.slug,
        device_id: r.device_id,
        sent_timestamp: r.received,
        device_sent_timestamp: device_sent,
        incremental_id: incremental,
        created_by: r.created_by,
        raw_key: &raw_key,
        sha256: &digest,
        ext: r.kind.ext(),
        reading_count: i64::try_from(count).unwrap_or(i64::MAX),
    };
    let job = reports::accept(&state.db.meta_writes, &new, now).await?;
    state.jobs_ready.notify_one();
    Ok(StoredReport {
        report: id,
        streamer: streamer.slug,
        count,
        job: Some(job),
        holds_to: top,
    })
}

/// Keeps a refused file for staff to look at, as the original's "errors" folder did. Best
/// effort: the refusal is answered either way.
pub async fn keep_rejected(state: &AppState, kind: FileKind, bytes: &[u8], now: i64) {
    let key = format!(
        "errors/{}/{}.{}",
        time::to_datetime(now).format("%Y/%m/%d"),
        uuid::Uuid::new_v4(),
        kind.ext()
    );
    if let Err(e) = state.blobs.put(&key, bytes.to_vec().into()).await {
        tracing::warn!(error = %e, "keeping a refused report failed");
    }
}

#[cfg(test)]
mod tests {
    use super::FileKind;

    #[test]
    fn file_kinds_by_name() {
        assert_eq!(FileKind::of("report.bin"), Some(FileKind::SignedList));
        assert_eq!(FileKind::of("report"), Some(FileKind::SignedList));
        assert_eq!(FileKind::of("REPORT.MP"), Some(FileKind::Msgpack));
        assert_eq!(FileKind::of("r.json"), Some(FileKind::Json));
        assert_eq!(FileKind::of("photo.jpg"), None);
    }
}
