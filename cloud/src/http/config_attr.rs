//! Configuration attributes (spec 3.14): `/api/v1/config/name/`, the names staff define,
//! and `/api/v1/config/attr/`, JSON values set under those names on a user (`@slug`), an org
//! (`^slug`), a project, a device or a data block. `config/attr/search/` resolves a name
//! for a target by priority: device, then its project, then its org, then the caller; the
//! answer says which level won.
//!
//! Who may do what (stricter than the original, which let anyone with access write):
//! - names: every signed-in user reads them; staff write them;
//! - on a project, device or data block: can_read_device_properties to read,
//!   can_modify_device_properties to write, in its org;
//! - on an org: can_read_device_properties to read, can_manage_org_and_projects to write;
//! - on a user: only that user (and staff).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sync_protocol::ids::{ProjectSlug, Slug};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::json::{Json, Reply};
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use super::target;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::annotations::{self, NewNote};
use crate::store::config_attrs::{self, ConfigAttr, ConfigName, NameFilter};
use crate::store::{is_unique_violation, orgs, users};
use crate::time::{self, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/config/name", get(list_names).post(create_name))
        .route(
            "/config/name/{id}",
            get(retrieve_name)
                .patch(update_name)
                .put(update_name)
                .delete(delete_name),
        )
        .route("/config/attr", get(list_attrs).post(set_attr))
        .route("/config/attr/search", get(search))
        // Attributes are set by POST alone (the original answered PUT and PATCH with 400;
        // here they are 405, with the methods allowed).
        .route("/config/attr/{id}", get(retrieve_attr).delete(delete_attr))
}

/// A configuration attribute name.
#[derive(Serialize, ToSchema)]
#[schema(as = ConfigAttributeName)]
pub struct NameView {
    pub id: i64,
    /// Starts with `:`, no spaces.
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
}

fn name_view(n: &ConfigName) -> NameView {
    NameView {
        id: n.id,
        name: n.name.clone(),
        description: n.description.clone(),
        tags: n.tags.clone(),
    }
}

/// A configuration attribute.
#[derive(Serialize, ToSchema)]
#[schema(as = ConfigAttribute)]
pub struct AttrView {
    pub id: i64,
    /// `^org-slug`, `@user-slug`, `p--…`, `d--…` or `b--…`.
    pub target: String,
    pub name: String,
    /// Any JSON value.
    pub data: Value,
    #[schema(format = DateTime)]
    pub updated_on: String,
}

fn attr_view(a: &ConfigAttr) -> AttrView {
    AttrView {
        id: a.id,
        target: a.target.clone(),
        name: a.name.clone(),
        data: a.data.clone(),
        updated_on: time::format(a.updated_on),
    }
}

/// What `search/` found, and at which level.
#[derive(Serialize, ToSchema)]
pub struct Resolved {
    #[serde(flatten)]
    pub attr: AttrView,
    /// `device`, `datablock`, `project`, `org` or `user`: where the value was set.
    pub level: &'static str,
}

/// What a name is written as.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NameBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// An attribute to set: created, or its data replaced.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AttrBody {
    pub target: Option<String>,
    pub name: Option<String>,
    /// Any JSON value, null included.
    #[serde(default, deserialize_with = "present")]
    pub data: Option<Value>,
    /// On a device, also write the change as a system note.
    #[serde(default)]
    pub log_as_note: bool,
}

/// A field that is there, even as `null` (`None` is left for a field not sent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A level attributes are set on, as resolved for a caller.
pub(crate) struct Level {
    /// The canonical target string attributes are stored under.
    pub target: String,
    pub kind: &'static str,
    org_id: Option<String>,
    device_id: Option<i64>,
    user_id: Option<i64>,
    /// The levels above it, most specific first (the caller is added last).
    above: Vec<(String, &'static str)>,
}

impl Level {
    /// The levels a lookup from here walks, most specific first: this one, those above
    /// it, then the caller's own.
    pub fn search_path(&self, caller: &Caller) -> Vec<(String, &'static str)> {
        let mut path = vec![(self.target.clone(), self.kind)];
        path.extend(self.above.iter().cloned());
        let own = format!("@{}", caller.user.slug);
        if !path.iter().any(|(t, _)| *t == own) {
            path.push((own, "user"));
        }
        path
    }

