//! `/api/v1/event/`: stream events (spec 3.9). The summary (`extra_data`) is listed; the
//! raw JSON document lives in object storage and is served on its own.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sync_protocol::ids::{Slug, StreamSlug};
use utoipa::ToSchema;

use super::data::RowSlugs;
use super::error::{ApiError, ApiResult};
use super::json::one_or_many;
use super::json::{Count, Json, Reply, Written};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::rows::{self, filter_scope, row_query};
use super::target;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::blobs::BlobError;
use crate::event_documents::{self, DocumentError};
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

/// The event object: its summary, not its raw document.
#[derive(Serialize, ToSchema)]
#[schema(as = Event)]
pub struct EventView {
    pub id: i64,
    pub stream: String,
    /// The project's slug, from the stream's (empty when it has none).
    pub project: String,
    pub device: Option<String>,
    pub variable: Option<String>,
    /// Always empty: the document is at `/event/{id}/data/`.
    pub s3bucket: &'static str,
    pub s3key: &'static str,
    pub ext: String,
    pub has_raw_data: bool,
    pub device_timestamp: Option<i64>,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub streamer_local_id: i64,
    pub dirty_ts: bool,
    pub status: String,
    /// The summary, a JSON object.
    pub extra_data: Value,
}

pub fn view(e: &Event) -> EventView {
    let slugs = RowSlugs::of(&e.stream_slug);
    let extra: Value =
        serde_json::from_str(&e.extra_data).unwrap_or_else(|_| Value::Object(Map::new()));
    EventView {
        id: e.id,
        stream: e.stream_slug.clone(),
        project: slugs.project,
        device: slugs.device,
        variable: slugs.variable,
        s3bucket: "",
        s3key: "",
        ext: e.ext.clone(),
        has_raw_data: e.has_raw_data,
        device_timestamp: e.device_timestamp,
        timestamp: time::format(e.timestamp),
        streamer_local_id: e.streamer_local_id,
        dirty_ts: e.dirty_ts,
        status: e.status.clone(),
        extra_data: extra,
    }
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
        return Ok(axum::Json(page.envelope(w, 0, Vec::<EventView>::new())?));
    };
    let with_errors = caller.is_staff() && params.flag("with_errors");
    let (count, rows) =
        events::list(&state.db.data, &scope, &q, with_errors, w.offset, w.size).await?;
    let results: Vec<EventView> = rows.iter().map(view).collect();
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
) -> ApiResult<Reply<EventView>> {
    Ok(Reply(view(&fetch(&state, &caller, &id).await?)))
}

async fn raw_data(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let event = fetch(&state, &caller, &id).await?;
    let no_data = || ApiError::error_body(StatusCode::NOT_FOUND, "Event has no data");
    let raw = match event_documents::read(&state.blobs, &state.db.data, event.id).await {
        Ok(raw) => raw.ok_or_else(no_data)?,
        Err(DocumentError::Db(e)) => return Err(e.into()),
        Err(DocumentError::Blob(BlobError::NotFound(key))) => {
            tracing::error!(event = event.id, key = %key, "an event document is missing");
            return Err(no_data());
        }
        Err(e) => {
            tracing::error!(event = event.id, error = %e, "reading an event document failed");
            return Err(unavailable(
                "The event's data could not be read; try again.",
            ));
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], raw).into_response())
}

fn unavailable(msg: &str) -> ApiError {
    ApiError::Detail(StatusCode::SERVICE_UNAVAILABLE, msg.into())
}

/// Stores documents `(key, JSON text)` before their rows are written; 503 when the object
/// store fails.
pub(super) async fn store_documents(
    state: &AppState,
    docs: Vec<(String, String)>,
) -> ApiResult<()> {
    event_documents::put_all(&state.blobs, docs)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "storing an event document failed");
            unavailable("The event's data could not be stored; try again.")
        })
}

/// Inserts events whose documents are stored; when the insert fails the documents are removed
/// again.
pub(super) async fn insert_with_documents(
    state: &AppState,
    new: &[NewEvent],
) -> ApiResult<Vec<Event>> {
    match events::insert(&state.db.data, new).await {
        Ok(stored) => Ok(stored),
        Err(e) => {
            let keys: Vec<String> = new.iter().filter_map(|e| e.raw_key.clone()).collect();
            event_documents::delete_all(&state.blobs, &keys).await;
            Err(e.into())
        }
    }
}

/// An event to write, with its summary and, optionally, its raw document.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PostedEvent {
    /// The stream's slug.
    stream: String,
    timestamp: String,
    #[serde(default)]
    extra_data: Option<Map<String, Value>>,
    #[serde(default)]
    device_timestamp: Option<i64>,
    #[serde(default)]
    streamer_local_id: Option<i64>,
    /// The raw JSON document, stored on its own.
    #[serde(default)]
    data: Option<Value>,
}

/// The event's row, and its document with the key it goes under.
async fn prepare(
    state: &AppState,
    caller: &Caller,
    e: PostedEvent,
) -> ApiResult<(NewEvent, Option<(String, String)>)> {
    let (slug, timestamp, _) = rows::posted_to(state, caller, &e.stream, &e.timestamp).await?;
    let slug_text = slug.to_string();
    let doc = e
        .data
        .filter(|d| !d.is_null())
        .map(|d| (event_documents::posted_key(&slug_text), d.to_string()));
    let event = NewEvent {
        stream_slug: slug.to_string(),
        device_slug: slug.row_slugs().device.to_string(),
        device_timestamp: e.device_timestamp,
        timestamp,
        streamer_local_id: e.streamer_local_id.unwrap_or(0),
        extra_data: Value::Object(e.extra_data.unwrap_or_default()).to_string(),
        raw_key: doc.as_ref().map(|(key, _)| key.clone()),
    };
    Ok((event, doc))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, Reply<Written<EventView>>)> {
    let (many, posted) = one_or_many::<PostedEvent>(body)?;
    let mut new = Vec::with_capacity(posted.len());
    let mut docs = Vec::new();
    for e in posted {
        let (event, doc) = prepare(&state, &caller, e).await?;
        new.push(event);
        docs.extend(doc);
    }
    store_documents(&state, docs).await?;
    let stored = insert_with_documents(&state, &new).await?;
    let body = match (many, stored.first()) {
        (false, Some(e)) => Written::One(view(e)),
        _ => Written::Many(Count {
            count: stored.len(),
        }),
    };
    Ok((StatusCode::CREATED, Reply(body)))
}

/// A new summary and/or raw document.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EventChanges {
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
) -> ApiResult<Reply<EventView>> {
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
    let doc = changes.data.filter(|d| !d.is_null()).map(|d| {
        (
            event_documents::posted_key(&event.stream_slug),
            d.to_string(),
        )
    });
    let key = doc.as_ref().map(|(key, _)| key.clone());
    store_documents(&state, doc.into_iter().collect()).await?;
    match events::update(&state.db.data, event.id, &extra, key.as_deref()).await {
        Ok(replaced) => {
            event_documents::delete_all(&state.blobs, &replaced.into_iter().collect::<Vec<_>>())
                .await
        }
        Err(e) => {
            event_documents::delete_all(&state.blobs, &key.into_iter().collect::<Vec<_>>()).await;
            return Err(e.into());
        }
    }
    let stored = events::by_id(&state.db.data, event.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(view(&stored)))
}
