//! `/api/v1/fleet/`: fleets, the named device sets of an org (spec 3.11).
//!
//! coretools rebuilds a fleet's slug from its `id`, so the id is the number in the slug.
//! A fleet outside the caller's orgs is 404, as the original answers for fleets; changing a
//! fleet or its members needs `can_manage_ota` in its org.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use sync_protocol::ids::{DeviceId, FleetSlug};

use super::error::{ApiError, ApiResult};
use super::json::Json;
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store::fleets::{self, Fleet, Member};
use crate::store::{devices, is_unique_violation, orgs};
use crate::time::{format, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/fleet", get(list).post(create))
        .route(
            "/fleet/{slug}",
            get(retrieve).patch(update).put(update).delete(remove),
        )
        .route("/fleet/{slug}/devices", get(members))
        .route("/fleet/{slug}/register", post(register))
        .route("/fleet/{slug}/deregister", post(deregister))
}

pub fn view(f: &Fleet) -> Value {
    json!({
        "id": f.id,
        "name": f.name,
        "slug": f.slug,
        "org": f.org_slug,
        "description": f.description,
        "created_on": format(f.created_on),
        "created_by": f.created_by,
        "is_network": f.is_network,
    })
}

fn member_view(m: &Member) -> Value {
    json!({"device": m.device_slug, "always_on": m.always_on, "is_access_point": m.is_access_point})
}

