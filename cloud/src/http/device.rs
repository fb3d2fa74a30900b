//! `/api/v1/device/`: devices, their keys and read-only views (spec 3.5, 1.4).
//!
//! A device is looked up by its slug, read leniently: `d--000a`, `d--0000-000a` and a data
//! block slug `b--0001-…` all name the device; a bare `000a` does not. A device is fetched
//! first and checked after, so one outside the caller's orgs is 403, not 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sync_protocol::ids::{DeviceId, ProjectSlug};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::catalogue::{self, Kind};
use crate::store::devices::{self, Device};
use crate::store::projects::{self, Project};
use crate::store::{claims, is_unique_violation, streamers};
use crate::time::{format, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/device", get(list).post(create))
        .route("/device/{slug}", get(retrieve).patch(update).delete(remove))
        .route("/device/{slug}/extra", get(extra))
        .route("/device/{slug}/streamers", get(device_streamers))
        .route("/device/{slug}/sg", get(sensor_graph))
        .route("/device/{slug}/template", get(template))
}

/// The device object (user view).
#[derive(Serialize, ToSchema)]
#[schema(as = Device)]
pub struct DeviceView {
    pub id: i64,
    pub slug: String,
    /// The slug without its `d--`.
    pub gid: String,
    pub label: String,
    pub active: bool,
    pub external_id: String,
    /// The sensor graph's slug.
    pub sg: Option<String>,
    /// The device template's slug.
    pub template: Option<String>,
    /// The org's slug.
    pub org: Option<String>,
    /// The project's id.
    pub project: Option<String>,
    /// Degrees, as a decimal string.
    pub lat: Option<String>,
    pub lon: Option<String>,
    /// `N0`, `N1`, `B0` or `B1`.
    pub state: String,
    /// Resetting or archiving: no claim changes until that is done.
    pub busy: bool,
    #[schema(format = DateTime)]
    pub created_on: String,
    /// The claimer's account slug.
    pub claimed_by: Option<String>,
    pub claimed_on: Option<String>,
}

pub fn view(d: &Device) -> DeviceView {
    DeviceView {
        id: d.id,
        slug: d.slug.clone(),
        gid: d.slug.trim_start_matches("d--").to_string(),
        label: d.label.clone(),
        active: d.active,
        external_id: d.external_id.clone(),
        sg: d.sg.clone(),
        template: d.template.clone(),
        org: d.org_slug.clone(),
        project: d.project_id.clone(),
        lat: d.lat.clone(),
        lon: d.lon.clone(),
        state: d.state.clone(),
        busy: d.busy(),
        created_on: format(d.created_on),
        claimed_by: d.claimed_by_slug.clone(),
        claimed_on: d.claimed_on.map(format),
    }
}

/// Whether the caller may see the device: staff, a member of its org, or (for a device
/// with no org yet) the user who registered it. Device tokens see only their device.
pub fn can_access(caller: &Caller, d: &Device) -> bool {
    if !caller.may_touch_device(d.id) {
        return false;
    }
    caller.is_staff()
        || match &d.org_id {
            Some(org) => caller.has_access(org),
            None => d.created_by == Some(caller.user.id),
        }
}

/// The devices a caller's lists may show: their orgs' (every org's for staff in staff
/// mode), or only their device for a device token.
pub fn scoped(caller: &Caller) -> devices::Filter {
    devices::Filter {
        orgs: (!caller.staff_mode).then(|| caller.org_ids()),
        only: caller.device,
        ..Default::default()
    }
}

