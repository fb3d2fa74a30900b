//! Streamer reports as records (spec 3.10) and our processing status, plus the job queue's
//! view for staff: `GET /streamer/report/{id}/` says whether a report was processed and how
//! many of its readings were new, duplicates, or why it failed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sync_protocol::ids::StreamerSlug;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::Reply;
use super::pagination::{Page, PageClass, PageRequest};
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
#[derive(Serialize, ToSchema)]
#[schema(as = StreamerReport)]
pub struct ReportView {
    #[schema(format = Uuid)]
    pub id: String,
    pub original_first_id: Option<i64>,
    pub original_last_id: Option<i64>,
    pub actual_first_id: Option<i64>,
    pub actual_last_id: Option<i64>,
    /// The streamer's slug.
    pub streamer: String,
    #[schema(format = DateTime)]
    pub sent_timestamp: String,
    pub device_sent_timestamp: Option<i64>,
    pub incremental_id: Option<i64>,
    pub time_epsilon: f64,
    #[schema(format = DateTime)]
    pub created_on: String,
    pub created_by: Option<String>,
    /// Processing: `pending`, `processed` or `failed`.
    pub status: String,
    pub reading_count: i64,
    /// Readings new to the cloud, once processed.
    pub new_count: Option<i64>,
    pub duplicate_count: Option<i64>,
    /// Why processing failed.
    pub error: Option<String>,
    pub processed_on: Option<String>,
}

pub fn view(r: &Report) -> ReportView {
    ReportView {
        id: r.id.clone(),
        original_first_id: r.original_first_id,
        original_last_id: r.original_last_id,
        actual_first_id: r.actual_first_id,
        actual_last_id: r.actual_last_id,
        streamer: r.streamer_slug.clone(),
        sent_timestamp: format(r.sent_timestamp),
        device_sent_timestamp: r.device_sent_timestamp,
        incremental_id: r.incremental_id,
        time_epsilon: r.time_epsilon,
        created_on: format(r.created_on),
        created_by: r.created_by.clone(),
        status: r.status.clone(),
        reading_count: r.reading_count,
        new_count: r.new_count,
        duplicate_count: r.duplicate_count,
        error: r.error.clone(),
        processed_on: r.processed_on.map(format),
    }
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
) -> ApiResult<Reply<ReportView>> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::Plain("Streamer Report ID must be a UUID".into()));
    }
    let report = reports::by_id(&state.db.meta, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !visible(&state, &caller, report.streamer_id).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Reply(view(&report)))
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
    let results: Vec<ReportView> = found.iter().skip(offset).take(size).map(view).collect();
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
) -> ApiResult<Reply<Vec<ReportView>>> {
    let found = reports_of(&state, &caller, &slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(found.iter().map(view).collect()))
}

/// A job of the queue.
#[derive(Serialize, ToSchema)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub key: String,
    /// The job's input, as JSON.
    pub payload: Value,
    /// `queued`, `running`, `done` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    #[schema(format = DateTime)]
    pub run_after: String,
    pub lease_until: Option<String>,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub created_on: String,
    pub finished_on: Option<String>,
}

fn job_view(j: &JobRecord) -> Job {
    Job {
        id: j.id,
        kind: j.kind.clone(),
        key: j.key.clone(),
        payload: serde_json::from_str::<Value>(&j.payload).unwrap_or(Value::Null),
        state: j.state.clone(),
        attempts: j.attempts,
        max_attempts: j.max_attempts,
        run_after: format(j.run_after),
        lease_until: j.lease_until.map(format),
        last_error: j.last_error.clone(),
        created_on: format(j.created_on),
        finished_on: j.finished_on.map(format),
    }
}

/// A page of jobs, with how many jobs are in each state.
#[derive(Serialize, ToSchema)]
pub struct JobPage {
    #[serde(flatten)]
    pub page: Page<Job>,
    pub states: BTreeMap<String, i64>,
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
) -> ApiResult<Reply<JobPage>> {
    staff_only(&caller)?;
    let w = page.window(PageClass::Standard)?;
    let (count, found) =
        jobs::list(&state.db.meta, params.get("state"), (w.offset, w.size)).await?;
    let results: Vec<Job> = found.iter().map(job_view).collect();
    Ok(Reply(JobPage {
        page: page.page(w, count, results)?,
        states: jobs::counts(&state.db.meta).await?.into_iter().collect(),
    }))
}

async fn job_retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Reply<Job>> {
    staff_only(&caller)?;
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let job = jobs::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(job_view(&job)))
}

/// Puts a dead job back in the queue.
async fn job_retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Reply<Job>)> {
    staff_only(&caller)?;
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let job = retry_job(&state, &caller, id).await?;
    Ok((StatusCode::ACCEPTED, Reply(job_view(&job))))
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