/// The fleet a route slug names, when the caller may see it; 404 otherwise.
pub(crate) async fn load(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<Fleet> {
    let id = slug
        .parse::<FleetSlug>()
        .map_err(|_| ApiError::NotFound)?
        .get();
    let fleet = fleets::by_id(
        &state.db.meta,
        i64::try_from(id).map_err(|_| ApiError::NotFound)?,
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    if !caller.has_access(&fleet.org_id) || caller.device.is_some() {
        return Err(ApiError::NotFound);
    }
    Ok(fleet)
}

/// The fleet, when the caller may also change it.
async fn load_for_change(state: &AppState, caller: &Caller, slug: &str) -> ApiResult<Fleet> {
    let fleet = load(state, caller, slug).await?;
    if !caller.can(&fleet.org_id, perm::MANAGE_OTA) {
        return Err(ApiError::no_permission());
    }
    Ok(fleet)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let mut filter = fleets::Filter {
        orgs: visible_orgs(&caller),
        org_slug: params
            .get("org")
            .or(params.get("org__slug"))
            .map(String::from),
        is_network: match params.get("is_network") {
            None => None,
            Some("1" | "true" | "True") => Some(true),
            Some("0" | "false" | "False") => Some(false),
            Some(_) => return Err(ApiError::field("is_network", "Select a valid choice.")),
        },
        device_id: None,
    };
    if let Some(device) = params.get("device") {
        // An unknown device, or one the caller cannot see, is not found.
        let device = find_device(&state, &caller, device)
            .await?
            .ok_or(ApiError::NotFound)?;
        filter.device_id = Some(device.id);
    }
    let (count, found) = fleets::list(&state.db.meta, &filter, (w.offset, w.size)).await?;
    let results: Vec<Value> = found.iter().map(view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

/// The orgs whose fleets the caller's lists show; `None` for every org (staff).
pub(crate) fn visible_orgs(caller: &Caller) -> Option<Vec<String>> {
    (!caller.staff_mode).then(|| caller.org_ids())
}

/// A device named by any form of its slug, when the caller may see it.
async fn find_device(
    state: &AppState,
    caller: &Caller,
    slug: &str,
) -> ApiResult<Option<devices::Device>> {
    let Ok(id) = slug.parse::<DeviceId>().map(|d| d.get()) else {
        return Ok(None);
    };
    let Ok(id) = i64::try_from(id) else {
        return Ok(None);
    };
    let device = devices::by_id(&state.db.meta, id).await?;
    Ok(device.filter(|d| super::device::can_access(caller, d)))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(view(&load(&state, &caller, &slug).await?)))
}

async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    page: PageRequest,
) -> ApiResult<axum::Json<Value>> {
    let fleet = load(&state, &caller, &slug).await?;
    let w = page.window(PageClass::Standard)?;
    let (count, found) = fleets::members(&state.db.meta, fleet.id, (w.offset, w.size)).await?;
    let results: Vec<Value> = found.iter().map(member_view).collect();
    Ok(axum::Json(page.envelope(w, count, results)?))
}

#[derive(Deserialize)]
struct NewFleet {
    name: String,
    org: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    is_network: bool,
}

fn duplicate_name() -> ApiError {
    ApiError::field(
        "non_field_errors",
        "The fields org, name must make a unique set.",
    )
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewFleet>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    let org = orgs::by_slug(&state.db.meta, &body.org)
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "org",
                format!("Object with slug={} does not exist.", body.org),
            )
        })?;
    if !caller.can(&org.id, perm::MANAGE_OTA) {
        return Err(ApiError::no_permission());
    }
    let new = fleets::NewFleet {
        name,
        org_id: &org.id,
        description: &body.description,
        is_network: body.is_network,
        created_by: caller.user.id,
    };
    match fleets::create(&state.db.meta, &new, now_micros()).await {
        Ok(fleet) => Ok((StatusCode::CREATED, axum::Json(view(&fleet)))),
        Err(e) if is_unique_violation(&e) => Err(duplicate_name()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct FleetChanges {
    name: Option<String>,
    description: Option<String>,
    is_network: Option<bool>,
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<FleetChanges>,
) -> ApiResult<axum::Json<Value>> {
    let fleet = load_for_change(&state, &caller, &slug).await?;
    let name = body.name.as_deref().map(str::trim).unwrap_or(&fleet.name);
    if name.is_empty() {
        return Err(ApiError::field("name", "This field may not be blank."));
    }
    let description = body.description.as_deref().unwrap_or(&fleet.description);
    let is_network = body.is_network.unwrap_or(fleet.is_network);
    match fleets::update(&state.db.meta, fleet.id, name, description, is_network).await {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => return Err(duplicate_name()),
        Err(e) => return Err(e.into()),
    }
    let fresh = fleets::by_id(&state.db.meta, fleet.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(view(&fresh)))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    let fleet = load_for_change(&state, &caller, &slug).await?;
    fleets::delete(&state.db.meta, fleet.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Membership {
    device: String,
    #[serde(default)]
    always_on: bool,
    #[serde(default)]
    is_access_point: bool,
}

async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<Membership>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let fleet = load_for_change(&state, &caller, &slug).await?;
    let device = match super::device::load(&state, &caller, &body.device).await {
        Err(ApiError::NotFound) => {
            let msg = format!("Object with slug={} does not exist.", body.device);
            return Err(ApiError::field("device", msg));
        }
        other => other?,
    };
    if device.org_id.as_deref() != Some(fleet.org_id.as_str()) {
        return Err(ApiError::error_body(
            StatusCode::BAD_REQUEST,
            format!(
                "Device {} and fleet {} belong to different orgs",
                device.slug, fleet.slug
            ),
        ));
    }
    let added = fleets::add_member(
        &state.db.meta,
        fleet.id,
        device.id,
        body.always_on,
        body.is_access_point,
    )
    .await?;
    if !added {
        return Err(ApiError::error_body(
            StatusCode::BAD_REQUEST,
            format!("Device {} already exists in fleet", device.slug),
        ));
    }
    let member = Member {
        device_slug: device.slug,
        always_on: body.always_on,
        is_access_point: body.is_access_point,
    };
    Ok((StatusCode::CREATED, axum::Json(member_view(&member))))
}

#[derive(Deserialize)]
struct Departure {
    device: String,
}

async fn deregister(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<Departure>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let fleet = load_for_change(&state, &caller, &slug).await?;
    let device = find_device(&state, &caller, &body.device).await?;
    let removed = match &device {
        Some(d) => fleets::remove_member(&state.db.meta, fleet.id, d.id).await?,
        None => false,
    };
    match device {
        Some(d) if removed => Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"device": d.slug, "fleet": fleet.slug})),
        )),
        _ => Err(ApiError::error_body(
            StatusCode::BAD_REQUEST,
            "Device not found",
        )),
    }
}
