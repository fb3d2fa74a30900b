//! `GET ota/feed/?org=<slug>`: the OTA feed of one org for a person's agent (the field
//! technicians' desktop app), exactly as a gateway of that org gets it from `gateway/ota/`
//! (`gateway_ota`): the org's release keys, whether it allows unsigned scripts, and each
//! running deployment with the devices it may update now. The app keeps it to update PODs
//! offline, checking scripts against these keys before the first RPC.
//!
//! Ours (the original's companion app asked per device). Needs `can_access_companion` in
//! the org; an org the caller cannot see is 404. `ETag` and `If-None-Match` as the
//! gateway's feed.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::error::{ApiError, ApiResult};
use super::gateway::visible_org;
use super::gateway_ota::{build, feed_response};
use super::params::Params;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/ota/feed", get(feed))
}

async fn feed(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    params: Params,
) -> ApiResult<Response> {
    let slug = params
        .get("org")
        .ok_or_else(|| ApiError::field("org", "This field is required."))?;
    let org = visible_org(&state, &caller, slug).await?;
    if !caller.can(&org.id, perm::ACCESS_COMPANION) {
        return Err(ApiError::no_permission());
    }
    let feed = build(&state, &org.id).await?;
    feed_response(&headers, &feed)
}