/// The device a route slug names: 404 when malformed or unknown, 403 without access.
pub async fn load(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<Device> {
    let id = DeviceId::from_route(slug).map_err(|_| ApiError::NotFound)?;
    let id = i64::try_from(id.get()).map_err(|_| ApiError::NotFound)?;
    let device = devices::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !can_access(caller, &device) {
        return Err(ApiError::no_permission());
    }
    Ok(device)
}

/// A project named by uuid or by any form of its `p--` slug; `None` when unknown or
/// malformed.
pub async fn find_project(state: &AppState, key: &str) -> ApiResult<Option<Project>> {
    let pool = &state.db.meta;
    if let Ok(id) = uuid::Uuid::parse_str(key) {
        return Ok(projects::by_id(pool, &id.to_string()).await?);
    }
    match key.parse::<ProjectSlug>() {
        Ok(slug) => Ok(projects::by_slug(pool, slug).await?),
        Err(_) => Ok(None),
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Large)?;
    let mut filter = devices::Filter {
        org_slug: params.get("org__slug").map(String::from),
        sg: params.get("sg").map(String::from),
        template: params.get("dt").map(String::from),
        external_id: params.get("external_id").map(String::from),
        claimed: params
            .get("claimed")
            .map(|v| matches!(v, "1" | "true" | "True")),
        include_inactive: params.flag("all"),
        ..scoped(&caller)
    };
    if let Some(p) = params.get("project") {
        match uuid::Uuid::parse_str(p) {
            Ok(id) => filter.project_id = Some(id.to_string()),
            // A project that cannot be read matches nothing.
            Err(_) => {
                filter.project_gid = Some(p.parse::<ProjectSlug>().map_or(-1, |s| s.get().into()))
            }
        }
    }
    let (count, found) = devices::list(&state.db.meta, &filter, w.offset, w.size).await?;
    let results: Vec<DeviceView> = found.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<DeviceView>> {
    Ok(Reply(view(&load(&state, &caller, &slug).await?)))
}

fn string_field(body: &Map<String, Value>, name: &str) -> ApiResult<Option<String>> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ApiError::field(name, "Not a valid string.")),
    }
}

/// A catalogue slug field: absent, null, or a slug that must exist.
async fn catalogue_field(
    state: &AppState,
    body: &Map<String, Value>,
    name: &str,
    kind: Kind,
) -> ApiResult<Option<Option<String>>> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(slug)) => match catalogue::get(&state.db.meta, kind, slug).await? {
            Some(_) => Ok(Some(Some(slug.clone()))),
            None => Err(ApiError::field(
                name,
                format!("Object with slug={slug} does not exist."),
            )),
        },
        Some(other) => Err(ApiError::field(
            name,
            format!("Object with slug={other} does not exist."),
        )),
    }
}

/// A decimal field (`lat`, `lon`): a number or a numeric string, kept as a decimal string.
fn decimal_field(body: &Map<String, Value>, name: &str) -> ApiResult<Option<Option<String>>> {
    let invalid = || ApiError::field(name, "A valid number is required.");
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Number(n)) => Ok(Some(Some(n.to_string()))),
        Some(Value::String(s)) => {
            let s = s.trim();
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(Some(s.to_string()))),
                _ => Err(invalid()),
            }
        }
        Some(_) => Err(invalid()),
    }
}

const STATES: &[&str] = &["N0", "N1", "B0", "B1"];

/// What a PATCH may change; other fields are ignored.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // described, never built: `update` reads the body field by field
pub struct DeviceChanges {
    /// Text, or a number taken as text.
    label: Option<String>,
    external_id: Option<String>,
    /// A sensor graph's slug, or null.
    sg: Option<String>,
    /// A device template's slug, or null: staff with `?staff=1` only.
    template: Option<String>,
    /// Degrees: a number or a decimal string, or null.
    lat: Option<f64>,
    lon: Option<f64>,
    active: Option<bool>,
    /// `N0`, `N1`, `B0` or `B1`; sets `active` too unless it is given.
    state: Option<String>,
    /// A project's id or p-- slug in the caller's orgs, or null.
    project: Option<String>,
}

pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> ApiResult<Reply<DeviceView>> {
    let device = load(&state, &caller, &slug).await?;
    let may_modify = caller.is_staff()
        || device
            .org_id
            .as_deref()
            .is_some_and(|org| caller.can(org, perm::MODIFY_DEVICE));
    if !may_modify {
        return Err(ApiError::Forbidden(
            "User is not allowed to modify device".into(),
        ));
    }
    let mut c = devices::Changes {
        label: device.label.clone(),
        active: device.active,
        external_id: device.external_id.clone(),
        sg: device.sg.clone(),
        template: device.template.clone(),
        lat: device.lat.clone(),
        lon: device.lon.clone(),
        state: device.state.clone(),
        project_id: device.project_id.clone(),
        org_id: device.org_id.clone(),
    };
    if let Some(label) = string_field(&body, "label")? {
        c.label = label;
    }
    if let Some(external_id) = string_field(&body, "external_id")? {
        c.external_id = external_id;
    }
    if let Some(sg) = catalogue_field(&state, &body, "sg", Kind::SensorGraph).await? {
        c.sg = sg;
    }
    // Only staff asking for it may change the template; anyone else is ignored silently.
    if caller.staff_mode {
        if let Some(t) = catalogue_field(&state, &body, "template", Kind::DeviceTemplate).await? {
            c.template = t;
        }
    }
    if let Some(lat) = decimal_field(&body, "lat")? {
        c.lat = lat;
    }
    if let Some(lon) = decimal_field(&body, "lon")? {
        c.lon = lon;
    }
    match body.get("active") {
        None => {}
        Some(Value::Bool(b)) => c.active = *b,
        Some(_) => return Err(ApiError::field("active", "Must be a valid boolean.")),
    }
    match body.get("state") {
        None => {}
        Some(Value::String(s)) if STATES.contains(&s.as_str()) => {
            c.state = s.clone();
            if !body.contains_key("active") {
                c.active = s != "N0";
            }
        }
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), String::from);
            return Err(ApiError::field(
                "state",
                format!("\"{shown}\" is not a valid choice."),
            ));
        }
    }
    match body.get("project") {
        None => {}
        Some(Value::Null) => c.project_id = None,
        Some(value) => {
            let key = value
                .as_str()
                .map_or_else(|| value.to_string(), String::from);
            let project = find_project(&state, &key)
                .await?
                .filter(|p| caller.has_access(&p.org_id))
                .ok_or_else(|| {
                    ApiError::field(
                        "project",
                        format!("Invalid pk \"{key}\" - object does not exist."),
                    )
                })?;
            c.project_id = Some(project.id);
            c.org_id = Some(project.org_id);
        }
    }
    devices::update(&state.db.meta, device.id, &c).await?;
    let fresh = devices::by_id(&state.db.meta, device.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(view(&fresh)))
}

#[derive(Deserialize, ToSchema)]
pub struct NewDevice {
    /// A device template's slug.
    template: String,
    /// A sensor graph's slug.
    sg: Option<String>,
    label: Option<String>,
    external_id: Option<String>,
    /// A project (id or p-- slug) to claim the device into.
    project: Option<String>,
    /// The factory serial number, 1 to 2^48 - 1; the next free id without it.
    id: Option<u64>,
}

