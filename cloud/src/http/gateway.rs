//! `/api/v1/gateway/`: site gateways with an ed25519 identity (ours; the original had none).
//!
//! An org admin makes a one-time code (`POST gateway/code/`); the gateway posts its public
//! key with that code and a proof of its private key (`POST gateway/register/`, no account
//! needed) and is bound to the code's org. From then on it signs every request
//! (`sync_protocol::gateway::envelope`): `POST gateway/sync/` checks the signature, the clock
//! skew and that the nonce is new, before it reads the batch. Reports then enter the same
//! intake as `streamer/report/`: stored raw, booked and queued, once per distinct content.
//! No bearer token lives on the gateway, and revoking it (`POST gateway/{key}/revoke/`) stops
//! it at its next request. A batch may also tell what the gateway still holds, which the
//! gateway list shows (`gateway_backlog`).

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sync_protocol::gateway::{
    self, BatchReport, GatewayPublicKey, Registration, ReportOutcome, SignedHeaders,
    StreamerProgress, SyncAnswer, SyncBatch,
};

use super::error::{ApiError, ApiResult};
use super::json::Json;
use super::report_upload::{self, FileKind, Incoming};
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::gateways::{self, Gateway, RegisterError};
use crate::store::orgs::Org;
use crate::store::{devices, ingest_log, orgs, streamers};
use crate::time::{self, now_micros};

/// How far a signed request's clock may be from ours, in seconds.
pub const MAX_SKEW_SECS: u64 = 300;
/// How long a registration code stays valid unless the admin says otherwise, and at most.
const CODE_HOURS: i64 = 24;
const CODE_HOURS_MAX: i64 = 24 * 30;
const HOUR: i64 = 3_600_000_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/gateway", get(list))
        .route("/gateway/code", post(create_code))
        .route("/gateway/register", post(register))
        .route("/gateway/sync", post(sync))
        .route("/gateway/{key}/revoke", post(revoke))
}

fn gateway_json(g: &Gateway, org_slug: &str) -> Value {
    json!({
        "id": g.key_id,
        "org": org_slug,
        "name": g.name,
        "created_on": time::format(g.created_on),
        "last_seen": g.last_seen.map(time::format),
        "revoked": g.revoked_on.is_some(),
        "revoked_on": g.revoked_on.map(time::format),
        "backlog": super::gateway_backlog::to_json(g),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    org: String,
    hours: Option<i64>,
}

async fn create_code(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CodeRequest>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let org = visible_org(&state, &caller, &req.org).await?;
    let made = make_code(&state, &caller, &org, req.hours).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(
            json!({"code": made.code, "org": org.slug, "expires": time::format(made.expires)}),
        ),
    ))
}

/// The org a slug names, when the caller sees it; 404 otherwise.
pub(crate) async fn visible_org(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<Org> {
    orgs::by_slug(&state.db.meta, slug)
        .await?
        .filter(|o| caller.sees_org(&o.id))
        .ok_or(ApiError::NotFound)
}

/// Whether the caller may make codes for the org's gateways and revoke them.
pub(crate) fn may_manage(caller: &Caller, org_id: &str) -> bool {
    caller.can(org_id, perm::MANAGE_ORG_AND_PROJECTS)
}

/// A registration code just made: the only moment it exists in clear.
pub(crate) struct NewCode {
    pub code: String,
    pub expires: i64,
}

/// Makes a one-time code for `org` (seen by the caller), valid for `hours` (24 unless
/// given); only its digest is kept. Shared by the API and the gateways page.
pub(crate) async fn make_code(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    hours: Option<i64>,
) -> ApiResult<NewCode> {
    if !may_manage(caller, &org.id) {
        return Err(ApiError::no_permission());
    }
    let hours = hours.unwrap_or(CODE_HOURS);
    if !(1..=CODE_HOURS_MAX).contains(&hours) {
        return Err(ApiError::field(
            "hours",
            format!("Ensure this value is between 1 and {CODE_HOURS_MAX}."),
        ));
    }
    let mut raw = [0u8; 10];
    getrandom::getrandom(&mut raw)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("randomness: {e}")))?;
    let hex = hex::encode_upper(raw);
    let code = format!(
        "{}-{}-{}-{}-{}",
        &hex[..4],
        &hex[4..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..]
    );
    let now = now_micros();
    let expires = now + hours * HOUR;
    let digest = hex::encode(Sha256::digest(code.as_bytes()));
    gateways::create_code(
        &state.db.meta,
        &digest,
        &org.id,
        caller.user.id,
        now,
        expires,
    )
    .await?;
    Ok(NewCode { code, expires })
}

