//! Properties (spec 3.13): typed name/value pairs on a project, device or data block, at
//! `/api/v1/property/` and as the `properties` and `new_property` actions of devices and
//! projects.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sync_protocol::ids::{DeviceId, Slug};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::target::{self, Target};
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::annotations::{self, Property};
use crate::store::{is_unique_violation, projects};
use crate::time::now_micros;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/property", get(list).post(create))
        .route(
            "/property/{id}",
            get(retrieve).patch(update).put(update).delete(remove),
        )
        .route("/device/{slug}/properties", get(device_properties))
        .route("/device/{slug}/new_property", post(device_new_property))
        .route("/project/{id}/properties", get(project_properties))
        .route("/project/{id}/new_property", post(project_new_property))
}

/// A string value is cut to this many characters.
const MAX_STR: usize = 256;

/// A property's value, as its type says: an integer, a boolean or a string.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum PropertyValue {
    Int(i64),
    Bool(bool),
    Str(String),
}

fn typed_value(p: &Property) -> PropertyValue {
    match p.kind.as_str() {
        "int" => p
            .value
            .parse::<i64>()
            .map_or(PropertyValue::Str(p.value.clone()), PropertyValue::Int),
        "bool" => PropertyValue::Bool(matches!(p.value.as_str(), "True" | "true" | "1")),
        _ => PropertyValue::Str(p.value.clone()),
    }
}

/// The short form the device and project actions list.
#[derive(Serialize, ToSchema)]
pub struct PropertyItem {
    pub id: i64,
    pub name: String,
    pub value: PropertyValue,
    /// `int`, `str` or `bool`.
    #[serde(rename = "type")]
    pub kind: String,
    pub is_system: bool,
}

/// The property object: the short form and its target.
#[derive(Serialize, ToSchema)]
#[schema(as = Property)]
pub struct PropertyView {
    #[serde(flatten)]
    pub item: PropertyItem,
    /// The project, device or data block's slug.
    pub target: String,
}

/// What a create answers.
#[derive(Serialize, ToSchema)]
pub struct PropertyCreated {
    pub target: String,
    pub name: String,
    pub is_system: bool,
    pub value: PropertyValue,
}

pub fn view(p: &Property) -> PropertyView {
    PropertyView {
        item: item(p),
        target: p.target.clone(),
    }
}

fn item(p: &Property) -> PropertyItem {
    PropertyItem {
        id: p.id,
        name: p.name.clone(),
        value: typed_value(p),
        kind: p.kind.clone(),
        is_system: p.is_system,
    }
}

fn created(p: &Property) -> PropertyCreated {
    PropertyCreated {
        target: p.target.clone(),
        name: p.name.clone(),
        is_system: p.is_system,
        value: typed_value(p),
    }
}

/// A property target: only projects, devices and data blocks carry properties.
async fn property_target(
    state: &AppState,
    caller: &Caller,
    raw: &str,
    perm: &str,
) -> ApiResult<Target> {
    match target::parse(raw) {
        Some(slug @ (Slug::Project(_) | Slug::Device(_) | Slug::Block(_))) => {
            target::require(state, caller, slug, perm).await
        }
        _ => Err(ApiError::field(
            "target",
            "Target must be a project, device or data block slug.",
        )),
    }
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let raw = params.get("target").ok_or_else(|| {
        ApiError::Detail(
            StatusCode::NOT_ACCEPTABLE,
            "target argument (a project, device or data block slug) is required".into(),
        )
    })?;
    let t = property_target(&state, &caller, raw, perm::READ_DEVICE_PROPERTIES).await?;
    let (count, rows) =
        annotations::properties(&state.db.meta, &t.canonical, w.offset, w.size).await?;
    let results: Vec<PropertyView> = rows.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// A property's fields; exactly one of the values, whose field gives the type.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PropertyBody {
    /// A project, device or data block slug (`/property/` only).
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    is_system: Option<bool>,
    #[serde(default)]
    int_value: Option<i64>,
    #[serde(default)]
    str_value: Option<String>,
    #[serde(default)]
    bool_value: Option<bool>,
}

impl PropertyBody {
    /// The `(value, type)` given, if exactly one value is; `Ok(None)` when none is.
    fn value(&self) -> ApiResult<Option<(String, &'static str)>> {
        let given = [
            self.int_value.map(|n| (n.to_string(), "int")),
            self.str_value
                .as_ref()
                .map(|s| (s.chars().take(MAX_STR).collect(), "str")),
            self.bool_value
                .map(|b| ((if b { "True" } else { "False" }).to_string(), "bool")),
        ];
        let mut values = given.into_iter().flatten();
        match (values.next(), values.next()) {
            (one, None) => Ok(one),
            _ => Err(ApiError::field(
                "non_field_errors",
                "Give exactly one of int_value, str_value or bool_value",
            )),
        }
    }

