//! `GET /api/v1/device/{slug}/versions/`: the latest OS and app version records of a device
//! (spec 3.5), as its version streams reported them.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;

use super::device::load;
use super::error::ApiResult;
use super::json::Reply;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::device_versions::{self, DeviceVersion};
use crate::time;

pub fn routes() -> Router<AppState> {
    Router::new().route("/device/{slug}/versions", get(versions))
}

/// A device's latest version record of one kind.
#[derive(Serialize, ToSchema)]
pub struct VersionView {
    /// `os` or `app`.
    #[serde(rename = "type")]
    pub kind: String,
    pub tag: u32,
    /// `vM.m`.
    pub version: String,
    pub streamer_local_id: i64,
    #[schema(format = DateTime)]
    pub updated_ts: String,
}

pub fn view(v: &DeviceVersion) -> VersionView {
    VersionView {
        kind: v.kind.clone(),
        tag: v.version.tag,
        version: v.version_text(),
        streamer_local_id: v.streamer_local_id,
        updated_ts: time::format(v.updated_ts),
    }
}

async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<Vec<VersionView>>> {
    let device = load(&state, &caller, &slug).await?;
    let latest = device_versions::latest(&state.db.meta, device.id).await?;
    Ok(Reply(latest.iter().map(view).collect()))
}
