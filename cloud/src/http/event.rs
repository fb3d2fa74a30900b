//! `/api/v1/event/`: stream events (spec 3.9). The summary (`extra_data`) is listed; the
//! raw JSON document is served on its own.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sync_protocol::ids::{Slug, StreamSlug};

use super::data::row_slugs;
use super::error::{ApiError, ApiResult};
use super::json::one_or_many;
use super::json::Json;
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::rows::{self, filter_scope, row_query};
use super::target;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::events::{self, Event, NewEvent};
use crate::time;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/event", get(list).post(create))
        .route("/event/upload", post(super::event_upload::upload))
        .route("/event/{id}", get(retrieve).patch(update))
        .route("/event/{id}/data", get(raw_data))
}

pub fn view(e: &Event) -> Value {
    let (project, device, variable) = row_slugs(&e.stream_slug);
    let extra: Value = serde_json::from_str(&e.extra_data).unwrap_or_else(|_| json!({}));
    json!({
        "id": e.id,
        "stream": e.stream_slug,
        "project": project,
        "device": device,
        "variable": variable,
        "s3bucket": "",
        "s3key": "",
        "ext": e.ext,
        "has_raw_data": e.has_raw_data,
        "device_timestamp": e.device_timestamp,
        "timestamp": time::format(e.timestamp),
        "streamer_local_id": e.streamer_local_id,
        "dirty_ts": e.dirty_ts,
        "status": e.status,
        "extra_data": extra,
    })
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Large)?;
    let q = row_query(&params)?;
    let Some(scope) = filter_scope(&state, &caller, &params).await? else {
        return Ok(axum::Json(page.envelope(w, 0, Vec::<Value>::new())?));
    };
    let with_errors = caller.is_staff() && params.flag("with_errors");
    let (count, rows) =
        events::list(&state.db.data, &scope, &q, with_errors, w.offset, w.size).await?;
    let results: Vec<Value> = rows.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// The event with that id, if the caller may read its stream's data.
async fn fetch(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Event> {
    let id = id.trim().parse::<i64>().map_err(|_| ApiError::NotFound)?;
    let event = events::by_id(&state.db.data, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let slug = event
        .stream_slug
        .parse::<StreamSlug>()
        .map_err(|_| ApiError::NotFound)?;
    target::require(state, caller, Slug::Stream(slug), perm::READ_STREAM_DATA).await?;
    Ok(event)
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(view(&fetch(&state, &caller, &id).await?)))
}

async fn raw_data(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let event = fetch(&state, &caller, &id).await?;
    let raw = events::raw_data(&state.db.data, event.id)
        .await?
        .ok_or_else(|| ApiError::error_body(StatusCode::NOT_FOUND, "Event has no data"))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], raw).into_response())
}

#[derive(Debug, Deserialize)]
struct PostedEvent {
    stream: String,
    timestamp: String,
    #[serde(default)]
    extra_data: Option<Map<String, Value>>,
    #[serde(default)]
    device_timestamp: Option<i64>,
    #[serde(default)]
    streamer_local_id: Option<i64>,
    #[serde(default)]
    data: Option<Value>,
}

async fn prepare(state: &AppState, caller: &Caller, e: PostedEvent) -> ApiResult<NewEvent> {
    let (slug, timestamp, _) = rows::posted_to(state, caller, &e.stream, &e.timestamp).await?;
    Ok(NewEvent {
        stream_slug: slug.to_string(),
        device_slug: slug.row_slugs().device.to_string(),
        device_timestamp: e.device_timestamp,
        timestamp,
        streamer_local_id: e.streamer_local_id.unwrap_or(0),
        extra_data: Value::Object(e.extra_data.unwrap_or_default()).to_string(),
        raw_data: e.data.filter(|d| !d.is_null()).map(|d| d.to_string()),
    })
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let (many, posted) = one_or_many::<PostedEvent>(body)?;
    let mut new = Vec::with_capacity(posted.len());
    for e in posted {
        new.push(prepare(&state, &caller, e).await?);
    }
    let stored = events::insert(&state.db.data, &new).await?;
    let body = match (many, stored.first()) {
        (false, Some(e)) => view(e),
        _ => json!({"count": stored.len()}),
    };
    Ok((StatusCode::CREATED, axum::Json(body)))
}

#[derive(Debug, Deserialize)]
struct EventChanges {
    #[serde(default)]
    extra_data: Option<Map<String, Value>>,
    #[serde(default)]
    data: Option<Value>,
}

/// A new summary and/or raw document; needs can_create_stream_data on the stream.
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(changes): Json<EventChanges>,
) -> ApiResult<axum::Json<Value>> {
    let event = fetch(&state, &caller, &id).await?;
    let slug = event
        .stream_slug
        .parse::<StreamSlug>()
        .map_err(|_| ApiError::NotFound)?;
    target::require(
        &state,
        &caller,
        Slug::Stream(slug),
        perm::CREATE_STREAM_DATA,
    )
    .await?;
    let extra = changes
        .extra_data
        .map_or(event.extra_data.clone(), |m| Value::Object(m).to_string());
    let raw = changes.data.filter(|d| !d.is_null()).map(|d| d.to_string());
    events::update(&state.db.data, event.id, &extra, raw.as_deref()).await?;
    let stored = events::by_id(&state.db.data, event.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(view(&stored)))
}