async fn register(
    State(state): State<AppState>,
    Json(reg): Json<Registration>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let key =
        gateway::verify_registration(&reg).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let digest = hex::encode(Sha256::digest(
        reg.code.trim().to_ascii_uppercase().as_bytes(),
    ));
    let name = reg.name.as_deref().unwrap_or_default();
    let gateway = gateways::register(
        &state.db.meta_writes,
        &digest,
        &key.key_id(),
        name,
        now_micros(),
    )
    .await
    .map_err(|e| match e {
        RegisterError::BadCode => ApiError::bad_request("The code is unknown, used or expired."),
        RegisterError::KeyTaken => ApiError::Detail(
            StatusCode::CONFLICT,
            "This gateway key is already registered.".into(),
        ),
        RegisterError::Sql(e) => e.into(),
    })?;
    let org = orgs::by_id(&state.db.meta, &gateway.org_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tracing::info!(gateway = %gateway.key_id, org = %org.slug, "gateway registered");
    Ok((
        StatusCode::CREATED,
        axum::Json(gateway_json(&gateway, &org.slug)),
    ))
}

async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Value>> {
    let org_ids = caller.org_ids();
    let all = gateways::of_orgs(&state.db.meta, &org_ids).await?;
    let mut results = Vec::with_capacity(all.len());
    for g in &all {
        let slug = orgs::by_id(&state.db.meta, &g.org_id)
            .await?
            .map(|o| o.slug)
            .unwrap_or_default();
        results.push(gateway_json(g, &slug));
    }
    Ok(axum::Json(
        json!({"count": results.len(), "next": null, "previous": null, "results": results}),
    ))
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let gateway = revoke_gateway(&state, &caller, &key).await?;
    let slug = orgs::by_id(&state.db.meta, &gateway.org_id)
        .await?
        .map(|o| o.slug)
        .unwrap_or_default();
    Ok(axum::Json(gateway_json(&gateway, &slug)))
}

/// The gateway a key names, when the caller sees its org (404 otherwise) and may revoke it
/// (403 otherwise).
pub(crate) async fn revocable(state: &AppState, caller: &Caller, key: &str) -> ApiResult<Gateway> {
    let key = GatewayPublicKey::parse(key).map_err(|_| ApiError::NotFound)?;
    let gateway = gateways::by_key_id(&state.db.meta, &key.key_id())
        .await?
        .filter(|g| caller.sees_org(&g.org_id))
        .ok_or(ApiError::NotFound)?;
    if !may_manage(caller, &gateway.org_id) {
        return Err(ApiError::no_permission());
    }
    Ok(gateway)
}

/// Revokes a gateway (see [`revocable`]); the gateway as it is now. Revoking it again
/// changes nothing. Shared by the API and the gateways page.
pub(crate) async fn revoke_gateway(
    state: &AppState,
    caller: &Caller,
    key: &str,
) -> ApiResult<Gateway> {
    let gateway = revocable(state, caller, key).await?;
    gateways::revoke(&state.db.meta_writes, gateway.id, now_micros()).await?;
    let gateway = gateways::by_key_id(&state.db.meta, &gateway.key_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tracing::info!(gateway = %gateway.key_id, "gateway revoked");
    Ok(gateway)
}

fn unauthorized(reason: impl std::fmt::Display) -> ApiError {
    ApiError::Detail(
        StatusCode::UNAUTHORIZED,
        format!("Gateway signature refused: {reason}."),
    )
}

/// The registered, unrevoked gateway that signed this request (`method` on `uri` with
/// `body`); its nonce is remembered. Shared by every signed endpoint (`gateway_ota` too).
pub(crate) async fn signed_by(
    state: &AppState,
    method: &str,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> ApiResult<Gateway> {
    let signed = SignedHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .map_err(unauthorized)?;
    let gateway = gateways::by_key_id(&state.db.meta, &signed.key.key_id())
        .await?
        .ok_or_else(|| unauthorized("unknown gateway"))?;
    if gateway.revoked_on.is_some() {
        return Err(unauthorized("the gateway is revoked"));
    }
    let now = now_micros();
    let now_secs = u64::try_from(now / 1_000_000).unwrap_or(0);
    // Routing trims a final slash, so the path is checked as sent with and without it.
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let slashed = match path.split_once('?') {
        Some((p, q)) => format!("{p}/?{q}"),
        None => format!("{path}/"),
    };
    let check = |p: &str| {
        gateway::verify(
            &signed,
            &signed.key,
            method,
            p,
            body,
            now_secs,
            MAX_SKEW_SECS,
        )
    };
    let verified = check(&slashed)
        .or_else(|_| check(path))
        .map_err(unauthorized)?;
    let window = i64::try_from(2 * MAX_SKEW_SECS).unwrap_or(i64::MAX) * 1_000_000;
    let nonce = hex::encode(verified.nonce);
    if !gateways::remember_nonce(
        &state.db.meta_writes,
        gateway.id,
        &gateway.key_id,
        &nonce,
        now,
        now - window,
    )
    .await?
    {
        return Err(unauthorized("the request was replayed"));
    }
    Ok(gateway)
}

async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> ApiResult<axum::Json<SyncAnswer>> {
    let gateway = signed_by(&state, "POST", &headers, &uri, &body).await?;
    let arrived = now_micros();
    if body.len() > gateway::batch::MAX_BATCH_BODY_BYTES {
        return Err(ApiError::Detail(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The batch is too large.".into(),
        ));
    }
    let batch: SyncBatch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("JSON parse error - {e}")))?;
    batch
        .check_limits()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let uploader = format!("gateway {}", gateway.key_id);
    let mut results = Vec::with_capacity(batch.reports.len());
    // Per (device, streamer) of the batch: the highest id its stored reports will hold.
    let mut cloud_has: Vec<StreamerProgress> = Vec::new();
    for report in &batch.reports {
        let (outcome, holds_to) = intake(&state, &gateway, &uploader, report).await?;
        results.push(outcome);
        let holds_to = holds_to.and_then(|id| u32::try_from(id).ok()).unwrap_or(0);
        match cloud_has
            .iter_mut()
            .find(|p| p.device == report.device && p.streamer == report.streamer)
        {
            Some(p) => p.last_id = p.last_id.max(holds_to),
            None => cloud_has.push(StreamerProgress {
                device: report.device,
                streamer: report.streamer,
                last_id: holds_to,
            }),
        }
    }
    for p in &mut cloud_has {
        p.last_id = p.last_id.max(held_to(&state, &gateway, p).await?);
    }
    // Only once every report is in: the backlog counts the batch as accepted.
    super::gateway_backlog::record(&state, &gateway, arrived, batch.backlog.as_ref()).await?;
    Ok(axum::Json(SyncAnswer { results, cloud_has }))
}

/// The highest reading id the cloud holds of a streamer, as processing committed it. With
/// the batch's stored reports it makes `cloud_has`, up to which the gateway's `cloud` policy
/// lets the POD free readings, so every reading up to it that the POD still keeps must be
/// held here. Holes may lie below it, safely: a POD streams from its acknowledged cursor in id
/// order, each attempt a run of reports that each start where the previous one ended, and a
/// report's span is complete for its streamer. Below the first id of a held report the POD
/// therefore keeps only readings of earlier reports of the same attempt, which the gateway
/// that got them uploads in order, in this batch or before. A hole is readings already freed
/// under another gateway's custody (stored when they come) or other streamers' ids, which
/// never fill, so the answer must not wait for holes. Reports not processed yet count because
/// their raw bytes are stored before the answer and processing will not refuse them
/// (`report_upload::holds_to`). Another org's device gets 0.
async fn held_to(state: &AppState, gateway: &Gateway, p: &StreamerProgress) -> ApiResult<u32> {
    let device_id = i64::try_from(p.device.get()).unwrap_or(-1);
    let device = devices::by_id(&state.db.meta, device_id).await?;
    if device.is_none_or(|d| d.org_id.as_deref() != Some(gateway.org_id.as_str())) {
        return Ok(0);
    }
    let slug = streamers::slug_of(device_id, p.streamer);
    let held = ingest_log::progress(&state.db.data, &slug).await?;
    Ok(u32::try_from(held).unwrap_or(u32::MAX))
}

/// One report of a batch into the common intake, and the highest id the cloud will hold with
/// it. Refusals are answered per report; a storage failure fails the whole request, so the
/// gateway retries the batch.
async fn intake(
    state: &AppState,
    gateway: &Gateway,
    uploader: &str,
    r: &BatchReport,
) -> ApiResult<(ReportOutcome, Option<u64>)> {
    let reject = |reason: String| Ok((ReportOutcome::Rejected { reason }, None));
    // A signed list report opens with its format byte; anything else is a flexible report.
    let kind = if r.raw.first() == Some(&1) {
        FileKind::SignedList
    } else {
        FileKind::Msgpack
    };
    let decoded = match report_upload::decode(kind, &r.raw) {
        Ok(d) => d,
        Err(_) => return reject("the report does not decode".into()),
    };
    if decoded.device_id() != r.device.get() {
        return reject(format!(
            "the report is from device {:#x}, not {}",
            decoded.device_id(),
            r.device
        ));
    }
    if r.received_at_us > now_micros() + HOUR {
        return reject("the receive time is more than an hour in the future".into());
    }
    let device_id = i64::try_from(r.device.get()).unwrap_or(-1);
    let device = match devices::by_id(&state.db.meta, device_id).await? {
        Some(d)
            if d.org_id.as_deref() == Some(gateway.org_id.as_str()) && d.project_id.is_some() =>
        {
            d
        }
        _ => {
            return reject(format!(
                "device {} is not claimed in this gateway's org",
                r.device
            ))
        }
    };
    let incoming = Incoming {
        kind,
        bytes: r.raw.clone(),
        decoded,
        device_id: device.id,
        device_slug: &device.slug,
        received: r.received_at_us,
        created_by: gateway.created_by,
        uploader,
    };
    match report_upload::store(state, incoming, now_micros()).await {
        Ok(stored) if stored.job.is_some() => Ok((ReportOutcome::Accepted, stored.holds_to)),
        Ok(stored) => Ok((ReportOutcome::Duplicate, stored.holds_to)),
        Err(ApiError::Plain(reason)) => reject(reason),
        Err(e) => Err(e),
    }
}