/// Registers a device (staff only): its id is the factory serial number when given.
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewDevice>,
) -> ApiResult<(StatusCode, Reply<DeviceView>)> {
    if !caller.staff_mode {
        return Err(ApiError::restricted(StatusCode::FORBIDDEN));
    }
    let pool = &state.db.meta;
    if catalogue::get(pool, Kind::DeviceTemplate, &body.template)
        .await?
        .is_none()
    {
        return Err(ApiError::field(
            "template",
            format!("Object with slug={} does not exist.", body.template),
        ));
    }
    if let Some(sg) = &body.sg {
        if catalogue::get(pool, Kind::SensorGraph, sg).await?.is_none() {
            return Err(ApiError::field(
                "sg",
                format!("Object with slug={sg} does not exist."),
            ));
        }
    }
    let project = match &body.project {
        None => None,
        Some(key) => Some(find_project(&state, key).await?.ok_or_else(|| {
            ApiError::field(
                "project",
                format!("Invalid pk \"{key}\" - object does not exist."),
            )
        })?),
    };
    let id = match body.id {
        Some(id) => DeviceId::new(id)
            .ok()
            .filter(|d| d.get() > 0)
            .and_then(|d| i64::try_from(d.get()).ok())
            .ok_or_else(|| ApiError::field("id", "Device id must be between 1 and 2^48 - 1."))?,
        None => devices::next_id(pool).await?,
    };
    let device_id = DeviceId::new(u64::try_from(id).unwrap_or_default())
        .map_err(|_| ApiError::field("id", "Device id must be between 1 and 2^48 - 1."))?;
    let slug = device_id.to_string();
    let label = body
        .label
        .clone()
        .unwrap_or_else(|| format!("IOTile Device ({id:04x})"));
    let now = now_micros();
    let new = devices::NewDevice {
        id,
        slug: &slug,
        label: &label,
        external_id: body.external_id.as_deref().unwrap_or(""),
        sg: body.sg.as_deref(),
        template: &body.template,
        created_by: caller.user.id,
    };
    if let Err(e) = devices::create(pool, &new, now).await {
        return Err(if is_unique_violation(&e) {
            ApiError::field("id", "Device with this id already exists.")
        } else {
            e.into()
        });
    }
    if let Some(project) = project {
        let templates = claims::variable_templates(pool, body.sg.as_deref()).await?;
        claims::claim(pool, id, &project, caller.user.id, &templates, now)
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
    }
    let device = devices::by_id(pool, id).await?.ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, Reply(view(&device))))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    if !caller.staff_mode {
        return Err(ApiError::restricted(StatusCode::FORBIDDEN));
    }
    let device = load(&state, &caller, &slug).await?;
    devices::delete(&state.db.meta, device.id, &device.slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The device with a count of its stored rows per stream.
#[derive(Serialize, ToSchema)]
pub struct DeviceExtra {
    pub id: i64,
    pub slug: String,
    pub project: Option<String>,
    pub label: String,
    pub active: bool,
    #[schema(format = DateTime)]
    pub created_on: String,
    pub claimed_by: Option<String>,
    pub claimed_on: Option<String>,
    /// By stream slug.
    pub stream_counts: BTreeMap<String, StreamCounts>,
}

/// A stream's stored rows, and whether the stream is registered.
#[derive(Serialize, ToSchema, Default)]
pub struct StreamCounts {
    pub has_streamid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_cnt: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_cnt: Option<i64>,
}

async fn extra(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<DeviceExtra>> {
    let d = load(&state, &caller, &slug).await?;
    let (data, events) = devices::row_counts(&state.db.data, &d.slug).await?;
    let mut counts: BTreeMap<String, StreamCounts> = BTreeMap::new();
    for s in devices::stream_slugs(&state.db.meta, d.id).await? {
        counts.entry(s).or_default().has_streamid = true;
    }
    for (stream, n) in data {
        counts.entry(stream).or_default().data_cnt = Some(n);
    }
    for (stream, n) in events {
        counts.entry(stream).or_default().event_cnt = Some(n);
    }
    Ok(Reply(DeviceExtra {
        id: d.id,
        slug: d.slug.clone(),
        project: d.project_id.clone(),
        label: d.label.clone(),
        active: d.active,
        created_on: format(d.created_on),
        claimed_by: d.claimed_by_slug.clone(),
        claimed_on: d.claimed_on.map(format),
        stream_counts: counts,
    }))
}

async fn device_streamers(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<Vec<super::streamer::StreamerView>>> {
    let d = load(&state, &caller, &slug).await?;
    let all = streamers::of_device(&state.db.meta, d.id).await?;
    Ok(Reply(all.iter().map(super::streamer::view).collect()))
}

/// A catalogue record attached to a device, without the internal `active` flag.
async fn attached(
    state: &AppState,
    kind: Kind,
    slug: Option<&str>,
) -> ApiResult<axum::Json<Value>> {
    let slug = slug.ok_or(ApiError::NotFound)?;
    let (body, _) = catalogue::get(&state.db.meta, kind, slug)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(super::catalogue::public(body)))
}

async fn sensor_graph(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let d = load(&state, &caller, &slug).await?;
    attached(&state, Kind::SensorGraph, d.sg.as_deref()).await
}

async fn template(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let d = load(&state, &caller, &slug).await?;
    attached(&state, Kind::DeviceTemplate, d.template.as_deref()).await
}
