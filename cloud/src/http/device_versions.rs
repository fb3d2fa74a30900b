//! `GET /api/v1/device/{slug}/versions/`: the latest OS and app version records of a device
//! (spec 3.5), as its version streams reported them.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::device::load;
use super::error::ApiResult;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::device_versions::{self, DeviceVersion};
use crate::time;

pub fn routes() -> Router<AppState> {
    Router::new().route("/device/{slug}/versions", get(versions))
}

pub fn view(v: &DeviceVersion) -> Value {
    json!({
        "type": v.kind,
        "tag": v.version.tag,
        "version": v.version_text(),
        "streamer_local_id": v.streamer_local_id,
        "updated_ts": time::format(v.updated_ts),
    })
}

async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let device = load(&state, &caller, &slug).await?;
    let latest = device_versions::latest(&state.db.meta, device.id).await?;
    Ok(axum::Json(Value::Array(latest.iter().map(view).collect())))
}