    /// A complete new property for `target`.
    fn new_property(&self, target: &str) -> ApiResult<Property> {
        let name = self
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::field("name", "This field is required."))?;
        let (value, kind) = self.value()?.ok_or_else(|| {
            ApiError::field(
                "non_field_errors",
                "Give exactly one of int_value, str_value or bool_value",
            )
        })?;
        Ok(Property {
            id: 0,
            target: target.to_string(),
            name: name.to_string(),
            value,
            kind: kind.to_string(),
            is_system: self.is_system.unwrap_or(false),
        })
    }
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<PropertyBody>,
) -> ApiResult<(StatusCode, Reply<PropertyCreated>)> {
    let raw = body
        .target
        .as_deref()
        .ok_or_else(|| ApiError::field("target", "This field is required."))?;
    let t = property_target(&state, &caller, raw, perm::MODIFY_DEVICE_PROPERTIES).await?;
    let new = body.new_property(&t.canonical)?;
    match annotations::create_property(&state.db.meta, &new, caller.user.id, now_micros()).await {
        Ok(p) => Ok((StatusCode::CREATED, Reply(created(&p)))),
        Err(e) if is_unique_violation(&e) => Err(ApiError::field(
            "non_field_errors",
            "The fields target, name must make a unique set.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// The property with that id, with `perm` checked on its target.
async fn fetch(state: &AppState, caller: &Caller, id: &str, perm: &str) -> ApiResult<Property> {
    let id = id.trim().parse::<i64>().map_err(|_| ApiError::NotFound)?;
    let p = annotations::property(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let slug = target::parse(&p.target).ok_or(ApiError::NotFound)?;
    target::require(state, caller, slug, perm).await?;
    Ok(p)
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Reply<PropertyView>> {
    let p = fetch(&state, &caller, &id, perm::READ_DEVICE_PROPERTIES).await?;
    Ok(Reply(view(&p)))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<PropertyBody>,
) -> ApiResult<Reply<PropertyView>> {
    let mut p = fetch(&state, &caller, &id, perm::MODIFY_DEVICE_PROPERTIES).await?;
    if let Some(name) = body.name.as_deref().map(str::trim) {
        if name.is_empty() {
            return Err(ApiError::field("name", "This field may not be blank."));
        }
        p.name = name.to_string();
    }
    if let Some(is_system) = body.is_system {
        p.is_system = is_system;
    }
    if let Some((value, kind)) = body.value()? {
        p.value = value;
        p.kind = kind.to_string();
    }
    match annotations::update_property(&state.db.meta, &p).await {
        Ok(()) => Ok(Reply(view(&p))),
        Err(e) if is_unique_violation(&e) => Err(ApiError::field(
            "non_field_errors",
            "The fields target, name must make a unique set.",
        )),
        Err(e) => Err(e.into()),
    }
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let p = fetch(&state, &caller, &id, perm::MODIFY_DEVICE_PROPERTIES).await?;
    annotations::delete_property(&state.db.meta, p.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A device route's slug (a `b--` slug names its device) as a target.
fn device_slug(raw: &str) -> ApiResult<Slug> {
    DeviceId::from_route(raw)
        .map(Slug::Device)
        .map_err(|_| ApiError::NotFound)
}

/// A project route's UUID as a target.
async fn project_slug(state: &AppState, id: &str) -> ApiResult<Slug> {
    let p = projects::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Slug::Project(p.slug()))
}

async fn listed(
    state: &AppState,
    caller: &Caller,
    slug: Slug,
) -> ApiResult<Reply<Vec<PropertyItem>>> {
    let t = target::require(state, caller, slug, perm::READ_DEVICE_PROPERTIES).await?;
    let (_, rows) = annotations::properties(&state.db.meta, &t.canonical, 0, i64::MAX).await?;
    Ok(Reply(rows.iter().map(item).collect()))
}

async fn set(
    state: &AppState,
    caller: &Caller,
    slug: Slug,
    body: &PropertyBody,
) -> ApiResult<(StatusCode, Reply<PropertyCreated>)> {
    let t = target::require(state, caller, slug, perm::MODIFY_DEVICE_PROPERTIES).await?;
    let new = body.new_property(&t.canonical)?;
    let p = annotations::set_property(&state.db.meta, &new, caller.user.id, now_micros()).await?;
    Ok((StatusCode::CREATED, Reply(created(&p))))
}

async fn device_properties(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<Vec<PropertyItem>>> {
    listed(&state, &caller, device_slug(&slug)?).await
}

pub(crate) async fn device_new_property(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<PropertyBody>,
) -> ApiResult<(StatusCode, Reply<PropertyCreated>)> {
    set(&state, &caller, device_slug(&slug)?, &body).await
}

async fn project_properties(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Reply<Vec<PropertyItem>>> {
    let slug = project_slug(&state, &id).await?;
    listed(&state, &caller, slug).await
}

async fn project_new_property(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<PropertyBody>,
) -> ApiResult<(StatusCode, Reply<PropertyCreated>)> {
    let slug = project_slug(&state, &id).await?;
    set(&state, &caller, slug, &body).await
}
