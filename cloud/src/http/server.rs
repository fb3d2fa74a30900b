//! `GET /api/v1/server/`: the server's clock and name, without authentication.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/server", get(info))
}

async fn info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "now": crate::time::format_seconds(crate::time::now_micros()),
        "stage": state.site.stage,
        "name": state.site.name,
        "company": state.site.company,
    }))
}
