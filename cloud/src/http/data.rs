//! Stream data (spec 3.8): `/api/v1/data/` over any stream, device, data block or variable,
//! and `/api/v1/stream/{slug}/data/` with display values. Access is decided on the metadata
//! side (the object's org), then rows are read by slug from the data database.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sync_protocol::ids::StreamSlug;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::{one_or_many, Count, Json, Reply, Written};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::rows::{self, filter_scope, row_query};
use super::stream::fetch;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::data::{self, DataRow, NewDataRow, RowQuery};
use crate::store::streams::Stream;
use crate::store::{projects, variables};
use crate::time;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/data", get(list).post(create))
        .route("/data/{id}", get(retrieve))
        .route("/stream/{slug}/data", get(stream_data))
        .route("/stream/{slug}/csv", get(stream_csv))
}

/// The row's `project`, `device` and `variable` slugs, from its stream slug (spec 4.4): an
/// unparsable stream slug has an empty project and no device or variable.
#[derive(Debug, Clone, Default)]
pub struct RowSlugs {
    pub project: String,
    pub device: Option<String>,
    pub variable: Option<String>,
}

impl RowSlugs {
    pub fn of(stream: &str) -> RowSlugs {
        match stream.parse::<StreamSlug>() {
            Ok(s) => {
                let r = s.row_slugs();
                RowSlugs {
                    project: r.project.map_or(String::new(), |p| p.to_string()),
                    device: Some(r.device.to_string()),
                    variable: Some(r.variable.to_string()),
                }
            }
            Err(_) => RowSlugs::default(),
        }
    }
}

/// A data row as the API shows it. Fields are in key order, as a `Value` object writes
/// them, so typed and `Value` answers are the same bytes.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DataRow)]
pub struct RowView<'a> {
    /// The device's slug, from the stream's.
    device: Option<&'a str>,
    device_timestamp: Option<i64>,
    dirty_ts: bool,
    id: i64,
    int_value: Option<i64>,
    /// The project's slug, from the stream's.
    project: &'a str,
    status: &'a str,
    stream: &'a str,
    streamer_local_id: i64,
    #[schema(format = DateTime)]
    timestamp: String,
    /// `Num` for an integer reading, `ITR` for a value.
    #[serde(rename = "type")]
    kind: &'a str,
    value: Option<f64>,
    /// The variable's slug, from the stream's.
    variable: Option<&'a str>,
}

impl<'a> RowView<'a> {
    fn new(row: &'a DataRow, slugs: &'a RowSlugs) -> RowView<'a> {
        RowView {
            device: slugs.device.as_deref(),
            device_timestamp: row.device_timestamp,
            dirty_ts: row.dirty_ts,
            id: row.id,
            int_value: row.int_value,
            project: &slugs.project,
            status: &row.status,
            stream: &row.stream_slug,
            streamer_local_id: row.streamer_local_id,
            timestamp: time::format_seconds(row.timestamp),
            kind: &row.kind,
            value: row.value,
            variable: slugs.variable.as_deref(),
        }
    }
}