    /// Whether `caller` may read (`write` false) or write this level's attributes.
    fn allowed(&self, caller: &Caller, write: bool) -> bool {
        if let Some(user) = self.user_id {
            return caller.user.id == user || caller.is_staff();
        }
        let needed = match (self.kind, write) {
            (_, false) => perm::READ_DEVICE_PROPERTIES,
            ("org", true) => perm::MANAGE_ORG_AND_PROJECTS,
            (_, true) => perm::MODIFY_DEVICE_PROPERTIES,
        };
        target::allowed_in(caller, self.org_id.as_deref(), self.device_id, needed)
    }
}

/// The canonical form of `^org`.
fn org_target(slug: &str) -> String {
    format!("^{slug}")
}

/// Resolves a target string; `None` when it names nothing.
async fn level(state: &AppState, raw: &str) -> ApiResult<Option<Level>> {
    let raw = raw.trim();
    let pool = &state.db.meta;
    if let Some(slug) = raw.strip_prefix('^') {
        let Some(org) = orgs::by_slug(pool, &slug.to_lowercase()).await? else {
            return Ok(None);
        };
        return Ok(Some(Level {
            target: org_target(&org.slug),
            kind: "org",
            org_id: Some(org.id),
            device_id: None,
            user_id: None,
            above: Vec::new(),
        }));
    }
    if let Some(slug) = raw.strip_prefix('@') {
        let Some(user) = users::by_slug(pool, &slug.to_lowercase()).await? else {
            return Ok(None);
        };
        return Ok(Some(Level {
            target: format!("@{}", user.slug),
            kind: "user",
            org_id: None,
            device_id: None,
            user_id: Some(user.id),
            above: Vec::new(),
        }));
    }
    let Some(slug) = target::parse(raw) else {
        return Ok(None);
    };
    let kind = match slug {
        Slug::Project(_) => "project",
        Slug::Device(_) => "device",
        Slug::Block(_) => "datablock",
        _ => return Ok(None),
    };
    let Some(t) = target::resolve(state, slug).await? else {
        return Ok(None);
    };
    let mut above = Vec::new();
    if let Some(gid) = t.project_gid {
        let project = ProjectSlug::new(u32::try_from(gid).unwrap_or_default());
        above.push((project.to_string(), "project"));
    }
    if let Some(org) = match &t.org_id {
        Some(id) => orgs::by_id(pool, id).await?,
        None => None,
    } {
        above.push((org_target(&org.slug), "org"));
    }
    Ok(Some(Level {
        target: t.canonical,
        kind,
        org_id: t.org_id,
        device_id: t.device_id,
        user_id: None,
        above,
    }))
}

/// The level `raw` names, with `caller` allowed to read or write it: 404 when it names
/// nothing, 403 when not allowed.
pub(crate) async fn allowed_level(
    state: &AppState,
    caller: &Caller,
    raw: &str,
    write: bool,
) -> ApiResult<Level> {
    let level = level(state, raw).await?.ok_or(ApiError::NotFound)?;
    if !level.allowed(caller, write) {
        return Err(ApiError::no_permission());
    }
    Ok(level)
}

fn staff_only(caller: &Caller) -> ApiResult<()> {
    if caller.is_staff() {
        Ok(())
    } else {
        Err(ApiError::no_permission())
    }
}

fn id_of(raw: &str) -> ApiResult<i64> {
    raw.trim().parse::<i64>().map_err(|_| ApiError::NotFound)
}

async fn list_names(
    State(state): State<AppState>,
    _caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let filter = NameFilter {
        name_q: params.get("name_q").map(str::to_string),
        tag: params.get("tag").map(str::to_string),
    };
    let (count, rows) = config_attrs::names(&state.db.meta, &filter, w.offset, w.size).await?;
    let results: Vec<NameView> = rows.iter().map(name_view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn retrieve_name(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Reply<NameView>> {
    let n = config_attrs::name(&state.db.meta, id_of(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(name_view(&n)))
}

/// A name is `:` then at most 63 characters, none of them blank.
fn checked_name(name: &str) -> ApiResult<()> {
    if !name.starts_with(':') {
        return Err(ApiError::field(
            "name",
            format!("Name must start with \":\". Got: {name}"),
        ));
    }
    if name.chars().any(char::is_whitespace) {
        return Err(ApiError::field(
            "name",
            format!("Name cannot have spaces. Got: {name}"),
        ));
    }
    if name.chars().count() > 64 || name.len() < 2 {
        return Err(ApiError::field(
            "name",
            "Ensure this field has between 2 and 64 characters.",
        ));
    }
    Ok(())
}

fn checked_tags(tags: &[String]) -> ApiResult<()> {
    if tags.iter().any(|t| t.is_empty() || t.chars().count() > 24) {
        return Err(ApiError::field(
            "tags",
            "Each tag has between 1 and 24 characters.",
        ));
    }
    Ok(())
}

pub(crate) async fn create_name(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NameBody>,
) -> ApiResult<(StatusCode, Reply<NameView>)> {
    staff_only(&caller)?;
    let name = body
        .name
        .ok_or_else(|| ApiError::field("name", "This field is required."))?;
    checked_name(&name)?;
    let tags = body.tags.unwrap_or_default();
    checked_tags(&tags)?;
    let created = config_attrs::create_name(
        &state.db.meta,
        &name,
        body.description.as_deref().unwrap_or(""),
        &tags,
        caller.user.id,
        now_micros(),
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::field(
                "name",
                "config attribute name with this name already exists.",
            )
        } else {
            e.into()
        }
    })?;
    Ok((StatusCode::CREATED, Reply(name_view(&created))))
}

async fn update_name(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<NameBody>,
) -> ApiResult<Reply<NameView>> {
    staff_only(&caller)?;
    let pool = &state.db.meta;
    let current = config_attrs::name(pool, id_of(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    if body.name.as_ref().is_some_and(|n| *n != current.name) {
        return Err(ApiError::field(
            "name",
            "A name cannot change: attributes are set under it. Create a new one.",
        ));
    }
    let tags = body.tags.unwrap_or(current.tags);
    checked_tags(&tags)?;
    let description = body.description.unwrap_or(current.description);
    config_attrs::update_name(pool, current.id, &description, &tags).await?;
    let n = config_attrs::name(pool, current.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply(name_view(&n)))
}

async fn delete_name(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    staff_only(&caller)?;
    let n = config_attrs::name(&state.db.meta, id_of(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    config_attrs::delete_name(&state.db.meta, n.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_attrs(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let raw = params
        .get("target")
        .ok_or_else(|| ApiError::field("target", "This field is required."))?;
    let level = allowed_level(&state, &caller, raw, false).await?;
    let (count, rows) = config_attrs::attrs(
        &state.db.meta,
        &level.target,
        params.get("name_q"),
        w.offset,
        w.size,
    )
    .await?;
    let results: Vec<AttrView> = rows.iter().map(attr_view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn retrieve_attr(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Reply<AttrView>> {
    let a = config_attrs::attr(&state.db.meta, id_of(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    allowed_level(&state, &caller, &a.target, false).await?;
    Ok(Reply(attr_view(&a)))
}

pub(crate) async fn set_attr(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<AttrBody>,
) -> ApiResult<(StatusCode, Reply<AttrView>)> {
    let required = |v: Option<String>, field: &str| {
        v.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::field(field, "This field is required."))
    };
    let raw_target = required(body.target, "target")?;
    let raw_name = required(body.name, "name")?;
    let data = body
        .data
        .ok_or_else(|| ApiError::field("data", "This field is required."))?;
    let pool = &state.db.meta;
    let level = allowed_level(&state, &caller, &raw_target, true).await?;
    let name = config_attrs::name_by_name(pool, raw_name.trim())
        .await?
        .ok_or_else(|| ApiError::Plain("Most use a valid Configuration Attribute Name".into()))?;
    let now = now_micros();
    let attr =
        config_attrs::set_attr(pool, &level.target, &name, &data, caller.user.id, now).await?;
    if body.log_as_note && level.kind == "device" {
        let note = NewNote {
            target: level.target.clone(),
            timestamp: now,
            note: change_note(&attr),
            kind: "si".into(),
        };
        annotations::create_notes(pool, &[note], caller.user.id, now).await?;
    }
    Ok((StatusCode::CREATED, Reply(attr_view(&attr))))
}

/// The system note a logged change writes: the name, then each key of an object's data
/// on its own line.
fn change_note(attr: &ConfigAttr) -> String {
    let mut note = format!("Attribute {} was changed to:", attr.name);
    match &attr.data {
        Value::Object(map) => {
            for (key, value) in map {
                note.push_str(&format!("\n--> {key}: {value}"));
            }
        }
        other => note.push_str(&format!(" {other}")),
    }
    note
}

async fn delete_attr(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let a = config_attrs::attr(&state.db.meta, id_of(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    allowed_level(&state, &caller, &a.target, true).await?;
    config_attrs::delete_attr(&state.db.meta, a.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn search(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> ApiResult<Reply<Resolved>> {
    let (Some(raw), Some(name)) = (params.get("target"), params.get("name")) else {
        return Err(ApiError::error_body(
            StatusCode::BAD_REQUEST,
            "Missing target and/or name",
        ));
    };
    let level = allowed_level(&state, &caller, raw, false).await?;
    let path = level.search_path(&caller);
    let targets: Vec<String> = path.iter().map(|(t, _)| t.clone()).collect();
    let found = config_attrs::first_set(&state.db.meta, &targets, name.trim())
        .await?
        .ok_or(ApiError::NotFound)?;
    let level = path
        .iter()
        .find(|(t, _)| *t == found.target)
        .map_or("user", |(_, kind)| *kind);
    Ok(Reply(Resolved {
        attr: attr_view(&found),
        level,
    }))
}
