//! `/api/v1/ota/request/`: deployment requests (spec 3.12, 6.1), a script for a fleet or a
//! whole org.
//!
//! The original's fields (`id, script, selection_criteria, org, fleet, released_on,
//! completed_on`) come with ours: `state` (draft, running, halted, completed) and
//! `state_reason`, the staged `rollout` plan and `current_wave`, and `progress` (targeted,
//! confirmed, failed, waiting devices). Criteria are read in every operator spelling and
//! stored and served as coretools reads them (`gte` → `gteq`); deployment dates carry no
//! fraction of a second, which coretools cannot parse.
//!
//! A request is visible to members of its org, and every vendor org's request to everyone
//! (as in the original); others get 404. Every write needs `can_manage_ota` in the request's
//! org. Criteria and fleet change only while it is a draft: its targets are frozen at
//! release. The state changes (release, complete, halt, resume) are in `ota_rollout`, the
//! device preview in `ota_preview`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use sync_protocol::ids::{FleetSlug, ScriptSlug};
use sync_protocol::ota::Criterion;

use super::error::{ApiError, ApiResult};
use super::json::Json;
use super::pagination::{PageClass, PageRequest};
use super::params::Params;
use crate::auth::perms::perm;
use crate::auth::Caller;
use crate::ota::advance::{self, Evaluated, Released};
use crate::ota::rollout::Plan;
use crate::ota::State as DeploymentState;
use crate::state::AppState;
use crate::store::deployments::{self, Deployment, Filter, NewDeployment, Scope};
use crate::store::fleets;
use crate::store::ota_scripts::{self, DeviceScript};
use crate::time::{self, now_micros};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ota/request", get(list).post(create))
        .route(
            "/ota/request/{id}",
            get(retrieve).patch(update).put(update).delete(remove),
        )
}

/// The request object.
pub fn view(e: &Evaluated) -> Value {
    let d = &e.deployment;
    json!({
        "id": d.id,
        "script": d.script_slug,
        "selection_criteria": d.criteria,
        "org": d.org_slug,
        "fleet": d.fleet_slug,
        "released_on": d.released_on.map(time::format_seconds),
        "completed_on": d.completed_on.map(time::format_seconds),
        "state": d.state.as_str(),
        "state_reason": d.state_reason,
        "rollout": d.rollout,
        "current_wave": d.current_wave,
        "progress": {
            "targeted": e.tally.targeted(),
            "confirmed": e.tally.confirmed(),
            "failed": e.tally.failed(),
            "waiting": e.tally.waiting(),
        },
    })
}

/// Whether the caller may read the request: staff, a member of its org, or anyone for a
/// vendor org's request.
pub fn can_read(caller: &Caller, d: &Deployment) -> bool {
    caller.has_access(&d.org_id) || d.org_is_vendor
}

/// The orgs whose requests the caller's lists show beside every vendor org's; `None` for
/// every org (staff).
pub fn visible_orgs(caller: &Caller) -> Option<Vec<String>> {
    (!caller.staff_mode).then(|| caller.org_ids())
}

/// The request a route id names, when the caller may read it; 404 otherwise.
pub async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Deployment> {
    let id: i64 = id.trim().parse().map_err(|_| ApiError::NotFound)?;
    deployments::by_id(&state.db.meta, id)
        .await?
        .filter(|d| can_read(caller, d))
        .ok_or(ApiError::NotFound)
}