/// A row as a [`RowView`], owning what it borrowed.
pub fn view(row: &DataRow) -> Value {
    let slugs = RowSlugs::of(&row.stream_slug);
    serde_json::to_value(RowView::new(row, &slugs)).unwrap_or(Value::Null)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<Response> {
    let w = page.window(PageClass::Large)?;
    let q = row_query(&params)?;
    let Some(scope) = filter_scope(&state, &caller, &params).await? else {
        return Ok(axum::Json(page.envelope(w, 0, Vec::<Value>::new())?).into_response());
    };
    let (count, rows) = data::list(&state.db, &scope, &q, w.offset, w.size).await?;
    // The rows of a page mostly share a stream: its slugs are derived once per run of rows.
    let mut slugs: Vec<RowSlugs> = Vec::new();
    let mut of_row = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        if i == 0 || rows[i - 1].stream_slug != row.stream_slug {
            slugs.push(RowSlugs::of(&row.stream_slug));
        }
        of_row.push(slugs.len() - 1);
    }
    let results: Vec<RowView<'_>> = rows
        .iter()
        .zip(of_row)
        .map(|(row, s)| RowView::new(row, &slugs[s]))
        .collect();
    // Written straight from the rows: no `Value` tree per row.
    // A row is some 300 bytes of JSON: one allocation for the body, not a dozen doublings.
    let mut body = Vec::with_capacity(512 + 320 * results.len());
    serde_json::to_writer(&mut body, &page.page(w, count, results)?)
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A reading to write: `int_value` (type `Num`, scaled by the stream's m/d/o), or `value`
/// (type `ITR`), not both.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PostedRow {
    /// The stream's slug.
    stream: String,
    timestamp: String,
    #[serde(default)]
    int_value: Option<i64>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    device_timestamp: Option<i64>,
    #[serde(default)]
    streamer_local_id: Option<i64>,
}

/// `o + x * m / d`, with `o` applied only when it is not zero.
pub fn mdo(x: f64, m: f64, d: f64, o: f64) -> f64 {
    let scaled = if d == 0.0 { x * m } else { x * m / d };
    if o != 0.0 {
        o + scaled
    } else {
        scaled
    }
}

/// A stored reading's value from its raw integer, through the stream's m/d/o when it has
/// them.
fn value_of(raw: i64, stream: Option<&Stream>) -> f64 {
    let x = raw as f64;
    match stream {
        Some(s) => mdo(
            x,
            s.multiplication_factor.unwrap_or(1) as f64,
            s.division_factor.unwrap_or(1) as f64,
            s.offset.unwrap_or(0.0),
        ),
        None => x,
    }
}

/// One posted row, checked; its stream's target is authorized by the caller.
async fn prepare(state: &AppState, caller: &Caller, row: PostedRow) -> ApiResult<NewDataRow> {
    let (slug, timestamp, target) =
        rows::posted_to(state, caller, &row.stream, &row.timestamp).await?;
    if !slug.is_block()
        && projects::by_slug(&state.db.meta, slug.project())
            .await?
            .is_none()
    {
        return Err(ApiError::field("stream", "Project does not exist."));
    }
    let (kind, value, int_value) = match (row.int_value, row.value) {
        (Some(i), None) => (
            row.kind.unwrap_or_else(|| "Num".into()),
            Some(value_of(i, target.stream.as_ref())),
            Some(i),
        ),
        (None, Some(v)) => (row.kind.unwrap_or_else(|| "ITR".into()), Some(v), None),
        _ => {
            return Err(ApiError::field(
                "non_field_errors",
                "Give either int_value or value (with type ITR), not both",
            ))
        }
    };
    Ok(NewDataRow {
        stream_slug: slug.to_string(),
        device_slug: slug.row_slugs().device.to_string(),
        device_timestamp: row.device_timestamp,
        timestamp,
        streamer_local_id: row.streamer_local_id.unwrap_or(0),
        dirty_ts: false,
        status: "unk".into(),
        kind,
        value,
        int_value,
    })
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Value>,
) -> ApiResult<(StatusCode, Reply<Written<Value>>)> {
    let (many, posted) = one_or_many::<PostedRow>(body)?;
    let mut rows = Vec::with_capacity(posted.len());
    for row in posted {
        rows.push(prepare(&state, &caller, row).await?);
    }
    let stored = data::insert(&state.db.data, &rows).await?;
    let body = match (many, stored.first()) {
        (false, Some(row)) => Written::One(view(row)),
        _ => Written::Many(Count {
            count: stored.len(),
        }),
    };
    Ok((StatusCode::CREATED, Reply(body)))
}

/// Output m/d/o and decimal places of a stream's data: the stream's output unit, else its
/// variable's; decimal places from the variable (2 without one).
pub(crate) struct Display {
    mdo: Option<(f64, f64, f64)>,
    decimal_places: usize,
}

fn unit_mdo(v: &Value) -> Option<(f64, f64, f64)> {
    let num = |k: &str, default: f64| v.get(k).and_then(Value::as_f64).unwrap_or(default);
    v.is_object()
        .then(|| (num("m", 1.0), num("d", 1.0), num("o", 0.0)))
}

impl Display {
    /// A row's value in the stream's output unit.
    pub(crate) fn output(&self, r: &DataRow) -> Option<f64> {
        r.value.map(|v| self.convert(v))
    }

    /// A stored value in the stream's output unit.
    pub(crate) fn convert(&self, v: f64) -> f64 {
        self.mdo.map_or(v, |(m, d, o)| mdo(v, m, d, o))
    }

    /// A value as the API's `display_value` writes it.
    pub(crate) fn text(&self, value: Option<f64>) -> String {
        value.map_or(String::new(), |v| format!("{v:.*}", self.decimal_places))
    }
}

/// How a stream's values are shown: its output unit's conversion and decimal places.
pub(crate) async fn display_of(state: &AppState, stream: &Stream) -> ApiResult<Display> {
    let var = match stream.slug.parse::<StreamSlug>() {
        Ok(s) => variables::by_slug(&state.db.meta, &s.variable().to_string()).await?,
        Err(_) => None,
    };
    let stream_unit = stream
        .output_unit
        .as_deref()
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    let mdo = stream_unit.as_ref().and_then(unit_mdo).or_else(|| {
        var.as_ref()
            .and_then(|v| v.output_unit.as_ref())
            .and_then(unit_mdo)
    });
    let decimal_places = var.map_or(2, |v| v.decimal_places).clamp(0, 20);
    Ok(Display {
        mdo,
        decimal_places: usize::try_from(decimal_places).unwrap_or(2),
    })
}

/// A row of a stream's data with its value through the output unit.
#[derive(Serialize, ToSchema)]
pub struct DisplayRow {
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub int_value: Option<i64>,
    pub value: Option<f64>,
    /// `output_value` with the variable's decimal places.
    pub display_value: String,
    /// `value` through the output unit's m/d/o.
    pub output_value: Option<f64>,
    pub streamer_local_id: i64,
}

async fn stream_data(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::SuperLarge)?;
    let stream = fetch(&state, &caller, &slug, perm::READ_STREAM_DATA).await?;
    // Here unparsable times and counts are ignored rather than refused.
    let q = RowQuery {
        start: params.get("start").and_then(|v| time::parse(v, true)),
        end: params.get("end").and_then(|v| time::parse(v, true)),
        lastn: params
            .get("lastn")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|n| n.clamp(1, 100_000)),
        ..RowQuery::default()
    };
    let source = stream.derived_stream.clone().unwrap_or(stream.slug.clone());
    let display = display_of(&state, &stream).await?;
    let (count, rows) = data::of_stream(&state.db, &source, &q, w.offset, w.size).await?;
    let results: Vec<DisplayRow> = rows
        .iter()
        .map(|r| {
            let output = display.output(r);
            DisplayRow {
                kind: r.kind.clone(),
                timestamp: time::format_seconds(r.timestamp),
                int_value: r.int_value,
                value: r.value,
                display_value: display.text(output),
                output_value: output,
                streamer_local_id: r.streamer_local_id,
            }
        })
        .collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// One row by id: staff only.
