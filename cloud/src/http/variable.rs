//! `/api/v1/variable/`: a project's variables, looked up by `v--` slug (spec 3.6). Lists
//! cover the orgs where the caller may read stream ids; others' variables are 404.

use std::str::FromStr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sync_protocol::ids::{ProjectSlug, VariableSlug};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::{self, Json, Reply};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::catalogue::{self, Kind};
use crate::store::projects::{self, Scope};
use crate::store::variables::{self, Fields, Variable};
use crate::time::{format, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/variable", get(list).post(create))
        .route(
            "/variable/{slug}",
            get(retrieve).patch(update).put(update).delete(destroy),
        )
}

/// The variable object.
#[derive(Serialize, ToSchema)]
#[schema(as = Variable)]
pub struct VariableView {
    pub id: String,
    pub name: String,
    pub lid: i64,
    /// The var type's slug.
    pub var_type: Option<String>,
    /// A unit object of the var type.
    pub input_unit: Option<Value>,
    pub output_unit: Option<Value>,
    pub derived_variable: Option<String>,
    /// The project's id.
    pub project: Option<String>,
    /// The org's slug.
    pub org: Option<String>,
    pub about: String,
    #[schema(format = DateTime)]
    pub created_on: String,
    pub raw_value_format: String,
    pub units: String,
    pub multiplication_factor: i64,
    pub division_factor: i64,
    pub offset: f64,
    pub decimal_places: i64,
    pub mdo_label: String,
    pub web_only: bool,
    pub app_only: bool,
    pub slug: String,
}

pub fn view(v: &Variable) -> VariableView {
    VariableView {
        id: v.id.clone(),
        name: v.name.clone(),
        lid: v.lid,
        var_type: v.var_type.clone(),
        input_unit: v.input_unit.clone(),
        output_unit: v.output_unit.clone(),
        derived_variable: v.derived_variable.clone(),
        project: v.project_id.clone(),
        org: v.org_slug.clone(),
        about: v.about.clone(),
        created_on: format(v.created_on),
        raw_value_format: v.raw_value_format.clone(),
        units: v.units.clone(),
        multiplication_factor: v.multiplication_factor,
        division_factor: v.division_factor,
        offset: v.offset,
        decimal_places: v.decimal_places,
        mdo_label: v.mdo_label.clone(),
        web_only: v.web_only,
        app_only: v.app_only,
        slug: v.slug.clone(),
    }
}

/// Whether the caller may read variables of an org.
fn reads(caller: &Caller, org_id: Option<&str>) -> bool {
    caller.staff_mode
        || org_id.is_some_and(|org| {
            caller
                .membership(org)
                .is_some_and(|m| m.permissions.get(perm::READ_STREAM_IDS) == Some(&true))
        })
}

/// A variable by a slug in any form the parser accepts; 404 when missing or not readable.
pub(crate) async fn visible(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<Variable> {
    let slug = VariableSlug::from_str(slug).map_err(|_| ApiError::NotFound)?;
    let variable = variables::by_slug(&state.db.meta, &slug.to_string())
        .await?
        .ok_or(ApiError::NotFound)?;
    if reads(caller, variable.org_id.as_deref()) {
        Ok(variable)
    } else {
        Err(ApiError::NotFound)
    }
}

/// The orgs whose variables a caller's lists show.
pub(crate) fn scope(caller: &Caller) -> Scope {
    if caller.staff_mode {
        Scope::All
    } else {
        Scope::Orgs(caller.org_ids_with(perm::READ_STREAM_IDS))
    }
}

/// Matches nothing: a `?project=` naming no project.
const NO_PROJECT: &str = "-";

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Large)?;
    let scope = scope(&caller);
    // A UUID also brings the variables with no project; a p-- slug only the project's own.
    let (project_id, include_unassigned) = match params.get("project") {
        None => (None, false),
        Some(p) => match uuid::Uuid::parse_str(p) {
            Ok(id) => (Some(id.to_string()), true),
            Err(_) => {
                let slug = ProjectSlug::from_str(p)
                    .map_err(|_| ApiError::field("project", "Not a project UUID or p-- slug."))?;
                let found = projects::by_slug(&state.db.meta, slug).await?;
                (Some(found.map_or(NO_PROJECT.to_string(), |p| p.id)), false)
            }
        },
    };
    let filter = variables::Filter {
        project_id: project_id.as_deref(),
        include_unassigned,
        org_slug: params.get("org").or(params.get("org__slug")),
        search: params.get("search"),
    };
    let (count, found) = variables::list(&state.db.meta, &scope, &filter, w.offset, w.size).await?;
    let results: Vec<VariableView> = found.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Reply<VariableView>> {
    Ok(Reply(view(&visible(&state, &caller, &slug).await?)))
}