/// The request, when the caller may also change it (`can_manage_ota` in its org).
pub async fn load_for_change(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Deployment> {
    let d = load(state, caller, id).await?;
    if !caller.can(&d.org_id, perm::MANAGE_OTA) {
        return Err(ApiError::no_permission());
    }
    Ok(d)
}

/// The request object of the deployment `id` as it is now, after a change.
pub async fn answer(state: &AppState, id: i64) -> ApiResult<axum::Json<Value>> {
    let d = deployments::by_id(&state.db.meta, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(view(&evaluated(state, d).await?)))
}

/// The request as of now: evaluated, so time-outs have taken effect.
pub async fn evaluated(state: &AppState, d: Deployment) -> ApiResult<Evaluated> {
    let mut conn = state.db.meta.acquire().await?;
    Ok(advance::evaluate(&mut conn, d, now_micros()).await?)
}

/// Why a script cannot be released to devices yet, if it cannot.
fn not_releasable(script: &DeviceScript) -> Option<String> {
    (!script.released).then(|| {
        format!(
            "The script {} is not released; release it before the deployment.",
            script.slug
        )
    })
}

/// Why the deployment's script cannot be released to devices yet, if it cannot.
pub async fn script_not_releasable(state: &AppState, d: &Deployment) -> ApiResult<Option<String>> {
    let script = ota_scripts::by_id(&state.db.meta, d.script_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(not_releasable(&script))
}

/// Reads criteria in any spelling into the coretools form; the error names the bad one.
fn criteria(texts: &[String]) -> ApiResult<Vec<String>> {
    texts
        .iter()
        .map(|text| {
            Criterion::parse(text)
                .map(|c| c.to_string())
                .map_err(|e| ApiError::field("selection_criteria", format!("{text:?}: {e}")))
        })
        .collect()
}

fn plan(value: Option<Value>) -> ApiResult<Option<Plan>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| ApiError::field("rollout", e.to_string())),
    }
}

/// A fleet named in a body: it must exist and belong to the request's org.
async fn fleet_of(state: &AppState, slug: &str, org_id: &str) -> ApiResult<i64> {
    let missing = || ApiError::field("fleet", format!("Object with slug={slug} does not exist."));
    let id = slug.parse::<FleetSlug>().map_err(|_| missing())?.get();
    let fleet = fleets::by_id(&state.db.meta, i64::try_from(id).map_err(|_| missing())?)
        .await?
        .ok_or_else(missing)?;
    if fleet.org_id != org_id {
        return Err(ApiError::field(
            "fleet",
            format!("The fleet {slug} belongs to another org."),
        ));
    }
    Ok(fleet.id)
}

/// A `released_on` given in a body; a 400 on that field when it is not a date.
pub fn released_on(text: Option<&str>) -> ApiResult<Option<i64>> {
    text.map(|t| {
        time::parse(t, false)
            .ok_or_else(|| ApiError::field("released_on", "Enter a valid date/time."))
    })
    .transpose()
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
    params: Params,
) -> ApiResult<axum::Json<Value>> {
    let w = page.window(PageClass::Standard)?;
    let split = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let fleets = params.get("fleet").map(|v| {
        split(v)
            .into_iter()
            .map(|s| s.parse::<FleetSlug>().map_or(s, |f| f.to_string()))
            .collect()
    });
    let org_slugs = params.get("org").or(params.get("org__slug")).map(split);
    let scope = params.get("scope").map(|s| match s.trim() {
        "global" => Scope::Global,
        other => match other.parse::<FleetSlug>() {
            Ok(f) if other.to_ascii_lowercase().starts_with("g--") => Scope::Fleet(f.to_string()),
            _ => Scope::Org(other.to_string()),
        },
    });
    if !caller.is_staff() && fleets.is_none() && org_slugs.is_none() && scope.is_none() {
        return Ok(axum::Json(page.envelope(w, 0, Vec::<Value>::new())?));
    }
    let filter = Filter {
        visible: visible_orgs(&caller),
        fleet_slugs: fleets,
        org_slugs,
        scope,
        everything: params.flag("all"),
        now: now_micros(),
    };
    let (count, found) = deployments::list(&state.db.meta, &filter, (w.offset, w.size)).await?;
    let mut results = Vec::with_capacity(found.len());
    for d in found {
        results.push(view(&evaluated(&state, d).await?));
    }
    Ok(axum::Json(page.envelope(w, count, results)?))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let d = load(&state, &caller, &id).await?;
    Ok(axum::Json(view(&evaluated(&state, d).await?)))
}