async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    if !caller.is_staff() {
        return Err(ApiError::no_permission());
    }
    let id = id.trim().parse::<i64>().map_err(|_| ApiError::NotFound)?;
    let row = data::by_id(&state.db.data, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(view(&row)))
}

/// A stream's data as CSV (`Timestamp,Value`), values through the output unit.
async fn stream_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    let stream = fetch(&state, &caller, &slug, perm::READ_STREAM_DATA).await?;
    let source = stream.derived_stream.clone().unwrap_or(stream.slug.clone());
    let display = display_of(&state, &stream).await?;
    let (_, rows) = data::of_stream(&state.db, &source, &RowQuery::default(), 0, i64::MAX).await?;
    let mut csv = String::from("Timestamp,Value\n");
    for r in &rows {
        let value = r
            .value
            .map(|v| display.mdo.map_or(v, |(m, d, o)| mdo(v, m, d, o)))
            .map_or(String::new(), |v| v.to_string());
        let when = time::to_datetime(r.timestamp).format("%Y/%m/%d %H:%M:%S");
        csv.push_str(&format!("{when},{value}\n"));
    }
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
}

/// A reading as a stream's data shows it.
pub struct Reading {
    /// Microseconds since the epoch.
    pub timestamp: i64,
    pub output: Option<f64>,
    pub display: String,
    pub streamer_local_id: i64,
}

/// The newest `n` readings of the stream `slug`, oldest first, for a caller who may read its
/// data (the rule of `stream/{slug}/data/`); the web device page shows these.
pub async fn latest_readings(
    state: &AppState,
    caller: &Caller,
    slug: &str,
    n: i64,
) -> ApiResult<Vec<Reading>> {
    let stream = fetch(state, caller, slug, perm::READ_STREAM_DATA).await?;
    let q = RowQuery {
        lastn: Some(n.clamp(1, 1000)),
        ..RowQuery::default()
    };
    let source = stream.derived_stream.clone().unwrap_or(stream.slug.clone());
    let display = display_of(state, &stream).await?;
    let (_, rows) = data::of_stream(&state.db, &source, &q, 0, n).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let output = display.output(r);
            Reading {
                timestamp: r.timestamp,
                output,
                display: display.text(output),
                streamer_local_id: r.streamer_local_id,
            }
        })
        .collect())
}
