//! `/api/v1/ota/request/{id}/{release,complete,halt,resume}/`: a deployment's state changes
//! by hand (ours; the original set `released_on` and `completed_on` in its web UI only).
//!
//! - `release/ {released_on?}`: a draft starts (now, or at the time given); its targets are
//!   frozen: the active devices of its fleet (or of its org) whose recorded versions meet its
//!   criteria, each in its rollout wave. The script must be released.
//! - `complete/`: done, whatever the devices say (the spec's manual completion).
//! - `halt/ {reason?}`: a running deployment is offered to no one.
//! - `resume/`: a halted one runs again; the wave it halted in stays open, and the next one
//!   opens if that wave had already reached its `advance_at`. Failures reported before the
//!   resume no longer count towards halting.
//!
//! Each needs `can_manage_ota` in the deployment's org and answers with the request object.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::json::Json;
use super::ota_request::{evaluated, load_for_change, released_on, script_not_releasable, view};
use crate::auth::Caller;
use crate::ota::advance::{self, Evaluated, Released};
use crate::ota::State as DeploymentState;
use crate::state::AppState;
use crate::store::deployments::{self, Deployment};
use crate::time::now_micros;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ota/request/{id}/release", post(release))
        .route("/ota/request/{id}/complete", post(complete))
        .route("/ota/request/{id}/halt", post(halt))
        .route("/ota/request/{id}/resume", post(resume))
}

fn refused(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(msg)
}

fn changed_meanwhile() -> ApiError {
    ApiError::Detail(
        StatusCode::CONFLICT,
        "The deployment changed meanwhile; try again.".into(),
    )
}

#[derive(Deserialize)]
struct Release {
    released_on: Option<String>,
}

async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Release>,
) -> ApiResult<axum::Json<Value>> {
    let e = release_draft(&state, &caller, &id, body.released_on.as_deref()).await?;
    Ok(axum::Json(view(&e)))
}

/// Releases a draft (now, or at `released_on`): its targets are frozen. Shared by the API
/// and the deployment page, as are the three state changes after it.
pub(crate) async fn release_draft(
    state: &AppState,
    caller: &Caller,
    id: &str,
    released_on_text: Option<&str>,
) -> ApiResult<Evaluated> {
    let d = load_for_change(state, caller, id).await?;
    if d.state != DeploymentState::Draft {
        return Err(refused(format!(
            "The deployment is {}, not a draft.",
            d.state
        )));
    }
    if let Some(reason) = script_not_releasable(state, &d).await? {
        return Err(refused(reason));
    }
    let now = now_micros();
    let at = released_on(released_on_text)?.unwrap_or(now);
    let mut tx = state.db.meta_writes.begin().await?;
    match advance::release(&mut tx, &d, at, now).await? {
        Released::Done(e) => {
            tx.commit().await?;
            Ok(*e)
        }
        Released::NotDraft => Err(changed_meanwhile()),
        Released::NoTargets { candidates } => {
            Err(refused(Released::no_targets_message(candidates)))
        }
    }
}

async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let e = complete_by_hand(&state, &caller, &id).await?;
    Ok(axum::Json(view(&e)))
}

/// Completes a deployment by hand, whatever its devices say.
pub(crate) async fn complete_by_hand(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<Evaluated> {
    let d: Deployment = load_for_change(state, caller, id).await?;
    if d.state != DeploymentState::Completed {
        let reason = format!("completed by hand by {}", caller.user.username);
        if !deployments::complete(&state.db.meta_writes, d.id, d.state, now_micros(), &reason)
            .await?
        {
            return Err(changed_meanwhile());
        }
        tracing::info!(deployment = d.id, %reason, "deployment completed");
    }
    as_now(state, d.id).await
}

#[derive(Deserialize)]
struct Halt {
    reason: Option<String>,
}

async fn halt(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Halt>,
) -> ApiResult<axum::Json<Value>> {
    let e = halt_by_hand(&state, &caller, &id, body.reason.as_deref()).await?;
    Ok(axum::Json(view(&e)))
}

/// Halts a running deployment, with the caller's reason if given.
pub(crate) async fn halt_by_hand(
    state: &AppState,
    caller: &Caller,
    id: &str,
    reason: Option<&str>,
) -> ApiResult<Evaluated> {
    let d = load_for_change(state, caller, id).await?;
    if d.state != DeploymentState::Running {
        return Err(refused(format!(
            "The deployment is {}, not running.",
            d.state
        )));
    }
    let why = reason.map(str::trim).unwrap_or_default();
    let reason = match why {
        "" => format!("halted by hand by {}", caller.user.username),
        why => format!("halted by hand by {}: {why}", caller.user.username),
    };
    if !deployments::halt(&state.db.meta_writes, d.id, &reason).await? {
        return Err(changed_meanwhile());
    }
    tracing::warn!(deployment = d.id, %reason, "deployment halted");
    as_now(state, d.id).await
}

async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let e = resume_halted(&state, &caller, &id).await?;
    Ok(axum::Json(view(&e)))
}

/// Resumes a halted deployment.
pub(crate) async fn resume_halted(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<Evaluated> {
    let d = load_for_change(state, caller, id).await?;
    if d.state != DeploymentState::Halted {
        return Err(refused(format!(
            "The deployment is {}, not halted.",
            d.state
        )));
    }
    let mut tx = state.db.meta_writes.begin().await?;
    let resumed = advance::resume(&mut tx, &d, now_micros()).await?;
    tx.commit().await?;
    resumed.ok_or_else(changed_meanwhile)
}

/// The deployment `id` as it is now, evaluated.
async fn as_now(state: &AppState, id: i64) -> ApiResult<Evaluated> {
    let d = deployments::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    evaluated(state, d).await
}
