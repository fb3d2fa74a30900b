//! `GET /api/v1/server/`: the server's clock and name, without authentication.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;

use super::json::Reply;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/server", get(info))
}

/// The server's clock and name.
#[derive(Serialize, ToSchema)]
pub struct ServerInfo {
    /// The server's clock, to the second.
    #[schema(format = DateTime)]
    pub now: String,
    pub stage: String,
    pub name: String,
    pub company: String,
}

async fn info(State(state): State<AppState>) -> Reply<ServerInfo> {
    Reply(ServerInfo {
        now: crate::time::format_seconds(crate::time::now_micros()),
        stage: state.site.stage.clone(),
        name: state.site.name.clone(),
        company: state.site.company.clone(),
    })
}
