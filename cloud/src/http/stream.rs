//! `/api/v1/stream/`: streams (spec 3.7). A stream's project, device, block and variable
//! slugs come from its own slug.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sync_protocol::ids::{BlockSlug, DeviceId, DeviceRef, ProjectSlug, StreamSlug, VariableSlug};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::{device, target};
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::streams::{self, Stream, StreamFilter};
use crate::store::{data, devices, orgs, projects, variables};
use crate::time::{format, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/stream", get(list).post(create))
        .route(
            "/stream/{slug}",
            get(retrieve).patch(update).put(update).delete(remove),
        )
}

fn unit(json: Option<&str>) -> Value {
    json.and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

/// The stream object.
#[derive(Serialize, ToSchema)]
#[schema(as = Stream)]
pub struct StreamView {
    pub id: String,
    pub project_id: Option<String>,
    /// The project's slug.
    pub project: Option<String>,
    /// The device's slug; null for a virtual stream or a data block's.
    pub device: Option<String>,
    /// The data block's slug, for an archived stream.
    pub block: Option<String>,
    pub data_label: String,
    /// The variable's slug.
    pub variable: Option<String>,
    pub var_type: Option<String>,
    pub data_type: String,
    pub var_name: String,
    pub var_lid: i64,
    /// A unit object, or null.
    pub input_unit: Value,
    pub output_unit: Value,
    pub derived_stream: Option<String>,
    pub raw_value_format: String,
    /// `S` (the stream's own m/d/o) or `V` (its variable's).
    pub mdo_type: String,
    pub mdo_label: String,
    pub multiplication_factor: Option<i64>,
    pub division_factor: Option<i64>,
    pub offset: Option<f64>,
    /// The org's slug.
    pub org: Option<String>,
    #[schema(format = DateTime)]
    pub created_on: String,
    pub slug: String,
    pub enabled: bool,
}

pub fn view(s: &Stream) -> StreamView {
    let parsed = s.slug.parse::<StreamSlug>().ok();
    let block = s.block.filter(|b| *b != 0);
    let device = match (s.device_id, block) {
        (Some(id), None) => u64::try_from(id)
            .ok()
            .and_then(|id| DeviceId::new(id).ok())
            .map(|d| d.to_string()),
        _ => None,
    };
    let block_slug = parsed
        .filter(|p| p.is_block())
        .map(|p| p.device_ref().to_string());
    StreamView {
        id: s.id.clone(),
        project_id: s.project_id.clone(),
        project: parsed.map(|p| p.project().to_string()),
        device,
        block: block_slug,
        data_label: s.data_label.clone(),
        variable: parsed.map(|p| p.variable().to_string()),
        var_type: s.var_type.clone(),
        data_type: s.data_type.clone(),
        var_name: s.var_name.clone(),
        var_lid: s.var_lid,
        input_unit: unit(s.input_unit.as_deref()),
        output_unit: unit(s.output_unit.as_deref()),
        derived_stream: s.derived_stream.clone(),
        raw_value_format: s.raw_value_format.clone(),
        mdo_type: s.mdo_type.clone(),
        mdo_label: s.mdo_label.clone(),
        multiplication_factor: s.multiplication_factor,
        division_factor: s.division_factor,
        offset: s.offset,
        org: s.org_slug.clone(),
        created_on: format(s.created_on),
        slug: s.slug.clone(),
        enabled: s.enabled,
    }
}

/// A stream slug from a path, read leniently; `None` when it is not one.
pub fn parse_slug(raw: &str) -> Option<String> {
    raw.trim().parse::<StreamSlug>().ok().map(|s| s.to_string())
}

/// The stream named in a path, with `perm` checked in its org: 404 unknown, 403 refused.
pub async fn fetch(state: &AppState, caller: &Caller, raw: &str, perm: &str) -> ApiResult<Stream> {
    let slug = parse_slug(raw).ok_or(ApiError::NotFound)?;
    let stream = streams::by_slug(&state.db.meta, &slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    let allowed = target::allowed_in(caller, stream.org_id.as_deref(), stream.device_id, perm);
    if !allowed {
        return Err(ApiError::no_permission());
    }
    Ok(stream)
}

/// `s--<project>--%--<lid>`: every stream of a variable.
pub fn variable_pattern(v: VariableSlug) -> String {
    let slug = v.to_string();
    let rest = slug.trim_start_matches("v--");
    match rest.rsplit_once("--") {
        Some((project, lid)) => format!("s--{project}--%--{lid}"),
        None => format!("s--{rest}"),
    }
}

async fn filter_from(
    state: &AppState,
    caller: &Caller,
    params: &Params,
) -> ApiResult<StreamFilter> {
    let pool = &state.db.meta;
    let mut f = StreamFilter {
        orgs: (!caller.staff_mode).then(|| caller.org_ids_with(perm::READ_STREAM_IDS)),
        ..StreamFilter::default()
    };
    if let Some(project) = params.get("project") {
        f.exclude_blocks = true;
        match device::find_project(state, project).await? {
            Some(p) => f.project_id = Some(p.id),
            None => f.nothing = true,
        }
    }
    let device = params.get("device").map(|d| d.parse::<DeviceRef>());
    let block = params
        .get("block")
        .map(|b| b.parse::<BlockSlug>().map(DeviceRef::from));
    for r in [&device, &block].into_iter().flatten() {
        match r {
            Ok(d) => {
                f.device_id = Some(i64::try_from(d.device().get()).unwrap_or(i64::MAX));
                f.block = Some(d.block().map_or(0, |b| i64::from(b.block())));
            }
            Err(_) => f.nothing = true,
        }
    }
    if let Some(v) = params.get("variable") {
        match v.parse::<VariableSlug>() {
            Ok(v) => f.slug_pattern = Some(variable_pattern(v)),
            Err(_) => f.nothing = true,
        }
    }
    if let Some(org) = params.get("org").or(params.get("org__slug")) {
        match orgs::by_slug(pool, org).await? {
            Some(o) => f.org_id = Some(o.id),
            None => f.nothing = true,
        }
    }
    f.enabled = match params.get("enabled") {
        Some("1" | "true" | "True") => Some(true),
        Some("0" | "false" | "False") => Some(false),
        _ => None,
    };
    if params.flag("virtual") {
        f.virtual_only = true;
    } else if params.flag("archived") {
        f.blocks_only = true;
    } else if device.is_none() && block.is_none() && !params.flag("all") {
        f.active_devices_only = true;
    }
    Ok(f)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::SuperLarge)?;
    let filter = filter_from(&state, &caller, &params).await?;
    let (count, rows) = streams::list(&state.db.meta, &filter, w.offset, w.size).await?;
    let results: Vec<StreamView> = rows.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<StreamView>> {
    let stream = fetch(&state, &caller, &slug, perm::READ_STREAM_DATA).await?;
    Ok(Reply(view(&stream)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewStream {
    /// The variable's slug.
    variable: String,
    /// A device of the variable's project; none for a virtual stream.
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    data_label: Option<String>,
    #[serde(default)]
    data_type: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewStream>,
) -> ApiResult<(StatusCode, Reply<StreamView>)> {
    let pool = &state.db.meta;
    let bad_variable = || ApiError::field("variable", "Object with slug does not exist.");
    let vslug = body
        .variable
        .parse::<VariableSlug>()
        .map_err(|_| bad_variable())?;
    let var = variables::by_slug(pool, &vslug.to_string())
        .await?
        .ok_or_else(bad_variable)?;
    let project = match &var.project_id {
        Some(id) => projects::by_id(pool, id).await?,
        None => None,
    }
    .ok_or_else(bad_variable)?;
    if !caller.can(&project.org_id, perm::MODIFY_STREAM_IDS) {
        return Err(ApiError::no_permission());
    }
    let device = match body.device.as_deref().filter(|d| !d.is_empty()) {
        None => None,
        Some(raw) => {
            let id = raw.parse::<DeviceId>().map_err(|_| ApiError::NotFound)?;
            let owner = devices::owner(pool, i64::try_from(id.get()).unwrap_or(i64::MAX))
                .await?
                .filter(|d| d.project_id.as_deref() == Some(project.id.as_str()))
                .ok_or(ApiError::NotFound)?;
            Some((id, owner.id))
        }
    };
    let gid = ProjectSlug::new(u32::try_from(project.gid).unwrap_or(0));
    let lid = u16::try_from(var.lid).unwrap_or(0);
    let slug = match device {
        Some((id, _)) => StreamSlug::new(gid, id, lid),
        None => StreamSlug::virtual_stream(gid, lid),
    };
    let stream = Stream {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug.to_string(),
        project_id: Some(project.id.clone()),
        org_id: Some(project.org_id.clone()),
        org_slug: None,
        device_id: device.map(|(_, id)| id),
        block: None,
        variable_id: Some(var.id.clone()),
        data_label: body.data_label.unwrap_or_default(),
        var_type: var.var_type.clone(),
        data_type: body.data_type.unwrap_or_else(|| "D0".to_string()),
        var_name: var.name.clone(),
        var_lid: var.lid,
        input_unit: var.input_unit.as_ref().map(Value::to_string),
        output_unit: var.output_unit.as_ref().map(Value::to_string),
        derived_stream: None,
        raw_value_format: var.raw_value_format.clone(),
        mdo_type: "S".to_string(),
        mdo_label: var.mdo_label.clone(),
        multiplication_factor: Some(var.multiplication_factor),
        division_factor: Some(var.division_factor),
        offset: Some(var.offset),
        enabled: true,
        created_on: now_micros(),
    };
    match streams::create(pool, &stream, caller.user.id).await {
        Ok(()) => {}
        Err(e) if crate::store::is_unique_violation(&e) => {
            return Err(ApiError::field(
                "non_field_errors",
                "A stream for this variable and device already exists.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let stored = streams::by_slug(pool, &stream.slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, Reply(view(&stored))))
}

fn bad(field: &str, msg: &str) -> ApiError {
    ApiError::field(field, msg)
}

fn opt_int(key: &str, v: &Value) -> ApiResult<Option<i64>> {
    match v {
        Value::Null => Ok(None),
        v => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad(key, "A valid integer is required.")),
    }
}

/// The writable fields of a PATCH or PUT body; others are ignored.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // described, never built: `apply` reads the body field by field
pub struct StreamChanges {
    data_label: Option<String>,
    mdo_label: Option<String>,
    /// `S` or `V`.
    mdo_type: Option<String>,
    multiplication_factor: Option<i64>,
    /// Not zero.
    division_factor: Option<i64>,
    offset: Option<f64>,
    enabled: Option<bool>,
    /// A unit object, or null.
    input_unit: Option<Map<String, Value>>,
    output_unit: Option<Map<String, Value>>,
    /// A stream slug, or empty or null for none.
    derived_stream: Option<String>,
}

/// Applies the writable fields of a PATCH or PUT body to a stream.
fn apply(stream: &mut Stream, body: &Map<String, Value>) -> ApiResult<()> {
    for (key, v) in body {
        match key.as_str() {
            "data_label" | "mdo_label" => {
                let s = v.as_str().ok_or_else(|| bad(key, "Not a valid string."))?;
                if key == "data_label" {
                    stream.data_label = s.to_string();
                } else {
                    stream.mdo_label = s.to_string();
                }
            }
            "mdo_type" => match v.as_str() {
                Some(t @ ("S" | "V")) => stream.mdo_type = t.to_string(),
                _ => return Err(bad(key, &format!("{v} is not a valid choice."))),
            },
            "multiplication_factor" => stream.multiplication_factor = opt_int(key, v)?,
            "division_factor" => {
                let d = opt_int(key, v)?;
                if d == Some(0) {
                    return Err(bad(key, "Ensure this value is not zero."));
                }
                stream.division_factor = d;
            }
            "offset" => {
                stream.offset = match v {
                    Value::Null => None,
                    v => Some(
                        v.as_f64()
                            .ok_or_else(|| bad(key, "A valid number is required."))?,
                    ),
                }
            }
            "enabled" => {
                stream.enabled = v
                    .as_bool()
                    .ok_or_else(|| bad(key, "Must be a valid boolean."))?
            }
            "input_unit" | "output_unit" => {
                let unit = match v {
                    Value::Null => None,
                    Value::Object(_) => Some(v.to_string()),
                    _ => return Err(bad(key, "Expected an object.")),
                };
                if key == "input_unit" {
                    stream.input_unit = unit;
                } else {
                    stream.output_unit = unit;
                }
            }
            "derived_stream" => {
                stream.derived_stream = match v {
                    Value::Null => None,
                    Value::String(s) if s.is_empty() => None,
                    Value::String(s) => {
                        Some(parse_slug(s).ok_or_else(|| bad(key, "Not a valid stream slug."))?)
                    }
                    _ => return Err(bad(key, "Not a valid string.")),
                }
            }
            _ => {}
        }
    }
    Ok(())
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> ApiResult<Reply<StreamView>> {
    let mut stream = fetch(&state, &caller, &slug, perm::MODIFY_STREAM_IDS).await?;
    apply(&mut stream, &body)?;
    streams::update(&state.db.meta, &stream).await?;
    let stored = streams::by_slug(&state.db.meta, &stream.slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(view(&stored)))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    let stream = fetch(&state, &caller, &slug, perm::MODIFY_STREAM_IDS).await?;
    if !caller.is_staff() {
        return Err(ApiError::restricted(StatusCode::BAD_REQUEST));
    }
    let keys = data::delete_stream(&state.db.data, &stream.slug).await?;
    crate::event_documents::delete_all(&state.blobs, &keys).await;
    streams::delete(&state.db.meta, &stream.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