#[derive(Deserialize)]
struct NewRequest {
    script: String,
    org: String,
    fleet: Option<String>,
    #[serde(default)]
    selection_criteria: Vec<String>,
    released_on: Option<String>,
    rollout: Option<Value>,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewRequest>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let org = super::org::named_in_body(&state, &body.org).await?;
    if !caller.can(&org.id, perm::MANAGE_OTA) {
        return Err(ApiError::no_permission());
    }
    let no_script = || {
        ApiError::field(
            "script",
            format!("Object with slug={} does not exist.", body.script),
        )
    };
    let script_slug = body.script.parse::<ScriptSlug>().map_err(|_| no_script())?;
    let script = ota_scripts::by_slug(&state.db.meta, script_slug)
        .await?
        .ok_or_else(no_script)?;
    if script.org_id != org.id && !script.org_is_vendor {
        return Err(ApiError::field(
            "script",
            format!("The script {} belongs to another org.", script.slug),
        ));
    }
    let fleet_id = match body.fleet.as_deref() {
        Some(slug) => Some(fleet_of(&state, slug, &org.id).await?),
        None => None,
    };
    let criteria = criteria(&body.selection_criteria)?;
    let rollout = plan(body.rollout)?;
    let released_on = released_on(body.released_on.as_deref())?;
    if released_on.is_some() {
        if let Some(reason) = not_releasable(&script) {
            return Err(ApiError::field("released_on", reason));
        }
    }
    let now = now_micros();
    let new = NewDeployment {
        script_id: script.id,
        org_id: &org.id,
        fleet_id,
        criteria: &criteria,
        rollout: rollout.as_ref(),
        created_by: caller.user.id,
    };
    let mut tx = state.db.meta_writes.begin().await?;
    let id = deployments::create(&mut tx, &new, now).await?;
    let created = deployments::by_id(&mut *tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let result = match released_on {
        Some(at) => match advance::release(&mut tx, &created, at, now).await? {
            Released::Done(e) => *e,
            Released::NotDraft => return Err(ApiError::NotFound),
            Released::NoTargets { candidates } => {
                return Err(ApiError::bad_request(Released::no_targets_message(
                    candidates,
                )))
            }
        },
        None => Evaluated {
            deployment: created,
            tally: Default::default(),
        },
    };
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(view(&result))))
}

/// Absent stays `None`; `null` is `Some(None)`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct Changes {
    selection_criteria: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    fleet: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    released_on: Option<Option<String>>,
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Changes>,
) -> ApiResult<axum::Json<Value>> {
    let d = load_for_change(&state, &caller, &id).await?;
    let draft = d.state == DeploymentState::Draft;
    let frozen = |field: &str| {
        ApiError::field(
            field,
            "Frozen at release: the deployment's targets were chosen with it.",
        )
    };
    let criteria = match &body.selection_criteria {
        Some(_) if !draft => return Err(frozen("selection_criteria")),
        Some(texts) => criteria(texts)?,
        None => d.criteria.clone(),
    };
    let fleet_id = match &body.fleet {
        Some(_) if !draft => return Err(frozen("fleet")),
        Some(Some(slug)) => Some(fleet_of(&state, slug, &d.org_id).await?),
        Some(None) => None,
        None => d.fleet_id,
    };
    let release_at = match &body.released_on {
        Some(Some(text)) => released_on(Some(text))?,
        Some(None) if !draft && d.released_on.is_some() => {
            return Err(ApiError::field(
                "released_on",
                "A released deployment cannot be unreleased; halt it instead.",
            ))
        }
        _ => None,
    };
    if let (Some(_), true) = (release_at, draft) {
        if let Some(reason) = script_not_releasable(&state, &d).await? {
            return Err(ApiError::field("released_on", reason));
        }
    }
    let now = now_micros();
    let mut tx = state.db.meta_writes.begin().await?;
    if draft && !deployments::update_draft(&mut tx, d.id, &criteria, fleet_id).await? {
        return Err(ApiError::Detail(
            StatusCode::CONFLICT,
            "The deployment was released meanwhile; try again.".into(),
        ));
    }
    match (release_at, draft) {
        (Some(at), true) => {
            let fresh = deployments::by_id(&mut *tx, d.id)
                .await?
                .ok_or(ApiError::NotFound)?;
            if let Released::NoTargets { candidates } =
                advance::release(&mut tx, &fresh, at, now).await?
            {
                return Err(ApiError::bad_request(Released::no_targets_message(
                    candidates,
                )));
            }
        }
        (Some(at), false) => deployments::set_released_on(&mut tx, d.id, at).await?,
        (None, _) => {}
    }
    tx.commit().await?;
    answer(&state, d.id).await
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let d = load_for_change(&state, &caller, &id).await?;
    deployments::delete(&state.db.meta_writes, d.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
