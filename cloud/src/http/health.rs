//! `GET /api/v1/health/`: a cheap, unauthenticated liveness check for load balancers and
//! container health checks. 200 once both databases answer a trivial query, 503 otherwise.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use sqlx::AnyPool;
use utoipa::ToSchema;

use super::json::Reply;
use crate::state::AppState;

/// Well under a health checker's own timeout, so a hung database gives a 503, not silence.
const DB_TIMEOUT: Duration = Duration::from_secs(3);

pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

/// `{"status": "ok"}`, or `{"status": "unavailable", "detail": …}` with the 503.
#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

async fn health(State(state): State<AppState>) -> (StatusCode, Reply<Health>) {
    let meta = ping(&state.db.meta).await;
    let data = ping(&state.db.data).await;
    match (meta, data) {
        (Ok(()), Ok(())) => (
            StatusCode::OK,
            Reply(Health {
                status: "ok",
                detail: None,
            }),
        ),
        (meta, data) => {
            let detail = meta.err().or(data.err()).unwrap_or_default();
            tracing::warn!(%detail, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Reply(Health {
                    status: "unavailable",
                    detail: Some("database unreachable"),
                }),
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
