//! `GET /api/v1/health/`: a cheap, unauthenticated liveness check for load balancers and
//! container health checks. 200 once both databases answer a trivial query, 503 otherwise.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use sqlx::AnyPool;

use crate::state::AppState;

/// Well under a health checker's own timeout, so a hung database gives a 503, not silence.
const DB_TIMEOUT: Duration = Duration::from_secs(3);

pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let meta = ping(&state.db.meta).await;
    let data = ping(&state.db.data).await;
    match (meta, data) {
        (Ok(()), Ok(())) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        (meta, data) => {
            let detail = meta.err().or(data.err()).unwrap_or_default();
            tracing::warn!(%detail, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "detail": "database unreachable"})),
            )
        }
    }
}

async fn ping(pool: &AnyPool) -> Result<(), String> {
    match tokio::time::timeout(DB_TIMEOUT, sqlx::query("SELECT 1").execute(pool)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {DB_TIMEOUT:?}")),
    }
}
