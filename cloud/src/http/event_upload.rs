//! `POST /api/v1/event/upload/`: an event with its raw document sent as a file (spec 3.9),
//! as the SDK's `event.upload.upload_file(filename, data=…)` does.

use std::io::Read;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};
use sync_protocol::ids::{Slug, StreamSlug};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::Reply;
use super::target;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::event_documents;
use crate::state::AppState;
use crate::store::events::NewEvent;
use crate::time;

pub(super) const NO_FILE: &str = "missing request.data['file']";

/// What the form carried.
#[derive(Default)]
pub(super) struct Form {
    pub(super) file: Option<(String, Vec<u8>)>,
    pub(super) fields: Map<String, Value>,
}

pub(super) async fn read_form(mut multipart: Multipart) -> ApiResult<Form> {
    let mut form = Form::default();
    let broken = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("Multipart form parse error - {}", e.body_text()))
    };
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let filename = field.file_name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(broken)?;
            form.file = Some((filename, bytes.to_vec()));
        } else {
            let text = field.text().await.map_err(broken)?;
            form.fields.insert(name, Value::String(text));
        }
    }
    Ok(form)
}

/// The raw JSON document of a `.json` or `.json.gz` file.
fn document(filename: &str, bytes: &[u8]) -> ApiResult<String> {
    let lower = filename.to_ascii_lowercase();
    let text = if lower.ends_with(".json.gz") {
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut out)
            .map_err(|_| {
                ApiError::error_body(StatusCode::BAD_REQUEST, "File is not gzipped JSON")
            })?;
        out
    } else if lower.ends_with(".json") {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::error_body(StatusCode::BAD_REQUEST, "File is not UTF-8 JSON"))?
    } else {
        return Err(ApiError::error_body(
            StatusCode::BAD_REQUEST,
            "Only .json and .json.gz files are accepted",
        ));
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|_| ApiError::error_body(StatusCode::BAD_REQUEST, "File is not valid JSON"))?;
    Ok(value.to_string())
}

fn text<'a>(form: &'a Form, key: &str) -> Option<&'a str> {
    form.fields
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn optional_int(form: &Form, key: &str) -> ApiResult<Option<i64>> {
    text(form, key)
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| ApiError::field(key, "A valid integer is required."))
        })
        .transpose()
}

/// The form of an upload.
#[derive(ToSchema)]
#[allow(dead_code)] // described, never built: `read_form` reads the fields as they come
pub struct EventUploadForm {
    /// A `.json` or `.json.gz` file: the event's raw document.
    #[schema(format = Binary)]
    file: String,
    /// The stream's slug.
    stream: String,
    #[schema(format = DateTime)]
    timestamp: String,
    /// The summary, a JSON object as text.
    encoded_extra_data: Option<String>,
    device_timestamp: Option<i64>,
    streamer_local_id: Option<i64>,
}

/// What an upload answers.
#[derive(Serialize, ToSchema)]
pub struct UploadedEvent {
    pub id: i64,
    pub stream: String,
    pub device_timestamp: Option<i64>,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub streamer_local_id: i64,
    /// The summary, as JSON text.
    pub encoded_extra_data: String,
}

pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Reply<UploadedEvent>)> {
    let multipart =
        multipart.map_err(|_| ApiError::error_body(StatusCode::BAD_REQUEST, NO_FILE))?;
    let form = read_form(multipart).await?;
    let (filename, bytes) = form
        .file
        .as_ref()
        .ok_or_else(|| ApiError::error_body(StatusCode::BAD_REQUEST, NO_FILE))?;
    let raw = document(filename, bytes)?;
    let slug = text(&form, "stream")
        .ok_or_else(|| ApiError::field("stream", "This field is required."))?
        .parse::<StreamSlug>()
        .map_err(|_| ApiError::field("stream", "Not a valid stream slug."))?;
    let timestamp = text(&form, "timestamp")
        .ok_or_else(|| ApiError::field("timestamp", "This field is required."))
        .and_then(|t| {
            time::parse(t, false)
                .ok_or_else(|| ApiError::field("timestamp", "Enter a valid date/time."))
        })?;
    let encoded = text(&form, "encoded_extra_data").unwrap_or("{}");
    let extra = serde_json::from_str::<Value>(encoded)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::field("encoded_extra_data", "Must be a JSON object."))?;
    target::require(
        &state,
        &caller,
        Slug::Stream(slug),
        perm::CREATE_STREAM_DATA,
    )
    .await?;
    let key = event_documents::posted_key(&slug.to_string());
    let new = NewEvent {
        stream_slug: slug.to_string(),
        device_slug: slug.row_slugs().device.to_string(),
        device_timestamp: optional_int(&form, "device_timestamp")?,
        timestamp,
        streamer_local_id: optional_int(&form, "streamer_local_id")?.unwrap_or(0),
        extra_data: extra.to_string(),
        raw_key: Some(key.clone()),
    };
    super::event::store_documents(&state, vec![(key, raw)]).await?;
    let stored = super::event::insert_with_documents(&state, &[new]).await?;
    let e = stored.first().ok_or(ApiError::NotFound)?;
    Ok((
        StatusCode::CREATED,
        Reply(UploadedEvent {
            id: e.id,
            stream: e.stream_slug.clone(),
            device_timestamp: e.device_timestamp,
            timestamp: time::format(e.timestamp),
            streamer_local_id: e.streamer_local_id,
            encoded_extra_data: e.extra_data.clone(),
        }),
    ))
}
