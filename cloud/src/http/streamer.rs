//! `/api/v1/streamer/`: the streamers of devices and their acknowledged `last_id`
//! (spec 3.10, read side). Streamers are created by report ingest.
//!
//! Only streamers of active, claimed devices in the caller's orgs are visible; one outside
//! that scope is 404, as the original answers.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use sync_protocol::ids::{DeviceId, IdError, StreamerSlug};

use super::error::{ApiError, ApiResult};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::devices;
use crate::store::streamers::{self, Scope, Streamer};
use crate::time::format;

/// Selector of the system streamer.
const SYSTEM_SELECTOR: i64 = 0x5FFF;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/streamer", get(list))
        .route("/streamer/{slug}", get(retrieve))
}

/// The streamer object.
pub fn view(s: &Streamer) -> Value {
    json!({
        "id": s.id,
        "slug": s.slug,
        "device": s.device_slug,
        "process_engine_ver": s.process_engine_ver,
        "index": s.index,
        "last_id": s.last_id,
        "last_reboot_ts": s.last_reboot_ts.map(format),
        "is_system": s.selector == Some(SYSTEM_SELECTOR),
        "selector": s.selector,
    })
}

/// The caller's visibility, before any filter (report lists are scoped by it too).
pub(crate) fn scope_of(caller: &Caller) -> Scope {
    Scope {
        orgs: (!caller.staff_mode).then(|| caller.org_ids()),
        device_id: caller.device,
        ..Default::default()
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let mut scope = scope_of(&caller);
    if let Some(raw) = params.get("device") {
        let id = match raw.parse::<DeviceId>() {
            Ok(id) => i64::try_from(id.get()).map_err(|_| ApiError::NotFound)?,
            // A data block slug is well formed but names no device.
            Err(IdError::BlockNotDevice { .. }) => return Err(ApiError::NotFound),
            Err(e) => return Err(ApiError::bad_request(format!("Illegal device format. {e}"))),
        };
        devices::by_id(&state.db.meta, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        if scope.device_id.is_some_and(|only| only != id) {
            scope.orgs = Some(vec![]);
        }
        scope.device_id = Some(id);
    }
    if let Some(sel) = params.get("selector") {
        // A selector that is not a number matches nothing.
        scope.selector = Some(parse_int(sel).unwrap_or(-1));
    }
    if let Some(slug) = params.get("slug") {
        scope.slug = Some(
            slug.parse::<StreamerSlug>()
                .map_or_else(|_| slug.to_string(), |s| s.to_string()),
        );
    }
    let (count, found) = streamers::list(&state.db.meta, &scope, w.offset, w.size).await?;
    let results: Vec<Value> = found.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// Decimal, or hex with `0x` (selectors are usually written in hex).
fn parse_int(s: &str) -> Option<i64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A streamer by slug, read leniently so that coretools' `t--0000-0000-0000-{id:04x}--…`
/// finds devices whose id needs more than four hex digits.
async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let slug = slug
        .parse::<StreamerSlug>()
        .map_err(|_| ApiError::NotFound)?;
    let scope = Scope {
        slug: Some(slug.to_string()),
        ..scope_of(&caller)
    };
    let (_, found) = streamers::list(&state.db.meta, &scope, 0, 1).await?;
    let streamer = found.first().ok_or(ApiError::NotFound)?;
    Ok(axum::Json(view(streamer)))
}