/// The settable fields, all optional: what a PATCH may carry and a create may add.
#[derive(Deserialize, Default, ToSchema)]
pub struct Settable {
    /// A var type's slug.
    name: Option<String>,
    about: Option<String>,
    var_type: Option<String>,
    units: Option<String>,
    /// `<L`, `<l`, `<H`, `<h`, `<B`, `<b`, `<Q`, `<q`, `<f`, `<d` or `auto`.
    raw_value_format: Option<String>,
    multiplication_factor: Option<i64>,
    division_factor: Option<i64>,
    offset: Option<f64>,
    decimal_places: Option<i64>,
    mdo_label: Option<String>,
    web_only: Option<bool>,
    app_only: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
pub struct Required {
    #[allow(dead_code)]
    name: String,
    /// The local id, 0 to 65535.
    lid: i64,
    /// The project's id (a UUID).
    project: String,
}

/// A variable's body: what a create requires, then the settable fields and the units, which
/// are read from the body as given.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // described, never built: the handlers read its parts from the body
pub struct NewVariable {
    #[serde(flatten)]
    required: Required,
    #[serde(flatten)]
    changes: VariableChanges,
}

/// What a PATCH or PUT may change.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // described, never built: the handlers read its parts from the body
pub struct VariableChanges {
    #[serde(flatten)]
    settable: Settable,
    /// A unit slug of the var type, a unit object, or null.
    input_unit: Option<Value>,
    output_unit: Option<Value>,
}

/// The raw value formats a variable may have.
pub(crate) const RAW_FORMATS: &[&str] = &[
    "<L", "<l", "<H", "<h", "<B", "<b", "<Q", "<q", "<f", "<d", "auto",
];

/// Applies a body's settable fields onto `fields`, checking each against the catalogue.
async fn apply(state: &AppState, body: &Map<String, Value>, fields: &mut Fields) -> ApiResult<()> {
    let set: Settable = json::parse(Value::Object(body.clone()))?;
    if let Some(name) = set.name {
        if name.trim().is_empty() {
            return Err(ApiError::field("name", "This field may not be blank."));
        }
        fields.name = name.trim().to_string();
    }
    if let Some(var_type) = set.var_type {
        if catalogue::get(&state.db.meta, Kind::VarType, &var_type)
            .await?
            .is_none()
        {
            return Err(ApiError::field(
                "var_type",
                format!("Object with slug={var_type} does not exist."),
            ));
        }
        fields.var_type = Some(var_type);
    }
    if let Some(format) = set.raw_value_format {
        if !RAW_FORMATS.contains(&format.as_str()) {
            return Err(ApiError::field(
                "raw_value_format",
                format!("\"{format}\" is not a valid choice."),
            ));
        }
        fields.raw_value_format = format;
    }
    for (key, value) in [
        ("multiplication_factor", set.multiplication_factor),
        ("division_factor", set.division_factor),
    ] {
        if value == Some(0) {
            return Err(ApiError::field(key, "Must not be zero."));
        }
    }
    if let Some(places) = set.decimal_places {
        if !(0..=20).contains(&places) {
            return Err(ApiError::field(
                "decimal_places",
                "Ensure this value is between 0 and 20.",
            ));
        }
        fields.decimal_places = places;
    }
    fields.about = set.about.unwrap_or(fields.about.clone());
    fields.units = set.units.unwrap_or(fields.units.clone());
    fields.multiplication_factor = set
        .multiplication_factor
        .unwrap_or(fields.multiplication_factor);
    fields.division_factor = set.division_factor.unwrap_or(fields.division_factor);
    fields.offset = set.offset.unwrap_or(fields.offset);
    fields.mdo_label = set.mdo_label.unwrap_or(fields.mdo_label.clone());
    fields.web_only = set.web_only.unwrap_or(fields.web_only);
    fields.app_only = set.app_only.unwrap_or(fields.app_only);
    for (key, list) in [
        ("input_unit", "available_input_units"),
        ("output_unit", "available_output_units"),
    ] {
        if let Some(given) = body.get(key) {
            let unit = unit(state, fields.var_type.as_deref(), key, list, given).await?;
            if key == "input_unit" {
                fields.input_unit = unit;
            } else {
                fields.output_unit = unit;
            }
        }
    }
    Ok(())
}

/// A unit given as a slug of the var type's units, as a unit object, or null.
async fn unit(
    state: &AppState,
    var_type: Option<&str>,
    key: &str,
    list: &str,
    given: &Value,
) -> ApiResult<Option<Value>> {
    match given {
        Value::Null => Ok(None),
        Value::Object(_) => Ok(Some(given.clone())),
        Value::String(slug) => {
            let vt = match var_type {
                Some(vt) => catalogue::get(&state.db.meta, Kind::VarType, vt).await?,
                None => None,
            };
            vt.and_then(|(body, _)| {
                body[list]
                    .as_array()
                    .and_then(|units| units.iter().find(|u| u["slug"] == *slug).cloned())
            })
            .map(Some)
            .ok_or_else(|| ApiError::field(key, format!("Object with slug={slug} does not exist.")))
        }
        _ => Err(ApiError::field(key, "Expected a unit slug or object.")),
    }
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Map<String, Value>>,
) -> ApiResult<(StatusCode, Reply<VariableView>)> {
    let created = insert(&state, &caller, &body).await?;
    Ok((StatusCode::CREATED, Reply(view(&created))))
}

/// Whether the caller may create and change variables in the org `org_id`.
pub(crate) fn may_modify(caller: &Caller, org_id: &str) -> ApiResult<()> {
    if caller.can(org_id, perm::MODIFY_STREAM_IDS) {
        Ok(())
    } else {
        Err(ApiError::no_permission())
    }
}

/// Validates and stores a new variable from a create body (`name`, `lid`, `project` and
/// any settable field) for a caller who may modify stream ids in the project's org.
pub(crate) async fn insert(
    state: &AppState,
    caller: &Caller,
    body: &Map<String, Value>,
) -> ApiResult<Variable> {
    let required: Required = json::parse(Value::Object(body.clone()))?;
    let lid = u16::try_from(required.lid)
        .map_err(|_| ApiError::field("lid", "Ensure this value is between 0 and 65535."))?;
    let missing = || {
        ApiError::field(
            "project",
            format!(
                "Invalid pk \"{}\" - object does not exist.",
                required.project
            ),
        )
    };
    let project_id = uuid::Uuid::parse_str(&required.project).map_err(|_| missing())?;
    let project = projects::by_id(&state.db.meta, &project_id.to_string())
        .await?
        .ok_or_else(missing)?;
    if !caller.staff_mode && caller.membership(&project.org_id).is_none() {
        return Err(missing());
    }
    may_modify(caller, &project.org_id)?;
    let mut fields = Fields {
        name: String::new(),
        about: String::new(),
        var_type: None,
        input_unit: None,
        output_unit: None,
        units: String::new(),
        raw_value_format: "<L".into(),
        multiplication_factor: 1,
        division_factor: 1,
        offset: 0.0,
        decimal_places: 2,
        mdo_label: String::new(),
        web_only: false,
        app_only: false,
    };
    apply(state, body, &mut fields).await?;
    let slug = VariableSlug::new(project.slug(), lid).to_string();
    let duplicate = || {
        ApiError::field(
            "non_field_errors",
            "The fields project, lid must make a unique set.",
        )
    };
    if variables::by_slug(&state.db.meta, &slug).await?.is_some() {
        return Err(duplicate());
    }
    let created = variables::create(
        &state.db.meta,
        &slug,
        &project.id,
        &project.org_id,
        i64::from(lid),
        &fields,
        caller.user.id,
        now_micros(),
    )
    .await;
    match created {
        Ok(v) => Ok(v),
        Err(e) if crate::store::is_unique_violation(&e) => Err(duplicate()),
        Err(e) => Err(e.into()),
    }
}

/// Changes the settable fields; `lid` and `project` are fixed once created, since the slug
/// and the streams made from the variable depend on them.
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> ApiResult<Reply<VariableView>> {
    let variable = visible(&state, &caller, &slug).await?;
    let fresh = change(&state, &caller, &variable, &body).await?;
    Ok(Reply(view(&fresh)))
}

/// Applies an update body's settable fields to a variable the caller sees, for a caller
/// who may modify stream ids in its org.
pub(crate) async fn change(
    state: &AppState,
    caller: &Caller,
    variable: &Variable,
    body: &Map<String, Value>,
) -> ApiResult<Variable> {
    may_modify(caller, variable.org_id.as_deref().unwrap_or(""))?;
    let mut fields = Fields::of(variable);
    apply(state, body, &mut fields).await?;
    variables::update(&state.db.meta, &variable.id, &fields).await?;
    variables::by_slug(&state.db.meta, &variable.slug)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Staff only (400 for others, as the original); a variable with streams is kept.
async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    remove(&state, &caller, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the caller may delete variables at all (pages offer the action only then).
pub(crate) fn may_remove(caller: &Caller) -> bool {
    caller.is_staff()
}

/// Deletes the variable with slug `slug`, by the rules `destroy` states.
pub(crate) async fn remove(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<()> {
    if !may_remove(caller) {
        return Err(ApiError::restricted(StatusCode::BAD_REQUEST));
    }
    let slug = VariableSlug::from_str(slug).map_err(|_| ApiError::NotFound)?;
    let variable = variables::by_slug(&state.db.meta, &slug.to_string())
        .await?
        .ok_or(ApiError::NotFound)?;
    let streams = variables::stream_count(&state.db.meta, &variable.id).await?;
    if streams > 0 {
        return Err(ApiError::error_body(
            StatusCode::BAD_REQUEST,
            format!("The variable still has {streams} streams; delete them first"),
        ));
    }
    variables::delete(&state.db.meta, &variable.id).await?;
    Ok(())
}
