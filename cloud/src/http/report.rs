//! Streamer reports as records (spec 3.10) and our processing status, plus the job queue's
//! view for staff: `GET /streamer/report/{id}/` says whether a report was processed and how
//! many of its readings were new, duplicates, or why it failed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use sync_protocol::ids::StreamerSlug;

use super::error::{ApiError, ApiResult};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::jobs::{self, JobRecord};
use crate::store::reports::{self, Report};
use crate::store::{devices, streamers};
use crate::time::{format, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/streamer/report",
            get(list).post(super::report_upload::upload),
        )
        .route("/streamer/report/{id}", get(retrieve))
        .route("/streamer/{slug}/report", get(of_streamer))
        .route("/job", get(job_list))
        .route("/job/{id}", get(job_retrieve))
        .route("/job/{id}/retry", post(job_retry))
}

/// The report object, with our processing fields after the original's.
pub fn view(r: &Report) -> Value {
    json!({
        "id": r.id,
        "original_first_id": r.original_first_id,
        "original_last_id": r.original_last_id,
        "actual_first_id": r.actual_first_id,
        "actual_last_id": r.actual_last_id,
        "streamer": r.streamer_slug,
        "sent_timestamp": format(r.sent_timestamp),
        "device_sent_timestamp": r.device_sent_timestamp,
        "incremental_id": r.incremental_id,
        "time_epsilon": r.time_epsilon,
        "created_on": format(r.created_on),
        "created_by": r.created_by,
        "status": r.status,
        "reading_count": r.reading_count,
        "new_count": r.new_count,
        "duplicate_count": r.duplicate_count,
        "error": r.error,
        "processed_on": r.processed_on.map(format),
    })
}

/// Whether the caller may see the reports of a streamer: those of devices it can see.
pub(crate) async fn visible(
    state: &AppState,
    caller: &Caller,
    streamer_id: i64,
) -> ApiResult<bool> {
    let Some(streamer) = streamers::by_id(&state.db.meta, streamer_id).await? else {
        return Ok(false);
    };
    let device = devices::by_id(&state.db.meta, streamer.device_id).await?;
    Ok(device.is_some_and(|d| super::device::can_access(caller, &d)))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::Plain("Streamer Report ID must be a UUID".into()));
    }
    let report = reports::by_id(&state.db.meta, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !visible(&state, &caller, report.streamer_id).await? {
        return Err(ApiError::NotFound);
    }
    Ok(axum::Json(view(&report)))
}

/// `?streamer__slug=` reports of one streamer; without it, an empty list (as for data).
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let found = match params.get("streamer__slug") {
        Some(slug) => reports_of(&state, &caller, slug).await?.unwrap_or_default(),
        None => Vec::new(),
    };
    let count = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let offset = usize::try_from(w.offset).unwrap_or(usize::MAX);
    let size = usize::try_from(w.size).unwrap_or(usize::MAX);
    let results: Vec<Value> = found.iter().skip(offset).take(size).map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn reports_of(
    state: &AppState,
    caller: &Caller,
    slug: &str,
) -> ApiResult<Option<Vec<Report>>> {
    let Ok(slug) = slug.parse::<StreamerSlug>() else {
        return Ok(None);
    };
    let scope = streamers::Scope {
        slug: Some(slug.to_string()),
        orgs: (!caller.staff_mode).then(|| caller.org_ids()),
        device_id: caller.device,
        ..Default::default()
    };
    let (_, found) = streamers::list(&state.db.meta, &scope, 0, 1).await?;
    match found.first() {
        Some(streamer) => Ok(Some(
            reports::of_streamer(&state.db.meta, streamer.id).await?,
        )),
        None => Ok(None),
    }
}

/// A plain array of a streamer's reports, oldest first.
async fn of_streamer(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let found = reports_of(&state, &caller, &slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(Value::Array(found.iter().map(view).collect())))
}

fn job_view(j: &JobRecord) -> Value {
    json!({
        "id": j.id,
        "kind": j.kind,
        "key": j.key,
        "payload": serde_json::from_str::<Value>(&j.payload).unwrap_or(Value::Null),
        "state": j.state,
        "attempts": j.attempts,
        "max_attempts": j.max_attempts,
        "run_after": format(j.run_after),
        "lease_until": j.lease_until.map(format),
        "last_error": j.last_error,
        "created_on": format(j.created_on),
        "finished_on": j.finished_on.map(format),
    })
}

/// The job queue is for staff only.
pub(crate) fn staff_only(caller: &Caller) -> ApiResult<()> {
    if caller.is_staff() {
        Ok(())
    } else {
        Err(ApiError::restricted(StatusCode::FORBIDDEN))
    }
}

/// The queue for staff: `?state=dead` lists the jobs that gave up.
async fn job_list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    staff_only(&caller)?;
    let w = page.window(PageClass::Standard)?;
    let (count, found) =
        jobs::list(&state.db.meta, params.get("state"), (w.offset, w.size)).await?;
    let results: Vec<Value> = found.iter().map(job_view).collect();
    let mut body = page.envelope(w, count, results)?;
    let counts: serde_json::Map<String, Value> = jobs::counts(&state.db.meta)
        .await?
        .into_iter()
        .map(|(s, n)| (s, json!(n)))
        .collect();
    body["states"] = Value::Object(counts);
    Ok(axum::Json(body))
}

async fn job_retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    staff_only(&caller)?;
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let job = jobs::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(job_view(&job)))
}

/// Puts a dead job back in the queue.
async fn job_retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    staff_only(&caller)?;
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let job = retry_job(&state, &caller, id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job_view(&job))))
}

/// Puts a dead job back in the queue with fresh attempts (staff only), and wakes a worker;
/// the job as it is now. Shared by the API and the job queue page.
pub(crate) async fn retry_job(state: &AppState, caller: &Caller, id: i64) -> ApiResult<JobRecord> {
    staff_only(caller)?;
    if !jobs::retry(&state.db.meta, id, now_micros()).await? {
        return Err(ApiError::error_body(
            StatusCode::BAD_REQUEST,
            "Only a dead job can be retried",
        ));
    }
    state.jobs_ready.notify_one();
    jobs::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)
}
